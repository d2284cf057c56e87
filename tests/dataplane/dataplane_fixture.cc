#include "tests/dataplane/dataplane_fixture.h"

#include <rte_arp.h>
#include <rte_byteorder.h>

#include <atomic>
#include <cstring>
#include <string>

namespace natgw::dataplane::testing {
namespace {

std::atomic<int> g_ports{0};

nat::NatConfig TestNatConfig(bool second_island) {
  nat::NatConfig c;
  c.islands.push_back({1, "c1", {nat::Cidr{Ip("10.0.0.0"), 16}}, Ip("10.0.0.1")});
  c.pod_mappings.push_back({1, Ip("10.0.0.5"), Ip("203.0.113.5"), "c1/pod-a", ""});
  nat::EgressPoolConfig p1;
  p1.island = 1;
  p1.addresses = {Ip("192.0.2.16"), Ip("192.0.2.17")};
  c.egress_pools.push_back(p1);
  if (second_island) {
    c.islands.push_back({2, "c2", {nat::Cidr{Ip("10.0.0.0"), 16}}, Ip("10.0.0.1")});
    c.pod_mappings.push_back({2, Ip("10.0.0.5"), Ip("198.51.100.7"), "c2/pod-g", ""});
    nat::EgressPoolConfig p2;
    p2.island = 2;
    p2.addresses = {Ip("192.0.2.32")};
    c.egress_pools.push_back(p2);
  }
  c.outside_gateway_ip = Ip("192.0.2.1");
  return c;
}

uint16_t Load16(const std::vector<uint8_t>& f, size_t off) {
  return static_cast<uint16_t>(f.at(off) << 8 | f.at(off + 1));
}
uint32_t LoadBe32(const std::vector<uint8_t>& f, size_t off) {
  uint32_t v;
  std::memcpy(&v, &f.at(off), 4);
  (void)f.at(off + 3);
  return v;
}
rte_ether_addr LoadMac(const std::vector<uint8_t>& f, size_t off) {
  rte_ether_addr m;
  (void)f.at(off + 5);
  std::memcpy(m.addr_bytes, &f[off], 6);
  return m;
}

}  // namespace

rte_ether_addr Mac(uint8_t a, uint8_t b) { return rte_ether_addr{{0x02, 0, 0, 0, a, b}}; }

std::vector<uint8_t> ArpFrame(uint16_t op, const rte_ether_addr& eth_src,
                              const rte_ether_addr& eth_dst, const rte_ether_addr& sha,
                              uint32_t sip, const rte_ether_addr& tha, uint32_t tip) {
  std::vector<uint8_t> f;
  auto mac = [&](const rte_ether_addr& m) { f.insert(f.end(), m.addr_bytes, m.addr_bytes + 6); };
  auto ip = [&](uint32_t v) {
    const auto* b = reinterpret_cast<const uint8_t*>(&v);
    f.insert(f.end(), b, b + 4);
  };
  mac(eth_dst);
  mac(eth_src);
  f.insert(f.end(), {0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0, static_cast<uint8_t>(op)});
  mac(sha);
  ip(sip);
  mac(tha);
  ip(tip);
  return f;  // 42 bytes, unpadded, as a Linux host sends it
}

bool IsArp(const std::vector<uint8_t>& frame) {
  return frame.size() >= 42 && Load16(frame, 12) == RTE_ETHER_TYPE_ARP;
}

ArpFields DecodeArp(const std::vector<uint8_t>& f) {
  ArpFields a;
  a.eth_dst = LoadMac(f, 0);
  a.eth_src = LoadMac(f, 6);
  a.op = Load16(f, 20);
  a.sha = LoadMac(f, 22);
  a.sip = LoadBe32(f, 28);
  a.tha = LoadMac(f, 32);
  a.tip = LoadBe32(f, 38);
  return a;
}

rte_ether_addr EthDst(const std::vector<uint8_t>& f) { return LoadMac(f, 0); }
rte_ether_addr EthSrc(const std::vector<uint8_t>& f) { return LoadMac(f, 6); }
uint32_t IpSrc(const std::vector<uint8_t>& f) { return LoadBe32(f, 14 + 12); }
uint32_t IpDst(const std::vector<uint8_t>& f) { return LoadBe32(f, 14 + 16); }
uint16_t L4Sport(const std::vector<uint8_t>& f) { return Load16(f, 34); }
uint16_t L4Dport(const std::vector<uint8_t>& f) { return Load16(f, 36); }

::testing::AssertionResult SameMac(const rte_ether_addr& a, const rte_ether_addr& b) {
  if (rte_is_same_ether_addr(&a, &b)) return ::testing::AssertionSuccess();
  char sa[RTE_ETHER_ADDR_FMT_SIZE], sb[RTE_ETHER_ADDR_FMT_SIZE];
  rte_ether_format_addr(sa, sizeof(sa), &a);
  rte_ether_format_addr(sb, sizeof(sb), &b);
  return ::testing::AssertionFailure() << sa << " != " << sb;
}

control::GatewayConfig DataplaneTest::MakeConfig(const Topology& t) {
  control::GatewayConfig c;
  c.name = "dp-test";
  c.source = "dp-test.toml";
  c.idle_sleep_us = t.idle_sleep_us;
  c.answer_arp_for_external = t.answer_arp_for_external;
  control::InterfaceConfig out;
  out.name = "out";
  out.device = out_->device();
  out.role = control::InterfaceRole::kOutside;
  out.address = Ip("192.0.2.1");
  out.prefix_len = 24;
  out.mtu = t.out_mtu;
  out.line = 3;
  c.interfaces.push_back(out);
  control::InterfaceConfig in1;
  in1.name = "c1-inside";
  in1.device = c1_->device();
  in1.role = control::InterfaceRole::kInside;
  in1.island = 1;
  in1.address = Ip("10.0.0.1");
  in1.prefix_len = 16;
  in1.mtu = t.in_mtu;
  in1.line = 9;
  c.interfaces.push_back(in1);
  if (t.second_island) {
    control::InterfaceConfig in2 = in1;
    in2.name = "c2-inside";
    in2.device = c2_->device();
    in2.island = 2;
    in2.line = 15;
    c.interfaces.push_back(in2);
  }
  if (t.default_route) {
    c.routes.push_back({nat::Cidr{0, 0}, Ip("192.0.2.254"), "out", 21});
  }
  if (t.specific_route) {
    c.routes.push_back({nat::Cidr{Ip("198.18.0.0"), 15}, Ip("192.0.2.253"), "out", 22});
  }
  c.nat = TestNatConfig(t.second_island);
  c.engine.max_sessions = 4096;
  c.engine.num_workers = t.workers;
  return c;
}

void DataplaneTest::Start(const Topology& t) {
  const std::string id = std::to_string(g_ports.fetch_add(1));
  const auto queues = static_cast<uint16_t>(t.workers);
  out_ = std::make_unique<RingPort>("out" + id, queues, t.ring_size);
  c1_ = std::make_unique<RingPort>("c1_" + id, queues, t.ring_size);
  if (t.second_island) c2_ = std::make_unique<RingPort>("c2_" + id, queues, t.ring_size);
  control::GatewayConfig config = MakeConfig(t);
  auto engine = nat::Engine::Create(config.engine, config.nat);
  ASSERT_TRUE(engine.ok()) << engine.status();
  engine_ = std::move(*engine);
  auto dp = Dataplane::Create(config, engine_.get(), t.options);
  ASSERT_TRUE(dp.ok()) << dp.status();
  dp_ = std::move(*dp);
  auto ifs = dp_->Interfaces();
  out_mac_ = ifs.at(0).mac;
  c1_mac_ = ifs.at(1).mac;
  if (t.second_island) c2_mac_ = ifs.at(2).mac;
  ASSERT_FALSE(SameMac(out_mac_, c1_mac_));
}

void DataplaneTest::Stop() {
  for (RingPort* p : {out_.get(), c1_.get(), c2_.get()}) {
    if (p != nullptr) p->Discard();
  }
  engine_.reset();  // the documented order: the engine first, then the dataplane
  dp_.reset();
  out_.reset();
  c1_.reset();
  c2_.reset();
}

void DataplaneTest::TearDown() { Stop(); }

std::vector<uint8_t> DataplaneTest::FromPodA(uint32_t dst, uint16_t sport, uint16_t dport) {
  return net::PacketBuilder()
      .Eth(kPodAMac, c1_mac_)
      .Ipv4(Ip("10.0.0.5"), dst)
      .Udp(sport, dport)
      .Payload("hello")
      .Build();
}

void DataplaneTest::Introduce(RingPort& port, uint32_t gateway_ip, uint32_t ip,
                              const rte_ether_addr& mac) {
  port.Inject(ArpFrame(RTE_ARP_OP_REQUEST, mac, kBroadcastMac, mac, ip, kZeroMac, gateway_ip));
  Poll();
  auto frames = port.Take();
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_TRUE(IsArp(frames[0]));
}

}  // namespace natgw::dataplane::testing
