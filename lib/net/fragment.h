// IPv4 fragmentation (RFC 791 3.2), apart from buffers: how a datagram splits into fragments
// that fit an MTU, and the bytes of each. Dataplane::Fragment puts them into mbufs; the fuzzer
// checks them against the datagram. Thread context: any; pure functions.
#ifndef NATGW_LIB_NET_FRAGMENT_H_
#define NATGW_LIB_NET_FRAGMENT_H_

#include <cstdint>

namespace natgw::net {

// How one datagram splits. The first fragment has the datagram's own header, options and all;
// the later ones 20 bytes and the options with the copied flag (CopiedIpv4Options). Every
// fragment's data but the last's is a multiple of 8 bytes. A datagram that is itself a fragment
// keeps its place: offsets count from its own, and its MF stays on its last piece.
struct Ipv4Fragments {
  uint32_t count = 0;
  uint32_t first_hl = 0;     // header bytes of the first fragment
  uint32_t later_hl = 0;     // header bytes of the others
  uint32_t first_chunk = 0;  // data bytes of the first fragment, if it is not also the last
  uint32_t chunk = 0;        // data bytes of each later one but the last
  uint32_t payload = 0;      // data bytes of the datagram
  uint32_t first_unit = 0;   // the datagram's own offset, in 8-byte units
  bool more_after = false;   // the datagram's own MF
  uint8_t later_options[40];  // the later fragments' options (later_hl - 20 bytes)

  uint32_t HeaderLength(uint32_t i) const { return i == 0 ? first_hl : later_hl; }
  // Data bytes of fragment i, and where they start in the datagram's data.
  uint32_t DataOffset(uint32_t i) const { return i == 0 ? 0 : first_chunk + (i - 1) * chunk; }
  uint32_t DataLength(uint32_t i) const {
    const uint32_t left = payload - DataOffset(i);
    const uint32_t most = i == 0 ? first_chunk : chunk;
    return left < most ? left : most;
  }
  // The fragment's IPv4 total length.
  uint32_t Length(uint32_t i) const { return HeaderLength(i) + DataLength(i); }
};

// Plans fragments of at most `mtu` bytes (IP header and data) for the IPv4 datagram at `ip`, of
// which `avail` bytes are readable. False, with nothing to send, for: a version other than 4; an
// IHL under 5 or past `avail`; malformed options; a total length not past the header or past
// `avail`; an MTU without room for the header and 8 bytes; an end offset past 13 bits; more than
// `max_count` fragments. Bytes past the total length (link padding) are left out.
bool PlanIpv4Fragments(const uint8_t* ip, uint32_t avail, uint32_t mtu, uint32_t max_count,
                       Ipv4Fragments* plan);

// Writes fragment `i` (< plan.count) of `plan` for the datagram at `ip`: plan.Length(i) bytes at
// `out`, its header checksummed (identification, TTL, protocol and addresses as the datagram's;
// DF and the reserved flag cleared).
void WriteIpv4Fragment(const uint8_t* ip, const Ipv4Fragments& plan, uint32_t i, uint8_t* out);

}  // namespace natgw::net

#endif  // NATGW_LIB_NET_FRAGMENT_H_
