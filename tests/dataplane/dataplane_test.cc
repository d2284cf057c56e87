// The dataplane on ring-backed ports, one poll at a time (PollOnceForTest): ARP, routing,
// neighbor resolution with the hold queue, layer-2 checks, counters and configuration errors.
#include <rte_arp.h>
#include <rte_ip.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "lib/net/verify.h"
#include "tests/dataplane/dataplane_fixture.h"

namespace natgw::dataplane::testing {
namespace {

TEST_F(DataplaneTest, ArpRequestForInsideAddressIsAnsweredWithThePortMac) {
  Start();
  c1_->Inject(ArpFrame(RTE_ARP_OP_REQUEST, kPodAMac, kBroadcastMac, kPodAMac, Ip("10.0.0.5"),
                       kZeroMac, Ip("10.0.0.1")));
  EXPECT_EQ(Poll(), 1u);
  auto frames = c1_->Take();
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_TRUE(IsArp(frames[0]));
  EXPECT_EQ(frames[0].size(), 60u);  // padded to the Ethernet minimum
  ArpFields a = DecodeArp(frames[0]);
  EXPECT_EQ(a.op, RTE_ARP_OP_REPLY);
  EXPECT_TRUE(SameMac(a.eth_dst, kPodAMac));
  EXPECT_TRUE(SameMac(a.eth_src, c1_mac_));
  EXPECT_TRUE(SameMac(a.sha, c1_mac_));
  EXPECT_EQ(a.sip, Ip("10.0.0.1"));
  EXPECT_TRUE(SameMac(a.tha, kPodAMac));
  EXPECT_EQ(a.tip, Ip("10.0.0.5"));
  EXPECT_TRUE(out_->Take().empty());
  EXPECT_EQ(Events(Event::kArpRequestsAnswered), 1u);

  // The asker was learned on the inside interface.
  auto neighbors = dp_->Neighbors();
  ASSERT_EQ(neighbors.size(), 1u);
  EXPECT_EQ(neighbors[0].interface, "c1-inside");
  EXPECT_EQ(neighbors[0].ip, Ip("10.0.0.5"));
  EXPECT_TRUE(neighbors[0].resolved);
  EXPECT_TRUE(SameMac(neighbors[0].mac, kPodAMac));
}

TEST_F(DataplaneTest, ArpForAnExternalAddressIsAnsweredOnTheOutsideOnly) {
  Start();
  // 203.0.113.5 is pod A's unique address: proxy-ARP on the outside...
  out_->Inject(ArpFrame(RTE_ARP_OP_REQUEST, kRouter1Mac, kBroadcastMac, kRouter1Mac,
                        Ip("192.0.2.254"), kZeroMac, Ip("203.0.113.5")));
  // ... and so is a pool address.
  out_->Inject(ArpFrame(RTE_ARP_OP_REQUEST, kRouter1Mac, kBroadcastMac, kRouter1Mac,
                        Ip("192.0.2.254"), kZeroMac, Ip("192.0.2.17")));
  Poll();
  auto frames = out_->Take();
  ASSERT_EQ(frames.size(), 2u);
  ArpFields a = DecodeArp(frames[0]);
  EXPECT_EQ(a.op, RTE_ARP_OP_REPLY);
  EXPECT_EQ(a.sip, Ip("203.0.113.5"));
  EXPECT_TRUE(SameMac(a.sha, out_mac_));
  EXPECT_TRUE(SameMac(a.eth_dst, kRouter1Mac));
  EXPECT_EQ(DecodeArp(frames[1]).sip, Ip("192.0.2.17"));

  // Not on the inside, and not for addresses nobody owns.
  c1_->Inject(ArpFrame(RTE_ARP_OP_REQUEST, kPodAMac, kBroadcastMac, kPodAMac, Ip("10.0.0.5"),
                       kZeroMac, Ip("203.0.113.5")));
  out_->Inject(ArpFrame(RTE_ARP_OP_REQUEST, kRouter1Mac, kBroadcastMac, kRouter1Mac,
                        Ip("192.0.2.254"), kZeroMac, Ip("192.0.2.99")));
  Poll();
  EXPECT_TRUE(c1_->Take().empty());
  EXPECT_TRUE(out_->Take().empty());
  EXPECT_EQ(Drops(Drop::kArpNotForUs), 2u);
  EXPECT_EQ(Events(Event::kArpRequestsAnswered), 2u);
}

TEST_F(DataplaneTest, ProxyArpCanBeTurnedOff) {
  Topology t;
  t.answer_arp_for_external = false;
  Start(t);
  out_->Inject(ArpFrame(RTE_ARP_OP_REQUEST, kRouter1Mac, kBroadcastMac, kRouter1Mac,
                        Ip("192.0.2.254"), kZeroMac, Ip("203.0.113.5")));
  out_->Inject(ArpFrame(RTE_ARP_OP_REQUEST, kRouter1Mac, kBroadcastMac, kRouter1Mac,
                        Ip("192.0.2.254"), kZeroMac, Ip("192.0.2.1")));
  Poll();
  auto frames = out_->Take();
  ASSERT_EQ(frames.size(), 1u);  // only the interface's own address
  EXPECT_EQ(DecodeArp(frames[0]).sip, Ip("192.0.2.1"));
  EXPECT_EQ(Drops(Drop::kArpNotForUs), 1u);
}

TEST_F(DataplaneTest, UnresolvedNextHopIsHeldUntilTheArpReply) {
  Start();
  c1_->Inject(FromPodA(Ip("8.8.8.8"), 40000));
  c1_->Inject(FromPodA(Ip("8.8.8.8"), 40001));
  Poll();
  // One ARP request for the default router, nothing else yet.
  auto frames = out_->Take();
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_TRUE(IsArp(frames[0]));
  ArpFields req = DecodeArp(frames[0]);
  EXPECT_EQ(req.op, RTE_ARP_OP_REQUEST);
  EXPECT_TRUE(SameMac(req.eth_dst, kBroadcastMac));
  EXPECT_TRUE(SameMac(req.eth_src, out_mac_));
  EXPECT_TRUE(SameMac(req.sha, out_mac_));
  EXPECT_EQ(req.sip, Ip("192.0.2.1"));
  EXPECT_EQ(req.tip, Ip("192.0.2.254"));
  EXPECT_EQ(Events(Event::kHeld), 2u);
  EXPECT_EQ(Events(Event::kArpRequestsSent), 1u);

  // More traffic before the answer: held, no second request within the interval.
  c1_->Inject(FromPodA(Ip("8.8.8.8"), 40002));
  Poll();
  EXPECT_TRUE(out_->Take().empty());
  EXPECT_EQ(Events(Event::kArpRequestsSent), 1u);

  out_->Inject(ArpFrame(RTE_ARP_OP_REPLY, kRouter1Mac, out_mac_, kRouter1Mac, Ip("192.0.2.254"),
                        out_mac_, Ip("192.0.2.1")));
  Poll();
  frames = out_->Take();
  ASSERT_EQ(frames.size(), 3u);
  for (size_t i = 0; i < frames.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(SameMac(EthDst(frames[i]), kRouter1Mac));
    EXPECT_TRUE(SameMac(EthSrc(frames[i]), out_mac_));
    EXPECT_EQ(IpSrc(frames[i]), Ip("203.0.113.5"));
    EXPECT_EQ(IpDst(frames[i]), Ip("8.8.8.8"));
    EXPECT_EQ(L4Sport(frames[i]), 40000 + i);  // in order
    EXPECT_TRUE(net::VerifyChecksums(frames[i].data(), frames[i].size()).ok());
  }
  EXPECT_EQ(Events(Event::kHeldReleased), 3u);
  EXPECT_EQ(Events(Event::kArpRepliesReceived), 1u);

  // Resolved now: straight out.
  c1_->Inject(FromPodA(Ip("8.8.8.8"), 40003));
  Poll();
  frames = out_->Take();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(SameMac(EthDst(frames[0]), kRouter1Mac));
  EXPECT_EQ(Events(Event::kHeld), 3u);
  EXPECT_EQ(dp_->SumCounters().TotalDrops(), 0u);
}

TEST_F(DataplaneTest, HeldFramesOfASilentNextHopAreDroppedAfterTheTimeout) {
  Topology t;
  t.options.hold_timeout_ms = 3000;
  t.options.arp_interval_ms = 1000;
  Start(t);
  c1_->Inject(FromPodA(Ip("8.8.8.8")));
  Poll();
  EXPECT_EQ(out_->Take().size(), 1u);  // the first request
  dp_->AdvanceClockForTest(1100);
  Poll();
  auto frames = out_->Take();  // a retry
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(DecodeArp(frames[0]).tip, Ip("192.0.2.254"));
  dp_->AdvanceClockForTest(2000);
  Poll();
  out_->Take();
  EXPECT_EQ(Drops(Drop::kNeighborUnresolved), 1u);
  EXPECT_EQ(Events(Event::kArpRequestsSent), 2u);
}

TEST_F(DataplaneTest, RoutesPickTheMostSpecificNextHop) {
  Start();
  Introduce(*out_, Ip("192.0.2.1"), Ip("192.0.2.254"), kRouter1Mac);
  Introduce(*out_, Ip("192.0.2.1"), Ip("192.0.2.253"), kRouter2Mac);
  Introduce(*out_, Ip("192.0.2.1"), Ip("192.0.2.77"), kHostMac);
  struct Case {
    const char* dst;
    rte_ether_addr mac;
  };
  const Case cases[] = {
      {"8.8.8.8", kRouter1Mac},     // default route via 192.0.2.254
      {"198.19.1.1", kRouter2Mac},  // 198.18.0.0/15 via 192.0.2.253
      {"192.0.2.77", kHostMac},     // connected: the destination itself
  };
  uint16_t sport = 41000;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.dst);
    c1_->Inject(FromPodA(Ip(c.dst), sport++));
    Poll();
    auto frames = out_->Take();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_TRUE(SameMac(EthDst(frames[0]), c.mac));
    EXPECT_EQ(IpDst(frames[0]), Ip(c.dst));
  }
  // The reply comes back to the pod: connected route on the inside, its MAC learned from ARP.
  Introduce(*c1_, Ip("10.0.0.1"), Ip("10.0.0.5"), kPodAMac);
  out_->Inject(net::PacketBuilder()
                   .Eth(kRouter1Mac, out_mac_)
                   .Ipv4(Ip("8.8.8.8"), Ip("203.0.113.5"))
                   .Udp(53, 41000)
                   .Build());
  Poll();
  auto frames = c1_->Take();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(SameMac(EthDst(frames[0]), kPodAMac));
  EXPECT_TRUE(SameMac(EthSrc(frames[0]), c1_mac_));
  EXPECT_EQ(IpDst(frames[0]), Ip("10.0.0.5"));

  auto routes = dp_->Routes();
  ASSERT_EQ(routes.size(), 4u);  // two connected, two configured
  EXPECT_TRUE(routes[0].connected);
  EXPECT_EQ(routes[0].interface, "out");
  EXPECT_EQ(routes[0].destination.addr, Ip("192.0.2.0"));
  EXPECT_EQ(routes[2].via, Ip("192.0.2.254"));
  EXPECT_FALSE(routes[2].connected);
}

TEST_F(DataplaneTest, NoRouteIsDroppedAndCounted) {
  Topology t;
  t.default_route = false;
  Start(t);
  c1_->Inject(FromPodA(Ip("8.8.8.8")));
  Poll();
  EXPECT_TRUE(out_->Take().empty());
  EXPECT_TRUE(c1_->Take().empty());
  EXPECT_EQ(Drops(Drop::kNoRoute), 1u);
  EXPECT_EQ(dp_->SumCounters().TotalDrops(), 1u);
  EXPECT_EQ(engine_->SumCounters().event(nat::Event::kIn2Out), 1u);  // translated, then dropped
}

TEST_F(DataplaneTest, TooBigFramesAreFragmentedOrWithDontFragmentAnswered) {
  Topology t;
  t.out_mtu = 1000;
  Start(t);
  Introduce(*out_, Ip("192.0.2.1"), Ip("192.0.2.254"), kRouter1Mac);
  Introduce(*c1_, Ip("10.0.0.1"), Ip("10.0.0.5"), kPodAMac);
  auto big = [&](bool df) {
    net::PacketBuilder b;
    b.Eth(kPodAMac, c1_mac_).Ipv4(Ip("10.0.0.5"), Ip("8.8.8.8"));
    if (df) b.DontFragment();
    return b.Tcp(40000, 443, net::kTcpAck).PayloadSize(1200).Build();
  };
  const auto fits = net::PacketBuilder().Eth(kPodAMac, c1_mac_).Ipv4(Ip("10.0.0.5"), Ip("8.8.8.8"))
                        .DontFragment().Tcp(40000, 443, net::kTcpAck).PayloadSize(900).Build();
  c1_->Inject(fits);
  c1_->Inject(big(true));
  Poll();
  auto outside = out_->Take();
  ASSERT_EQ(outside.size(), 1u);  // the frame that fits
  EXPECT_EQ(outside[0].size(), fits.size());
  auto back = c1_->Take();
  ASSERT_EQ(back.size(), 1u);
  const std::vector<uint8_t>& e = back[0];
  EXPECT_TRUE(SameMac(EthDst(e), kPodAMac));
  EXPECT_EQ(IpSrc(e), Ip("192.0.2.1"));
  EXPECT_EQ(IpDst(e), Ip("10.0.0.5"));
  ASSERT_GE(e.size(), 14u + 20 + 8 + 20 + 8);
  EXPECT_EQ(e[34], 3);  // destination unreachable
  EXPECT_EQ(e[35], 4);  // fragmentation needed
  EXPECT_EQ(e[40] << 8 | e[41], 1000);  // the next-hop MTU
  uint32_t quoted_src;
  std::memcpy(&quoted_src, e.data() + 42 + 12, 4);
  EXPECT_EQ(quoted_src, Ip("10.0.0.5"));  // what the pod sent
  EXPECT_TRUE(net::VerifyChecksums(e.data(), e.size()).ok());
  EXPECT_EQ(Drops(Drop::kMtuExceeded), 1u);
  EXPECT_EQ(engine_->SumCounters().event(nat::Event::kIcmpFragNeededSent), 1u);

  // Without DF: sent on as two fragments that reassemble to the translated packet.
  const std::vector<uint8_t> whole = big(false);
  c1_->Inject(whole);
  Poll();
  EXPECT_TRUE(c1_->Take().empty());
  auto frags = out_->Take();
  ASSERT_EQ(frags.size(), 2u);
  std::vector<uint8_t> payload;
  for (size_t i = 0; i < frags.size(); ++i) {
    const std::vector<uint8_t>& f = frags[i];
    EXPECT_LE(f.size(), 14u + 1000);
    EXPECT_TRUE(SameMac(EthDst(f), kRouter1Mac));
    EXPECT_EQ(IpSrc(f), Ip("203.0.113.5"));
    EXPECT_EQ(rte_raw_cksum(f.data() + 14, 20), 0xffff) << i;  // header checksum
    const uint16_t total = static_cast<uint16_t>(f[16] << 8 | f[17]);
    const uint16_t frag = static_cast<uint16_t>(f[20] << 8 | f[21]);
    EXPECT_EQ(total, f.size() - 14);
    EXPECT_EQ((frag & 0x1fff) * 8u, payload.size());               // in order, no gap
    EXPECT_EQ((frag & RTE_IPV4_HDR_MF_FLAG) != 0, i == 0) << i;    // MF on all but the last
    EXPECT_EQ(frag & RTE_IPV4_HDR_DF_FLAG, 0);
    if (i == 0) {
      EXPECT_EQ((total - 20) % 8, 0);  // fragment data is in units of 8 bytes
    }
    payload.insert(payload.end(), f.begin() + 34, f.end());
  }
  ASSERT_EQ(payload.size(), whole.size() - 34);  // the TCP header and 1,200 bytes of data
  EXPECT_TRUE(std::equal(payload.begin() + 20, payload.end(), whole.begin() + 54));
  EXPECT_EQ(payload[2] << 8 | payload[3], 443);  // ports: the 1:1 pod's are not changed
  EXPECT_EQ(Drops(Drop::kMtuExceeded), 1u);
  EXPECT_EQ(Events(Event::kFramesFragmented), 1u);
  EXPECT_EQ(engine_->SumCounters().event(nat::Event::kIcmpFragNeededSent), 1u);
  EXPECT_EQ(dp_->SumCounters().TotalDrops(), 1u);

  // A VLAN-tagged frame loses its tag before the MTU check: the same answer, untagged.
  c1_->Inject(net::PacketBuilder().Eth(kPodAMac, c1_mac_).Vlan(100)
                  .Ipv4(Ip("10.0.0.5"), Ip("8.8.8.8")).DontFragment()
                  .Tcp(40001, 443, net::kTcpAck).PayloadSize(1200).Build());
  Poll();
  EXPECT_TRUE(out_->Take().empty());
  back = c1_->Take();
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0][12] << 8 | back[0][13], RTE_ETHER_TYPE_IPV4);
  EXPECT_EQ(IpDst(back[0]), Ip("10.0.0.5"));
  EXPECT_EQ(back[0][40] << 8 | back[0][41], 1000);
  EXPECT_TRUE(net::VerifyChecksums(back[0].data(), back[0].size()).ok());
  EXPECT_EQ(engine_->SumCounters().event(nat::Event::kIcmpFragNeededSent), 2u);
}

TEST_F(DataplaneTest, FragmentationNeededQuotesLessOnASmallReturnPort) {
  Topology t;
  t.out_mtu = 1000;
  t.in_mtu = 300;  // the pod's side: the usual 548-byte quote would not fit
  Start(t);
  Introduce(*out_, Ip("192.0.2.1"), Ip("192.0.2.254"), kRouter1Mac);
  Introduce(*c1_, Ip("10.0.0.1"), Ip("10.0.0.5"), kPodAMac);
  const std::vector<uint8_t> big = net::PacketBuilder()
                                       .Eth(kPodAMac, c1_mac_)
                                       .Ipv4(Ip("10.0.0.5"), Ip("8.8.8.8"))
                                       .DontFragment()
                                       .Tcp(40000, 443, net::kTcpAck)
                                       .PayloadSize(1200)
                                       .Build();
  c1_->Inject(big);
  Poll();
  EXPECT_TRUE(out_->Take().empty());
  auto back = c1_->Take();
  ASSERT_EQ(back.size(), 1u);
  const std::vector<uint8_t>& e = back[0];
  ASSERT_EQ(e.size(), 14u + 300);
  EXPECT_EQ(e[16] << 8 | e[17], 300);  // total length
  EXPECT_EQ(IpDst(e), Ip("10.0.0.5"));
  EXPECT_EQ(e[34], 3);
  EXPECT_EQ(e[35], 4);
  EXPECT_EQ(e[40] << 8 | e[41], 1000);  // the next-hop MTU
  // The quote: the pod's own header (as it sent it) and the first 252 bytes after it.
  EXPECT_TRUE(std::equal(e.begin() + 42 + 20, e.end(), big.begin() + 14 + 20));
  uint32_t quoted_src;
  std::memcpy(&quoted_src, e.data() + 42 + 12, 4);
  EXPECT_EQ(quoted_src, Ip("10.0.0.5"));
  EXPECT_EQ(rte_raw_cksum(e.data() + 14, 20), 0xffff);     // IP header checksum
  EXPECT_EQ(rte_raw_cksum(e.data() + 34, 300 - 20), 0xffff);  // ICMP checksum, whole message
  EXPECT_EQ(engine_->SumCounters().event(nat::Event::kIcmpFragNeededSent), 1u);
  EXPECT_EQ(Drops(Drop::kMtuExceeded), 1u);  // the pod's frame only
  EXPECT_EQ(dp_->SumCounters().TotalDrops(), 1u);
}

// natgw's own time exceeded quotes up to 548 bytes too: toward a smaller MTU it is cut to fit,
// one frame, not sent as fragments.
TEST_F(DataplaneTest, TimeExceededQuotesLessOnASmallReturnPort) {
  Topology t;
  t.in_mtu = 300;
  Start(t);
  Introduce(*c1_, Ip("10.0.0.1"), Ip("10.0.0.5"), kPodAMac);
  const std::vector<uint8_t> big = net::PacketBuilder()
                                       .Eth(kPodAMac, c1_mac_)
                                       .Ipv4(Ip("10.0.0.5"), Ip("198.51.100.9"))
                                       .Ttl(1)
                                       .Udp(33434, 33434)
                                       .PayloadSize(1200)
                                       .Build();
  c1_->Inject(big);
  Poll();
  EXPECT_TRUE(out_->Take().empty());
  auto back = c1_->Take();
  ASSERT_EQ(back.size(), 1u);
  const std::vector<uint8_t>& e = back[0];
  ASSERT_EQ(e.size(), 14u + 300);
  EXPECT_EQ(e[16] << 8 | e[17], 300);                         // total length
  EXPECT_EQ((e[20] << 8 | e[21]) & 0x3fff, 0);                // not a fragment
  EXPECT_TRUE(SameMac(EthDst(e), kPodAMac));
  EXPECT_EQ(IpSrc(e), Ip("10.0.0.1"));
  EXPECT_EQ(IpDst(e), Ip("10.0.0.5"));
  EXPECT_EQ(e[34], 11);  // time exceeded
  EXPECT_EQ(e[35], 0);   // in transit
  // The quote: the pod's header as it sent it and the first 252 bytes after it.
  EXPECT_TRUE(std::equal(e.begin() + 42, e.end(), big.begin() + 14));
  EXPECT_EQ(rte_raw_cksum(e.data() + 14, 20), 0xffff);        // IP header checksum
  EXPECT_EQ(rte_raw_cksum(e.data() + 34, 300 - 20), 0xffff);  // ICMP checksum, whole message
  EXPECT_EQ(engine_->SumCounters().event(nat::Event::kIcmpTimeExceededSent), 1u);
  EXPECT_EQ(Events(Event::kFramesFragmented), 0u);
  EXPECT_EQ(Drops(Drop::kMtuExceeded), 0u);
}

TEST_F(DataplaneTest, FragmentsOfAFrameWithOptionsCarryOnlyTheCopiedOnesAfterTheFirst) {
  Topology t;
  t.out_mtu = 600;
  Start(t);
  Introduce(*out_, Ip("192.0.2.1"), Ip("192.0.2.254"), kRouter1Mac);
  // Record Route (not copied, 7 bytes), NOP, Router Alert (copied, 4 bytes): a 32-byte header.
  const std::vector<uint8_t> opts = {7, 7, 4, 0, 0, 0, 0, 1, 148, 4, 0, 0};
  const std::vector<uint8_t> whole = net::PacketBuilder()
                                         .Eth(kPodAMac, c1_mac_)
                                         .Ipv4(Ip("10.0.0.5"), Ip("8.8.8.8"))
                                         .IpOptions(opts)
                                         .Udp(40000, 53)
                                         .PayloadSize(1400)
                                         .Build();
  ASSERT_EQ(whole.size(), 14u + 32 + 8 + 1400);
  c1_->Inject(whole);
  Poll();
  auto frags = out_->Take();
  // 1,408 bytes of UDP: 568 in the first (600 - 32), then 576 (600 - 24) and 264.
  ASSERT_EQ(frags.size(), 3u);
  std::vector<uint8_t> payload;
  for (size_t i = 0; i < frags.size(); ++i) {
    SCOPED_TRACE(i);
    const std::vector<uint8_t>& f = frags[i];
    const size_t hl = (f[14] & 0xf) * 4u;
    EXPECT_EQ(f[14] >> 4, 4);
    EXPECT_EQ(hl, i == 0 ? 32u : 24u);
    EXPECT_LE(f.size(), 14u + 600);
    EXPECT_EQ(IpSrc(f), Ip("203.0.113.5"));
    EXPECT_EQ(rte_raw_cksum(f.data() + 14, hl), 0xffff);  // header checksum, options included
    const std::vector<uint8_t> got(f.begin() + 34, f.begin() + 14 + static_cast<long>(hl));
    if (i == 0) {
      EXPECT_EQ(got, opts);
    } else {
      EXPECT_EQ(got, (std::vector<uint8_t>{148, 4, 0, 0}));  // Router Alert only
    }
    const uint16_t total = static_cast<uint16_t>(f[16] << 8 | f[17]);
    const uint16_t frag = static_cast<uint16_t>(f[20] << 8 | f[21]);
    EXPECT_EQ(total, f.size() - 14);
    EXPECT_EQ((frag & 0x1fff) * 8u, payload.size());
    EXPECT_EQ((frag & RTE_IPV4_HDR_MF_FLAG) != 0, i + 1 < frags.size());
    if (i + 1 < frags.size()) {
      EXPECT_EQ((total - hl) % 8, 0u);
    }
    payload.insert(payload.end(), f.begin() + 14 + static_cast<long>(hl), f.end());
  }
  ASSERT_EQ(payload.size(), 8u + 1400);
  EXPECT_TRUE(std::equal(payload.begin() + 8, payload.end(), whole.begin() + 14 + 32 + 8));
  EXPECT_EQ(Events(Event::kFramesFragmented), 1u);
  EXPECT_EQ(dp_->SumCounters().TotalDrops(), 0u);

  // A datagram that comes fragmented already (options in both fragments): each fragment is
  // split again, keeping its place in the datagram; only the last piece of the last fragment
  // clears MF.
  const std::vector<uint8_t> ra = {148, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0};
  const auto two = net::PacketBuilder()
                       .Eth(kPodAMac, c1_mac_)
                       .Ipv4(Ip("10.0.0.5"), Ip("8.8.8.8"))
                       .Id(77)
                       .IpOptions(ra)
                       .Udp(40001, 53)
                       .PayloadSize(1992)
                       .BuildFragments(1000);
  ASSERT_EQ(two.size(), 2u);
  std::vector<std::vector<uint8_t>> pieces;
  for (const auto& f : two) {
    c1_->Inject(f);
    Poll();
    for (auto& p : out_->Take()) pieces.push_back(std::move(p));
  }
  // 1,000 bytes per fragment: 568 + 432 each.
  ASSERT_EQ(pieces.size(), 4u);
  const uint16_t want_offset[] = {0, 71, 125, 196};
  const bool want_mf[] = {true, true, true, false};
  const size_t want_hl[] = {32, 24, 32, 24};
  std::vector<uint8_t> data(2000);
  for (size_t i = 0; i < pieces.size(); ++i) {
    SCOPED_TRACE(i);
    const std::vector<uint8_t>& f = pieces[i];
    const size_t hl = (f[14] & 0xf) * 4u;
    EXPECT_EQ(hl, want_hl[i]);
    EXPECT_EQ(f[14 + 20], 148);  // Router Alert in every piece
    EXPECT_EQ(rte_raw_cksum(f.data() + 14, hl), 0xffff);
    const uint16_t frag = static_cast<uint16_t>(f[20] << 8 | f[21]);
    EXPECT_EQ(frag & 0x1fff, want_offset[i]);
    EXPECT_EQ((frag & RTE_IPV4_HDR_MF_FLAG) != 0, want_mf[i]);
    EXPECT_EQ(f[18] << 8 | f[19], 77);  // the datagram's id
    const size_t at = (frag & 0x1fffu) * 8;
    ASSERT_LE(at + f.size() - 14 - hl, data.size());
    std::copy(f.begin() + 14 + static_cast<long>(hl), f.end(),
              data.begin() + static_cast<long>(at));
  }
  // The UDP data (after the translated header) as the pod sent it.
  const auto whole2 = net::PacketBuilder().Eth(kPodAMac, c1_mac_)
                          .Ipv4(Ip("10.0.0.5"), Ip("8.8.8.8")).IpOptions(ra).Udp(40001, 53)
                          .PayloadSize(1992).Build();
  EXPECT_TRUE(std::equal(data.begin() + 8, data.end(), whole2.begin() + 14 + 32 + 8));
  EXPECT_EQ(Events(Event::kFramesFragmented), 3u);
  EXPECT_EQ(dp_->SumCounters().TotalDrops(), 0u);

  // Options that run past the header cannot be sorted: dropped, counted.
  std::vector<uint8_t> bad = whole;
  bad[14 + 20 + 1] = 40;  // Record Route's length
  bad[14 + 10] = bad[14 + 11] = 0;
  const uint16_t ck = static_cast<uint16_t>(~rte_raw_cksum(bad.data() + 14, 32));
  bad[14 + 10] = static_cast<uint8_t>(ck & 0xff);  // (the sum is in memory order)
  bad[14 + 11] = static_cast<uint8_t>(ck >> 8);
  c1_->Inject(bad);
  Poll();
  EXPECT_TRUE(out_->Take().empty());
  EXPECT_EQ(Drops(Drop::kMtuExceeded), 1u);
  EXPECT_EQ(Events(Event::kFramesFragmented), 3u);
}

TEST_F(DataplaneTest, HoldQueueOverflowIsCounted) {
  Topology t;
  t.options.hold_frames = 6;
  t.options.hold_per_neighbor = 4;
  Start(t);
  for (uint16_t i = 0; i < 5; ++i) c1_->Inject(FromPodA(Ip("8.8.8.8"), 42000 + i));
  Poll();
  EXPECT_EQ(Events(Event::kHeld), 4u);
  EXPECT_EQ(Drops(Drop::kNeighborHoldFull), 1u);  // per next hop
  for (uint16_t i = 0; i < 3; ++i) c1_->Inject(FromPodA(Ip("192.0.2.77"), 42100 + i));
  Poll();
  EXPECT_EQ(Events(Event::kHeld), 6u);
  EXPECT_EQ(Drops(Drop::kNeighborHoldFull), 2u);  // in all
  auto frames = out_->Take();
  EXPECT_EQ(frames.size(), 2u);  // one request per next hop
  // Nobody answers: everything held is dropped once, as unresolved.
  dp_->AdvanceClockForTest(3100);
  Poll();
  out_->Take();
  EXPECT_EQ(Drops(Drop::kNeighborUnresolved), 6u);
  EXPECT_EQ(dp_->SumCounters().TotalDrops(), 8u);
}

TEST_F(DataplaneTest, FramesForAnotherMacAreNotForwarded) {
  Start();
  c1_->Inject(net::PacketBuilder()
                  .Eth(kPodAMac, Mac(9, 9))
                  .Ipv4(Ip("10.0.0.5"), Ip("8.8.8.8"))
                  .Udp(1, 2)
                  .Build());
  Poll();
  EXPECT_TRUE(out_->Take().empty());
  EXPECT_EQ(Drops(Drop::kL2OtherHost), 1u);
  EXPECT_EQ(engine_->SumCounters().event(nat::Event::kRxPackets), 0u);
}

TEST_F(DataplaneTest, VlanTaggedFramesLeaveUntagged) {
  Start();
  Introduce(*out_, Ip("192.0.2.1"), Ip("192.0.2.254"), kRouter1Mac);
  c1_->Inject(net::PacketBuilder()
                  .Eth(kPodAMac, c1_mac_)
                  .Vlan(100)
                  .Ipv4(Ip("10.0.0.5"), Ip("8.8.8.8"))
                  .Udp(40000, 53)
                  .Payload("tagged")
                  .Build());
  Poll();
  auto frames = out_->Take();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0][12], 0x08);
  EXPECT_EQ(frames[0][13], 0x00);
  EXPECT_EQ(IpSrc(frames[0]), Ip("203.0.113.5"));
  EXPECT_TRUE(net::VerifyChecksums(frames[0].data(), frames[0].size()).ok());
}

TEST_F(DataplaneTest, EchoToTheGatewayIsAnsweredOnTheSameSide) {
  Start();
  Introduce(*c1_, Ip("10.0.0.1"), Ip("10.0.0.5"), kPodAMac);
  c1_->Inject(net::PacketBuilder()
                  .Eth(kPodAMac, c1_mac_)
                  .Ipv4(Ip("10.0.0.5"), Ip("10.0.0.1"))
                  .IcmpEcho(true, 7, 1)
                  .Build());
  Poll();
  auto frames = c1_->Take();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(SameMac(EthDst(frames[0]), kPodAMac));
  EXPECT_EQ(IpSrc(frames[0]), Ip("10.0.0.1"));
  EXPECT_EQ(IpDst(frames[0]), Ip("10.0.0.5"));
}

TEST_F(DataplaneTest, GratuitousArpGoesOutTheOutsidePortThroughWorkerZero) {
  Start();
  ASSERT_TRUE(dp_->SendGratuitousArp({Ip("203.0.113.5"), Ip("192.0.2.16")}).ok());
  EXPECT_TRUE(out_->Take().empty());  // nothing until worker 0 drains
  Poll();
  auto frames = out_->Take();
  ASSERT_EQ(frames.size(), 2u);
  ArpFields a = DecodeArp(frames[0]);
  EXPECT_EQ(a.op, RTE_ARP_OP_REQUEST);
  EXPECT_TRUE(SameMac(a.eth_dst, kBroadcastMac));
  EXPECT_TRUE(SameMac(a.sha, out_mac_));
  EXPECT_EQ(a.sip, Ip("203.0.113.5"));
  EXPECT_EQ(a.tip, Ip("203.0.113.5"));
  EXPECT_EQ(DecodeArp(frames[1]).sip, Ip("192.0.2.16"));
  EXPECT_TRUE(c1_->Take().empty());
  EXPECT_EQ(Events(Event::kGratuitousArpSent), 2u);
}

TEST_F(DataplaneTest, ArpRefreshesAndConflictsAreHandled) {
  Start();
  Introduce(*out_, Ip("192.0.2.1"), Ip("192.0.2.254"), kRouter1Mac);
  // The router announces a new MAC (gratuitous ARP): updated, not answered.
  out_->Inject(ArpFrame(RTE_ARP_OP_REQUEST, kRouter2Mac, kBroadcastMac, kRouter2Mac,
                        Ip("192.0.2.254"), kZeroMac, Ip("192.0.2.254")));
  // Someone claims our address: counted, not learned.
  out_->Inject(ArpFrame(RTE_ARP_OP_REQUEST, kHostMac, kBroadcastMac, kHostMac, Ip("192.0.2.1"),
                        kZeroMac, Ip("192.0.2.1")));
  // Garbage.
  auto bad = ArpFrame(RTE_ARP_OP_REQUEST, kHostMac, kBroadcastMac, kHostMac, Ip("192.0.2.77"),
                      kZeroMac, Ip("192.0.2.1"));
  bad[19] = 16;  // hlen
  out_->Inject(bad);
  Poll();
  EXPECT_TRUE(out_->Take().empty());
  EXPECT_EQ(Events(Event::kArpGratuitousReceived), 1u);
  EXPECT_EQ(Drops(Drop::kArpConflict), 1u);
  EXPECT_EQ(Drops(Drop::kArpMalformed), 1u);
  auto neighbors = dp_->Neighbors();
  ASSERT_EQ(neighbors.size(), 1u);
  EXPECT_TRUE(SameMac(neighbors[0].mac, kRouter2Mac));
}

TEST_F(DataplaneTest, InterfacesReportPortsAndCounters) {
  Start();
  Introduce(*c1_, Ip("10.0.0.1"), Ip("10.0.0.5"), kPodAMac);
  auto ifs = dp_->Interfaces();
  ASSERT_EQ(ifs.size(), 2u);
  EXPECT_EQ(ifs[0].name, "out");
  EXPECT_EQ(ifs[0].role, control::InterfaceRole::kOutside);
  EXPECT_EQ(ifs[0].address, Ip("192.0.2.1"));
  EXPECT_EQ(ifs[0].prefix_len, 24);
  EXPECT_TRUE(SameMac(ifs[0].mac, out_mac_));
  EXPECT_TRUE(ifs[0].link_up);
  EXPECT_EQ(ifs[0].driver, "net_ring");
  EXPECT_EQ(ifs[1].name, "c1-inside");
  EXPECT_EQ(ifs[1].island, 1);
  EXPECT_EQ(ifs[1].rx_packets, 1u);
  EXPECT_EQ(ifs[1].tx_packets, 1u);
  EXPECT_EQ(ifs[1].tx_dropped, 0u);
}

TEST_F(DataplaneTest, FramesTheTxQueueRefusesAreCounted) {
  Start();
  Introduce(*out_, Ip("192.0.2.1"), Ip("192.0.2.254"), kRouter1Mac);
  // The outside TX ring holds 1023 frames and nobody reads it.
  uint32_t sent = 0;
  while (sent < 1100) {
    for (int i = 0; i < 100; ++i, ++sent) c1_->Inject(FromPodA(Ip("8.8.8.8"), 20000));
    while (Poll() != 0) {
    }
  }
  EXPECT_EQ(out_->Discard(), 1023u);
  EXPECT_EQ(Drops(Drop::kTxFull), 1100u - 1023u);
  EXPECT_EQ(dp_->Interfaces()[0].tx_dropped, 1100u - 1023u);
}

// Configuration errors name what is wrong.
class DataplaneConfigTest : public DataplaneTest {
 protected:
  absl::Status TryCreate(const control::GatewayConfig& config) {
    auto engine = nat::Engine::Create(config.engine, config.nat);
    if (!engine.ok()) return engine.status();
    auto dp = Dataplane::Create(config, engine->get(), Topology::SmallOptions());
    return dp.status();
  }
  void SetUp() override {
    out_ = std::make_unique<RingPort>("cfg_out" + std::to_string(counter_), 1);
    c1_ = std::make_unique<RingPort>("cfg_c1_" + std::to_string(counter_++), 1);
  }
  static inline int counter_ = 0;
};

TEST_F(DataplaneConfigTest, UnknownDeviceIsNotFound) {
  control::GatewayConfig c = MakeConfig({});
  c.interfaces[1].device = "net_nothing0";
  absl::Status s = TryCreate(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_NE(s.message().find("dp-test.toml:9: interface c1-inside"), std::string::npos) << s;
}

TEST_F(DataplaneConfigTest, NextHopOffTheSubnetIsRefused) {
  control::GatewayConfig c = MakeConfig({});
  c.routes[0].via = Ip("192.0.3.1");
  absl::Status s = TryCreate(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("dp-test.toml:21"), std::string::npos) << s;
  EXPECT_NE(s.message().find("not on the subnet"), std::string::npos) << s;
}

TEST_F(DataplaneConfigTest, RouteOnUnknownInterfaceIsRefused) {
  control::GatewayConfig c = MakeConfig({});
  c.routes[1].interface = "eth9";
  absl::Status s = TryCreate(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("eth9"), std::string::npos) << s;
}

TEST_F(DataplaneConfigTest, TooFewQueuesForTheWorkers) {
  Topology t;
  t.workers = 2;  // the ring ports have one queue pair
  control::GatewayConfig c = MakeConfig(t);
  absl::Status s = TryCreate(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
}

}  // namespace
}  // namespace natgw::dataplane::testing
