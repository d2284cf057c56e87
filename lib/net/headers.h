// Wire headers used by natgw. DPDK's rte_* header structs are the single definition; this file
// adds the few constants and helpers natgw needs on top of them.
#ifndef NATGW_LIB_NET_HEADERS_H_
#define NATGW_LIB_NET_HEADERS_H_

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cstdint>

namespace natgw::net {

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;

inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestUnreachable = 3;
inline constexpr uint8_t kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpTimeExceeded = 11;
inline constexpr uint8_t kIcmpParameterProblem = 12;
inline constexpr uint8_t kIcmpFragNeeded = 4;  // code of kIcmpDestUnreachable

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpPsh = 0x08;
inline constexpr uint8_t kTcpAck = 0x10;

inline constexpr uint16_t kIpFlagDf = 0x4000;  // host order, in fragment_offset
inline constexpr uint16_t kIpFlagMf = 0x2000;
inline constexpr uint16_t kIpOffsetMask = 0x1fff;

// True for ICMP types that carry a quoted IP packet (RFC 5508 "ICMP error messages").
inline bool IsIcmpError(uint8_t type) {
  return type == kIcmpDestUnreachable || type == kIcmpTimeExceeded ||
         type == kIcmpParameterProblem;
}

// "tcp", "udp", "icmp" or "other": the protocols natgw keeps sessions for.
constexpr const char* ProtoName(uint8_t proto) {
  switch (proto) {
    case kProtoTcp: return "tcp";
    case kProtoUdp: return "udp";
    case kProtoIcmp: return "icmp";
  }
  return "other";
}

// Builds a network-order IPv4 address from dotted parts: Ip4(192, 0, 2, 1).
constexpr uint32_t Ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return RTE_BE32((uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d);
}

}  // namespace natgw::net

#endif  // NATGW_LIB_NET_HEADERS_H_
