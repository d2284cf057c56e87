#include "lib/net/verify.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "lib/net/builder.h"
#include "lib/net/parse.h"

namespace natgw::net {
namespace {

using Bytes = std::vector<uint8_t>;

absl::Status Verify(const Bytes& f) { return VerifyChecksums(f.data(), f.size()); }

TEST(VerifyChecksumsTest, AcceptsWellFormedPackets) {
  const Bytes inner_udp = PacketBuilder().Ipv4("10.0.0.5", "192.0.2.1").Udp(5, 53).BuildIp();
  const Bytes inner_icmp = PacketBuilder().IcmpEcho(true, 1, 2).PayloadSize(32).BuildIp();
  const Bytes frames[] = {
      PacketBuilder().Udp(1, 2).PayloadSize(99).Build(),
      PacketBuilder().Udp(1, 2).ZeroUdpChecksum().Build(),
      PacketBuilder().Vlan(9).Tcp(1, 2, kTcpSyn).PayloadSize(3).Build(),
      PacketBuilder().IcmpEcho(false, 1, 2).PayloadSize(1).Build(),
      PacketBuilder().IcmpError(kIcmpDestUnreachable, 3, inner_udp).Build(),
      PacketBuilder().IcmpError(kIcmpTimeExceeded, 0, inner_icmp).Build(),
      PacketBuilder().Proto(50).PayloadSize(33).Build(),
      PacketBuilder().Udp(1, 2).Trailer(20).Build(),
  };
  for (const Bytes& f : frames) EXPECT_TRUE(Verify(f).ok()) << Verify(f);
}

// Flipping any single bit of the IP packet is caught by one checksum or another (or makes the
// packet unparseable), except where it turns a UDP checksum into "none".
TEST(VerifyChecksumsTest, DetectsEverySingleBitCorruption) {
  const Bytes inner = PacketBuilder().Ipv4("10.0.0.5", "192.0.2.1").Tcp(1, 2, kTcpAck).BuildIp();
  const Bytes frames[] = {
      PacketBuilder().Udp(1000, 2000).Payload("some payload").Build(),
      PacketBuilder().Tcp(1000, 2000, kTcpPsh | kTcpAck).PayloadSize(17).Build(),
      PacketBuilder().IcmpEcho(true, 5, 6).PayloadSize(8).Build(),
      PacketBuilder().IcmpError(kIcmpDestUnreachable, kIcmpFragNeeded, inner, 1400).Build(),
  };
  for (const Bytes& good : frames) {
    ASSERT_TRUE(Verify(good).ok());
    for (size_t i = 14; i < good.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes bad = good;
        bad[i] ^= static_cast<uint8_t>(1 << bit);
        EXPECT_FALSE(Verify(bad).ok()) << "byte " << i << " bit " << bit;
      }
    }
  }
}

TEST(VerifyChecksumsTest, MessagesNameTheChecksumWithExpectedAndFound) {
  const struct {
    const char* name;
    Bytes frame;
    const char* want;
  } cases[] = {
      {"ip", PacketBuilder().Udp(1, 2).BadIpChecksum().Build(), "IPv4 header checksum mismatch"},
      {"udp", PacketBuilder().Udp(1, 2).BadL4Checksum().Build(), "UDP checksum mismatch"},
      {"tcp", PacketBuilder().Tcp(1, 2, 0).BadL4Checksum().Build(), "TCP checksum mismatch"},
      {"icmp", PacketBuilder().IcmpEcho(true, 1, 1).BadL4Checksum().Build(),
       "ICMP checksum mismatch"},
      {"inner_ip",
       PacketBuilder()
           .IcmpError(kIcmpTimeExceeded, 0, PacketBuilder().Udp(1, 2).BadIpChecksum().BuildIp())
           .Build(),
       "inner IPv4 header checksum mismatch"},
      {"inner_udp",
       PacketBuilder()
           .IcmpError(kIcmpTimeExceeded, 0, PacketBuilder().Udp(1, 2).BadL4Checksum().BuildIp())
           .Build(),
       "inner UDP checksum mismatch"},
      {"inner_tcp",
       PacketBuilder()
           .IcmpError(kIcmpDestUnreachable, 1,
                      PacketBuilder().Tcp(1, 2, kTcpSyn).BadL4Checksum().BuildIp())
           .Build(),
       "inner TCP checksum mismatch"},
      {"parse", PacketBuilder().Proto(kProtoUdp).PayloadSize(3).Build(), "truncated_udp"},
      {"inner_parse", PacketBuilder().IcmpError(kIcmpTimeExceeded, 0, Bytes(10, 0x45)).Build(),
       "inner parse error: truncated_ipv4"},
  };
  for (const auto& c : cases) {
    const absl::Status s = Verify(c.frame);
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_TRUE(absl::StrContains(s.message(), c.want)) << c.name << ": " << s;
  }
}

TEST(VerifyChecksumsTest, ExpectedValueIsTheCorrectChecksum) {
  const Bytes good = PacketBuilder().Udp(1, 2).Build();
  const Bytes bad = PacketBuilder().Udp(1, 2).BadIpChecksum().Build();
  const std::string msg = std::string(Verify(bad).message());
  char want[64];
  std::snprintf(want, sizeof(want), "expected 0x%02x%02x, found 0x%02x%02x", good[24], good[25],
                bad[24], bad[25]);
  EXPECT_TRUE(absl::StrContains(msg, want)) << msg << " vs " << want;
}

TEST(VerifyChecksumsTest, SkipsWhatCannotBeVerified) {
  // A fragment carries part of the datagram: its transport checksum is not checked.
  EXPECT_TRUE(
      Verify(PacketBuilder().Udp(1, 2).PayloadSize(16).Fragment(0, true).BadL4Checksum().Build())
          .ok());
  // A truncated quote cannot be checked beyond its IP header.
  Bytes quote = PacketBuilder().Udp(1, 2).PayloadSize(64).BadL4Checksum().BuildIp();
  quote.resize(28);
  EXPECT_TRUE(Verify(PacketBuilder().IcmpError(kIcmpTimeExceeded, 0, quote).Build()).ok());
}

TEST(VerifyIpChecksumsTest, BarePacket) {
  const Bytes ip = PacketBuilder().Tcp(1, 2, kTcpSyn).BuildIp();
  EXPECT_TRUE(VerifyIpChecksums(ip.data(), ip.size()).ok());
  Bytes bad = ip;
  bad[25] ^= 0x10;  // TCP sequence number
  EXPECT_TRUE(absl::StrContains(VerifyIpChecksums(bad.data(), bad.size()).message(), "TCP"));
}

}  // namespace
}  // namespace natgw::net
