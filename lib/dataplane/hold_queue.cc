#include "lib/dataplane/hold_queue.h"

#include <algorithm>

namespace natgw::dataplane {

HoldQueue::HoldQueue(uint32_t max_frames, uint32_t max_per_neighbor)
    : max_frames_(max_frames), max_per_neighbor_(std::min(max_per_neighbor, kMaxPerNeighbor)) {}

bool HoldQueue::Add(uint16_t port_index, uint32_t next_hop, rte_mbuf* m, uint64_t deadline_tsc) {
  if (num_frames_ >= max_frames_) return false;
  for (uint32_t i = 0; i < num_pending_; ++i) {
    Pending& p = pending_[i];
    if (p.next_hop == next_hop && p.port_index == port_index) {
      if (p.count >= max_per_neighbor_) return false;
      p.frames[p.count++] = m;
      ++num_frames_;
      return true;
    }
  }
  if (num_pending_ == kMaxNeighbors || max_per_neighbor_ == 0) return false;
  Pending& p = pending_[num_pending_++];
  p.port_index = port_index;
  p.next_hop = next_hop;
  p.deadline_tsc = deadline_tsc;
  p.count = 1;
  p.frames[0] = m;
  ++num_frames_;
  return true;
}

void HoldQueue::Remove(uint32_t i) {
  num_frames_ -= pending_[i].count;
  pending_[i] = pending_[--num_pending_];
}

}  // namespace natgw::dataplane
