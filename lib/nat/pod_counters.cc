#include "lib/nat/pod_counters.h"

#include <bit>

namespace natgw::nat {

PodCounters::PodCounters(uint32_t capacity) {
  uint32_t n = std::bit_ceil(capacity < 16 ? 16u : capacity);
  mask_ = n - 1;
  keys_.reset(new std::atomic<uint64_t>[n]);
  count_.reset(new std::atomic<uint32_t>[n]);
  for (uint32_t i = 0; i < n; ++i) {
    keys_[i].store(0, std::memory_order_relaxed);
    count_[i].store(0, std::memory_order_relaxed);
  }
}

uint32_t PodCounters::Slot(uint16_t island, uint32_t pod_ip) {
  const uint64_t key = (uint64_t{island} + 1) << 32 | pod_ip;
  uint64_t h = key * 0x9e3779b97f4a7c15ULL;
  uint32_t i = static_cast<uint32_t>(h >> 32) & mask_;
  for (uint32_t probe = 0; probe <= mask_; ++probe, i = (i + 1) & mask_) {
    uint64_t cur = keys_[i].load(std::memory_order_acquire);
    if (cur == key) return i;
    if (cur == 0) {
      if (keys_[i].compare_exchange_strong(cur, key, std::memory_order_acq_rel)) return i;
      if (cur == key) return i;
    }
  }
  return kNoSlot;
}

bool PodCounters::TryAcquire(uint32_t slot, uint32_t limit) {
  uint32_t cur = count_[slot].load(std::memory_order_relaxed);
  while (cur < limit) {
    if (count_[slot].compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

}  // namespace natgw::nat
