// Checks a datagram's fragments against the datagram itself, for the unit test and the fuzzer:
// sizes within the MTU, headers (lengths, offsets, MF, options, checksum, the fields every
// fragment repeats) and the data, which must put the datagram's back together byte for byte.
#ifndef NATGW_TESTS_NET_FRAGMENT_CHECK_H_
#define NATGW_TESTS_NET_FRAGMENT_CHECK_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "lib/net/checksum.h"
#include "lib/net/fragment.h"
#include "lib/net/parse.h"

namespace natgw::testing {

// Empty if `frags` are right for the datagram `ip` (its header valid as PlanIpv4Fragments
// accepted it) split for `mtu`; otherwise what is wrong.
inline std::string CheckIpv4Fragments(const uint8_t* ip, uint32_t mtu,
                                      const std::vector<std::vector<uint8_t>>& frags) {
  const uint32_t hl = (ip[0] & 0xfu) * 4;
  const uint32_t total = uint32_t{ip[2]} << 8 | ip[3];
  const uint32_t frag = uint32_t{ip[6]} << 8 | ip[7];
  uint8_t copied[40];
  const int copied_len = net::CopiedIpv4Options(ip + 20, hl - 20, copied);
  if (copied_len < 0) return "planned a datagram with malformed options";
  if (frags.empty()) return "no fragments";
  std::vector<uint8_t> data;
  for (size_t i = 0; i < frags.size(); ++i) {
    const std::vector<uint8_t>& f = frags[i];
    const std::string at = "fragment " + std::to_string(i) + ": ";
    if (f.size() < 20 || f.size() > mtu) return at + "length " + std::to_string(f.size());
    const uint32_t fhl = (f[0] & 0xfu) * 4;
    const uint32_t want_hl = i == 0 ? hl : 20 + static_cast<uint32_t>(copied_len);
    if (f[0] >> 4 != 4 || fhl != want_hl || fhl > f.size()) return at + "header length";
    if ((uint32_t{f[2]} << 8 | f[3]) != f.size()) return at + "total length";
    if (net::Csum(f.data(), fhl) != 0) return at + "header checksum";
    // TOS, identification, TTL, protocol and addresses as the datagram's.
    if (f[1] != ip[1] || std::memcmp(&f[4], &ip[4], 2) != 0 || std::memcmp(&f[8], &ip[8], 2) != 0 ||
        std::memcmp(&f[12], &ip[12], 8) != 0) {
      return at + "a field that every fragment repeats";
    }
    const uint8_t* opts = i == 0 ? ip + 20 : copied;
    if (std::memcmp(&f[20], opts, fhl - 20) != 0) return at + "options";
    const uint32_t ff = uint32_t{f[6]} << 8 | f[7];
    if ((ff & 0x1fff) * 8 != (frag & 0x1fff) * 8 + data.size()) return at + "offset";
    const bool last = i + 1 == frags.size();
    const bool mf = (ff & 0x2000) != 0;
    if (mf != (!last || (frag & 0x2000) != 0) || (ff & 0xc000) != 0) return at + "flags";
    if (!last && (f.size() - fhl) % 8 != 0) return at + "data not a multiple of 8 bytes";
    data.insert(data.end(), f.begin() + fhl, f.end());
  }
  if (data.size() != total - hl || std::memcmp(data.data(), ip + hl, data.size()) != 0) {
    return "the fragments' data is not the datagram's";
  }
  return "";
}

// Plans and writes the fragments of `ip` for `mtu`, each in a vector of its exact size (so a
// sanitizer sees any write past it). Empty when PlanIpv4Fragments refuses.
inline std::vector<std::vector<uint8_t>> SplitIpv4(const uint8_t* ip, uint32_t avail,
                                                   uint32_t mtu, uint32_t max_count = 64) {
  net::Ipv4Fragments plan;
  std::vector<std::vector<uint8_t>> frags;
  if (!net::PlanIpv4Fragments(ip, avail, mtu, max_count, &plan)) return frags;
  for (uint32_t i = 0; i < plan.count; ++i) {
    frags.emplace_back(plan.Length(i));
    net::WriteIpv4Fragment(ip, plan, i, frags.back().data());
  }
  return frags;
}

}  // namespace natgw::testing

#endif  // NATGW_TESTS_NET_FRAGMENT_CHECK_H_
