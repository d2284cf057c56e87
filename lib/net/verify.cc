#include "lib/net/verify.h"

#include <rte_byteorder.h>

#include <cstring>
#include <string_view>

#include "absl/strings/str_format.h"
#include "lib/net/checksum.h"
#include "lib/net/headers.h"
#include "lib/net/parse.h"

namespace natgw::net {
namespace {

constexpr size_t kIpv4MinHdrLen = sizeof(rte_ipv4_hdr);
constexpr size_t kIcmpHdrLen = sizeof(rte_icmp_hdr);

uint16_t LoadRaw16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

uint16_t LoadBe16(const uint8_t* p) { return rte_be_to_cpu_16(LoadRaw16(p)); }

uint32_t LoadRaw32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// The checksum a sender would store in the 16-bit field at `field_off` (even) of `data`, given
// the partial sum `init` of anything else it covers (pseudo header). Raw memory order.
uint16_t ExpectedCsum(const uint8_t* data, size_t len, size_t field_off, uint32_t init) {
  uint32_t sum = CsumPartial(data, field_off, init);
  sum = CsumPartial(data + field_off + 2, len - field_off - 2, sum);
  return static_cast<uint16_t>(~CsumFold(sum));
}

absl::Status Mismatch(std::string_view prefix, std::string_view what, uint16_t expected_raw,
                      uint16_t found_raw) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s%s checksum mismatch: expected 0x%04x, found 0x%04x", prefix, what,
                      rte_be_to_cpu_16(expected_raw), rte_be_to_cpu_16(found_raw)));
}

absl::Status ParseFailure(std::string_view prefix, ParseError err) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%sparse error: %s", prefix, ParseErrorName(err)));
}

// Checks the IPv4 header checksum when the header is otherwise well formed enough to have one;
// malformed headers are left to the parser to report.
absl::Status CheckIpHeaderCsum(const uint8_t* ip, size_t len, std::string_view prefix) {
  if (len < kIpv4MinHdrLen || (ip[0] >> 4) != 4) return absl::OkStatus();
  const size_t hdr_len = size_t{ip[0] & 0x0fu} * 4;
  if (hdr_len < kIpv4MinHdrLen || hdr_len > len) return absl::OkStatus();
  if (CsumFold(CsumPartial(ip, hdr_len)) == 0xffff) return absl::OkStatus();
  const size_t off = offsetof(rte_ipv4_hdr, hdr_checksum);
  return Mismatch(prefix, "IPv4 header", ExpectedCsum(ip, hdr_len, off, 0), LoadRaw16(ip + off));
}

// Verifies the transport checksum of a complete, unfragmented packet at `ip` (l3_offset 0).
// Inner packets (quoted in an ICMP error) are not searched for further quotes.
absl::Status CheckL4Csum(const uint8_t* ip, const PacketInfo& info, bool inner) {
  const std::string_view prefix = inner ? "inner " : "";
  const uint8_t* l4 = ip + info.l4_offset;
  const uint32_t src = LoadRaw32(ip + offsetof(rte_ipv4_hdr, src_addr));
  const uint32_t dst = LoadRaw32(ip + offsetof(rte_ipv4_hdr, dst_addr));
  size_t len = info.l4_len;
  size_t csum_off = 0;
  uint32_t pseudo = 0;
  const char* what = "";
  switch (info.proto) {
    case kProtoTcp:
      what = "TCP";
      csum_off = offsetof(rte_tcp_hdr, cksum);
      pseudo = CsumPseudoHeader(src, dst, kProtoTcp, static_cast<uint16_t>(len));
      break;
    case kProtoUdp: {
      what = "UDP";
      csum_off = offsetof(rte_udp_hdr, dgram_cksum);
      if (len < sizeof(rte_udp_hdr)) break;  // reported below
      const size_t dgram_len = LoadBe16(l4 + offsetof(rte_udp_hdr, dgram_len));
      if (dgram_len < sizeof(rte_udp_hdr) || dgram_len > len) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%sUDP length %u does not fit %u bytes", prefix, dgram_len, len));
      }
      if (LoadRaw16(l4 + csum_off) == 0) return absl::OkStatus();  // no checksum
      len = dgram_len;
      pseudo = CsumPseudoHeader(src, dst, kProtoUdp, static_cast<uint16_t>(len));
      break;
    }
    case kProtoIcmp:
      what = "ICMP";
      csum_off = offsetof(rte_icmp_hdr, icmp_cksum);
      break;
    default:
      return absl::OkStatus();
  }
  if (len < csum_off + 2) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s%s header truncated (%u bytes)", prefix, what, len));
  }
  if (CsumFold(CsumPartial(l4, len, pseudo)) != 0xffff) {
    uint16_t expected = ExpectedCsum(l4, len, csum_off, pseudo);
    if (info.proto == kProtoUdp && expected == 0) expected = 0xffff;
    return Mismatch(prefix, what, expected, LoadRaw16(l4 + csum_off));
  }
  if (inner || info.proto != kProtoIcmp || !IsIcmpError(l4[0])) return absl::OkStatus();

  // ICMP error: the quoted packet follows the 8-byte ICMP header.
  const uint8_t* quote = l4 + kIcmpHdrLen;
  const size_t quote_len = info.l4_len - kIcmpHdrLen;
  PacketInfo inner_info;
  const ParseError err = ParseQuotedIpv4(quote, static_cast<uint32_t>(quote_len), &inner_info);
  if (err == ParseError::kBadIpChecksum) return CheckIpHeaderCsum(quote, quote_len, "inner ");
  if (err != ParseError::kOk) return ParseFailure("inner ", err);
  const size_t inner_total = LoadBe16(quote + offsetof(rte_ipv4_hdr, total_length));
  if (inner_info.is_fragment || inner_total > quote_len) return absl::OkStatus();
  return CheckL4Csum(quote, inner_info, /*inner=*/true);
}

}  // namespace

absl::Status VerifyIpChecksums(const uint8_t* ip, size_t len) {
  absl::Status s = CheckIpHeaderCsum(ip, len, "");
  if (!s.ok()) return s;
  PacketInfo info;
  const ParseError err = ParseIpv4(ip, static_cast<uint32_t>(len), &info);
  if (err != ParseError::kOk) return ParseFailure("", err);
  if (info.is_fragment) return absl::OkStatus();
  return CheckL4Csum(ip, info, /*inner=*/false);
}

absl::Status VerifyChecksums(const uint8_t* frame, size_t len) {
  PacketInfo info;
  const ParseError err = ParseFrame(frame, static_cast<uint32_t>(len), &info);
  if (err != ParseError::kOk && err != ParseError::kBadIpChecksum) {
    return ParseFailure("", err);
  }
  // The Ethernet header parsed, so its length is known without reading past `len`.
  size_t l3 = sizeof(rte_ether_hdr);
  if (LoadBe16(frame + offsetof(rte_ether_hdr, ether_type)) == RTE_ETHER_TYPE_VLAN) {
    l3 += sizeof(rte_vlan_hdr);
  }
  return VerifyIpChecksums(frame + l3, len - l3);
}

}  // namespace natgw::net
