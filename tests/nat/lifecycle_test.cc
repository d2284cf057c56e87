// Session lifecycle: expiry with a fake clock, limits, reloads that flush removed mappings.
#include <rte_byteorder.h>

#include "lib/nat/worker_internal.h"
#include "tests/nat/engine_fixture.h"

namespace natgw::nat::testing {
namespace {

using net::PacketBuilder;

std::vector<uint8_t> UdpFrom(const char* pod, uint16_t sport, const char* remote = "198.51.100.9") {
  return PacketBuilder().Ipv4(pod, remote).Udp(sport, 53).Payload("q").Build();
}

TEST_P(EngineTest, UdpSessionExpiresAfterItsTimeoutAndPortsReturn) {
  Output out = Send(kC1, UdpFrom("10.0.0.9", 5000));
  ASSERT_EQ(out.action, Action::kToOutside);
  PortAllocator* alloc = nullptr;
  for (uint32_t i = 0; i < engine_->allocators().size(); ++i) {
    if (engine_->allocators().Get(i)->address() == out.src()) alloc = engine_->allocators().Get(i);
  }
  ASSERT_NE(alloc, nullptr);
  EXPECT_EQ(alloc->InUse(), 1u);
  auto reply = PacketBuilder().Ipv4("198.51.100.9", net::FormatIp(out.src()).c_str())
                   .Udp(53, out.sport()).Build();

  Maintain(now_s_ + 299);  // idle 299 s < 300 s
  EXPECT_EQ(Send(kOut, reply).action, Action::kToInside);
  Maintain(now_s_ + 300);  // idle 300 s since the reply refreshed it
  EXPECT_EQ(Events(Event::kSessionsExpired), 1u);  // the flow; its binding lives one more timeout
  EXPECT_EQ(Send(kOut, reply).reason, DropReason::kFiltered);
  Maintain(now_s_ + 300);
  EXPECT_EQ(Events(Event::kSessionsExpired), 2u);
  EXPECT_EQ(Send(kOut, reply).reason, DropReason::kNoSession);
  EXPECT_EQ(alloc->InUse(), 0u);
  EXPECT_EQ(engine_->table().InUse(), 0u);
}

TEST_P(EngineTest, EstablishedTcpOutlivesTransitoryTimeout) {
  auto syn = PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Tcp(40000, 80, net::kTcpSyn).Build();
  auto synack = PacketBuilder().Ipv4("198.51.100.9", "203.0.113.5")
                    .Tcp(80, 40000, net::kTcpSyn | net::kTcpAck).Build();
  auto ack = PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Tcp(40000, 80, net::kTcpAck).Build();
  auto data_in = PacketBuilder().Ipv4("198.51.100.9", "203.0.113.5").Tcp(80, 40000, net::kTcpAck)
                     .Payload("hello").Build();
  ASSERT_EQ(Send(kC1, syn).action, Action::kToOutside);
  ASSERT_EQ(Send(kOut, synack).action, Action::kToInside);
  ASSERT_EQ(Send(kC1, ack).action, Action::kToOutside);
  Maintain(now_s_ + 7000);  // past 240 s transitory, within 7440 s established
  EXPECT_EQ(Events(Event::kSessionsExpired), 0u);
  EXPECT_EQ(Send(kOut, data_in).action, Action::kToInside);
  Maintain(now_s_ + 7440);
  EXPECT_EQ(Events(Event::kSessionsExpired), 1u);
}

TEST_P(EngineTest, MidStreamPickupIsTransitoryUntilTheOtherSideAnswers) {
  // A 1:1 pod picks up TCP flows without a handshake (they may predate a restart). Segments from
  // one side only (stray, or forged to fill the table) keep the transitory timeout...
  auto from_remote = [](uint16_t sport) {
    return PacketBuilder().Ipv4("198.51.100.9", "203.0.113.5").Tcp(sport, 22, net::kTcpAck)
        .Payload("x").Build();
  };
  ASSERT_EQ(Send(kOut, from_remote(50000)).action, Action::kToInside);
  ASSERT_EQ(Send(kOut, from_remote(50001)).action, Action::kToInside);
  auto tcp_count = [&](conntrack::TcpState st) {
    return engine_->SumSessionCounts()->tcp[static_cast<int>(st)];
  };
  EXPECT_EQ(tcp_count(conntrack::TcpState::kMidStream), 2u);
  // ... the pod's answer establishes its flow.
  ASSERT_EQ(Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Tcp(22, 50001, net::kTcpAck)
                          .Build()).action, Action::kToOutside);
  EXPECT_EQ(tcp_count(conntrack::TcpState::kEstablished), 1u);
  Maintain(now_s_ + 240);
  EXPECT_EQ(Events(Event::kSessionsExpired), 1u);  // the one-sided one
  EXPECT_EQ(Send(kOut, from_remote(50001)).action, Action::kToInside);
  EXPECT_EQ(engine_->table().InUse(), 1u);  // still the answered one: nothing created anew
  Maintain(now_s_ + 7439);
  EXPECT_EQ(Events(Event::kSessionsExpired), 1u);
}

TEST_P(EngineTest, HalfOpenTcpExpiresAfterTransitoryTimeout) {
  ASSERT_EQ(Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9")
                          .Tcp(40001, 80, net::kTcpSyn).Build()).action, Action::kToOutside);
  Maintain(now_s_ + 239);
  EXPECT_EQ(Events(Event::kSessionsExpired), 0u);
  Maintain(now_s_ + 1);
  EXPECT_EQ(Events(Event::kSessionsExpired), 1u);
}

TEST_P(EngineTest, PerPodSessionLimitDropsNewFlowsOnly) {
  NatConfig nc = TwoIslandConfig();
  nc.limits.max_sessions_per_pod = 2;
  ASSERT_TRUE(engine_->Apply(nc).ok());
  ASSERT_EQ(Send(kC1, UdpFrom("10.0.0.5", 1000)).action, Action::kToOutside);
  ASSERT_EQ(Send(kC1, UdpFrom("10.0.0.5", 1001)).action, Action::kToOutside);
  Output third = Send(kC1, UdpFrom("10.0.0.5", 1002));
  EXPECT_EQ(third.reason, DropReason::kPodSessionLimit);
  EXPECT_EQ(Drops(DropReason::kPodSessionLimit), 1u);
  // Established flows keep working, and other pods are not affected.
  EXPECT_EQ(Send(kC1, UdpFrom("10.0.0.5", 1000)).action, Action::kToOutside);
  EXPECT_EQ(Send(kC1, UdpFrom("10.0.0.6", 1002)).action, Action::kToOutside);
}

TEST_P(EngineTest, PoolPortExhaustionDropsNewFlowsOnly) {
  NatConfig nc = TwoIslandConfig();
  nc.egress_pools[1].port_min = 2000;
  nc.egress_pools[1].port_max = 2003;  // 4 ports for island 2's one pool address
  EngineConfig ec = engine_->config();
  Restart(ec, nc);
  int ok = 0;
  for (uint16_t sport = 3000; sport < 3010; ++sport) {
    Output o = Send(kC2, UdpFrom("10.0.0.9", sport));
    if (o.action == Action::kToOutside) {
      ++ok;
      EXPECT_GE(o.sport(), 2000);
      EXPECT_LE(o.sport(), 2003);
    } else {
      EXPECT_EQ(o.reason, DropReason::kPoolPortsExhausted);
    }
  }
  // With two workers each owns half the ports, and only worker 0 creates inside flows here.
  EXPECT_EQ(ok, workers() == 1 ? 4 : 2);
  EXPECT_EQ(Drops(DropReason::kPoolPortsExhausted), static_cast<uint64_t>(10 - ok));
  EXPECT_EQ(Send(kC2, UdpFrom("10.0.0.9", 3000)).action, Action::kToOutside);
}

TEST_P(EngineTest, OnePortCarriesAtMostMaxRefsFlowsAndNeverWrapsToFree) {
  // One pod socket talks to 65,535 remotes: its binding and every flow hold its pool port. The
  // 16-bit count must stop at kMaxRefs rather than wrap to 0, where the port would look free and
  // go to another pod.
  EngineConfig ec = engine_->config();
  ec.max_sessions = (1u << 17) * ec.num_workers;
  Restart(ec, TwoIslandConfig());
  std::vector<std::vector<uint8_t>> burst;
  uint32_t translated = 0, refused = 0;
  uint16_t port = 0;
  for (uint32_t n = 0; n < PortAllocator::kMaxRefs; ++n) {
    // 198.18.0.0/15 (benchmarking range): none of it is mapped to a pod or a service here.
    const std::string remote = "198.18." + std::to_string(n >> 8) + ".1";
    burst.push_back(PacketBuilder().Ipv4("10.0.0.9", remote.c_str())
                        .Udp(5000, static_cast<uint16_t>(1 + (n & 0xff))).Build());
    if (burst.size() < 32 && n + 1 < PortAllocator::kMaxRefs) continue;
    for (const Output& o : SendBurst(kC2, burst)) {
      if (o.action == Action::kToOutside) {
        ++translated;
        if (port == 0) port = o.sport();
        ASSERT_EQ(o.sport(), port);  // endpoint-independent: one port for the socket
      } else {
        ASSERT_EQ(o.reason, DropReason::kPortRefsFull);
        ++refused;
      }
    }
    burst.clear();
  }
  // The binding holds one reference, each flow one more.
  EXPECT_EQ(translated, PortAllocator::kMaxRefs - 1u);
  EXPECT_EQ(refused, 1u);
  EXPECT_EQ(Drops(DropReason::kPortRefsFull), 1u);
  // Flows that have the port keep it.
  Output again = Send(kC2, PacketBuilder().Ipv4("10.0.0.9", "198.18.0.1").Udp(5000, 1).Build());
  ASSERT_EQ(again.action, Action::kToOutside);
  EXPECT_EQ(again.sport(), port);
  // Another pod gets another port of the same pool address.
  Output other = Send(kC2, UdpFrom("10.0.0.10", 5000));
  ASSERT_EQ(other.action, Action::kToOutside);
  EXPECT_EQ(other.src(), again.src());
  EXPECT_NE(other.sport(), port);
}

TEST_P(EngineTest, FullTableDropsNewFlowsOnly) {
  EngineConfig ec = engine_->config();
  ec.max_sessions = 8 * ec.num_workers;
  Restart(ec, TwoIslandConfig());
  int created = 0;
  for (uint16_t sport = 1000; sport < 1020; ++sport) {
    Output o = Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Udp(sport, 53).Build());
    if (o.action == Action::kToOutside) {
      ++created;
    } else {
      EXPECT_EQ(o.reason, DropReason::kSessionTableFull);
    }
  }
  EXPECT_EQ(created, 8);
  EXPECT_EQ(Drops(DropReason::kSessionTableFull), 12u);
  EXPECT_EQ(
      Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Udp(1000, 53).Build()).action,
      Action::kToOutside);
}

// The expiry sweep: sessions younger than the shortest timeout are not examined at all; once a
// whole pass has found nothing expired, a fruitless sweep is followed by kSweepBackoff skipped
// ones (every examined session is a cache miss in a big table) unless the clock, the mappings or
// a flush change first; one that finds its budget mostly expired goes on for more rounds in the
// same call, so expiry keeps up with churn.
TEST_P(EngineTest, SweepBacksOffOverLiveSessionsAndHurriesOverExpiredOnes) {
  EngineConfig ec = engine_->config();
  ec.max_sessions = 16384;
  Restart(ec, TwoIslandConfig());
  constexpr uint32_t kFlows = 5000;
  for (uint32_t first = 0; first < kFlows; first += kMaxBurst) {
    std::vector<std::vector<uint8_t>> burst;
    for (uint32_t i = first; i < std::min(kFlows, first + kMaxBurst); ++i) {
      burst.push_back(PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9")
                          .Udp(static_cast<uint16_t>(10000 + i), 53).Build());
    }
    for (const Output& o : SendBurst(kC1, burst)) ASSERT_EQ(o.action, Action::kToOutside);
  }
  ASSERT_EQ(engine_->table().InUse(), kFlows);  // 1:1 mapped pod: one session per flow
  Worker& w = engine_->worker(0);               // the worker that created them
  const uint32_t budget = engine_->config().sweep_budget;
  // For the shortest timeout (ICMP's 60 s) after their creation, no session can have expired:
  // the sweep examines none of them.
  ASSERT_EQ(conntrack::ShortestTimeout(TwoIslandConfig().timeouts), 60u);
  for (uint32_t i = 0; i < 2 * kFlows / budget; ++i) w.Maintain(now_s_ + 59);
  EXPECT_EQ(w.sessions().young(), kFlows);
  EXPECT_EQ(w.sessions().settled(), 0u);
  const uint32_t t = now_s_ + 60;
  // A whole pass first: every call sweeps while the pass is not done.
  const uint32_t pass = (kFlows + budget - 1) / budget;
  const uint64_t s0 = w.sweeps_run();
  for (uint32_t i = 0; i < pass; ++i) w.Maintain(t);
  EXPECT_EQ(w.sweeps_run(), s0 + pass);
  EXPECT_EQ(w.sessions().young(), 0u);  // each examined once, and still live
  EXPECT_EQ(w.sessions().settled(), kFlows);
  // Then the next kSweepBackoff calls skip, and the one after sweeps (and backs off again).
  for (uint32_t i = 0; i < Worker::kSweepBackoff; ++i) w.Maintain(t);
  EXPECT_EQ(w.sweeps_run(), s0 + pass);
  w.Maintain(t);
  EXPECT_EQ(w.sweeps_run(), s0 + pass + 1);
  EXPECT_EQ(Events(Event::kSessionsExpired), 0u);

  // A reload removes pod 10.0.0.5's mapping: the next call sweeps at once, and since every
  // session it examines has expired it goes on for kSweepMaxRounds budgets.
  NatConfig nc = TwoIslandConfig();
  nc.pod_mappings.erase(nc.pod_mappings.begin());
  ASSERT_TRUE(engine_->Apply(nc).ok());
  w.Maintain(t);
  EXPECT_EQ(Events(Event::kSessionsExpired), Worker::kSweepMaxRounds * budget);
  for (int i = 0; i < 100 && engine_->table().InUse() != 0; ++i) Maintain(t);
  EXPECT_EQ(Events(Event::kSessionsExpired), kFlows);
  EXPECT_EQ(engine_->table().InUse(), 0u);
}

// The clock moving ends the skipping at once: a timeout that ran out is seen by the next call.
TEST_P(EngineTest, SweepBackoffEndsWhenTheSecondChanges) {
  ASSERT_EQ(Send(kC1, UdpFrom("10.0.0.9", 5000)).action, Action::kToOutside);
  Worker& w = engine_->worker(0);
  w.Maintain(now_s_ + 299);  // idle 299 s < 300 s: nothing expires, skipping begins
  w.Maintain(now_s_ + 300);
  EXPECT_EQ(Events(Event::kSessionsExpired), 1u);  // the flow (its binding lives on)

  // So does a flush (natgwctl flush): its sessions are reclaimed by the next call.
  ASSERT_EQ(Send(kC1, UdpFrom("10.0.0.9", 5001)).action, Action::kToOutside);
  w.Maintain(now_s_ + 1);  // nothing expires, skipping begins
  ASSERT_EQ(Events(Event::kSessionsExpired), 1u);
  EXPECT_EQ(engine_->FlushAll(), 3u);  // the old binding, the new flow and its binding
  w.Maintain(now_s_ + 1);
  EXPECT_EQ(Events(Event::kSessionsExpired), 4u);
}

// A pod's address goes to a new pod in the very second the old one left (what a departure
// records: the engine's second). The old pod's sessions end at the reload that brings the
// departure; the new pod's, made after it in that same second, live on through later reloads
// (cluster sync repeats a departure at every reload for minutes).
TEST_P(EngineTest, NewHolderKeepsItsSessionsFromTheDepartureSecond) {
  ASSERT_EQ(Send(kC1, UdpFrom("10.0.0.9", 5000)).action, Action::kToOutside);  // the old pod's
  NatConfig nc = TwoIslandConfig();
  nc.departures.push_back({1, Ip("10.0.0.9"), now_s_});
  ASSERT_TRUE(engine_->Apply(nc).ok());
  Maintain(now_s_);
  EXPECT_EQ(Events(Event::kSessionsExpired), 2u);  // its flow and its binding, young as they are

  const Output fresh = Send(kC1, UdpFrom("10.0.0.9", 5000));  // the new pod, the same second
  ASSERT_EQ(fresh.action, Action::kToOutside);
  EXPECT_EQ(Events(Event::kBindingsCreated), 2u);
  const auto reply = PacketBuilder().Ipv4("198.51.100.9", net::FormatIp(fresh.src()).c_str())
                         .Udp(53, fresh.sport()).Build();
  ASSERT_TRUE(engine_->Apply(nc).ok());  // the next reload, the departure still in it
  Output back = Send(kOut, reply);
  ASSERT_EQ(back.action, Action::kToInside) << DropReasonName(back.reason);
  EXPECT_EQ(back.dst(), Ip("10.0.0.9"));
  // The same socket to another remote keeps its binding (endpoint-independent mapping).
  const Output other = Send(kC1, UdpFrom("10.0.0.9", 5000, "198.51.100.10"));
  ASSERT_EQ(other.action, Action::kToOutside);
  EXPECT_EQ(other.src(), fresh.src());
  EXPECT_EQ(other.sport(), fresh.sport());
  EXPECT_EQ(Events(Event::kBindingsCreated), 2u);
  Maintain(now_s_ + 1);
  EXPECT_EQ(Events(Event::kSessionsExpired), 2u);  // none of the new pod's
  EXPECT_EQ(engine_->table().InUse(), 3u);          // its binding and two flows
}

// A session's stamp names the newest table that found it valid: a worker still on an older table
// does not take it back (Valid would then call a new pod's session the departed pod's), and the
// 16-bit counter comes round.
TEST(SessionGenerationTest, StampOnlyMovesForward) {
  conntrack::Session s{};
  s.aux1 = (uint32_t{5} << 16) | 7;  // generation 5, allocator 7
  StampGeneration(s, 4);
  EXPECT_EQ(SessionGeneration(s), 5u);
  StampGeneration(s, 6);
  EXPECT_EQ(SessionGeneration(s), 6u);
  EXPECT_EQ(SessionAllocatorId(s), 7u);
  s.aux1 = (uint32_t{0xffff} << 16) | 7;
  EXPECT_TRUE(GenerationBefore(0xffff, 0));
  EXPECT_FALSE(GenerationBefore(0, 0xffff));
  EXPECT_FALSE(GenerationBefore(3, 3));
  StampGeneration(s, 0);
  EXPECT_EQ(SessionGeneration(s), 0u);
  StampGeneration(s, 0xfffe);
  EXPECT_EQ(SessionGeneration(s), 0u);
  EXPECT_EQ(SessionAllocatorId(s), 7u);
}

TEST_P(EngineTest, ReloadRemovingAMappingFlushesOnlyItsSessions) {
  auto a_out =
      PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Tcp(40000, 80, net::kTcpSyn).Build();
  auto b_out =
      PacketBuilder().Ipv4("10.0.0.6", "198.51.100.9").Tcp(40000, 80, net::kTcpSyn).Build();
  auto a_in =
      PacketBuilder().Ipv4("198.51.100.9", "203.0.113.5").Tcp(80, 40000, net::kTcpAck).Build();
  auto b_in =
      PacketBuilder().Ipv4("198.51.100.9", "203.0.113.6").Tcp(80, 40000, net::kTcpAck).Build();
  ASSERT_EQ(Send(kC1, a_out).action, Action::kToOutside);
  ASSERT_EQ(Send(kC1, b_out).action, Action::kToOutside);

  NatConfig nc = TwoIslandConfig();
  nc.pod_mappings.erase(nc.pod_mappings.begin() + 1);  // c1/pod-b loses 203.0.113.6
  ASSERT_TRUE(engine_->Apply(nc).ok());
  EXPECT_EQ(Send(kOut, b_in).reason, DropReason::kNoMapping);
  Output a = Send(kOut, a_in);
  ASSERT_EQ(a.action, Action::kToInside);
  EXPECT_EQ(a.dst(), Ip("10.0.0.5"));
  EXPECT_EQ(Events(Event::kSessionsCreated), 2u);  // pod A's session survived the reload
  Maintain(now_s_ + 1);
  EXPECT_EQ(Events(Event::kSessionsExpired), 1u);  // pod B's session is gone
  engine_->ReclaimRetired();
}

// A session remembers the mapping generation it was last checked against in 16 bits. An idle
// session that the sweep finds still valid takes the new generation, so 65,536 reloads later the
// generation counter coming round to the one it was created under does not skip the check.
TEST_P(EngineTest, IdleSessionIsCheckedAfterTheGenerationCounterWraps) {
  auto b_out =
      PacketBuilder().Ipv4("10.0.0.6", "198.51.100.9").Tcp(40000, 80, net::kTcpSyn).Build();
  auto b_in =
      PacketBuilder().Ipv4("198.51.100.9", "203.0.113.6").Tcp(80, 40000, net::kTcpAck).Build();
  ASSERT_EQ(Send(kC1, b_out).action, Action::kToOutside);
  const uint16_t created = engine_->mappings()->generation();
  NatConfig same = TwoIslandConfig();
  same.services.clear();  // (their Maglev tables would make each reload slow)
  for (uint32_t i = 1; i < 65536; ++i) {
    ASSERT_TRUE(engine_->Apply(same).ok());
    // The sweep visits the idle session now and then; old tables are reclaimed.
    if (i % 256 == 0) Maintain(now_s_);
  }
  NatConfig nc = same;
  nc.pod_mappings.erase(nc.pod_mappings.begin() + 1);  // c1/pod-b loses 203.0.113.6
  ASSERT_TRUE(engine_->Apply(nc).ok());
  ASSERT_EQ(engine_->mappings()->generation(), created);  // the counter came round
  EXPECT_EQ(Send(kOut, b_in).reason, DropReason::kNoMapping);
  Maintain(now_s_ + 1);
  EXPECT_EQ(engine_->table().InUse(), 0u);
  engine_->ReclaimRetired();
}

TEST_P(EngineTest, DrainingBackendKeepsPinnedSessionsButGetsNoNewOnes) {
  // Pin some flows to each backend of c2/web.
  std::vector<uint16_t> on_7, on_8;
  for (uint16_t port = 20000; port < 20040; ++port) {
    Output in = Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "198.51.100.80")
                               .Tcp(port, 80, net::kTcpSyn).Build());
    ASSERT_EQ(in.action, Action::kToInside);
    (in.dst() == Ip("10.0.0.8") ? on_8 : on_7).push_back(port);
  }
  ASSERT_FALSE(on_7.empty());
  ASSERT_FALSE(on_8.empty());
  NatConfig nc = TwoIslandConfig();
  nc.services[0].backends[1].draining = true;  // 10.0.0.8 turns not-ready
  ASSERT_TRUE(engine_->Apply(nc).ok());
  for (uint16_t port : on_8) {  // its pinned flows still work, both ways
    Output in = Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "198.51.100.80")
                               .Tcp(port, 80, net::kTcpAck).Build());
    ASSERT_EQ(in.action, Action::kToInside);
    EXPECT_EQ(in.dst(), Ip("10.0.0.8"));
    Output reply = Send(kC2, PacketBuilder().Ipv4("10.0.0.8", "198.51.100.50")
                                 .Tcp(8080, port, net::kTcpAck).Build());
    EXPECT_EQ(reply.action, Action::kToOutside);
  }
  for (uint16_t port = 30000; port < 30040; ++port) {  // new flows all go to 10.0.0.7
    Output in = Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "198.51.100.80")
                               .Tcp(port, 80, net::kTcpSyn).Build());
    ASSERT_EQ(in.action, Action::kToInside);
    EXPECT_EQ(in.dst(), Ip("10.0.0.7"));
  }
  nc.services[0].backends.pop_back();  // now it is gone from the endpoints: its flows end
  ASSERT_TRUE(engine_->Apply(nc).ok());
  Output gone = Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "198.51.100.80")
                               .Tcp(on_8[0], 80, net::kTcpAck).Build());
  EXPECT_EQ(gone.action, Action::kDrop);
  engine_->ReclaimRetired();
}

TEST_P(EngineTest, DepartedPodLosesItsSessionsAndANewPodWithItsAddressStartsClean) {
  // 10.0.0.9 of c1 has no 1:1 mapping: it goes out through the egress pool.
  auto out = PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Udp(5000, 53).Build();
  Output first = Send(kC1, out);
  ASSERT_EQ(first.action, Action::kToOutside);
  auto reply = PacketBuilder().Ipv4("198.51.100.9", net::FormatIp(first.src()).c_str())
                   .Udp(53, first.sport()).Build();
  ASSERT_EQ(Send(kOut, reply).action, Action::kToInside);
  // The pod is deleted and its address given to a new pod.
  NatConfig nc = TwoIslandConfig();
  nc.departures.push_back({1, Ip("10.0.0.9"), now_s_});
  ASSERT_TRUE(engine_->Apply(nc).ok());
  Output late = Send(kOut, reply);  // a late reply for the old pod never reaches the new one
  EXPECT_EQ(late.action, Action::kDrop);
  // The same island address of another island is untouched; the new pod's flow is new.
  now_s_ += 1;
  Output fresh = Send(kC1, out);
  ASSERT_EQ(fresh.action, Action::kToOutside);
  auto fresh_reply = PacketBuilder().Ipv4("198.51.100.9", net::FormatIp(fresh.src()).c_str())
                         .Udp(53, fresh.sport()).Build();
  EXPECT_EQ(Send(kOut, fresh_reply).action, Action::kToInside);
  engine_->ReclaimRetired();
}

TEST_P(EngineTest, RefusedReloadKeepsTheRunningPolicy) {
  NatConfig bad = TwoIslandConfig();
  bad.pod_mappings[1].external_ip = Ip("192.0.2.16");  // already a pool address
  absl::Status s = engine_->Apply(bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("192.0.2.16"), std::string::npos) << s;
  Output o = Send(
      kOut, PacketBuilder().Ipv4("198.51.100.9", "203.0.113.6").Tcp(1, 2, net::kTcpSyn).Build());
  EXPECT_EQ(o.action, Action::kToInside);
}

TEST_P(EngineTest, ControlThreadSeesLiveSessionsAndFlushesThem) {
  ASSERT_EQ(Send(kC1, UdpFrom("10.0.0.9", 5000)).action, Action::kToOutside);  // flow + binding
  ASSERT_EQ(Send(kC1, UdpFrom("10.0.0.5", 5000)).action, Action::kToOutside);  // 1:1
  int flows = 0, bindings = 0;
  engine_->ForEachSession([&](uint32_t, const conntrack::Session& s) {
    (s.kind == conntrack::SessionKind::kBinding ? bindings : flows)++;
  });
  EXPECT_EQ(flows, 2);
  EXPECT_EQ(bindings, 1);
  EXPECT_EQ(engine_->FlushAll(), 3u);
  EXPECT_EQ(engine_->ForEachSession([](uint32_t, const conntrack::Session&) {}), 0u);
  Output reply =
      Send(kOut, PacketBuilder().Ipv4("198.51.100.9", "203.0.113.5").Udp(53, 5000).Build());
  EXPECT_EQ(reply.action, Action::kToInside);  // 1:1 re-creates a session on demand
  Maintain(now_s_ + 1);
  EXPECT_EQ(Events(Event::kSessionsExpired), 3u);  // the flushed ones were reclaimed
  EXPECT_EQ(engine_->table().InUse(), 1u);
}

}  // namespace
}  // namespace natgw::nat::testing
