#include "perf/loadgen/histogram.h"

namespace natgw::loadgen {

uint64_t LatencyHistogram::BucketLow(size_t i) {
  if (i < kLinear) return i;
  const size_t k = i - kLinear;
  const int e = static_cast<int>(k >> kSubBits) + kSubBits + 1;
  const uint64_t sub = k & ((1u << kSubBits) - 1);
  return (uint64_t{1} << e) | (sub << (e - kSubBits));
}

void LatencyHistogram::Merge(const LatencyHistogram& o) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  total_ += o.total_;
  if (o.max_ > max_) max_ = o.max_;
}

uint64_t LatencyHistogram::Percentile(double q) const {
  if (total_ == 0) return 0;
  if (q < 0) q = 0;
  if (q > 1) q = 1;
  // The rank of the q-quantile, 1-based: the smallest value with at least q of all at or below.
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_) + 0.999999);
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      if (i < kLinear) return i;
      const uint64_t low = BucketLow(i);
      const uint64_t high = i + 1 < kBuckets ? BucketLow(i + 1) : low;
      const uint64_t mid = low + (high - low) / 2;
      return mid > max_ ? max_ : mid;
    }
  }
  return max_;
}

}  // namespace natgw::loadgen
