// Session table: a bucketised two-choice hash index over a preallocated session pool.
//
// Index slot: bits 63..32 = tag (never 0 for a published key), bits 31..0 = ref + 1 (0 = empty).
// A slot holding tag 0 and a nonzero ref is a reservation made by an Insert that has not
// published yet; readers never match it.
//
// Placement: a key goes to its primary bucket, else its secondary (the primary's overflow count
// goes up), else Insert displaces one key that lives in either bucket as its primary to that key's
// own secondary (one level of cuckoo; moves only ever go primary -> secondary, which lock-free
// readers tolerate, see MakeRoom) and retries.
//
// Locking order: an Insert locks the primary buckets of both keys, in ascending bucket index (once
// if they are the same bucket); displacement may additionally *try*-lock one more bucket and gives
// up if it is busy, so it never waits while holding locks. An Unlink locks the primary bucket of
// one key at a time. Slots in a secondary bucket are claimed with a CAS, so the secondary's lock is
// not needed: every writer of a given key holds that key's primary lock, and a slot only goes
// empty -> reserved -> published -> empty (or empty -> published, for a displaced key) under the
// lock of the key it holds.
//
// Ordering: Insert publishes a slot with a release store after the caller wrote the session's keys,
// and bumps the primary's overflow count before publishing into the secondary; readers load slots
// and the overflow count with acquire.
#include "lib/conntrack/session_table.h"

#include <rte_prefetch.h>

#include <nmmintrin.h>
#include <smmintrin.h>
#include <sys/mman.h>
#include <xmmintrin.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace natgw::conntrack {
namespace {

constexpr uint32_t kSlotsPerBucket = 7;
// Target slot load with every session indexed twice at full capacity. 0.5 keeps the share of
// keys spilling into their secondary bucket well under 1 % and the index at ~37 bytes/session.
constexpr double kMaxSlotLoad = 0.5;
constexpr uint32_t kMaxSessions = 1u << 30;  // refs (index << 1 | bit) + 1 must fit 32 bits
constexpr uint32_t kMaxWorkers = 64;
constexpr size_t kHugePage = 2u << 20;
constexpr size_t kSmallPage = 4096;
constexpr char kHugetlbDir[] = "/sys/kernel/mm/hugepages/hugepages-2048kB";
// (Linux UAPI values, for headers older than the kernels that have them.)
#ifdef MADV_POPULATE_WRITE
constexpr int kMadvPopulateWrite = MADV_POPULATE_WRITE;
#else
constexpr int kMadvPopulateWrite = 23;  // Linux 5.14
#endif
#ifdef MAP_HUGE_2MB
constexpr int kMapHuge2Mb = MAP_HUGE_2MB;
#else
constexpr int kMapHuge2Mb = 21 << 26;   // log2(2 MiB) << MAP_HUGE_SHIFT
#endif
constexpr uint32_t kSeed1 = 0x9e3779b9;
constexpr uint32_t kSeed2 = 0x7f4a7c15;

constexpr uint64_t SlotValue(uint32_t tag, uint32_t ref) {
  return (static_cast<uint64_t>(tag) << 32) | (ref + 1);
}
inline uint32_t SlotTag(uint64_t v) { return static_cast<uint32_t>(v >> 32); }
inline uint32_t SlotRef(uint64_t v) { return static_cast<uint32_t>(v) - 1; }

// Prefetches into L2 rather than L1: measured ~5-10 % more lookups/s than T0 on big tables, as the
// L1 fill buffers stop being the limit on misses in flight; the loads that follow are L2 hits.
inline void Prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1); }

inline void CpuRelax() { _mm_pause(); }

// Bit j set iff slot j of the 64-byte bucket at `bucket` holds `tag`. The bucket is read with
// plain vector loads rather than per-slot atomic loads, so a slot may be seen mid-update: a match
// is only a hint, and callers re-read the matching slot atomically before trusting it.
inline uint32_t MatchTags(const void* bucket, uint32_t tag) {
  const auto* p = static_cast<const __m128i*>(bucket);
  const __m128 s01 = _mm_castsi128_ps(_mm_load_si128(p));  // slot0.lo slot0.hi slot1.lo ..
  const __m128 s23 = _mm_castsi128_ps(_mm_load_si128(p + 1));
  const __m128 s45 = _mm_castsi128_ps(_mm_load_si128(p + 2));
  const __m128 s6m = _mm_castsi128_ps(_mm_load_si128(p + 3));  // slot6.lo slot6.hi lock overflow
  const __m128i tags03 = _mm_castps_si128(_mm_shuffle_ps(s01, s23, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m128i tags47 = _mm_castps_si128(_mm_shuffle_ps(s45, s6m, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m128i t = _mm_set1_epi32(static_cast<int>(tag));
  const uint32_t m03 = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(tags03, t)));
  const uint32_t m47 = _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(tags47, t)));
  return (m03 | (m47 << 4)) & 0x7f;  // lane 7 is the overflow count, not a tag
}

inline bool KeyEquals(const FlowKey& a, const FlowKey& b) {
  const __m128i d = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&a)),
                                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(&b)));
  return _mm_testz_si128(d, d) != 0;
}

size_t HugeRound(size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }

// Anonymous memory for `bytes`. When large: on 2 MiB pages of the hugetlb pool if `hugetlb` and
// the pool gives them (*on_hugetlb is then true; else *why says what failed, if it was empty),
// else 2 MiB aligned and advised for transparent huge pages. The caller constructs every object
// in it right away, which populates it (with transparent huge pages where the kernel grants
// them) before any worker runs; MAP_POPULATE would fault 4 KiB pages before the advice.
void* MapHuge(size_t bytes, bool hugetlb, size_t* mapped, bool* on_hugetlb, std::string* why) {
  const bool huge = bytes >= kHugePage;
  const size_t align = huge ? kHugePage : kSmallPage;
  const size_t len = (bytes + align - 1) / align * align;
  *on_hugetlb = false;
  if (huge && hugetlb) {
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | kMapHuge2Mb, -1, 0);
    if (p == MAP_FAILED) {
      if (why->empty()) *why = absl::StrCat("mmap(MAP_HUGETLB): ", std::strerror(errno));
    } else {
      // Every page faulted in here, where a pool that cannot give one fails the call: a page
      // missing at the first touch would be a SIGBUS (a cgroup's hugetlb limit, say).
      if (madvise(p, len, kMadvPopulateWrite) == 0) {
        *mapped = len;
        *on_hugetlb = true;
        return p;
      }
      if (why->empty()) {
        *why = absl::StrCat("madvise(MADV_POPULATE_WRITE): ", std::strerror(errno),
                            errno == EINVAL ? " (Linux older than 5.14)" : "");
      }
      munmap(p, len);
    }
  }
  const size_t reserve = huge ? len + kHugePage : len;
  void* raw = mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  char* p = static_cast<char*>(raw);
  if (huge) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(raw);
    char* aligned = reinterpret_cast<char*>((a + kHugePage - 1) & ~(kHugePage - 1));
    const size_t head = static_cast<size_t>(aligned - p);
    if (head != 0) munmap(p, head);
    const size_t tail = reserve - head - len;
    if (tail != 0) munmap(aligned + len, tail);
    p = aligned;
    madvise(p, len, MADV_HUGEPAGE);  // best effort: THP may be disabled
  }
  *mapped = len;
  return p;
}

// A number from a sysfs file, or -1.
long ReadLong(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return -1;
  long v = -1;
  if (std::fscanf(f, "%ld", &v) != 1) v = -1;
  std::fclose(f);
  return v;
}

void Unmap(void* p, size_t len) {
  if (p != nullptr && len != 0) munmap(p, len);
}

}  // namespace

struct alignas(64) SessionTable::Bucket {
  std::atomic<uint64_t> slots[kSlotsPerBucket];
  std::atomic<uint32_t> lock;      // writer spin lock; readers never take it
  std::atomic<uint32_t> overflow;  // keys whose primary is this bucket living in their secondary

  void Lock() {
    while (lock.exchange(1, std::memory_order_acquire) != 0) {
      while (lock.load(std::memory_order_relaxed) != 0) CpuRelax();
    }
  }
  bool TryLock() {
    return lock.load(std::memory_order_relaxed) == 0 &&
           lock.exchange(1, std::memory_order_acquire) == 0;
  }
  void Unlock() { lock.store(0, std::memory_order_release); }
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);

// Per-worker free list: a LIFO stack of session indexes that only the owning worker touches.
struct alignas(64) SessionTable::WorkerSlice {
  uint32_t* stack = nullptr;
  uint32_t top = 0;                 // number of free indexes on the stack
  std::atomic<uint32_t> in_use{0};  // written by the owner only, read relaxed by anyone
};

struct SessionTable::KeyHash {
  uint32_t h1;   // selects the primary bucket
  uint32_t h2;   // selects the secondary bucket
  uint32_t tag;  // h1 ^ h2, never 0
};

inline SessionTable::KeyHash SessionTable::Hash(const FlowKey& key) {
  uint64_t a, b;
  std::memcpy(&a, &key, 8);
  std::memcpy(&b, reinterpret_cast<const char*>(&key) + 8, 8);
  // CRC32 is linear: two seeds over the same input would differ by a constant, so the second hash
  // takes the halves in the other order, which gives it a different kernel.
  KeyHash h;
  h.h1 = static_cast<uint32_t>(_mm_crc32_u64(_mm_crc32_u64(kSeed1, a), b));
  h.h2 = static_cast<uint32_t>(_mm_crc32_u64(_mm_crc32_u64(kSeed2, b), a));
  const uint32_t t = h.h1 ^ h.h2;
  h.tag = t + (t == 0);
  return h;
}

// The key a reference names: in_key at offset 0 of the session, out_key at offset 16.
inline const FlowKey* SessionTable::SessionKey(uint32_t ref) const {
  static_assert(offsetof(Session, in_key) == 0 && offsetof(Session, out_key) == sizeof(FlowKey));
  return reinterpret_cast<const FlowKey*>(reinterpret_cast<const char*>(&sessions_[ref >> 1]) +
                                          (ref & 1) * sizeof(FlowKey));
}

inline uint64_t SessionTable::PrimaryBucket(const KeyHash& h) const {
  return (static_cast<uint64_t>(h.h1) * num_buckets_) >> 32;
}

inline uint64_t SessionTable::SecondaryBucket(const KeyHash& h) const {
  const uint64_t p = PrimaryBucket(h);
  uint64_t s = (static_cast<uint64_t>(h.h2) * num_buckets_) >> 32;
  if (s == p) s = (s + 1 == num_buckets_) ? 0 : s + 1;
  return s;
}

absl::StatusOr<std::unique_ptr<SessionTable>> SessionTable::Create(
    const SessionTableConfig& config) {
  if (config.num_workers == 0 || config.num_workers > kMaxWorkers) {
    return absl::InvalidArgumentError(
        absl::StrFormat("num_workers must be 1..%d, got %d", kMaxWorkers, config.num_workers));
  }
  if (config.max_sessions == 0 || config.max_sessions > kMaxSessions) {
    return absl::InvalidArgumentError(
        absl::StrFormat("max_sessions must be 1..%d, got %d", kMaxSessions, config.max_sessions));
  }
  const uint32_t slice = (config.max_sessions + config.num_workers - 1) / config.num_workers;
  const uint64_t capacity = static_cast<uint64_t>(slice) * config.num_workers;
  if (capacity > kMaxSessions) {
    return absl::InvalidArgumentError("max_sessions rounded up to num_workers is too large");
  }

  std::unique_ptr<SessionTable> t(new SessionTable());
  t->capacity_ = static_cast<uint32_t>(capacity);
  t->num_workers_ = config.num_workers;
  t->slice_size_ = slice;
  const double slots = 2.0 * static_cast<double>(capacity) / kMaxSlotLoad;
  t->num_buckets_ =
      std::max<uint64_t>(2, static_cast<uint64_t>((slots + kSlotsPerBucket - 1) / kSlotsPerBucket));

  const size_t sizes[3] = {t->num_buckets_ * sizeof(Bucket), capacity * sizeof(Session),
                           capacity * sizeof(uint32_t)};
  bool hugetlb = config.hugetlb;
  std::string& why = t->hugetlb_fallback_;
  if (hugetlb) {
    // The pool's pages neither used nor promised to a mapping: what a new mapping can get.
    const long free_pages = ReadLong(std::string(kHugetlbDir) + "/free_hugepages");
    const long resv_pages = ReadLong(std::string(kHugetlbDir) + "/resv_hugepages");
    size_t need = 0;
    for (size_t b : sizes) need += b >= kHugePage ? HugeRound(b) : 0;
    const size_t keep = HugeRound(config.hugetlb_keep_free);
    const long avail = std::max(0L, free_pages - std::max(0L, resv_pages));
    if (free_pages < 0) {
      why = "this kernel has no pool of 2 MiB hugepages";
      hugetlb = false;
    } else if (static_cast<size_t>(avail) < (need + keep) / kHugePage) {
      why = absl::StrFormat(
          "the 2 MiB hugepage pool has %d pages free, the table needs %d and leaves %d to DPDK",
          avail, need / kHugePage, keep / kHugePage);
      hugetlb = false;
    }
  }
  bool on_hugetlb[3];
  t->buckets_ = static_cast<Bucket*>(
      MapHuge(sizes[0], hugetlb, &t->index_bytes_, &on_hugetlb[0], &why));
  t->sessions_ =
      static_cast<Session*>(MapHuge(sizes[1], hugetlb, &t->pool_bytes_, &on_hugetlb[1], &why));
  size_t stack_bytes = 0;
  auto* stack =
      static_cast<uint32_t*>(MapHuge(sizes[2], hugetlb, &stack_bytes, &on_hugetlb[2], &why));
  t->stack_bytes_ = stack_bytes;
  t->hugetlb_bytes_ = (on_hugetlb[0] ? t->index_bytes_ : 0) + (on_hugetlb[1] ? t->pool_bytes_ : 0) +
                      (on_hugetlb[2] ? stack_bytes : 0);
  if (t->buckets_ == nullptr || t->sessions_ == nullptr || stack == nullptr) {
    const int err = errno;
    Unmap(stack, stack_bytes);
    return absl::ResourceExhaustedError(
        absl::StrFormat("cannot map %d bytes for %d sessions: %s",
                        t->num_buckets_ * sizeof(Bucket) + capacity * (sizeof(Session) + 4),
                        capacity, std::strerror(err)));
  }
  static_assert(sizeof(Bucket) == 64, "a bucket is one cache line");
  // Value-initialised: every slot empty, every lock free, every overflow count 0.
  std::uninitialized_value_construct_n(t->buckets_, t->num_buckets_);
  std::uninitialized_value_construct_n(t->sessions_, capacity);
  t->slices_ = new WorkerSlice[config.num_workers];
  t->freelist_bytes_ = stack_bytes + config.num_workers * sizeof(WorkerSlice);
  for (uint32_t w = 0; w < config.num_workers; ++w) {
    WorkerSlice& s = t->slices_[w];
    s.stack = stack + static_cast<size_t>(w) * slice;
    // Pushed in reverse so the slice hands out ascending indexes.
    for (uint32_t i = 0; i < slice; ++i) s.stack[i] = w * slice + (slice - 1 - i);
    s.top = slice;
  }
  return t;
}

SessionTable::~SessionTable() {
  Unmap(buckets_, index_bytes_);
  Unmap(sessions_, pool_bytes_);
  if (slices_ != nullptr) {
    Unmap(slices_[0].stack, stack_bytes_);
    delete[] slices_;
  }
}

uint32_t SessionTable::Alloc(uint32_t worker) {
  assert(worker < num_workers_);
  WorkerSlice& s = slices_[worker];
  if (s.top == 0) return kNoSession;
  const uint32_t index = s.stack[--s.top];
  s.in_use.store(s.in_use.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  sessions_[index].owner = static_cast<uint8_t>(worker);
  return index;
}

void SessionTable::Free(uint32_t index) {
  assert(index < capacity_);
  const uint32_t worker = index / slice_size_;
  assert(sessions_[index].owner == worker);
  WorkerSlice& s = slices_[worker];
  assert(s.top < slice_size_);
  s.stack[s.top++] = index;
  s.in_use.store(s.in_use.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

uint64_t SessionTable::InUse() const {
  uint64_t n = 0;
  for (uint32_t w = 0; w < num_workers_; ++w) {
    n += slices_[w].in_use.load(std::memory_order_relaxed);
  }
  return n;
}

size_t SessionTable::MemoryBytes() const { return index_bytes_ + pool_bytes_ + freelist_bytes_; }

SessionTablePages SessionTable::Pages() const {
  SessionTablePages p;
  p.bytes = index_bytes_ + pool_bytes_ + stack_bytes_;
  p.hugetlb_bytes = hugetlb_bytes_;
  p.hugetlb_fallback = hugetlb_fallback_;
  const struct {
    const void* start;
    size_t len;
  } maps[] = {{buckets_, index_bytes_}, {sessions_, pool_bytes_}, {slices_[0].stack, stack_bytes_}};
  for (const auto& m : maps) {
    if (m.len < kHugePage) p.small_bytes += m.len;
  }
  if (p.hugetlb_bytes + p.small_bytes == p.bytes) return p;  // nothing can be on THP
  std::lock_guard<std::mutex> lock(thp_mu_);
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
  if (thp_read_s_ >= 0 && now_s - thp_read_s_ < 30) {
    p.thp_bytes = thp_bytes_;
    return p;
  }
  // smaps: a header line "lo-hi perms ..." per mapping, then its "Name: value kB" lines.
  std::FILE* f = std::fopen("/proc/self/smaps", "r");
  if (f == nullptr) return p;
  char line[512];
  bool ours = false;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    const bool whole = std::strchr(line, '\n') != nullptr;
    unsigned long lo = 0, hi = 0, kb = 0;
    if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
      ours = false;
      for (const auto& m : maps) {
        const auto s = reinterpret_cast<uintptr_t>(m.start);
        if (m.len != 0 && lo >= s && hi <= s + m.len) ours = true;
      }
    } else if (ours && std::sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) {
      p.thp_bytes += static_cast<size_t>(kb) * 1024;
    }
    // The rest of a line longer than the buffer (a long file name) is no line of its own.
    for (int c = 0; !whole && c != '\n' && c != EOF;) c = std::fgetc(f);
  }
  std::fclose(f);
  thp_read_s_ = now_s;
  thp_bytes_ = p.thp_bytes;
  return p;
}

void SessionTable::KeyBucketsForTest(const FlowKey& key, uint64_t* primary,
                                     uint64_t* secondary) const {
  const KeyHash h = Hash(key);
  *primary = PrimaryBucket(h);
  *secondary = SecondaryBucket(h);
}

uint32_t SessionTable::UsedSlotsForTest(uint64_t bucket) const {
  uint32_t n = 0;
  for (const auto& slot : buckets_[bucket].slots) n += slot.load(std::memory_order_acquire) != 0;
  return n;
}

uint32_t SessionTable::OverflowForTest(uint64_t bucket) const {
  return buckets_[bucket].overflow.load(std::memory_order_acquire);
}

// Full-key search of one bucket; kMiss if absent.
inline uint32_t SessionTable::FindInBucket(const Bucket& b, const FlowKey& key,
                                           uint32_t tag) const {
  for (uint32_t m = MatchTags(&b, tag); m != 0; m &= m - 1) {
    const uint64_t v = b.slots[__builtin_ctz(m)].load(std::memory_order_acquire);
    if (SlotTag(v) != tag) continue;
    const uint32_t ref = SlotRef(v);
    if (KeyEquals(*SessionKey(ref), key)) return ref;
  }
  return kMiss;
}

void SessionTable::PrefetchKey(const FlowKey& key) const {
  rte_prefetch0(&buckets_[PrimaryBucket(Hash(key))]);
}

uint32_t SessionTable::Lookup(const FlowKey& key) const {
  const KeyHash h = Hash(key);
  const Bucket& p = buckets_[PrimaryBucket(h)];
  const uint32_t ref = FindInBucket(p, key, h.tag);
  if (ref != kMiss || p.overflow.load(std::memory_order_acquire) == 0) return ref;
  return FindInBucket(buckets_[SecondaryBucket(h)], key, h.tag);
}

// Stages: (1) hash every key and prefetch its primary bucket; (2) match tags with SIMD and prefetch
// the candidate session; (3) compare full keys; (4) rare: search the secondary buckets of keys that
// missed in a primary whose overflow count is nonzero.
void SessionTable::LookupBulk(const FlowKey* const* keys, uint32_t n, uint32_t* refs) const {
  assert(n <= 64);
  KeyHash hash[64];
  const Bucket* bucket[64];
  uint32_t cand[64];  // ref of the first tag match, or kMiss
  uint32_t mask[64];  // slots whose tag matched

  for (uint32_t i = 0; i < n; ++i) {
    hash[i] = Hash(*keys[i]);
    bucket[i] = &buckets_[PrimaryBucket(hash[i])];
    Prefetch(bucket[i]);
  }

  for (uint32_t i = 0; i < n; ++i) {
    const Bucket& b = *bucket[i];
    const uint32_t tag = hash[i].tag;
    const uint32_t m = MatchTags(&b, tag);
    uint32_t ref = kMiss;
    if (ABSL_PREDICT_TRUE(m != 0)) {
      const uint64_t v = b.slots[__builtin_ctz(m)].load(std::memory_order_acquire);
      if (ABSL_PREDICT_TRUE(SlotTag(v) == tag)) {
        ref = SlotRef(v);
        Prefetch(SessionKey(ref));
      }
    }
    cand[i] = ref;
    mask[i] = m;
  }

  uint64_t need_secondary = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t ref = cand[i];
    if (ABSL_PREDICT_TRUE(ref != kMiss) && KeyEquals(*SessionKey(ref), *keys[i])) {
      refs[i] = ref;
      continue;
    }
    // No candidate, a 32-bit tag collision, or a slot changed under us: search the whole bucket
    // if more than one slot matched, then the secondary if keys overflowed from this bucket.
    const uint32_t r =
        (mask[i] & (mask[i] - 1)) != 0 ? FindInBucket(*bucket[i], *keys[i], hash[i].tag) : kMiss;
    refs[i] = r;
    if (r == kMiss && bucket[i]->overflow.load(std::memory_order_acquire) != 0) {
      need_secondary |= uint64_t{1} << i;
    }
  }

  if (ABSL_PREDICT_TRUE(need_secondary == 0)) return;
  const Bucket* second[64];
  for (uint64_t m = need_secondary; m != 0; m &= m - 1) {
    const uint32_t i = static_cast<uint32_t>(__builtin_ctzll(m));
    second[i] = &buckets_[SecondaryBucket(hash[i])];
    Prefetch(second[i]);
  }
  for (uint64_t m = need_secondary; m != 0; m &= m - 1) {
    const uint32_t i = static_cast<uint32_t>(__builtin_ctzll(m));
    refs[i] = FindInBucket(*second[i], *keys[i], hash[i].tag);
  }
}

// Caller holds the key's primary lock.
uint32_t SessionTable::FindLocked(const FlowKey& key, const KeyHash& h) const {
  const Bucket& p = buckets_[PrimaryBucket(h)];
  const uint32_t ref = FindInBucket(p, key, h.tag);
  if (ref != kMiss || p.overflow.load(std::memory_order_relaxed) == 0) return ref;
  return FindInBucket(buckets_[SecondaryBucket(h)], key, h.tag);
}

// Reserves an empty slot of `b` for `ref` with tag 0, so readers skip it until it is published.
inline std::atomic<uint64_t>* SessionTable::Reserve(Bucket& b, uint32_t ref) {
  for (auto& slot : b.slots) {
    uint64_t expected = 0;
    if (slot.load(std::memory_order_relaxed) == 0 &&
        slot.compare_exchange_strong(expected, SlotValue(0, ref), std::memory_order_relaxed)) {
      return &slot;
    }
  }
  return nullptr;
}

// Makes room in the full bucket `index` by moving one key that lives there as its primary to its
// own secondary (one level of cuckoo displacement). Moves only go primary -> secondary, which
// readers tolerate: the copy is published and the primary's overflow count raised before the
// original slot is cleared, so a reader sees the key in one place or the other. `locked`: the
// caller holds this bucket's lock; otherwise it is try-locked (never waited for, so the caller
// may hold other bucket locks in any order).
bool SessionTable::MakeRoom(uint64_t index, bool locked) {
  Bucket& b = buckets_[index];
  if (!locked && !b.TryLock()) return false;
  bool moved = false;
  for (uint32_t j = 0; j < kSlotsPerBucket && !moved; ++j) {
    const uint64_t v = b.slots[j].load(std::memory_order_relaxed);
    if (SlotTag(v) == 0) continue;  // empty or reserved by an Insert in progress
    const uint32_t ref = SlotRef(v);
    const Session& s = sessions_[RefSession(ref)];
    const KeyHash h = Hash(RefIsOutKey(ref) ? s.out_key : s.in_key);
    // Only keys whose primary is this bucket are guarded by the lock held here. The tag check
    // rejects a slot whose session was re-keyed under us (it cannot be, for such a key).
    if (PrimaryBucket(h) != index || h.tag != SlotTag(v)) continue;
    Bucket& dest = buckets_[SecondaryBucket(h)];
    for (auto& slot : dest.slots) {
      uint64_t expected = 0;
      if (slot.load(std::memory_order_relaxed) == 0 &&
          slot.compare_exchange_strong(expected, v, std::memory_order_release,
                                       std::memory_order_relaxed)) {
        b.overflow.fetch_add(1, std::memory_order_relaxed);
        b.slots[j].store(0, std::memory_order_release);
        moved = true;
        break;
      }
    }
  }
  if (!locked) b.Unlock();
  return moved;
}

// Reserves a slot for a key in its primary bucket or else its secondary (raising the primary's
// overflow count), displacing another key if both are full. Caller holds the key's primary lock;
// `secondary_locked` says whether it also holds the secondary's.
std::atomic<uint64_t>* SessionTable::ClaimSlot(const KeyHash& h, uint32_t ref,
                                               bool secondary_locked, bool* in_secondary) {
  const uint64_t pi = PrimaryBucket(h);
  const uint64_t si = SecondaryBucket(h);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto* slot = Reserve(buckets_[pi], ref)) {
      *in_secondary = false;
      return slot;
    }
    if (auto* slot = Reserve(buckets_[si], ref)) {
      buckets_[pi].overflow.fetch_add(1, std::memory_order_relaxed);
      *in_secondary = true;
      return slot;
    }
    if (attempt == 0 && !MakeRoom(pi, true) && !MakeRoom(si, secondary_locked)) break;
  }
  return nullptr;
}

InsertResult SessionTable::Insert(uint32_t index, bool out_key_first, uint32_t* existing_ref) {
  assert(index < capacity_);
  const Session& s = sessions_[index];
  const FlowKey& k1 = out_key_first ? s.out_key : s.in_key;
  const FlowKey& k2 = out_key_first ? s.in_key : s.out_key;
  const uint32_t r1 = MakeRef(index, out_key_first);
  const uint32_t r2 = MakeRef(index, !out_key_first);
  const KeyHash h1 = Hash(k1);
  const KeyHash h2 = Hash(k2);
  uint64_t b1 = PrimaryBucket(h1);
  uint64_t b2 = PrimaryBucket(h2);
  Bucket* first = &buckets_[std::min(b1, b2)];
  Bucket* second = b1 == b2 ? nullptr : &buckets_[std::max(b1, b2)];
  // Fetch both buckets for writing before the first lock: a locked exchange waits for its line,
  // so without this the two misses would be taken one after the other.
  __builtin_prefetch(first, 1, 3);
  if (second != nullptr) __builtin_prefetch(second, 1, 3);
  first->Lock();
  if (second != nullptr) second->Lock();
  auto held = [&](uint64_t b) { return b == b1 || b == b2; };
  auto unlock = [&] {
    if (second != nullptr) second->Unlock();
    first->Unlock();
  };

  InsertResult result = InsertResult::kOk;
  std::atomic<uint64_t>* slot1 = nullptr;
  std::atomic<uint64_t>* slot2 = nullptr;
  bool sec1 = false, sec2 = false;
  if (const uint32_t ref = FindLocked(k1, h1); ref != kMiss) {
    if (existing_ref != nullptr) *existing_ref = ref;
    result = InsertResult::kFirstKeyExists;
  } else if (k1 == k2 || FindLocked(k2, h2) != kMiss) {
    result = InsertResult::kSecondKeyExists;
  } else if ((slot1 = ClaimSlot(h1, r1, held(SecondaryBucket(h1)), &sec1)) == nullptr) {
    result = InsertResult::kFull;
  } else if ((slot2 = ClaimSlot(h2, r2, held(SecondaryBucket(h2)), &sec2)) == nullptr) {
    slot1->store(0, std::memory_order_relaxed);
    if (sec1) buckets_[b1].overflow.fetch_sub(1, std::memory_order_relaxed);
    result = InsertResult::kFull;
  } else {
    slot1->store(SlotValue(h1.tag, r1), std::memory_order_release);
    slot2->store(SlotValue(h2.tag, r2), std::memory_order_release);
  }
  unlock();
  return result;
}

void SessionTable::UnlinkKey(const FlowKey& key, uint32_t ref) {
  const KeyHash h = Hash(key);
  const uint64_t value = SlotValue(h.tag, ref);
  Bucket& p = buckets_[PrimaryBucket(h)];
  p.Lock();
  bool done = false;
  for (uint32_t j = 0; j < kSlotsPerBucket && !done; ++j) {
    if (p.slots[j].load(std::memory_order_relaxed) == value) {
      p.slots[j].store(0, std::memory_order_release);
      done = true;
    }
  }
  if (!done && p.overflow.load(std::memory_order_relaxed) != 0) {
    Bucket& s = buckets_[SecondaryBucket(h)];
    for (uint32_t j = 0; j < kSlotsPerBucket; ++j) {
      // Only this key's primary lock guards its slot; other writers of this bucket never touch a
      // published slot that is not theirs, so a plain store is enough.
      if (s.slots[j].load(std::memory_order_relaxed) == value) {
        s.slots[j].store(0, std::memory_order_release);
        p.overflow.fetch_sub(1, std::memory_order_relaxed);
        break;
      }
    }
  }
  p.Unlock();
}

void SessionTable::Unlink(uint32_t index) {
  assert(index < capacity_);
  const Session& s = sessions_[index];
  UnlinkKey(s.in_key, MakeRef(index, false));
  UnlinkKey(s.out_key, MakeRef(index, true));
}

}  // namespace natgw::conntrack
