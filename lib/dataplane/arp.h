// ARP (RFC 826) for Ethernet/IPv4: parsing received messages and writing requests, replies and
// gratuitous announcements. Pure functions on frame bytes; any thread.
#ifndef NATGW_LIB_DATAPLANE_ARP_H_
#define NATGW_LIB_DATAPLANE_ARP_H_

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdint>

namespace natgw::dataplane {

// An untagged ARP frame is 42 bytes; what we send is padded to the Ethernet minimum.
inline constexpr uint16_t kArpFrameLen = sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr);
inline constexpr uint16_t kMinFrameLen = RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN;  // 60

struct ArpMessage {
  uint16_t op;  // RTE_ARP_OP_REQUEST or RTE_ARP_OP_REPLY
  rte_ether_addr sha;
  uint32_t sip;  // network order
  uint32_t tip;
};

// Parses the untagged ARP frame of `len` bytes (ether type already known to be ARP). False for
// anything but Ethernet/IPv4 requests and replies with a unicast sender MAC.
bool ParseArp(const uint8_t* frame, uint32_t len, ArpMessage* out);

// Writes an ARP message into `frame` (at least kMinFrameLen bytes): Ethernet `eth_dst` <- `sha`,
// then the ARP header. Bytes past the ARP header up to kMinFrameLen are zeroed.
void WriteArp(uint8_t* frame, const rte_ether_addr& eth_dst, uint16_t op, const rte_ether_addr& sha,
              uint32_t sip, const rte_ether_addr& tha, uint32_t tip);

// A fresh mbuf from `pool` holding an ARP message (kMinFrameLen bytes), or nullptr when the pool
// is empty. No heap allocation (mempool only).
rte_mbuf* BuildArpMbuf(rte_mempool* pool, const rte_ether_addr& eth_dst, uint16_t op,
                       const rte_ether_addr& sha, uint32_t sip, const rte_ether_addr& tha,
                       uint32_t tip);

}  // namespace natgw::dataplane

#endif  // NATGW_LIB_DATAPLANE_ARP_H_
