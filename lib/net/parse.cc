#include "lib/net/parse.h"

#include <rte_byteorder.h>

#include <algorithm>
#include <cstring>

#include "lib/net/checksum.h"

namespace natgw::net {
namespace {

constexpr uint32_t kEthHdrLen = sizeof(rte_ether_hdr);  // 14
constexpr uint32_t kVlanHdrLen = sizeof(rte_vlan_hdr);  // 4
constexpr uint32_t kIpv4MinHdrLen = sizeof(rte_ipv4_hdr);
constexpr uint32_t kTcpMinHdrLen = sizeof(rte_tcp_hdr);
constexpr uint32_t kUdpHdrLen = sizeof(rte_udp_hdr);
constexpr uint32_t kIcmpHdrLen = sizeof(rte_icmp_hdr);
constexpr uint32_t kQuotedL4Bytes = 8;  // RFC 792: IP header + first 64 bits of the datagram

static_assert(kEthHdrLen == 14 && kVlanHdrLen == 4 && kIpv4MinHdrLen == 20);
static_assert(kTcpMinHdrLen == 20 && kUdpHdrLen == 8 && kIcmpHdrLen == 8);

// Loads a network-order 16-bit field at p and returns it in host order.
inline uint16_t LoadBe16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return rte_be_to_cpu_16(v);
}

// Validates the IPv4 header at `ip` with `avail` bytes behind it and fills the L3/L4 fields of
// `info` (offsets relative to `ip`; the caller adds its own l3_offset). `quoted` relaxes the
// total length check for ICMP-error quotes: the datagram may be cut short.
ParseError ParseIpv4Header(const uint8_t* ip, uint32_t avail, bool quoted, PacketInfo* info) {
  if (avail < kIpv4MinHdrLen) return ParseError::kTruncatedIpv4;
  const auto* hdr = reinterpret_cast<const rte_ipv4_hdr*>(ip);
  if ((hdr->version_ihl >> 4) != 4) return ParseError::kBadIpVersion;
  const uint32_t hdr_len = uint32_t{hdr->version_ihl & 0x0fu} * 4;
  if (hdr_len < kIpv4MinHdrLen || hdr_len > avail) return ParseError::kBadIhl;

  const uint32_t total_len = LoadBe16(ip + offsetof(rte_ipv4_hdr, total_length));
  if (total_len < hdr_len) return ParseError::kBadTotalLength;
  if (!quoted && total_len > avail) return ParseError::kBadTotalLength;

  // A header with a correct checksum sums to 0xffff (ones' complement negative zero).
  if (CsumFold(CsumPartial(ip, hdr_len)) != 0xffff) return ParseError::kBadIpChecksum;

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
ParseError CheckL4(const uint8_t* l4, const PacketInfo& info) {
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

}  // namespace

const char* ParseErrorName(ParseError e) {
  switch (e) {
#define NATGW_X(e, s) \
  case ParseError::e: \
    return s;
    NATGW_PARSE_ERRORS(NATGW_X)
#undef NATGW_X
  }
  return "unknown";
}

ParseError ParseIpv4(const uint8_t* ip, uint32_t len, PacketInfo* info) {
  *info = PacketInfo{};
  ParseError err = ParseIpv4Header(ip, len, /*quoted=*/false, info);
  if (err != ParseError::kOk || info->is_later_fragment) return err;
  return CheckL4(ip + info->l4_offset, *info);
}

ParseError ParseFrame(const uint8_t* frame, uint32_t len, PacketInfo* info) {
  *info = PacketInfo{};
  if (len < kEthHdrLen) return ParseError::kTruncatedEthernet;
  uint32_t l3 = kEthHdrLen;
  uint16_t ether_type = LoadBe16(frame + offsetof(rte_ether_hdr, ether_type));
  bool has_vlan = false;
  uint16_t vlan_tci = 0;
  if (ether_type == RTE_ETHER_TYPE_VLAN) {
    if (len < kEthHdrLen + kVlanHdrLen) return ParseError::kTruncatedVlan;
    has_vlan = true;
    vlan_tci = LoadBe16(frame + kEthHdrLen + offsetof(rte_vlan_hdr, vlan_tci));
    ether_type = LoadBe16(frame + kEthHdrLen + offsetof(rte_vlan_hdr, eth_proto));
    l3 += kVlanHdrLen;
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

ParseError ParseQuotedIpv4(const uint8_t* ip, uint32_t len, PacketInfo* info) {
  *info = PacketInfo{};
  const ParseError err = ParseIpv4Header(ip, len, /*quoted=*/true, info);
  if (err != ParseError::kOk) return err;
  if (info->is_later_fragment || info->l4_len >= kQuotedL4Bytes) return ParseError::kOk;
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
