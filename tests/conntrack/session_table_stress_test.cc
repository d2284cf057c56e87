// Concurrency stress: several threads, each a worker owning a slice and an RCU reader, insert,
// look up (their own and each other's keys), flush, expire and free sessions at once. Readers
// check every hit while online: the key must equal the looked-up key and the session must not have
// been released (Release poisons it), i.e. no lookup ever sees a freed or reused session.
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lib/conntrack/session_table.h"
#include "lib/conntrack/worker_sessions.h"

namespace natgw::conntrack {
namespace {

constexpr uint32_t kWorkers = 3;
constexpr uint32_t kSlice = 4096;
constexpr uint32_t kPoison = 0xdeadbeef;
constexpr auto kDuration = std::chrono::milliseconds(2500);

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Keys are unique per (worker, seq): in_key by (src_ip, realm), out_key by (dst_ip, dst_port).
FlowKey KeyFor(uint32_t w, uint32_t seq, bool out) {
  const uint64_t r = Mix((uint64_t{w} << 32) | seq);
  if (!out) {
    return FlowKey{.src_ip = seq, .dst_ip = static_cast<uint32_t>(r),
                   .src_port = static_cast<uint16_t>(r >> 32), .dst_port = 443,
                   .realm = static_cast<uint16_t>(w), .proto = 6, .flags = 0};
  }
  return FlowKey{.src_ip = static_cast<uint32_t>(r >> 24), .dst_ip = seq,
                 .src_port = static_cast<uint16_t>(r >> 48), .dst_port = static_cast<uint16_t>(w),
                 .realm = kOutsideRealm, .proto = 6, .flags = 0};
}

uint32_t Fingerprint(uint32_t w, uint32_t seq) {
  return static_cast<uint32_t>(Mix((uint64_t{seq} << 8) | w) >> 17) & 0x7fffffff;
}

// Expiry at Session::last_seen_s (absolute, in sweep loops); Release poisons the session.
class StressPolicy : public SessionPolicy {
 public:
  bool Expired(const Session& s, uint32_t now_s) const override {
    return now_s >= s.last_seen_s.load(std::memory_order_relaxed);
  }
  void Release(Session& s) override {
    if (s.aux1 == kPoison) ++double_releases;
    s.aux1 = kPoison;
    std::memset(static_cast<void*>(&s.in_key), 0xa5, sizeof(FlowKey));
    std::memset(static_cast<void*>(&s.out_key), 0x5a, sizeof(FlowKey));
    ++releases;
  }
  uint64_t releases = 0;
  uint64_t double_releases = 0;
};

struct Shared {
  SessionTable* table;
  rte_rcu_qsbr* qsbr;
  std::atomic<bool> stop{false};
  std::atomic<uint32_t> published[kWorkers] = {};  // highest seq worker w has inserted
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> full{0};
};

struct WorkerStats {
  uint64_t inserted = 0;
  uint64_t duplicates_rejected = 0;
  uint64_t duplicates_inserted = 0;
  uint64_t alloc_failures = 0;
  uint64_t loops = 0;
};

struct Probe {
  FlowKey key;
  uint32_t fingerprint;
};

class Worker {
 public:
  Worker(Shared* shared, uint32_t w, WorkerSessions* ws)
      : sh_(shared), w_(w), ws_(ws), rng_(1000 + w) {}

  void Run() {
    SessionTable& t = *sh_->table;
    rte_rcu_qsbr_thread_register(sh_->qsbr, w_);
    rte_rcu_qsbr_thread_online(sh_->qsbr, w_);
    uint32_t now = 0;
    while (!sh_->stop.load(std::memory_order_relaxed)) {
      ++now;
      for (int k = 0; k < 4; ++k) {
        if (!Create(w_, ++seq_, now)) break;
      }
      if (rng_() % 8 == 0) Duplicate(now);
      // Two bulk batches in one read-side critical section; the first batch's hits are checked
      // again after the second, still before this thread reports quiescence.
      uint32_t refs_a[32], refs_b[32];
      Probe probes_a[32], probes_b[32];
      LookupBatch(probes_a, refs_a);
      LookupBatch(probes_b, refs_b);
      Verify(probes_a, refs_a, 32);
      for (int i = 0; i < 4; ++i) {
        const Probe p = RandomProbe();
        const uint32_t ref = t.Lookup(p.key);
        Verify(&p, &ref, 1);
      }
      ws_->Sweep(now, 64);
      rte_rcu_qsbr_quiescent(sh_->qsbr, w_);
      ++stats.loops;
    }
    rte_rcu_qsbr_thread_offline(sh_->qsbr, w_);
    rte_rcu_qsbr_thread_unregister(sh_->qsbr, w_);
  }

  WorkerStats stats;

 private:
  void Fail() { sh_->errors.fetch_add(1, std::memory_order_relaxed); }

  bool Create(uint32_t kw, uint32_t seq, uint32_t now) {
    SessionTable& t = *sh_->table;
    const uint32_t idx = t.Alloc(w_);
    if (idx == kNoSession) {
      ++stats.alloc_failures;
      return false;
    }
    Session& s = t.session(idx);
    s.in_key = KeyFor(kw, seq, false);
    s.out_key = KeyFor(kw, seq, true);
    s.aux0 = Fingerprint(kw, seq);
    s.aux1 = 1;
    s.flags.store(0, std::memory_order_relaxed);
    s.last_seen_s.store(now + 1 + rng_() % 1500, std::memory_order_relaxed);
    const bool out_first = rng_() % 2;
    uint32_t existing = kMiss;
    const InsertResult r = t.Insert(idx, out_first, &existing);
    if (r == InsertResult::kOk) {
      ws_->Track(idx);
      // Only the owner unlinks, so its fresh session must be found by both keys.
      if (t.Lookup(s.in_key) != MakeRef(idx, false)) Fail();
      if (t.Lookup(s.out_key) != MakeRef(idx, true)) Fail();
      if (kw == w_) {
        ++stats.inserted;
        sh_->published[w_].store(seq, std::memory_order_release);
      } else {
        ++stats.duplicates_inserted;
      }
      return true;
    }
    if (r == InsertResult::kFull) {
      sh_->full.fetch_add(1, std::memory_order_relaxed);  // possible, if very unlikely
    } else if (kw == w_) {
      Fail();  // a fresh key can only collide if something is broken
    } else if (r == InsertResult::kFirstKeyExists) {
      const Probe p{out_first ? s.out_key : s.in_key, s.aux0};
      Verify(&p, &existing, 1);
      if (existing == kMiss) Fail();
      ++stats.duplicates_rejected;
    } else {
      ++stats.duplicates_rejected;  // the other key was being unlinked concurrently
    }
    t.Free(idx);
    return true;
  }

  // Re-creates a live session of another worker: must be refused while that one is indexed.
  void Duplicate(uint32_t now) {
    const uint32_t other = (w_ + 1 + rng_() % (kWorkers - 1)) % kWorkers;
    const uint32_t top = sh_->published[other].load(std::memory_order_acquire);
    if (top < 100) return;
    Create(other, top - rng_() % 100, now);
  }

  Probe RandomProbe() {
    const uint32_t kw = rng_() % kWorkers;
    const uint32_t top = sh_->published[kw].load(std::memory_order_acquire);
    const uint32_t seq = top <= 1 ? 1 : top - rng_() % std::min<uint32_t>(top - 1, 4000);
    return Probe{KeyFor(kw, seq, rng_() % 2), Fingerprint(kw, seq)};
  }

  void LookupBatch(Probe* probes, uint32_t* refs) {
    const FlowKey* keys[32];
    for (int i = 0; i < 32; ++i) {
      probes[i] = RandomProbe();
      keys[i] = &probes[i].key;
    }
    sh_->table->LookupBulk(keys, 32, refs);
    Verify(probes, refs, 32);
  }

  void Verify(const Probe* probes, const uint32_t* refs, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      if (refs[i] == kMiss) continue;
      Session& s = sh_->table->session(RefSession(refs[i]));
      const FlowKey& k = RefIsOutKey(refs[i]) ? s.out_key : s.in_key;
      if (!(k == probes[i].key) || s.aux1 == kPoison || s.aux0 != probes[i].fingerprint) Fail();
      sh_->hits.fetch_add(1, std::memory_order_relaxed);
      if (rng_() % 256 == 0) s.flags.fetch_or(kSessionDead, std::memory_order_release);  // flush
    }
  }

  Shared* sh_;
  uint32_t w_;
  WorkerSessions* ws_;
  std::mt19937 rng_;
  uint32_t seq_ = 0;
};

TEST(SessionTableStressTest, ConcurrentWorkersNeverSeeFreedSessions) {
  auto table_or = SessionTable::Create({.max_sessions = kWorkers * kSlice, .num_workers = kWorkers});
  ASSERT_TRUE(table_or.ok());
  std::unique_ptr<SessionTable> table = std::move(table_or).value();
  QsbrPtr qsbr = MakeQsbr(kWorkers);
  ASSERT_NE(qsbr, nullptr);
  Shared shared;
  shared.table = table.get();
  shared.qsbr = qsbr.get();

  std::vector<StressPolicy> policies(kWorkers);
  std::vector<std::unique_ptr<WorkerSessions>> ws;
  std::vector<std::unique_ptr<Worker>> workers;
  for (uint32_t w = 0; w < kWorkers; ++w) {
    ws.push_back(std::make_unique<WorkerSessions>(table.get(), qsbr.get(), w, &policies[w]));
    workers.push_back(std::make_unique<Worker>(&shared, w, ws[w].get()));
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });
  std::this_thread::sleep_for(kDuration);
  shared.stop.store(true);
  for (auto& th : threads) th.join();

  uint64_t created = 0, loops = 0;
  for (uint32_t w = 0; w < kWorkers; ++w) {
    ws[w]->DrainAll(true);
    EXPECT_EQ(ws[w]->pending_free(), 0u);
    const WorkerStats& st = workers[w]->stats;
    created += st.inserted + st.duplicates_inserted;
    loops += st.loops;
    EXPECT_EQ(policies[w].releases, st.inserted + st.duplicates_inserted) << "worker " << w;
    EXPECT_EQ(policies[w].double_releases, 0u);
    EXPECT_GT(st.inserted, 1000u) << "worker " << w << " made too little progress";
  }
  EXPECT_EQ(shared.errors.load(), 0u);
  EXPECT_EQ(table->InUse(), 0u);
  for (uint64_t b = 0; b < table->num_buckets(); ++b) {
    ASSERT_EQ(table->UsedSlotsForTest(b), 0u) << b;
    ASSERT_EQ(table->OverflowForTest(b), 0u) << b;
  }
  std::printf("stress: %lu loops, %lu sessions, %lu verified hits, %lu kFull\n",
              static_cast<unsigned long>(loops), static_cast<unsigned long>(created),
              static_cast<unsigned long>(shared.hits.load()),
              static_cast<unsigned long>(shared.full.load()));
}

}  // namespace
}  // namespace natgw::conntrack
