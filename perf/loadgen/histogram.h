// Latency histogram: log-linear buckets (32 per power of two above 64 ns, exact below), so any
// percentile is within about 3% of the true value. Fixed size, no allocation after
// construction; Record is a handful of instructions. Not thread-safe: one per lcore.
#ifndef NATGW_PERF_LOADGEN_HISTOGRAM_H_
#define NATGW_PERF_LOADGEN_HISTOGRAM_H_

#include <array>
#include <cstddef>
#include <cstdint>

namespace natgw::loadgen {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 5;                    // 32 sub-buckets per octave
  static constexpr uint64_t kLinear = 2u << kSubBits;  // values below are exact (0..63)
  static constexpr int kMaxExp = 44;                    // ~4.9 hours in ns: more is clamped
  static constexpr size_t kBuckets = kLinear + (kMaxExp - kSubBits) * (1u << kSubBits);

  void Record(uint64_t ns) {
    ++counts_[Index(ns)];
    ++total_;
    if (ns > max_) max_ = ns;
  }
  void Reset() { *this = LatencyHistogram(); }
  void Merge(const LatencyHistogram& o);

  uint64_t count() const { return total_; }
  uint64_t max() const { return max_; }
  // The value at quantile q (0..1): the middle of the bucket holding it; 0 when empty.
  uint64_t Percentile(double q) const;

  // Bucket of a value, and the lowest value of a bucket (exposed for tests).
  static size_t Index(uint64_t ns) {
    if (ns < kLinear) return static_cast<size_t>(ns);
    const int e = 63 - __builtin_clzll(ns);  // >= kSubBits + 1
    if (e > kMaxExp) return kBuckets - 1;
    const uint64_t sub = (ns >> (e - kSubBits)) & ((1u << kSubBits) - 1);
    return kLinear + static_cast<size_t>(e - kSubBits - 1) * (1u << kSubBits) + sub;
  }
  static uint64_t BucketLow(size_t i);

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

}  // namespace natgw::loadgen

#endif  // NATGW_PERF_LOADGEN_HISTOGRAM_H_
