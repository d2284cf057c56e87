#include "lib/net/fragment.h"

#include <rte_byteorder.h>
#include <rte_ip.h>

#include <cassert>
#include <cstring>

#include "lib/net/parse.h"

namespace natgw::net {

bool PlanIpv4Fragments(const uint8_t* ip, uint32_t avail, uint32_t mtu, uint32_t max_count,
                       Ipv4Fragments* plan) {
  constexpr uint32_t kBase = sizeof(rte_ipv4_hdr);
  if (avail < kBase) return false;
  const auto* h = reinterpret_cast<const rte_ipv4_hdr*>(ip);
  const uint32_t hl = (h->version_ihl & 0xfu) * 4;
  if ((h->version_ihl >> 4) != 4 || hl < kBase || hl > avail) return false;
  Ipv4Fragments& p = *plan;
  p.first_hl = hl;
  p.later_hl = kBase;
  if (hl > kBase) {
    const int copied = CopiedIpv4Options(ip + kBase, hl - kBase, p.later_options);
    if (copied < 0) return false;
    p.later_hl += static_cast<uint32_t>(copied);
  }
  const uint32_t total = rte_be_to_cpu_16(h->total_length);
  if (total <= hl || total > avail || mtu < hl + 8) return false;
  p.first_chunk = (mtu - hl) & ~7u;
  p.chunk = (mtu - p.later_hl) & ~7u;
  p.payload = total - hl;
  const uint16_t frag = rte_be_to_cpu_16(h->fragment_offset);
  p.first_unit = frag & RTE_IPV4_HDR_OFFSET_MASK;
  p.more_after = (frag & RTE_IPV4_HDR_MF_FLAG) != 0;
  if (p.first_unit * 8 + p.payload > 0xffff) return false;  // the offset field has 13 bits
  p.count = p.payload <= p.first_chunk
                ? 1
                : 1 + (p.payload - p.first_chunk + p.chunk - 1) / p.chunk;
  return p.count <= max_count;
}

void WriteIpv4Fragment(const uint8_t* ip, const Ipv4Fragments& plan, uint32_t i, uint8_t* out) {
  constexpr uint32_t kBase = sizeof(rte_ipv4_hdr);
  assert(i < plan.count);
  const uint32_t hl = plan.HeaderLength(i);
  const uint32_t at = plan.DataOffset(i);
  const uint32_t len = plan.DataLength(i);
  std::memcpy(out, ip, kBase);
  std::memcpy(out + kBase, i == 0 ? ip + kBase : plan.later_options, hl - kBase);
  std::memcpy(out + hl, ip + plan.first_hl + at, len);
  auto* h = reinterpret_cast<rte_ipv4_hdr*>(out);
  h->version_ihl = static_cast<uint8_t>(0x40 | hl / 4);
  h->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(hl + len));
  uint16_t f = static_cast<uint16_t>(plan.first_unit + at / 8);
  if (i + 1 < plan.count || plan.more_after) f |= RTE_IPV4_HDR_MF_FLAG;
  h->fragment_offset = rte_cpu_to_be_16(f);
  h->hdr_checksum = 0;
  h->hdr_checksum = rte_ipv4_cksum(h);
}

}  // namespace natgw::net
