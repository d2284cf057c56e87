// The translation engine: one Engine shared by all workers (session table, mapping table,
// port allocators, per-pod counters) and one Worker per poll-mode worker thread.
//
// A worker hands a burst of packets that arrived on one side (the inside of island N, or the
// outside) to Worker::ProcessBurst, which rewrites them in place and says, per packet, where it
// goes or why it was dropped (DESIGN.md sections 2 and 3).
#ifndef NATGW_LIB_NAT_ENGINE_H_
#define NATGW_LIB_NAT_ENGINE_H_

#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/conntrack/session_table.h"
#include "lib/conntrack/worker_sessions.h"
#include "lib/nat/counters.h"
#include "lib/nat/mapping_table.h"
#include "lib/nat/nat_config.h"
#include "lib/nat/pod_counters.h"
#include "lib/nat/port_allocator.h"
#include "lib/nat/session_events.h"

namespace natgw::nat {

// Frames per receive burst, per port, and per ProcessBurst call (SessionTable::LookupBulk takes
// at most 64 keys). 64 rather than 32: each poll's fixed costs (the memif rings' head and tail
// lines, which the peer's core wrote; quiescent states) spread over twice the frames when the
// rings are full. On the 2-vCPU VM natgw-1m won 12 of 18 alternating rounds against 32
// (medians +22%, -3%, +7% in three sets; README "Benchmarking").
inline constexpr uint16_t kMaxBurst = 64;

// Start-time sizing; not reloadable.
struct EngineConfig {
  uint32_t max_sessions = 1 << 20;
  uint32_t num_workers = 1;
  uint32_t max_pods = 1 << 16;         // pods tracked for max_sessions_per_pod
  uint32_t fragment_states = 1024;     // per worker: datagrams whose first fragment was seen
  uint32_t fragment_hold = 32;         // per worker: out-of-order fragments held (<= kMaxBurst)
  uint32_t fragment_timeout_s = 2;
  uint32_t sweep_budget = 64;          // sessions examined per Maintain() call
  // Session events per worker ring (a power of two) for the event log and IPFIX; 0: none, and
  // the workers neither count per-session traffic nor emit events.
  uint32_t event_ring_size = 0;
  // The session table on 2 MiB pages of the host's hugetlb pool when it has room
  // (conntrack::SessionTableConfig::hugetlb).
  bool hugetlb = false;
  size_t hugetlb_keep_free = 0;  // SessionTableConfig::hugetlb_keep_free
};

// Where a packet arrived: the inside of an island, or the outside.
struct Side {
  uint16_t realm;  // island id, or conntrack::kOutsideRealm
  static Side Inside(uint16_t island) { return Side{island}; }
  static Side Outside() { return Side{conntrack::kOutsideRealm}; }
  bool outside() const { return realm == conntrack::kOutsideRealm; }
};

enum class Action : uint8_t {
  kDrop,       // free the mbuf; `reason` says why
  kToInside,   // send on the inside of island `island`
  kToOutside,  // send on the outside
  kHeld,       // an out-of-order fragment the engine keeps until its first fragment arrives
};

struct PacketVerdict {
  rte_mbuf* mbuf;
  Action action;
  uint16_t island;    // for kToInside
  DropReason reason;  // for kDrop
  // natgw's own ICMP error (time exceeded): on a port too small for it, its quote is cut to
  // fit (RFC 1812 4.3.2.3: as much as fits), not fragmented.
  bool own_icmp_error = false;
};

// The output of one ProcessBurst call: verdicts[i] is the verdict of input packet i (kHeld if the
// engine kept it), followed by held fragments that this burst released.
struct BurstResult {
  uint16_t count = 0;
  PacketVerdict verdicts[2 * kMaxBurst];
};

class Worker;

class Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Create(const EngineConfig& config,
                                                        const NatConfig& nat);
  ~Engine();

  // Validates and publishes a new policy (RCU pointer swap, never blocking a worker). Sessions
  // whose mapping was removed or changed stop matching: the first worker that sees one of them,
  // or its owner's sweep, unlinks it. On error the running policy is untouched.
  // Control thread only.
  absl::Status Apply(const NatConfig& nat);

  // Called by every successful Apply with the table it replaced and the new one (both alive
  // during the call): the event log diffs them into mapping change records. Control thread.
  using ApplyObserver = std::function<void(const MappingTable& before, const MappingTable& after)>;
  void set_apply_observer(ApplyObserver observer) { apply_observer_ = std::move(observer); }

  // Worker i's session event ring, or null when EngineConfig::event_ring_size is 0.
  SessionEventRing* event_ring(uint32_t i);
  // Events dropped because a worker's ring was full, summed over the workers (control thread).
  uint64_t EventsDropped() const;

  // Frees mapping tables retired by Apply once every worker has passed a quiescent state.
  // Control thread; non-blocking.
  void ReclaimRetired();

  Worker& worker(uint32_t i) { return *workers_[i]; }
  uint32_t num_workers() const { return static_cast<uint32_t>(workers_.size()); }
  conntrack::SessionTable& table() { return *table_; }
  const conntrack::SessionTable& table() const { return *table_; }
  rte_rcu_qsbr* qsbr() { return qsbr_.get(); }
  const MappingTable* mappings() const { return current_.load(std::memory_order_acquire); }
  PortAllocatorRegistry& allocators() { return allocators_; }
  const PortAllocatorRegistry& allocators() const { return allocators_; }
  PodCounters& pod_counters() { return pod_counters_; }
  const EngineConfig& config() const { return config_; }

  // Sum of all workers' counters (racy snapshot; control thread).
  WorkerCounters SumCounters() const;
  // Live sessions by island, kind, protocol and TCP state, summed over the workers' counts
  // (racy snapshot, no table walk; control thread). Sessions a flush marked dead count until
  // their owner's next sweep unlinks them.
  std::unique_ptr<conntrack::SessionCounts> SumSessionCounts() const;

  // Calls fn(index, session) for every session that is indexed (live) at the moment it is
  // visited, bindings included (s.kind tells). A racy snapshot for `show` and `lookup`: sessions
  // are never unmapped while the engine lives, so a session freed meanwhile is only stale.
  // Control thread. Returns the number visited.
  uint64_t ForEachSession(
      const std::function<void(uint32_t index, const conntrack::Session& s)>& fn) const;

  // Unlinks every live session (bindings included); their owners reclaim them. Returns how many.
  // Control thread.
  uint64_t FlushAll();

  // Ends every session of worker `i` (delete events with reason "shutdown").
  // Control thread, only once that worker's thread has stopped (it is offline).
  void EndSessionsOfStoppedWorker(uint32_t i);

 private:
  friend class Worker;
  explicit Engine(const EngineConfig& config);

  EngineConfig config_;
  std::unique_ptr<conntrack::SessionTable> table_;
  conntrack::QsbrPtr qsbr_;
  PortAllocatorRegistry allocators_;
  PodCounters pod_counters_;
  std::atomic<const MappingTable*> current_{nullptr};
  uint16_t generation_ = 0;
  struct Retired {
    const MappingTable* table;
    uint64_t token;
  };
  std::vector<Retired> retired_;
  ApplyObserver apply_observer_;
  std::unique_ptr<SessionTraffic[]> traffic_;  // per session index, with event_ring_size only
  std::atomic<uint32_t> flush_epoch_{0};        // bumped by FlushAll
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace natgw::nat

#endif  // NATGW_LIB_NAT_ENGINE_H_
