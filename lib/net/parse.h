// Bounds-checked parsing of Ethernet (optionally one 802.1Q tag) + IPv4 + TCP/UDP/ICMP frames.
//
// The parser never reads past `len`. It validates what the translation path relies on and
// reports the first problem as a ParseError, which the engine maps one-to-one onto a named drop
// counter. Thread context: any; pure function.
#ifndef NATGW_LIB_NET_PARSE_H_
#define NATGW_LIB_NET_PARSE_H_

#include <cstdint>

#include "lib/net/headers.h"

namespace natgw::net {

// X(enumerator, counter_name)
#define NATGW_PARSE_ERRORS(X)                          \
  X(kOk, "ok")                                         \
  X(kTruncatedEthernet, "truncated_ethernet")          \
  X(kTruncatedVlan, "truncated_vlan")                  \
  X(kNotIpv4, "not_ipv4")                              \
  X(kTruncatedIpv4, "truncated_ipv4")                  \
  X(kBadIpVersion, "bad_ip_version")                   \
  X(kBadIhl, "bad_ihl")                                \
  X(kBadTotalLength, "bad_total_length")               \
  X(kBadIpChecksum, "bad_ip_checksum")                 \
  X(kTruncatedTcp, "truncated_tcp")                    \
  X(kBadTcpDataOffset, "bad_tcp_data_offset")          \
  X(kTruncatedUdp, "truncated_udp")                    \
  X(kBadUdpLength, "bad_udp_length")                   \
  X(kTruncatedIcmp, "truncated_icmp")

enum class ParseError : uint8_t {
#define NATGW_X(e, s) e,
  NATGW_PARSE_ERRORS(NATGW_X)
#undef NATGW_X
};

const char* ParseErrorName(ParseError e);

// ip_len and l4_len count bytes that are present. From ParseFrame, ip_len is the IPv4 total
// length (the frame holds all of it). From ParseQuotedIpv4, the quote may be cut short:
// ip_len = min(total length, len), so ip_len < the header's total_length means a truncated quote,
// and l4_len is the number of quoted transport bytes, not the original datagram's.
struct PacketInfo {
  uint16_t l3_offset;   // start of the IPv4 header in the frame
  uint16_t l4_offset;   // start of the transport header (valid unless is_later_fragment)
  uint16_t ip_len;      // IPv4 total length (host order); bytes past it are trailer
  uint16_t l4_len;      // ip_len - IHL*4
  uint16_t vlan_tci;    // host order, valid if has_vlan
  uint8_t proto;        // IP protocol
  bool has_vlan;
  bool is_fragment;        // MF set or fragment offset != 0
  bool is_later_fragment;  // fragment offset != 0 (no transport header present)
};

// Parses an Ethernet frame of `len` bytes. On kOk, `info` describes the packet; for the first
// (or only) fragment of TCP, UDP and ICMP the transport header is known to be complete:
// TCP >= 20 bytes with a sane data offset, UDP 8 bytes with a UDP length that fits the IP
// payload, ICMP >= 8 bytes. The IPv4 header checksum is verified. Transport checksums are not
// verified here (they are updated incrementally, so a bad one stays bad for the receiver).
// Zero or one 802.1Q tag (0x8100) is accepted; any other ethertype, a second tag included, is
// kNotIpv4. An IHL below 5 or a header longer than the bytes present is kBadIhl. In a first
// fragment (MF set, offset 0) the UDP length covers the whole datagram, so it is only required
// to be >= 8. Bytes past the IPv4 total length (Ethernet padding) are ignored. On an error,
// `info` is partially filled and must not be used.
inline ParseError ParseFrame(const uint8_t* frame, uint32_t len, PacketInfo* info);

// Parses a bare IPv4 packet (no Ethernet header) of `len` bytes with the same checks as
// ParseFrame. `info->l3_offset` is 0 and has_vlan is false.
inline ParseError ParseIpv4(const uint8_t* ip, uint32_t len, PacketInfo* info);

// Parses an IPv4 packet that starts at `ip` with `len` bytes available, as quoted inside an ICMP
// error: the quote may be cut short, so only the IPv4 header (IHL validated, checksum verified)
// and the first 8 transport bytes are required. `info->l3_offset` is 0. A total length beyond
// `len` is accepted (see PacketInfo for ip_len/l4_len then); one below IHL*4 is
// kBadTotalLength. For TCP, UDP and ICMP that are not later fragments, fewer than 8 quoted
// transport bytes is kTruncatedTcp/kTruncatedUdp/kTruncatedIcmp; the TCP data offset and UDP
// length are not checked (they may lie outside the quote).
inline ParseError ParseQuotedIpv4(const uint8_t* ip, uint32_t len, PacketInfo* info);

// RFC 791 3.1, for fragmenting: of the IPv4 options `opts` (`len` bytes, the header's bytes past
// its first 20, so a multiple of 4), the ones every fragment carries (type with the copied flag
// 0x80) are written to `out` (room for `len` bytes), zero-padded (End of Option List) to a
// multiple of 4; the others stay in the first fragment only. Returns the length written, or -1
// for malformed options (a length below 2 or running past the header). Options after End of
// Option List are ignored.
int CopiedIpv4Options(const uint8_t* opts, uint32_t len, uint8_t* out);

}  // namespace natgw::net

#include "lib/net/parse_inl.h"  // IWYU pragma: export

#endif  // NATGW_LIB_NET_PARSE_H_
