// Frames of the load generator: precomputed UDP templates patched per flow with checksum sums
// taken in advance, TCP segments of the connection-rate mode, the in-place reply, and the
// checks applied to every frame that comes back.
//
// Everything here runs on the generator's packet loop: no allocation, no syscalls. Templates are
// built once at start (FrameTemplate::Udp) and are read-only afterwards.
#ifndef NATGW_PERF_LOADGEN_PACKETS_H_
#define NATGW_PERF_LOADGEN_PACKETS_H_

#include <rte_ether.h>

#include <cstddef>
#include <cstdint>

#include "perf/loadgen/flows.h"

namespace natgw::loadgen {

inline constexpr uint32_t kMagic = 0x4e474c47;  // "NGLG", first word of every payload
inline constexpr uint16_t kKindRequest = 1;     // inside -> outside
inline constexpr uint16_t kKindReply = 2;       // outside -> inside

// The generator's payload: 18 bytes, so a 64-byte frame (60 without the FCS) holds it exactly
// after Ethernet, IPv4 and UDP headers. All fields in network order except `tsc`, which only
// its writer reads.
struct __attribute__((packed)) Payload {
  uint32_t magic;
  uint32_t flow_id;
  uint64_t tsc;
  uint16_t kind;
};
static_assert(sizeof(Payload) == 18);

inline constexpr uint16_t kUdpHeadersLen = 14 + 20 + 8;
inline constexpr uint16_t kTcpHeadersLen = 14 + 20 + 20;
inline constexpr uint16_t kMinFrameLen = 60;    // Ethernet minimum without the FCS
inline constexpr uint16_t kMaxFrameLen = 1514;  // 1518 with the FCS

// Wire size with the FCS ("64-byte frames") -> bytes handed to the port.
constexpr uint16_t FrameLenFromWireSize(uint16_t wire_size) { return wire_size - 4; }

// A UDP frame of one size with every per-flow field zero and the ones' complement sums of the
// constant parts precomputed, so writing a flow costs a 64..1514-byte copy and a few adds.
struct FrameTemplate {
  // `frame_len` bytes handed to the port (60..1514, without the FCS); TTL 64, DF set.
  static FrameTemplate Udp(uint16_t frame_len, const rte_ether_addr& src_mac,
                           const rte_ether_addr& dst_mac);

  alignas(64) uint8_t bytes[kMaxFrameLen];
  uint16_t len = 0;
  uint32_t ip_sum = 0;   // IPv4 header words with addresses and checksum zero
  uint32_t udp_sum = 0;  // pseudo header + UDP + payload with every per-flow field zero
};

// Writes the request of flow `id` (tuple `t`) into `dst` (at least tpl.len bytes): copy, then
// addresses, ports, payload and both checksums.
void WriteUdpRequest(const FrameTemplate& tpl, const FlowTuple& t, uint32_t id, uint64_t tsc,
                     uint8_t* dst);
// Gives a request written by WriteUdpRequest a new send timestamp, updating its UDP checksum:
// the same frame as WriteUdpRequest with `tsc` would have written.
void RenewUdpTimestamp(uint8_t* frame, uint64_t tsc);

// TCP segments of the connection-rate mode (see traffic.cc): 54 bytes of headers, `data_len`
// bytes of payload, padded to 60 bytes. Writes every field and both checksums; returns the
// frame length. Ports and addresses in network order, seq/ack in host order.
uint16_t WriteTcpSegment(uint8_t* dst, const rte_ether_addr& src_mac, const rte_ether_addr& dst_mac,
                         uint32_t src_ip_be, uint32_t dst_ip_be, uint16_t sport_be,
                         uint16_t dport_be, uint8_t flags, uint32_t seq, uint32_t ack,
                         uint16_t data_len);

// Turns a received request around in place: addresses, ports and MACs swapped (source MAC
// `src_mac`, destination `dst_mac`), kind set to reply. Checksums updated incrementally
// (swapping leaves both sums unchanged; only the kind word differs).
void TurnUdpAround(uint8_t* frame, const rte_ether_addr& src_mac, const rte_ether_addr& dst_mac);

// The reasons a frame coming back is not what it should be. Each counts separately and every
// one of them is an error in the result.
#define NATGW_LOADGEN_INVALID_LIST(X)                                                  \
  X(truncated, "frame too short for its headers")                                      \
  X(not_ipv4, "not IPv4, or IPv4 with options")                                        \
  X(wrong_protocol, "not the protocol sent")                                           \
  X(bad_ip_checksum, "IPv4 header checksum wrong")                                     \
  X(bad_l4_checksum, "UDP/TCP checksum wrong")                                         \
  X(not_ours, "payload magic or kind wrong")                                           \
  X(bad_flow_id, "flow id out of range")                                               \
  X(wrong_destination, "destination address/port changed (outside) or not the pod's (inside)") \
  X(source_not_in_pool, "translated source outside the expected pool")                 \
  X(source_port_out_of_range, "translated source port outside the expected range")     \
  X(translation_changed, "a flow translated differently than before")                  \
  X(wrong_source, "reply source is not the remote server")

enum class Invalid : uint8_t {
#define NATGW_LOADGEN_X(name, text) k_##name,
  NATGW_LOADGEN_INVALID_LIST(NATGW_LOADGEN_X)
#undef NATGW_LOADGEN_X
      kNone,
};
inline constexpr size_t kNumInvalid = static_cast<size_t>(Invalid::kNone);
const char* InvalidName(Invalid r);

// What a translated source may be. `translate` false: the source must be left alone (plain
// forwarding, the ceiling). Otherwise it must lie in one of the address ranges and its port in
// [port_min, port_max] (ports below 1024 are mapped by natgw into 1..1023: allowed too).
struct ExpectedSource {
  bool translate = true;
  uint32_t num_ranges = 0;
  uint32_t first[8] = {};  // host order
  uint32_t last[8] = {};
  uint16_t port_min = 1;
  uint16_t port_max = 65535;

  bool AddressOk(uint32_t ip_host) const {
    for (uint32_t i = 0; i < num_ranges; ++i) {
      if (ip_host >= first[i] && ip_host <= last[i]) return true;
    }
    return num_ranges == 0;
  }
};

// The first translation seen of each flow; later packets of the flow must match it. Read and
// written whole with one 8-byte atomic access, so generators on several lcores can share one
// array (a flow's frames normally reach the lcore that sent it, but need not).
struct alignas(8) Translation {
  uint32_t ip_be = 0;
  uint16_t port_be = 0;
  uint16_t seen = 0;
};
static_assert(sizeof(Translation) == 8 && __atomic_always_lock_free(8, 0));

// The parsed transport view of a frame that passed the checks.
struct Checked {
  uint32_t flow_id;
  uint64_t tsc;
  uint8_t tcp_flags;
  uint32_t seq;  // host order, TCP only
  uint32_t ack;
};

// Checks a translated request that reached the outside (UDP mode): headers, both checksums,
// payload, destination unchanged against `flows`, source against `expect` and against the flow's
// first translation in `seen` (one entry per flow id < num_flows; filled on first sight).
Invalid CheckUdpOutside(const uint8_t* frame, uint32_t len, const FlowSet& flows,
                        uint32_t num_flows, const ExpectedSource& expect, Translation* seen,
                        Checked* out);

// Checks a reply that came back to the inside (UDP mode): checksums, payload, destination is the
// flow's pod address and port, source its remote server.
Invalid CheckUdpInside(const uint8_t* frame, uint32_t len, const FlowSet& flows,
                       uint32_t num_flows, Checked* out);

// The TCP counterparts. The flow id is not in a payload (SYNs carry none) but in the sequence
// numbers: the caller derives it from `out->seq` / `out->ack` and passes `flow_of` to check the
// tuple; these check headers and checksums and fill `out`.
Invalid CheckTcpHeaders(const uint8_t* frame, uint32_t len, Checked* out);
// Outside: destination unchanged, source in the pool and stable per flow.
Invalid CheckTcpOutsideTuple(const uint8_t* frame, const FlowTuple& t, uint32_t flow_id,
                             const ExpectedSource& expect, Translation* seen);
// Inside: addressed to the pod, from the remote server.
Invalid CheckTcpInsideTuple(const uint8_t* frame, const FlowTuple& t);

}  // namespace natgw::loadgen

#endif  // NATGW_PERF_LOADGEN_PACKETS_H_
