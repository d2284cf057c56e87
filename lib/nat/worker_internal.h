// Definitions shared by the worker's source files (fast path, slow path, ICMP, fragments).
#ifndef NATGW_LIB_NAT_WORKER_INTERNAL_H_
#define NATGW_LIB_NAT_WORKER_INTERNAL_H_

#include <atomic>
#include <cstdint>

#include "lib/conntrack/flow_key.h"
#include "lib/conntrack/session.h"
#include "lib/nat/worker.h"
#include "lib/net/checksum.h"
#include "lib/net/headers.h"
#include "lib/net/parse.h"

namespace natgw::nat {

// One packet of the burst being processed.
struct Worker::Pkt {
  rte_mbuf* m;
  uint8_t* data;  // frame start
  rte_ipv4_hdr* ip;
  uint8_t* l4;    // transport header (nullptr for later fragments)
  net::PacketInfo info;
  Side side;
  conntrack::FlowKey key;  // the lookup key as the packet arrived
  bool first_fragment;     // MF set, offset 0: remember the result for later fragments
  uint32_t orig_src;       // header fields as the packet arrived (fragment key)
  uint32_t orig_dst;
  uint16_t orig_realm;
};

// A datagram whose first fragment was translated: later fragments get the same addresses.
struct Worker::FragState {
  uint32_t src = 0;  // pre-translation header fields (the key)
  uint32_t dst = 0;
  uint16_t ip_id = 0;
  uint16_t realm = 0;
  uint8_t proto = 0;
  bool used = false;
  Action action = Action::kDrop;
  uint16_t island = 0;
  uint32_t new_src = 0;
  uint32_t new_dst = 0;
  uint32_t expires_s = 0;
};

struct Worker::HeldFragment {
  rte_mbuf* m = nullptr;
  uint32_t expires_s = 0;
  uint16_t realm = 0;
  uint16_t l3_offset = 0;
};

// Session generation kept in the high half of aux1; the allocator id in the low half.
inline uint16_t SessionGeneration(const conntrack::Session& s) {
  return static_cast<uint16_t>(__atomic_load_n(&s.aux1, __ATOMIC_RELAXED) >> 16);
}
// Whether mapping generation `a` came before `b` (16-bit counters, compared within half their
// range: the sweep visits every session within far fewer reloads).
inline bool GenerationBefore(uint16_t a, uint16_t b) {
  return static_cast<int16_t>(static_cast<uint16_t>(a - b)) < 0;
}
// How many generations behind a table may be while a worker still holds it for a burst: a stamp
// up to this much newer than a worker's table was set by a newer table, not left by a long-ago one.
inline constexpr uint16_t kReaderLag = 1024;
// Records that `s` was found valid against mapping generation `g`, so it is not checked again
// until the mappings change. Any worker, on a session it may only hold for reading (the sweep's
// Expired): the only write to a const Session besides last_seen_s. The stamp only moves forward
// (a worker still on an older table leaves a newer stamp alone), so it always names the newest
// table that found the session valid; Valid relies on that.
inline void StampGeneration(const conntrack::Session& s, uint16_t g) {
  uint32_t* aux1 = const_cast<uint32_t*>(&s.aux1);  // sessions live in writable memory
  uint32_t aux = __atomic_load_n(aux1, __ATOMIC_RELAXED);
  while (GenerationBefore(static_cast<uint16_t>(aux >> 16), g) &&
         !__atomic_compare_exchange_n(aux1, &aux, (uint32_t{g} << 16) | (aux & 0xffff), true,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}
inline uint16_t SessionAllocatorId(const conntrack::Session& s) {
  return static_cast<uint16_t>(__atomic_load_n(&s.aux1, __ATOMIC_RELAXED) & 0xffff);
}
inline constexpr uint16_t kNoAllocator = 0xffff;

inline DropReason FromParseError(net::ParseError e) {
  switch (e) {
    case net::ParseError::kTruncatedEthernet: return DropReason::kTruncatedEthernet;
    case net::ParseError::kTruncatedVlan: return DropReason::kTruncatedVlan;
    case net::ParseError::kNotIpv4: return DropReason::kNotIpv4;
    case net::ParseError::kTruncatedIpv4: return DropReason::kTruncatedIpv4;
    case net::ParseError::kBadIpVersion: return DropReason::kBadIpVersion;
    case net::ParseError::kBadIhl: return DropReason::kBadIhl;
    case net::ParseError::kBadTotalLength: return DropReason::kBadTotalLength;
    case net::ParseError::kBadIpChecksum: return DropReason::kBadIpChecksum;
    case net::ParseError::kTruncatedTcp: return DropReason::kTruncatedTcp;
    case net::ParseError::kBadTcpDataOffset: return DropReason::kBadTcpDataOffset;
    case net::ParseError::kTruncatedUdp: return DropReason::kTruncatedUdp;
    case net::ParseError::kBadUdpLength: return DropReason::kBadUdpLength;
    case net::ParseError::kTruncatedIcmp: return DropReason::kTruncatedIcmp;
    case net::ParseError::kOk: break;
  }
  return DropReason::kTruncatedEthernet;
}

// Reads/writes of 16-bit header words as raw network-order memory.
inline uint16_t LoadU16(const void* p) {
  uint16_t v;
  __builtin_memcpy(&v, p, 2);
  return v;
}
inline void StoreU16(void* p, uint16_t v) { __builtin_memcpy(p, &v, 2); }

// Forwarding's TTL decrement with its checksum update. The TTL is at least 2 before: ProcessBurst
// answers the others (held fragments were checked when they arrived).
inline void DecrementTtl(rte_ipv4_hdr* ip) {
  --ip->time_to_live;
  ip->hdr_checksum = net::CsumApplyDelta(ip->hdr_checksum, net::kTtlDecrementDelta);
}

// The ICMP identifier field (offset 4 of an echo header).
inline uint16_t* IcmpIdent(uint8_t* icmp) { return reinterpret_cast<uint16_t*>(icmp + 4); }

}  // namespace natgw::nat

#endif  // NATGW_LIB_NAT_WORKER_INTERNAL_H_
