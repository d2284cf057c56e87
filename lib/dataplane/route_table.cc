#include "lib/dataplane/route_table.h"

#include <rte_errno.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "lib/net/builder.h"

namespace natgw::dataplane {
namespace {

std::string Describe(const RouteSpec& s) {
  return absl::StrCat(net::FormatIp(s.destination.addr), "/", s.destination.len, " via ",
                      s.route.via == 0 ? "on-link" : net::FormatIp(s.route.via), " (",
                      s.origin, ")");
}

}  // namespace

RouteTable::~RouteTable() {
  // Before the RCU variable goes (rte_lpm_free empties the defer queue against it).
  for (SideTable& side : sides_) rte_lpm_free(side.lpm);
}

absl::Status RouteTable::CreateLpm(uint16_t realm, SideTable* side) {
  const std::string name = realm == conntrack::kOutsideRealm
                               ? absl::StrCat("natgw_lpm", instance_, "_out")
                               : absl::StrCat("natgw_lpm", instance_, "_in", realm);
  rte_lpm_config cfg{};
  cfg.max_rules = max_rules_;
  cfg.number_tbl8s = 1024;
  rte_lpm* lpm = rte_lpm_create(name.c_str(), socket_id_, &cfg);
  if (lpm == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot create the route table ", name, ": ", rte_strerror(rte_errno),
                     " (an LPM takes 64 MiB of DPDK memory; raise the EAL memory)"));
  }
  // Deleted tbl8 groups wait in a defer queue until readers have moved on (never blocks).
  rte_lpm_rcu_config rcu{};
  rcu.v = qsbr_.get();
  rcu.mode = RTE_LPM_QSBR_MODE_DQ;
  if (rte_lpm_rcu_qsbr_add(lpm, &rcu) != 0) {
    const std::string why = rte_strerror(rte_errno);
    rte_lpm_free(lpm);
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot attach RCU to the route table ", name, ": ", why));
  }
  __atomic_store_n(&side->lpm, lpm, __ATOMIC_RELEASE);  // readers may be looking at this side
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RouteTable>> RouteTable::Create(const std::vector<RouteSpec>& specs,
                                                               uint32_t instance, int socket_id,
                                                               uint32_t num_readers,
                                                               uint32_t max_cluster_routes) {
  std::unique_ptr<RouteTable> t(new RouteTable());
  t->instance_ = instance;
  t->socket_id_ = socket_id;
  t->max_rules_ = static_cast<uint32_t>(specs.size()) + max_cluster_routes + 1;
  t->qsbr_ = conntrack::MakeQsbr(std::max(num_readers, 1u));
  if (t->qsbr_ == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate the routes' RCU state");
  }
  for (uint32_t r = 0; r < std::max(num_readers, 1u); ++r) {
    rte_rcu_qsbr_thread_register(t->qsbr_.get(), r);
  }
  t->specs_ = specs;
  t->slots_ = std::make_unique<Route[]>(specs.size() + max_cluster_routes);
  for (uint32_t i = 0; i < max_cluster_routes; ++i) {
    t->free_slots_.push_back(static_cast<uint32_t>(specs.size()) + max_cluster_routes - 1 - i);
  }
  for (uint32_t i = 0; i < specs.size(); ++i) {
    const RouteSpec& s = specs[i];
    t->slots_[i] = s.route;
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
      if (absl::Status st = t->CreateLpm(s.realm, &side); !st.ok()) return st;
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

int64_t RouteTable::TakeSlot() {
  if (free_slots_.empty()) {
    // Reclaim what every reader has moved past (tokens are in order: stop at the first not yet).
    size_t n = 0;
    while (n < retired_slots_.size() &&
           rte_rcu_qsbr_check(qsbr_.get(), retired_slots_[n].second, false) == 1) {
      free_slots_.push_back(retired_slots_[n].first);
      ++n;
    }
    retired_slots_.erase(retired_slots_.begin(), retired_slots_.begin() + static_cast<long>(n));
    if (free_slots_.empty()) return -1;
  }
  const uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  return slot;
}

void RouteTable::RetireSlot(uint32_t slot) {
  retired_slots_.emplace_back(slot, rte_rcu_qsbr_start(qsbr_.get()));
}

absl::Status RouteTable::SetClusterRoutes(const std::vector<RouteSpec>& routes,
                                          std::vector<std::string>* changes,
                                          std::vector<std::string>* refused) {
  // What is wanted, refusing what may not be installed.
  std::map<Key, const RouteSpec*> wanted;
  for (const RouteSpec& s : routes) {
    if (s.realm != conntrack::kOutsideRealm && s.realm >= nat::kMaxIslands) continue;
    if (s.destination.len == 0) {
      refused->push_back(absl::StrCat("route ", Describe(s),
                                      " not installed: a cluster route cannot be a default route"));
      continue;
    }
    const Key key = KeyOf(s);
    bool is_static = false;
    for (const RouteSpec& st : specs_) {
      is_static = is_static || (st.destination.len != 0 && KeyOf(st) == key);
    }
    if (is_static) {
      refused->push_back(
          absl::StrCat("route ", Describe(s),
                       " not installed: the conf has a route to the same destination, which wins"));
      continue;
    }
    auto [it, fresh] = wanted.emplace(key, &s);
    if (!fresh) {
      refused->push_back(absl::StrCat("route ", Describe(s), " not installed: ",
                                      it->second->origin, " has the same destination"));
    }
  }
  absl::Status result = absl::OkStatus();
  // Deletions first, so that their slots can serve additions once readers have moved on.
  for (auto it = cluster_.begin(); it != cluster_.end();) {
    auto w = wanted.find(it->first);
    if (w != wanted.end() && w->second->route.port_index == it->second.spec.route.port_index &&
        w->second->route.via == it->second.spec.route.via) {
      it->second.spec.origin = w->second->origin;
      wanted.erase(w);  // unchanged
      ++it;
      continue;
    }
    if (w != wanted.end()) {  // moved: a new slot, then one atomic next-hop update
      const int64_t slot = TakeSlot();
      if (slot < 0) {
        result = absl::ResourceExhaustedError("no free next-hop slot for a changed cluster route");
        ++it;
        continue;
      }
      slots_[slot] = w->second->route;
      SideTable& side = sides_[it->first.first];
      const int rc = rte_lpm_add(side.lpm, rte_be_to_cpu_32(w->second->destination.addr),
                                 w->second->destination.len, static_cast<uint32_t>(slot));
      if (rc != 0) {
        free_slots_.push_back(static_cast<uint32_t>(slot));
        result = absl::InternalError(
            absl::StrCat("route ", Describe(*w->second), ": ", rte_strerror(-rc)));
        ++it;
        continue;
      }
      changes->push_back(absl::StrCat("route ", Describe(*w->second), " replaces ",
                                      Describe(it->second.spec)));
      RetireSlot(it->second.slot);
      it->second = ClusterRoute{*w->second, static_cast<uint32_t>(slot)};
      wanted.erase(w);
      ++it;
      continue;
    }
    SideTable& side = sides_[it->first.first];
    rte_lpm_delete(side.lpm, rte_be_to_cpu_32(it->second.spec.destination.addr),
                   it->second.spec.destination.len);
    changes->push_back(absl::StrCat("route ", Describe(it->second.spec), " deleted"));
    RetireSlot(it->second.slot);
    it = cluster_.erase(it);
  }
  for (const auto& [key, spec] : wanted) {
    SideTable& side = sides_[key.first];
    if (side.lpm == nullptr) {
      if (absl::Status st = CreateLpm(spec->realm, &side); !st.ok()) return st;
    }
    const int64_t slot = TakeSlot();
    if (slot < 0) {
      refused->push_back(absl::StrCat("route ", Describe(*spec),
                                      " not installed: the table holds no more cluster routes "
                                      "(or deleted ones still wait for the workers)"));
      result = absl::ResourceExhaustedError("too many cluster routes");
      continue;
    }
    slots_[slot] = spec->route;  // written before the LPM can point at it
    const int rc = rte_lpm_add(side.lpm, rte_be_to_cpu_32(spec->destination.addr),
                               spec->destination.len, static_cast<uint32_t>(slot));
    if (rc != 0) {
      free_slots_.push_back(static_cast<uint32_t>(slot));
      result =
          absl::InternalError(absl::StrCat("route ", Describe(*spec), ": ", rte_strerror(-rc)));
      continue;
    }
    changes->push_back(absl::StrCat("route ", Describe(*spec), " added"));
    cluster_.emplace(key, ClusterRoute{*spec, static_cast<uint32_t>(slot)});
  }
  return result;
}

std::vector<RouteSpec> RouteTable::Specs() const {
  std::vector<RouteSpec> out = specs_;
  for (const auto& [key, c] : cluster_) out.push_back(c.spec);
  return out;
}

}  // namespace natgw::dataplane
