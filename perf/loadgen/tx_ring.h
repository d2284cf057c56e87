// Frames to send on one port, oldest first: the generator's answers (replies, handshake frames)
// gathered during a pass and sent at its end. In TCP mode what the port refuses stays, in order,
// for the next pass; otherwise the caller frees it (TakeAll).
#ifndef NATGW_PERF_LOADGEN_TX_RING_H_
#define NATGW_PERF_LOADGEN_TX_RING_H_

#include <algorithm>
#include <cstdint>

struct rte_mbuf;

namespace natgw::loadgen {

template <uint32_t kCapacity>
class TxRing {
  static_assert(kCapacity != 0 && (kCapacity & (kCapacity - 1)) == 0 && kCapacity <= 65536,
                "a power of two that a burst count can hold");

 public:
  struct Offer {
    uint32_t offered = 0;   // frames handed to the port
    uint32_t accepted = 0;  // of those, the ones it took (they left the ring)
  };

  uint32_t size() const { return n_; }
  bool full() const { return n_ == kCapacity; }

  // Appends `m`; false (m not taken) when the ring is full.
  bool Push(rte_mbuf* m) {
    if (full()) return false;
    f_[(head_ + n_++) & (kCapacity - 1)] = m;
    return true;
  }

  // Offers the oldest frames, at most `budget`, to `send(rte_mbuf** pkts, uint16_t n)`, which
  // returns how many of pkts[0..n) the port took. Stops at the first refusal; what was refused
  // stays, oldest first.
  template <typename SendFn>
  Offer Send(SendFn&& send, uint32_t budget) {
    Offer o;
    while (n_ != 0 && budget != 0) {
      const auto chunk = static_cast<uint16_t>(std::min({n_, kCapacity - head_, budget}));
      const uint16_t took = send(f_ + head_, chunk);
      o.offered += chunk;
      o.accepted += took;
      budget -= chunk;
      head_ = (head_ + took) & (kCapacity - 1);
      n_ -= took;
      if (took < chunk) break;
    }
    if (n_ == 0) head_ = 0;
    return o;
  }

  // Hands every frame, oldest first, to `take(rte_mbuf** pkts, uint32_t n)` (in at most two
  // calls) and empties the ring; returns how many.
  template <typename TakeFn>
  uint32_t TakeAll(TakeFn&& take) {
    const uint32_t n = n_;
    while (n_ != 0) {
      const uint32_t chunk = std::min(n_, kCapacity - head_);
      take(f_ + head_, chunk);
      head_ = (head_ + chunk) & (kCapacity - 1);
      n_ -= chunk;
    }
    head_ = 0;
    return n;
  }

 private:
  rte_mbuf* f_[kCapacity];
  uint32_t head_ = 0;
  uint32_t n_ = 0;
};

}  // namespace natgw::loadgen

#endif  // NATGW_PERF_LOADGEN_TX_RING_H_
