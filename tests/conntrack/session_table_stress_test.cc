// Concurrency stress: several threads, each a worker owning a slice and an RCU reader, insert,
// look up (their own and each other's keys), flush, expire and free sessions at once. Readers
// check every hit while online: the key must equal the looked-up key and the session must not have
// been released (Release poisons it), i.e. no lookup ever sees a freed or reused session.
#include <pthread.h>
#include <rte_rcu_qsbr.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
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
// Sessions live 1..kMaxLifetime sweep loops. Long enough that the slices stay nearly full, so the
// index runs near its design load and keys spill into secondary buckets and get displaced.
constexpr uint32_t kMaxLifetime = 4000;
constexpr auto kDuration = std::chrono::milliseconds(2500);

// The EAL pinned the test's main thread to one core and new threads inherit that: spread out.
void UnpinThisThread() {
  cpu_set_t all;
  CPU_ZERO(&all);
  for (long c = 0; c < sysconf(_SC_NPROCESSORS_ONLN) && c < CPU_SETSIZE; ++c) CPU_SET(c, &all);
  pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
}

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
    return FlowKey{.src_ip = seq,
                   .dst_ip = static_cast<uint32_t>(r),
                   .src_port = static_cast<uint16_t>(r >> 32),
                   .dst_port = 443,
                   .realm = static_cast<uint16_t>(w),
                   .proto = 6,
                   .flags = 0};
  }
  return FlowKey{.src_ip = static_cast<uint32_t>(r >> 24),
                 .dst_ip = seq,
                 .src_port = static_cast<uint16_t>(r >> 48),
                 .dst_port = static_cast<uint16_t>(w),
                 .realm = kOutsideRealm,
                 .proto = 6,
                 .flags = 0};
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
  uint64_t live_checks = 0;
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
    UnpinThisThread();
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
      CheckOwnLiveSessions(now);
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
    s.last_seen_s.store(now + 1 + rng_() % kMaxLifetime, std::memory_order_relaxed);
    const bool out_first = rng_() % 2;
    uint32_t existing = kMiss;
    const uint8_t state = s.tcp_state.load(std::memory_order_relaxed);  // as inserted
    const InsertResult r = t.Insert(idx, out_first, &existing);
    if (r == InsertResult::kOk) {
      ws_->Track(idx, state);
      recent_[recent_pos_++ % kRecent] = idx;
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
    s.last_seen_s.store(0, std::memory_order_relaxed);  // not live, for CheckOwnLiveSessions
    t.Free(idx);
    return true;
  }

  // Only this worker unlinks its sessions, and only in its sweep: one that is neither expired nor
  // flushed must be indexed by both keys, whatever inserts and displacements go on around it.
  void CheckOwnLiveSessions(uint32_t now) {
    SessionTable& t = *sh_->table;
    const FlowKey* keys[16];
    uint32_t want[16];
    uint32_t n = 0;
    for (int k = 0; k < 8 && recent_pos_ != 0; ++k) {
      const uint32_t idx = recent_[rng_() % std::min<uint32_t>(recent_pos_, kRecent)];
      const Session& s = t.session(idx);
      if ((s.flags.load(std::memory_order_acquire) & kSessionDead) != 0 ||
          s.last_seen_s.load(std::memory_order_relaxed) <= now) {
        continue;
      }
      keys[n] = &s.in_key;
      want[n++] = MakeRef(idx, false);
      keys[n] = &s.out_key;
      want[n++] = MakeRef(idx, true);
    }
    uint32_t refs[16];
    t.LookupBulk(keys, n, refs);
    for (uint32_t i = 0; i < n; ++i) {
      if (refs[i] != want[i] || t.Lookup(*keys[i]) != want[i]) Fail();
    }
    stats.live_checks += n;
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
  static constexpr uint32_t kRecent = 256;
  uint32_t recent_[kRecent] = {};
  uint32_t recent_pos_ = 0;
};

TEST(SessionTableStressTest, ConcurrentWorkersNeverSeeFreedSessions) {
  auto table_or =
      SessionTable::Create({.max_sessions = kWorkers * kSlice, .num_workers = kWorkers});
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
  // Snapshot while running: how loaded the index is and how many keys live in a secondary.
  uint64_t used = 0, spilled = 0;
  for (uint64_t b = 0; b < table->num_buckets(); ++b) {
    used += table->UsedSlotsForTest(b);
    spilled += table->OverflowForTest(b);
  }
  shared.stop.store(true);
  for (auto& th : threads) th.join();

  uint64_t created = 0, loops = 0, live_checks = 0;
  for (uint32_t w = 0; w < kWorkers; ++w) {
    ws[w]->DrainAll(true);
    EXPECT_EQ(ws[w]->pending_free(), 0u);
    const WorkerStats& st = workers[w]->stats;
    created += st.inserted + st.duplicates_inserted;
    loops += st.loops;
    live_checks += st.live_checks;
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
  EXPECT_GT(live_checks, 1000u);
  std::printf(
      "stress: %lu loops, %lu sessions, %lu verified hits, %lu live checks, %lu kFull; "
      "at the end: slot load %.2f, %lu keys in secondary buckets\n",
      static_cast<unsigned long>(loops), static_cast<unsigned long>(created),
      static_cast<unsigned long>(shared.hits.load()), static_cast<unsigned long>(live_checks),
      static_cast<unsigned long>(shared.full.load()),
      static_cast<double>(used) / (7.0 * static_cast<double>(table->num_buckets())),
      static_cast<unsigned long>(spilled));
}

// A writer churns keys whose two buckets both lie in a handful of hot buckets, so buckets are full
// all the time and Insert keeps displacing keys (moving them primary -> secondary) to make room.
// Among them are "stable" sessions that are never unlinked: two reader threads must find every one
// of them on every lookup, wherever it lives at the moment.
TEST(SessionTableStressTest, DisplacementNeverHidesAKeyFromReaders) {
  auto table_or = SessionTable::Create({.max_sessions = 1024, .num_workers = 1});
  ASSERT_TRUE(table_or.ok());
  std::unique_ptr<SessionTable> table = std::move(table_or).value();
  constexpr uint64_t kHotBuckets = 16;  // 112 slots
  constexpr uint32_t kStable = 20;      // 40 keys, never unlinked
  constexpr uint32_t kSessions = 120;   // 200 more keys, churned
  uint32_t n = 0;
  auto hot_key = [&](uint16_t realm) {
    for (;;) {
      ++n;
      const FlowKey k{.src_ip = n,
                      .dst_ip = static_cast<uint32_t>(Mix(n)),
                      .src_port = 1,
                      .dst_port = 2,
                      .realm = realm,
                      .proto = 17,
                      .flags = 0};
      uint64_t p, s;
      table->KeyBucketsForTest(k, &p, &s);
      if (p < kHotBuckets && s < kHotBuckets) return k;
    }
  };
  std::vector<uint32_t> idx(kSessions);
  for (uint32_t i = 0; i < kSessions; ++i) {
    idx[i] = table->Alloc(0);
    table->session(idx[i]).in_key = hot_key(1);
    table->session(idx[i]).out_key = hot_key(kOutsideRealm);
  }
  for (uint32_t i = 0; i < kStable; ++i) {
    ASSERT_EQ(table->Insert(idx[i], false, nullptr), InsertResult::kOk) << i;
  }

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> errors{0}, lookups{0};
  auto reader = [&](uint32_t seed) {
    UnpinThisThread();
    std::mt19937 rng(seed);
    while (!stop.load(std::memory_order_relaxed)) {
      const FlowKey* keys[32];
      uint32_t want[32];
      for (int i = 0; i < 32; ++i) {
        const uint32_t k = rng() % kStable;
        const bool out = rng() % 2;
        const Session& s = table->session(idx[k]);
        keys[i] = out ? &s.out_key : &s.in_key;
        want[i] = MakeRef(idx[k], out);
      }
      uint32_t refs[32];
      table->LookupBulk(keys, 32, refs);
      for (int i = 0; i < 32; ++i) {
        if (refs[i] != want[i]) errors.fetch_add(1);
      }
      if (table->Lookup(*keys[0]) != want[0]) errors.fetch_add(1);
      // Churned keys may or may not be in; when found, it is under the right session.
      const uint32_t c = kStable + rng() % (kSessions - kStable);
      const uint32_t r = table->Lookup(table->session(idx[c]).in_key);
      if (r != kMiss && r != MakeRef(idx[c], false)) errors.fetch_add(1);
      lookups.fetch_add(34, std::memory_order_relaxed);
    }
  };
  std::vector<bool> in(kSessions, false);
  uint64_t inserts = 0, full = 0, unexpected = 0;
  auto writer = [&] {
    UnpinThisThread();
    std::mt19937 rng(3);
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    while (std::chrono::steady_clock::now() < end) {
      for (int k = 0; k < 100; ++k) {
        const uint32_t c = kStable + rng() % (kSessions - kStable);
        if (in[c]) {
          table->Unlink(idx[c]);
          in[c] = false;
          continue;
        }
        const InsertResult res = table->Insert(idx[c], rng() % 2, nullptr);
        in[c] = res == InsertResult::kOk;
        inserts += res == InsertResult::kOk;
        full += res == InsertResult::kFull;
        unexpected += res != InsertResult::kOk && res != InsertResult::kFull;
      }
    }
    stop.store(true);
  };
  std::thread r1(reader, 1), r2(reader, 2), w(writer);
  w.join();
  r1.join();
  r2.join();

  EXPECT_EQ(errors.load(), 0u);
  EXPECT_EQ(unexpected, 0u);
  EXPECT_GT(inserts, 1000u);
  EXPECT_GT(full, 1000u) << "the hot buckets were never full: the test tests nothing";
  for (uint32_t i = 0; i < kSessions; ++i) {
    if (i < kStable || in[i]) {
      EXPECT_EQ(table->Lookup(table->session(idx[i]).in_key), MakeRef(idx[i], false)) << i;
      EXPECT_EQ(table->Lookup(table->session(idx[i]).out_key), MakeRef(idx[i], true)) << i;
      table->Unlink(idx[i]);
    }
  }
  for (uint64_t b = 0; b < table->num_buckets(); ++b) {
    ASSERT_EQ(table->UsedSlotsForTest(b), 0u) << b;
    ASSERT_EQ(table->OverflowForTest(b), 0u) << b;
  }
  std::printf("displacement: %lu lookups, %lu inserts, %lu kFull\n",
              static_cast<unsigned long>(lookups.load()), static_cast<unsigned long>(inserts),
              static_cast<unsigned long>(full));
}

}  // namespace
}  // namespace natgw::conntrack
