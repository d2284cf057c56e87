// Routes of the gateway: one DPDK LPM per side (the outside, and the inside of each island that
// has an interface), filled at start from the configured routes and the connected route of each
// interface address. The result of a lookup is the egress interface and the next hop.
//
// Built once by the control thread and never changed while workers run, so lookups need no
// synchronisation (rte_lpm lookups only read).
#ifndef NATGW_LIB_DATAPLANE_ROUTE_TABLE_H_
#define NATGW_LIB_DATAPLANE_ROUTE_TABLE_H_

#include <rte_byteorder.h>
#include <rte_lpm.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/conntrack/flow_key.h"
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
  std::string origin;      // for error messages: "c1.toml:14: route 0.0.0.0/0"
};

class RouteTable {
 public:
  // Control thread. `instance` makes the DPDK object names unique in the process. Fails on a
  // duplicate destination within a side, or when DPDK cannot allocate an LPM (each one takes
  // 64 MiB of EAL memory for its 2^24-entry first level).
  static absl::StatusOr<std::unique_ptr<RouteTable>> Create(const std::vector<RouteSpec>& specs,
                                                            uint32_t instance, int socket_id);
  ~RouteTable();
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  // Any thread. The route to `dst_be` (network order) on the side `realm`, or nullptr.
  const Route* Lookup(uint16_t realm, uint32_t dst_be) const {
    const SideTable& side = sides_[SideIndex(realm)];
    uint32_t next_hop;
    if (side.lpm != nullptr && rte_lpm_lookup(side.lpm, rte_be_to_cpu_32(dst_be), &next_hop) == 0) {
      return &specs_[next_hop].route;
    }
    return side.default_route >= 0 ? &specs_[side.default_route].route : nullptr;
  }

  const std::vector<RouteSpec>& specs() const { return specs_; }

 private:
  // rte_lpm has no /0: a default route is kept beside each side's LPM.
  struct SideTable {
    rte_lpm* lpm = nullptr;
    int32_t default_route = -1;  // index into specs_
  };
  static constexpr uint32_t kOutsideIndex = nat::kMaxIslands;
  // The outside, or the island; an out-of-range realm maps to a spare slot that has no routes.
  static uint32_t SideIndex(uint16_t realm) {
    return realm == conntrack::kOutsideRealm
               ? kOutsideIndex
               : (realm < nat::kMaxIslands ? realm : kOutsideIndex + 1);
  }

  RouteTable() = default;

  std::vector<RouteSpec> specs_;  // LPM next hop = index
  std::array<SideTable, nat::kMaxIslands + 2> sides_{};
};

}  // namespace natgw::dataplane

#endif  // NATGW_LIB_DATAPLANE_ROUTE_TABLE_H_
