#include "lib/nat/port_allocator.h"

#include <algorithm>

namespace natgw::nat {
namespace {

// Splits [first, last] into `n` consecutive slices of (almost) equal size.
void SliceRange(uint32_t first, uint32_t last, uint32_t n, std::vector<uint16_t>* starts,
                std::vector<uint16_t>* counts) {
  uint32_t total = last >= first ? last - first + 1 : 0;
  uint32_t base = total / n, extra = total % n, at = first;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t c = base + (i < extra ? 1 : 0);
    starts->push_back(static_cast<uint16_t>(at));
    counts->push_back(static_cast<uint16_t>(c));
    at += c;
  }
}

}  // namespace

PortAllocator::PortAllocator(uint32_t address, uint16_t port_min, uint16_t port_max,
                             uint32_t num_workers)
    : address_(address),
      port_min_(port_min),
      port_max_(port_max),
      refs_(new std::atomic<uint16_t>[65536]),
      in_use_(new WorkerInUse[num_workers]),
      num_workers_(num_workers) {
  for (uint32_t p = 0; p < 65536; ++p) refs_[p].store(0, std::memory_order_relaxed);
  std::vector<uint16_t> starts, counts;
  SliceRange(1, 1023, num_workers, &starts, &counts);
  for (uint32_t i = 0; i < num_workers; ++i) low_.push_back({starts[i], counts[i], 0});
  starts.clear();
  counts.clear();
  SliceRange(port_min, port_max, num_workers, &starts, &counts);
  for (uint32_t i = 0; i < num_workers; ++i) high_.push_back({starts[i], counts[i], 0});
}

uint16_t PortAllocator::AllocateIn(Slice& s) {
  for (uint32_t tried = 0; tried < s.count; ++tried) {
    uint16_t port = static_cast<uint16_t>(s.first + s.cursor);
    s.cursor = static_cast<uint16_t>(s.cursor + 1 == s.count ? 0 : s.cursor + 1);
    uint16_t expected = 0;
    if (refs_[port].compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return port;
  }
  return 0;
}

// One writer per count: a load and a store, no locked instruction.
void PortAllocator::AddInUse(uint32_t worker, int64_t delta) {
  std::atomic<int64_t>& n = in_use_[worker].n;
  n.store(n.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

uint16_t PortAllocator::Allocate(uint32_t worker, bool privileged) {
  const uint16_t port = AllocateIn(privileged ? low_[worker] : high_[worker]);
  if (port != 0) AddInUse(worker, 1);
  return port;
}

PortAllocator::RefResult PortAllocator::Ref(uint16_t port) {
  uint16_t cur = refs_[port].load(std::memory_order_acquire);
  while (cur != 0) {
    if (cur == kMaxRefs) return RefResult::kSaturated;
    if (refs_[port].compare_exchange_weak(cur, static_cast<uint16_t>(cur + 1),
                                          std::memory_order_acq_rel)) {
      return RefResult::kOk;
    }
  }
  return RefResult::kNotHeld;
}

void PortAllocator::Unref(uint32_t worker, uint16_t port) {
  if (refs_[port].fetch_sub(1, std::memory_order_acq_rel) == 1) AddInUse(worker, -1);
}

uint32_t PortAllocator::InUse() const {
  int64_t n = 0;
  for (uint32_t w = 0; w < num_workers_; ++w) n += in_use_[w].n.load(std::memory_order_relaxed);
  return n > 0 ? static_cast<uint32_t>(n) : 0;
}

PortAllocatorRegistry::PortAllocatorRegistry(uint32_t num_workers)
    : num_workers_(num_workers), slots_(new std::atomic<PortAllocator*>[kMaxAllocators]) {
  for (uint32_t i = 0; i < kMaxAllocators; ++i) slots_[i].store(nullptr);
}

int PortAllocatorRegistry::GetOrCreate(uint32_t address, uint16_t port_min, uint16_t port_max) {
  absl::MutexLock lock(&mu_);
  auto it = by_address_.find(address);
  if (it != by_address_.end()) return it->second;
  uint32_t id = count_.load(std::memory_order_relaxed);
  if (id >= kMaxAllocators) return -1;
  owned_.push_back(std::make_unique<PortAllocator>(address, port_min, port_max, num_workers_));
  slots_[id].store(owned_.back().get(), std::memory_order_release);
  count_.store(id + 1, std::memory_order_release);
  by_address_[address] = static_cast<uint16_t>(id);
  return static_cast<int>(id);
}

}  // namespace natgw::nat
