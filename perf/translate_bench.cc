// Translation benchmarks: established flows (in2out and out2in mixed) at 1k..10M sessions, and
// new-session creation. Single core, bursts of kMaxBurst (64), 64-byte UDP frames already in
// memory.
//
// Each flow owns one 64-byte frame. A pass visits all frames in memory order in bursts
// (the flows were created in random order, so table accesses are random);
// after translation the frame's addresses and ports are swapped (which leaves every checksum
// valid) and its TTL restored, so the next pass sends it back the other way. Passes alternate
// in2out and out2in, so the mix is half and half. The swap is counted in the time per packet.
// The engine needs no EAL: frames are pointed to by plain rte_mbuf headers.
#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "lib/nat/engine.h"
#include "lib/nat/worker.h"
#include "lib/net/builder.h"
#include "lib/net/checksum.h"

namespace natgw::nat {
namespace {

constexpr uint32_t kFrameBytes = 64;
constexpr uint32_t kPortsPerPod = 8;

NatConfig BenchConfig() {
  NatConfig c;
  c.islands = {
      IslandConfig{1, "bench", {Cidr{net::ParseIp("10.0.0.0"), 8}}, net::ParseIp("10.0.0.1")}};
  EgressPoolConfig pool;
  pool.island = 1;
  for (uint32_t i = 0; i < 128; ++i) {  // 203.0.113.0/25: 128 x 64512 ports
    pool.addresses.push_back(rte_cpu_to_be_32((203u << 24) | (0u << 16) | (113u << 8) | i));
  }
  c.egress_pools = {pool};
  c.outside_gateway_ip = net::ParseIp("192.0.2.1");
  return c;
}

uint32_t PodIp(uint32_t flow) { return rte_cpu_to_be_32((10u << 24) + 2 + flow / kPortsPerPod); }

// A benchmark's fake mbufs: headers only, pointed at the frames of the current burst.
struct FakeMbufs {
  FakeMbufs() {
    for (auto& m : mbufs) {
      std::memset(&m, 0, sizeof(m));
      m.nb_segs = 1;
      m.data_len = kFrameBytes;
      m.pkt_len = kFrameBytes;
      ptrs[&m - mbufs] = &m;
    }
  }
  void Point(uint32_t i, uint8_t* frame) { mbufs[i].buf_addr = frame; }
  alignas(64) rte_mbuf mbufs[kMaxBurst];
  rte_mbuf* ptrs[kMaxBurst];
};

// Swaps source and destination (addresses and ports) and restores TTL 64.
inline void TurnAround(uint8_t* frame) {
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(frame + sizeof(rte_ether_hdr));
  const uint32_t a = ip->src_addr;
  ip->src_addr = ip->dst_addr;
  ip->dst_addr = a;
  uint16_t old_w, new_w;
  std::memcpy(&old_w, &ip->time_to_live, 2);
  ip->time_to_live = 64;
  std::memcpy(&new_w, &ip->time_to_live, 2);
  ip->hdr_checksum = net::CsumUpdate16(ip->hdr_checksum, old_w, new_w);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
  const uint16_t p = udp->src_port;
  udp->src_port = udp->dst_port;
  udp->dst_port = p;
}

struct Flows {
  std::unique_ptr<Engine> engine;
  std::unique_ptr<uint8_t[]> frames;
  uint32_t n = 0;
  bool outside_next = false;  // direction of the current pass
  uint32_t pos = 0;           // next burst of the current pass (kept across benchmark runs)
  uint8_t* frame(uint32_t f) { return frames.get() + size_t{f} * kFrameBytes; }
};

// Creates `sessions` sessions at second 1: sessions/2 egress flows (each holds a flow session
// and its endpoint-independent binding).
std::unique_ptr<Flows> MakeFlows(uint32_t sessions) {
  auto fl = std::make_unique<Flows>();
  fl->n = sessions / 2;
  EngineConfig ec;
  ec.max_sessions = sessions + sessions / 8 + 1024;
  ec.num_workers = 1;
  ec.max_pods = 1 << 20;
  auto e = Engine::Create(ec, BenchConfig());
  if (!e.ok()) std::abort();
  fl->engine = std::move(*e);
  // Frames sit in huge pages, like a NIC's mbuf pool in hugepage memory.
  {
    const size_t bytes = (size_t{fl->n} * kFrameBytes + (2u << 20) - 1) & ~size_t{(2u << 20) - 1};
    void* p = std::aligned_alloc(2u << 20, bytes);
    if (p == nullptr) std::abort();
    madvise(p, bytes, MADV_HUGEPAGE);
    fl->frames.reset(static_cast<uint8_t*>(p));
  }
  const auto proto = net::PacketBuilder()
                         .Ipv4("10.0.0.2", "198.51.100.1")
                         .Udp(1024, 53)
                         .PayloadSize(kFrameBytes - 14 - 20 - 8)
                         .Build();
  for (uint32_t f = 0; f < fl->n; ++f) {
    uint8_t* fr = fl->frame(f);
    std::memcpy(fr, proto.data(), kFrameBytes);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(fr + 14);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    const uint32_t src = PodIp(f);
    const uint32_t dst = rte_cpu_to_be_32((198u << 24) | (51u << 16) | (100u << 8) | (1 + f % 200));
    const uint16_t sport = rte_cpu_to_be_16(static_cast<uint16_t>(1024 + f % kPortsPerPod));
    ip->hdr_checksum = net::CsumUpdate32(ip->hdr_checksum, ip->src_addr, src);
    ip->hdr_checksum = net::CsumUpdate32(ip->hdr_checksum, ip->dst_addr, dst);
    udp->dgram_cksum = net::UdpCsumApplyDelta(
        udp->dgram_cksum,
        net::CsumFold(net::CsumDeltaAdd16(
            net::CsumDeltaAdd32(net::CsumDeltaAdd32(0, ip->src_addr, src), ip->dst_addr, dst),
            udp->src_port, sport)));
    ip->src_addr = src;
    ip->dst_addr = dst;
    udp->src_port = sport;
  }
  // Create the sessions in a random order, so that the pool slots and buckets of consecutive
  // frames are unrelated; then turn every frame around.
  std::vector<uint32_t> order(fl->n);
  for (uint32_t f = 0; f < fl->n; ++f) order[f] = f;
  std::shuffle(order.begin(), order.end(), std::mt19937(42));
  Worker& w = fl->engine->worker(0);
  FakeMbufs fm;
  BurstResult r;
  for (uint32_t k = 0; k < fl->n; k += kMaxBurst) {
    const uint16_t cnt = static_cast<uint16_t>(std::min<uint32_t>(kMaxBurst, fl->n - k));
    for (uint16_t i = 0; i < cnt; ++i) fm.Point(i, fl->frame(order[k + i]));
    w.ProcessBurst(Side::Inside(1), fm.ptrs, cnt, 1, &r);
    for (uint16_t i = 0; i < cnt; ++i) {
      if (r.verdicts[i].action != Action::kToOutside) {
        std::fprintf(stderr, "setup: flow %u dropped: %s\n", order[k + i],
                     DropReasonName(r.verdicts[i].reason));
        std::abort();
      }
      TurnAround(fl->frame(order[k + i]));
    }
  }
  fl->outside_next = true;
  fl->pos = 0;
  return fl;
}

// MakeFlows, cached per size: setup at 10M takes seconds.
Flows& GetFlows(uint32_t sessions) {
  static std::map<uint32_t, std::unique_ptr<Flows>> cache;
  auto& slot = cache[sessions];
  if (slot) return *slot;
  cache.clear();  // one size in memory at a time
  return *(cache[sessions] = MakeFlows(sessions));
}

void BM_TranslateEstablished(benchmark::State& state) {
  Flows& fl = GetFlows(static_cast<uint32_t>(state.range(0)));
  Worker& w = fl.engine->worker(0);
  FakeMbufs fm;
  BurstResult r;
  uint64_t bad = 0;
  const uint32_t pass_len = fl.n / kMaxBurst * kMaxBurst;  // whole bursts, so passes line up
  for (auto _ : state) {
    // Frames are visited in memory order, like a NIC's receive ring; their flows are in random
    // order relative to the table (see GetFlows).
    for (uint32_t i = 0; i < kMaxBurst; ++i) fm.Point(i, fl.frame(fl.pos + i));
    // A NIC's DMA leaves received frames in cache (DDIO); fetch the next burst's now.
    if (fl.pos + kMaxBurst < pass_len) {
      for (uint32_t i = 0; i < kMaxBurst; ++i) rte_prefetch0(fl.frame(fl.pos + kMaxBurst + i));
    }
    const Side side = fl.outside_next ? Side::Outside() : Side::Inside(1);
    w.ProcessBurst(side, fm.ptrs, kMaxBurst, 2, &r);
    for (uint32_t i = 0; i < kMaxBurst; ++i) {
      if (ABSL_PREDICT_FALSE(r.verdicts[i].action == Action::kDrop) && bad++ == 0) {
        std::fprintf(stderr, "dropped: %s\n", DropReasonName(r.verdicts[i].reason));
      }
      TurnAround(fl.frame(fl.pos + i));
    }
    fl.pos += kMaxBurst;
    if (fl.pos == pass_len) {
      fl.pos = 0;
      fl.outside_next = !fl.outside_next;
    }
  }
  if (bad != 0) {
    std::fprintf(stderr, "%lu drops\n", static_cast<unsigned long>(bad));
    state.SkipWithError("packets were dropped");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kMaxBurst);
  state.counters["sessions"] = static_cast<double>(fl.engine->table().InUse());
  state.counters["bytes_per_session"] =
      static_cast<double>(fl.engine->table().MemoryBytes()) / fl.engine->table().capacity();
  state.counters["ns_per_packet"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kMaxBurst,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TranslateEstablished)
    ->Arg(1000)
    ->Arg(1000000)
    ->Arg(10000000)
    ->Unit(benchmark::kNanosecond);

// The harness alone: the same frame walk and turn-around as BM_TranslateEstablished, without the
// engine. Subtract it to get the translation's own cost per packet.
void BM_TranslateHarnessOnly(benchmark::State& state) {
  Flows& fl = GetFlows(static_cast<uint32_t>(state.range(0)));
  FakeMbufs fm;
  const uint32_t pass_len = fl.n / kMaxBurst * kMaxBurst;
  uint32_t pos = 0;
  for (auto _ : state) {
    for (uint32_t i = 0; i < kMaxBurst; ++i) fm.Point(i, fl.frame(pos + i));
    benchmark::DoNotOptimize(fm.ptrs);
    // Two turn-arounds leave the frame as it was, so the table benchmark's state is untouched.
    for (uint32_t i = 0; i < kMaxBurst; ++i) TurnAround(fl.frame(pos + i));
    for (uint32_t i = 0; i < kMaxBurst; ++i) TurnAround(fl.frame(pos + i));
    pos += kMaxBurst;
    if (pos == pass_len) pos = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kMaxBurst);
  state.counters["ns_per_packet_x2"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kMaxBurst,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TranslateHarnessOnly)->Arg(1000000)->Unit(benchmark::kNanosecond);

// The expiry sweep over a table of live flows, one Maintain() call per iteration, as many calls
// as one pass over the table takes at the default budget (64 sessions a call). Arg: the
// sessions' age in seconds. At 1 s they are younger than the shortest timeout (60 s) and the
// sweep examines none; at 61 s it examines every one once, each a cache miss: what every call
// cost during a table's first pass before young sessions were left alone, and what the first
// examination of each session costs now. Each run builds its own table (untimed).
constexpr uint32_t kSweepSessions = 1000000;
void BM_SweepOnePass(benchmark::State& state) {
  const std::unique_ptr<Flows> fl = MakeFlows(kSweepSessions);
  Worker& w = fl->engine->worker(0);
  const uint32_t now_s = 1 + static_cast<uint32_t>(state.range(0));  // created at 1
  const uint64_t young = w.sessions().young();
  for (auto _ : state) w.Maintain(now_s);
  state.counters["young_before"] = static_cast<double>(young);
  state.counters["young_after"] = static_cast<double>(w.sessions().young());
  state.counters["ns_per_call"] = benchmark::Counter(
      static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SweepOnePass)
    ->Arg(1)
    ->Arg(61)
    ->Iterations(kSweepSessions / EngineConfig{}.sweep_budget)
    ->Unit(benchmark::kNanosecond);

// New flows through the slow path, one burst of kMaxBurst new flows per iteration. kind 0: egress
// flows, each creating a flow session and its endpoint-independent binding (policy, port
// allocation, four keys inserted). kind 1: flows of pods with a 1:1 mapping (policy, one session,
// both keys). The table is rebuilt, untimed, when it fills.
void BM_CreateFlow(benchmark::State& state) {
  const bool pod_mapping = state.range(0) == 1;
  constexpr uint32_t kCapacity = 1 << 20;
  constexpr uint32_t kMappedPods = 4096;
  EngineConfig ec;
  ec.max_sessions = kCapacity;
  ec.num_workers = 1;
  ec.max_pods = 1 << 20;
  NatConfig nc = BenchConfig();
  if (pod_mapping) {
    for (uint32_t i = 0; i < kMappedPods; ++i) {  // unique addresses 172.16.0.0/20 (in memory only)
      const uint32_t ext = 172u << 24 | 16u << 16 | (i >> 8) << 8 | (i & 255);
      nc.pod_mappings.push_back({1, PodIp(i * kPortsPerPod), rte_cpu_to_be_32(ext), "", ""});
    }
  }
  std::unique_ptr<Engine> engine;
  std::unique_ptr<uint8_t[]> frames(new (std::align_val_t{64}) uint8_t[kMaxBurst * kFrameBytes]);
  const auto proto = net::PacketBuilder().Ipv4("10.0.0.2", "192.0.2.200").Udp(1024, 53)
                         .PayloadSize(kFrameBytes - 42).Build();
  FakeMbufs fm;
  BurstResult r;
  uint32_t flow = 0;
  uint64_t bad = 0;
  const uint32_t flows_per_table = pod_mapping ? kCapacity - 1024 : kCapacity / 2 - 1024;
  for (auto _ : state) {
    if (engine == nullptr || flow + kMaxBurst > flows_per_table) {
      state.PauseTiming();
      engine.reset();
      engine = std::move(*Engine::Create(ec, nc));
      flow = 0;
      state.ResumeTiming();
    }
    for (uint32_t i = 0; i < kMaxBurst; ++i, ++flow) {
      uint8_t* fr = frames.get() + i * kFrameBytes;
      std::memcpy(fr, proto.data(), kFrameBytes);
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(fr + 14);
      // Egress: every flow a new pod endpoint. 1:1: flows spread over the mapped pods.
      const uint32_t src = pod_mapping ? PodIp((flow % kMappedPods) * kPortsPerPod) : PodIp(flow);
      const uint16_t sport = static_cast<uint16_t>(
          pod_mapping ? 1024 + flow / kMappedPods : 1024 + flow % kPortsPerPod);
      ip->hdr_checksum = net::CsumUpdate32(ip->hdr_checksum, ip->src_addr, src);
      ip->src_addr = src;
      reinterpret_cast<rte_udp_hdr*>(ip + 1)->src_port = rte_cpu_to_be_16(sport);
      fm.Point(i, fr);
    }
    engine->worker(0).ProcessBurst(Side::Inside(1), fm.ptrs, kMaxBurst, 1, &r);
    for (uint32_t i = 0; i < kMaxBurst; ++i) bad += r.verdicts[i].action == Action::kDrop;
  }
  if (bad != 0) state.SkipWithError("new flows were dropped");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kMaxBurst);
  state.SetLabel(pod_mapping ? "1:1 pod mapping" : "egress pool");
  state.counters["ns_per_flow"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kMaxBurst,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_CreateFlow)->Arg(0)->Arg(1)->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace natgw::nat

BENCHMARK_MAIN();
