// ICMP errors (RFC 5508), time exceeded at TTL 1 and IPv4 fragments, with one and two workers.
#include <rte_byteorder.h>
#include <rte_ip.h>

#include <cstring>

#include "lib/net/verify.h"
#include "tests/nat/engine_fixture.h"

namespace natgw::nat::testing {
namespace {

using net::PacketBuilder;

// The IPv4 packet quoted in an ICMP error output frame.
std::vector<uint8_t> Quoted(const Output& o) {
  const uint8_t* inner = o.l4() + 8;
  const uint8_t* end = o.frame.data() + o.info.l3_offset + o.info.ip_len;
  return std::vector<uint8_t>(inner, end);
}
uint32_t At32(const std::vector<uint8_t>& v, size_t off) {
  uint32_t x;
  std::memcpy(&x, v.data() + off, 4);
  return x;
}
// A 1,000-byte UDP datagram from `pod` of island 1 to 198.51.100.9, in three fragments.
std::vector<std::vector<uint8_t>> Datagram(const char* pod, uint16_t ip_id) {
  return PacketBuilder().Ipv4(pod, "198.51.100.9").Id(ip_id).Udp(7000, 7001).PayloadSize(1000)
      .BuildFragments(400);
}
uint16_t At16(const std::vector<uint8_t>& v, size_t off) {
  uint16_t x;
  std::memcpy(&x, v.data() + off, 2);
  return rte_be_to_cpu_16(x);
}

TEST_P(EngineTest, FragNeededFromOutsideRouterReachesThePodTranslated) {
  auto pod_pkt = PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").DontFragment().Udp(5000, 53)
                     .PayloadSize(100);
  Output out = Send(kC1, pod_pkt.Build());
  ASSERT_EQ(out.action, Action::kToOutside);
  // A router in the flat network answers with "fragmentation needed", quoting what it got.
  std::vector<uint8_t> quoted(out.frame.begin() + out.info.l3_offset, out.frame.end());
  Output err =
      Send(kOut, PacketBuilder()
                     .Ipv4("198.51.100.1", net::FormatIp(out.src()).c_str())
                     .IcmpError(net::kIcmpDestUnreachable, net::kIcmpFragNeeded, quoted, 576)
                     .Build());
  ASSERT_EQ(err.action, Action::kToInside);
  EXPECT_EQ(err.island, 1);
  EXPECT_EQ(err.src(), Ip("198.51.100.1"));  // the reporting router stays visible
  EXPECT_EQ(err.dst(), Ip("10.0.0.9"));
  std::vector<uint8_t> inner = Quoted(err);
  EXPECT_EQ(At32(inner, 12), Ip("10.0.0.9"));       // quoted source restored to the pod
  EXPECT_EQ(At32(inner, 16), Ip("198.51.100.9"));
  EXPECT_EQ(At16(inner, 20), 5000);                  // and its port
  EXPECT_EQ(At16(inner, 22), 53);
  EXPECT_TRUE(net::VerifyIpChecksums(inner.data(), inner.size()).ok());
  EXPECT_EQ(Events(Event::kIcmpErrorsTranslated), 1u);
  EXPECT_EQ(Events(Event::kSessionsCreated), 2u);  // binding + flow; the error created nothing
}

TEST_P(EngineTest, PortUnreachableFromPodGoesOutWithItsExternalAddress) {
  Output in = Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "203.0.113.5").Udp(4444, 9).Build());
  ASSERT_EQ(in.action, Action::kToInside);
  std::vector<uint8_t> quoted(in.frame.begin() + in.info.l3_offset, in.frame.end());
  Output err = Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.50")
                             .IcmpError(net::kIcmpDestUnreachable, 3, quoted).Build());
  ASSERT_EQ(err.action, Action::kToOutside);
  EXPECT_EQ(err.src(), Ip("203.0.113.5"));
  EXPECT_EQ(err.dst(), Ip("198.51.100.50"));
  std::vector<uint8_t> inner = Quoted(err);
  EXPECT_EQ(At32(inner, 12), Ip("198.51.100.50"));
  EXPECT_EQ(At32(inner, 16), Ip("203.0.113.5"));
}

TEST_P(EngineTest, IcmpErrorQuotingAnEchoTranslatesTheIdentifier) {
  Output out =
      Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").IcmpEcho(true, 321, 1).Build());
  ASSERT_EQ(out.action, Action::kToOutside);
  std::vector<uint8_t> quoted(out.frame.begin() + out.info.l3_offset, out.frame.end());
  Output err = Send(kOut, PacketBuilder().Ipv4("198.51.100.1", net::FormatIp(out.src()).c_str())
                              .IcmpError(net::kIcmpTimeExceeded, 0, quoted).Build());
  ASSERT_EQ(err.action, Action::kToInside);
  std::vector<uint8_t> inner = Quoted(err);
  EXPECT_EQ(At16(inner, 20 + 4), 321);
}

TEST_P(EngineTest, IcmpErrorWithoutSessionIsDropped) {
  auto quoted = PacketBuilder().Ipv4("192.0.2.16", "198.51.100.9").Udp(40000, 53).BuildIp();
  Output err = Send(kOut, PacketBuilder().Ipv4("198.51.100.1", "192.0.2.16")
                              .IcmpError(net::kIcmpDestUnreachable, 1, quoted).Build());
  EXPECT_EQ(err.reason, DropReason::kIcmpErrorNoSession);
  Output junk = Send(kOut, PacketBuilder().Ipv4("198.51.100.1", "192.0.2.16")
                               .IcmpError(net::kIcmpDestUnreachable, 1, {0x45, 0, 0}).Build());
  EXPECT_EQ(junk.reason, DropReason::kIcmpErrorMalformed);
}

TEST_P(EngineTest, IcmpErrorWithABadChecksumIsDroppedNotMadeValid) {
  Output out = Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Udp(5000, 53).Build());
  ASSERT_EQ(out.action, Action::kToOutside);
  std::vector<uint8_t> quoted(out.frame.begin() + out.info.l3_offset, out.frame.end());
  Output err = Send(kOut, PacketBuilder().Ipv4("198.51.100.1", net::FormatIp(out.src()).c_str())
                              .IcmpError(net::kIcmpDestUnreachable, 3, quoted).BadL4Checksum()
                              .Build());
  EXPECT_EQ(err.reason, DropReason::kBadIcmpChecksum);
  EXPECT_EQ(Drops(DropReason::kBadIcmpChecksum), 1u);
  EXPECT_EQ(Events(Event::kIcmpErrorsTranslated), 0u);
}

TEST_P(EngineTest, IcmpErrorsAboutSessionlessProtocolsFollowTheOneToOneMapping) {
  // GRE (47) from pod A (1:1 203.0.113.5) goes out statelessly; a router's error about it comes
  // back to the pod, quoting what the pod sent.
  Output gre = Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Proto(47)
                             .PayloadSize(100).Build());
  ASSERT_EQ(gre.action, Action::kToOutside);
  ASSERT_EQ(gre.src(), Ip("203.0.113.5"));
  std::vector<uint8_t> quoted(gre.frame.begin() + gre.info.l3_offset, gre.frame.end());
  Output err = Send(kOut, PacketBuilder().Ipv4("198.51.100.1", "203.0.113.5")
                              .IcmpError(net::kIcmpDestUnreachable, net::kIcmpFragNeeded, quoted,
                                         1400)
                              .Build());
  ASSERT_EQ(err.action, Action::kToInside);
  EXPECT_EQ(err.island, 1);
  EXPECT_EQ(err.src(), Ip("198.51.100.1"));
  EXPECT_EQ(err.dst(), Ip("10.0.0.5"));
  std::vector<uint8_t> inner = Quoted(err);
  EXPECT_EQ(At32(inner, 12), Ip("10.0.0.5"));
  EXPECT_EQ(rte_raw_cksum(inner.data(), 20), 0xffff);

  // The other way: the pod says protocol unreachable about GRE it received.
  Output in = Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "203.0.113.5").Proto(47)
                             .PayloadSize(40).Build());
  ASSERT_EQ(in.action, Action::kToInside);
  std::vector<uint8_t> got(in.frame.begin() + in.info.l3_offset, in.frame.end());
  Output unreach = Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.50")
                                 .IcmpError(net::kIcmpDestUnreachable, 2, got).Build());
  ASSERT_EQ(unreach.action, Action::kToOutside);
  EXPECT_EQ(unreach.src(), Ip("203.0.113.5"));
  EXPECT_EQ(unreach.dst(), Ip("198.51.100.50"));
  EXPECT_EQ(At32(Quoted(unreach), 16), Ip("203.0.113.5"));

  // A pod without a 1:1 mapping never sent such a packet out: nothing to translate by.
  auto bogus = PacketBuilder().Ipv4("192.0.2.16", "198.51.100.9").Proto(47).BuildIp();
  EXPECT_EQ(Send(kOut, PacketBuilder().Ipv4("198.51.100.1", "192.0.2.16")
                           .IcmpError(net::kIcmpDestUnreachable, 4, bogus).Build()).reason,
            DropReason::kIcmpErrorNoSession);
}

TEST_P(EngineTest, IcmpErrorOnAHairpinPathReachesTheFirstPodTranslatedTwice) {
  // Pod A (c1 10.0.0.5) to pod G (c2 10.0.0.5) by G's unique address, through one gateway; G
  // answers port unreachable.
  auto sent = PacketBuilder().Ipv4("10.0.0.5", "198.51.100.7").Udp(41000, 9).PayloadSize(20);
  Output out = Send(kC1, sent.Build());
  ASSERT_EQ(out.action, Action::kToInside);
  ASSERT_EQ(out.island, 2);
  std::vector<uint8_t> quoted(out.frame.begin() + out.info.l3_offset, out.frame.end());
  Output err = Send(kC2, PacketBuilder().Ipv4("10.0.0.5", "203.0.113.5")
                             .IcmpError(net::kIcmpDestUnreachable, 3, quoted).Build());
  ASSERT_EQ(err.action, Action::kToInside);
  EXPECT_EQ(err.island, 1);
  EXPECT_EQ(err.src(), Ip("198.51.100.7"));  // G's unique address
  EXPECT_EQ(err.dst(), Ip("10.0.0.5"));
  std::vector<uint8_t> inner = Quoted(err);
  EXPECT_EQ(At32(inner, 12), Ip("10.0.0.5"));  // what A sent
  EXPECT_EQ(At32(inner, 16), Ip("198.51.100.7"));
  EXPECT_EQ(At16(inner, 20), 41000);
  EXPECT_EQ(Events(Event::kIcmpErrorsTranslated), 2u);
}

TEST_P(EngineTest, TtlOneGetsTimeExceededFromTheGateway) {
  auto pkt =
      PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Ttl(1).Udp(33434, 33434).PayloadSize(32);
  Output te = Send(kC1, pkt.Build());
  ASSERT_EQ(te.action, Action::kToInside);
  EXPECT_EQ(te.island, 1);
  EXPECT_EQ(te.src(), Ip("10.0.0.1"));
  EXPECT_EQ(te.dst(), Ip("10.0.0.5"));
  EXPECT_EQ(te.l4()[0], net::kIcmpTimeExceeded);
  std::vector<uint8_t> inner = Quoted(te);
  EXPECT_EQ(inner, pkt.BuildIp());  // the original, untranslated
  EXPECT_EQ(Drops(DropReason::kTtlExceeded), 1u);
  EXPECT_EQ(Events(Event::kIcmpTimeExceededSent), 1u);
  EXPECT_EQ(Events(Event::kSessionsCreated), 0u);

  Output from_out = Send(kOut, PacketBuilder().Ipv4("198.51.100.9", "203.0.113.5").Ttl(1)
                                   .Udp(33434, 33434).Build());
  ASSERT_EQ(from_out.action, Action::kToOutside);
  EXPECT_EQ(from_out.src(), Ip("192.0.2.1"));
}

TEST_P(EngineTest, TooBigForTheOutsideGivesThePodFragNeededAboutWhatItSent) {
  auto pod_pkt = PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").DontFragment().Udp(5000, 53)
                     .PayloadSize(1400);
  Output out = Send(kC1, pod_pkt.Build());
  ASSERT_EQ(out.action, Action::kToOutside);
  Output err = TooBig(kC1, kOut, out, 1280);
  ASSERT_EQ(err.action, Action::kToInside);
  EXPECT_EQ(err.island, 1);
  EXPECT_EQ(err.src(), Ip("192.0.2.1"));  // natgw's outside address, where the limit is
  EXPECT_EQ(err.dst(), Ip("10.0.0.9"));
  EXPECT_EQ(err.l4()[0], net::kIcmpDestUnreachable);
  EXPECT_EQ(err.l4()[1], net::kIcmpFragNeeded);
  EXPECT_EQ(rte_be_to_cpu_16(*reinterpret_cast<const uint16_t*>(err.l4() + 6)), 1280);
  EXPECT_LE(err.info.ip_len, 576u);
  std::vector<uint8_t> inner = Quoted(err);
  std::vector<uint8_t> sent = pod_pkt.BuildIp();
  EXPECT_EQ(At32(inner, 12), Ip("10.0.0.9"));  // what the pod sent, untranslated
  EXPECT_EQ(At16(inner, 20), 5000);
  EXPECT_EQ(At16(inner, 2), sent.size());
  EXPECT_EQ(rte_raw_cksum(inner.data(), 20), 0xffff);  // its IP header checksum is valid
  EXPECT_EQ(Events(Event::kIcmpFragNeededSent), 1u);

  // Without DF the frame is not answered (the caller drops it as mtu_exceeded).
  Output frag_ok = Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Udp(5001, 53)
                                 .PayloadSize(1400).Build());
  ASSERT_EQ(frag_ok.action, Action::kToOutside);
  EXPECT_EQ(TooBig(kC1, kOut, frag_ok, 1280).action, Action::kDrop);
  EXPECT_EQ(Events(Event::kIcmpFragNeededSent), 1u);
}

TEST_P(EngineTest, TooBigForTheIslandGivesTheRemoteFragNeededFromTheGateway) {
  auto remote_pkt = PacketBuilder().Ipv4("198.51.100.50", "203.0.113.5").DontFragment()
                        .Tcp(443, 40000, net::kTcpAck).PayloadSize(1400);
  Output in = Send(kOut, remote_pkt.Build());
  ASSERT_EQ(in.action, Action::kToInside);
  Output err = TooBig(kOut, kC1, in, 1000);
  ASSERT_EQ(err.action, Action::kToOutside);
  EXPECT_EQ(err.src(), Ip("192.0.2.1"));
  EXPECT_EQ(err.dst(), Ip("198.51.100.50"));
  EXPECT_EQ(rte_be_to_cpu_16(*reinterpret_cast<const uint16_t*>(err.l4() + 6)), 1000);
  std::vector<uint8_t> inner = Quoted(err);
  EXPECT_EQ(At32(inner, 12), Ip("198.51.100.50"));
  EXPECT_EQ(At32(inner, 16), Ip("203.0.113.5"));  // as the remote sent it
  EXPECT_EQ(At16(inner, 22), 40000);
}

TEST_P(EngineTest, GeneratedIcmpErrorsAreRateLimitedPerWorker) {
  auto pkt = PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Ttl(1).Udp(33434, 33434).Build();
  uint32_t sent = 0;
  for (uint32_t i = 0; i < Worker::kIcmpErrorsPerSecond + 5; ++i) {
    sent += Send(kC1, pkt).action == Action::kToInside;
  }
  EXPECT_EQ(sent, Worker::kIcmpErrorsPerSecond);
  EXPECT_EQ(Events(Event::kIcmpErrorsRateLimited), 5u);
  EXPECT_EQ(Drops(DropReason::kTtlExceeded), Worker::kIcmpErrorsPerSecond + 5u);
  ++now_s_;  // a new second
  EXPECT_EQ(Send(kC1, pkt).action, Action::kToInside);
}

TEST_P(EngineTest, EchoToTheGatewayIsAnsweredEvenAtTtlOne) {
  Output reply = Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "10.0.0.1").Ttl(1)
                               .IcmpEcho(true, 9, 1).Build());
  ASSERT_EQ(reply.action, Action::kToInside);
  EXPECT_EQ(reply.l4()[0], net::kIcmpEchoReply);
  EXPECT_EQ(reply.src(), Ip("10.0.0.1"));
  EXPECT_EQ(Drops(DropReason::kTtlExceeded), 0u);
  // Nothing else to the gateway's address escapes the TTL check (it would leave with TTL 0 or
  // 255): not another protocol, not an ICMP error, not a fragmented echo.
  Output gre = Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "10.0.0.1").Ttl(1).Proto(47)
                             .PayloadSize(8).Build());
  ASSERT_EQ(gre.action, Action::kToInside);
  EXPECT_EQ(gre.l4()[0], net::kIcmpTimeExceeded);
  Output out = Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Udp(5000, 53).Build());
  ASSERT_EQ(out.action, Action::kToOutside);
  std::vector<uint8_t> quoted(out.frame.begin() + out.info.l3_offset, out.frame.end());
  Output err = Send(kOut, PacketBuilder().Ipv4("198.51.100.1", "192.0.2.1").Ttl(0)
                              .IcmpError(net::kIcmpDestUnreachable, 3, quoted).Build());
  EXPECT_EQ(err.reason, DropReason::kTtlExceeded);
  auto frags = PacketBuilder().Ipv4("10.0.0.5", "10.0.0.1").Ttl(1).IcmpEcho(true, 9, 2)
                   .PayloadSize(600).BuildFragments(296);
  for (const auto& f : frags) EXPECT_NE(Send(kC1, f).action, Action::kToOutside);
  EXPECT_EQ(Drops(DropReason::kTtlExceeded), 2u + frags.size());
  EXPECT_EQ(Events(Event::kIcmpErrorsTranslated), 0u);
}

TEST_P(EngineTest, FragmentedIcmpErrorsAreNotTranslated) {
  Output out = Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Udp(5000, 53)
                             .PayloadSize(400).Build());
  ASSERT_EQ(out.action, Action::kToOutside);
  std::vector<uint8_t> quoted(out.frame.begin() + out.info.l3_offset, out.frame.end());
  auto err = PacketBuilder().Ipv4("198.51.100.1", net::FormatIp(out.src()).c_str())
                 .IcmpError(net::kIcmpDestUnreachable, 3, quoted).BuildFragments(200);
  ASSERT_GE(err.size(), 2u);
  EXPECT_EQ(Send(kOut, err[0]).reason, DropReason::kIcmpErrorMalformed);
  EXPECT_EQ(Drops(DropReason::kBadIcmpChecksum), 0u);
}

TEST_P(EngineTest, FragmentsFollowTheFirstFragment) {
  auto frags = Datagram("10.0.0.5", 4242);
  ASSERT_EQ(frags.size(), 3u);
  for (const auto& f : frags) {
    Output o = Send(kC1, f);
    ASSERT_EQ(o.action, Action::kToOutside);
    EXPECT_EQ(o.src(), Ip("203.0.113.5"));
    EXPECT_TRUE(net::VerifyIpChecksums(o.frame.data() + o.info.l3_offset, o.info.ip_len).ok());
  }
  EXPECT_EQ(Events(Event::kFragmentsTranslated), 2u);
}

TEST_P(EngineTest, FragmentsOfOneBurstAllLeaveTranslatedWithoutBeingHeld) {
  // Later fragments of a burst are handled after its first fragments, whatever their order in
  // the burst: a whole datagram in one burst needs no hold slot.
  auto frags = Datagram("10.0.0.5", 4243);
  ASSERT_EQ(frags.size(), 3u);
  auto reversed = Datagram("10.0.0.5", 4244);
  std::swap(reversed[0], reversed[2]);
  for (const auto& burst : {frags, reversed}) {
    std::vector<Output> out = SendBurst(kC1, burst);
    ASSERT_EQ(out.size(), 3u);  // nothing held, nothing released
    for (const Output& o : out) {
      ASSERT_EQ(o.action, Action::kToOutside);
      EXPECT_EQ(o.src(), Ip("203.0.113.5"));
      EXPECT_EQ(o.dst(), Ip("198.51.100.9"));
      EXPECT_TRUE(net::VerifyIpChecksums(o.frame.data() + o.info.l3_offset, o.info.ip_len).ok());
    }
  }
  EXPECT_EQ(Events(Event::kFragmentsHeld), 0u);
  EXPECT_EQ(Events(Event::kFragmentsTranslated), 4u);
}

TEST_P(EngineTest, WithoutAHoldBufferInOrderFragmentsStillPass) {
  EngineConfig ec = engine_->config();
  ec.fragment_hold = 0;
  Restart(ec, TwoIslandConfig());
  auto frags = Datagram("10.0.0.9", 91);
  std::vector<Output> out = SendBurst(kC1, frags);
  ASSERT_EQ(out.size(), 3u);
  for (const Output& o : out) EXPECT_EQ(o.action, Action::kToOutside);
  // Out of order across bursts there is nowhere to keep it: dropped and counted.
  auto late = Datagram("10.0.0.9", 92);
  EXPECT_EQ(Send(kC1, late[1]).reason, DropReason::kFragmentHoldFull);
  EXPECT_EQ(Drops(DropReason::kFragmentHoldFull), 1u);
}

TEST_P(EngineTest, AFullHoldBufferDoesNotStopWholeDatagrams) {
  // Bogus later fragments whose first never comes fill the hold buffer...
  const uint32_t hold = engine_->config().fragment_hold;
  for (uint16_t id = 0; id < hold; ++id) {
    auto f = PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Id(id).Fragment(800, true)
                 .Udp(1, 2).PayloadSize(64).Build();
    ASSERT_EQ(Send(kC1, f).action, Action::kHeld);
  }
  // ... and datagrams that arrive whole in a burst still pass.
  auto frags = Datagram("10.0.0.9", 5000);
  std::vector<Output> out = SendBurst(kC1, frags);
  ASSERT_EQ(out.size(), 3u);
  for (const Output& o : out) EXPECT_EQ(o.action, Action::kToOutside);
  EXPECT_EQ(Drops(DropReason::kFragmentHoldFull), 0u);
}

TEST_P(EngineTest, HeldFragmentsAreReleasedEvenWhenNoFragmentStateIsFree) {
  EngineConfig ec = engine_->config();
  ec.fragment_states = 1;
  Restart(ec, TwoIslandConfig());
  // Datagram A takes the only state slot (its later fragments have not come yet).
  auto a = Datagram("10.0.0.9", 300);
  ASSERT_EQ(Send(kC1, a[0]).action, Action::kToOutside);
  // Datagram B: a later fragment first, held; then its first, for which no state is free.
  auto b = Datagram("10.0.0.9", 301);
  ASSERT_EQ(Send(kC1, b[2]).action, Action::kHeld);
  std::vector<Output> released;
  Output first = Send(kC1, b[0], &released);
  ASSERT_EQ(first.action, Action::kToOutside);
  EXPECT_EQ(Events(Event::kFragmentStatesFull), 1u);
  ASSERT_EQ(released.size(), 1u);  // not left to time out
  EXPECT_EQ(released[0].action, Action::kToOutside);
  EXPECT_EQ(released[0].src(), first.src());
  EXPECT_TRUE(net::VerifyIpChecksums(released[0].frame.data() + released[0].info.l3_offset,
                                     released[0].info.ip_len).ok());
  // A's later fragments still find A's state.
  EXPECT_EQ(Send(kC1, a[1]).src(), first.src());
}

TEST_P(EngineTest, OutOfOrderFragmentsAreHeldUntilTheFirstArrives) {
  auto frags = Datagram("10.0.0.9", 77);
  Output held = Send(kC1, frags[2]);
  EXPECT_EQ(held.action, Action::kHeld);
  EXPECT_EQ(Events(Event::kFragmentsHeld), 1u);
  std::vector<Output> released;
  Output first = Send(kC1, frags[0], &released);
  ASSERT_EQ(first.action, Action::kToOutside);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].action, Action::kToOutside);
  EXPECT_EQ(released[0].src(), first.src());
  EXPECT_EQ(released[0].dst(), Ip("198.51.100.9"));
  Output middle = Send(kC1, frags[1]);
  EXPECT_EQ(middle.src(), first.src());
}

TEST_P(EngineTest, HeldFragmentsTimeOutAndAreCounted) {
  auto frags = Datagram("10.0.0.9", 78);
  EXPECT_EQ(Send(kC1, frags[1]).action, Action::kHeld);
  Maintain(now_s_ + 10);
  EXPECT_EQ(Drops(DropReason::kFragmentTimeout), 1u);
}

TEST_P(EngineTest, FragmentFloodIsBoundedAndCounted) {
  // Later fragments of datagrams whose first fragment never comes: at most fragment_hold are
  // kept, the rest are dropped and counted.
  const uint32_t hold = engine_->config().fragment_hold;
  uint32_t held = 0, dropped = 0;
  for (uint16_t id = 0; id < 100; ++id) {
    auto f = PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Id(id).Fragment(800, true)
                 .Udp(1, 2).PayloadSize(64).Build();
    Output o = Send(kC1, f);
    held += o.action == Action::kHeld;
    dropped += o.reason == DropReason::kFragmentHoldFull;
  }
  EXPECT_EQ(held, hold);
  EXPECT_EQ(dropped, 100 - hold);
  EXPECT_EQ(Drops(DropReason::kFragmentHoldFull), 100 - hold);
}

}  // namespace
}  // namespace natgw::nat::testing
