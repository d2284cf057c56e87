#include "lib/net/checksum.h"

#include <rte_byteorder.h>

#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "lib/net/builder.h"
#include "lib/net/parse.h"
#include "lib/net/verify.h"

namespace natgw::net {
namespace {

// RFC 1071 done the textbook way: big-endian 16-bit words, an odd byte is the high byte of a
// last word padded with zero, end-around carry. Returns the folded sum in host order.
uint16_t NaiveBigEndianSum(const uint8_t* p, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t{p[i]} << 8) | p[i + 1];
  if (len % 2 == 1) sum += uint32_t{p[len - 1]} << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// CsumPartial folded, converted from memory-word order to host order for comparison.
uint16_t FoldedHost(const void* p, size_t len, uint32_t init = 0) {
  return rte_be_to_cpu_16(CsumFold(CsumPartial(p, len, init)));
}

TEST(CsumPartialTest, Rfc1071ExampleSum) {
  const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(FoldedHost(data, sizeof(data)), 0xddf2);
  EXPECT_EQ(rte_be_to_cpu_16(Csum(data, sizeof(data))), 0x220d);
}

TEST(CsumPartialTest, KnownIpv4HeaderChecksum) {
  // 192.168.0.1 -> 192.168.0.199, UDP, checksum field zeroed; the real checksum is 0xb861.
  const uint8_t hdr[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                         0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(rte_be_to_cpu_16(Csum(hdr, sizeof(hdr))), 0xb861);
}

TEST(CsumPartialTest, OddTailByteIsHighByteOfBigEndianWord) {
  const uint8_t one[] = {0xab};
  EXPECT_EQ(FoldedHost(one, 1), 0xab00);
  const uint8_t three[] = {0x12, 0x34, 0x56};
  EXPECT_EQ(FoldedHost(three, 3), 0x1234 + 0x5600);
}

TEST(CsumPartialTest, EmptyBufferReturnsInit) {
  EXPECT_EQ(CsumPartial(nullptr, 0), 0u);
  EXPECT_EQ(CsumFold(CsumPartial(nullptr, 0, 0x1234)), 0x1234);
}

TEST(CsumPartialTest, MatchesNaiveReferenceForAllLengthsAndAlignments) {
  std::mt19937 rng(1071);
  std::vector<uint8_t> buf(300);
  for (int round = 0; round < 20; ++round) {
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    for (size_t start = 0; start < 8; ++start) {
      for (size_t len = 0; start + len <= buf.size(); ++len) {
        ASSERT_EQ(FoldedHost(buf.data() + start, len), NaiveBigEndianSum(buf.data() + start, len))
            << "start " << start << " len " << len;
      }
    }
  }
}

TEST(CsumPartialTest, AllOnesMaximumSizeDoesNotOverflow) {
  std::vector<uint8_t> buf(65535, 0xff);
  EXPECT_EQ(FoldedHost(buf.data(), buf.size()), NaiveBigEndianSum(buf.data(), buf.size()));
  EXPECT_EQ(FoldedHost(buf.data(), buf.size(), 0xffffffff),
            NaiveBigEndianSum(buf.data(), buf.size()));
}

TEST(CsumPartialTest, ChainingEvenPiecesEqualsWholeBuffer) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(97);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t split = 0; split <= buf.size(); split += 2) {
    const uint32_t first = CsumPartial(buf.data(), split);
    EXPECT_EQ(CsumFold(CsumPartial(buf.data() + split, buf.size() - split, first)),
              CsumFold(CsumPartial(buf.data(), buf.size())))
        << "split " << split;
  }
}

TEST(CsumPseudoHeaderTest, EqualsSumOfRawPseudoHeaderBytes) {
  const struct {
    uint32_t src, dst;
    uint8_t proto;
    uint16_t len;
  } cases[] = {
      {Ip4(10, 0, 0, 1), Ip4(192, 0, 2, 7), kProtoTcp, 20},
      {Ip4(255, 255, 255, 255), Ip4(255, 255, 255, 255), kProtoUdp, 0xffff},
      {0, 0, 0, 0},
      {Ip4(198, 51, 100, 200), Ip4(203, 0, 113, 9), kProtoUdp, 1480},
  };
  for (const auto& c : cases) {
    uint8_t ph[12] = {};
    std::memcpy(ph, &c.src, 4);
    std::memcpy(ph + 4, &c.dst, 4);
    ph[9] = c.proto;
    ph[10] = static_cast<uint8_t>(c.len >> 8);
    ph[11] = static_cast<uint8_t>(c.len);
    EXPECT_EQ(CsumFold(CsumPseudoHeader(c.src, c.dst, c.proto, c.len)),
              CsumFold(CsumPartial(ph, sizeof(ph))));
  }
}

// RFC 1624 section 3: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 must give 0x0000 (eqn. 3), not the
// 0xffff that eqn. 2 produces. Byte order does not matter, so check both.
TEST(CsumUpdateTest, Rfc1624ExampleGivesZeroNotFfff) {
  EXPECT_EQ(CsumUpdate16(0xdd2f, 0x5555, 0x3285), 0x0000);
  EXPECT_EQ(
      CsumUpdate16(rte_cpu_to_be_16(0xdd2f), rte_cpu_to_be_16(0x5555), rte_cpu_to_be_16(0x3285)),
      0x0000);
  // UDP must not emit 0 for a computed zero: it becomes 0xffff.
  EXPECT_EQ(UdpCsumApplyDelta(0xdd2f, CsumFold(CsumDeltaAdd16(0, 0x5555, 0x3285))), 0xffff);
}

// The constant TTL delta gives the checksum a full recomputation gives, for every TTL >= 1 and
// protocol, alone and joined with another precomputed delta (the way the fast path uses it).
TEST(CsumUpdateTest, TtlDecrementDeltaEqualsRecomputation) {
  uint8_t hdr[20] = {0x45, 0, 0, 60, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 10, 0, 0, 7};
  const uint32_t old_src = rte_cpu_to_be_32(0xc0000201), new_src = rte_cpu_to_be_32(0xc6336409);
  for (unsigned proto = 0; proto < 256; ++proto) {
    for (unsigned ttl = 1; ttl < 256; ++ttl) {
      hdr[8] = static_cast<uint8_t>(ttl);
      hdr[9] = static_cast<uint8_t>(proto);
      hdr[10] = hdr[11] = 0;
      const uint16_t before = Csum(hdr, sizeof(hdr));
      std::memcpy(hdr + 10, &before, 2);
      --hdr[8];
      hdr[10] = hdr[11] = 0;
      const uint16_t want = Csum(hdr, sizeof(hdr));
      const uint16_t got = CsumApplyDelta(before, kTtlDecrementDelta);
      // 0x0000 and 0xffff are the same ones' complement value; both verify.
      EXPECT_EQ(got % 0xffff, want % 0xffff) << ttl << " " << proto;
      // Joined with an address rewrite's delta (192.0.2.1 -> 198.51.100.9).
      const uint16_t addr = CsumFold(CsumDeltaAdd32(0, old_src, new_src));
      std::memcpy(hdr + 12, &new_src, 4);
      const uint16_t want2 = Csum(hdr, sizeof(hdr));
      std::memcpy(hdr + 12, &old_src, 4);
      const uint16_t got2 = CsumApplyDelta(before, CsumFold(uint32_t{addr} + kTtlDecrementDelta));
      EXPECT_EQ(got2 % 0xffff, want2 % 0xffff) << ttl << " " << proto;
    }
  }
}

TEST(CsumUpdateTest, UdpZeroChecksumStaysZero) {
  for (uint16_t delta : {0x0000, 0x0001, 0x1234, 0xfffe, 0xffff}) {
    EXPECT_EQ(UdpCsumApplyDelta(0, delta), 0) << delta;
  }
}

TEST(CsumUpdateTest, NoOpChangeKeepsChecksum) {
  for (uint16_t c : {0x0000, 0x0001, 0x8000, 0xfffe}) {
    EXPECT_EQ(CsumUpdate16(c, 0x1234, 0x1234), c);
    EXPECT_EQ(CsumUpdate32(c, 0xdeadbeef, 0xdeadbeef), c);
  }
}

// A random 20-byte IPv4 header: incremental updates of one 16-bit or 32-bit word, including the
// corner values 0x0000 and 0xffff, equal a checksum computed from scratch.
TEST(CsumUpdateTest, IncrementalEqualsFullRecomputationOnRandomHeaders) {
  std::mt19937 rng(1624);
  const uint16_t corners[] = {0x0000, 0xffff, 0x0001, 0xfffe, 0x8000, 0x7fff};
  for (int round = 0; round < 2000; ++round) {
    uint8_t hdr[20];
    for (auto& b : hdr) b = static_cast<uint8_t>(rng());
    hdr[0] = 0x45;  // never all zero, like a real header
    hdr[10] = hdr[11] = 0;
    uint16_t csum = Csum(hdr, sizeof(hdr));
    std::memcpy(hdr + 10, &csum, 2);

    const size_t word = 2 * (rng() % 10);
    if (word == 10) continue;  // the checksum field itself
    uint16_t old_v, new_v;
    std::memcpy(&old_v, hdr + word, 2);
    new_v = round % 3 == 0 ? corners[rng() % 6] : static_cast<uint16_t>(rng());
    if (word == 0) new_v = static_cast<uint16_t>(new_v | 0x0045);
    std::memcpy(hdr + word, &new_v, 2);
    const uint16_t updated = CsumUpdate16(csum, old_v, new_v);

    hdr[10] = hdr[11] = 0;
    ASSERT_EQ(updated, Csum(hdr, sizeof(hdr))) << "round " << round << " word " << word;

    // 32-bit update of an address.
    std::memcpy(hdr + 10, &updated, 2);
    uint32_t old_a, new_a = round % 5 == 0 ? 0xffffffff : static_cast<uint32_t>(rng());
    if (round % 7 == 0) new_a = 0;
    std::memcpy(&old_a, hdr + 12, 4);
    std::memcpy(hdr + 12, &new_a, 4);
    const uint16_t updated32 = CsumUpdate32(updated, old_a, new_a);
    hdr[10] = hdr[11] = 0;
    ASSERT_EQ(updated32, Csum(hdr, sizeof(hdr))) << "round " << round;
  }
}

// What the NAT does: a precomputed delta for (address, port) applied to the IPv4 and transport
// checksums of a real packet gives the same bytes as building the translated packet.
TEST(CsumUpdateTest, DeltaAppliedToPacketMatchesRebuiltPacket) {
  std::mt19937 rng(44);
  for (int round = 0; round < 300; ++round) {
    const bool udp = round % 2 == 0;
    const uint32_t src = static_cast<uint32_t>(rng());
    const uint32_t dst = static_cast<uint32_t>(rng());
    const uint32_t new_src = round % 11 == 0 ? 0xffffffff : static_cast<uint32_t>(rng());
    const uint16_t sport = static_cast<uint16_t>(rng());
    const uint16_t new_sport = round % 13 == 0 ? 0 : static_cast<uint16_t>(rng());
    auto make = [&](uint32_t s, uint16_t sp) {
      PacketBuilder b;
      b.Ipv4(s, dst).PayloadSize(rng() % 64);
      if (udp) {
        b.Udp(sp, 53);
      } else {
        b.Tcp(sp, 443, kTcpAck, 99, 7);
      }
      return b;
    };
    const size_t payload_seed = rng();
    rng.seed(static_cast<uint32_t>(payload_seed));
    std::vector<uint8_t> frame = make(src, sport).Build();
    rng.seed(static_cast<uint32_t>(payload_seed));
    const std::vector<uint8_t> want = make(new_src, new_sport).Build();

    PacketInfo info;
    ASSERT_EQ(ParseFrame(frame.data(), static_cast<uint32_t>(frame.size()), &info),
              ParseError::kOk);
    uint8_t* ip = frame.data() + info.l3_offset;
    uint8_t* l4 = frame.data() + info.l4_offset;
    const uint16_t ip_delta = CsumFold(CsumDeltaAdd32(0, src, new_src));
    const uint16_t l4_delta = CsumFold(CsumDeltaAdd16(
        CsumDeltaAdd32(0, src, new_src), rte_cpu_to_be_16(sport), rte_cpu_to_be_16(new_sport)));
    uint16_t c;
    std::memcpy(&c, ip + 10, 2);
    c = CsumApplyDelta(c, ip_delta);
    std::memcpy(ip + 10, &c, 2);
    std::memcpy(ip + 12, &new_src, 4);
    const size_t csum_off = udp ? 6 : 16;
    std::memcpy(&c, l4 + csum_off, 2);
    c = udp ? UdpCsumApplyDelta(c, l4_delta) : CsumApplyDelta(c, l4_delta);
    std::memcpy(l4 + csum_off, &c, 2);
    const uint16_t sp_be = rte_cpu_to_be_16(new_sport);
    std::memcpy(l4, &sp_be, 2);

    ASSERT_EQ(frame, want) << "round " << round;
    ASSERT_TRUE(VerifyChecksums(frame.data(), frame.size()).ok());
  }
}

TEST(CsumUpdateTest, ZeroUdpChecksumSurvivesTranslation) {
  std::vector<uint8_t> frame =
      PacketBuilder().Ipv4("10.0.0.5", "192.0.2.1").Udp(1000, 53).ZeroUdpChecksum().Build();
  PacketInfo info;
  ASSERT_EQ(ParseFrame(frame.data(), static_cast<uint32_t>(frame.size()), &info), ParseError::kOk);
  uint8_t* l4 = frame.data() + info.l4_offset;
  uint16_t c;
  std::memcpy(&c, l4 + 6, 2);
  c = UdpCsumApplyDelta(c, CsumFold(CsumDeltaAdd32(0, Ip4(10, 0, 0, 5), Ip4(203, 0, 113, 1))));
  EXPECT_EQ(c, 0);
}

}  // namespace
}  // namespace natgw::net
