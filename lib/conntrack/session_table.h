// The session table shared by all workers (DESIGN.md section 3).
//
// Layout: a preallocated pool of 64-byte Sessions and an index of 64-byte buckets. Each bucket has
// 7 slots (32-bit tag | 32-bit reference) and one meta word (writer lock, overflow count). Every
// session is indexed twice, by its in_key and its out_key. A key lives in its primary bucket or, if
// that is full, in its secondary bucket; the primary's overflow count tells readers when the
// secondary must be searched. Keys are hashed with the CPU's CRC32 instruction. The index is sized
// for a slot load of 1/2 at full capacity (about 37 bytes per session, 105 with the pool).
//
// Concurrency:
//  - Lookups are lock-free and write nothing. A reader must be an RCU reader of the rte_rcu_qsbr
//    variable that the owning workers use to defer frees (see WorkerSessions), so a session it
//    found is not freed under it. A hit has had its full key compared, so it is never a wrong flow.
//  - Insert and Unlink take per-bucket spin locks (two at most, in bucket-index order, plus a
//    try-lock) that readers never wait on. They may run on any thread, concurrently. Like lookups,
//    Insert reads the sessions that other slots refer to, so its caller must be an RCU reader too
//    (or know that no session is freed meanwhile).
//  - The pool is split into one slice per worker; Alloc/Free for worker w must only be
//    called by worker w.
// Memory: MemoryBytes() reports everything the table allocated (hugepage-backed where the kernel
// allows transparent huge pages).
#ifndef NATGW_LIB_CONNTRACK_SESSION_TABLE_H_
#define NATGW_LIB_CONNTRACK_SESSION_TABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "lib/conntrack/flow_key.h"
#include "lib/conntrack/session.h"

namespace natgw::conntrack {

struct SessionTableConfig {
  uint32_t max_sessions = 1 << 20;  // pool size, rounded up to a multiple of num_workers
  uint32_t num_workers = 1;         // 1..64
  // Map the table on 2 MiB pages of the host's hugetlb pool (vm.nr_hugepages) when the pool has
  // room for it; otherwise, and when false, on transparent huge pages where the kernel grants
  // them. Every lookup misses the cache twice at random over the whole table: on 4 KiB pages it
  // misses the TLB as well.
  bool hugetlb = false;
  // With hugetlb: the table takes pages of the pool only if this many bytes of it stay free
  // (neither used nor reserved) after it: room for DPDK's heap to grow into.
  size_t hugetlb_keep_free = 0;
};

// The pages the table's memory lies on.
struct SessionTablePages {
  size_t bytes = 0;          // mapped in all (index, pool, free lists)
  size_t hugetlb_bytes = 0;  // on 2 MiB pages of the hugetlb pool
  size_t thp_bytes = 0;      // on transparent huge pages, as /proc/self/smaps says now
  size_t small_bytes = 0;    // in mappings under 2 MiB: always on 4 KiB pages
  // Asked for hugetlb pages, why (some of) the table did not get them; empty otherwise.
  std::string hugetlb_fallback;
  // On 4 KiB pages: what is on neither kind of huge page (small_bytes included).
  size_t on_4k_bytes() const {
    return bytes - (hugetlb_bytes + thp_bytes < bytes ? hugetlb_bytes + thp_bytes : bytes);
  }
};

// A lookup result: (session index << 1) | 1 if the out_key matched, | 0 if the in_key matched.
inline constexpr uint32_t kMiss = 0xffffffff;
inline constexpr uint32_t kNoSession = 0xffffffff;
inline uint32_t RefSession(uint32_t ref) { return ref >> 1; }
inline bool RefIsOutKey(uint32_t ref) { return (ref & 1) != 0; }
inline uint32_t MakeRef(uint32_t session, bool out_key) {
  return (session << 1) | (out_key ? 1 : 0);
}

enum class InsertResult : uint8_t {
  kOk,
  kFirstKeyExists,   // another session already holds the first key; *existing_ref tells which
  kSecondKeyExists,  // the second key is taken by another session; nothing was inserted
  kFull,             // both candidate buckets of a key are full; nothing was inserted
};

class SessionTable {
 public:
  static absl::StatusOr<std::unique_ptr<SessionTable>> Create(const SessionTableConfig& config);
  ~SessionTable();
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // Looks up `n` keys (n <= 64) in stages (hash all, prefetch buckets, match tags, prefetch
  // sessions, compare keys) so memory latency overlaps. refs[i] = a reference or kMiss.
  // Thread context: any RCU reader; lock-free.
  void LookupBulk(const FlowKey* const* keys, uint32_t n, uint32_t* refs) const;
  uint32_t Lookup(const FlowKey& key) const;
  // Prefetches the primary bucket of `key`, ahead of a Lookup or Insert that will need it.
  void PrefetchKey(const FlowKey& key) const;

  Session& session(uint32_t index) { return sessions_[index]; }
  const Session& session(uint32_t index) const { return sessions_[index]; }

  // Takes a free session from worker `worker`'s slice, or returns kNoSession when it is empty.
  // The session's fields are unspecified; the caller fills them. Worker `worker` only.
  uint32_t Alloc(uint32_t worker);
  // Returns a session to its owner's slice. Only for sessions that are not (or no longer) in the
  // index and that no reader can still hold: never inserted, or past an RCU grace period.
  // Worker session.owner only.
  void Free(uint32_t index);

  // Indexes both keys of session `index`: `out_key_first` picks which key is inserted first (the
  // key of the direction that created the flow). On kFirstKeyExists, *existing_ref is the
  // reference held by the first key. On any result but kOk nothing was inserted.
  // Thread context: any; takes bucket locks.
  InsertResult Insert(uint32_t index, bool out_key_first, uint32_t* existing_ref);

  // Removes whichever keys of session `index` are indexed. Idempotent. Thread context: any.
  void Unlink(uint32_t index);

  uint32_t capacity() const { return capacity_; }
  uint32_t num_workers() const { return num_workers_; }
  uint32_t slice_size() const { return slice_size_; }
  // Sessions currently allocated (approximate while workers run).
  uint64_t InUse() const;
  // Bytes allocated for pool, index and free lists.
  size_t MemoryBytes() const;
  // What pages that memory got. The share on transparent huge pages comes from /proc/self/smaps
  // (read only when some of the table can have them, at most every 30 s: a DPDK process can
  // have thousands of mappings). Control thread; not for a hot path.
  SessionTablePages Pages() const;
  uint64_t num_buckets() const { return num_buckets_; }

  // Test hooks: where a key hashes to, and a bucket's occupied slots and overflow count.
  void KeyBucketsForTest(const FlowKey& key, uint64_t* primary, uint64_t* secondary) const;
  uint32_t UsedSlotsForTest(uint64_t bucket) const;
  uint32_t OverflowForTest(uint64_t bucket) const;

 private:
  SessionTable() = default;
  struct Bucket;
  struct WorkerSlice;

  struct KeyHash;
  static KeyHash Hash(const FlowKey& key);
  uint64_t PrimaryBucket(const KeyHash& h) const;
  uint64_t SecondaryBucket(const KeyHash& h) const;
  const FlowKey* SessionKey(uint32_t ref) const;
  uint32_t FindInBucket(const Bucket& b, const FlowKey& key, uint32_t tag) const;
  uint32_t FindLocked(const FlowKey& key, const KeyHash& h) const;
  static std::atomic<uint64_t>* Reserve(Bucket& b, uint32_t ref);
  bool MakeRoom(uint64_t index, bool locked);
  std::atomic<uint64_t>* ClaimSlot(const KeyHash& h, uint32_t ref, bool secondary_locked,
                                   bool* in_secondary);
  void UnlinkKey(const FlowKey& key, uint32_t ref);

  Bucket* buckets_ = nullptr;
  uint64_t num_buckets_ = 0;  // any count >= 2: keys map to buckets by multiply-shift
  Session* sessions_ = nullptr;
  WorkerSlice* slices_ = nullptr;
  uint32_t capacity_ = 0;
  uint32_t num_workers_ = 0;
  uint32_t slice_size_ = 0;
  size_t index_bytes_ = 0;
  size_t pool_bytes_ = 0;
  size_t freelist_bytes_ = 0;
  size_t stack_bytes_ = 0;    // the free lists' mapping (part of freelist_bytes_)
  size_t hugetlb_bytes_ = 0;  // of the three mappings, those on hugetlb pages
  std::string hugetlb_fallback_;
  // Pages()'s last reading of smaps.
  mutable std::mutex thp_mu_;
  mutable int64_t thp_read_s_ = -1;  // steady clock
  mutable size_t thp_bytes_ = 0;
};

}  // namespace natgw::conntrack

#endif  // NATGW_LIB_CONNTRACK_SESSION_TABLE_H_
