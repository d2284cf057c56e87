// Live session counts per pod, for the per-pod session limit. A fixed-size open-addressing table
// shared by all workers: slots are claimed with CAS and never released, counts are atomics.
#ifndef NATGW_LIB_NAT_POD_COUNTERS_H_
#define NATGW_LIB_NAT_POD_COUNTERS_H_

#include <atomic>
#include <cstdint>
#include <memory>

namespace natgw::nat {

class PodCounters {
 public:
  static constexpr uint32_t kNoSlot = 0xffffffff;
  explicit PodCounters(uint32_t capacity);  // rounded up to a power of two

  // Finds or claims the slot of (island, pod_ip); kNoSlot when the table is full. Any thread.
  uint32_t Slot(uint16_t island, uint32_t pod_ip);
  // Adds one session if the pod is below `limit`; false (nothing changed) otherwise.
  bool TryAcquire(uint32_t slot, uint32_t limit);
  void Release(uint32_t slot) { count_[slot].fetch_sub(1, std::memory_order_relaxed); }
  uint32_t count(uint32_t slot) const { return count_[slot].load(std::memory_order_relaxed); }

 private:
  uint32_t mask_;
  std::unique_ptr<std::atomic<uint64_t>[]> keys_;  // (island + 1) << 32 | ip; 0 = free
  std::unique_ptr<std::atomic<uint32_t>[]> count_;
};

}  // namespace natgw::nat

#endif  // NATGW_LIB_NAT_POD_COUNTERS_H_
