// The dataplane: everything between the DPDK ports and the translation engine (DESIGN.md
// section 3, "Worker"). It brings the configured ports up, and each worker lcore runs
// RunWorker(w): receive bursts on queue w of every port, answer and learn ARP, hand IPv4 to the
// engine's Worker w, route what the engine forwards (one LPM per side: the outside, and the
// inside of each island), resolve the next hop's MAC (shared neighbor table, a bounded per-worker
// hold queue while ARP resolves it) and transmit through per-port TX buffers drained on a TSC
// deadline.
//
// Threads: Create, the destructor, SendGratuitousArp, Interfaces, Neighbors, Routes, SumCounters
// and LaunchWorkers run on the control thread (the DPDK main lcore); RunWorker(w) on exactly one
// thread per worker (an EAL worker lcore, or any thread in tests); Stop on any thread.
//
// Per frame, exactly one of: transmitted (or counted tx_full if the TX queue refuses it), dropped
// by the engine (counted by the engine), or consumed by the dataplane and counted here
// (lib/dataplane/counters.h): ARP answered/learned/ignored, layer-2 filtering, no route, MTU,
// neighbor table or hold queue full, next hop unresolved.
//
// Layer 2: frames that are not ARP must be sent to the port's MAC (anything else is
// l2_other_host, so a port in promiscuous mode does not forward other hosts' traffic). IPv4 may
// arrive with one 802.1Q tag; everything is transmitted untagged. ARP is answered untagged only.
// A port without a valid MAC (net_ring, net_null) gets a random locally administered one.
//
// Gratuitous ARP from the control thread: SendGratuitousArp builds the frames and puts them on a
// small multi-producer ring that worker 0 drains at its TX deadline, so every TX queue keeps a
// single writer and ports need exactly one queue pair per worker (memif pairs queues by index).
//
// Bringing it up (gateway/main.cc):
//   rte_eal_init(... -l 0,1..N [--vdev=net_af_packet0,iface=veth0,qpairs=N] ...)
//   engine = nat::Engine::Create(config.engine /* num_workers = N */, config.nat)
//   dp = Dataplane::Create(config, engine.get())          // ports started here
//   dp->LaunchWorkers()                                     // worker i on the i-th worker lcore
//   ... control loop: Interfaces()/Neighbors()/Routes()/SumCounters(), SendGratuitousArp ...
//   dp->Stop(); rte_eal_mp_wait_lcore();                    // every RunWorker has returned
//   engine.reset(); dp.reset();                             // engine first: its held fragments
//   rte_eal_cleanup();                                      // go back to the dataplane's pool
// (dp.reset() before engine.reset() also works; the pool is then left to rte_eal_cleanup.)
#ifndef NATGW_LIB_DATAPLANE_DATAPLANE_H_
#define NATGW_LIB_DATAPLANE_DATAPLANE_H_

#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/control/gateway_config.h"
#include "lib/dataplane/counters.h"
#include "lib/dataplane/hold_queue.h"
#include "lib/dataplane/neighbor_table.h"
#include "lib/dataplane/route_table.h"
#include "lib/nat/engine.h"
#include "lib/nat/nat_config.h"

namespace natgw::dataplane {

inline constexpr uint32_t kMaxInterfaces = 16;

struct InterfaceStatus {
  std::string name;
  std::string device;
  std::string driver;  // DPDK driver name ("net_af_packet", "net_ring", ...)
  uint16_t port_id = 0;
  control::InterfaceRole role = control::InterfaceRole::kOutside;
  uint16_t island = 0;
  uint32_t address = 0;  // network order
  uint8_t prefix_len = 0;
  uint16_t mtu = 0;
  rte_ether_addr mac{};
  bool link_up = false;
  uint32_t link_speed_mbps = 0;
  uint64_t rx_packets = 0, tx_packets = 0, rx_bytes = 0, tx_bytes = 0;
  uint64_t rx_missed = 0;   // the NIC ran out of RX descriptors (imissed)
  uint64_t rx_nombuf = 0;   // the PMD could not refill its RX ring: the mbuf pool was empty
  uint64_t rx_errors = 0;   // frames the NIC received in error (ierrors)
  uint64_t tx_errors = 0;   // frames the NIC failed to send (oerrors)
  uint64_t tx_dropped = 0;  // the TX queue refused frames (our tx_full, this port)
};

// One mbuf pool (one per NUMA socket with ports): its size and the mbufs free in it now (in its
// ring and the per-lcore caches); the others sit in receive rings, TX queues or held frames.
struct MbufPoolStatus {
  std::string name;
  uint32_t size = 0;
  uint32_t free = 0;
};

struct NeighborEntry {
  std::string interface;
  uint32_t ip = 0;  // network order
  rte_ether_addr mac{};
  bool resolved = false;
  uint32_t age_s = 0;  // since the last ARP answer (since creation while unresolved)
};

struct RouteEntry {
  std::string interface;
  nat::Cidr destination;
  uint32_t via = 0;        // network order; 0: on-link
  bool connected = false;  // from the interface's own address, not a configured route
  bool cluster = false;    // from the cluster (a node's pod CIDR), not the conf
  std::string origin;      // for cluster routes: "node NAME"
};

// A route the cluster asks for: a node's pod CIDR via the node's address (SetClusterRoutes).
struct ClusterRoute {
  uint16_t island = 0;
  nat::Cidr destination;
  uint32_t via = 0;    // network order
  std::string origin;  // "node node-1"
};

// Where a worker's time went, in TSC cycles since it started: loops that received at least one
// frame (and everything they did: translate, forward, drain, sweep) are busy.
struct WorkerLoad {
  uint64_t busy_cycles = 0;
  uint64_t total_cycles = 0;
};

// Start-time tuning; the defaults suit production. Not reloadable.
struct DataplaneOptions {
  uint16_t rx_descriptors = 1024;  // per RX queue (adjusted to what the device allows)
  uint16_t tx_descriptors = 1024;
  uint32_t drain_us = 100;          // TX buffers, hold queue and control ring serviced this often
  uint32_t hold_frames = 256;       // per worker
  uint32_t hold_per_neighbor = 16;  // at most HoldQueue::kMaxPerNeighbor
  uint32_t hold_timeout_ms = 3000;  // held frames of a next hop that never answers are dropped
  uint32_t neighbor_slots = 65536;  // shared by all interfaces; 64 bytes each
  uint32_t neighbor_reachable_s = 30;
  uint32_t neighbor_expire_s = 60;
  uint32_t arp_interval_ms = 1000;    // at most one ARP request per neighbor per interval
  uint32_t control_ring_size = 1024;  // gratuitous ARP frames waiting for worker 0
  uint32_t max_cluster_routes = RouteTable::kDefaultMaxClusterRoutes;  // nodes' pod CIDRs
};

class Dataplane {
 public:
  // Control thread, after rte_eal_init and Engine::Create. Finds each interface's DPDK port by
  // device name (a PCI address, or the vdev name given to EAL as --vdev=device,args), configures
  // it with engine->num_workers() RX/TX queue pairs (RSS on IP addresses when the device has it
  // and there is more than one worker), the interface MTU, an mbuf pool per NUMA socket sized for
  // descriptors, bursts, TX buffers and hold queues, starts it (promiscuous for net_af_packet),
  // and builds the route tables from config.routes plus each interface's connected subnet.
  // Errors: NotFound for a device DPDK does not know; InvalidArgument for a bad interface or
  // route (named with its file and line); FailedPrecondition when a device has fewer queues than
  // workers (net_af_packet: qpairs=N in its vdev args); ResourceExhausted for DPDK memory;
  // Internal for a DPDK call that fails. `engine` must outlive the workers' loops.
  static absl::StatusOr<std::unique_ptr<Dataplane>> Create(const control::GatewayConfig& config,
                                                           nat::Engine* engine,
                                                           const DataplaneOptions& options = {});

  // Control thread, after every RunWorker has returned. Stops and closes the ports, frees the
  // route tables, TX buffers, frames still buffered or held, and the mbuf pools (a pool with
  // mbufs still out, e.g. fragments held by an engine that is destroyed later, is left to
  // rte_eal_cleanup with a warning). Does not touch the engine.
  ~Dataplane();
  Dataplane(const Dataplane&) = delete;
  Dataplane& operator=(const Dataplane&) = delete;

  // Worker `w`'s loop, on its own thread, until Stop(). Makes the engine's worker w an RCU reader
  // (online) while it runs and offline when it returns; sleeps idle_sleep_us (offline) after a
  // poll that received nothing when the configuration asks for it. On return, buffered frames
  // are flushed and held ones dropped (counted as shutdown). No allocation, lock, syscall (but
  // the idle sleep) or logging.
  void RunWorker(uint32_t w);

  // Any thread: every RunWorker returns soon after.
  void Stop();
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }

  // Control thread (the main lcore): launches RunWorker(i) on the i-th EAL worker lcore for
  // every worker. FailedPrecondition if EAL has fewer worker lcores than the engine has workers.
  // Wait for them with rte_eal_mp_wait_lcore() after Stop().
  absl::Status LaunchWorkers();

  // Control thread: announces `addresses` (network order) with gratuitous ARP requests on every
  // outside port, through worker 0 (the frames go out at its next drain, or are freed by the
  // destructor if no worker runs). While worker 0 runs (or LaunchWorkers is starting it) and the
  // ring is full, waits for it to drain (up to about 200 ms in all). ResourceExhausted if the
  // mbuf pool is empty or the ring stays full; the frames queued before that are still sent.
  absl::Status SendGratuitousArp(const std::vector<uint32_t>& addresses);

  // Control thread, about once a second: takes a restarted memif server back. A memif client
  // port connects its socket only when it starts (DPDK 22.11), so one whose link has been down
  // for a second is restarted (rte_eth_dev_stop, rte_eth_dev_start: a new connection) while the
  // workers leave it alone (frames for it are dropped as link_restart), and again after 1, 2,
  // 4 .. 30 s while no server answers. Copying ports only: a zero-copy port's driver keeps the
  // mbufs of its ring across a restart, which would drain the pool; its link stays down until
  // natgw restarts. Returns what to log (link down, each restart, link up again).
  std::vector<std::string> ServiceLinks(int64_t now_ms);

  // Control thread; racy snapshots while workers run.
  std::vector<InterfaceStatus> Interfaces() const;
  std::vector<MbufPoolStatus> MbufPools() const;
  std::vector<NeighborEntry> Neighbors() const;
  std::vector<RouteEntry> Routes() const;

  // Control thread, also while workers run (they never pause): makes the cluster's routes
  // exactly `routes`, each on the inside interface of its island whose subnet holds its next
  // hop. A route whose next hop is on no such subnet, or whose destination a conf or connected
  // route has, is not installed (said in `refused`); `changes` lists each route added, changed
  // or deleted. Errors as RouteTable::SetClusterRoutes.
  absl::Status SetClusterRoutes(const std::vector<ClusterRoute>& routes,
                                std::vector<std::string>* changes,
                                std::vector<std::string>* refused);
  DataplaneCounters SumCounters() const;
  std::vector<WorkerLoad> WorkerLoads() const;  // index = worker
  uint64_t tsc_hz() const { return hz_; }

  // Any thread: the clock workers hand the engine (seconds of the TSC, plus the test offset).
  uint32_t NowSeconds() const { return static_cast<uint32_t>(Now() / hz_); }

  uint32_t num_workers() const { return static_cast<uint32_t>(workers_.size()); }
  uint32_t num_interfaces() const { return static_cast<uint32_t>(ports_.size()); }

  // Tests. One iteration of worker w's loop (receive, ARP, engine, forward, Maintain) followed
  // by a drain (hold queue, control ring, TX flush), on the calling thread; returns the frames
  // received. Must not run concurrently with RunWorker(w).
  uint32_t PollOnceForTest(uint32_t w);
  // Moves the dataplane's clock (neighbor ages, ARP intervals, hold timeouts, the engine's
  // now_s) forward.
  void AdvanceClockForTest(uint64_t ms);

 private:
  struct Port {
    // Worker fields first.
    uint16_t port_id = 0;
    uint16_t realm = 0;  // island id, or conntrack::kOutsideRealm
    bool outside = false;
    uint32_t address = 0;
    uint32_t max_frame_len = 0;  // untagged, without CRC
    rte_ether_addr mac{};
    rte_mempool* pool = nullptr;
    // Control fields.
    bool configured = false;
    bool started = false;
    int socket_id = 0;
    const control::InterfaceConfig* config = nullptr;  // into config_
    std::string driver;
    // A memif client, and its link watch (ServiceLinks).
    bool memif_client = false;
    int64_t link_down_since_ms = -1;  // -1: up (or never seen down)
    int64_t next_restart_ms = 0;
    uint32_t restart_backoff_s = 1;
    uint32_t restarts = 0;  // since the link went down
    bool stopped = false;   // stopped for a restart that has not started it again yet
    bool seen_up = false;
    bool said_zero_copy = false;
  };
  struct WorkerState;

  Dataplane(const control::GatewayConfig& config, nat::Engine* engine,
            const DataplaneOptions& options);
  absl::Status Init();
  absl::Status FindPorts();
  absl::Status BuildRoutes();
  absl::Status CreatePools();
  absl::Status StartPort(Port& port);
  absl::Status CreateWorkers();

  uint64_t Now() const {
    return rte_get_tsc_cycles() + clock_offset_tsc_.load(std::memory_order_relaxed);
  }

  // Worker side (worker_loop.cc).
  uint32_t Poll(WorkerState& ws, uint64_t now);
  void HandleArp(WorkerState& ws, uint16_t pi, rte_mbuf* m, uint64_t now);
  // A translated frame leaves in two steps (Poll runs the first for a whole burst, then the
  // second): FindNextHop strips a VLAN tag, finds the route and the next hop, drops (counted)
  // what has no route or does not fit the port, and starts fetching the next hop's
  // neighbor-cache line; SendToNextHop writes the MACs and sends, or holds the frame while the
  // next hop is resolved. natgw's own ICMP errors (`own_icmp_error`: time exceeded, and every
  // "fragmentation needed" HandleTooBig sends) that do not fit have their quote cut instead,
  // where the quoted header and 8 bytes of it fit.
  struct NextHop {
    static constexpr uint16_t kDropped = 0xffff;
    uint16_t port_index;  // kDropped: FindNextHop freed the frame
    uint32_t ip;          // network order
  };
  void FindNextHop(WorkerState& ws, rte_mbuf* m, uint16_t realm, bool own_icmp_error,
                   NextHop* hop);
  void SendToNextHop(WorkerState& ws, rte_mbuf* m, const NextHop& hop, uint64_t now);
  // Frames FindNextHop found too big for their port: split into IPv4 fragments where allowed
  // (Fragment), otherwise dropped (mtu_exceeded) and, with DF, answered with ICMP
  // "fragmentation needed" back to their sender (nat::Worker::FragmentationNeeded).
  void HandleTooBig(WorkerState& ws, uint64_t now);
  // Sends `m` (untagged IPv4, no DF) as fragments that fit hop's port, and frees it; false
  // (m untouched) when it cannot: malformed options or length, over kMaxFragments, no mbufs.
  bool Fragment(WorkerState& ws, rte_mbuf* m, const NextHop& hop, uint64_t now);
  static constexpr uint32_t kMaxFragments = 64;  // per frame (9,600 bytes over 576: 17)
  void Hold(WorkerState& ws, uint16_t pi, uint32_t next_hop, rte_mbuf* m, uint64_t now);
  void ReleaseHeld(WorkerState& ws, uint16_t pi, uint32_t next_hop, const rte_ether_addr& mac);
  void ServiceHold(WorkerState& ws, uint64_t now);
  void RequestIfDue(WorkerState& ws, uint16_t pi, uint32_t ip, uint32_t slot, uint64_t now);
  void DrainControlRing(WorkerState& ws);
  void Drain(WorkerState& ws, uint64_t now);
  void DiscardHeld(WorkerState& ws);
  void Tx(WorkerState& ws, uint16_t pi, rte_mbuf* m);

  control::GatewayConfig config_;
  nat::Engine* engine_;
  DataplaneOptions options_;
  uint32_t instance_;
  uint64_t hz_;
  uint64_t drain_tsc_;
  uint64_t hold_timeout_tsc_;
  std::atomic<uint64_t> clock_offset_tsc_{0};
  std::atomic<bool> stop_{false};
  // Worker 0 runs, or LaunchWorkers is starting it: SendGratuitousArp may wait for ring room.
  std::atomic<bool> worker0_running_{false};

  std::vector<Port> ports_;
  // A port being restarted (ServiceLinks): workers neither poll it nor send to it.
  std::array<std::atomic<bool>, kMaxInterfaces> port_paused_{};
  std::vector<std::pair<int, rte_mempool*>> pools_;  // by socket id
  std::unique_ptr<RouteTable> routes_;
  std::unique_ptr<NeighborTable> neighbors_;
  std::vector<std::unique_ptr<WorkerState>> workers_;
  rte_ring* control_ring_ = nullptr;  // gratuitous ARP frames for worker 0; mbuf->port = index
  struct LaunchArg {
    Dataplane* dp;
    uint32_t w;
  };
  std::vector<LaunchArg> launch_args_;
  static int LaunchTrampoline(void* arg);
};

}  // namespace natgw::dataplane

#endif  // NATGW_LIB_DATAPLANE_DATAPLANE_H_
