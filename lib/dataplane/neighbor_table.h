// The neighbor (ARP) table shared by all workers: (interface, IPv4 address) -> MAC.
//
// Fixed size, open addressing with a short linear probe window, never resized. Each slot is one
// cache line guarded by a sequence lock: readers never wait on a writer (a read that races a
// write retries a few times, then reports the slot as busy), and writers take a slot with a
// compare-and-swap and give up instead of waiting when another writer holds it. Writers are the
// workers (ARP they receive, next hops they need); readers are the workers (every forwarded
// frame) and the control thread (Snapshot). Slots are never emptied: a slot is reused (evicted)
// only when its entry has expired or failed to resolve, so an empty slot ends a probe chain.
//
// Times are TSC cycles, passed in by the caller (tests advance them). An entry is:
//   incomplete  created for a next hop, no ARP answer yet (or its answer expired);
//   reachable   answered within `reachable_s`;
//   stale       answered within `expire_s`: still used, but worth a refresh request;
//   after `expire_s` without an answer it is incomplete again.
#ifndef NATGW_LIB_DATAPLANE_NEIGHBOR_TABLE_H_
#define NATGW_LIB_DATAPLANE_NEIGHBOR_TABLE_H_

#include <rte_byteorder.h>
#include <rte_ether.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace natgw::dataplane {

struct NeighborTableConfig {
  uint32_t slots = 4096;                // rounded up to a power of two
  uint64_t hz = 1;                      // TSC cycles per second
  uint32_t reachable_s = 30;            // after this, a used entry is refreshed (ARP request)
  uint32_t expire_s = 60;               // after this, the entry no longer resolves (>= reachable_s)
  uint32_t incomplete_s = 3;            // an unanswered entry older than this may be evicted
  uint32_t request_interval_ms = 1000;  // at most one ARP request per entry per interval
};

class NeighborTable {
 public:
  enum class State : uint8_t { kAbsent, kBusy, kIncomplete, kReachable, kStale };
  static constexpr uint32_t kNoSlot = 0xffffffffu;
  static constexpr uint32_t kProbe = 8;

  struct Result {
    State state = State::kAbsent;
    uint32_t slot = kNoSlot;
    rte_ether_addr mac{};  // valid for kReachable and kStale
    uint64_t reachable_until_tsc = 0;  // valid for kReachable: when it turns stale
  };

  struct Entry {  // Snapshot row
    uint16_t port_index;
    uint32_t ip;  // network order
    rte_ether_addr mac;
    bool resolved;
    uint64_t age_tsc;  // since the last answer, or since creation when never answered
  };

  // Control thread, at start.
  explicit NeighborTable(const NeighborTableConfig& config);
  NeighborTable(const NeighborTable&) = delete;
  NeighborTable& operator=(const NeighborTable&) = delete;

  // Any thread; no allocation. The entry of (port_index, ip), kAbsent if there is none.
  Result Find(uint16_t port_index, uint32_t ip, uint64_t now_tsc) const;

  // Worker. Like Find, but creates an incomplete entry when there is none. kAbsent means no slot
  // could be had (every slot of the probe window holds a live entry) or a writer raced us.
  Result FindOrCreate(uint16_t port_index, uint32_t ip, uint64_t now_tsc);

  // Worker. True at most once per request interval per slot, across all workers: the caller
  // that gets true sends the ARP request.
  bool ClaimRequest(uint32_t slot, uint64_t now_tsc);

  // Worker. Records an ARP answer: `ip` on `port_index` is at `mac`. Creates the entry only if
  // `create` (the message was addressed to us); otherwise only refreshes an existing one.
  // Returns true if an entry was written.
  bool Learn(uint16_t port_index, uint32_t ip, const rte_ether_addr& mac, uint64_t now_tsc,
             bool create);

  // Control thread (any thread): every entry, racy but each row consistent. Allocates.
  std::vector<Entry> Snapshot(uint64_t now_tsc) const;

  uint32_t size() const { return mask_ + 1; }

  // Bumped after every write that changes the MAC of a resolved entry (a refresh of the same
  // MAC, a first answer or an eviction does not count: no memo line can hold those): what a
  // NeighborCache checks its lines against.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  static uint64_t MakeKey(uint16_t port_index, uint32_t ip) {
    return (uint64_t{port_index} + 1) << 32 | ip;
  }

 private:
  struct alignas(64) Slot {
    std::atomic<uint32_t> seq{0};            // odd while a writer holds the slot
    std::atomic<uint64_t> key{0};            // 0: empty
    std::atomic<uint64_t> mac{0};            // MAC bytes in the low 48 bits, kResolved bit
    std::atomic<uint64_t> since_tsc{0};      // last answer, or creation while incomplete
    std::atomic<uint64_t> requested_tsc{0};  // last ARP request (outside the lock)
  };
  static constexpr uint64_t kResolved = uint64_t{1} << 63;
  uint32_t Home(uint64_t key) const;
  // A consistent read of a slot's key, MAC word and timestamp; false if a writer kept it busy.
  bool Read(uint32_t i, uint64_t* key, uint64_t* mac, uint64_t* since) const;
  bool TryLock(uint32_t i, uint32_t* seq);
  void Unlock(uint32_t i, uint32_t seq);
  Result Decode(uint32_t i, uint64_t mac, uint64_t since, uint64_t now_tsc) const;
  // Probes for `key`; on a miss, *free_slot is a slot a new entry may take (kNoSlot if none).
  Result Probe(uint64_t key, uint64_t now_tsc, uint32_t* free_slot) const;
  bool Evictable(uint64_t mac, uint64_t since, uint64_t now_tsc) const;
  // Takes `slot` for `key` (it must still look as Probe saw it). kNoSlot on a race.
  uint32_t Claim(uint32_t slot, uint64_t key, uint64_t now_tsc);

  NeighborTableConfig config_;
  uint64_t reachable_tsc_, expire_tsc_, incomplete_tsc_, interval_tsc_;
  uint32_t mask_;
  std::unique_ptr<Slot[]> slots_;
  alignas(64) std::atomic<uint64_t> version_{0};
};

// One worker's memo of reachable neighbors, so that forwarding a frame costs a compare instead
// of a hash probe and a sequence-locked read of the shared table. A line holds until its entry
// would turn stale or the table's version moves (a new MAC for any entry), whichever comes
// first; stale, incomplete and busy entries are never memoized, so ARP refreshes and holds go
// through the table exactly as before. Worker-private: no synchronization.
class NeighborCache {
 public:
  // Two ways per set, 256 KiB in all (of which only the lines in use are ever touched): the next
  // hops of a few thousand directly connected pods fit without evicting each other. With 1024
  // sets, 1024 consecutive pod addresses left 32 sets with three next hops each, and a set with
  // three hops visited in turn misses every time.
  static constexpr uint32_t kSets = 4096;
  static constexpr uint32_t kWays = 2;

  // True, with *mac, when (port_index, ip) is memoized and still good at now_tsc.
  bool Find(const NeighborTable& t, uint16_t port_index, uint32_t ip, uint64_t now_tsc,
            rte_ether_addr* mac) const {
    const uint64_t key = NeighborTable::MakeKey(port_index, ip);
    const Line* set = sets_[Index(key)];
    const Line* l = set[0].key == key ? &set[0] : set[1].key == key ? &set[1] : nullptr;
    if (l == nullptr || now_tsc >= l->until_tsc || l->version != t.version()) return false;
    *mac = l->mac;
    return true;
  }

  // Starts fetching the line Find(port_index, ip) will read.
  void Prefetch(uint16_t port_index, uint32_t ip) const {
    __builtin_prefetch(sets_[Index(NeighborTable::MakeKey(port_index, ip))], 0, 3);
  }

  // Memoizes a kReachable result that was read after `version` (NeighborTable::version()
  // loaded before the lookup, so a write racing the lookup invalidates the line). The newest
  // line of a set is its first way; the older one moves to the second.
  void Remember(uint16_t port_index, uint32_t ip, const NeighborTable::Result& r,
                uint64_t version) {
    if (r.state != NeighborTable::State::kReachable) return;
    const uint64_t key = NeighborTable::MakeKey(port_index, ip);
    Line* set = sets_[Index(key)];
    if (set[0].key != key) set[1] = set[0];
    set[0] = Line{key, r.reachable_until_tsc, version, r.mac};
  }

 private:
  struct Line {  // 32 bytes: a set of two is one cache line
    uint64_t key = 0;  // 0: empty (MakeKey never returns 0)
    uint64_t until_tsc = 0;
    uint64_t version = 0;
    rte_ether_addr mac{};
  };
  // Fibonacci hashing, over the address in host order so that consecutive addresses (a node's
  // pods) land in different sets.
  static uint32_t Index(uint64_t key) {
    const uint64_t k = (key & ~uint64_t{0xffffffff}) | rte_be_to_cpu_32(static_cast<uint32_t>(key));
    return static_cast<uint32_t>((k * 0x9e3779b97f4a7c15ull) >> (64 - kSetBits));
  }
  static constexpr uint32_t kSetBits = 12;
  static_assert(kSets == 1u << kSetBits);
  static_assert(sizeof(Line) * kWays == 64);
  alignas(64) Line sets_[kSets][kWays];
};

}  // namespace natgw::dataplane

#endif  // NATGW_LIB_DATAPLANE_NEIGHBOR_TABLE_H_
