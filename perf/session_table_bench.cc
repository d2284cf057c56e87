// Session table microbenchmarks, against DPDK's lock-free rte_hash as the baseline.
//
// The argument is a number of sessions N. Every structure holds the same 2N keys (each session's
// inside and outside key) and answers the same query stream: random existing keys in random
// order, copied into a contiguous array so reading the query costs what reading a packet header
// would (nothing), in bursts of 32.
//
// rte_hash lives in EAL memory. By default the EAL runs without hugepages (--no-huge, 4 KiB pages
// backed by a memfd), while the session table maps transparent huge pages itself. For a like-for-
// like run on a host with hugetlbfs, set NATGW_BENCH_EAL_ARGS, e.g. "--huge-dir=/dev/hugepages
// -m 4096". Usage:
//   natgw_table_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <pthread.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "lib/conntrack/session_table.h"
#include "lib/dataplane/eal_runtime.h"

namespace natgw::conntrack {
namespace {

constexpr uint32_t kBurst = 32;
constexpr size_t kQueries = size_t{1} << 20;  // power of two

// The 2N keys of N sessions and a query stream over them.
struct KeySet {
  std::vector<FlowKey> in, out;
  std::vector<FlowKey> queries;
};

FlowKey RandomKey(std::mt19937_64& rng, bool out) {
  const uint64_t a = rng(), b = rng();
  return FlowKey{.src_ip = static_cast<uint32_t>(a),
                 .dst_ip = static_cast<uint32_t>(a >> 32),
                 .src_port = static_cast<uint16_t>(b),
                 .dst_port = static_cast<uint16_t>(b >> 16),
                 .realm = static_cast<uint16_t>(out ? kOutsideRealm : (b >> 32) % 16),
                 .proto = static_cast<uint8_t>((b >> 40) & 1 ? 6 : 17),
                 .flags = 0};
}

struct TableFixture {
  std::unique_ptr<SessionTable> table;
  KeySet keys;
};

std::mutex g_mu;

long AnonHugeKb() {
  std::ifstream f("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("AnonHugePages:", 0) == 0) return std::atol(line.c_str() + 14);
  }
  return -1;
}

// Builds (once per N, shared by all benchmarks and threads) a full table of N sessions.
TableFixture& GetTable(uint32_t n) {
  static std::map<uint32_t, std::unique_ptr<TableFixture>> cache;
  std::lock_guard<std::mutex> lock(g_mu);
  auto& slot = cache[n];
  if (slot) return *slot;
  slot = std::make_unique<TableFixture>();
  TableFixture& f = *slot;
  const long thp_before = AnonHugeKb();
  auto t = SessionTable::Create({.max_sessions = n, .num_workers = 1});
  if (!t.ok()) {
    std::fprintf(stderr, "SessionTable::Create(%u): %s\n", n, t.status().ToString().c_str());
    std::abort();
  }
  f.table = std::move(t).value();
  std::mt19937_64 rng(n);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t idx = f.table->Alloc(0);
    Session& s = f.table->session(idx);
    InsertResult r;
    do {
      s.in_key = RandomKey(rng, false);
      s.out_key = RandomKey(rng, true);
      r = f.table->Insert(idx, i % 2 == 1, nullptr);
    } while (r == InsertResult::kFirstKeyExists || r == InsertResult::kSecondKeyExists);
    if (r != InsertResult::kOk) {
      std::fprintf(stderr, "insert %u of %u failed: table full\n", i, n);
      std::abort();
    }
    f.keys.in.push_back(s.in_key);
    f.keys.out.push_back(s.out_key);
  }
  f.keys.queries.resize(kQueries);
  for (auto& q : f.keys.queries) {
    const uint32_t i = static_cast<uint32_t>(rng() % n);
    q = rng() & 1 ? f.keys.out[i] : f.keys.in[i];
  }
  // Every query must hit.
  for (const FlowKey& q : f.keys.queries) {
    if (f.table->Lookup(q) == kMiss) {
      std::fprintf(stderr, "fixture lookup missed\n");
      std::abort();
    }
  }
  std::fprintf(stderr, "[table %u sessions: %zu bytes, %.1f bytes/session, THP +%ld MiB]\n", n,
               f.table->MemoryBytes(), static_cast<double>(f.table->MemoryBytes()) / n,
               (AnonHugeKb() - thp_before) / 1024);
  return f;
}

void SetCounters(benchmark::State& state, const SessionTable& t) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
  state.counters["bytes_per_session"] =
      static_cast<double>(t.MemoryBytes()) / static_cast<double>(t.capacity());
  // Seconds per lookup, printed with an SI prefix ("25.1n" = 25.1 ns).
  state.counters["time_per_lookup"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kBurst,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_SessionTableLookupBulk(benchmark::State& state) {
  TableFixture& f = GetTable(static_cast<uint32_t>(state.range(0)));
  const FlowKey* q = f.keys.queries.data();
  size_t pos = 0;
  const FlowKey* keys[kBurst];
  uint32_t refs[kBurst];
  for (auto _ : state) {
    for (uint32_t i = 0; i < kBurst; ++i) keys[i] = &q[pos + i];
    f.table->LookupBulk(keys, kBurst, refs);
    benchmark::DoNotOptimize(refs);
    pos = (pos + kBurst) & (kQueries - 1);
  }
  SetCounters(state, *f.table);
}
BENCHMARK(BM_SessionTableLookupBulk)->Arg(1000)->Arg(1000000)->Arg(10000000);

void BM_SessionTableLookupBulkThreads(benchmark::State& state) {
  TableFixture& f = GetTable(static_cast<uint32_t>(state.range(0)));
  const FlowKey* q = f.keys.queries.data();
  size_t pos = (static_cast<size_t>(state.thread_index()) * (kQueries / 2)) & (kQueries - 1);
  const FlowKey* keys[kBurst];
  uint32_t refs[kBurst];
  for (auto _ : state) {
    for (uint32_t i = 0; i < kBurst; ++i) keys[i] = &q[pos + i];
    f.table->LookupBulk(keys, kBurst, refs);
    benchmark::DoNotOptimize(refs);
    pos = (pos + kBurst) & (kQueries - 1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}
BENCHMARK(BM_SessionTableLookupBulkThreads)
    ->Arg(1000)
    ->Arg(1000000)
    ->ThreadRange(1, 16)  // 1, 2, 4, 8, 16 workers: run it where there are that many cores
    ->UseRealTime();

// Inserts into an empty table up to 90 % of its capacity, then empties it (untimed) and repeats.
void BM_SessionTableInsert(benchmark::State& state) {
  const uint32_t n = static_cast<uint32_t>(state.range(0));
  auto t = SessionTable::Create({.max_sessions = n, .num_workers = 1});
  if (!t.ok()) {
    state.SkipWithError("SessionTable::Create failed");
    return;
  }
  SessionTable& table = **t;
  std::mt19937_64 rng(42);
  const uint32_t fill = n / 10 * 9;
  std::vector<FlowKey> in(fill), out(fill);
  for (uint32_t i = 0; i < fill; ++i) {
    in[i] = RandomKey(rng, false);
    out[i] = RandomKey(rng, true);
  }
  std::vector<uint32_t> live;
  live.reserve(fill);
  uint64_t failed = 0;
  for (auto _ : state) {
    if (live.size() == fill) {
      state.PauseTiming();
      for (uint32_t idx : live) {
        table.Unlink(idx);
        table.Free(idx);
      }
      live.clear();
      state.ResumeTiming();
    }
    const uint32_t i = static_cast<uint32_t>(live.size());
    const uint32_t idx = table.Alloc(0);
    Session& s = table.session(idx);
    s.in_key = in[i];
    s.out_key = out[i];
    if (table.Insert(idx, false, nullptr) != InsertResult::kOk) ++failed;
    live.push_back(idx);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["failed"] = static_cast<double>(failed);
  state.counters["bytes_per_session"] =
      static_cast<double>(table.MemoryBytes()) / static_cast<double>(table.capacity());
}
BENCHMARK(BM_SessionTableInsert)->Arg(1000)->Arg(1000000);

// rte_hash, lock-free reader/writer mode, holding the same 2N keys; data = the session ref.
struct RteHashFixture {
  rte_hash* hash = nullptr;
  const KeySet* keys = nullptr;
};

RteHashFixture& GetRteHash(uint32_t n) {
  static std::map<uint32_t, RteHashFixture> cache;
  TableFixture& t = GetTable(n);
  std::lock_guard<std::mutex> lock(g_mu);
  RteHashFixture& f = cache[n];
  if (f.hash != nullptr) return f;
  f.keys = &t.keys;
  const std::string name = "bench_" + std::to_string(n);
  rte_hash_parameters p{};
  p.name = name.c_str();
  p.entries = 2 * n;
  p.key_len = sizeof(FlowKey);
  p.hash_func = rte_hash_crc;
  p.hash_func_init_val = 0;
  p.socket_id = static_cast<int>(rte_socket_id());
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
  rte_malloc_socket_stats before{}, after{};
  rte_malloc_get_socket_stats(p.socket_id, &before);
  f.hash = rte_hash_create(&p);
  if (f.hash == nullptr) {
    std::fprintf(stderr, "rte_hash_create(%u entries) failed: %s (raise -m?)\n", 2 * n,
                 rte_strerror(rte_errno));
    std::abort();
  }
  for (uint32_t i = 0; i < n; ++i) {
    const int a = rte_hash_add_key_data(f.hash, &t.keys.in[i],
                                        reinterpret_cast<void*>(uintptr_t{MakeRef(i, false)}));
    const int b = rte_hash_add_key_data(f.hash, &t.keys.out[i],
                                        reinterpret_cast<void*>(uintptr_t{MakeRef(i, true)}));
    if (a != 0 || b != 0) {
      std::fprintf(stderr, "rte_hash_add_key_data failed at %u: %d %d\n", i, a, b);
      std::abort();
    }
  }
  rte_malloc_get_socket_stats(p.socket_id, &after);
  std::fprintf(stderr, "[rte_hash %u keys: %zu bytes, %.1f bytes/session]\n", 2 * n,
               after.heap_allocsz_bytes - before.heap_allocsz_bytes,
               static_cast<double>(after.heap_allocsz_bytes - before.heap_allocsz_bytes) / n);
  return f;
}

void BM_RteHashLookupBulkLF(benchmark::State& state) {
  RteHashFixture& f = GetRteHash(static_cast<uint32_t>(state.range(0)));
  const FlowKey* q = f.keys->queries.data();
  size_t pos = 0;
  const void* keys[kBurst];
  void* data[kBurst];
  uint64_t hit_mask = 0;
  for (auto _ : state) {
    for (uint32_t i = 0; i < kBurst; ++i) keys[i] = &q[pos + i];
    rte_hash_lookup_bulk_data(f.hash, keys, kBurst, &hit_mask, data);
    benchmark::DoNotOptimize(data);
    benchmark::DoNotOptimize(hit_mask);
    pos = (pos + kBurst) & (kQueries - 1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
  // Seconds per lookup, printed with an SI prefix ("25.1n" = 25.1 ns).
  state.counters["time_per_lookup"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kBurst,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RteHashLookupBulkLF)->Arg(1000)->Arg(1000000)->Arg(10000000);

// The machine's load-to-use latency for one cache line at random in a working set of N MiB
// (transparent huge pages, as the session table uses): a chase through a random cycle of every
// line, so each load waits for the one before. Within the caches it is a few ns; beyond them it
// is what each of a lookup's two misses (bucket, session) costs. scripts/bench.sh prints it in
// its report.
void BM_MemoryLatency(benchmark::State& state) {
  constexpr size_t kLine = 64;
  constexpr size_t kHuge = 2u << 20;
  const size_t bytes = static_cast<size_t>(state.range(0)) << 20;
  const size_t lines = bytes / kLine;
  const size_t mapped = (bytes + kHuge - 1) / kHuge * kHuge;  // aligned_alloc: a multiple
  auto* mem = static_cast<char*>(std::aligned_alloc(kHuge, mapped));
  if (mem == nullptr) {
    state.SkipWithError("out of memory");
    return;
  }
  madvise(mem, mapped, MADV_HUGEPAGE);
  std::vector<uint32_t> order(lines);
  for (size_t i = 0; i < lines; ++i) order[i] = static_cast<uint32_t>(i);
  std::shuffle(order.begin() + 1, order.end(), std::mt19937(7));
  for (size_t i = 0; i < lines; ++i) {
    char* at = mem + size_t{order[i]} * kLine;
    char* next = mem + size_t{order[(i + 1) % lines]} * kLine;
    std::memcpy(at, &next, sizeof(next));
  }
  constexpr int kChase = 4096;
  char* p = mem;
  for (auto _ : state) {
    for (int i = 0; i < kChase; ++i) std::memcpy(&p, p, sizeof(p));
    benchmark::DoNotOptimize(p);
  }
  state.counters["ns_per_load"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kChase,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  std::free(mem);
}
BENCHMARK(BM_MemoryLatency)->Arg(1)->Arg(8)->Arg(256)->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace natgw::conntrack

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  std::vector<std::string> eal_args = {"natgw_table_bench", "--no-pci", "--no-telemetry",
                                       "--log-level=lib.eal:error",
                                       "--file-prefix=natgw-bench-" + std::to_string(getpid())};
  const char* extra = std::getenv("NATGW_BENCH_EAL_ARGS");
  std::istringstream extra_args(extra != nullptr ? extra : "--no-huge --no-shconf -m 4096");
  for (std::string a; extra_args >> a;) eal_args.push_back(a);
  std::vector<char*> eal_argv;
  for (auto& a : eal_args) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "rte_eal_init failed\n");
    return 1;
  }
  // The EAL pinned this thread to one core; benchmark threads inherit the mask, so without this
  // ->Threads(2) would run both threads on the same core.
  cpu_set_t all;
  CPU_ZERO(&all);
  for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN) && c < CPU_SETSIZE; ++c) CPU_SET(c, &all);
  pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  natgw::dataplane::CleanupEal();
  return 0;
}
