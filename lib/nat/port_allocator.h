// Ports of one egress pool address, split into one slice per worker so that two workers never
// race for the same port (the classic SNAT collision). Each port has a reference count: a flow
// session or an endpoint-independent binding holds one reference.
//
// Two ranges are sliced separately: [1, 1023] for flows whose source port is privileged (RFC
// 4787 REQ-3 keeps them below 1024) and [port_min, port_max] for the rest.
#ifndef NATGW_LIB_NAT_PORT_ALLOCATOR_H_
#define NATGW_LIB_NAT_PORT_ALLOCATOR_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace natgw::nat {

class PortAllocator {
 public:
  PortAllocator(uint32_t address, uint16_t port_min, uint16_t port_max, uint32_t num_workers);

  // Allocates a free port from worker `worker`'s slice of the low or high range, with one
  // reference. Returns 0 when the slice is exhausted. Worker `worker` only (other workers may
  // concurrently Ref/Unref ports).
  uint16_t Allocate(uint32_t worker, bool privileged);
  enum class RefResult : uint8_t {
    kOk,
    kNotHeld,    // the port has no holder any more
    kSaturated,  // the port already has kMaxRefs references
  };
  // The most references one port can have (the count is 16 bits per port): a port shared by
  // this many sessions takes no more, rather than wrap to 0 and look free.
  static constexpr uint16_t kMaxRefs = 0xffff;
  // Takes one more reference on a port that is held. Any thread.
  RefResult Ref(uint16_t port);
  // Drops one reference. Worker `worker` (its count of ports in use goes down when this was
  // the last reference), or any one thread once that worker has stopped (shutdown).
  void Unref(uint32_t worker, uint16_t port);
  uint32_t refs(uint16_t port) const { return refs_[port].load(std::memory_order_relaxed); }
  // Starts fetching the line refs(port) reads (the expiry sweep asks ahead).
  void PrefetchRefs(uint16_t port) const { __builtin_prefetch(&refs_[port]); }

  uint32_t address() const { return address_; }
  uint16_t port_min() const { return port_min_; }
  uint16_t port_max() const { return port_max_; }
  // Ports with at least one reference (any thread): the sum of the per-worker counts, read one
  // after the other, so while workers allocate and free it may be off by those changes (never
  // below 0).
  uint32_t InUse() const;

 private:
  struct Slice {
    uint16_t first = 0;
    uint16_t count = 0;
    uint16_t cursor = 0;
  };
  uint16_t AllocateIn(Slice& s);
  void AddInUse(uint32_t worker, int64_t delta);

  uint32_t address_;
  uint16_t port_min_;
  uint16_t port_max_;
  std::vector<Slice> low_;   // per worker
  std::vector<Slice> high_;  // per worker
  std::unique_ptr<std::atomic<uint16_t>[]> refs_;  // indexed by port (host order)
  // Ports each worker took from zero references minus those it dropped to zero (below zero when
  // it dropped more ports than it took): written by that worker only, summed by InUse
  // (telemetry reads it every 250 ms; a scan of refs_ for every address of a big pool took most
  // of a core).
  struct alignas(64) WorkerInUse {
    std::atomic<int64_t> n{0};
  };
  std::unique_ptr<WorkerInUse[]> in_use_;
  uint32_t num_workers_;
};

// All allocators ever created, by id. Ids are stable for the life of the engine, so sessions can
// keep an allocator id; an address removed from the configuration keeps its allocator until
// restart (its ports drain as its sessions expire). Readers (workers) are lock-free; Add is for
// the control thread.
class PortAllocatorRegistry {
 public:
  static constexpr uint32_t kMaxAllocators = 4096;
  explicit PortAllocatorRegistry(uint32_t num_workers);

  // Returns the id of the allocator of `address`, creating it with the given range if needed.
  // Returns -1 if kMaxAllocators is reached. Control thread.
  int GetOrCreate(uint32_t address, uint16_t port_min, uint16_t port_max);
  PortAllocator* Get(uint16_t id) const { return slots_[id].load(std::memory_order_acquire); }
  uint32_t size() const { return count_.load(std::memory_order_acquire); }

 private:
  uint32_t num_workers_;
  absl::Mutex mu_;
  absl::flat_hash_map<uint32_t, uint16_t> by_address_;
  std::vector<std::unique_ptr<PortAllocator>> owned_;
  std::unique_ptr<std::atomic<PortAllocator*>[]> slots_;
  std::atomic<uint32_t> count_{0};
};

}  // namespace natgw::nat

#endif  // NATGW_LIB_NAT_PORT_ALLOCATOR_H_
