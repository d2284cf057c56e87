// Frames a port refused, kept to be offered again before anything new: the generator's requests
// and SYNs when natgw's inside ring is full. Rebuilding a refused frame costs as much as
// building it; keeping it costs a pointer.
#ifndef NATGW_PERF_LOADGEN_BACKLOG_H_
#define NATGW_PERF_LOADGEN_BACKLOG_H_

#include <cassert>
#include <cstdint>
#include <cstring>

struct rte_mbuf;

namespace natgw::loadgen {

template <uint16_t kCapacity>
class Backlog {
 public:
  uint16_t size() const { return n_; }

  // Copies the oldest min(size(), n) waiting frames to out[0..k) and returns k. The next call
  // must be Offered(), for an offer that began with these k frames.
  uint16_t Oldest(uint16_t n, rte_mbuf** out) {
    taken_ = n < n_ ? n : n_;
    std::memcpy(out, f_, taken_ * sizeof(rte_mbuf*));
    return taken_;
  }

  // The port refused the last `count` frames of an offer that began with Oldest()'s frames
  // (`refused` points to them, oldest first): they now wait first, before the frames that were
  // waiting and not offered. `count` is at most the offer's size, itself at most kCapacity.
  void Offered(rte_mbuf* const* refused, uint16_t count) {
    const uint16_t rest = n_ - taken_;
    assert(count + rest <= kCapacity);
    if (rest != 0 && count != taken_) {
      std::memmove(f_ + count, f_ + taken_, rest * sizeof(rte_mbuf*));
    }
    std::memcpy(f_, refused, count * sizeof(rte_mbuf*));
    n_ = static_cast<uint16_t>(count + rest);
    taken_ = 0;
  }

  // Hands every waiting frame to out[0..size()) (to be freed) and empties the backlog; returns
  // how many.
  uint16_t TakeAll(rte_mbuf** out) {
    const uint16_t n = n_;
    std::memcpy(out, f_, n * sizeof(rte_mbuf*));
    n_ = taken_ = 0;
    return n;
  }

 private:
  rte_mbuf* f_[kCapacity];
  uint16_t n_ = 0;
  uint16_t taken_ = 0;
};

}  // namespace natgw::loadgen

#endif  // NATGW_PERF_LOADGEN_BACKLOG_H_
