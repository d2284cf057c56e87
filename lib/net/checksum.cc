#include "lib/net/checksum.h"

#include <rte_byteorder.h>

#include <cstring>

namespace natgw::net {

// The sum runs over 16-bit words exactly as they sit in memory (host-order loads of network-order
// bytes). RFC 1071 section 2(B): the ones' complement sum is byte-order independent, so the
// folded result is the network-order checksum. 32-bit loads are summed into a 64-bit accumulator
// (2^32 ≡ 1 mod 0xffff, so folding 32-bit words later is exact); it cannot overflow for any
// buffer that fits in memory.
uint32_t CsumPartial(const void* data, size_t len, uint32_t init) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t sum = init;

  // Four independent 32-bit lanes per 16 bytes keep the adds out of one dependency chain.
  while (len >= 16) {
    uint32_t w[4];
    std::memcpy(w, p, sizeof(w));
    sum += uint64_t{w[0]} + w[1] + w[2] + w[3];
    p += 16;
    len -= 16;
  }
  while (len >= 4) {
    uint32_t w;
    std::memcpy(&w, p, sizeof(w));
    sum += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    std::memcpy(&w, p, sizeof(w));
    sum += w;
    p += 2;
    len -= 2;
  }
  if (len == 1) {
    // The odd byte is the high (first) byte of a big-endian word whose low byte is zero. In
    // memory that word is {byte, 0}; load it the same way as every other word.
    const uint8_t tail[2] = {*p, 0};
    uint16_t w;
    std::memcpy(&w, tail, sizeof(w));
    sum += w;
  }

  // Fold 64 -> 32 -> 16 bits so callers can add several partial sums without overflow.
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  return CsumFold(static_cast<uint32_t>(sum));
}

uint32_t CsumPseudoHeader(uint32_t src_ip, uint32_t dst_ip, uint8_t proto, uint16_t l4_len) {
  // src_ip and dst_ip hold network-order bytes, so their halves are memory words already.
  // The zero byte + protocol and the length are network-order 16-bit words of the pseudo header.
  uint32_t sum = (src_ip & 0xffff) + (src_ip >> 16) + (dst_ip & 0xffff) + (dst_ip >> 16);
  sum += rte_cpu_to_be_16(uint16_t{proto});
  sum += rte_cpu_to_be_16(l4_len);
  return sum;
}

}  // namespace natgw::net
