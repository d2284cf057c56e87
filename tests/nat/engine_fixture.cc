#include "tests/nat/engine_fixture.h"

#include <rte_byteorder.h>

#include <cstring>

#include "lib/net/verify.h"
#include "tests/eal_env.h"

namespace natgw::nat::testing {

NatConfig TwoIslandConfig() {
  NatConfig c;
  IslandConfig c1{1, "c1", {Cidr{Ip("10.0.0.0"), 16}}, Ip("10.0.0.1")};
  IslandConfig c2{2, "c2", {Cidr{Ip("10.0.0.0"), 16}}, Ip("10.0.0.1")};
  c.islands = {c1, c2};
  c.pod_mappings = {
      {1, Ip("10.0.0.5"), Ip("203.0.113.5"), "c1/pod-a", ""},
      {1, Ip("10.0.0.6"), Ip("203.0.113.6"), "c1/pod-b", ""},
      {2, Ip("10.0.0.5"), Ip("198.51.100.7"), "c2/pod-g", ""},
  };
  EgressPoolConfig p1;
  p1.island = 1;
  p1.addresses = {Ip("192.0.2.16"), Ip("192.0.2.17")};
  EgressPoolConfig p2;
  p2.island = 2;
  p2.addresses = {Ip("192.0.2.32")};
  c.egress_pools = {p1, p2};
  ServiceConfig web;
  web.name = "c2/web";
  web.vip = Ip("198.51.100.80");
  web.proto = 6;
  web.port = 80;
  web.backends = {{2, Ip("10.0.0.7"), 8080}, {2, Ip("10.0.0.8"), 8080}};
  ServiceConfig dns;
  dns.name = "c2/dns";
  dns.vip = Ip("198.51.100.80");
  dns.proto = 17;
  dns.port = 53;
  dns.backends = {{2, Ip("10.0.0.7"), 5353}};
  c.services = {web, dns};
  c.outside_gateway_ip = Ip("192.0.2.1");
  return c;
}

uint32_t Output::src() const {
  uint32_t v;
  std::memcpy(&v, frame.data() + info.l3_offset + 12, 4);
  return v;
}
uint32_t Output::dst() const {
  uint32_t v;
  std::memcpy(&v, frame.data() + info.l3_offset + 16, 4);
  return v;
}
uint16_t Output::sport() const {
  uint16_t v;
  std::memcpy(&v, l4() + (info.proto == net::kProtoIcmp ? 4 : 0), 2);
  return rte_be_to_cpu_16(v);
}
uint16_t Output::dport() const {
  uint16_t v;
  std::memcpy(&v, l4() + (info.proto == net::kProtoIcmp ? 4 : 2), 2);
  return rte_be_to_cpu_16(v);
}
uint8_t Output::ttl() const { return frame[info.l3_offset + 8]; }

void EngineTest::SetUp() {
  EngineConfig ec;
  ec.max_sessions = 4096;
  ec.num_workers = static_cast<uint32_t>(workers());
  Restart(ec, TwoIslandConfig());
}

void EngineTest::TearDown() { engine_.reset(); }

void EngineTest::Restart(const EngineConfig& ec, const NatConfig& nc) {
  engine_.reset();
  auto e = Engine::Create(ec, nc);
  ASSERT_TRUE(e.ok()) << e.status();
  engine_ = std::move(*e);
}

Output EngineTest::Decode(const PacketVerdict& v) {
  Output o;
  o.action = v.action;
  o.island = v.island;
  o.reason = v.reason;
  if (v.action == Action::kDrop || v.action == Action::kHeld) return o;
  const uint8_t* d = rte_pktmbuf_mtod(v.mbuf, const uint8_t*);
  o.frame.assign(d, d + v.mbuf->data_len);
  EXPECT_EQ(net::ParseFrame(o.frame.data(), static_cast<uint32_t>(o.frame.size()), &o.info),
            net::ParseError::kOk);
  if (!o.info.is_fragment) {
    absl::Status s = net::VerifyChecksums(o.frame.data(), o.frame.size());
    EXPECT_TRUE(s.ok()) << "output checksums: " << s;
  }
  return o;
}

std::vector<Output> EngineTest::SendBurst(Side side,
                                          const std::vector<std::vector<uint8_t>>& frames) {
  std::vector<rte_mbuf*> pkts;
  for (const auto& f : frames) {
    rte_mbuf* m = natgw::testing::MbufFromBytes(f.data(), static_cast<uint16_t>(f.size()));
    EXPECT_NE(m, nullptr);
    pkts.push_back(m);
  }
  BurstResult r;
  W(side).ProcessBurst(side, pkts.data(), static_cast<uint16_t>(pkts.size()), now_s_, &r);
  std::vector<Output> out;
  for (uint16_t i = 0; i < r.count; ++i) {
    out.push_back(Decode(r.verdicts[i]));
    if (r.verdicts[i].action != Action::kHeld) rte_pktmbuf_free(r.verdicts[i].mbuf);
  }
  return out;
}

Output EngineTest::Send(Side side, const std::vector<uint8_t>& frame,
                        std::vector<Output>* released) {
  std::vector<Output> out = SendBurst(side, {frame});
  if (released != nullptr) released->assign(out.begin() + 1, out.end());
  return out[0];
}

Output EngineTest::TooBig(Side ingress, Side egress, const Output& translated, uint16_t mtu) {
  rte_mbuf* m = natgw::testing::MbufFromBytes(translated.frame.data(),
                                              static_cast<uint16_t>(translated.frame.size()));
  EXPECT_NE(m, nullptr);
  PacketVerdict v = W(ingress).FragmentationNeeded(m, egress, mtu, now_s_);
  Output out = Decode(v);
  rte_pktmbuf_free(v.mbuf);
  return out;
}

void EngineTest::Maintain(uint32_t now_s) {
  now_s_ = now_s;
  for (int round = 0; round < 3; ++round) {
    for (uint32_t i = 0; i < engine_->num_workers(); ++i) engine_->worker(i).Maintain(now_s);
  }
}

// Every engine test runs with one worker and with two (in2out and out2in on different workers).
INSTANTIATE_TEST_SUITE_P(Workers, EngineTest, ::testing::Values(1, 2),
                         [](const auto& info) { return std::to_string(info.param) + "workers"; });

}  // namespace natgw::nat::testing
