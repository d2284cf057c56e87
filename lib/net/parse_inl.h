// Inline definitions of the parse functions declared in parse.h: they run on every packet, so
// they are visible to the worker's translation unit. Include parse.h, not this file.
#ifndef NATGW_LIB_NET_PARSE_INL_H_
#define NATGW_LIB_NET_PARSE_INL_H_

#include <rte_byteorder.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "lib/net/checksum.h"

namespace natgw::net {
namespace parse_detail {


inline constexpr uint32_t kEthHdrLen = sizeof(rte_ether_hdr);  // 14
inline constexpr uint32_t kVlanHdrLen = sizeof(rte_vlan_hdr);  // 4
inline constexpr uint32_t kIpv4MinHdrLen = sizeof(rte_ipv4_hdr);
inline constexpr uint32_t kTcpMinHdrLen = sizeof(rte_tcp_hdr);
inline constexpr uint32_t kUdpHdrLen = sizeof(rte_udp_hdr);
inline constexpr uint32_t kIcmpHdrLen = sizeof(rte_icmp_hdr);
inline constexpr uint32_t kQuotedL4Bytes = 8;  // RFC 792: IP header + first 64 bits of the datagram

static_assert(kEthHdrLen == 14 && kVlanHdrLen == 4 && kIpv4MinHdrLen == 20);
static_assert(kTcpMinHdrLen == 20 && kUdpHdrLen == 8 && kIcmpHdrLen == 8);

// Loads a network-order 16-bit field at p and returns it in host order.
// Sums the header as 32-bit words (its length is a multiple of 4) and folds: a valid header
// sums to 0xffff.
inline bool Ipv4HeaderChecksumOk(const uint8_t* ip, uint32_t hdr_len) {
  uint64_t sum = 0;
  uint32_t off = 0;
  if (hdr_len == 20) {  // almost every header: five words, no loop
    uint32_t w[5];
    std::memcpy(w, ip, sizeof(w));
    sum = uint64_t{w[0]} + w[1] + w[2] + w[3] + w[4];
    off = 20;
  }
  for (; off < hdr_len; off += 4) {
    uint32_t w;
    std::memcpy(&w, ip + off, 4);
    sum += w;
  }
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  return CsumFold(static_cast<uint32_t>(sum)) == 0xffff;
}

inline uint16_t LoadBe16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return rte_be_to_cpu_16(v);
}

// Validates the IPv4 header at `ip` with `avail` bytes behind it and fills the L3/L4 fields of
// `info` (offsets relative to `ip`; the caller adds its own l3_offset). `quoted` relaxes the
// total length check for ICMP-error quotes: the datagram may be cut short.
inline ParseError ParseIpv4Header(const uint8_t* ip, uint32_t avail, bool quoted,
                                  PacketInfo* info) {
  if (avail < kIpv4MinHdrLen) return ParseError::kTruncatedIpv4;
  const auto* hdr = reinterpret_cast<const rte_ipv4_hdr*>(ip);
  if ((hdr->version_ihl >> 4) != 4) return ParseError::kBadIpVersion;
  const uint32_t hdr_len = uint32_t{hdr->version_ihl & 0x0fu} * 4;
  if (hdr_len < kIpv4MinHdrLen || hdr_len > avail) return ParseError::kBadIhl;

  const uint32_t total_len = LoadBe16(ip + offsetof(rte_ipv4_hdr, total_length));
  if (total_len < hdr_len) return ParseError::kBadTotalLength;
  if (!quoted && total_len > avail) return ParseError::kBadTotalLength;

  // A header with a correct checksum sums to 0xffff (ones' complement negative zero).
  if (!Ipv4HeaderChecksumOk(ip, hdr_len)) return ParseError::kBadIpChecksum;

  const uint16_t frag = LoadBe16(ip + offsetof(rte_ipv4_hdr, fragment_offset));
  const bool more_fragments = (frag & kIpFlagMf) != 0;
  const bool later_fragment = (frag & kIpOffsetMask) != 0;

  const uint32_t ip_len = std::min(total_len, avail);
  info->l4_offset = static_cast<uint16_t>(hdr_len);
  info->ip_len = static_cast<uint16_t>(ip_len);
  info->l4_len = static_cast<uint16_t>(ip_len - hdr_len);
  info->proto = hdr->next_proto_id;
  info->is_fragment = more_fragments || later_fragment;
  info->is_later_fragment = later_fragment;
  return ParseError::kOk;
}

// Checks the transport header of a complete (non-quoted) first fragment or whole datagram.
inline ParseError CheckL4(const uint8_t* l4, const PacketInfo& info) {
  const uint32_t l4_len = info.l4_len;
  switch (info.proto) {
    case kProtoTcp: {
      if (l4_len < kTcpMinHdrLen) return ParseError::kTruncatedTcp;
      const uint32_t data_off = (uint32_t{l4[offsetof(rte_tcp_hdr, data_off)]} >> 4) * 4;
      if (data_off < kTcpMinHdrLen || data_off > l4_len) return ParseError::kBadTcpDataOffset;
      return ParseError::kOk;
    }
    case kProtoUdp: {
      if (l4_len < kUdpHdrLen) return ParseError::kTruncatedUdp;
      const uint32_t dgram_len = LoadBe16(l4 + offsetof(rte_udp_hdr, dgram_len));
      if (dgram_len < kUdpHdrLen) return ParseError::kBadUdpLength;
      // In a first fragment the UDP length covers the whole datagram, not this fragment.
      if (!info.is_fragment && dgram_len > l4_len) return ParseError::kBadUdpLength;
      return ParseError::kOk;
    }
    case kProtoIcmp:
      if (l4_len < kIcmpHdrLen) return ParseError::kTruncatedIcmp;
      return ParseError::kOk;
    default:
      return ParseError::kOk;
  }
}

}  // namespace parse_detail

inline ParseError ParseIpv4(const uint8_t* ip, uint32_t len, PacketInfo* info) {
  *info = PacketInfo{};
  ParseError err = parse_detail::ParseIpv4Header(ip, len, /*quoted=*/false, info);
  if (err != ParseError::kOk || info->is_later_fragment) return err;
  return parse_detail::CheckL4(ip + info->l4_offset, *info);
}

inline ParseError ParseFrame(const uint8_t* frame, uint32_t len, PacketInfo* info) {
  *info = PacketInfo{};
  if (len < parse_detail::kEthHdrLen) return ParseError::kTruncatedEthernet;
  uint32_t l3 = parse_detail::kEthHdrLen;
  uint16_t ether_type = parse_detail::LoadBe16(frame + offsetof(rte_ether_hdr, ether_type));
  bool has_vlan = false;
  uint16_t vlan_tci = 0;
  if (ether_type == RTE_ETHER_TYPE_VLAN) {
    if (len < parse_detail::kEthHdrLen + parse_detail::kVlanHdrLen) {
      return ParseError::kTruncatedVlan;
    }
    has_vlan = true;
    vlan_tci =
        parse_detail::LoadBe16(frame + parse_detail::kEthHdrLen + offsetof(rte_vlan_hdr, vlan_tci));
    ether_type = parse_detail::LoadBe16(frame + parse_detail::kEthHdrLen +
                                        offsetof(rte_vlan_hdr, eth_proto));
    l3 += parse_detail::kVlanHdrLen;
  }
  if (ether_type != RTE_ETHER_TYPE_IPV4) return ParseError::kNotIpv4;

  const ParseError err = ParseIpv4(frame + l3, len - l3, info);
  if (err != ParseError::kOk) return err;
  info->l3_offset = static_cast<uint16_t>(l3);
  info->l4_offset = static_cast<uint16_t>(info->l4_offset + l3);
  info->has_vlan = has_vlan;
  info->vlan_tci = vlan_tci;
  return ParseError::kOk;
}

inline ParseError ParseQuotedIpv4(const uint8_t* ip, uint32_t len, PacketInfo* info) {
  *info = PacketInfo{};
  const ParseError err = parse_detail::ParseIpv4Header(ip, len, /*quoted=*/true, info);
  if (err != ParseError::kOk) return err;
  if (info->is_later_fragment || info->l4_len >= parse_detail::kQuotedL4Bytes) {
    return ParseError::kOk;
  }
  switch (info->proto) {
    case kProtoTcp:
      return ParseError::kTruncatedTcp;
    case kProtoUdp:
      return ParseError::kTruncatedUdp;
    case kProtoIcmp:
      return ParseError::kTruncatedIcmp;
    default:
      return ParseError::kOk;
  }
}

}  // namespace natgw::net

#endif  // NATGW_LIB_NET_PARSE_INL_H_
