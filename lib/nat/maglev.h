// Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of prime size M filled
// from per-backend permutations, so that each backend owns about M/N entries and a backend change
// moves few flows.
#ifndef NATGW_LIB_NAT_MAGLEV_H_
#define NATGW_LIB_NAT_MAGLEV_H_

#include <cstdint>
#include <string>
#include <vector>

namespace natgw::nat {

class Maglev {
 public:
  Maglev() = default;
  // `names` identify the backends (stable across reloads so assignments stay put). Table size is
  // the smallest of a few primes that is at least 100x the backend count (max 65537).
  explicit Maglev(const std::vector<std::string>& names);

  // Backend index for a flow hash, or -1 when there are no backends.
  int Pick(uint32_t flow_hash) const {
    return table_.empty() ? -1 : table_[flow_hash % table_.size()];
  }
  size_t size() const { return table_.size(); }
  // Entries owned by backend i (for tests and `show`).
  size_t EntriesOf(int backend) const;

 private:
  std::vector<int32_t> table_;
};

// 64-bit string hash with a seed (FNV-1a followed by a murmur-style finaliser).
uint64_t SeededHash(const std::string& s, uint64_t seed);

}  // namespace natgw::nat

#endif  // NATGW_LIB_NAT_MAGLEV_H_
