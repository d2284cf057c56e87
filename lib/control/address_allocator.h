// Hands out addresses of the conf's unique and vip pools to cluster objects (pods, services) and
// keeps them stable: an owner (a pod's or service's uid) keeps its address for as long as it
// exists, across natgw restarts (the state is saved to a file, written atomically), and a released
// address is quarantined before anyone else gets it, so a late packet for the old owner never
// reaches a new one. Control thread only.
#ifndef NATGW_LIB_CONTROL_ADDRESS_ALLOCATOR_H_
#define NATGW_LIB_CONTROL_ADDRESS_ALLOCATOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace natgw::control {

class AddressAllocator {
 public:
  struct Pool {
    std::string name;
    std::vector<uint32_t> addresses;  // network order
  };
  struct Allocation {
    std::string owner;  // "c1/pod/<uid>", "c1/service/<uid>"
    std::string label;  // "shop/cart-7" (for people)
    std::string pool;
    uint32_t address = 0;
    int64_t since = 0;  // unix seconds
  };
  struct Usage {
    std::string pool;
    uint32_t size = 0;         // addresses the allocator may hand out (reserved ones excluded)
    uint32_t in_use = 0;
    uint32_t quarantined = 0;  // released, not yet reusable
    uint64_t exhausted = 0;    // Acquire calls refused because nothing was free
  };

  AddressAllocator(std::vector<Pool> pools, uint32_t quarantine_s);

  // Addresses that are never handed out (static [[mapping]]s and [[service]] VIPs that lie in a
  // pool). Call before Load and Acquire.
  void Reserve(uint32_t address);
  // The reserved addresses become `addresses` (a reload's static ones): new ones are reserved;
  // ones no longer in it go back to their pool, quarantined from `now` like a released address
  // (peers of the static mapping may still send to it).
  void SetReserved(const absl::flat_hash_set<uint32_t>& addresses, int64_t now);

  // Restores allocations and quarantines from `path`. Never fails: a missing file starts empty, a
  // corrupt one is ignored (and rebuilt from cluster state); the returned text says which, for
  // the log. Allocations whose pool or address is gone are dropped (and said).
  std::string Load(const std::string& path, int64_t now);
  // Writes the state if it changed since the last save: to a temporary file, fsync, rename.
  absl::Status Save(const std::string& path);

  // The address of `owner` in `pool`, allocating one if it has none. `want` (non-zero) asks for
  // that address (an annotation's fixed address). Errors: NotFound (no such pool),
  // ResourceExhausted (nothing free), FailedPrecondition (`want` is not in the pool, reserved,
  // held by another owner or quarantined; the message says which and until when).
  absl::StatusOr<uint32_t> Acquire(const std::string& pool, const std::string& owner,
                                   const std::string& label, uint32_t want, int64_t now);
  // Gives `owner`'s address back; it is quarantined until now + quarantine_s. No-op if none.
  void Release(const std::string& owner, int64_t now);

  const Allocation* Find(const std::string& owner) const;
  // Owners whose key starts with `prefix` ("c1/pod/").
  std::vector<std::string> OwnersWithPrefix(const std::string& prefix) const;
  std::vector<Usage> PoolUsage(int64_t now) const;
  uint32_t quarantine_s() const { return quarantine_s_; }
  bool dirty() const { return dirty_; }

 private:
  struct PoolState {
    std::vector<uint32_t> addresses;
    // Free addresses by (released at, address): the longest-free first. Never-used ones have
    // released at = INT64_MIN. An entry is usable once released_at + quarantine <= now.
    std::set<std::pair<int64_t, uint32_t>> free;
    uint64_t exhausted = 0;
  };
  struct Released {
    int64_t at;
    std::string owner;  // the last owner may have it back at once
  };
  void Take(PoolState& p, uint32_t address);
  bool Quarantined(uint32_t address, int64_t now) const;

  uint32_t quarantine_s_;
  std::map<std::string, PoolState> pools_;
  absl::flat_hash_map<uint32_t, std::string> pool_of_;  // address -> pool name
  absl::flat_hash_set<uint32_t> reserved_;
  absl::flat_hash_map<std::string, Allocation> by_owner_;
  absl::flat_hash_map<uint32_t, std::string> by_address_;  // held addresses -> owner
  absl::flat_hash_map<uint32_t, Released> released_;       // free addresses that had an owner
  absl::flat_hash_map<std::string, uint32_t> last_of_owner_;  // released, still free
  bool dirty_ = false;
};

}  // namespace natgw::control

#endif  // NATGW_LIB_CONTROL_ADDRESS_ALLOCATOR_H_
