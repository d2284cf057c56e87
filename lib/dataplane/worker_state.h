// One worker's private state, shared by dataplane.cc (creation, snapshots) and worker_loop.cc.
#ifndef NATGW_LIB_DATAPLANE_WORKER_STATE_H_
#define NATGW_LIB_DATAPLANE_WORKER_STATE_H_

#include <rte_ethdev.h>

#include <iterator>

#include "lib/dataplane/dataplane.h"
#include "lib/nat/worker.h"

namespace natgw::dataplane {

// Where the TX buffer of (worker, port) counts frames the queue refused.
struct TxDropSink {
  uint64_t* port_dropped;
  DataplaneCounters* counters;
};

// Cache-aligned so no two workers share a line; written only by its worker (counters are read
// racily by the control thread).
struct alignas(64) Dataplane::WorkerState {
  WorkerState(uint32_t worker_id, nat::Worker* nw, const DataplaneOptions& o)
      : id(worker_id), engine_worker(nw), hold(o.hold_frames, o.hold_per_neighbor) {}

  const uint32_t id;
  nat::Worker* const engine_worker;
  uint64_t last_drain_tsc = 0;
  WorkerLoad load;  // busy and total loop cycles
  DataplaneCounters counters;
  uint64_t tx_dropped[kMaxInterfaces] = {};
  TxDropSink sinks[kMaxInterfaces] = {};
  rte_eth_dev_tx_buffer* tx[kMaxInterfaces] = {};
  rte_mbuf* rx[kMaxInterfaces][nat::kMaxBurst] = {};  // one burst per port, received together
  rte_mbuf* ip[nat::kMaxBurst] = {};
  nat::BurstResult result;
  NextHop hops[std::size(nat::BurstResult{}.verdicts)];  // FindNextHop's for result.verdicts[k]
  HoldQueue hold;
  // Frames of this burst too big for their port, to be fragmented or answered with ICMP
  // "fragmentation needed" (Dataplane::HandleTooBig) once the burst's other frames have left.
  struct TooBig {
    rte_mbuf* m;
    NextHop hop;  // where it was going
  };
  TooBig too_big[std::size(nat::BurstResult{}.verdicts)];
  uint32_t num_too_big = 0;
  bool handling_too_big = false;  // the ICMP errors themselves are never queued here
  NeighborCache neighbor_cache;
};

}  // namespace natgw::dataplane

#endif  // NATGW_LIB_DATAPLANE_WORKER_STATE_H_
