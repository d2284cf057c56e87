// A worker's frames waiting for a next hop to resolve (ARP), grouped by next hop.
//
// Bounded twice: at most `max_frames` frames in all and `max_per_neighbor` per next hop (and at
// most kMaxNeighbors next hops), so an unresolvable destination cannot take every mbuf. Frames
// keep their arrival order per next hop. One per worker; not thread-safe; no allocation after
// construction.
#ifndef NATGW_LIB_DATAPLANE_HOLD_QUEUE_H_
#define NATGW_LIB_DATAPLANE_HOLD_QUEUE_H_

#include <rte_mbuf.h>

#include <cstdint>

namespace natgw::dataplane {

class HoldQueue {
 public:
  static constexpr uint32_t kMaxNeighbors = 64;
  static constexpr uint32_t kMaxPerNeighbor = 32;

  struct Pending {
    uint16_t port_index;
    uint32_t next_hop;      // network order
    uint64_t deadline_tsc;  // frames still held then are dropped
    uint32_t count;
    rte_mbuf* frames[kMaxPerNeighbor];
  };

  // `max_per_neighbor` is capped at kMaxPerNeighbor.
  HoldQueue(uint32_t max_frames, uint32_t max_per_neighbor);

  // Holds `m` for (port_index, next_hop). A first frame for a next hop opens an entry that expires
  // at `deadline_tsc`. False when a bound is reached (the caller drops the frame).
  bool Add(uint16_t port_index, uint32_t next_hop, rte_mbuf* m, uint64_t deadline_tsc);

  uint32_t num_pending() const { return num_pending_; }
  uint32_t num_frames() const { return num_frames_; }
  Pending& pending(uint32_t i) { return pending_[i]; }

  // Forgets entry `i` (its frames are the caller's now); the last entry moves into its place.
  void Remove(uint32_t i);

 private:
  uint32_t max_frames_;
  uint32_t max_per_neighbor_;
  uint32_t num_frames_ = 0;
  uint32_t num_pending_ = 0;
  Pending pending_[kMaxNeighbors];
};

}  // namespace natgw::dataplane

#endif  // NATGW_LIB_DATAPLANE_HOLD_QUEUE_H_
