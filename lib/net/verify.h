// Checksum verification for tests: checks every checksum of a frame the way a receiving host
// would, and says which one is wrong. Control plane / test code only (allocates on error).
#ifndef NATGW_LIB_NET_VERIFY_H_
#define NATGW_LIB_NET_VERIFY_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace natgw::net {

// Parses the Ethernet frame with ParseFrame and verifies:
//  - the IPv4 header checksum;
//  - for an unfragmented packet, the TCP or UDP checksum (pseudo header included; UDP 0 means
//    "no checksum" and passes) or the ICMP checksum over the whole ICMP message. Fragments carry
//    only part of the datagram, so their transport checksum is not checked;
//  - for ICMP errors (types 3, 11, 12): the quoted packet must parse with ParseQuotedIpv4 (its
//    IPv4 header checksum included) and, when the quote holds the whole inner packet (inner
//    total length <= quoted bytes, not a fragment), its TCP/UDP/ICMP checksum.
// Returns OkStatus, or InvalidArgument naming the parse error or the checksum with expected and
// found values, e.g. "inner UDP checksum mismatch: expected 0x1a2b, found 0x1a2c".
absl::Status VerifyChecksums(const uint8_t* frame, size_t len);

// The same for a bare IPv4 packet without an Ethernet header.
absl::Status VerifyIpChecksums(const uint8_t* ip, size_t len);

}  // namespace natgw::net

#endif  // NATGW_LIB_NET_VERIFY_H_
