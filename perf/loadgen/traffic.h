// The generator's packet loop: one lcore drives both ports (or, with `queues` > 1, one lcore
// per queue pair). The inside port plays the pods
// (requests, and in TCP mode the client side of every connection), the outside port plays the
// remote servers (checks every translated frame and answers it). Counters, latency and the
// per-second timeline are kept here and turned into the result by loadgen_main.cc.
//
// With `queues` > 1 there is one such loop per queue pair, each on its own worker lcore with
// its own share of the flows (contiguous ids), sending and receiving on its own queue of both
// ports: a gateway whose worker w serves queue w of each port, as natgw's does, then gets the
// flows of loop w on worker w. The main lcore resolves the gateway's MACs first and prints the
// summed progress; the result is the sum of the loops'.
//
// Run() is called on the main lcore; nothing on a loop allocates from the heap or makes a
// syscall (the progress line is printed once a second).
#ifndef NATGW_PERF_LOADGEN_TRAFFIC_H_
#define NATGW_PERF_LOADGEN_TRAFFIC_H_

#include <rte_ether.h>
#include <rte_mempool.h>

#include <cstdint>
#include <string>
#include <vector>

#include "perf/loadgen/flows.h"
#include "perf/loadgen/histogram.h"
#include "perf/loadgen/packets.h"

namespace natgw::loadgen {

enum class Mode : uint8_t {
  kUdp,     // established UDP flows: every flow once (warm-up), then all of them in turn
  kUdpNew,  // every packet a new flow: one pass over the flows, no warm-up
  kTcp,     // connections: SYN, SYN-ACK, ACK+data, FIN, FIN-ACK, ACK; each on a new flow
};

struct TrafficConfig {
  Mode mode = Mode::kUdp;
  uint16_t inside_port = 0;
  uint16_t outside_port = 1;
  rte_mempool* pool = nullptr;
  FlowRanges ranges;
  uint32_t num_flows = 1000;
  std::vector<uint16_t> frame_lens = {60};  // cycled per packet (IMIX: 7x60, 4x590, 1x1514)
  double rate_pps = 0;                      // requests (TCP: connections) per second; 0 = max
  double duration_s = 10;
  double warmup_pps = 1e6;                  // kUdp: rate of the warm-up pass; 0 = max
  ExpectedSource expect;
  bool arp = true;  // resolve the gateway's MACs and answer ARP; else use the MACs below
  uint32_t inside_gateway_ip_be = 0;
  uint32_t outside_gateway_ip_be = 0;
  uint32_t outside_ip_be = 0;  // the generator's own outside address (sender of its ARP)
  rte_ether_addr inside_gateway_mac{};
  rte_ether_addr outside_gateway_mac{};
  bool progress = true;
  double link_timeout_s = 30;  // how long to wait for both links (the peer connecting)
  // RX queues per port, all polled; at least `queues`. A memif client that transmits on more
  // queues (Open vSwitch: one per PMD thread plus one) needs as many here. With several loops,
  // loop k polls the queues q with q mod queues = k.
  uint16_t rx_queues = 1;
  // Queue pairs per port, one loop (worker lcore) each; 1: one loop on the main lcore.
  uint16_t queues = 1;
};

struct DirectionCounts {
  uint64_t offered = 0;    // accepted by the sending port
  uint64_t delivered = 0;  // received and valid
  uint64_t tx_full = 0;    // refused by the sending port (ring full), not offered
  // Answers never sent: refused and freed (UDP replies), or (TCP) no room to keep them or no
  // buffer for a FIN. A TCP answer dropped is a connection that does not complete.
  uint64_t tx_dropped = 0;
};

struct LoopCounts {
  DirectionCounts in2out, out2in;
  uint64_t other_loop_frames = 0;
};

struct SecondSample {
  double t_s;
  double in2out_offered_pps, in2out_delivered_pps;
  double out2in_offered_pps, out2in_delivered_pps;
  double tcp_cps;
};

struct TrafficResult {
  double seconds = 0;  // measured interval (warm-up excluded)
  // When the measured interval began, in seconds since the Unix epoch (wall clock), so that
  // samples taken beside the run (scripts/bench.sh samples natgw's worker load) can be matched
  // to it; 0 when nothing was measured.
  double start_unix = 0;
  DirectionCounts in2out, out2in;
  uint64_t invalid[kNumInvalid] = {};
  uint64_t invalid_total = 0;
  uint64_t warmup_delivered = 0;
  uint64_t tcp_opened = 0, tcp_established = 0, tcp_completed = 0;
  uint64_t arp_answered = 0;
  uint64_t pods_announced = 0;       // ARP requests for the gateway sent from pod addresses
  uint64_t arp_gateway_replies = 0;  // ARP replies from a gateway address (inside or outside)
  uint64_t other_frames = 0;  // neither ARP nor IPv4 (e.g. IPv6 from a kernel peer): ignored
  LatencyHistogram latency;
  std::vector<SecondSample> timeline;
  // With several loops: valid frames that reached a loop other than the one whose flow they
  // belong to (the peer moved them between queues; counted as delivered all the same).
  uint64_t other_loop_frames = 0;
  // With several loops, each one's share (index = its queue); empty with one loop.
  std::vector<LoopCounts> loops;
  std::string error;  // non-empty: the run did not happen (link down, no ARP answer)
};

// Runs the configured traffic until duration_s has passed (kUdpNew: or the pass ended) or
// *stop becomes true; then drains both ports for 200 ms. Ports must be started with
// max(rx_queues, queues) RX and `queues` TX queues; with queues > 1 the EAL must have at least
// that many worker lcores (the first `queues` are used).
TrafficResult Run(const TrafficConfig& c, const volatile bool* stop);

}  // namespace natgw::loadgen

#endif  // NATGW_PERF_LOADGEN_TRAFFIC_H_
