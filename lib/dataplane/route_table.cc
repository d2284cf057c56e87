#include "lib/dataplane/route_table.h"

#include <rte_errno.h>

#include "absl/strings/str_cat.h"

namespace natgw::dataplane {

RouteTable::~RouteTable() {
  for (SideTable& side : sides_) rte_lpm_free(side.lpm);
}

absl::StatusOr<std::unique_ptr<RouteTable>> RouteTable::Create(const std::vector<RouteSpec>& specs,
                                                               uint32_t instance, int socket_id) {
  std::unique_ptr<RouteTable> t(new RouteTable());
  t->specs_ = specs;
  for (uint32_t i = 0; i < specs.size(); ++i) {
    const RouteSpec& s = specs[i];
    if (s.realm != conntrack::kOutsideRealm && s.realm >= nat::kMaxIslands) {
      return absl::InvalidArgumentError(absl::StrCat(s.origin, ": bad island ", s.realm));
    }
    SideTable& side = t->sides_[SideIndex(s.realm)];
    if (s.destination.len == 0) {
      if (side.default_route >= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(s.origin, ": a second default route on the same side"));
      }
      side.default_route = static_cast<int32_t>(i);
      continue;
    }
    if (side.lpm == nullptr) {
      const std::string name = s.realm == conntrack::kOutsideRealm
                                   ? absl::StrCat("natgw_lpm", instance, "_out")
                                   : absl::StrCat("natgw_lpm", instance, "_in", s.realm);
      rte_lpm_config cfg{};
      cfg.max_rules = static_cast<uint32_t>(specs.size()) + 1;
      cfg.number_tbl8s = 256;
      side.lpm = rte_lpm_create(name.c_str(), socket_id, &cfg);
      if (side.lpm == nullptr) {
        return absl::ResourceExhaustedError(
            absl::StrCat("cannot create the route table ", name, ": ", rte_strerror(rte_errno),
                         " (an LPM takes 64 MiB of DPDK memory; raise the EAL memory)"));
      }
    }
    const uint32_t prefix = rte_be_to_cpu_32(s.destination.addr);
    uint32_t existing;
    if (rte_lpm_is_rule_present(side.lpm, prefix, s.destination.len, &existing) == 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          s.origin, ": the same destination as ", t->specs_[existing].origin, " on the same side"));
    }
    int rc = rte_lpm_add(side.lpm, prefix, s.destination.len, i);
    if (rc != 0) {
      return absl::ResourceExhaustedError(
          absl::StrCat(s.origin, ": cannot add the route: ", rte_strerror(-rc)));
    }
  }
  return t;
}

}  // namespace natgw::dataplane
