// Routes of the gateway: one DPDK LPM per side (the outside, and the inside of each island that
// has an interface), filled at start from the configured routes and the connected route of each
// interface address, plus routes of the cluster (a node's pod CIDR via the node) that the control
// thread adds and deletes while workers look up. The result of a lookup is the egress interface
// and the next hop.
//
// Concurrency: one writer (the control thread: Create, SetClusterRoutes, the destructor) and any
// number of lock-free readers (Lookup). Readers that run while routes change are registered
// reader ids 0..num_readers-1 and report quiescence (ReaderOnline/Quiescent/Offline, as they do
// for the engine): the table's own RCU variable, attached to each LPM (rte_lpm_rcu_qsbr_add, defer
// queue mode), holds a deleted route's tbl8 group and its next-hop slot until every online reader
// has passed a quiescent state, so a lookup never sees a half-freed entry. Next-hop slots are
// preallocated (static routes plus max_cluster_routes); nothing is allocated per change.
//
// Precedence: a cluster route never replaces a static one (configured or connected): one with
// the same destination on the same side is refused and said in the change list. Otherwise the
// longest prefix wins, whatever the origin (a node's /24 inside the interface's /16 is used).
#ifndef NATGW_LIB_DATAPLANE_ROUTE_TABLE_H_
#define NATGW_LIB_DATAPLANE_ROUTE_TABLE_H_

#include <rte_byteorder.h>
#include <rte_lpm.h>
#include <rte_rcu_qsbr.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/conntrack/flow_key.h"
#include "lib/conntrack/worker_sessions.h"
#include "lib/nat/nat_config.h"

namespace natgw::dataplane {

// What a lookup returns.
struct Route {
  uint16_t port_index;  // index into the dataplane's interfaces
  uint32_t via;         // next hop, network order; 0: the destination itself (on-link)
};

struct RouteSpec {
  uint16_t realm;  // the side: island id, or conntrack::kOutsideRealm
  nat::Cidr destination;
  Route route;
  bool connected = false;  // the subnet of an interface address
  std::string origin;      // for messages: "c1.toml:14: route 0.0.0.0/0", "node node-1"
  bool cluster = false;    // from the cluster (SetClusterRoutes), not the conf
};

class RouteTable {
 public:
  static constexpr uint32_t kDefaultMaxClusterRoutes = 4096;

  // Control thread. `instance` makes the DPDK object names unique in the process. Fails on a
  // duplicate destination within a side, or when DPDK cannot allocate an LPM (each one takes
  // 64 MiB of EAL memory for its 2^24-entry first level). `num_readers`: the reader ids that
  // may look up while routes change.
  static absl::StatusOr<std::unique_ptr<RouteTable>> Create(
      const std::vector<RouteSpec>& specs, uint32_t instance, int socket_id,
      uint32_t num_readers = 1, uint32_t max_cluster_routes = kDefaultMaxClusterRoutes);
  ~RouteTable();
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  // Any thread (a registered reader while routes may change). The route to `dst_be` (network
  // order) on the side `realm`, or nullptr. The route stays valid until the reader's next
  // Quiescent or Offline.
  const Route* Lookup(uint16_t realm, uint32_t dst_be) const {
    const SideTable& side = sides_[SideIndex(realm)];
    const rte_lpm* lpm = __atomic_load_n(&side.lpm, __ATOMIC_ACQUIRE);  // may appear while running
    uint32_t next_hop;
    if (lpm != nullptr && rte_lpm_lookup(lpm, rte_be_to_cpu_32(dst_be), &next_hop) == 0) {
      return &slots_[next_hop];
    }
    return side.default_route >= 0 ? &slots_[side.default_route] : nullptr;
  }

  // Reader `id`'s thread (worker only): around and between lookups, like the engine's RCU.
  void ReaderOnline(uint32_t id) { rte_rcu_qsbr_thread_online(qsbr_.get(), id); }
  void ReaderQuiescent(uint32_t id) { rte_rcu_qsbr_quiescent(qsbr_.get(), id); }
  void ReaderOffline(uint32_t id) { rte_rcu_qsbr_thread_offline(qsbr_.get(), id); }
  // Control thread: returns once every online reader has passed a quiescent state (the workers
  // report one per loop, after polling and draining every port).
  void WaitForReaders() { rte_rcu_qsbr_synchronize(qsbr_.get(), RTE_QSBR_THRID_INVALID); }

  // Control thread only. Makes the cluster routes exactly `routes` (each with cluster = true and
  // an origin naming its node): adds the new, deletes the gone, moves the changed, leaves the
  // rest alone, without pausing readers. `changes` gets one line per route added, changed or
  // deleted; `refused` one per route not installed (every call: it is the state, not a change):
  // a default route, a destination a static route of the same side has (the static one wins), a
  // second route to one destination, or more than max_cluster_routes. Internal when DPDK refuses
  // an add (the route is then missing, said in the message).
  absl::Status SetClusterRoutes(const std::vector<RouteSpec>& routes,
                                std::vector<std::string>* changes,
                                std::vector<std::string>* refused);

  // Control thread: the static routes, then the cluster's.
  std::vector<RouteSpec> Specs() const;
  size_t num_cluster_routes() const { return cluster_.size(); }

 private:
  // rte_lpm has no /0: a default route is kept beside each side's LPM.
  struct SideTable {
    rte_lpm* lpm = nullptr;
    int32_t default_route = -1;  // index into slots_
  };
  struct ClusterRoute {
    RouteSpec spec;
    uint32_t slot;
  };
  using Key = std::pair<uint32_t, uint64_t>;  // side index, (prefix << 8 | length)
  static constexpr uint32_t kOutsideIndex = nat::kMaxIslands;
  // The outside, or the island; an out-of-range realm maps to a spare slot that has no routes.
  static uint32_t SideIndex(uint16_t realm) {
    return realm == conntrack::kOutsideRealm
               ? kOutsideIndex
               : (realm < nat::kMaxIslands ? realm : kOutsideIndex + 1);
  }
  static Key KeyOf(const RouteSpec& s) {
    return {SideIndex(s.realm), (uint64_t{rte_be_to_cpu_32(s.destination.addr)} << 8) |
                                    s.destination.len};
  }

  RouteTable() = default;
  absl::Status CreateLpm(uint16_t realm, SideTable* side);
  // A free next-hop slot (reclaiming those retired before every reader's last quiescent state),
  // or -1.
  int64_t TakeSlot();
  void RetireSlot(uint32_t slot);

  uint32_t instance_ = 0;
  int socket_id_ = 0;
  uint32_t max_rules_ = 0;
  conntrack::QsbrPtr qsbr_;
  std::vector<RouteSpec> specs_;    // static: LPM next hop = index
  std::unique_ptr<Route[]> slots_;  // next hops: static, then cluster slots
  std::vector<uint32_t> free_slots_;
  std::vector<std::pair<uint32_t, uint64_t>> retired_slots_;  // slot, RCU token
  std::map<Key, ClusterRoute> cluster_;
  std::array<SideTable, nat::kMaxIslands + 2> sides_{};
};

}  // namespace natgw::dataplane

#endif  // NATGW_LIB_DATAPLANE_ROUTE_TABLE_H_
