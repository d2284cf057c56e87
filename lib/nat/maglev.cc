#include "lib/nat/maglev.h"

#include <algorithm>

namespace natgw::nat {

uint64_t SeededHash(const std::string& s, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

Maglev::Maglev(const std::vector<std::string>& names) {
  const size_t n = names.size();
  if (n == 0) return;
  static constexpr uint32_t kPrimes[] = {251, 1021, 4093, 16381, 65521};
  uint32_t m = kPrimes[std::size(kPrimes) - 1];
  for (uint32_t p : kPrimes) {
    if (p >= 100 * n) {
      m = p;
      break;
    }
  }
  std::vector<uint32_t> offset(n), skip(n), next(n, 0);
  for (size_t i = 0; i < n; ++i) {
    offset[i] = static_cast<uint32_t>(SeededHash(names[i], 0x6d61676c) % m);
    skip[i] = static_cast<uint32_t>(SeededHash(names[i], 0x65763031) % (m - 1)) + 1;
  }
  table_.assign(m, -1);
  uint32_t filled = 0;
  while (true) {
    for (size_t i = 0; i < n; ++i) {
      uint32_t c = static_cast<uint32_t>((offset[i] + uint64_t{next[i]} * skip[i]) % m);
      while (table_[c] >= 0) {
        ++next[i];
        c = static_cast<uint32_t>((offset[i] + uint64_t{next[i]} * skip[i]) % m);
      }
      table_[c] = static_cast<int32_t>(i);
      ++next[i];
      if (++filled == m) return;
    }
  }
}

size_t Maglev::EntriesOf(int backend) const {
  return static_cast<size_t>(std::count(table_.begin(), table_.end(), backend));
}

}  // namespace natgw::nat
