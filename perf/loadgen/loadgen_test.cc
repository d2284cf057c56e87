// The generator's pieces without ports: flow enumeration, frames it writes (checked with
// lib/net's verifier), the checks it applies to translated frames, the latency histogram and
// the option parsers.
#include <algorithm>
#include <functional>
#include <cstring>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "lib/net/checksum.h"
#include "lib/net/headers.h"
#include "lib/net/verify.h"
#include "perf/loadgen/backlog.h"
#include "perf/loadgen/flows.h"
#include "perf/loadgen/histogram.h"
#include "perf/loadgen/options.h"
#include "perf/loadgen/packets.h"
#include "perf/loadgen/tx_ring.h"

namespace natgw::loadgen {
namespace {

constexpr rte_ether_addr kMacA = {{0x02, 0, 0, 0, 0, 0x0a}};
constexpr rte_ether_addr kMacB = {{0x02, 0, 0, 0, 0, 0x0b}};

FlowRanges TestRanges() {
  FlowRanges r;
  r.pod_ip_first = 0x0a000100;  // 10.0.1.0
  r.pod_count = 10;
  r.sport_first = 2000;
  r.sport_count = 300;
  r.remote_ip_first = 0xc633640a;  // 198.51.100.10
  r.remote_count = 3;
  r.dport_first = 9;
  r.dport_count = 2;
  return r;
}

// What a NAT does to a request: a new source address and port, checksums updated incrementally.
void Translate(uint8_t* f, uint32_t new_ip_be, uint16_t new_port_be) {
  uint32_t old_ip;
  uint16_t old_port, ipc, udpc;
  std::memcpy(&old_ip, f + 26, 4);
  std::memcpy(&old_port, f + 34, 2);
  std::memcpy(&ipc, f + 24, 2);
  std::memcpy(&udpc, f + 40, 2);
  ipc = net::CsumUpdate32(ipc, old_ip, new_ip_be);
  uint32_t d = net::CsumDeltaAdd32(0, old_ip, new_ip_be);
  d = net::CsumDeltaAdd16(d, old_port, new_port_be);
  udpc = net::UdpCsumApplyDelta(udpc, net::CsumFold(d));
  std::memcpy(f + 26, &new_ip_be, 4);
  std::memcpy(f + 34, &new_port_be, 2);
  std::memcpy(f + 24, &ipc, 2);
  std::memcpy(f + 40, &udpc, 2);
}

TEST(FastDivisorTest, MatchesDivisionAndModulo) {
  std::mt19937 rng(7);
  for (uint32_t d : {1u, 2u, 3u, 7u, 10u, 254u, 65536u, 1000003u, 0x7fffffffu, 0xffffffffu}) {
    const FastDivisor fd(d);
    for (uint32_t a : {0u, 1u, d - 1, d, d + 1, 0xffffffffu}) {
      EXPECT_EQ(fd.Div(a), a / d) << a << "/" << d;
      EXPECT_EQ(fd.Mod(a), a % d) << a << "%" << d;
    }
    for (int i = 0; i < 10000; ++i) {
      const uint32_t a = static_cast<uint32_t>(rng());
      ASSERT_EQ(fd.Div(a), a / d) << a << "/" << d;
      ASSERT_EQ(fd.Mod(a), a % d) << a << "%" << d;
    }
  }
}

TEST(FlowSetTest, EveryIdBelowCapacityIsADistinctTupleAndPodsVaryFastest) {
  const FlowSet flows(TestRanges());
  ASSERT_EQ(TestRanges().Capacity(), 10u * 300 * 3 * 2);
  std::set<std::tuple<uint32_t, uint32_t, uint16_t, uint16_t>> seen;
  for (uint32_t id = 0; id < TestRanges().Capacity(); ++id) {
    const FlowTuple t = flows.Tuple(id);
    ASSERT_TRUE(seen.emplace(t.pod_ip_be, t.remote_ip_be, t.sport_be, t.dport_be).second) << id;
  }
  EXPECT_EQ(flows.Tuple(0).pod_ip_be, net::Ip4(10, 0, 1, 0));
  EXPECT_EQ(flows.Tuple(1).pod_ip_be, net::Ip4(10, 0, 1, 1));
  EXPECT_EQ(flows.Tuple(1).sport_be, rte_cpu_to_be_16(2000));
  EXPECT_EQ(flows.Tuple(10).pod_ip_be, net::Ip4(10, 0, 1, 0));
  EXPECT_EQ(flows.Tuple(10).sport_be, rte_cpu_to_be_16(2001));
  EXPECT_EQ(flows.Tuple(3000).remote_ip_be, net::Ip4(198, 51, 100, 11));
  EXPECT_EQ(flows.Tuple(9000).dport_be, rte_cpu_to_be_16(10));
}

class FramesTest : public ::testing::TestWithParam<uint16_t> {};

TEST_P(FramesTest, RequestHasValidChecksumsAndTheFlowsFields) {
  const FlowSet flows(TestRanges());
  const FrameTemplate tpl = FrameTemplate::Udp(GetParam(), kMacA, kMacB);
  std::vector<uint8_t> f(tpl.len);
  for (uint32_t id : {0u, 1u, 17u, 4242u, 17999u}) {
    const uint64_t tsc = 0x0123456789abcdefull * (id + 1);
    WriteUdpRequest(tpl, flows.Tuple(id), id, tsc, f.data());
    ASSERT_TRUE(net::VerifyChecksums(f.data(), f.size()).ok())
        << net::VerifyChecksums(f.data(), f.size());
    ExpectedSource none;
    none.translate = false;
    std::vector<Translation> seen(flows.ranges().Capacity());
    Checked ck{};
    EXPECT_EQ(CheckUdpOutside(f.data(), tpl.len, flows, 18000, none, seen.data(), &ck),
              Invalid::kNone);
    EXPECT_EQ(ck.flow_id, id);
    EXPECT_EQ(ck.tsc, tsc);
  }
}

// A request the port refused waits for the next burst with a new timestamp: the same bytes as
// a request written afresh with it.
TEST_P(FramesTest, RenewedTimestampGivesTheFrameWrittenWithIt) {
  const FlowSet flows(TestRanges());
  const FrameTemplate tpl = FrameTemplate::Udp(GetParam(), kMacA, kMacB);
  std::vector<uint8_t> renewed(tpl.len), fresh(tpl.len);
  uint32_t checked = 0;
  std::mt19937_64 rng(7);
  for (uint32_t id : {0u, 1u, 17u, 4242u, 17999u}) {
    for (int i = 0; i < 2000; ++i) {
      const uint64_t first = rng(), later = i == 0 ? first : i == 1 ? ~first : rng();
      WriteUdpRequest(tpl, flows.Tuple(id), id, first, renewed.data());
      RenewUdpTimestamp(renewed.data(), later);
      WriteUdpRequest(tpl, flows.Tuple(id), id, later, fresh.data());
      ASSERT_EQ(renewed, fresh) << "id " << id << " tsc " << first << " -> " << later;
      ++checked;
    }
  }
  // Zero and all-ones halves, where one's complement arithmetic has two zeros.
  for (uint64_t later : {0ull, ~0ull, 0xffffffffull, 0xffffffff00000000ull}) {
    WriteUdpRequest(tpl, flows.Tuple(3), 3, 12345, renewed.data());
    RenewUdpTimestamp(renewed.data(), later);
    WriteUdpRequest(tpl, flows.Tuple(3), 3, later, fresh.data());
    EXPECT_EQ(renewed, fresh) << later;
    EXPECT_TRUE(net::VerifyChecksums(renewed.data(), renewed.size()).ok());
  }
  EXPECT_EQ(checked, 10000u);
  // A timestamp that makes the computed checksum 0, sent as 0xffff (RFC 768): to it and back.
  constexpr size_t kUdpCsum = 14 + 20 + 6;
  WriteUdpRequest(tpl, flows.Tuple(3), 3, 0, fresh.data());
  uint16_t c0;
  std::memcpy(&c0, fresh.data() + kUdpCsum, 2);
  ASSERT_NE(c0, 0xffff);  // (the flow's tsc-0 checksum is not itself the zero one)
  const uint64_t zero_sum = c0;  // adds ~checksum to the sum: 0xffff, sent as 0xffff
  WriteUdpRequest(tpl, flows.Tuple(3), 3, zero_sum, fresh.data());
  EXPECT_EQ(fresh[kUdpCsum], 0xff);
  EXPECT_EQ(fresh[kUdpCsum + 1], 0xff);
  WriteUdpRequest(tpl, flows.Tuple(3), 3, 12345, renewed.data());
  RenewUdpTimestamp(renewed.data(), zero_sum);
  EXPECT_EQ(renewed, fresh);
  RenewUdpTimestamp(renewed.data(), 12345);
  WriteUdpRequest(tpl, flows.Tuple(3), 3, 12345, fresh.data());
  EXPECT_EQ(renewed, fresh);
  EXPECT_TRUE(net::VerifyChecksums(renewed.data(), renewed.size()).ok());
}

TEST_P(FramesTest, TranslatedRequestIsAcceptedAndItsReplyReachesThePod) {
  const FlowSet flows(TestRanges());
  const FrameTemplate tpl = FrameTemplate::Udp(GetParam(), kMacA, kMacB);
  std::vector<uint8_t> f(tpl.len);
  ExpectedSource pool;
  ASSERT_TRUE(ParsePool("203.0.113.0/26", &pool).ok());
  std::vector<Translation> seen(18000);
  WriteUdpRequest(tpl, flows.Tuple(5), 5, 99, f.data());
  Translate(f.data(), net::Ip4(203, 0, 113, 7), rte_cpu_to_be_16(40000));
  Checked ck{};
  ASSERT_EQ(CheckUdpOutside(f.data(), tpl.len, flows, 18000, pool, seen.data(), &ck),
            Invalid::kNone);
  TurnUdpAround(f.data(), kMacB, kMacA);
  ASSERT_TRUE(net::VerifyChecksums(f.data(), f.size()).ok());
  // The NAT's reverse translation: destination back to the pod.
  uint32_t dst;
  uint16_t dport;
  std::memcpy(&dst, f.data() + 30, 4);
  std::memcpy(&dport, f.data() + 36, 2);
  EXPECT_EQ(dst, net::Ip4(203, 0, 113, 7));
  EXPECT_EQ(dport, rte_cpu_to_be_16(40000));
  const FlowTuple t = flows.Tuple(5);
  uint16_t ipc, udpc;
  std::memcpy(&ipc, f.data() + 24, 2);
  std::memcpy(&udpc, f.data() + 40, 2);
  uint32_t d = net::CsumDeltaAdd32(0, dst, t.pod_ip_be);
  d = net::CsumDeltaAdd16(d, dport, t.sport_be);
  ipc = net::CsumUpdate32(ipc, dst, t.pod_ip_be);
  udpc = net::UdpCsumApplyDelta(udpc, net::CsumFold(d));
  std::memcpy(f.data() + 30, &t.pod_ip_be, 4);
  std::memcpy(f.data() + 36, &t.sport_be, 2);
  std::memcpy(f.data() + 24, &ipc, 2);
  std::memcpy(f.data() + 40, &udpc, 2);
  EXPECT_EQ(CheckUdpInside(f.data(), tpl.len, flows, 18000, &ck), Invalid::kNone);
  EXPECT_EQ(ck.flow_id, 5u);
  EXPECT_EQ(ck.tsc, 99u);
}

INSTANTIATE_TEST_SUITE_P(Sizes, FramesTest, ::testing::Values(60, 61, 590, 1514));

struct BadCase {
  const char* what;
  uint32_t src_ip_be;
  uint16_t src_port;
  int corrupt_offset;  // -1: none
  uint32_t num_flows;
  Invalid expected;
};

TEST(CheckUdpOutsideTest, CountsEveryKindOfBadTranslation) {
  const FlowSet flows(TestRanges());
  const FrameTemplate tpl = FrameTemplate::Udp(60, kMacA, kMacB);
  ExpectedSource pool;
  ASSERT_TRUE(ParsePool("203.0.113.0/26,192.0.2.16-192.0.2.31", &pool).ok());
  pool.port_min = 1024;
  const BadCase cases[] = {
      {"good", net::Ip4(203, 0, 113, 1), 40000, -1, 18000, Invalid::kNone},
      {"second pool range", net::Ip4(192, 0, 2, 20), 40000, -1, 18000, Invalid::kNone},
      {"not in pool", net::Ip4(203, 0, 113, 64), 40000, -1, 18000, Invalid::k_source_not_in_pool},
      {"port below range", net::Ip4(203, 0, 113, 1), 80, -1, 18000,
       Invalid::k_source_port_out_of_range},
      {"bad ip checksum", net::Ip4(203, 0, 113, 1), 40000, 24, 18000, Invalid::k_bad_ip_checksum},
      {"bad udp checksum", net::Ip4(203, 0, 113, 1), 40000, 41, 18000, Invalid::k_bad_l4_checksum},
      {"payload changed", net::Ip4(203, 0, 113, 1), 40000, 52, 18000, Invalid::k_bad_l4_checksum},
      {"flow id beyond --flows", net::Ip4(203, 0, 113, 1), 40000, -1, 3, Invalid::k_bad_flow_id},
  };
  for (const BadCase& k : cases) {
    std::vector<Translation> seen(18000);
    std::vector<uint8_t> f(tpl.len);
    WriteUdpRequest(tpl, flows.Tuple(7), 7, 1, f.data());
    Translate(f.data(), k.src_ip_be, rte_cpu_to_be_16(k.src_port));
    if (k.corrupt_offset >= 0) f[k.corrupt_offset] ^= 0x40;
    Checked ck{};
    EXPECT_EQ(CheckUdpOutside(f.data(), tpl.len, flows, k.num_flows, pool, seen.data(), &ck),
              k.expected)
        << k.what;
  }
}

TEST(CheckUdpOutsideTest, AFlowTranslatedTwoWaysIsInvalid) {
  const FlowSet flows(TestRanges());
  const FrameTemplate tpl = FrameTemplate::Udp(60, kMacA, kMacB);
  ExpectedSource any;
  std::vector<Translation> seen(18000);
  std::vector<uint8_t> f(tpl.len);
  Checked ck{};
  for (uint16_t port : {40000, 40000, 40001}) {
    WriteUdpRequest(tpl, flows.Tuple(3), 3, 1, f.data());
    Translate(f.data(), net::Ip4(203, 0, 113, 1), rte_cpu_to_be_16(port));
    const Invalid r = CheckUdpOutside(f.data(), tpl.len, flows, 18000, any, seen.data(), &ck);
    EXPECT_EQ(r, port == 40000 ? Invalid::kNone : Invalid::k_translation_changed);
  }
  // A different flow may use another translation.
  WriteUdpRequest(tpl, flows.Tuple(4), 4, 1, f.data());
  Translate(f.data(), net::Ip4(203, 0, 113, 1), rte_cpu_to_be_16(40001));
  EXPECT_EQ(CheckUdpOutside(f.data(), tpl.len, flows, 18000, any, seen.data(), &ck),
            Invalid::kNone);
}

TEST(CheckUdpInsideTest, ReplyToAnotherPodIsInvalid) {
  const FlowSet flows(TestRanges());
  const FrameTemplate tpl = FrameTemplate::Udp(60, kMacA, kMacB);
  std::vector<uint8_t> f(tpl.len);
  WriteUdpRequest(tpl, flows.Tuple(2), 2, 1, f.data());
  TurnUdpAround(f.data(), kMacB, kMacA);  // reply addressed to the pod (no NAT in between)
  Checked ck{};
  EXPECT_EQ(CheckUdpInside(f.data(), tpl.len, flows, 18000, &ck), Invalid::kNone);
  // Claims to be flow 2 but arrives at flow 3's pod.
  uint32_t other = flows.Tuple(3).pod_ip_be, dst;
  std::memcpy(&dst, f.data() + 30, 4);
  uint16_t ipc, udpc;
  std::memcpy(&ipc, f.data() + 24, 2);
  std::memcpy(&udpc, f.data() + 40, 2);
  ipc = net::CsumUpdate32(ipc, dst, other);
  udpc = net::UdpCsumApplyDelta(udpc, net::CsumFold(net::CsumDeltaAdd32(0, dst, other)));
  std::memcpy(f.data() + 30, &other, 4);
  std::memcpy(f.data() + 24, &ipc, 2);
  std::memcpy(f.data() + 40, &udpc, 2);
  ASSERT_TRUE(net::VerifyChecksums(f.data(), f.size()).ok());
  EXPECT_EQ(CheckUdpInside(f.data(), tpl.len, flows, 18000, &ck), Invalid::k_wrong_destination);
  // A request (not a reply) arriving inside.
  WriteUdpRequest(tpl, flows.Tuple(2), 2, 1, f.data());
  EXPECT_EQ(CheckUdpInside(f.data(), tpl.len, flows, 18000, &ck), Invalid::k_not_ours);
}

TEST(TcpSegmentTest, ChecksumsValidAndSequenceNumbersReadBack) {
  uint8_t f[kMaxFrameLen];
  for (uint16_t data : {0, 16}) {
    const uint16_t len = WriteTcpSegment(f, kMacA, kMacB, net::Ip4(10, 0, 1, 2),
                                         net::Ip4(198, 51, 100, 10), rte_cpu_to_be_16(3000),
                                         rte_cpu_to_be_16(80), net::kTcpSyn | net::kTcpAck,
                                         0xfffffff0u, 77, data);
    EXPECT_EQ(len, data == 0 ? kMinFrameLen : kTcpHeadersLen + data);
    ASSERT_TRUE(net::VerifyChecksums(f, len).ok()) << net::VerifyChecksums(f, len);
    Checked ck{};
    ASSERT_EQ(CheckTcpHeaders(f, len, &ck), Invalid::kNone);
    EXPECT_EQ(ck.seq, 0xfffffff0u);
    EXPECT_EQ(ck.ack, 77u);
    EXPECT_EQ(ck.tcp_flags, net::kTcpSyn | net::kTcpAck);
    // As the inside sees it: pod 198.51.100.10:80 talking to 10.0.1.2:3000.
    FlowTuple t{net::Ip4(198, 51, 100, 10), net::Ip4(10, 0, 1, 2), rte_cpu_to_be_16(80),
                rte_cpu_to_be_16(3000)};
    EXPECT_EQ(CheckTcpInsideTuple(f, t), Invalid::kNone);
    t.sport_be = rte_cpu_to_be_16(81);
    EXPECT_EQ(CheckTcpInsideTuple(f, t), Invalid::k_wrong_destination);
    t.sport_be = rte_cpu_to_be_16(80);
    t.remote_ip_be = net::Ip4(10, 0, 1, 3);
    EXPECT_EQ(CheckTcpInsideTuple(f, t), Invalid::k_wrong_source);
  }
}

TEST(LatencyHistogramTest, BucketsCoverEveryValueInOrder) {
  for (uint64_t v : {0ull, 1ull, 63ull, 64ull, 65ull, 127ull, 128ull, 1000ull, 123456789ull,
                     (1ull << 44) - 1}) {
    const size_t i = LatencyHistogram::Index(v);
    EXPECT_LE(LatencyHistogram::BucketLow(i), v) << v;
    if (i + 1 < LatencyHistogram::kBuckets) {
      EXPECT_GT(LatencyHistogram::BucketLow(i + 1), v) << v;
    }
  }
  EXPECT_EQ(LatencyHistogram::Index(1ull << 60), LatencyHistogram::kBuckets - 1);
}

TEST(LatencyHistogramTest, PercentilesWithinThreePercent) {
  LatencyHistogram h;
  EXPECT_EQ(h.Percentile(0.99), 0u);
  for (uint64_t v = 1; v <= 100000; ++v) h.Record(v * 10);  // 10 ns .. 1 ms, uniform
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.max(), 1000000u);
  for (double q : {0.5, 0.99, 0.999}) {
    const double want = q * 1e6;
    EXPECT_NEAR(static_cast<double>(h.Percentile(q)), want, want * 0.03) << q;
  }
  LatencyHistogram small;
  small.Record(5);
  small.Record(7);
  EXPECT_EQ(small.Percentile(0.5), 5u);
  EXPECT_EQ(small.Percentile(1.0), 7u);
  small.Merge(h);
  EXPECT_EQ(small.count(), 100002u);
}

rte_mbuf* Frame(uintptr_t i) { return reinterpret_cast<rte_mbuf*>(i * 64); }

// Frames 1..n in order, as out[] holds them.
std::vector<uintptr_t> Ids(rte_mbuf* const* out, uint16_t n) {
  std::vector<uintptr_t> v;
  for (uint16_t i = 0; i < n; ++i) v.push_back(reinterpret_cast<uintptr_t>(out[i]) / 64);
  return v;
}

// The generator's offer: what waits first, then new frames numbered on from `*next`; the port
// takes `accept` of them.
std::vector<uintptr_t> Offer(Backlog<8>* b, uint16_t n, uint16_t accept, uintptr_t* next) {
  rte_mbuf* pkts[8];
  const uint16_t waiting = b->Oldest(n, pkts);
  for (uint16_t i = waiting; i < n; ++i) pkts[i] = Frame((*next)++);
  const uint16_t sent = std::min(accept, n);
  b->Offered(pkts + sent, static_cast<uint16_t>(n - sent));
  return Ids(pkts, sent);
}

TEST(BacklogTest, RefusedFramesGoFirstInOrderNoneLostNoneTwice) {
  Backlog<8> b;
  uintptr_t next = 1;
  EXPECT_EQ(Offer(&b, 8, 3, &next), (std::vector<uintptr_t>{1, 2, 3}));
  EXPECT_EQ(b.size(), 5);
  // Fewer asked for than wait: the oldest go, the refused one stays in front of the rest.
  EXPECT_EQ(Offer(&b, 3, 2, &next), (std::vector<uintptr_t>{4, 5}));
  EXPECT_EQ(b.size(), 3);
  EXPECT_EQ(Offer(&b, 8, 0, &next), (std::vector<uintptr_t>{}));  // 6..8 wait, 9..13 new
  EXPECT_EQ(b.size(), 8);
  EXPECT_EQ(Offer(&b, 2, 2, &next), (std::vector<uintptr_t>{6, 7}));
  EXPECT_EQ(Offer(&b, 8, 8, &next), (std::vector<uintptr_t>{8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(b.size(), 0);
  EXPECT_EQ(Offer(&b, 4, 1, &next), (std::vector<uintptr_t>{16}));
  rte_mbuf* all[8];
  const uint16_t n = b.TakeAll(all);
  EXPECT_EQ(Ids(all, n), (std::vector<uintptr_t>{17, 18, 19}));
  EXPECT_EQ(b.size(), 0);
  EXPECT_EQ(b.TakeAll(all), 0);
}

TEST(BacklogTest, RandomOffersSendEveryFrameOnceInOrder) {
  Backlog<8> b;
  std::mt19937 rng(3);
  uintptr_t next = 1, expected = 1;
  for (int i = 0; i < 100000; ++i) {
    const auto n = static_cast<uint16_t>(rng() % 9);
    const auto accept = static_cast<uint16_t>(rng() % 3 == 0 ? 0 : rng() % 9);
    for (uintptr_t id : Offer(&b, n, accept, &next)) ASSERT_EQ(id, expected++);
    ASSERT_EQ(b.size(), next - expected);
  }
  rte_mbuf* all[8];
  const uint16_t n = b.TakeAll(all);
  for (uintptr_t id : Ids(all, n)) EXPECT_EQ(id, expected++);
  EXPECT_EQ(expected, next);
  EXPECT_GT(next, 100000u);
}

// A port for TxRing::Send that takes up to `room` frames in all, recording them in order, and
// counts the bursts it was offered.
struct FakePort {
  uint32_t room = 0;
  uint32_t calls = 0;
  std::vector<uintptr_t> sent;
  uint16_t operator()(rte_mbuf** pkts, uint16_t n) {
    ++calls;
    const auto took = static_cast<uint16_t>(std::min<uint32_t>(n, room));
    const std::vector<uintptr_t> ids = Ids(pkts, took);
    sent.insert(sent.end(), ids.begin(), ids.end());
    room -= took;
    return took;
  }
};

TEST(TxRingTest, RefusedFramesStayInOrderAcrossTheWrap) {
  TxRing<8> r;
  for (uintptr_t i = 1; i <= 8; ++i) ASSERT_TRUE(r.Push(Frame(i)));
  EXPECT_TRUE(r.full());
  EXPECT_FALSE(r.Push(Frame(99)));  // full: not taken
  FakePort port;
  port.room = 5;
  auto o = r.Send(std::ref(port), 32);
  EXPECT_EQ(o.offered, 8u);
  EXPECT_EQ(o.accepted, 5u);
  EXPECT_EQ(r.size(), 3u);
  for (uintptr_t i = 9; i <= 13; ++i) ASSERT_TRUE(r.Push(Frame(i)));  // 9..13 wrap around
  // A budget of 4: the oldest four offered (6, 7, 8 up to the end of the array, then 9).
  port.room = 100;
  port.calls = 0;
  o = r.Send(std::ref(port), 4);
  EXPECT_EQ(o.offered, 4u);
  EXPECT_EQ(o.accepted, 4u);
  EXPECT_EQ(port.calls, 2u);
  EXPECT_EQ(port.sent, (std::vector<uintptr_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  // The rest: 10..13, in one call from where the last one stopped.
  o = r.Send(std::ref(port), 32);
  EXPECT_EQ(o.accepted, 4u);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(port.sent.back(), 13u);
  // TakeAll hands out what waits, oldest first, across the wrap.
  for (uintptr_t i = 14; i <= 20; ++i) ASSERT_TRUE(r.Push(Frame(i)));
  port.room = 3;
  r.Send(std::ref(port), 32);
  std::vector<uintptr_t> taken;
  EXPECT_EQ(r.TakeAll([&](rte_mbuf** pkts, uint32_t n) {
    const std::vector<uintptr_t> ids = Ids(pkts, static_cast<uint16_t>(n));
    taken.insert(taken.end(), ids.begin(), ids.end());
  }), 4u);
  EXPECT_EQ(taken, (std::vector<uintptr_t>{17, 18, 19, 20}));
  EXPECT_EQ(r.size(), 0u);
}

TEST(TxRingTest, RandomPushesAndSendsLoseNoFrameAndKeepOrder) {
  TxRing<16> r;
  std::mt19937 rng(5);
  FakePort port;
  uintptr_t next = 1;
  for (int i = 0; i < 100000; ++i) {
    for (uint32_t k = rng() % 12; k > 0; --k) {
      if (!r.Push(Frame(next))) {
        ASSERT_EQ(r.size(), 16u);
        break;
      }
      ++next;
    }
    port.room = rng() % 3 == 0 ? 0 : rng() % 20;
    const size_t before = port.sent.size();
    const uint32_t budget = 1 + rng() % 20;
    const auto o = r.Send(std::ref(port), budget);
    ASSERT_LE(o.offered, budget);
    ASSERT_EQ(o.accepted, port.sent.size() - before);
    ASSERT_EQ(r.size(), next - 1 - port.sent.size());
  }
  for (size_t i = 0; i < port.sent.size(); ++i) ASSERT_EQ(port.sent[i], i + 1);
  EXPECT_GT(port.sent.size(), 100000u);
}

TEST(OptionsTest, RangesPoolsMacsAndSizes) {
  auto r = ParseIpRange("192.0.2.16/28");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count(), 16u);
  r = ParseIpRange("10.0.1.1-10.0.1.254");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count(), 254u);
  EXPECT_EQ(ParseIpRange("198.51.100.10")->count(), 1u);
  EXPECT_FALSE(ParseIpRange("192.0.2.17/28").ok());
  EXPECT_FALSE(ParseIpRange("192.0.2.9-192.0.2.1").ok());
  EXPECT_FALSE(ParseIpRange("nope").ok());
  EXPECT_EQ(ParsePortRange("1024-65535")->count(), 64512u);
  EXPECT_FALSE(ParsePortRange("0-10").ok());
  EXPECT_FALSE(ParsePortRange("10-9").ok());
  auto mac = ParseMac("02:00:00:00:00:0a");
  ASSERT_TRUE(mac.ok());
  EXPECT_TRUE(rte_is_same_ether_addr(&*mac, &kMacA));
  EXPECT_FALSE(ParseMac("02:00:00:00:00").ok());
  auto imix = ParseFrameSizes("imix");
  ASSERT_TRUE(imix.ok());
  EXPECT_EQ(imix->size(), 12u);
  EXPECT_EQ(std::count(imix->begin(), imix->end(), 60), 7);
  EXPECT_EQ(std::count(imix->begin(), imix->end(), 590), 4);
  EXPECT_EQ(*ParseFrameSizes("64,1518"), (std::vector<uint16_t>{60, 1514}));
  EXPECT_FALSE(ParseFrameSizes("63").ok());
}

}  // namespace
}  // namespace natgw::loadgen
