#include "lib/net/fragment.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "lib/net/builder.h"
#include "tests/net/fragment_check.h"

namespace natgw::net {
namespace {

using Bytes = std::vector<uint8_t>;
using natgw::testing::CheckIpv4Fragments;
using natgw::testing::SplitIpv4;

Bytes Udp(size_t payload) {
  return PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Id(77).Udp(5000, 53)
      .PayloadSize(payload).BuildIp();
}

TEST(FragmentTest, SplitsIntoMultiplesOfEightThatFitTheMtu) {
  const Bytes ip = Udp(1472);  // 1500 bytes
  const auto frags = SplitIpv4(ip.data(), ip.size(), 576);
  ASSERT_EQ(frags.size(), 3u);
  EXPECT_EQ(frags[0].size(), 572u);  // 20 + 552
  EXPECT_EQ(frags[1].size(), 572u);
  EXPECT_EQ(frags[2].size(), 20u + 1480 - 2 * 552);
  EXPECT_EQ(CheckIpv4Fragments(ip.data(), 576, frags), "");
}

TEST(FragmentTest, LaterFragmentsCarryOnlyTheCopiedOptions) {
  // Record Route (not copied), NOP, Router Alert (copied): 12 bytes in the first, 4 after.
  const Bytes ip = PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9")
                       .IpOptions({7, 7, 4, 0, 0, 0, 0, 1, 148, 4, 0, 0}).Udp(5000, 53)
                       .PayloadSize(1000).BuildIp();
  Ipv4Fragments plan;
  ASSERT_TRUE(PlanIpv4Fragments(ip.data(), ip.size(), 400, 64, &plan));
  EXPECT_EQ(plan.first_hl, 32u);
  EXPECT_EQ(plan.later_hl, 24u);
  EXPECT_EQ(plan.first_chunk, 368u);
  EXPECT_EQ(plan.chunk, 376u);
  const auto frags = SplitIpv4(ip.data(), ip.size(), 400);
  ASSERT_EQ(frags.size(), 3u);
  EXPECT_EQ(frags[1][20], 148);
  EXPECT_EQ(CheckIpv4Fragments(ip.data(), 400, frags), "");
}

TEST(FragmentTest, AFragmentKeepsItsOffsetAndItsMoreFragmentsFlag) {
  const Bytes ip = PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Fragment(1480, true)
                       .Proto(17).PayloadSize(1000).BuildIp();
  const auto frags = SplitIpv4(ip.data(), ip.size(), 576);
  ASSERT_EQ(frags.size(), 2u);
  EXPECT_EQ((frags[0][6] << 8 | frags[0][7]) & 0x1fff, 1480 / 8);
  EXPECT_EQ((frags[1][6] << 8 | frags[1][7]), 0x2000 | (1480 + 552) / 8);  // MF on the last
  EXPECT_EQ(CheckIpv4Fragments(ip.data(), 576, frags), "");
}

TEST(FragmentTest, LinkPaddingIsLeftOut) {
  const Bytes ip = PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Udp(5000, 53).PayloadSize(10)
                       .Trailer(30).BuildIp();
  const auto frags = SplitIpv4(ip.data(), ip.size(), 40);
  ASSERT_EQ(frags.size(), 2u);
  EXPECT_EQ(frags[0].size() + frags[1].size(), 20u + 20 + 18);
  EXPECT_EQ(CheckIpv4Fragments(ip.data(), 40, frags), "");
}

// The check the fuzzer relies on finds what a wrong split would get wrong.
TEST(FragmentTest, TheCheckFindsAWrongFragment) {
  const Bytes ip = Udp(1472);
  const auto good = SplitIpv4(ip.data(), ip.size(), 576);
  ASSERT_EQ(CheckIpv4Fragments(ip.data(), 576, good), "");
  auto bad = good;
  bad[1][300] ^= 1;  // data
  EXPECT_EQ(CheckIpv4Fragments(ip.data(), 576, bad), "the fragments' data is not the datagram's");
  bad = good;
  bad[2][7] += 1;  // offset (the checksum left stale: that is found first)
  EXPECT_EQ(CheckIpv4Fragments(ip.data(), 576, bad), "fragment 2: header checksum");
  bad[2][11] -= 1;
  EXPECT_EQ(CheckIpv4Fragments(ip.data(), 576, bad), "fragment 2: offset");
  bad = good;
  bad.pop_back();  // the last one lost: its predecessor has MF
  EXPECT_EQ(CheckIpv4Fragments(ip.data(), 576, bad), "fragment 1: flags");
  EXPECT_EQ(CheckIpv4Fragments(ip.data(), 500, good), "fragment 0: length 572");
}

TEST(FragmentTest, RefusesWhatItCannotSplit) {
  Ipv4Fragments plan;
  const Bytes ip = Udp(1000);
  EXPECT_TRUE(PlanIpv4Fragments(ip.data(), ip.size(), 576, 64, &plan));
  EXPECT_FALSE(PlanIpv4Fragments(ip.data(), 19, 576, 64, &plan));              // no header
  EXPECT_FALSE(PlanIpv4Fragments(ip.data(), ip.size() - 1, 576, 64, &plan));  // cut short
  EXPECT_FALSE(PlanIpv4Fragments(ip.data(), ip.size(), 27, 64, &plan));  // no room for 8 bytes
  EXPECT_TRUE(PlanIpv4Fragments(ip.data(), ip.size(), 28, 128, &plan));
  EXPECT_EQ(plan.count, 126u);
  EXPECT_FALSE(PlanIpv4Fragments(ip.data(), ip.size(), 28, 125, &plan));  // too many
  Bytes bad = ip;
  bad[0] = 0x65;  // version 6
  EXPECT_FALSE(PlanIpv4Fragments(bad.data(), bad.size(), 576, 64, &plan));
  bad[0] = 0x44;  // IHL 4
  EXPECT_FALSE(PlanIpv4Fragments(bad.data(), bad.size(), 576, 64, &plan));
  bad = ip;
  bad[2] = 0;
  bad[3] = 20;  // total length: the header alone
  EXPECT_FALSE(PlanIpv4Fragments(bad.data(), bad.size(), 576, 64, &plan));
  const Bytes late = PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Fragment(65000, false)
                         .Proto(17).PayloadSize(600).BuildIp();  // would end past 65,535
  EXPECT_FALSE(PlanIpv4Fragments(late.data(), late.size(), 576, 64, &plan));
  const Bytes malformed = PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9")
                              .IpOptions({7, 9, 4, 0}).Udp(5000, 53).PayloadSize(600).BuildIp();
  EXPECT_FALSE(PlanIpv4Fragments(malformed.data(), malformed.size(), 576, 64, &plan));
  const Bytes with_options = PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9")
                                 .IpOptions({148, 4, 0, 0, 1, 1, 1, 0}).Udp(5000, 53).BuildIp();
  EXPECT_FALSE(PlanIpv4Fragments(with_options.data(), 24, 576, 64, &plan));  // IHL past avail
}

}  // namespace
}  // namespace natgw::net
