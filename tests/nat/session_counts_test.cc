// Live session counts (Engine::SumSessionCounts) against a full walk of the table, after
// creates, TCP state changes, expiry, flush and reload, with one and two workers.
#include <map>
#include <tuple>

#include "lib/conntrack/session.h"
#include "tests/nat/engine_fixture.h"

namespace natgw::nat::testing {
namespace {

using conntrack::SessionCounts;
using conntrack::SessionKind;
using conntrack::TcpState;
using net::PacketBuilder;

using Key = std::tuple<int, int, int>;  // realm, kind, protocol index

// What the counts say, without the zeros.
std::map<Key, uint64_t> Counted(const SessionCounts& c) {
  std::map<Key, uint64_t> out;
  for (int r = 0; r < SessionCounts::kRealms; ++r) {
    for (int k = 0; k < SessionCounts::kKinds; ++k) {
      for (int p = 0; p < SessionCounts::kProtos; ++p) {
        if (c.live[r][k][p] != 0) out[{r, k, p}] = c.live[r][k][p];
      }
    }
  }
  return out;
}

class SessionCountsTest : public EngineTest {
 protected:
  // A full walk of the table, as `show stats` used to do.
  std::map<Key, uint64_t> Scanned() const {
    std::map<Key, uint64_t> out;
    engine_->ForEachSession([&](uint32_t, const conntrack::Session& s) {
      ++out[{s.in_key.realm, static_cast<int>(s.kind), SessionCounts::ProtoIndex(s.in_key.proto)}];
    });
    return out;
  }
  std::map<int, uint64_t> ScannedTcpStates() const {
    std::map<int, uint64_t> out;
    engine_->ForEachSession([&](uint32_t, const conntrack::Session& s) {
      if (s.in_key.proto == net::kProtoTcp && s.kind != SessionKind::kBinding) {
        ++out[s.tcp_state.load()];
      }
    });
    return out;
  }
  static std::map<int, uint64_t> CountedTcpStates(const SessionCounts& c) {
    std::map<int, uint64_t> out;
    for (int i = 0; i < SessionCounts::kTcpStates; ++i) {
      if (c.tcp[i] != 0) out[i] = c.tcp[i];
    }
    return out;
  }
  void ExpectCountsMatchScan(const char* when) {
    SCOPED_TRACE(when);
    auto counts = engine_->SumSessionCounts();
    EXPECT_EQ(Counted(*counts), Scanned());
    EXPECT_EQ(CountedTcpStates(*counts), ScannedTcpStates());
    EXPECT_EQ(counts->Total(), engine_->ForEachSession([](uint32_t, const conntrack::Session&) {}));
  }
};

std::vector<uint8_t> Udp(const char* pod, uint16_t sport) {
  return PacketBuilder().Ipv4(pod, "198.51.100.9").Udp(sport, 53).Payload("q").Build();
}
std::vector<uint8_t> Tcp(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                         uint8_t flags) {
  return PacketBuilder().Ipv4(src, dst).Tcp(sport, dport, flags).Build();
}

TEST_P(SessionCountsTest, CountsMatchAFullScanThroughCreateStateExpiryAndFlush) {
  ExpectCountsMatchScan("empty");
  // Egress UDP (flow + binding), 1:1 UDP, ICMP echo, a VIP flow, a TCP handshake.
  ASSERT_EQ(Send(kC1, Udp("10.0.0.9", 5000)).action, Action::kToOutside);
  ASSERT_EQ(Send(kC1, Udp("10.0.0.9", 5001)).action, Action::kToOutside);
  ASSERT_EQ(Send(kC1, Udp("10.0.0.5", 5000)).action, Action::kToOutside);
  ASSERT_EQ(Send(kC2, Udp("10.0.0.5", 5000)).action, Action::kToOutside);
  ASSERT_EQ(Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").IcmpEcho(true, 7, 1).Build())
                .action,
            Action::kToOutside);
  ASSERT_EQ(Send(kOut, Tcp("192.0.2.150", "198.51.100.80", 33000, 80, net::kTcpSyn)).action,
            Action::kToInside);
  ASSERT_EQ(Send(kC1, Tcp("10.0.0.5", "198.51.100.9", 40000, 80, net::kTcpSyn)).action,
            Action::kToOutside);
  ExpectCountsMatchScan("after creates");
  auto counts = engine_->SumSessionCounts();
  EXPECT_EQ(counts->live[1][static_cast<int>(SessionKind::kEgressPool)][1], 2u);
  EXPECT_EQ(counts->live[1][static_cast<int>(SessionKind::kPodMapping)][1], 1u);
  EXPECT_EQ(counts->live[2][static_cast<int>(SessionKind::kPodMapping)][1], 1u);
  EXPECT_EQ(counts->live[1][static_cast<int>(SessionKind::kPodMapping)][2], 1u);
  EXPECT_GE(counts->live[1][static_cast<int>(SessionKind::kBinding)][1], 1u);
  EXPECT_EQ(counts->tcp[static_cast<int>(TcpState::kSynSent)], 2u);

  // The handshake completes (the reply goes through the other worker when there are two).
  ASSERT_EQ(
      Send(kOut, Tcp("198.51.100.9", "203.0.113.5", 80, 40000, net::kTcpSyn | net::kTcpAck)).action,
      Action::kToInside);
  ASSERT_EQ(Send(kC1, Tcp("10.0.0.5", "198.51.100.9", 40000, 80, net::kTcpAck)).action,
            Action::kToOutside);
  ExpectCountsMatchScan("after the handshake");
  EXPECT_EQ(engine_->SumSessionCounts()->tcp[static_cast<int>(TcpState::kEstablished)], 1u);

  // UDP and ICMP expire after their timeouts (bindings one timeout later); TCP stays.
  Maintain(now_s_ + 300);
  ExpectCountsMatchScan("after the first expiry");
  Maintain(now_s_ + 600);
  ExpectCountsMatchScan("after the bindings expired");
  EXPECT_EQ(engine_->SumSessionCounts()->live[1][static_cast<int>(SessionKind::kEgressPool)][1],
            0u);

  // A flush marks everything dead at once; the counts follow when the owners sweep.
  ASSERT_EQ(Send(kC1, Udp("10.0.0.9", 6000)).action, Action::kToOutside);
  EXPECT_GT(engine_->FlushAll(), 0u);
  Maintain(now_s_ + 601);
  ExpectCountsMatchScan("after a flush");
  EXPECT_EQ(engine_->SumSessionCounts()->Total(), 0u);
  for (int i = 0; i < SessionCounts::kTcpStates; ++i) {
    EXPECT_EQ(engine_->SumSessionCounts()->tcp[i], 0u) << i;
  }
}

TEST_P(SessionCountsTest, ReloadThatRemovesAMappingUncountsItsSessions) {
  ASSERT_EQ(Send(kC1, Udp("10.0.0.5", 5000)).action, Action::kToOutside);
  ASSERT_EQ(Send(kC1, Udp("10.0.0.6", 5000)).action, Action::kToOutside);
  NatConfig nc = TwoIslandConfig();
  std::erase_if(nc.pod_mappings,
                [](const PodMappingConfig& m) { return m.pod_ip == Ip("10.0.0.6"); });
  ASSERT_TRUE(engine_->Apply(nc).ok());
  Maintain(now_s_ + 1);
  ExpectCountsMatchScan("after the reload");
  EXPECT_EQ(engine_->SumSessionCounts()->live[1][static_cast<int>(SessionKind::kPodMapping)][1],
            1u);
}

INSTANTIATE_TEST_SUITE_P(Workers, SessionCountsTest, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return std::to_string(i.param) + "w";
                         });

}  // namespace
}  // namespace natgw::nat::testing
