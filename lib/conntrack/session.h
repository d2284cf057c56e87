// A translated flow. One 64-byte cache line holds both keys and the precomputed rewrite, so a
// table hit costs one index bucket plus this line.
#ifndef NATGW_LIB_CONNTRACK_SESSION_H_
#define NATGW_LIB_CONNTRACK_SESSION_H_

#include <atomic>
#include <cstdint>

#include "lib/conntrack/flow_key.h"
#include "lib/conntrack/tcp_state.h"

namespace natgw::conntrack {

enum class SessionKind : uint8_t {
  kPodMapping = 0,  // 1:1 pod address <-> unique external address
  kEgressPool = 1,  // NAPT through an egress pool
  kService = 2,     // service VIP -> backend pod
  kBinding = 3,     // endpoint-independent binding (UDP EIM), no traffic of its own
};

// The kind as operators see it (natgwctl, metrics labels).
constexpr const char* SessionKindName(SessionKind k) {
  switch (k) {
    case SessionKind::kPodMapping: return "pod_address";
    case SessionKind::kEgressPool: return "egress_pool";
    case SessionKind::kService: return "service";
    case SessionKind::kBinding: return "binding";
  }
  return "unknown";
}

// Session::flags bits. kSessionOutsideInitiated is set before the session is published and never
// changes; kSessionDead is set (fetch_or) by a flush, or by a worker that found the session made
// invalid by a reload, after which the owner reclaims the session.
inline constexpr uint8_t kSessionDead = 0x01;
inline constexpr uint8_t kSessionOutsideInitiated = 0x02;
// Set before publish: the remote endpoint is itself an address of this gateway (hairpin), so a
// packet translated by this session must be translated again as if it arrived from outside.
inline constexpr uint8_t kSessionHairpin = 0x04;
// Set with kSessionDead by an operator's flush (natgwctl flush), so the event log can tell a
// flush from a session a reload invalidated.
inline constexpr uint8_t kSessionFlushed = 0x08;

// Both keys describe the flow as it arrives on each side:
//   in_key : realm = island, src = inside endpoint (pod), dst = remote as the pod addresses it
//   out_key: realm = kOutsideRealm, src = remote endpoint, dst = external endpoint
// The rewrite follows from the keys: a packet matching in_key leaves with
// src = out_key.dst, dst = out_key.src; a packet matching out_key leaves with
// src = in_key.dst, dst = in_key.src. The checksum deltas for both rewrites are precomputed.
struct alignas(64) Session {
  FlowKey in_key;
  FlowKey out_key;
  uint16_t in2out_ip_delta;  // folded delta for the IPv4 header checksum
  uint16_t in2out_l4_delta;  // folded delta for the TCP/UDP/ICMP checksum
  uint16_t out2in_ip_delta;
  uint16_t out2in_l4_delta;
  // Coarse; the only field readers write, hence mutable.
  mutable std::atomic<uint32_t> last_seen_s;
  std::atomic<uint8_t> tcp_state;     // TcpState; written only on SYN/FIN/RST
  std::atomic<uint8_t> flags;         // kSessionDead | kSessionOutsideInitiated
  SessionKind kind;
  uint8_t owner;     // worker that created it and alone frees it
  uint32_t next;     // owner's expiry list link
  uint32_t aux0;     // engine-defined (pod limit slot)
  uint32_t aux1;     // engine-defined (port allocator / mapping generation)
  uint32_t created_s;
};
static_assert(sizeof(Session) == 64, "Session must stay one cache line");

// Configurable idle timeouts, RFC defaults.
struct Timeouts {
  uint32_t tcp_established_s = 7440;  // RFC 5382 REQ-5: at least 2 h 4 min
  uint32_t tcp_transitory_s = 240;    // RFC 5382 REQ-5: at least 4 min
  uint32_t udp_s = 300;               // RFC 4787 REQ-5: at least 2 min, 5 min recommended
  uint32_t icmp_s = 60;               // RFC 5508 REQ-1: at least 60 s
};

// No session can expire sooner than this after its last packet (its TCP state may change).
inline uint32_t ShortestTimeout(const Timeouts& t) {
  uint32_t m = t.tcp_established_s < t.tcp_transitory_s ? t.tcp_established_s : t.tcp_transitory_s;
  if (t.udp_s < m) m = t.udp_s;
  return t.icmp_s < m ? t.icmp_s : m;
}

}  // namespace natgw::conntrack

#endif  // NATGW_LIB_CONNTRACK_SESSION_H_
