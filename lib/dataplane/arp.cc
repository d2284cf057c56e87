#include "lib/dataplane/arp.h"

#include <rte_byteorder.h>

#include <cstring>

namespace natgw::dataplane {

bool ParseArp(const uint8_t* frame, uint32_t len, ArpMessage* out) {
  if (len < kArpFrameLen) return false;
  rte_arp_hdr arp;
  std::memcpy(&arp, frame + sizeof(rte_ether_hdr), sizeof(arp));
  if (arp.arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
      arp.arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) || arp.arp_hlen != RTE_ETHER_ADDR_LEN ||
      arp.arp_plen != 4) {
    return false;
  }
  out->op = rte_be_to_cpu_16(arp.arp_opcode);
  if (out->op != RTE_ARP_OP_REQUEST && out->op != RTE_ARP_OP_REPLY) return false;
  out->sha = arp.arp_data.arp_sha;
  if (!rte_is_valid_assigned_ether_addr(&out->sha)) return false;  // zero or multicast
  out->sip = arp.arp_data.arp_sip;
  out->tip = arp.arp_data.arp_tip;
  return true;
}

void WriteArp(uint8_t* frame, const rte_ether_addr& eth_dst, uint16_t op, const rte_ether_addr& sha,
              uint32_t sip, const rte_ether_addr& tha, uint32_t tip) {
  rte_ether_hdr eth;
  eth.dst_addr = eth_dst;
  eth.src_addr = sha;
  eth.ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
  rte_arp_hdr arp;
  arp.arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
  arp.arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
  arp.arp_hlen = RTE_ETHER_ADDR_LEN;
  arp.arp_plen = 4;
  arp.arp_opcode = rte_cpu_to_be_16(op);
  arp.arp_data.arp_sha = sha;
  arp.arp_data.arp_sip = sip;
  arp.arp_data.arp_tha = tha;
  arp.arp_data.arp_tip = tip;
  std::memcpy(frame, &eth, sizeof(eth));
  std::memcpy(frame + sizeof(eth), &arp, sizeof(arp));
  std::memset(frame + kArpFrameLen, 0, kMinFrameLen - kArpFrameLen);
}

rte_mbuf* BuildArpMbuf(rte_mempool* pool, const rte_ether_addr& eth_dst, uint16_t op,
                       const rte_ether_addr& sha, uint32_t sip, const rte_ether_addr& tha,
                       uint32_t tip) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, kMinFrameLen));
  if (frame == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  WriteArp(frame, eth_dst, op, sha, sip, tha, tip);
  return m;
}

}  // namespace natgw::dataplane
