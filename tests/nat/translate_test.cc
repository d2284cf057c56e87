// Translation kinds of DESIGN.md section 2, both directions, every output checksum verified (the
// fixture's Decode), each case run with one and with two workers.
#include <rte_byteorder.h>

#include "tests/nat/engine_fixture.h"

namespace natgw::nat::testing {
namespace {

using net::PacketBuilder;

TEST_P(EngineTest, PodMappingTranslatesSourceOutAndDestinationBack) {
  Output out = Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Ttl(64)
                             .Tcp(40000, 80, net::kTcpSyn).Build());
  ASSERT_EQ(out.action, Action::kToOutside);
  EXPECT_EQ(out.src(), Ip("203.0.113.5"));
  EXPECT_EQ(out.dst(), Ip("198.51.100.9"));
  EXPECT_EQ(out.sport(), 40000);  // 1:1 leaves ports alone
  EXPECT_EQ(out.dport(), 80);
  EXPECT_EQ(out.ttl(), 63);

  Output back = Send(kOut, PacketBuilder().Ipv4("198.51.100.9", "203.0.113.5")
                               .Tcp(80, 40000, net::kTcpSyn | net::kTcpAck).Build());
  ASSERT_EQ(back.action, Action::kToInside);
  EXPECT_EQ(back.island, 1);
  EXPECT_EQ(back.src(), Ip("198.51.100.9"));
  EXPECT_EQ(back.dst(), Ip("10.0.0.5"));
  EXPECT_EQ(back.dport(), 40000);
  EXPECT_EQ(Events(Event::kPodMappingSessions), 1u);
}

TEST_P(EngineTest, SamePodIpInTwoIslandsGetsDifferentExternalAddresses) {
  auto syn = PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Tcp(40000, 80, net::kTcpSyn).Build();
  Output a = Send(kC1, syn);
  Output g = Send(kC2, syn);
  ASSERT_EQ(a.action, Action::kToOutside);
  ASSERT_EQ(g.action, Action::kToOutside);
  EXPECT_EQ(a.src(), Ip("203.0.113.5"));
  EXPECT_EQ(g.src(), Ip("198.51.100.7"));
  Output to_g = Send(kOut, PacketBuilder().Ipv4("198.51.100.9", "198.51.100.7")
                               .Tcp(80, 40000, net::kTcpSyn | net::kTcpAck).Build());
  ASSERT_EQ(to_g.action, Action::kToInside);
  EXPECT_EQ(to_g.island, 2);
  EXPECT_EQ(to_g.dst(), Ip("10.0.0.5"));
}

TEST_P(EngineTest, OutsideClientReachesPodByUniqueAddress) {
  Output in = Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "198.51.100.7")
                             .Tcp(33000, 8080, net::kTcpSyn).Build());
  ASSERT_EQ(in.action, Action::kToInside);
  EXPECT_EQ(in.island, 2);
  EXPECT_EQ(in.dst(), Ip("10.0.0.5"));
  EXPECT_EQ(in.src(), Ip("198.51.100.50"));
  Output reply = Send(kC2, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.50")
                               .Tcp(8080, 33000, net::kTcpSyn | net::kTcpAck).Build());
  ASSERT_EQ(reply.action, Action::kToOutside);
  EXPECT_EQ(reply.src(), Ip("198.51.100.7"));
}

TEST_P(EngineTest, PodInOneIslandReachesSamePodIpInTheOther) {
  // Pod A (c1 10.0.0.5) to pod G (c2 10.0.0.5) by G's unique address, through one gateway.
  Output out = Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.7")
                             .Tcp(41000, 80, net::kTcpSyn).Build());
  ASSERT_EQ(out.action, Action::kToInside);
  EXPECT_EQ(out.island, 2);
  EXPECT_EQ(out.src(), Ip("203.0.113.5"));
  EXPECT_EQ(out.dst(), Ip("10.0.0.5"));
  Output back = Send(kC2, PacketBuilder().Ipv4("10.0.0.5", "203.0.113.5")
                              .Tcp(80, 41000, net::kTcpSyn | net::kTcpAck).Build());
  ASSERT_EQ(back.action, Action::kToInside);
  EXPECT_EQ(back.island, 1);
  EXPECT_EQ(back.src(), Ip("198.51.100.7"));
  EXPECT_EQ(back.dst(), Ip("10.0.0.5"));
  EXPECT_EQ(Events(Event::kHairpin), 2u);
}

TEST_P(EngineTest, HairpinWithinOneIsland) {
  Output out = Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "203.0.113.6").Ttl(10)
                             .Udp(5000, 53).Payload("q").Build());
  ASSERT_EQ(out.action, Action::kToInside);
  EXPECT_EQ(out.island, 1);
  EXPECT_EQ(out.src(), Ip("203.0.113.5"));
  EXPECT_EQ(out.dst(), Ip("10.0.0.6"));
  EXPECT_EQ(out.ttl(), 9);  // one hop, not two
  Output back = Send(kC1, PacketBuilder().Ipv4("10.0.0.6", "203.0.113.5").Udp(53, 5000).Build());
  ASSERT_EQ(back.action, Action::kToInside);
  EXPECT_EQ(back.src(), Ip("203.0.113.6"));
  EXPECT_EQ(back.dst(), Ip("10.0.0.5"));
  EXPECT_EQ(back.sport(), 53);
  EXPECT_EQ(back.dport(), 5000);
}

TEST_P(EngineTest, EgressPoolTranslatesAddressAndPortWithPairedPooling) {
  Output first = Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Udp(5000, 53).Build());
  ASSERT_EQ(first.action, Action::kToOutside);
  EXPECT_TRUE(first.src() == Ip("192.0.2.16") || first.src() == Ip("192.0.2.17"));
  EXPECT_GE(first.sport(), 1024);
  // Endpoint-independent mapping: the same pod endpoint to another remote keeps its mapping.
  Output second =
      Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.10").Udp(5000, 53).Build());
  EXPECT_EQ(second.src(), first.src());
  EXPECT_EQ(second.sport(), first.sport());
  // Paired pooling: another port of the same pod uses the same pool address.
  Output other = Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Udp(5001, 53).Build());
  EXPECT_EQ(other.src(), first.src());
  EXPECT_NE(other.sport(), first.sport());

  Output reply = Send(kOut, PacketBuilder().Ipv4("198.51.100.9", net::FormatIp(first.src()).c_str())
                                .Udp(53, first.sport()).Build());
  ASSERT_EQ(reply.action, Action::kToInside);
  EXPECT_EQ(reply.island, 1);
  EXPECT_EQ(reply.dst(), Ip("10.0.0.9"));
  EXPECT_EQ(reply.dport(), 5000);
  EXPECT_EQ(Events(Event::kBindingsCreated), 2u);
}

TEST_P(EngineTest, PrivilegedSourcePortStaysBelow1024) {
  Output out = Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Udp(123, 123).Build());
  ASSERT_EQ(out.action, Action::kToOutside);
  EXPECT_GE(out.sport(), 1);
  EXPECT_LT(out.sport(), 1024);
}

TEST_P(EngineTest, ZeroUdpChecksumStaysZero) {
  Output out = Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Udp(5000, 53)
                             .Payload("x").ZeroUdpChecksum().Build());
  ASSERT_EQ(out.action, Action::kToOutside);
  EXPECT_EQ(out.l4()[6], 0);
  EXPECT_EQ(out.l4()[7], 0);
}

TEST_P(EngineTest, UnsolicitedToPoolAddressIsDroppedByDefault) {
  Output out = Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Udp(5000, 53).Build());
  // Another remote, same external endpoint: address-and-port-dependent filtering drops it.
  Output stranger = Send(kOut, PacketBuilder()
                                   .Ipv4("198.51.100.66", net::FormatIp(out.src()).c_str())
                                   .Udp(53, out.sport())
                                   .Build());
  EXPECT_EQ(stranger.action, Action::kDrop);
  EXPECT_EQ(stranger.reason, DropReason::kFiltered);
  // A port with no binding at all.
  Output none = Send(kOut, PacketBuilder().Ipv4("198.51.100.66", "192.0.2.16").Udp(53, 7).Build());
  EXPECT_EQ(none.reason, DropReason::kNoSession);
  EXPECT_EQ(Drops(DropReason::kFiltered), 1u);
  EXPECT_EQ(Drops(DropReason::kNoSession), 1u);
}

TEST_P(EngineTest, EndpointIndependentFilteringAdmitsAnyRemoteToALiveBinding) {
  NatConfig nc = TwoIslandConfig();
  nc.egress_pools[0].filtering = Filtering::kEndpointIndependent;
  ASSERT_TRUE(engine_->Apply(nc).ok());
  Output out = Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Udp(5000, 3478).Build());
  Output stranger = Send(kOut, PacketBuilder()
                                   .Ipv4("198.51.100.66", net::FormatIp(out.src()).c_str())
                                   .Udp(9999, out.sport())
                                   .Build());
  ASSERT_EQ(stranger.action, Action::kToInside);
  EXPECT_EQ(stranger.dst(), Ip("10.0.0.9"));
  EXPECT_EQ(stranger.dport(), 5000);
  Output reply =
      Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.66").Udp(5000, 9999).Build());
  EXPECT_EQ(reply.src(), out.src());
  EXPECT_EQ(reply.sport(), out.sport());
}

TEST_P(EngineTest, IcmpEchoIdentifierIsTranslated) {
  Output out = Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").IcmpEcho(true, 77, 1)
                             .Payload("ping").Build());
  ASSERT_EQ(out.action, Action::kToOutside);
  EXPECT_TRUE(out.src() == Ip("192.0.2.16") || out.src() == Ip("192.0.2.17"));
  const uint16_t ext_id = out.sport();
  Output reply = Send(kOut, PacketBuilder().Ipv4("198.51.100.9", net::FormatIp(out.src()).c_str())
                                .IcmpEcho(false, ext_id, 1).Payload("ping").Build());
  ASSERT_EQ(reply.action, Action::kToInside);
  EXPECT_EQ(reply.dst(), Ip("10.0.0.9"));
  EXPECT_EQ(reply.sport(), 77);
  // An echo reply nobody asked for.
  Output stray = Send(kOut, PacketBuilder().Ipv4("198.51.100.9", "203.0.113.5")
                                .IcmpEcho(false, 5, 1).Build());
  EXPECT_EQ(stray.reason, DropReason::kNoSession);
}

TEST_P(EngineTest, ServiceVipBalancesOverBackendsAndPinsFlows) {
  int per_backend[2] = {0, 0};
  for (uint16_t port = 20000; port < 20064; ++port) {
    Output in = Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "198.51.100.80")
                               .Tcp(port, 80, net::kTcpSyn).Build());
    ASSERT_EQ(in.action, Action::kToInside);
    ASSERT_EQ(in.island, 2);
    EXPECT_EQ(in.dport(), 8080);
    ASSERT_TRUE(in.dst() == Ip("10.0.0.7") || in.dst() == Ip("10.0.0.8"));
    ++per_backend[in.dst() == Ip("10.0.0.8")];
    // The same flow stays on its backend.
    Output again = Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "198.51.100.80")
                                  .Tcp(port, 80, net::kTcpAck).Build());
    EXPECT_EQ(again.dst(), in.dst());
    Output reply = Send(kC2, PacketBuilder().Ipv4(net::FormatIp(in.dst()).c_str(), "198.51.100.50")
                                 .Tcp(8080, port, net::kTcpSyn | net::kTcpAck).Build());
    ASSERT_EQ(reply.action, Action::kToOutside);
    EXPECT_EQ(reply.src(), Ip("198.51.100.80"));
    EXPECT_EQ(reply.sport(), 80);
  }
  EXPECT_GT(per_backend[0], 10);
  EXPECT_GT(per_backend[1], 10);
  EXPECT_EQ(Events(Event::kServiceSessions), 64u);
}

TEST_P(EngineTest, ServiceRequiresSynToStartAFlow) {
  Output in = Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "198.51.100.80")
                             .Tcp(20000, 80, net::kTcpAck).Build());
  EXPECT_EQ(in.reason, DropReason::kTcpNotSyn);
  Output wrong_port = Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "198.51.100.80")
                                     .Tcp(20000, 81, net::kTcpSyn).Build());
  EXPECT_EQ(wrong_port.reason, DropReason::kNoMapping);
  Output udp =
      Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "198.51.100.80").Udp(999, 53).Build());
  ASSERT_EQ(udp.action, Action::kToInside);
  EXPECT_EQ(udp.dst(), Ip("10.0.0.7"));
  EXPECT_EQ(udp.dport(), 5353);
}

TEST_P(EngineTest, SpoofedInsideSourceIsDropped) {
  Output out = Send(kC1, PacketBuilder().Ipv4("172.16.0.1", "198.51.100.9").Udp(1, 2).Build());
  EXPECT_EQ(out.action, Action::kDrop);
  EXPECT_EQ(out.reason, DropReason::kSpoofedSource);
  EXPECT_EQ(Drops(DropReason::kSpoofedSource), 1u);
}

TEST_P(EngineTest, UnknownIslandIsDropped) {
  Output out =
      Send(Side::Inside(9), PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Udp(1, 2).Build());
  EXPECT_EQ(out.reason, DropReason::kUnknownIsland);
}

TEST_P(EngineTest, OutsideToUnmappedAddressIsDroppedAndCounted) {
  Output out = Send(
      kOut, PacketBuilder().Ipv4("198.51.100.50", "203.0.113.99").Tcp(1, 2, net::kTcpSyn).Build());
  EXPECT_EQ(out.action, Action::kDrop);
  EXPECT_EQ(out.reason, DropReason::kNoMapping);
  EXPECT_EQ(Drops(DropReason::kNoMapping), 1u);
}

TEST_P(EngineTest, EgressTcpNeedsSyn) {
  Output out = Send(
      kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Tcp(1000, 80, net::kTcpAck).Build());
  EXPECT_EQ(out.reason, DropReason::kTcpNotSyn);
}

TEST_P(EngineTest, OtherProtocolsTranslateStatelesslyWithAPodMapping) {
  Output out =
      Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Proto(47).Payload("gre").Build());
  ASSERT_EQ(out.action, Action::kToOutside);
  EXPECT_EQ(out.src(), Ip("203.0.113.5"));
  Output back = Send(
      kOut, PacketBuilder().Ipv4("198.51.100.9", "203.0.113.5").Proto(47).Payload("gre").Build());
  ASSERT_EQ(back.action, Action::kToInside);
  EXPECT_EQ(back.dst(), Ip("10.0.0.5"));
  Output no_map = Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Proto(47).Build());
  EXPECT_EQ(no_map.reason, DropReason::kUnsupportedProtocol);
}

TEST_P(EngineTest, GatewayAnswersEchoToItsOwnAddresses) {
  Output out =
      Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "192.0.2.1").IcmpEcho(true, 9, 1).Build());
  ASSERT_EQ(out.action, Action::kToOutside);
  EXPECT_EQ(out.src(), Ip("192.0.2.1"));
  EXPECT_EQ(out.dst(), Ip("198.51.100.50"));
  EXPECT_EQ(out.l4()[0], net::kIcmpEchoReply);
  Output in = Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "10.0.0.1").IcmpEcho(true, 9, 1).Build());
  ASSERT_EQ(in.action, Action::kToInside);
  EXPECT_EQ(in.island, 1);
  EXPECT_EQ(in.dst(), Ip("10.0.0.5"));
  EXPECT_EQ(Events(Event::kIcmpEchoReplied), 2u);
}

struct BadFrame {
  const char* description;
  std::vector<uint8_t> frame;
  DropReason reason;
};

TEST_P(EngineTest, MalformedFramesAreDroppedWithTheirReason) {
  auto good = PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Udp(1, 2).Build();
  std::vector<BadFrame> cases = {
      {"runt", std::vector<uint8_t>(good.begin(), good.begin() + 10),
       DropReason::kTruncatedEthernet},
      {"arp", PacketBuilder().EtherType(0x0806).Build(), DropReason::kNotIpv4},
      {"bad ip checksum",
       PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Udp(1, 2).BadIpChecksum().Build(),
       DropReason::kBadIpChecksum},
      {"cut inside the IP header", std::vector<uint8_t>(good.begin(), good.begin() + 14 + 10),
       DropReason::kTruncatedIpv4},
      {"frame cut in the UDP header", std::vector<uint8_t>(good.begin(), good.begin() + 14 + 24),
       DropReason::kBadTotalLength},
      {"IP length ends in the UDP header",
       PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Udp(1, 2).TotalLengthOverride(24).Build(),
       DropReason::kTruncatedUdp},
      {"total length past frame",
       PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Udp(1, 2).TotalLengthOverride(200).Build(),
       DropReason::kBadTotalLength},
  };
  for (const BadFrame& c : cases) {
    Output out = Send(kC1, c.frame);
    EXPECT_EQ(out.action, Action::kDrop) << c.description;
    EXPECT_EQ(out.reason, c.reason) << c.description << ": got " << DropReasonName(out.reason);
  }
}

}  // namespace
}  // namespace natgw::nat::testing
