#include "lib/net/builder.h"

#include <rte_mbuf.h>

#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/net/parse.h"
#include "lib/net/verify.h"
#include "tests/eal_env.h"

namespace natgw::net {
namespace {

using Bytes = std::vector<uint8_t>;

uint16_t Be16(const Bytes& b, size_t off) {
  return static_cast<uint16_t>(b[off] << 8 | b[off + 1]);
}
uint32_t Be32(const Bytes& b, size_t off) {
  return uint32_t{Be16(b, off)} << 16 | Be16(b, off + 2);
}
uint32_t Raw32(const Bytes& b, size_t off) {
  uint32_t v;
  std::memcpy(&v, &b[off], 4);
  return v;
}

TEST(FormatParseIpTest, RoundTrip) {
  EXPECT_EQ(ParseIp("192.0.2.1"), Ip4(192, 0, 2, 1));
  EXPECT_EQ(ParseIp("255.255.255.255"), 0xffffffffu);
  EXPECT_EQ(FormatIp(Ip4(198, 51, 100, 7)), "198.51.100.7");
  EXPECT_EQ(FormatIp(ParseIp("10.0.0.254")), "10.0.0.254");
  EXPECT_EQ(FormatIp(0), "0.0.0.0");
}

TEST(FormatParseIpTest, BadInputGivesZero) {
  for (const char* bad : {"", "1.2.3", "256.1.1.1", "1.2.3.4.5", "a.b.c.d", " 1.2.3.4"}) {
    EXPECT_EQ(ParseIp(bad), 0u) << bad;
  }
  EXPECT_EQ(ParseIp(nullptr), 0u);
}

TEST(PacketBuilderTest, Defaults) {
  const Bytes f = PacketBuilder().Build();
  ASSERT_EQ(f.size(), 14u + 20u);
  EXPECT_EQ(Bytes(f.begin(), f.begin() + 6), (Bytes{2, 0, 0, 0, 0, 2}));  // dst first
  EXPECT_EQ(Bytes(f.begin() + 6, f.begin() + 12), (Bytes{2, 0, 0, 0, 0, 1}));
  EXPECT_EQ(Be16(f, 12), RTE_ETHER_TYPE_IPV4);
  EXPECT_EQ(f[14], 0x45);
  EXPECT_EQ(Be16(f, 16), 20);  // total length
  EXPECT_EQ(f[22], 64);        // TTL
  EXPECT_EQ(f[23], 253);       // protocol
  EXPECT_EQ(Raw32(f, 26), Ip4(10, 0, 0, 1));
  EXPECT_EQ(Raw32(f, 30), Ip4(10, 0, 0, 2));
  EXPECT_TRUE(VerifyChecksums(f.data(), f.size()).ok());
}

TEST(PacketBuilderTest, EthAndVlanFields) {
  rte_ether_addr src{{0xaa, 1, 2, 3, 4, 5}};
  rte_ether_addr dst{{0xbb, 6, 7, 8, 9, 10}};
  const Bytes f = PacketBuilder().Eth(src, dst).Vlan(0xe00a).Udp(1, 2).Build();
  EXPECT_EQ(f[0], 0xbb);
  EXPECT_EQ(f[5], 10);
  EXPECT_EQ(f[6], 0xaa);
  EXPECT_EQ(Be16(f, 12), RTE_ETHER_TYPE_VLAN);
  EXPECT_EQ(Be16(f, 14), 0xe00a);
  EXPECT_EQ(Be16(f, 16), RTE_ETHER_TYPE_IPV4);
  const Bytes g =
      PacketBuilder().Eth(MacAddr{1, 2, 3, 4, 5, 6}, MacAddr{7, 8, 9, 10, 11, 12}).Build();
  EXPECT_EQ(g[0], 7);
  EXPECT_EQ(g[6], 1);
}

TEST(PacketBuilderTest, IpHeaderFields) {
  const Bytes ip = PacketBuilder()
                       .Ipv4("192.0.2.1", "203.0.113.9")
                       .Ttl(1)
                       .Id(0xbeef)
                       .Tos(0xb8)
                       .DontFragment()
                       .Proto(47)
                       .Payload("abc")
                       .BuildIp();
  ASSERT_EQ(ip.size(), 23u);
  EXPECT_EQ(ip[1], 0xb8);
  EXPECT_EQ(Be16(ip, 2), 23);
  EXPECT_EQ(Be16(ip, 4), 0xbeef);
  EXPECT_EQ(Be16(ip, 6), kIpFlagDf);
  EXPECT_EQ(ip[8], 1);
  EXPECT_EQ(ip[9], 47);
  EXPECT_EQ(Raw32(ip, 12), Ip4(192, 0, 2, 1));
  EXPECT_EQ(Raw32(ip, 16), Ip4(203, 0, 113, 9));
  EXPECT_EQ(std::string(ip.begin() + 20, ip.end()), "abc");
  EXPECT_TRUE(VerifyIpChecksums(ip.data(), ip.size()).ok());
}

TEST(PacketBuilderTest, FragmentFieldAndLaterFragmentHasNoTransportHeader) {
  const Bytes first = PacketBuilder().Udp(1, 2).PayloadSize(8).Fragment(0, true).BuildIp();
  EXPECT_EQ(Be16(first, 6), kIpFlagMf);
  EXPECT_EQ(first.size(), 20u + 8u + 8u);
  const Bytes later = PacketBuilder().Udp(1, 2).PayloadSize(8).Fragment(1480, false).BuildIp();
  EXPECT_EQ(Be16(later, 6), 1480 / 8);
  EXPECT_EQ(later.size(), 20u + 8u);  // payload only
  EXPECT_EQ(later[9], kProtoUdp);
}

TEST(PacketBuilderTest, IpOptionsArePadded) {
  const Bytes ip = PacketBuilder().IpOptions({0x01, 0x01, 0x01, 0x01, 0x01}).BuildIp();
  EXPECT_EQ(ip[0], 0x47);
  EXPECT_EQ(ip.size(), 28u);
  EXPECT_EQ(Bytes(ip.begin() + 20, ip.end()), (Bytes{1, 1, 1, 1, 1, 0, 0, 0}));
  EXPECT_TRUE(VerifyIpChecksums(ip.data(), ip.size()).ok());
}

TEST(PacketBuilderTest, TcpFields) {
  const Bytes ip =
      PacketBuilder().Tcp(40000, 443, kTcpSyn | kTcpAck, 0x01020304, 0xa0b0c0d0).BuildIp();
  ASSERT_EQ(ip.size(), 40u);
  EXPECT_EQ(Be16(ip, 20), 40000);
  EXPECT_EQ(Be16(ip, 22), 443);
  EXPECT_EQ(Be32(ip, 24), 0x01020304u);
  EXPECT_EQ(Be32(ip, 28), 0xa0b0c0d0u);
  EXPECT_EQ(ip[32], 0x50);
  EXPECT_EQ(ip[33], kTcpSyn | kTcpAck);
  EXPECT_TRUE(VerifyIpChecksums(ip.data(), ip.size()).ok());
}

TEST(PacketBuilderTest, UdpFieldsAndZeroChecksum) {
  const Bytes ip = PacketBuilder().Udp(5353, 53).Payload("hello").BuildIp();
  EXPECT_EQ(Be16(ip, 20), 5353);
  EXPECT_EQ(Be16(ip, 22), 53);
  EXPECT_EQ(Be16(ip, 24), 13);
  EXPECT_NE(Be16(ip, 26), 0);
  const Bytes zero = PacketBuilder().Udp(5353, 53).Payload("hello").ZeroUdpChecksum().BuildIp();
  EXPECT_EQ(Be16(zero, 26), 0);
  EXPECT_TRUE(VerifyIpChecksums(zero.data(), zero.size()).ok());
}

TEST(PacketBuilderTest, IcmpEchoFields) {
  const Bytes req = PacketBuilder().IcmpEcho(true, 0x1234, 7).PayloadSize(56).BuildIp();
  EXPECT_EQ(req[9], kProtoIcmp);
  EXPECT_EQ(req[20], kIcmpEchoRequest);
  EXPECT_EQ(req[21], 0);
  EXPECT_EQ(Be16(req, 24), 0x1234);
  EXPECT_EQ(Be16(req, 26), 7);
  EXPECT_EQ(req.size(), 20u + 8u + 56u);
  const Bytes reply = PacketBuilder().IcmpEcho(false, 1, 1).BuildIp();
  EXPECT_EQ(reply[20], kIcmpEchoReply);
  EXPECT_TRUE(VerifyIpChecksums(req.data(), req.size()).ok());
}

TEST(PacketBuilderTest, IcmpFragNeededQuotesInnerPacket) {
  const Bytes inner = PacketBuilder().Ipv4("10.0.0.5", "192.0.2.1").Tcp(1, 2, kTcpAck).BuildIp();
  const Bytes ip = PacketBuilder()
                       .Ipv4("192.0.2.254", "10.0.0.5")
                       .IcmpError(kIcmpDestUnreachable, kIcmpFragNeeded, inner, 1400)
                       .BuildIp();
  EXPECT_EQ(ip[20], kIcmpDestUnreachable);
  EXPECT_EQ(ip[21], kIcmpFragNeeded);
  EXPECT_EQ(Be16(ip, 24), 0);
  EXPECT_EQ(Be16(ip, 26), 1400);
  EXPECT_EQ(Bytes(ip.begin() + 28, ip.end()), inner);
  EXPECT_TRUE(VerifyIpChecksums(ip.data(), ip.size()).ok());
}

TEST(PacketBuilderTest, TrailerAndTotalLengthOverride) {
  const Bytes f = PacketBuilder().Udp(1, 2).Trailer(5).Build();
  ASSERT_EQ(f.size(), 14u + 28u + 5u);
  EXPECT_EQ(Be16(f, 16), 28);
  EXPECT_EQ(f.back(), 0xee);
  const Bytes o = PacketBuilder().Udp(1, 2).TotalLengthOverride(1000).BuildIp();
  EXPECT_EQ(Be16(o, 2), 1000);
  EXPECT_EQ(o.size(), 28u);
}

TEST(PacketBuilderTest, BadChecksumModifiers) {
  PacketInfo info;
  const Bytes bad_ip = PacketBuilder().Udp(1, 2).BadIpChecksum().Build();
  EXPECT_EQ(ParseFrame(bad_ip.data(), static_cast<uint32_t>(bad_ip.size()), &info),
            ParseError::kBadIpChecksum);
  for (auto b : {PacketBuilder().Udp(1, 2), PacketBuilder().Tcp(1, 2, kTcpRst),
                 PacketBuilder().IcmpEcho(true, 1, 1)}) {
    const Bytes f = b.PayloadSize(3).BadL4Checksum().Build();
    ASSERT_EQ(ParseFrame(f.data(), static_cast<uint32_t>(f.size()), &info), ParseError::kOk);
    EXPECT_FALSE(VerifyChecksums(f.data(), f.size()).ok()) << int{info.proto};
  }
}

// Table of builders: each must survive ParseFrame with the advertised fields and checksums.
struct RoundTripCase {
  const char* name;
  PacketBuilder builder;
  uint8_t proto;
  uint16_t l4_len;
  uint16_t sport;  // read back from the transport header when non-zero
};
void PrintTo(const RoundTripCase& c, std::ostream* os) { *os << c.name; }

class BuilderRoundTripTest : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(BuilderRoundTripTest, ParsesAndVerifies) {
  const RoundTripCase& c = GetParam();
  const Bytes f = c.builder.Build();
  PacketInfo info;
  ASSERT_EQ(ParseFrame(f.data(), static_cast<uint32_t>(f.size()), &info), ParseError::kOk);
  EXPECT_EQ(info.proto, c.proto);
  EXPECT_EQ(info.l4_len, c.l4_len);
  EXPECT_EQ(info.l3_offset + info.ip_len, static_cast<int>(f.size()));
  if (c.sport != 0) {
    EXPECT_EQ(Be16(f, info.l4_offset), c.sport);
  }
  EXPECT_TRUE(VerifyChecksums(f.data(), f.size()).ok()) << VerifyChecksums(f.data(), f.size());
  EXPECT_EQ(c.builder.BuildIp(), Bytes(f.begin() + info.l3_offset, f.end()));
}

INSTANTIATE_TEST_SUITE_P(
    Table, BuilderRoundTripTest,
    ::testing::Values(
        RoundTripCase{"udp", PacketBuilder().Udp(4000, 53).Payload("q"), kProtoUdp, 9, 4000},
        RoundTripCase{"udp_odd_payload_vlan", PacketBuilder().Vlan(100).Udp(1, 2).PayloadSize(1471),
                      kProtoUdp, 1479, 1},
        RoundTripCase{"tcp_syn", PacketBuilder().Tcp(33000, 80, kTcpSyn), kProtoTcp, 20, 33000},
        RoundTripCase{"tcp_options_ip",
                      PacketBuilder().IpOptions({0x94, 4, 0, 0}).Tcp(9, 10, kTcpFin).PayloadSize(7),
                      kProtoTcp, 27, 9},
        RoundTripCase{"icmp_echo", PacketBuilder().IcmpEcho(true, 77, 1).PayloadSize(56),
                      kProtoIcmp, 64, 0},
        RoundTripCase{
            "icmp_time_exceeded_truncated_quote",
            PacketBuilder().IcmpError(kIcmpTimeExceeded, 0,
                                      [] {
                                        Bytes q =
                                            PacketBuilder().Udp(7, 8).PayloadSize(100).BuildIp();
                                        q.resize(28);
                                        return q;
                                      }()),
            kProtoIcmp, 36, 0},
        RoundTripCase{"raw_proto", PacketBuilder().Proto(132).PayloadSize(12), 132, 12, 0}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(PacketBuilderTest, BuildFragmentsReassemblesToTheDatagram) {
  const PacketBuilder b =
      PacketBuilder().Ipv4("10.0.0.5", "192.0.2.1").Id(42).Udp(4000, 4001).PayloadSize(3000);
  const Bytes whole = b.BuildIp();
  const auto frames = b.BuildFragments(1480);
  ASSERT_EQ(frames.size(), 3u);  // 3008 bytes of UDP: 1480 + 1480 + 48
  Bytes l4;
  for (size_t i = 0; i < frames.size(); ++i) {
    const Bytes& f = frames[i];
    PacketInfo info;
    ASSERT_EQ(ParseFrame(f.data(), static_cast<uint32_t>(f.size()), &info), ParseError::kOk);
    EXPECT_TRUE(info.is_fragment);
    EXPECT_EQ(info.is_later_fragment, i > 0);
    EXPECT_EQ(Be16(f, 14 + 4), 42);
    EXPECT_EQ((Be16(f, 14 + 6) & kIpOffsetMask) * 8u, l4.size());
    EXPECT_EQ((Be16(f, 14 + 6) & kIpFlagMf) != 0, i + 1 < frames.size());
    EXPECT_TRUE(VerifyChecksums(f.data(), f.size()).ok());
    l4.insert(l4.end(), f.begin() + info.l4_offset, f.end());
  }
  EXPECT_EQ(l4, Bytes(whole.begin() + 20, whole.end()));
  // The transport checksum covers the reassembled datagram.
  EXPECT_TRUE(VerifyIpChecksums(whole.data(), whole.size()).ok());
  EXPECT_EQ(b.BuildFragments(5000).size(), 1u);
  EXPECT_EQ(b.BuildFragments(3).size(), 3008u / 8u);
}

TEST(PacketBuilderTest, BuildMbufHoldsTheFrame) {
  const PacketBuilder b = PacketBuilder().Vlan(3).Tcp(1, 2, kTcpAck).PayloadSize(100);
  rte_mbuf* m = b.BuildMbuf(testing::TestMbufPool());
  ASSERT_NE(m, nullptr);
  const Bytes f = b.Build();
  ASSERT_EQ(rte_pktmbuf_pkt_len(m), f.size());
  ASSERT_EQ(rte_pktmbuf_data_len(m), f.size());
  EXPECT_EQ(std::memcmp(rte_pktmbuf_mtod(m, const uint8_t*), f.data(), f.size()), 0);
  rte_pktmbuf_free(m);
  EXPECT_EQ(PacketBuilder().PayloadSize(4000).BuildMbuf(testing::TestMbufPool()), nullptr);
}

}  // namespace
}  // namespace natgw::net
