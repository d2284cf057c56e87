// Internet checksum helpers (RFC 1071) and incremental updates (RFC 1624, eqn. 3).
//
// Every value handled here is in network byte order exactly as it sits in the packet: the
// ones' complement sum is byte-order independent as long as checksum fields and the data summed
// into them are treated the same way, so no byte swaps are needed on the fast path.
// All functions are pure and thread-safe.
#ifndef NATGW_LIB_NET_CHECKSUM_H_
#define NATGW_LIB_NET_CHECKSUM_H_

#include <cstddef>
#include <cstdint>

namespace natgw::net {

// Folds a 32-bit partial sum to 16 bits (end-around carry).
inline uint16_t CsumFold(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// Partial ones' complement sum of `len` bytes (odd length padded with a zero byte), added to
// `init`. Fold the result with CsumFold. The returned value is at most 0xffff (already folded
// once), so a few partial sums may be added together before folding without overflow.
uint32_t CsumPartial(const void* data, size_t len, uint32_t init = 0);

// Full checksum of `len` bytes: the value to store in a checksum field that was zero.
inline uint16_t Csum(const void* data, size_t len) {
  return static_cast<uint16_t>(~CsumFold(CsumPartial(data, len)));
}

// Partial sum of the IPv4 pseudo header used by TCP and UDP. Addresses in network order,
// `proto` the IP protocol number, `l4_len` the transport length in host order.
uint32_t CsumPseudoHeader(uint32_t src_ip, uint32_t dst_ip, uint8_t proto, uint16_t l4_len);

// A precomputed checksum delta: the folded ones' complement difference between an old and a new
// set of 16-bit words. Apply it to any checksum that covered the old words.
//   delta = sum(~old_words) + sum(new_words)
inline uint32_t CsumDeltaAdd16(uint32_t delta, uint16_t old_v, uint16_t new_v) {
  return delta + static_cast<uint16_t>(~old_v) + new_v;
}
inline uint32_t CsumDeltaAdd32(uint32_t delta, uint32_t old_v, uint32_t new_v) {
  delta = CsumDeltaAdd16(delta, static_cast<uint16_t>(old_v), static_cast<uint16_t>(new_v));
  return CsumDeltaAdd16(delta, static_cast<uint16_t>(old_v >> 16),
                        static_cast<uint16_t>(new_v >> 16));
}

// Applies a (folded) delta to a stored checksum: HC' = ~(~HC + delta).
inline uint16_t CsumApplyDelta(uint16_t csum, uint16_t delta) {
  return static_cast<uint16_t>(~CsumFold(static_cast<uint16_t>(~csum) + uint32_t{delta}));
}

// Same for UDP, where a zero checksum means "none" and must stay zero, and a computed zero is
// sent as 0xffff (RFC 768).
inline uint16_t UdpCsumApplyDelta(uint16_t csum, uint16_t delta) {
  if (csum == 0) return 0;
  uint16_t r = CsumApplyDelta(csum, delta);
  return r == 0 ? 0xffff : r;
}

// The delta of decrementing an IPv4 TTL of at least 1: the 16-bit word {TTL, protocol} goes from
// w to w - 0x0100 in network order, and ~w + (w - 0x0100) = 0xfeff. Constant, so it can join a
// precomputed delta without reading the word back after the decrement (a 16-bit load over the
// fresh 8-bit store cannot be forwarded from the store buffer and stalls).
inline constexpr uint16_t kTtlDecrementDelta =  // 0xfeff as it sits in the packet
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 0xfffe : 0xfeff;

// One-shot incremental updates for a single changed field.
inline uint16_t CsumUpdate16(uint16_t csum, uint16_t old_v, uint16_t new_v) {
  return CsumApplyDelta(csum, CsumFold(CsumDeltaAdd16(0, old_v, new_v)));
}
inline uint16_t CsumUpdate32(uint16_t csum, uint32_t old_v, uint32_t new_v) {
  return CsumApplyDelta(csum, CsumFold(CsumDeltaAdd32(0, old_v, new_v)));
}

}  // namespace natgw::net

#endif  // NATGW_LIB_NET_CHECKSUM_H_
