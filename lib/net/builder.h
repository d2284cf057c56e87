// A fluent builder of Ethernet/IPv4/TCP/UDP/ICMP frames for tests and benchmarks.
//
//   std::vector<uint8_t> frame = PacketBuilder()
//       .Ipv4("10.0.0.5", "198.51.100.7").Udp(40000, 53).Payload("hello").Build();
//
// Build() computes every length and checksum (IPv4 header, TCP/UDP over the pseudo header, ICMP
// over the whole ICMP message) unless a Bad*/Zero*/Override modifier says otherwise. Defaults:
// MACs 02:00:00:00:00:01 -> 02:00:00:00:00:02, no VLAN, 10.0.0.1 -> 10.0.0.2, TTL 64, ID 0,
// TOS 0, no flags, IP protocol 253 (RFC 3692 experimentation) with no transport header.
// Frames are not padded to the Ethernet minimum; use Trailer() for that.
//
// Not for the packet path: it allocates. Not thread-safe; a const builder may be shared.
#ifndef NATGW_LIB_NET_BUILDER_H_
#define NATGW_LIB_NET_BUILDER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/net/headers.h"

struct rte_mbuf;
struct rte_mempool;

namespace natgw::net {

using MacAddr = std::array<uint8_t, 6>;

class PacketBuilder {
 public:
  // Layer 2.
  PacketBuilder& Eth(const MacAddr& src, const MacAddr& dst);
  PacketBuilder& Eth(const rte_ether_addr& src, const rte_ether_addr& dst);
  PacketBuilder& Vlan(uint16_t tci);  // one 802.1Q tag, TCI in host order
  // Replaces the IPv4 ethertype (after the VLAN tag if any), e.g. 0x0806 for a non-IP frame.
  PacketBuilder& EtherType(uint16_t ether_type);

  // IPv4. Addresses in network order, or dotted strings (an unparsable string gives 0.0.0.0).
  PacketBuilder& Ipv4(uint32_t src_be, uint32_t dst_be);
  PacketBuilder& Ipv4(const char* src, const char* dst);
  PacketBuilder& Ttl(uint8_t ttl);
  PacketBuilder& Id(uint16_t id);
  PacketBuilder& Tos(uint8_t tos);
  PacketBuilder& DontFragment();
  // Fragment offset in bytes (must be a multiple of 8; aborts otherwise). A non-zero offset
  // makes a later fragment: the transport header is not emitted, only the payload, and the
  // protocol number of the chosen transport is kept. A first fragment (offset 0, MF) carries the
  // transport header, whose length and checksum cover only the bytes in this fragment; use
  // BuildFragments() for a correctly checksummed fragmented datagram.
  PacketBuilder& Fragment(uint16_t offset_bytes, bool more_fragments);
  PacketBuilder& IpOptions(std::vector<uint8_t> options);  // zero-padded to 4; at most 40 bytes

  // Transport. Ports, IDs and sequence numbers in host order. Each call replaces the previous.
  PacketBuilder& Udp(uint16_t sport, uint16_t dport);
  PacketBuilder& Tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq = 1,
                     uint32_t ack = 0);
  PacketBuilder& IcmpEcho(bool request, uint16_t id, uint16_t seq);
  // ICMP error (type 3, 11, 12) quoting `quoted_ip_packet` (e.g. another builder's BuildIp(),
  // possibly truncated). `mtu` is the next-hop MTU for type 3 code 4, otherwise bytes 6-7 are 0.
  PacketBuilder& IcmpError(uint8_t type, uint8_t code, std::vector<uint8_t> quoted_ip_packet,
                           uint16_t mtu = 0);
  PacketBuilder& Proto(uint8_t proto);  // raw IP protocol, no transport header

  // Payload after the transport header (for ICMP errors: after the quote).
  PacketBuilder& Payload(std::string_view data);
  PacketBuilder& Payload(std::vector<uint8_t> data);
  PacketBuilder& PayloadSize(size_t n);  // n filler bytes: 0x00, 0x01, ... 0xff, 0x00, ...

  // Malformations for negative tests.
  PacketBuilder& ZeroUdpChecksum();  // UDP checksum 0 ("none")
  PacketBuilder& BadIpChecksum();    // IPv4 header checksum off by a non-zero amount
  PacketBuilder& BadL4Checksum();    // TCP/UDP/ICMP checksum off by a non-zero amount
  PacketBuilder& Trailer(size_t n);  // n bytes (0xee) after the IP total length
  PacketBuilder& TotalLengthOverride(uint16_t total_length);  // checksum still computed

  // The Ethernet frame, the bare IP packet (plus trailer), or the frame in a fresh mbuf from
  // `pool` (nullptr if the pool is empty or the frame does not fit in one segment).
  std::vector<uint8_t> Build() const;
  std::vector<uint8_t> BuildIp() const;
  rte_mbuf* BuildMbuf(rte_mempool* pool) const;

  // The unfragmented datagram (transport checksum over all of it) split into Ethernet frames
  // whose IP payload is at most `max_fragment_payload` bytes (rounded down to a multiple of 8,
  // at least 8). IP options are copied into every fragment. Ignores Fragment() and Trailer().
  std::vector<std::vector<uint8_t>> BuildFragments(size_t max_fragment_payload) const;

 private:
  enum class L4 : uint8_t { kNone, kUdp, kTcp, kIcmpEcho, kIcmpError };

  // Transport header + payload with its checksum; only the payload for a later fragment.
  std::vector<uint8_t> BuildL4(bool later_fragment) const;
  std::vector<uint8_t> BuildIpHeader(uint16_t total_length, uint16_t frag) const;
  std::vector<uint8_t> Frame(const std::vector<uint8_t>& ip) const;

  MacAddr src_mac_ = {0x02, 0, 0, 0, 0, 0x01};
  MacAddr dst_mac_ = {0x02, 0, 0, 0, 0, 0x02};
  std::optional<uint16_t> vlan_tci_;
  uint16_t ether_type_ = RTE_ETHER_TYPE_IPV4;

  uint32_t src_ip_ = Ip4(10, 0, 0, 1);
  uint32_t dst_ip_ = Ip4(10, 0, 0, 2);
  uint8_t ttl_ = 64;
  uint8_t tos_ = 0;
  uint16_t id_ = 0;
  uint16_t frag_ = 0;  // host order flags + offset in 8-byte units
  std::vector<uint8_t> ip_options_;
  std::optional<uint16_t> total_length_override_;

  L4 l4_ = L4::kNone;
  uint8_t proto_ = 253;
  uint16_t sport_ = 0;
  uint16_t dport_ = 0;
  uint8_t tcp_flags_ = 0;
  uint32_t seq_ = 0;
  uint32_t ack_ = 0;
  uint8_t icmp_type_ = 0;
  uint8_t icmp_code_ = 0;
  uint16_t icmp_id_ = 0;
  uint16_t icmp_seq_ = 0;
  uint16_t mtu_ = 0;
  std::vector<uint8_t> quoted_;

  std::vector<uint8_t> payload_;
  size_t trailer_ = 0;
  bool zero_udp_csum_ = false;
  bool bad_ip_csum_ = false;
  bool bad_l4_csum_ = false;
};

// "192.0.2.1" for a network-order address.
std::string FormatIp(uint32_t ip_be);

// The network-order address of a dotted quad; 0 for anything that is not one (so 0.0.0.0 and
// bad input are indistinguishable: a test helper, not a config parser).
uint32_t ParseIp(const char* dotted);

}  // namespace natgw::net

#endif  // NATGW_LIB_NET_BUILDER_H_
