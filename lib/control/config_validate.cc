// Step 2 of the conf-file parser: RawConfig -> GatewayConfig. Resolves island and interface names
// and checks everything that involves more than one table: duplicates, references, addresses
// inside the ranges they belong to, and that no external address belongs to two things.
#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/control/config_internal.h"

namespace natgw::control::internal {
namespace {

const char* KindName(PoolKind k) {
  switch (k) {
    case PoolKind::kUnique:
      return "unique";
    case PoolKind::kEgress:
      return "egress";
    case PoolKind::kVip:
      return "vip";
  }
  return "?";
}

std::string RangesText(const std::vector<const RawPool*>& pools) {
  std::vector<std::string> out;
  for (const RawPool* p : pools) {
    for (const nat::Cidr& c : p->cfg.ranges) out.push_back(FormatCidr(c));
  }
  return absl::StrJoin(out, ", ");
}

bool InAnyPool(const std::vector<const RawPool*>& pools, uint32_t ip) {
  for (const RawPool* p : pools) {
    for (const nat::Cidr& c : p->cfg.ranges) {
      if (c.Contains(ip)) return true;
    }
  }
  return false;
}

class Validator {
 public:
  Validator(RawConfig raw, const Errors& errors) : raw_(std::move(raw)), errors_(errors) {}

  absl::StatusOr<GatewayConfig> Run() {
    NATGW_CONFIG_RETURN_IF_ERROR(Islands());
    NATGW_CONFIG_RETURN_IF_ERROR(Interfaces());
    NATGW_CONFIG_RETURN_IF_ERROR(Pools());
    NATGW_CONFIG_RETURN_IF_ERROR(OutsideAddresses());
    NATGW_CONFIG_RETURN_IF_ERROR(Mappings());
    NATGW_CONFIG_RETURN_IF_ERROR(Services());
    NATGW_CONFIG_RETURN_IF_ERROR(Routes());
    NATGW_CONFIG_RETURN_IF_ERROR(SubnetEdges());
    NATGW_CONFIG_RETURN_IF_ERROR(Clusters());
    Build();
    return std::move(raw_.base);
  }

 private:
  // An external address owned by one thing (an outside interface, a mapping, a VIP).
  struct Owner {
    std::string what;
    int line;
    bool vip;
  };

  absl::Status Islands() {
    for (RawIsland& is : raw_.islands) {
      auto [it, fresh] = islands_.try_emplace(is.cfg.name, &is);
      if (!fresh) {
        return errors_.At(is.at("name"), "island",
                          absl::StrCat("island name \"", is.cfg.name, "\" is already used at line ",
                                       it->second->at.table),
                          "give each island its own name");
      }
      auto [id_it, id_fresh] = ids_.try_emplace(is.cfg.id, &is);
      if (!id_fresh) {
        return errors_.At(
            is.at("id"), "island",
            absl::StrCat("island id ", is.cfg.id, " is already used by island ",
                         id_it->second->cfg.name, " (line ", id_it->second->at.table, ")"),
            "give each island its own id 0..255");
      }
    }
    return absl::OkStatus();
  }

  // Resolves an island name written at `line` of `section`.
  absl::Status Island(absl::string_view name, int line, absl::string_view section,
                      RawIsland** out) {
    auto it = islands_.find(name);
    if (it == islands_.end()) {
      std::vector<std::string> names;
      for (const RawIsland& is : raw_.islands) names.push_back(is.cfg.name);
      return errors_.At(line, section, absl::StrCat("island \"", name, "\" is not defined"),
                        names.empty()
                            ? std::string("define it in an [[island]] section")
                            : absl::StrCat("define it in an [[island]] section or use one of: ",
                                           absl::StrJoin(names, ", ")));
    }
    *out = it->second;
    return absl::OkStatus();
  }

  absl::Status Interfaces() {
    absl::flat_hash_map<std::string, const RawInterface*> devices;
    absl::flat_hash_map<uint16_t, const RawInterface*> inside_of;
    for (RawInterface& ifc : raw_.interfaces) {
      auto [it, fresh] = interfaces_.try_emplace(ifc.cfg.name, &ifc);
      if (!fresh) {
        return errors_.At(ifc.at("name"), "interface",
                          absl::StrCat("interface name \"", ifc.cfg.name,
                                       "\" is already used at line ", it->second->at.table),
                          "give each interface its own name");
      }
      auto [dit, dfresh] = devices.try_emplace(ifc.cfg.device, &ifc);
      if (!dfresh) {
        return errors_.At(
            ifc.at("device"), "interface",
            absl::StrCat("device \"", ifc.cfg.device,
                         "\" is already used by "
                         "interface ",
                         dit->second->cfg.name, " (line ", dit->second->at.table, ")"),
            "give each interface its own device (vdevs: net_tap0, net_tap1, ...)");
      }
      if (ifc.cfg.ZeroCopyMemif() && raw_.base.dpdk.no_huge) {
        return errors_.At(ifc.at("args"), "interface",
                          absl::StrCat("interface ", ifc.cfg.name,
                                       ": a zero-copy memif port shares natgw's hugepages, and "
                                       "[dpdk] no_huge = true leaves it none"),
                          "reserve hugepages and remove no_huge, or remove zero-copy=yes");
      }
      if (ifc.cfg.role == InterfaceRole::kInside) {
        RawIsland* is;
        NATGW_CONFIG_RETURN_IF_ERROR(Island(ifc.island, ifc.at("island"), "interface", &is));
        ifc.cfg.island = is->cfg.id;
        auto [iit, ifresh] = inside_of.try_emplace(is->cfg.id, &ifc);
        if (!ifresh) {
          return errors_.At(
              ifc.at("island"), "interface",
              absl::StrCat("island ", ifc.island, " already has inside interface ",
                           iit->second->cfg.name, " (line ", iit->second->at.table, ")"),
              "use one inside interface per island");
        }
        is->cfg.gateway_ip = ifc.cfg.address;
      } else if (raw_.base.nat.outside_gateway_ip == 0) {
        raw_.base.nat.outside_gateway_ip = ifc.cfg.address;
      }
    }
    int line = raw_.interfaces.empty() ? 1 : raw_.interfaces.front().at.table;
    for (InterfaceRole role : {InterfaceRole::kInside, InterfaceRole::kOutside}) {
      bool found = std::any_of(raw_.interfaces.begin(), raw_.interfaces.end(),
                               [&](const RawInterface& i) { return i.cfg.role == role; });
      if (!found) {
        const char* r = role == InterfaceRole::kInside ? "inside" : "outside";
        return errors_.At(line, "interface", absl::StrCat("there is no ", r, " interface"),
                          absl::StrCat("add an [[interface]] with role = \"", r, "\""));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Pools() {
    absl::flat_hash_map<std::string, const RawPool*> names;
    absl::flat_hash_map<uint16_t, const RawPool*> egress_of;
    for (size_t i = 0; i < raw_.pools.size(); ++i) {
      RawPool& p = raw_.pools[i];
      auto [it, fresh] = names.try_emplace(p.cfg.name, &p);
      if (!fresh) {
        return errors_.At(p.at("name"), "pool",
                          absl::StrCat("pool name \"", p.cfg.name, "\" is already used at line ",
                                       it->second->at.table),
                          "give each pool its own name");
      }
      if (p.cfg.kind != PoolKind::kVip) {
        RawIsland* is;
        NATGW_CONFIG_RETURN_IF_ERROR(Island(p.island, p.at("island"), "pool", &is));
        p.cfg.island = is->cfg.id;
      }
      if (p.cfg.kind == PoolKind::kEgress) {
        auto [eit, efresh] = egress_of.try_emplace(p.cfg.island, &p);
        if (!efresh) {
          return errors_.At(
              p.at.table, "pool",
              absl::StrCat("island ", p.island, " already has egress pool ", eit->second->cfg.name,
                           " (line ", eit->second->at.table, ")"),
              "put all of the island's egress addresses in one [[pool]]");
        }
      }
      // No two ranges, of this pool or an earlier one, may overlap.
      for (size_t r = 0; r < p.cfg.ranges.size(); ++r) {
        for (size_t j = 0; j <= i; ++j) {
          const RawPool& q = raw_.pools[j];
          size_t end = j == i ? r : q.cfg.ranges.size();
          for (size_t s = 0; s < end; ++s) {
            if (!CidrsOverlap(p.cfg.ranges[r], q.cfg.ranges[s])) continue;
            return errors_.At(
                p.range_lines[r], "pool",
                absl::StrCat(FormatCidr(p.cfg.ranges[r]), " overlaps ", FormatCidr(q.cfg.ranges[s]),
                             " of ", KindName(q.cfg.kind), " pool ", q.cfg.name, " (line ",
                             q.range_lines[s], ")"),
                "external address sets must not overlap: shrink or move one of the ranges");
          }
        }
      }
      if (p.cfg.kind == PoolKind::kUnique) {
        unique_pools_[p.cfg.island].push_back(&p);
      } else if (p.cfg.kind == PoolKind::kEgress) {
        egress_pools_.push_back(&p);
      } else {
        vip_pools_.push_back(&p);
      }
    }
    return absl::OkStatus();
  }

  absl::Status Mappings() {
    absl::flat_hash_map<uint64_t, const RawMapping*> pods;
    absl::flat_hash_map<std::string, const RawMapping*> names;
    for (RawMapping& m : raw_.mappings) {
      RawIsland* is;
      NATGW_CONFIG_RETURN_IF_ERROR(Island(m.island, m.at("island"), "mapping", &is));
      m.cfg.island = is->cfg.id;
      NATGW_CONFIG_RETURN_IF_ERROR(PodInIsland(m.cfg.pod_ip, *is, m.at("pod"), "mapping"));
      uint64_t key = (uint64_t{m.cfg.island} << 32) | m.cfg.pod_ip;
      auto [it, fresh] = pods.try_emplace(key, &m);
      if (!fresh) {
        return errors_.At(m.at("pod"), "mapping",
                          absl::StrCat("pod ", FormatIp(m.cfg.pod_ip), " of island ", m.island,
                                       " is already mapped at line ", it->second->at.table),
                          "keep one [[mapping]] per pod");
      }
      if (!m.cfg.name.empty()) {
        auto [nit, nfresh] = names.try_emplace(absl::StrCat(m.island, "\n", m.cfg.name), &m);
        if (!nfresh) {
          return errors_.At(m.at("name"), "mapping",
                            absl::StrCat("name \"", m.cfg.name, "\" of island ", m.island,
                                         " is already used at line ", nit->second->at.table),
                            "give each mapping of an island its own name");
        }
      }
      auto& uniques = unique_pools_[m.cfg.island];
      if (!uniques.empty() && !InAnyPool(uniques, m.cfg.external_ip)) {
        return errors_.At(m.at("external"), "mapping",
                          absl::StrCat("external address ", FormatIp(m.cfg.external_ip),
                                       " is outside every unique pool of island ", m.island),
                          absl::StrCat("add it to a [[pool]] of kind \"unique\" or pick one from ",
                                       RangesText(uniques)));
      }
      NATGW_CONFIG_RETURN_IF_ERROR(
          Own(m.cfg.external_ip,
              {absl::StrCat("the external address of pod ", FormatIp(m.cfg.pod_ip), " of island ",
                            m.island),
               m.at("external"), false},
              "mapping", [&](const RawPool& p) {
                return p.cfg.kind == PoolKind::kUnique && p.cfg.island == m.cfg.island;
              }));
    }
    return absl::OkStatus();
  }

  absl::Status PodInIsland(uint32_t pod, const RawIsland& is, int line, absl::string_view section) {
    for (const nat::Cidr& c : is.cfg.pod_cidrs) {
      if (c.Contains(pod)) return absl::OkStatus();
    }
    std::vector<std::string> cidrs;
    for (const nat::Cidr& c : is.cfg.pod_cidrs) cidrs.push_back(FormatCidr(c));
    return errors_.At(line, section,
                      absl::StrCat("pod ", FormatIp(pod), " is outside the pod_cidrs of island ",
                                   is.cfg.name, " (", absl::StrJoin(cidrs, ", "), ")"),
                      absl::StrCat("use a pod address of the island or add its range to "
                                   "pod_cidrs (line ",
                                   is.at("pod_cidrs"), ")"));
  }

  absl::Status Services() {
    absl::flat_hash_map<uint64_t, const RawService*> keys;
    for (RawService& s : raw_.services) {
      uint64_t key = (uint64_t{s.cfg.vip} << 24) | (uint64_t{s.cfg.proto} << 16) | s.cfg.port;
      auto [it, fresh] = keys.try_emplace(key, &s);
      if (!fresh) {
        return errors_.At(
            s.at("port"), "service",
            absl::StrCat(FormatIp(s.cfg.vip), ":", s.cfg.port, "/",
                         s.cfg.proto == 17 ? "udp" : "tcp", " is already used by service ",
                         it->second->cfg.name, " (line ", it->second->at.table, ")"),
            "give each service its own VIP, protocol and port");
      }
      if (!vip_pools_.empty() && !InAnyPool(vip_pools_, s.cfg.vip)) {
        return errors_.At(s.at("vip"), "service",
                          absl::StrCat("VIP ", FormatIp(s.cfg.vip), " is outside every vip pool"),
                          absl::StrCat("add it to a [[pool]] of kind \"vip\" or pick one from ",
                                       RangesText(vip_pools_)));
      }
      NATGW_CONFIG_RETURN_IF_ERROR(
          Own(s.cfg.vip, {absl::StrCat("the VIP of service ", s.cfg.name), s.at("vip"), true},
              "service", [](const RawPool& p) { return p.cfg.kind == PoolKind::kVip; }));
      absl::flat_hash_map<uint64_t, int> seen;
      for (RawBackend& b : s.backends) {
        RawIsland* is;
        NATGW_CONFIG_RETURN_IF_ERROR(Island(b.island, b.at("island"), "service backend", &is));
        b.cfg.island = is->cfg.id;
        NATGW_CONFIG_RETURN_IF_ERROR(
            PodInIsland(b.cfg.pod_ip, *is, b.at("pod"), "service backend"));
        uint64_t bkey =
            (uint64_t{b.cfg.island} << 48) | (uint64_t{b.cfg.pod_ip} << 16) | b.cfg.port;
        auto [bit, bfresh] = seen.try_emplace(bkey, b.at.table);
        if (!bfresh) {
          return errors_.At(b.at.table, "service backend",
                            absl::StrCat("backend ", b.island, "/", FormatIp(b.cfg.pod_ip), ":",
                                         b.cfg.port, " is listed twice (line ", bit->second, ")"),
                            "list each backend once");
        }
        s.cfg.backends.push_back(b.cfg);
      }
    }
    return absl::OkStatus();
  }

  absl::Status Routes() {
    absl::flat_hash_map<uint64_t, const RawRoute*> dests;
    for (RawRoute& r : raw_.routes) {
      auto it = interfaces_.find(r.cfg.interface);
      if (it == interfaces_.end()) {
        std::vector<std::string> names;
        for (const RawInterface& i : raw_.interfaces) names.push_back(i.cfg.name);
        return errors_.At(r.at("interface"), "route",
                          absl::StrCat("interface \"", r.cfg.interface, "\" is not defined"),
                          absl::StrCat("use one of: ", absl::StrJoin(names, ", ")));
      }
      const InterfaceConfig& ifc = it->second->cfg;
      uint64_t key = (uint64_t{r.cfg.destination.addr} << 8) | r.cfg.destination.len;
      auto [dit, fresh] = dests.try_emplace(key, &r);
      if (!fresh) {
        return errors_.At(r.at("destination"), "route",
                          absl::StrCat("destination ", FormatCidr(r.cfg.destination),
                                       " is already routed at line ", dit->second->at.table),
                          "keep one [[route]] per destination");
      }
      if (r.cfg.via != 0) {
        nat::Cidr subnet = MaskedCidr(ifc.address, ifc.prefix_len);
        if (!subnet.Contains(r.cfg.via) || r.cfg.via == ifc.address) {
          return errors_.At(
              r.at("via"), "route",
              absl::StrCat("next hop ", FormatIp(r.cfg.via),
                           r.cfg.via == ifc.address ? " is the address of interface "
                                                    : " is not on the subnet of interface ",
                           ifc.name, " (", FormatIp(ifc.address), "/", int{ifc.prefix_len}, ")"),
              "use a neighbour on that subnet as the next hop, or leave via out for an "
              "on-link destination");
        }
      }
    }
    return absl::OkStatus();
  }

  // The outside interfaces' own addresses belong to no pool, mapping or VIP.
  absl::Status OutsideAddresses() {
    for (const RawInterface& ifc : raw_.interfaces) {
      if (ifc.cfg.role != InterfaceRole::kOutside) continue;
      NATGW_CONFIG_RETURN_IF_ERROR(
          Own(ifc.cfg.address,
              {absl::StrCat("the address of outside interface ", ifc.cfg.name), ifc.at("address"),
               false},
              "interface", [](const RawPool&) { return false; }));
    }
    return absl::OkStatus();
  }

  // Network and broadcast addresses of the outside subnets cannot be handed out.
  // A pool named in [[cluster]] `key`: it must exist and be of `kind` (and of the cluster's island
  // for unique pools). Without the key, the only such pool is taken, if there is exactly one.
  absl::Status ClusterPool(RawCluster& c, absl::string_view key, PoolKind kind, std::string* name) {
    std::vector<const RawPool*> candidates;
    for (const RawPool& p : raw_.pools) {
      if (p.cfg.kind == kind && (kind == PoolKind::kVip || p.cfg.island == c.cfg.island)) {
        candidates.push_back(&p);
      }
    }
    std::vector<std::string> names;
    for (const RawPool* p : candidates) names.push_back(p->cfg.name);
    if (name->empty()) {
      if (candidates.size() == 1) *name = candidates[0]->cfg.name;
      return absl::OkStatus();
    }
    for (const RawPool* p : candidates) {
      if (p->cfg.name == *name) return absl::OkStatus();
    }
    return errors_.At(
        c.at(key), "cluster",
        absl::StrCat(key, " \"", *name, "\" is not a ", KindName(kind), " pool",
                     kind == PoolKind::kVip ? "" : absl::StrCat(" of island ", c.island)),
        names.empty() ? absl::StrCat("define a [[pool]] of kind \"", KindName(kind), "\"")
                      : absl::StrCat("use one of: ", absl::StrJoin(names, ", ")));
  }

  absl::Status Clusters() {
    absl::flat_hash_map<uint16_t, const RawCluster*> of_island;
    for (RawCluster& c : raw_.clusters) {
      RawIsland* is;
      NATGW_CONFIG_RETURN_IF_ERROR(Island(c.island, c.at("island"), "cluster", &is));
      c.cfg.island = is->cfg.id;
      auto [it, fresh] = of_island.try_emplace(c.cfg.island, &c);
      if (!fresh) {
        return errors_.At(c.at("island"), "cluster",
                          absl::StrCat("island ", c.island, " already has a [[cluster]] (line ",
                                       it->second->at.table, ")"),
                          "give each island one [[cluster]] section; it may name several sources");
      }
      NATGW_CONFIG_RETURN_IF_ERROR(
          ClusterPool(c, "unique_pool", PoolKind::kUnique, &c.cfg.unique_pool));
      NATGW_CONFIG_RETURN_IF_ERROR(ClusterPool(c, "vip_pool", PoolKind::kVip, &c.cfg.vip_pool));
      if (!c.cfg.unique_pods.empty() && c.cfg.unique_pool.empty()) {
        return errors_.At(
            c.at("unique_pods"), "cluster",
            absl::StrCat("unique_pods selects pods of island ", c.island,
                         ", which has no unique pool to give them addresses from"),
            "add a [[pool]] of kind \"unique\" for the island, or name it with unique_pool");
      }
      if (!c.cfg.vip_services.empty() && c.cfg.vip_pool.empty()) {
        return errors_.At(
            c.at("vip_services"), "cluster",
            "vip_services selects services, but there is no vip pool to give them VIPs from",
            "add a [[pool]] of kind \"vip\", or name it with vip_pool");
      }
    }
    return absl::OkStatus();
  }

  absl::Status SubnetEdges() {
    for (const RawInterface& ifc : raw_.interfaces) {
      if (ifc.cfg.role != InterfaceRole::kOutside || ifc.cfg.prefix_len > 30) continue;
      nat::Cidr subnet = MaskedCidr(ifc.cfg.address, ifc.cfg.prefix_len);
      for (uint32_t host : {FirstHost(subnet), LastHost(subnet)}) {
        uint32_t ip = htonl(host);
        auto it = owners_.find(ip);
        int line = 0;
        std::string what;
        if (it != owners_.end()) {
          line = it->second.line;
          what = it->second.what;
        }
        for (const RawPool* p : egress_pools_) {
          for (size_t r = 0; r < p->cfg.ranges.size() && line == 0; ++r) {
            if (p->cfg.ranges[r].Contains(ip)) {
              line = p->range_lines[r];
              what = absl::StrCat("an address of egress pool ", p->cfg.name);
            }
          }
        }
        if (line != 0) {
          return errors_.At(line, "external addresses",
                            absl::StrCat(FormatIp(ip), " (", what, ") is the ",
                                         host == FirstHost(subnet) ? "network" : "broadcast",
                                         " address of outside subnet ", FormatCidr(subnet)),
                            "use host addresses of that subnet");
        }
      }
    }
    return absl::OkStatus();
  }

  // Claims `ip` for `owner`. It may lie only in pools for which `allowed` is true, and no other
  // owner may hold it (several services may share a VIP).
  template <typename Allowed>
  absl::Status Own(uint32_t ip, Owner owner, absl::string_view section, Allowed allowed) {
    for (const RawPool& p : raw_.pools) {
      if (allowed(p)) continue;
      for (size_t r = 0; r < p.cfg.ranges.size(); ++r) {
        if (!p.cfg.ranges[r].Contains(ip)) continue;
        return errors_.At(
            owner.line, section,
            absl::StrCat(FormatIp(ip), " (", owner.what, ") lies in ", KindName(p.cfg.kind),
                         " pool ", p.cfg.name,
                         p.cfg.kind == PoolKind::kVip ? "" : absl::StrCat(" of island ", p.island),
                         " (line ", p.range_lines[r], ")"),
            "external address sets must not overlap: pick another address or "
            "move the pool");
      }
    }
    auto [it, fresh] = owners_.try_emplace(ip, owner);
    if (!fresh && !(it->second.vip && owner.vip)) {
      return errors_.At(owner.line, section,
                        absl::StrCat(FormatIp(ip), " (", owner.what, ") is already ",
                                     it->second.what, " (line ", it->second.line, ")"),
                        "external address sets must not overlap: pick another address");
    }
    return absl::OkStatus();
  }

  void Build() {
    GatewayConfig& g = raw_.base;
    nat::NatConfig& nat = g.nat;
    uint16_t max_id = 0;
    for (const RawIsland& is : raw_.islands) {
      nat.islands.push_back(is.cfg);
      max_id = std::max(max_id, is.cfg.id);
    }
    if (!raw_.islands.empty()) g.island_names.resize(max_id + 1);
    for (const RawIsland& is : raw_.islands) g.island_names[is.cfg.id] = is.cfg.name;
    for (RawInterface& i : raw_.interfaces) g.interfaces.push_back(std::move(i.cfg));
    for (const RawMapping& m : raw_.mappings) nat.pod_mappings.push_back(m.cfg);
    for (RawService& s : raw_.services) nat.services.push_back(std::move(s.cfg));
    for (RawRoute& r : raw_.routes) g.routes.push_back(std::move(r.cfg));
    for (RawCluster& c : raw_.clusters) g.clusters.push_back(std::move(c.cfg));
    for (const RawPool& p : raw_.pools) {
      g.pools.push_back(p.cfg);
      if (p.cfg.kind != PoolKind::kEgress) continue;
      nat::EgressPoolConfig e;
      e.island = p.cfg.island;
      e.port_min = p.cfg.port_min;
      e.port_max = p.cfg.port_max;
      e.filtering = p.cfg.filtering;
      for (const nat::Cidr& c : p.cfg.ranges) {
        for (uint64_t h = FirstHost(c); h <= LastHost(c); ++h) {
          e.addresses.push_back(htonl(static_cast<uint32_t>(h)));
        }
      }
      nat.egress_pools.push_back(std::move(e));
    }
  }

  RawConfig raw_;
  const Errors& errors_;
  absl::flat_hash_map<std::string, RawIsland*> islands_;
  absl::flat_hash_map<uint16_t, RawIsland*> ids_;
  absl::flat_hash_map<std::string, const RawInterface*> interfaces_;
  absl::flat_hash_map<uint16_t, std::vector<const RawPool*>> unique_pools_;
  std::vector<const RawPool*> egress_pools_;
  std::vector<const RawPool*> vip_pools_;
  absl::flat_hash_map<uint32_t, Owner> owners_;
};

}  // namespace

absl::StatusOr<GatewayConfig> Validate(RawConfig raw, const Errors& errors) {
  return Validator(std::move(raw), errors).Run();
}

}  // namespace natgw::control::internal
