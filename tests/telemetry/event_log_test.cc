// The translation event log: the worker rings (overflow counted), the events a session's life
// produces in the engine, the JSON records field by field, rotation, port-block mode and the
// forensic lookup over current and rotated files.
#include "lib/telemetry/event_log.h"

#include <rte_byteorder.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/telemetry/event_lookup.h"
#include "nlohmann/json.hpp"
#include "tests/nat/engine_fixture.h"
#include "tests/telemetry/event_log_test_util.h"

namespace natgw::nat::testing {
namespace {

using nlohmann::json;
using telemetry::EventLog;

TEST(SessionEventRingTest, OverflowIsCountedNotWaitedOn) {
  SessionEventRing ring(64);
  SessionEvent e{};
  int accepted = 0;
  for (uint32_t i = 0; i < 70; ++i) {
    e.event_s = i;
    accepted += ring.Push(e) ? 1 : 0;
  }
  EXPECT_EQ(accepted, 64);
  EXPECT_EQ(ring.dropped(), 6u);
  SessionEvent out{};
  ASSERT_TRUE(ring.Pop(&out));
  EXPECT_EQ(out.event_s, 0u);
  e.event_s = 100;
  EXPECT_TRUE(ring.Push(e));  // room again
  uint32_t n = 1, last = 0;
  while (ring.Pop(&out)) {
    ++n;
    last = out.event_s;
  }
  EXPECT_EQ(n, 65u);
  EXPECT_EQ(last, 100u);
  EXPECT_EQ(ring.dropped(), 6u);
}

TEST_P(EventLogTest, SessionLifeProducesCreateAndDeleteWithTraffic) {
  using net::PacketBuilder;
  const Output out = Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.50").Udp(40000, 53)
                                   .PayloadSize(20).Build());
  ASSERT_EQ(out.action, Action::kToOutside);
  const Output reply = Send(kOut, PacketBuilder().Ipv4(out.dst(), out.src())
                                      .Udp(53, out.sport()).PayloadSize(100).Build());
  ASSERT_EQ(reply.action, Action::kToInside);
  std::vector<SessionEvent> ev = DrainEvents();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, SessionEventType::kCreate);
  EXPECT_EQ(ev[0].island, 1);
  EXPECT_EQ(ev[0].inside_ip, Ip("10.0.0.9"));
  EXPECT_EQ(rte_be_to_cpu_16(ev[0].inside_port), 40000);
  EXPECT_EQ(ev[0].external_ip, out.src());
  EXPECT_EQ(rte_be_to_cpu_16(ev[0].external_port), out.sport());
  EXPECT_EQ(ev[0].remote_ip, Ip("198.51.100.50"));
  EXPECT_EQ(rte_be_to_cpu_16(ev[0].remote_port), 53);
  EXPECT_EQ(ev[0].kind, static_cast<uint8_t>(conntrack::SessionKind::kEgressPool));

  now_s_ += 301;  // past the UDP timeout
  Maintain(now_s_);
  ev = DrainEvents();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, SessionEventType::kDelete);
  EXPECT_EQ(ev[0].reason, DeleteReason::kIdleTimeout);
  EXPECT_EQ(ev[0].packets[0], 1u);
  EXPECT_EQ(ev[0].packets[1], 1u);
  EXPECT_EQ(ev[0].bytes[0], 20u + 28u);   // IP total length
  EXPECT_EQ(ev[0].bytes[1], 100u + 28u);
  EXPECT_EQ(ev[0].created_s + 301, ev[0].event_s);
}

TEST_P(EventLogTest, DeleteReasons) {
  using net::PacketBuilder;
  // TCP closed by RST; a UDP flow flushed by natgwctl flush; a 1:1 flow whose mapping a reload
  // removed.
  const Output syn = Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.50")
                                   .Tcp(40001, 80, net::kTcpSyn).Build());
  ASSERT_EQ(syn.action, Action::kToOutside);
  ASSERT_EQ(Send(kOut, PacketBuilder().Ipv4(syn.dst(), syn.src())
                           .Tcp(80, syn.sport(), net::kTcpRst | net::kTcpAck).Build()).action,
            Action::kToInside);
  ASSERT_EQ(
      Send(kC1, PacketBuilder().Ipv4("10.0.0.6", "198.51.100.50").Udp(5000, 53).Build()).action,
      Action::kToOutside);
  DrainEvents();
  NatConfig nc = TwoIslandConfig();
  nc.pod_mappings.erase(nc.pod_mappings.begin() + 1);  // c1 10.0.0.6 loses 203.0.113.6
  ASSERT_TRUE(engine_->Apply(nc).ok());
  now_s_ += 241;  // past the transitory timeout, not the UDP one
  Maintain(now_s_);
  const Output udp =
      Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.51").Udp(40002, 53).Build());
  ASSERT_EQ(udp.action, Action::kToOutside);
  engine_->FlushAll();
  Maintain(now_s_);
  std::map<std::string, std::string> reasons;  // inside endpoint -> reason
  for (const SessionEvent& e : DrainEvents()) {
    if (e.type != SessionEventType::kDelete) continue;
    reasons[absl::StrCat(net::FormatIp(e.inside_ip), ":", rte_be_to_cpu_16(e.inside_port))] =
        DeleteReasonName(e.reason);
  }
  EXPECT_EQ(reasons["10.0.0.9:40001"], "tcp_closed");
  EXPECT_EQ(reasons["10.0.0.6:5000"], "mapping_changed");
  EXPECT_EQ(reasons["10.0.0.9:40002"], "flushed");
}

TEST_P(EventLogTest, ShutdownEndsEverySession) {
  using net::PacketBuilder;
  ASSERT_EQ(
      Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.50").Udp(5000, 53).Build()).action,
      Action::kToOutside);
  ASSERT_EQ(DrainEvents().size(), 1u);
  for (uint32_t w = 0; w < engine_->num_workers(); ++w) engine_->EndSessionsOfStoppedWorker(w);
  const std::vector<SessionEvent> ev = DrainEvents();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, SessionEventType::kDelete);
  EXPECT_EQ(ev[0].reason, DeleteReason::kShutdown);
  EXPECT_EQ(ev[0].packets[0], 1u);
}

TEST_P(EventLogTest, RingOverflowIsCountedPerWorker) {
  using net::PacketBuilder;
  for (uint16_t i = 0; i < 70; ++i) {
    ASSERT_EQ(Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.50")
                            .Udp(static_cast<uint16_t>(20000 + i), 53).Build()).action,
              Action::kToOutside);
  }
  EXPECT_EQ(engine_->EventsDropped(), 6u);  // 70 creates, a ring of 64, nobody draining
  OpenLog();
  EXPECT_NE(log_->RenderMetrics().find("natgw_event_log_dropped_total{worker=\"0\"} 6\n"),
            std::string::npos)
      << log_->RenderMetrics();
}

TEST_P(EventLogTest, AlarmsPortsExhaustedAndQuotaExceededOncePerSecond) {
  using net::PacketBuilder;
  NatConfig nc = TwoIslandConfig();
  nc.egress_pools[0].port_min = 1024;  // 8 ports per address of c1's pool
  nc.egress_pools[0].port_max = 1031;
  nc.limits.max_sessions_per_pod = 2;
  EngineConfig ec;
  ec.max_sessions = 4096;
  ec.num_workers = static_cast<uint32_t>(workers());
  ec.event_ring_size = 64;
  Restart(ec, nc);  // port ranges are fixed when a pool address first appears
  for (uint16_t sport = 40000; sport < 40003; ++sport) {  // the third is over the pod's quota
    Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.50").Udp(sport, 53).Build());
  }
  EXPECT_EQ(Drops(DropReason::kPodSessionLimit), 1u);
  for (int pod = 20; pod < 60; ++pod) {  // 40 pods, 16 ports
    const std::string ip = "10.0.1." + std::to_string(pod);
    Send(kC1, PacketBuilder().Ipv4(ip.c_str(), "198.51.100.50").Udp(40000, 53).Build());
  }
  ASSERT_GT(Drops(DropReason::kPoolPortsExhausted), 1u);
  int quota = 0, exhausted = 0;
  for (const SessionEvent& e : DrainEvents()) {
    if (e.type == SessionEventType::kQuotaExceeded) {
      ++quota;
      EXPECT_EQ(e.inside_ip, Ip("10.0.0.9"));
      EXPECT_EQ(e.island, 1);
    }
    if (e.type == SessionEventType::kPortsExhausted) {
      ++exhausted;
      EXPECT_TRUE(e.external_ip == Ip("192.0.2.16") || e.external_ip == Ip("192.0.2.17"));
    }
  }
  EXPECT_EQ(quota, 1);
  EXPECT_EQ(exhausted, 1) << "one per second and worker (every packet here went to worker 0)";
  OpenLog();
  SessionEvent q{};
  q.type = SessionEventType::kQuotaExceeded;
  q.tsc = 700;
  q.island = 1;
  q.inside_ip = Ip("10.0.0.9");
  log_->HandleForTest(q);
  log_->FlushForTest();
  const nlohmann::json last = ReadRecords(config_.event_log.path).back();
  EXPECT_EQ(last, nlohmann::json({{"time", "2026-11-26T10:15:00.700Z"}, {"event", "quota_exceeded"},
                                  {"island", "c1"}, {"namespace", ""}, {"pod", ""}, {"uid", ""},
                                  {"pod_ip", "10.0.0.9"}, {"limit", 2}}))
      << last.dump();
}

TEST_P(EventLogTest, JsonRecordsFieldByField) {
  OpenLog();
  SessionEvent e = UdpEvent(SessionEventType::kCreate, 1500, "10.0.0.5", 40000, "203.0.113.5",
                            40000, "198.51.100.50", 53);
  e.kind = static_cast<uint8_t>(conntrack::SessionKind::kPodMapping);
  log_->HandleForTest(e);
  e.type = SessionEventType::kDelete;
  e.tsc = 9500;
  e.created_s = 100;
  e.event_s = 108;
  e.reason = DeleteReason::kIdleTimeout;
  e.packets[0] = 3;
  e.packets[1] = 2;
  e.bytes[0] = 300;
  e.bytes[1] = 200;
  log_->HandleForTest(e);
  log_->FlushForTest();
  const std::vector<json> recs = ReadRecords(config_.event_log.path);
  ASSERT_EQ(recs.size(), 5u);  // 3 mapping_add at start, then the two
  EXPECT_EQ(recs[0]["event"], "mapping_add");
  const json create = {{"time", "2026-11-26T10:15:01.500Z"},
                       {"event", "session_create"},
                       {"island", "c1"},
                       {"namespace", "c1"},
                       {"pod", "pod-a"},
                       {"uid", ""},
                       {"pod_ip", "10.0.0.5"},
                       {"proto", "udp"},
                       {"kind", "pod_address"},
                       {"direction", "outbound"},
                       {"inside", "10.0.0.5:40000"},
                       {"external", "203.0.113.5:40000"},
                       {"remote", "198.51.100.50:53"},
                       {"remote_as_seen_inside", "198.51.100.50:53"}};
  EXPECT_EQ(recs[3], create) << recs[3].dump();
  json del = create;
  del["time"] = "2026-11-26T10:15:09.500Z";
  del["event"] = "session_delete";
  del["reason"] = "idle_timeout";
  del["created"] = "2026-11-26T10:15:01.500Z";
  del["packets_in2out"] = 3;
  del["packets_out2in"] = 2;
  del["bytes_in2out"] = 300;
  del["bytes_out2in"] = 200;
  EXPECT_EQ(recs[4], del) << recs[4].dump();
  EXPECT_NE(log_->RenderMetrics().find("natgw_event_log_records_total 5\n"), std::string::npos);
}

TEST_P(EventLogTest, MappingChangesOfEveryApplyAreLogged) {
  OpenLog();
  NatConfig nc = TwoIslandConfig();
  nc.pod_mappings[1].external_ip = Ip("203.0.113.60");  // pod-b moves
  nc.pod_mappings.pop_back();                           // c2 pod-g loses its address
  ASSERT_TRUE(engine_->Apply(nc).ok());
  log_->FlushForTest();
  std::vector<std::string> seen;
  for (const json& r : ReadRecords(config_.event_log.path)) {
    seen.push_back(absl::StrCat(r["event"].get<std::string>(), " ", r["island"].get<std::string>(),
                                " ", r["pod"].get<std::string>(), " ",
                                r["external"].get<std::string>()));
  }
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "mapping_remove c1 pod-b 203.0.113.6"), 1);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "mapping_remove c2 pod-g 198.51.100.7"), 1);
  EXPECT_EQ(seen.back(), "mapping_add c1 pod-b 203.0.113.60");
}

TEST_P(EventLogTest, PortBlockModeLogsBlocksNotSessions) {
  config_.event_log.mode = control::EventLogMode::kPortBlock;
  config_.event_log.port_block_size = 64;
  OpenLog();
  const auto egress = [](SessionEventType t, uint64_t tsc, const char* pod, uint16_t port) {
    SessionEvent e = UdpEvent(t, tsc, pod, 40000, "192.0.2.16", port, "198.51.100.50", 53);
    e.kind = static_cast<uint8_t>(conntrack::SessionKind::kEgressPool);
    return e;
  };
  log_->HandleForTest(
      egress(SessionEventType::kCreate, 1000, "10.0.0.9", 1030));  // block 1024-1087
  log_->HandleForTest(egress(SessionEventType::kCreate, 2000, "10.0.0.9", 1040));  // same block
  log_->HandleForTest(egress(SessionEventType::kCreate, 2500, "10.0.0.10", 1050)); // another pod
  log_->HandleForTest(egress(SessionEventType::kDelete, 3000, "10.0.0.9", 1030));
  log_->HandleForTest(egress(SessionEventType::kDelete, 4000, "10.0.0.9", 1040));  // last one
  log_->FlushForTest();
  std::vector<json> recs = ReadRecords(config_.event_log.path);
  recs.erase(recs.begin(), recs.begin() + 3);  // the start's mapping records
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0]["event"], "port_block_alloc");
  EXPECT_EQ(recs[0]["pod_ip"], "10.0.0.9");
  EXPECT_EQ(recs[0]["external"], "192.0.2.16");
  EXPECT_EQ(recs[0]["port_min"], 1024);
  EXPECT_EQ(recs[0]["port_max"], 1087);
  EXPECT_EQ(recs[0]["time"], "2026-11-26T10:15:01.000Z");
  EXPECT_EQ(recs[1]["event"], "port_block_alloc");
  EXPECT_EQ(recs[1]["pod_ip"], "10.0.0.10");
  EXPECT_EQ(recs[2]["event"], "port_block_release");
  EXPECT_EQ(recs[2]["pod_ip"], "10.0.0.9");
  EXPECT_EQ(recs[2]["allocated"], "2026-11-26T10:15:01.000Z");
  EXPECT_EQ(recs[2]["time"], "2026-11-26T10:15:04.000Z");

  // Lookup of a port of the block: both holders while both hold it, then only the second.
  telemetry::LookupQuery q;
  ASSERT_TRUE(telemetry::ParseLookupTarget("192.0.2.16:1070", &q).ok());
  q.at_ms = kT0 + 3500;
  auto h = telemetry::LookupInLog(config_.event_log.path, q);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 2u);
  q.at_ms = kT0 + 4500;
  h = telemetry::LookupInLog(config_.event_log.path, q);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ((*h)[0].pod_ip, "10.0.0.10");
  EXPECT_EQ((*h)[0].record, "port_block");
  EXPECT_EQ((*h)[0].external, "192.0.2.16:1024-1087");
  EXPECT_EQ((*h)[0].until_ms, -1);
}

TEST_P(EventLogTest, LookupAcrossRotatedFiles) {
  config_.event_log.max_size_mb = 1.0 / 1024;  // 1 KiB: a handful of records per file
  config_.event_log.keep_files = 50;
  OpenLog();
  // Port 1024 of 192.0.2.16: pod .9 from +1 s to +5 s, pod .10 from +6 s on; filler sessions
  // on other ports in between push the first records into rotated files.
  const auto ev = [](SessionEventType t, uint64_t tsc, const char* pod, uint16_t port) {
    SessionEvent e = UdpEvent(t, tsc, pod, 40000, "192.0.2.16", port, "198.51.100.50", 53);
    e.kind = static_cast<uint8_t>(conntrack::SessionKind::kEgressPool);
    return e;
  };
  log_->HandleForTest(ev(SessionEventType::kCreate, 1000, "10.0.0.9", 1024));
  for (uint16_t i = 0; i < 20; ++i) {
    log_->HandleForTest(ev(SessionEventType::kCreate, 2000 + i, "10.0.0.11", 2000 + i));
  }
  SessionEvent del = ev(SessionEventType::kDelete, 5000, "10.0.0.9", 1024);
  del.created_s = 10;
  del.event_s = 14;  // created 4 s before the delete: at +1 s
  del.reason = DeleteReason::kFlushed;
  log_->HandleForTest(del);
  for (uint16_t i = 0; i < 20; ++i) {
    log_->HandleForTest(ev(SessionEventType::kCreate, 5500 + i, "10.0.0.11", 3000 + i));
  }
  log_->HandleForTest(ev(SessionEventType::kCreate, 6000, "10.0.0.10", 1024));
  log_->FlushForTest();
  ASSERT_GE(telemetry::EventLogFiles(config_.event_log.path).size(), 4u);
  EXPECT_GE(log_->counters().rotations, 3u);

  telemetry::LookupQuery q;
  ASSERT_TRUE(telemetry::ParseLookupTarget("192.0.2.16:1024", &q).ok());
  const auto holders_at = [&](int64_t ms) {
    q.at_ms = kT0 + ms;
    auto h = telemetry::LookupInLog(config_.event_log.path, q);
    EXPECT_TRUE(h.ok());
    std::vector<std::string> pods;
    for (const auto& x : *h) {
      pods.push_back(x.pod_ip + "@" + (x.until_ms < 0 ? "open" : std::to_string(x.until_ms - kT0)));
    }
    return pods;
  };
  EXPECT_EQ(holders_at(500), std::vector<std::string>{});
  EXPECT_EQ(holders_at(3000), std::vector<std::string>{"10.0.0.9@5000"});
  EXPECT_EQ(holders_at(5000), std::vector<std::string>{"10.0.0.9@5000"});
  EXPECT_EQ(holders_at(5600), std::vector<std::string>{});
  EXPECT_EQ(holders_at(7000), std::vector<std::string>{"10.0.0.10@open"});
  // The whole address (any port) at +2.5 s: the .9 session and the 20 filler sessions.
  ASSERT_TRUE(telemetry::ParseLookupTarget("192.0.2.16", &q).ok());
  EXPECT_EQ(holders_at(2500).size(), 21u);
  // A 1:1 address is named by the mapping records written at start (real time).
  ASSERT_TRUE(telemetry::ParseLookupTarget("203.0.113.5", &q).ok());
  q.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch()).count();
  auto h = telemetry::LookupInLog(config_.event_log.path, q);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ((*h)[0].name, "pod-a");
  EXPECT_EQ((*h)[0].record, "mapping");
}

INSTANTIATE_TEST_SUITE_P(Workers, EventLogTest, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return std::to_string(i.param) + "w";
                         });

}  // namespace

// engine_fixture.cc instantiates EngineTest; this binary only uses its subclass.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(EngineTest);

}  // namespace natgw::nat::testing
