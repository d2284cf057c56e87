// Drop reasons and translation counters, each declared once (X-macro) with its exported name.
// Every dropped packet increments exactly one drop counter.
#ifndef NATGW_LIB_NAT_COUNTERS_H_
#define NATGW_LIB_NAT_COUNTERS_H_

#include <cstdint>

namespace natgw::nat {

// X(enumerator, name)
#define NATGW_DROP_REASONS(X)                                                        \
  X(kTruncatedEthernet, "truncated_ethernet")                                        \
  X(kTruncatedVlan, "truncated_vlan")                                                \
  X(kNotIpv4, "not_ipv4")                                                            \
  X(kTruncatedIpv4, "truncated_ipv4")                                                \
  X(kBadIpVersion, "bad_ip_version")                                                 \
  X(kBadIhl, "bad_ihl")                                                              \
  X(kBadTotalLength, "bad_total_length")                                             \
  X(kBadIpChecksum, "bad_ip_checksum")                                               \
  X(kTruncatedTcp, "truncated_tcp")                                                  \
  X(kBadTcpDataOffset, "bad_tcp_data_offset")                                        \
  X(kTruncatedUdp, "truncated_udp")                                                  \
  X(kBadUdpLength, "bad_udp_length")                                                 \
  X(kTruncatedIcmp, "truncated_icmp")                                                \
  X(kMultiSegment, "multi_segment")                                                  \
  X(kUnknownIsland, "unknown_island")                                                \
  X(kSpoofedSource, "spoofed_source")                                                \
  X(kNoMapping, "no_mapping")                                                        \
  X(kNoSession, "no_session")                                                        \
  X(kFiltered, "filtered")                                                           \
  X(kTcpNotSyn, "tcp_not_syn")                                                       \
  X(kUnsupportedProtocol, "unsupported_protocol")                                    \
  X(kUnsupportedIcmp, "unsupported_icmp")                                            \
  X(kIcmpErrorNoSession, "icmp_error_no_session")                                    \
  X(kIcmpErrorMalformed, "icmp_error_malformed")                                     \
  X(kNoBackend, "no_backend")                                                        \
  X(kSessionTableFull, "session_table_full")                                         \
  X(kPodSessionLimit, "pod_session_limit")                                           \
  X(kPodTableFull, "pod_table_full")                                                 \
  X(kPoolPortsExhausted, "pool_ports_exhausted")                                     \
  X(kInsertConflict, "insert_conflict")                                              \
  X(kTtlExceeded, "ttl_exceeded")                                                    \
  X(kFragmentHoldFull, "fragment_hold_full")                                         \
  X(kFragmentTimeout, "fragment_timeout")                                            \
  X(kPortRefsFull, "port_refs_full")                                                \
  X(kBadIcmpChecksum, "bad_icmp_checksum")

enum class DropReason : uint8_t {
#define NATGW_X(e, s) e,
  NATGW_DROP_REASONS(NATGW_X)
#undef NATGW_X
  kCount
};
inline constexpr int kNumDropReasons = static_cast<int>(DropReason::kCount);
const char* DropReasonName(DropReason r);

// X(enumerator, name): things that happened to packets that were not dropped, and session events.
#define NATGW_EVENT_COUNTERS(X)                                          \
  X(kRxPackets, "rx_packets")                                            \
  X(kIn2Out, "in2out_packets")                                           \
  X(kOut2In, "out2in_packets")                                           \
  X(kHairpin, "hairpin_packets")                                         \
  X(kStatelessIn2Out, "stateless_in2out_packets")                        \
  X(kStatelessOut2In, "stateless_out2in_packets")                        \
  X(kIcmpErrorsTranslated, "icmp_errors_translated")                     \
  X(kIcmpTimeExceededSent, "icmp_time_exceeded_sent")                    \
  X(kIcmpFragNeededSent, "icmp_frag_needed_sent")                        \
  X(kIcmpErrorsRateLimited, "icmp_errors_rate_limited")                  \
  X(kIcmpEchoReplied, "icmp_echo_replied")                               \
  X(kFragmentsTranslated, "fragments_translated")                        \
  X(kFragmentsHeld, "fragments_held")                                    \
  X(kFragmentStatesFull, "fragment_states_full")                         \
  X(kSessionsCreated, "sessions_created")                                \
  X(kSessionsExpired, "sessions_expired")                                \
  X(kBindingsCreated, "bindings_created")                                \
  X(kPodMappingSessions, "pod_mapping_sessions_created")                 \
  X(kEgressPoolSessions, "egress_pool_sessions_created")                 \
  X(kServiceSessions, "service_sessions_created")

enum class Event : uint8_t {
#define NATGW_X(e, s) e,
  NATGW_EVENT_COUNTERS(NATGW_X)
#undef NATGW_X
  kCount
};
inline constexpr int kNumEvents = static_cast<int>(Event::kCount);
const char* EventName(Event e);

// Per-worker counters: written only by their worker, read (racily, relaxed) by the control
// thread, which sums them.
struct alignas(64) WorkerCounters {
  uint64_t drops[kNumDropReasons] = {};
  uint64_t events[kNumEvents] = {};

  void Drop(DropReason r) { ++drops[static_cast<int>(r)]; }
  void Count(Event e, uint64_t n = 1) { events[static_cast<int>(e)] += n; }
  uint64_t drop(DropReason r) const { return drops[static_cast<int>(r)]; }
  uint64_t event(Event e) const { return events[static_cast<int>(e)]; }
  uint64_t TotalDrops() const;
};

}  // namespace natgw::nat

#endif  // NATGW_LIB_NAT_COUNTERS_H_
