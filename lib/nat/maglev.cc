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
  // Backend i's j-th preference is (offset + j * skip) % m; `pos` walks it by adding skip (< m)
  // and wrapping once, instead of a 64-bit modulo per probe (a cluster may bring a thousand
  // services at once). MaglevTest.TableIsThePreferenceListFormula checks it is the same table.
  std::vector<uint32_t> pos(n), skip(n);
  for (size_t i = 0; i < n; ++i) {
    pos[i] = static_cast<uint32_t>(SeededHash(names[i], 0x6d61676c) % m);
    skip[i] = static_cast<uint32_t>(SeededHash(names[i], 0x65763031) % (m - 1)) + 1;
  }
  auto advance = [&](size_t i) {
    pos[i] += skip[i];
    if (pos[i] >= m) pos[i] -= m;
  };
  table_.assign(m, -1);
  uint32_t filled = 0;
  while (true) {
    for (size_t i = 0; i < n; ++i) {
      while (table_[pos[i]] >= 0) advance(i);
      table_[pos[i]] = static_cast<int32_t>(i);
      advance(i);
      if (++filled == m) return;
    }
  }
}

size_t Maglev::EntriesOf(int backend) const {
  return static_cast<size_t>(std::count(table_.begin(), table_.end(), backend));
}

}  // namespace natgw::nat
