#include "lib/net/parse.h"

#include <cstring>
#include <functional>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/net/builder.h"

namespace natgw::net {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr size_t kEth = 14;

// Parses from an exactly-sized heap copy so that AddressSanitizer catches any read past `len`.
ParseError Parse(const Bytes& frame, PacketInfo* info) {
  auto copy = std::make_unique<uint8_t[]>(frame.size());
  if (!frame.empty()) std::memcpy(copy.get(), frame.data(), frame.size());
  return ParseFrame(copy.get(), static_cast<uint32_t>(frame.size()), info);
}

ParseError ParseQuoted(const Bytes& ip, PacketInfo* info) {
  auto copy = std::make_unique<uint8_t[]>(ip.size());
  if (!ip.empty()) std::memcpy(copy.get(), ip.data(), ip.size());
  return ParseQuotedIpv4(copy.get(), static_cast<uint32_t>(ip.size()), info);
}

Bytes Truncate(Bytes b, size_t n) {
  b.resize(n);
  return b;
}

// Rewrites byte `off` of the frame's IPv4 header (at `l3`) and fixes the header checksum, so a
// test reaches the check after the checksum.
Bytes SetIpByte(Bytes b, size_t off, uint8_t v, size_t l3 = kEth) {
  b[l3 + off] = v;
  const size_t ihl = (b[l3] & 0x0f) * 4u;
  if (ihl >= 20 && l3 + ihl <= b.size()) {
    b[l3 + 10] = b[l3 + 11] = 0;
    // Recompute via the builder-independent RFC 1071 sum.
    uint32_t sum = 0;
    for (size_t i = 0; i < ihl; i += 2) sum += (uint32_t{b[l3 + i]} << 8) | b[l3 + i + 1];
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    b[l3 + 10] = static_cast<uint8_t>(~sum >> 8);
    b[l3 + 11] = static_cast<uint8_t>(~sum);
  }
  return b;
}

Bytes Udp(size_t payload = 0) {
  return PacketBuilder().Ipv4("10.0.0.5", "192.0.2.1").Udp(40000, 53).PayloadSize(payload).Build();
}
Bytes Tcp(size_t payload = 0) {
  return PacketBuilder()
      .Ipv4("10.0.0.5", "192.0.2.1")
      .Tcp(40000, 80, kTcpSyn)
      .PayloadSize(payload)
      .Build();
}

struct ErrorCase {
  const char* name;
  std::function<Bytes()> make;
  ParseError want;
};
void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

const ErrorCase kFrameCases[] = {
    {"ok_udp", [] { return Udp(10); }, ParseError::kOk},
    {"ok_tcp", [] { return Tcp(10); }, ParseError::kOk},
    {"ok_icmp_echo", [] { return PacketBuilder().IcmpEcho(true, 1, 1).Build(); }, ParseError::kOk},
    {"ok_gre_without_l4_checks", [] { return PacketBuilder().Proto(47).Build(); }, ParseError::kOk},
    {"empty_frame", [] { return Bytes{}; }, ParseError::kTruncatedEthernet},
    {"truncated_ethernet", [] { return Truncate(Udp(), 13); }, ParseError::kTruncatedEthernet},
    {"truncated_vlan", [] { return Truncate(PacketBuilder().Vlan(5).Udp(1, 2).Build(), 17); },
     ParseError::kTruncatedVlan},
    {"arp", [] { return PacketBuilder().EtherType(RTE_ETHER_TYPE_ARP).PayloadSize(28).Build(); },
     ParseError::kNotIpv4},
    {"ipv6_ethertype", [] { return PacketBuilder().EtherType(RTE_ETHER_TYPE_IPV6).Build(); },
     ParseError::kNotIpv4},
    {"vlan_arp", [] { return PacketBuilder().Vlan(7).EtherType(RTE_ETHER_TYPE_ARP).Build(); },
     ParseError::kNotIpv4},
    {"double_vlan_tag",
     [] { return PacketBuilder().Vlan(7).EtherType(RTE_ETHER_TYPE_VLAN).Udp(1, 2).Build(); },
     ParseError::kNotIpv4},
    {"truncated_ipv4", [] { return Truncate(Udp(), kEth + 19); }, ParseError::kTruncatedIpv4},
    {"truncated_ipv4_after_vlan",
     [] { return Truncate(PacketBuilder().Vlan(1).Udp(1, 2).Build(), 18 + 10); },
     ParseError::kTruncatedIpv4},
    {"ip_version_6", [] { return SetIpByte(Udp(), 0, 0x65); }, ParseError::kBadIpVersion},
    {"ihl_4", [] { return SetIpByte(Udp(), 0, 0x44); }, ParseError::kBadIhl},
    {"ihl_0", [] { return SetIpByte(Udp(), 0, 0x40); }, ParseError::kBadIhl},
    {"ihl_past_frame", [] { return SetIpByte(Udp(), 0, 0x4f); }, ParseError::kBadIhl},
    {"total_length_past_frame",
     [] { return PacketBuilder().Udp(1, 2).TotalLengthOverride(29).Build(); },
     ParseError::kBadTotalLength},
    {"total_length_below_ihl",
     [] { return PacketBuilder().Udp(1, 2).TotalLengthOverride(19).Build(); },
     ParseError::kBadTotalLength},
    {"total_length_below_ihl_with_options",
     [] {
       return PacketBuilder()
           .IpOptions({1, 1, 1, 1})
           .Proto(47)
           .PayloadSize(8)
           .TotalLengthOverride(20)
           .Build();
     },
     ParseError::kBadTotalLength},
    {"bad_ip_checksum", [] { return PacketBuilder().Udp(1, 2).BadIpChecksum().Build(); },
     ParseError::kBadIpChecksum},
    {"corrupted_ttl",
     [] {
       Bytes b = Udp();
       b[kEth + 8] ^= 1;
       return b;
     },
     ParseError::kBadIpChecksum},
    {"truncated_tcp", [] { return PacketBuilder().Proto(kProtoTcp).PayloadSize(19).Build(); },
     ParseError::kTruncatedTcp},
    {"tcp_data_offset_4",
     [] {
       Bytes b = Tcp(40);
       b[kEth + 20 + 12] = 0x40;
       return b;
     },
     ParseError::kBadTcpDataOffset},
    {"tcp_data_offset_past_segment",
     [] {
       Bytes b = Tcp(3);
       b[kEth + 20 + 12] = 0x60;
       return b;
     },
     ParseError::kBadTcpDataOffset},
    {"tcp_data_offset_15_fits",
     [] {
       Bytes b = Tcp(40);
       b[kEth + 20 + 12] = 0xf0;
       return b;
     },
     ParseError::kOk},
    {"truncated_udp", [] { return PacketBuilder().Proto(kProtoUdp).PayloadSize(7).Build(); },
     ParseError::kTruncatedUdp},
    {"udp_length_7",
     [] {
       Bytes b = Udp(4);
       b[kEth + 20 + 5] = 7;
       return b;
     },
     ParseError::kBadUdpLength},
    {"udp_length_past_ip_payload",
     [] {
       Bytes b = Udp(4);
       b[kEth + 20 + 5] = 13;
       return b;
     },
     ParseError::kBadUdpLength},
    {"udp_length_shorter_than_ip_payload",
     [] {
       Bytes b = Udp(4);
       b[kEth + 20 + 5] = 8;
       return b;
     },
     ParseError::kOk},
    {"truncated_icmp", [] { return PacketBuilder().Proto(kProtoIcmp).PayloadSize(7).Build(); },
     ParseError::kTruncatedIcmp},
    {"first_fragment_udp_length_is_whole_datagram",
     [] {
       Bytes b = PacketBuilder().Udp(1, 2).PayloadSize(16).Fragment(0, true).Build();
       b[kEth + 20 + 4] = 0x10;  // 4096 bytes in the whole datagram
       return b;
     },
     ParseError::kOk},
    {"first_fragment_udp_length_below_8",
     [] {
       Bytes b = PacketBuilder().Udp(1, 2).PayloadSize(16).Fragment(0, true).Build();
       b[kEth + 20 + 5] = 4;
       return b;
     },
     ParseError::kBadUdpLength},
    {"first_fragment_truncated_tcp",
     [] { return PacketBuilder().Proto(kProtoTcp).PayloadSize(8).Fragment(0, true).Build(); },
     ParseError::kTruncatedTcp},
    {"later_fragment_needs_no_l4_header",
     [] { return PacketBuilder().Udp(1, 2).PayloadSize(3).Fragment(1480, true).Build(); },
     ParseError::kOk},
    {"last_fragment_empty", [] { return PacketBuilder().Tcp(1, 2, 0).Fragment(8, false).Build(); },
     ParseError::kOk},
};

class ParseFrameErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParseFrameErrorTest, ReportsExpectedError) {
  PacketInfo info;
  EXPECT_EQ(ParseErrorName(Parse(GetParam().make(), &info)), ParseErrorName(GetParam().want));
}

INSTANTIATE_TEST_SUITE_P(Table, ParseFrameErrorTest, ::testing::ValuesIn(kFrameCases),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(ParseFrameTest, EveryParseErrorIsCoveredByTheTable) {
  std::set<ParseError> seen;
  PacketInfo info;
  for (const auto& c : kFrameCases) seen.insert(Parse(c.make(), &info));
#define NATGW_X(e, s) EXPECT_TRUE(seen.count(ParseError::e)) << s;
  NATGW_PARSE_ERRORS(NATGW_X)
#undef NATGW_X
}

TEST(ParseFrameTest, ErrorNamesAreDistinctCounterNames) {
  std::set<std::string> names;
#define NATGW_X(e, s) names.insert(ParseErrorName(ParseError::e));
  NATGW_PARSE_ERRORS(NATGW_X)
#undef NATGW_X
  EXPECT_EQ(names.size(), 14u);
  EXPECT_STREQ(ParseErrorName(ParseError::kBadIhl), "bad_ihl");
  EXPECT_STREQ(ParseErrorName(ParseError::kOk), "ok");
}

TEST(ParseFrameTest, UdpOffsetsAndLengths) {
  PacketInfo info;
  ASSERT_EQ(Parse(Udp(10), &info), ParseError::kOk);
  EXPECT_EQ(info.l3_offset, 14);
  EXPECT_EQ(info.l4_offset, 34);
  EXPECT_EQ(info.ip_len, 38);
  EXPECT_EQ(info.l4_len, 18);
  EXPECT_EQ(info.proto, kProtoUdp);
  EXPECT_FALSE(info.has_vlan);
  EXPECT_FALSE(info.is_fragment);
  EXPECT_FALSE(info.is_later_fragment);
}

TEST(ParseFrameTest, TrailerBytesAreNotPartOfIpLength) {
  // A 42-byte UDP frame padded to the 60-byte Ethernet minimum.
  PacketInfo info;
  const Bytes frame = PacketBuilder().Udp(1, 2).Trailer(18).Build();
  ASSERT_EQ(frame.size(), 60u);
  ASSERT_EQ(Parse(frame, &info), ParseError::kOk);
  EXPECT_EQ(info.ip_len, 28);
  EXPECT_EQ(info.l4_len, 8);
}

TEST(ParseFrameTest, VlanShiftsOffsets) {
  PacketInfo info;
  ASSERT_EQ(Parse(PacketBuilder().Vlan(0x2064).Tcp(1, 2, kTcpSyn).Build(), &info), ParseError::kOk);
  EXPECT_TRUE(info.has_vlan);
  EXPECT_EQ(info.vlan_tci, 0x2064);
  EXPECT_EQ(info.l3_offset, 18);
  EXPECT_EQ(info.l4_offset, 38);
  EXPECT_EQ(info.l4_len, 20);
}

TEST(ParseFrameTest, IpOptionsMoveTransportHeader) {
  PacketInfo info;
  // Router alert (4 bytes) + one NOP padded to 8 bytes of options: IHL 7.
  const Bytes frame =
      PacketBuilder().IpOptions({0x94, 0x04, 0x00, 0x00, 0x01}).Udp(1, 2).PayloadSize(4).Build();
  ASSERT_EQ(Parse(frame, &info), ParseError::kOk);
  EXPECT_EQ(frame[kEth] & 0x0f, 7);
  EXPECT_EQ(info.l4_offset, kEth + 28);
  EXPECT_EQ(info.ip_len, 28 + 12);
  EXPECT_EQ(info.l4_len, 12);
}

TEST(ParseFrameTest, FragmentFlags) {
  const struct {
    uint16_t offset;
    bool mf;
    bool is_fragment, is_later;
  } cases[] = {{0, false, false, false},
               {0, true, true, false},
               {8, true, true, true},
               {1480, false, true, true}};
  for (const auto& c : cases) {
    PacketInfo info;
    ASSERT_EQ(
        Parse(PacketBuilder().Udp(1, 2).PayloadSize(16).Fragment(c.offset, c.mf).Build(), &info),
        ParseError::kOk);
    EXPECT_EQ(info.is_fragment, c.is_fragment) << c.offset << " " << c.mf;
    EXPECT_EQ(info.is_later_fragment, c.is_later) << c.offset << " " << c.mf;
  }
  PacketInfo info;
  ASSERT_EQ(Parse(PacketBuilder().Udp(1, 2).DontFragment().Build(), &info), ParseError::kOk);
  EXPECT_FALSE(info.is_fragment);
}

TEST(ParseFrameTest, NeverAcceptsATruncatedPacket) {
  const Bytes frames[] = {
      Udp(20),
      Tcp(5),
      PacketBuilder().Vlan(3).IpOptions({1, 1, 1, 1}).IcmpEcho(false, 9, 9).PayloadSize(9).Build(),
      PacketBuilder().IcmpError(kIcmpTimeExceeded, 0, PacketBuilder().Udp(5, 6).BuildIp()).Build(),
  };
  for (const Bytes& full : frames) {
    PacketInfo info;
    ASSERT_EQ(Parse(full, &info), ParseError::kOk);
    const size_t end = info.l3_offset + info.ip_len;
    for (size_t n = 0; n < full.size(); ++n) {
      const ParseError err = Parse(Truncate(full, n), &info);
      if (n < end) {
        EXPECT_NE(err, ParseError::kOk) << "accepted " << n << " of " << end;
      }
    }
  }
}

// ICMP-error quotes.

struct QuotedCase {
  const char* name;
  std::function<Bytes()> make;
  ParseError want;
  uint16_t ip_len;  // when kOk
  uint16_t l4_len;
};
void PrintTo(const QuotedCase& c, std::ostream* os) { *os << c.name; }

Bytes InnerUdp() { return PacketBuilder().Udp(40000, 53).PayloadSize(72).BuildIp(); }  // 100
Bytes InnerTcp() { return PacketBuilder().Tcp(40000, 80, kTcpAck).PayloadSize(60).BuildIp(); }

const QuotedCase kQuotedCases[] = {
    {"complete_udp", [] { return InnerUdp(); }, ParseError::kOk, 100, 80},
    {"udp_cut_after_8_l4_bytes", [] { return Truncate(InnerUdp(), 28); }, ParseError::kOk, 28, 8},
    {"tcp_cut_before_data_offset", [] { return Truncate(InnerTcp(), 28); }, ParseError::kOk, 28, 8},
    {"udp_cut_at_7", [] { return Truncate(InnerUdp(), 27); }, ParseError::kTruncatedUdp, 0, 0},
    {"tcp_cut_at_7", [] { return Truncate(InnerTcp(), 27); }, ParseError::kTruncatedTcp, 0, 0},
    {"icmp_cut_at_4", [] { return Truncate(PacketBuilder().IcmpEcho(true, 1, 2).BuildIp(), 24); },
     ParseError::kTruncatedIcmp, 0, 0},
    {"later_fragment_header_only",
     [] {
       return Truncate(PacketBuilder().Udp(1, 2).Fragment(64, false).PayloadSize(30).BuildIp(), 20);
     },
     ParseError::kOk, 20, 0},
    {"gre_header_only",
     [] { return Truncate(PacketBuilder().Proto(47).PayloadSize(30).BuildIp(), 20); },
     ParseError::kOk, 20, 0},
    {"header_cut", [] { return Truncate(InnerUdp(), 19); }, ParseError::kTruncatedIpv4, 0, 0},
    {"options_cut",
     [] {
       return Truncate(PacketBuilder().IpOptions({1, 1, 1, 1}).Udp(1, 2).BuildIp(), 22);
     },
     ParseError::kBadIhl, 0, 0},
    {"version_6", [] { return SetIpByte(InnerUdp(), 0, 0x60, 0); }, ParseError::kBadIpVersion, 0,
     0},
    {"ihl_4", [] { return SetIpByte(InnerUdp(), 0, 0x44, 0); }, ParseError::kBadIhl, 0, 0},
    {"total_length_below_ihl",
     [] { return PacketBuilder().Udp(1, 2).TotalLengthOverride(12).BuildIp(); },
     ParseError::kBadTotalLength, 0, 0},
    {"bad_checksum", [] { return PacketBuilder().Udp(1, 2).BadIpChecksum().BuildIp(); },
     ParseError::kBadIpChecksum, 0, 0},
};

class ParseQuotedTableTest : public ::testing::TestWithParam<QuotedCase> {};

TEST_P(ParseQuotedTableTest, ParsesTruncatedQuotes) {
  const QuotedCase& c = GetParam();
  PacketInfo info;
  const ParseError err = ParseQuoted(c.make(), &info);
  ASSERT_EQ(ParseErrorName(err), ParseErrorName(c.want));
  if (err != ParseError::kOk) return;
  EXPECT_EQ(info.l3_offset, 0);
  EXPECT_EQ(info.l4_offset, 20);
  EXPECT_EQ(info.ip_len, c.ip_len);
  EXPECT_EQ(info.l4_len, c.l4_len);
}

INSTANTIATE_TEST_SUITE_P(Table, ParseQuotedTableTest, ::testing::ValuesIn(kQuotedCases),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(ParseQuotedTest, IpLenIsTotalLengthWhenBytesFollowTheQuote) {
  Bytes b = InnerUdp();
  b.resize(b.size() + 6, 0xaa);
  PacketInfo info;
  ASSERT_EQ(ParseQuoted(b, &info), ParseError::kOk);
  EXPECT_EQ(info.ip_len, 100);
  EXPECT_EQ(info.l4_len, 80);
}

TEST(ParseQuotedTest, NeverReadsPastTheQuote) {
  const Bytes full = PacketBuilder().IpOptions({1, 1, 1, 1}).Tcp(1, 2, kTcpSyn).BuildIp();
  for (size_t n = 0; n <= full.size(); ++n) {
    PacketInfo info;
    const ParseError err = ParseQuoted(Truncate(full, n), &info);
    EXPECT_EQ(err == ParseError::kOk, n >= 24 + 8) << n;
    if (err == ParseError::kOk) {
      EXPECT_EQ(info.ip_len, n);
    }
  }
}

Bytes Copied(const Bytes& opts) {
  // An exact-size heap copy, so AddressSanitizer catches a read past the options.
  auto in = std::make_unique<uint8_t[]>(opts.size());
  if (!opts.empty()) std::memcpy(in.get(), opts.data(), opts.size());
  Bytes out(opts.size(), 0xee);
  const int n = CopiedIpv4Options(in.get(), static_cast<uint32_t>(opts.size()), out.data());
  if (n < 0) return {0xff};  // (no valid result is this)
  out.resize(static_cast<size_t>(n));
  return out;
}

TEST(CopiedIpv4OptionsTest, KeepsOnlyOptionsWithTheCopiedFlag) {
  // Record Route (7, not copied, 7 bytes), NOP, Router Alert (148, copied, 4 bytes), EOL.
  const Bytes rr_ra = {7, 7, 4, 0, 0, 0, 0, 1, 148, 4, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(Copied(rr_ra), (Bytes{148, 4, 0, 0}));
  // Loose source route (131, copied, 7 bytes) padded to 8.
  const Bytes lsrr = {131, 7, 4, 192, 0, 2, 1, 0};
  EXPECT_EQ(Copied(lsrr), (Bytes{131, 7, 4, 192, 0, 2, 1, 0}));
  // Only not-copied options and NOPs: nothing goes into the later fragments.
  EXPECT_EQ(Copied({1, 1, 1, 1}), Bytes{});
  EXPECT_EQ(Copied({68, 4, 5, 0}), Bytes{});  // timestamp
  // What follows End of Option List is not looked at, even if it would be malformed.
  EXPECT_EQ(Copied({0, 0xff, 0xff, 0xff}), Bytes{});
  EXPECT_EQ(Copied({}), Bytes{});
}

TEST(CopiedIpv4OptionsTest, MalformedOptionsAreRefused) {
  EXPECT_EQ(Copied({148, 1, 0, 0}), Bytes{0xff});        // length below 2
  EXPECT_EQ(Copied({148, 0, 0, 0}), Bytes{0xff});        // (a zero length would never end)
  EXPECT_EQ(Copied({1, 1, 131, 7}), Bytes{0xff});        // runs past the header
  EXPECT_EQ(Copied({1, 1, 1, 131}), Bytes{0xff});        // no room for the length byte
  EXPECT_EQ(Copied({7, 3, 0, 68, 8, 0, 0, 0}), Bytes{0xff});  // second runs past
}

}  // namespace
}  // namespace natgw::net
