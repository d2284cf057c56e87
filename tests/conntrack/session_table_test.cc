#include "lib/conntrack/session_table.h"

#include <cstdint>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace natgw::conntrack {
namespace {

FlowKey InKey(uint32_t n, uint16_t island = 0) {
  return FlowKey{.src_ip = 0x0a000000u | n,
                 .dst_ip = 0x08080808u + (n >> 16),
                 .src_port = static_cast<uint16_t>(1024 + (n & 0x7fff)),
                 .dst_port = 443,
                 .realm = island,
                 .proto = 6,
                 .flags = 0};
}

FlowKey OutKey(uint32_t n) {
  return FlowKey{.src_ip = 0x08080808u + (n >> 16),
                 .dst_ip = 0xc6336400u | (n & 0xff),
                 .src_port = 443,
                 .dst_port = static_cast<uint16_t>(n),
                 .realm = kOutsideRealm,
                 .proto = 6,
                 .flags = 0};
}

std::unique_ptr<SessionTable> MakeTable(uint32_t max_sessions, uint32_t num_workers = 1) {
  auto t = SessionTable::Create({.max_sessions = max_sessions, .num_workers = num_workers});
  EXPECT_TRUE(t.ok()) << t.status();
  return std::move(t).value();
}

uint32_t NewSession(SessionTable& t, const FlowKey& in, const FlowKey& out, uint32_t worker = 0) {
  const uint32_t idx = t.Alloc(worker);
  EXPECT_NE(idx, kNoSession);
  t.session(idx).in_key = in;
  t.session(idx).out_key = out;
  return idx;
}

TEST(SessionTableTest, CreateRejectsBadConfig) {
  EXPECT_FALSE(SessionTable::Create({.max_sessions = 0, .num_workers = 1}).ok());
  EXPECT_FALSE(SessionTable::Create({.max_sessions = 100, .num_workers = 0}).ok());
  EXPECT_FALSE(SessionTable::Create({.max_sessions = 100, .num_workers = 65}).ok());
}

TEST(SessionTableTest, CapacityRoundsUpToWholeSlices) {
  auto t = MakeTable(10, 3);
  EXPECT_EQ(t->slice_size(), 4u);
  EXPECT_EQ(t->capacity(), 12u);
  EXPECT_EQ(t->num_workers(), 3u);
}

TEST(SessionTableTest, InsertedSessionIsFoundByBothKeys) {
  auto t = MakeTable(1024);
  const uint32_t a = NewSession(*t, InKey(1), OutKey(1));
  const uint32_t b = NewSession(*t, InKey(2), OutKey(2));
  ASSERT_EQ(t->Insert(a, false, nullptr), InsertResult::kOk);
  ASSERT_EQ(t->Insert(b, true, nullptr), InsertResult::kOk);

  EXPECT_EQ(t->Lookup(InKey(1)), MakeRef(a, false));
  EXPECT_EQ(t->Lookup(OutKey(1)), MakeRef(a, true));
  EXPECT_EQ(t->Lookup(InKey(2)), MakeRef(b, false));
  EXPECT_EQ(t->Lookup(OutKey(2)), MakeRef(b, true));
  EXPECT_EQ(t->Lookup(InKey(3)), kMiss);
  // Same tuple, other island: a different key.
  EXPECT_EQ(t->Lookup(InKey(1, 1)), kMiss);

  const FlowKey keys[] = {InKey(1), OutKey(2), InKey(3), OutKey(1), InKey(2)};
  const FlowKey* ptrs[5];
  for (int i = 0; i < 5; ++i) ptrs[i] = &keys[i];
  uint32_t refs[5];
  t->LookupBulk(ptrs, 5, refs);
  EXPECT_EQ(refs[0], MakeRef(a, false));
  EXPECT_EQ(refs[1], MakeRef(b, true));
  EXPECT_EQ(refs[2], kMiss);
  EXPECT_EQ(refs[3], MakeRef(a, true));
  EXPECT_EQ(refs[4], MakeRef(b, false));
}

TEST(SessionTableTest, DuplicateFirstKeyReportsExistingRef) {
  auto t = MakeTable(1024);
  const uint32_t a = NewSession(*t, InKey(1), OutKey(1));
  ASSERT_EQ(t->Insert(a, false, nullptr), InsertResult::kOk);

  // Same inside flow racing in from another worker: the in_key is taken.
  const uint32_t b = NewSession(*t, InKey(1), OutKey(2));
  uint32_t existing = kMiss;
  EXPECT_EQ(t->Insert(b, false, &existing), InsertResult::kFirstKeyExists);
  EXPECT_EQ(existing, MakeRef(a, false));
  EXPECT_EQ(t->Lookup(OutKey(2)), kMiss);

  // Same outside flow inserted out_key first: the reference says the out_key matched.
  const uint32_t c = NewSession(*t, InKey(3), OutKey(1));
  existing = kMiss;
  EXPECT_EQ(t->Insert(c, true, &existing), InsertResult::kFirstKeyExists);
  EXPECT_EQ(existing, MakeRef(a, true));
  EXPECT_EQ(t->Lookup(InKey(3)), kMiss);
  EXPECT_EQ(t->Lookup(InKey(1)), MakeRef(a, false));
}

TEST(SessionTableTest, SecondKeyConflictInsertsNothing) {
  auto t = MakeTable(1024);
  const uint32_t a = NewSession(*t, InKey(1), OutKey(1));
  ASSERT_EQ(t->Insert(a, false, nullptr), InsertResult::kOk);

  // A new inside flow translated to an outside tuple that is already in use.
  const uint32_t b = NewSession(*t, InKey(2), OutKey(1));
  EXPECT_EQ(t->Insert(b, false, nullptr), InsertResult::kSecondKeyExists);
  EXPECT_EQ(t->Lookup(InKey(2)), kMiss);
  EXPECT_EQ(t->Lookup(OutKey(1)), MakeRef(a, true));

  // The failed session can be retried with another outside tuple.
  t->session(b).out_key = OutKey(2);
  EXPECT_EQ(t->Insert(b, false, nullptr), InsertResult::kOk);
  EXPECT_EQ(t->Lookup(InKey(2)), MakeRef(b, false));
  EXPECT_EQ(t->Lookup(OutKey(2)), MakeRef(b, true));
}

TEST(SessionTableTest, IdenticalKeysAreRejected) {
  auto t = MakeTable(16);
  const uint32_t a = NewSession(*t, InKey(1), InKey(1));
  EXPECT_EQ(t->Insert(a, false, nullptr), InsertResult::kSecondKeyExists);
  EXPECT_EQ(t->Lookup(InKey(1)), kMiss);
}

TEST(SessionTableTest, UnlinkRemovesBothKeysAndIsIdempotent) {
  auto t = MakeTable(1024);
  const uint32_t a = NewSession(*t, InKey(1), OutKey(1));
  const uint32_t b = NewSession(*t, InKey(2), OutKey(2));
  ASSERT_EQ(t->Insert(a, false, nullptr), InsertResult::kOk);
  ASSERT_EQ(t->Insert(b, false, nullptr), InsertResult::kOk);

  t->Unlink(a);
  EXPECT_EQ(t->Lookup(InKey(1)), kMiss);
  EXPECT_EQ(t->Lookup(OutKey(1)), kMiss);
  t->Unlink(a);
  t->Unlink(a);
  EXPECT_EQ(t->Lookup(InKey(2)), MakeRef(b, false));
  EXPECT_EQ(t->Lookup(OutKey(2)), MakeRef(b, true));

  // The keys are free again: a new session can take them.
  const uint32_t c = NewSession(*t, InKey(1), OutKey(1));
  EXPECT_EQ(t->Insert(c, true, nullptr), InsertResult::kOk);
  EXPECT_EQ(t->Lookup(InKey(1)), MakeRef(c, false));
  t->Free(a);
}

TEST(SessionTableTest, BulkLookupMatchesSingleLookups) {
  auto t = MakeTable(20000);
  std::vector<uint32_t> idx;
  for (uint32_t i = 0; i < 10000; ++i) {
    idx.push_back(NewSession(*t, InKey(i), OutKey(i)));
    ASSERT_EQ(t->Insert(idx.back(), i % 2 == 0, nullptr), InsertResult::kOk);
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    FlowKey keys[64];
    const FlowKey* ptrs[64];
    uint32_t want[64];
    const uint32_t n = 1 + rng() % 64;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t k = rng() % 12000;  // some misses
      const bool out = rng() % 2;
      keys[i] = out ? OutKey(k) : InKey(k);
      ptrs[i] = &keys[i];
      want[i] = k < 10000 ? MakeRef(idx[k], out) : kMiss;
    }
    uint32_t refs[64];
    t->LookupBulk(ptrs, n, refs);
    for (uint32_t i = 0; i < n; ++i) {
      ASSERT_EQ(refs[i], want[i]) << "round " << round << " key " << i;
      ASSERT_EQ(t->Lookup(keys[i]), want[i]);
    }
  }
}

// Finds `count` distinct keys for which `pred(primary, secondary)` holds, from a key space
// disjoint from InKey/OutKey.
template <typename Pred>
std::vector<FlowKey> KeysWhere(const SessionTable& t, uint32_t count, uint32_t* seed, Pred pred) {
  std::vector<FlowKey> keys;
  while (keys.size() < count) {
    const uint32_t n = (*seed)++;
    FlowKey k{.src_ip = 0xac100000u + n,
              .dst_ip = 0x01020304u,
              .src_port = 53,
              .dst_port = static_cast<uint16_t>(n * 7),
              .realm = 2,
              .proto = 17,
              .flags = 0};
    uint64_t p, s;
    t.KeyBucketsForTest(k, &p, &s);
    if (pred(p, s)) keys.push_back(k);
  }
  return keys;
}

TEST(SessionTableTest, FullPrimaryOverflowsIntoSecondaryBucket) {
  auto t = MakeTable(64);
  const uint64_t target = 3;
  uint32_t seed = 1;
  // Ten inside keys that all hash to `target` first; their outside keys stay clear of it and of
  // each other's secondaries so the test controls exactly what lands where.
  std::vector<FlowKey> in =
      KeysWhere(*t, 10, &seed, [&](uint64_t p, uint64_t) { return p == target; });
  std::vector<uint64_t> secondaries;
  for (const FlowKey& k : in) {
    uint64_t p, s;
    t->KeyBucketsForTest(k, &p, &s);
    secondaries.push_back(s);
  }
  auto avoid = [&](uint64_t b) {
    if (b == target) return false;
    for (uint64_t s : secondaries) {
      if (b == s) return false;
    }
    return true;
  };
  std::vector<FlowKey> out =
      KeysWhere(*t, 10, &seed, [&](uint64_t p, uint64_t s) { return avoid(p) && avoid(s); });

  std::vector<uint32_t> idx;
  for (int i = 0; i < 10; ++i) {
    idx.push_back(NewSession(*t, in[i], out[i]));
    ASSERT_EQ(t->Insert(idx[i], false, nullptr), InsertResult::kOk) << i;
  }
  EXPECT_EQ(t->UsedSlotsForTest(target), 7u);
  EXPECT_EQ(t->OverflowForTest(target), 3u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(t->Lookup(in[i]), MakeRef(idx[i], false)) << i;

  // Free the primary: the three keys in secondaries must still be found, singly and in bulk.
  for (int i = 0; i < 7; ++i) t->Unlink(idx[i]);
  EXPECT_EQ(t->UsedSlotsForTest(target), 0u);
  EXPECT_EQ(t->OverflowForTest(target), 3u);
  const FlowKey* ptrs[10];
  uint32_t refs[10];
  for (int i = 0; i < 10; ++i) ptrs[i] = &in[i];
  t->LookupBulk(ptrs, 10, refs);
  for (int i = 0; i < 10; ++i) {
    const uint32_t want = i < 7 ? kMiss : MakeRef(idx[i], false);
    EXPECT_EQ(t->Lookup(in[i]), want) << i;
    EXPECT_EQ(refs[i], want) << i;
    EXPECT_EQ(t->Lookup(out[i]), i < 7 ? kMiss : MakeRef(idx[i], true)) << i;
  }

  // Unlinking the secondary residents brings the overflow count back to zero.
  for (int i = 7; i < 10; ++i) t->Unlink(idx[i]);
  EXPECT_EQ(t->OverflowForTest(target), 0u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(t->Lookup(in[i]), kMiss);
}

TEST(SessionTableTest, FullWhenBothBucketsAreFullAndNothingCanMove) {
  auto t = MakeTable(64);
  uint32_t seed = 1;
  const uint64_t p_bucket = 5;
  const uint64_t s_bucket = 11;
  // Fifteen keys that all hash to (p_bucket, s_bucket): the first seven fill p_bucket, the next
  // seven overflow into s_bucket, and none of them can be displaced (their other bucket is full
  // too), so the fifteenth has nowhere to go.
  std::vector<FlowKey> keys = KeysWhere(
      *t, 16, &seed, [&](uint64_t p, uint64_t s) { return p == p_bucket && s == s_bucket; });
  auto clear = [&](uint64_t pp, uint64_t ss) {
    return pp != p_bucket && pp != s_bucket && ss != p_bucket && ss != s_bucket;
  };
  std::vector<FlowKey> outs = KeysWhere(*t, 16, &seed, clear);
  for (int i = 0; i < 14; ++i) {
    const uint32_t idx = NewSession(*t, keys[i], outs[i]);
    ASSERT_EQ(t->Insert(idx, false, nullptr), InsertResult::kOk) << i;
  }
  ASSERT_EQ(t->UsedSlotsForTest(p_bucket), 7u);
  ASSERT_EQ(t->UsedSlotsForTest(s_bucket), 7u);
  ASSERT_EQ(t->OverflowForTest(p_bucket), 7u);

  // The victim as the first key.
  const uint32_t v = NewSession(*t, keys[14], outs[14]);
  EXPECT_EQ(t->Insert(v, false, nullptr), InsertResult::kFull);
  EXPECT_EQ(t->Lookup(keys[14]), kMiss);
  EXPECT_EQ(t->Lookup(outs[14]), kMiss);
  // The victim as the second key: the first key, already placed, is rolled back.
  EXPECT_EQ(t->Insert(v, true, nullptr), InsertResult::kFull);
  EXPECT_EQ(t->Lookup(outs[14]), kMiss);
  EXPECT_EQ(t->OverflowForTest(p_bucket), 7u);
  // Everything else is intact.
  for (int i = 0; i < 14; ++i) {
    EXPECT_EQ(t->Lookup(keys[i]), MakeRef(static_cast<uint32_t>(i), false)) << i;
  }
  t->Free(v);
}

TEST(SessionTableTest, FullBucketsMakeRoomByDisplacingAKey) {
  auto t = MakeTable(64);
  uint32_t seed = 1;
  const uint64_t p_bucket = 5;
  const uint64_t s_bucket = 11;
  const FlowKey victim = KeysWhere(
      *t, 1, &seed, [&](uint64_t p, uint64_t s) { return p == p_bucket && s == s_bucket; })[0];
  auto elsewhere = [&](uint64_t b) { return b != p_bucket && b != s_bucket; };
  // Both buckets full of keys that live there as primaries and have room elsewhere.
  std::vector<FlowKey> fill = KeysWhere(
      *t, 7, &seed, [&](uint64_t p, uint64_t s) { return p == p_bucket && elsewhere(s); });
  std::vector<FlowKey> fill_s = KeysWhere(
      *t, 7, &seed, [&](uint64_t p, uint64_t s) { return p == s_bucket && elsewhere(s); });
  fill.insert(fill.end(), fill_s.begin(), fill_s.end());
  std::vector<FlowKey> outs = KeysWhere(
      *t, 15, &seed, [&](uint64_t p, uint64_t s) { return elsewhere(p) && elsewhere(s); });
  std::vector<uint32_t> idx;
  for (int i = 0; i < 14; ++i) {
    idx.push_back(NewSession(*t, fill[i], outs[i]));
    ASSERT_EQ(t->Insert(idx[i], false, nullptr), InsertResult::kOk) << i;
  }
  ASSERT_EQ(t->UsedSlotsForTest(p_bucket), 7u);
  ASSERT_EQ(t->UsedSlotsForTest(s_bucket), 7u);

  const uint32_t v = NewSession(*t, victim, outs[14]);
  ASSERT_EQ(t->Insert(v, false, nullptr), InsertResult::kOk);
  EXPECT_EQ(t->Lookup(victim), MakeRef(v, false));
  // One key of p_bucket moved to its secondary to make room.
  EXPECT_EQ(t->UsedSlotsForTest(p_bucket), 7u);
  EXPECT_EQ(t->OverflowForTest(p_bucket), 1u);
  for (int i = 0; i < 14; ++i) EXPECT_EQ(t->Lookup(fill[i]), MakeRef(idx[i], false)) << i;

  for (uint32_t i : idx) t->Unlink(i);
  t->Unlink(v);
  EXPECT_EQ(t->OverflowForTest(p_bucket), 0u);
  EXPECT_EQ(t->OverflowForTest(s_bucket), 0u);
  for (uint64_t b = 0; b < t->num_buckets(); ++b) EXPECT_EQ(t->UsedSlotsForTest(b), 0u) << b;
}

TEST(SessionTableTest, FillsToCapacityWithoutFull) {
  // A table filled to the last session with random keys never reports kFull.
  constexpr uint32_t kSessions = 200000;
  auto t = MakeTable(kSessions);
  std::mt19937_64 rng(99);
  uint32_t full = 0;
  for (uint32_t i = 0; i < kSessions; ++i) {
    const uint64_t a = rng(), b = rng();
    const uint32_t idx = t->Alloc(0);
    ASSERT_NE(idx, kNoSession);
    Session& s = t->session(idx);
    s.in_key = FlowKey{.src_ip = static_cast<uint32_t>(a),
                       .dst_ip = static_cast<uint32_t>(a >> 32),
                       .src_port = static_cast<uint16_t>(b),
                       .dst_port = 80,
                       .realm = 1,
                       .proto = 6,
                       .flags = 0};
    s.out_key = s.in_key;
    s.out_key.realm = kOutsideRealm;
    s.out_key.dst_port = static_cast<uint16_t>(b >> 16);
    const InsertResult r = t->Insert(idx, false, nullptr);
    full += r == InsertResult::kFull;
  }
  EXPECT_EQ(full, 0u);
  EXPECT_EQ(t->Alloc(0), kNoSession);
}

TEST(SessionTableTest, WorkerSlicesExhaustIndependently) {
  auto t = MakeTable(10, 2);
  ASSERT_EQ(t->slice_size(), 5u);
  std::vector<uint32_t> w0, w1;
  for (int i = 0; i < 5; ++i) w0.push_back(t->Alloc(0));
  EXPECT_EQ(t->Alloc(0), kNoSession);
  EXPECT_EQ(t->InUse(), 5u);
  for (int i = 0; i < 5; ++i) w1.push_back(t->Alloc(1));
  EXPECT_EQ(t->Alloc(1), kNoSession);
  EXPECT_EQ(t->InUse(), 10u);
  for (uint32_t i : w0) {
    EXPECT_LT(i, 5u);
    EXPECT_EQ(t->session(i).owner, 0);
  }
  for (uint32_t i : w1) {
    EXPECT_GE(i, 5u);
    EXPECT_LT(i, 10u);
    EXPECT_EQ(t->session(i).owner, 1);
  }
  t->Free(w0[2]);
  EXPECT_EQ(t->Alloc(1), kNoSession);  // worker 0's free session is not worker 1's
  EXPECT_EQ(t->Alloc(0), w0[2]);
  for (uint32_t i : w0) t->Free(i);
  for (uint32_t i : w1) t->Free(i);
  EXPECT_EQ(t->InUse(), 0u);
}

TEST(SessionTableTest, MemoryPerSessionWithinBudget) {
  for (uint32_t n : {1u << 20, 1000000u, 10000000u}) {
    auto t = MakeTable(n, 4);
    const double per_session = static_cast<double>(t->MemoryBytes()) / t->capacity();
    EXPECT_LE(per_session, 128.0) << n;
    // Slot load at full capacity (two keys per session) stays at or under one half.
    EXPECT_LE(2.0 * t->capacity() / (7.0 * static_cast<double>(t->num_buckets())), 0.5) << n;
  }
}

// A "Name: N kB" field of /proc/self/smaps_rollup, in bytes (-1 when absent).
long long RollupBytes(const std::string& name) {
  std::ifstream f("/proc/self/smaps_rollup");
  std::string field;
  long long kb;
  while (f >> field) {
    if (field == name + ":" && f >> kb) return kb * 1024;
  }
  return -1;
}

// 2 MiB pages of the pool a new mapping can get (free and not promised to another), or -1.
long FreeHugepages() {
  std::ifstream f("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
  std::ifstream r("/sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages");
  long n = -1, resv = 0;
  f >> n;
  r >> resv;
  return n < 0 ? -1 : n - resv;
}

TEST(SessionTableTest, WithoutHugetlbTheTableLeavesThePoolAlone) {
  const long long before = RollupBytes("Private_Hugetlb");
  if (before < 0) GTEST_SKIP() << "no /proc/self/smaps_rollup (Linux 4.14)";
  auto t = MakeTable(1 << 20);
  const SessionTablePages p = t->Pages();
  EXPECT_EQ(p.hugetlb_bytes, 0u);
  EXPECT_LE(p.thp_bytes, p.bytes);
  EXPECT_LE(p.bytes, t->MemoryBytes());
  EXPECT_GT(p.bytes, t->MemoryBytes() - 4096);  // all but the per-worker slice headers
  EXPECT_EQ(p.small_bytes, 0u);                   // index, pool, free list: each over 2 MiB
  EXPECT_EQ(RollupBytes("Private_Hugetlb"), before);
  // A small table's mappings are all under 2 MiB: 4 KiB pages whatever is asked.
  auto small = SessionTable::Create({.max_sessions = 1000, .hugetlb = true});
  ASSERT_TRUE(small.ok());
  const SessionTablePages q = (*small)->Pages();
  EXPECT_EQ(q.small_bytes, q.bytes);
  EXPECT_EQ(q.hugetlb_bytes, 0u);
  EXPECT_EQ(RollupBytes("Private_Hugetlb"), before);
}

// On a machine with free 2 MiB hugepages (scripts/hugepages.sh) the table takes them; without,
// it falls back to ordinary pages. Either way the process holds exactly what Pages() says, and
// gives it back with the table. (Other processes may take pages meanwhile, so the pool's count
// is only a hint of which case this is.)
TEST(SessionTableTest, HugetlbTableHoldsWhatPagesSaysAndGivesItBack) {
  const long long before = RollupBytes("Private_Hugetlb");
  if (before < 0) GTEST_SKIP() << "no /proc/self/smaps_rollup (Linux 4.14)";
  const long free_pages = FreeHugepages();
  {
    auto t = SessionTable::Create({.max_sessions = 1 << 20, .num_workers = 2, .hugetlb = true});
    ASSERT_TRUE(t.ok()) << t.status();
    const SessionTablePages p = (*t)->Pages();
    // Index, pool and free lists are each over 2 MiB here: each is on hugetlb pages or not.
    const long need = static_cast<long>(p.bytes >> 21);
    ASSERT_EQ(p.bytes % (2u << 20), 0u);
    if (free_pages >= need + 512) {
      EXPECT_EQ(p.hugetlb_bytes, p.bytes)
          << free_pages << " free 2 MiB pages, " << need << " needed: " << p.hugetlb_fallback;
      EXPECT_EQ(p.hugetlb_fallback, "");
    }
    if (p.hugetlb_bytes < p.bytes) {
      EXPECT_NE(p.hugetlb_fallback, "");  // says why
    }
    EXPECT_EQ(p.hugetlb_bytes % (2u << 20), 0u);
    EXPECT_LE(p.thp_bytes, p.bytes - p.hugetlb_bytes);  // no page counted twice
    EXPECT_EQ(RollupBytes("Private_Hugetlb") - before, static_cast<long long>(p.hugetlb_bytes));
    // Usable like any other table.
    const uint32_t idx = NewSession(**t, InKey(1), OutKey(1));
    uint32_t existing = kMiss;
    ASSERT_EQ((*t)->Insert(idx, false, &existing), InsertResult::kOk);
    EXPECT_EQ((*t)->Lookup(InKey(1)), MakeRef(idx, false));
    EXPECT_EQ((*t)->Lookup(OutKey(1)), MakeRef(idx, true));
  }
  EXPECT_EQ(RollupBytes("Private_Hugetlb"), before);
}

// A table that would leave the pool less free than asked takes none of it, and says why.
TEST(SessionTableTest, HugetlbTableLeavesThePoolToOthersWhenAsked) {
  const long long before = RollupBytes("Private_Hugetlb");
  if (before < 0) GTEST_SKIP() << "no /proc/self/smaps_rollup (Linux 4.14)";
  auto t = SessionTable::Create(
      {.max_sessions = 1 << 20, .hugetlb = true, .hugetlb_keep_free = size_t{1} << 40});
  ASSERT_TRUE(t.ok()) << t.status();
  const SessionTablePages p = (*t)->Pages();
  EXPECT_EQ(p.hugetlb_bytes, 0u);
  if (FreeHugepages() >= 0) {
    EXPECT_NE(p.hugetlb_fallback.find("and leaves 524288 to DPDK"), std::string::npos)
        << p.hugetlb_fallback;
  }
  EXPECT_EQ(RollupBytes("Private_Hugetlb"), before);
  uint32_t existing = kMiss;
  const uint32_t idx = NewSession(**t, InKey(7), OutKey(7));
  ASSERT_EQ((*t)->Insert(idx, true, &existing), InsertResult::kOk);
  EXPECT_EQ((*t)->Lookup(OutKey(7)), MakeRef(idx, true));
}

}  // namespace
}  // namespace natgw::conntrack
