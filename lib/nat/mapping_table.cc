#include "lib/nat/mapping_table.h"

#include <algorithm>

#include <rte_byteorder.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/nat/port_allocator.h"

namespace natgw::nat {
namespace {

std::string Ip(uint32_t be) {
  uint32_t h = rte_be_to_cpu_32(be);
  return absl::StrFormat("%u.%u.%u.%u", h >> 24, (h >> 16) & 255, (h >> 8) & 255, h & 255);
}

uint32_t Mix(uint32_t a, uint32_t b) {
  uint64_t x = (uint64_t{a} << 32) | b;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return static_cast<uint32_t>(x);
}

const char* OwnedKindName(OwnedKind k) {
  switch (k) {
    case OwnedKind::kPodAddress: return "a pod's unique external address";
    case OwnedKind::kPoolAddress: return "an egress pool address";
    case OwnedKind::kVip: return "a service VIP";
    case OwnedKind::kGateway: return "the gateway's outside address";
  }
  return "?";
}

}  // namespace

bool Cidr::Contains(uint32_t ip_be) const {
  if (len == 0) return true;
  uint32_t mask = len >= 32 ? 0xffffffffu : ~((1u << (32 - len)) - 1);
  return (rte_be_to_cpu_32(ip_be) & mask) == (rte_be_to_cpu_32(addr) & mask);
}

absl::StatusOr<std::unique_ptr<const MappingTable>> MappingTable::Build(
    const NatConfig& config, uint16_t generation, PortAllocatorRegistry* registry,
    const MappingTable* previous) {
  std::unique_ptr<MappingTable> t(new MappingTable());
  t->generation_ = generation;
  t->config_ = config;

  // Every outside address is owned by exactly one thing. `what()` names the owner in errors
  // (built only then: a cluster event rebuilds thousands of mappings).
  auto own = [&](uint32_t ip, OwnedKind kind, const auto& what) -> absl::Status {
    if (ip == 0) return absl::InvalidArgumentError(absl::StrCat(what(), ": address 0.0.0.0"));
    auto [it, inserted] = t->owned_.try_emplace(ip, kind);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat(what(), ": address ", Ip(ip), " is already used as ",
                       OwnedKindName(it->second), "; external address sets must not overlap"));
    }
    return absl::OkStatus();
  };
  t->owned_.reserve(config.pod_mappings.size() + config.services.size() + 64);
  t->pod_to_external_.reserve(config.pod_mappings.size());
  t->external_to_pod_.reserve(config.pod_mappings.size());
  t->services_.reserve(config.services.size());

  for (const IslandConfig& is : config.islands) {
    if (is.id >= kMaxIslands) {
      return absl::InvalidArgumentError(absl::StrCat("island ", is.name, ": id ", is.id,
                                                     " is out of range 0..", kMaxIslands - 1));
    }
    if (t->islands_[is.id].present) {
      return absl::InvalidArgumentError(absl::StrCat("island id ", is.id, " is defined twice"));
    }
    if (is.pod_cidrs.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("island ", is.name, ": needs at least one pod CIDR"));
    }
    IslandEntry& e = t->islands_[is.id];
    e.present = true;
    e.pod_cidrs = is.pod_cidrs;
    e.gateway_ip = is.gateway_ip;
  }
  if (config.outside_gateway_ip != 0) {
    if (auto s =
            own(config.outside_gateway_ip, OwnedKind::kGateway, [] { return "outside gateway"; });
        !s.ok()) {
      return s;
    }
  }

  for (const PodMappingConfig& m : config.pod_mappings) {
    auto what = [&m] {
      return absl::StrCat("pod mapping ", m.name.empty() ? Ip(m.pod_ip) : m.name);
    };
    const IslandEntry* is = t->island(m.island);
    if (is == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(what(), ": unknown island ", m.island));
    }
    if (!t->IsPodSource(m.island, m.pod_ip)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what(), ": pod address ", Ip(m.pod_ip), " is outside the island's pod CIDRs"));
    }
    uint64_t key = (uint64_t{m.island} << 32) | m.pod_ip;
    if (!t->pod_to_external_.try_emplace(key, m.external_ip).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(what(), ": pod ", Ip(m.pod_ip), " already has a unique external address"));
    }
    if (auto s = own(m.external_ip, OwnedKind::kPodAddress, what); !s.ok()) return s;
    t->external_to_pod_[m.external_ip] = PodRef{m.island, m.pod_ip};
  }
  for (const PodDeparture& d : config.departures) {
    const uint64_t key = (uint64_t{d.island} << 32) | d.pod_ip;
    auto [it, inserted] = t->departures_.try_emplace(key, Departure{d.at_s, generation, false});
    if (!inserted) it->second.at_s = std::max(it->second.at_s, d.at_s);  // the last one counts
  }
  if (previous != nullptr) {
    // A departure the running table knew keeps the generation it came in with.
    for (auto& [key, dep] : t->departures_) {
      auto was = previous->departures_.find(key);
      if (was == previous->departures_.end() || was->second.at_s != dep.at_s) continue;
      dep = was->second;
      if (static_cast<uint16_t>(generation - dep.generation) >= kDepartureHorizon) dep.stale = true;
    }
  }
  for (const PodIdentity& p : config.pods) {
    t->pods_[(uint64_t{p.island} << 32) | p.pod_ip] = p;
  }
  for (const PodMappingConfig& m : config.pod_mappings) {
    if (!m.uid.empty()) continue;  // from the cluster: its identity is in the pod directory
    auto [it, inserted] = t->pods_.try_emplace((uint64_t{m.island} << 32) | m.pod_ip);
    if (!inserted) continue;  // the cluster source's identity is the fuller one
    PodIdentity& p = it->second;
    p.island = m.island;
    p.pod_ip = m.pod_ip;
    p.uid = m.uid;
    if (size_t slash = m.name.find('/'); slash != std::string::npos) {
      p.ns = m.name.substr(0, slash);
      p.name = m.name.substr(slash + 1);
    } else {
      p.name = m.name;
    }
  }

  for (const EgressPoolConfig& p : config.egress_pools) {
    auto what = [&p] { return absl::StrCat("egress pool of island ", p.island); };
    IslandEntry* is = p.island < kMaxIslands && t->islands_[p.island].present
                          ? &t->islands_[p.island]
                          : nullptr;
    if (is == nullptr) return absl::InvalidArgumentError(absl::StrCat(what(), ": unknown island"));
    if (is->pool >= 0) {
      return absl::InvalidArgumentError(absl::StrCat(what(), ": the island already has a pool"));
    }
    if (p.addresses.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(what(), ": needs at least one address"));
    }
    if (p.port_min < 1024 || p.port_min > p.port_max) {
      return absl::InvalidArgumentError(absl::StrCat(
          what(), ": port range ", p.port_min, "-", p.port_max,
          " is invalid; it must satisfy 1024 <= port_min <= port_max <= 65535"));
    }
    PoolEntry pe;
    pe.island = p.island;
    pe.addresses = p.addresses;
    pe.filtering = p.filtering;
    int pool_index = static_cast<int>(t->pools_.size());
    for (uint32_t i = 0; i < p.addresses.size(); ++i) {
      if (auto s = own(p.addresses[i], OwnedKind::kPoolAddress, what); !s.ok()) return s;
      int id = registry->GetOrCreate(p.addresses[i], p.port_min, p.port_max);
      if (id < 0) {
        return absl::ResourceExhaustedError(absl::StrCat(what(), ": more than ",
                                                         PortAllocatorRegistry::kMaxAllocators,
                                                         " pool addresses since start"));
      }
      pe.allocator_ids.push_back(static_cast<uint16_t>(id));
      t->pool_addresses_[p.addresses[i]] = {pool_index, i};
    }
    is->pool = pool_index;
    t->pools_.push_back(std::move(pe));
  }

  for (const ServiceConfig& s : config.services) {
    auto what = [&s] { return absl::StrCat("service ", s.name); };
    if (s.proto != 6 && s.proto != 17) {
      return absl::InvalidArgumentError(absl::StrCat(what(), ": protocol must be tcp or udp"));
    }
    if (s.port == 0) return absl::InvalidArgumentError(absl::StrCat(what(), ": port 0"));
    uint64_t key = ServiceKey(s.vip, s.proto, rte_cpu_to_be_16(s.port));
    OwnedKind existing;
    bool vip_known = t->Owned(s.vip, &existing);
    if (vip_known && existing != OwnedKind::kVip) {
      if (auto st = own(s.vip, OwnedKind::kVip, what); !st.ok()) return st;
    }
    if (!vip_known) t->owned_[s.vip] = OwnedKind::kVip;
    if (t->services_.contains(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what(), ": ", Ip(s.vip), ":", s.port, " is defined twice"));
    }
    ServiceEntry se;
    se.name = s.name;
    for (const BackendConfig& b : s.backends) {
      if (!t->IsPodSource(b.island, b.pod_ip)) {
        return absl::InvalidArgumentError(absl::StrCat(
            what(), ": backend ", Ip(b.pod_ip), " is not a pod address of island ", b.island));
      }
      if (b.port == 0) return absl::InvalidArgumentError(absl::StrCat(what(), ": backend port 0"));
      if (b.draining) {
        se.draining.push_back(b);
        continue;
      }
      se.backends.push_back(b);
    }
    const ServiceEntry* before = nullptr;
    if (previous != nullptr) {
      auto it = previous->services_.find(key);
      if (it != previous->services_.end()) before = &it->second;
    }
    auto same = [](const BackendConfig& a, const BackendConfig& b) {
      return a.island == b.island && a.pod_ip == b.pod_ip && a.port == b.port;
    };
    if (before != nullptr && before->maglev != nullptr &&
        std::equal(before->backends.begin(), before->backends.end(), se.backends.begin(),
                   se.backends.end(), same)) {
      se.maglev = before->maglev;
    } else {
      std::vector<std::string> names;
      names.reserve(se.backends.size());
      for (const BackendConfig& b : se.backends) {
        names.push_back(absl::StrCat(b.island, "/", Ip(b.pod_ip), ":", b.port));
      }
      se.maglev = std::make_shared<const Maglev>(names);
    }
    t->services_.emplace(key, std::move(se));
  }
  return std::unique_ptr<const MappingTable>(std::move(t));
}

bool MappingTable::IsPodSource(uint16_t island_id, uint32_t ip) const {
  const IslandEntry* is = island(island_id);
  if (is == nullptr) return false;
  for (const Cidr& c : is->pod_cidrs) {
    if (c.Contains(ip)) return true;
  }
  return false;
}

uint32_t MappingTable::ExternalForPod(uint16_t island_id, uint32_t pod_ip) const {
  auto it = pod_to_external_.find((uint64_t{island_id} << 32) | pod_ip);
  return it == pod_to_external_.end() ? 0 : it->second;
}

const MappingTable::PodRef* MappingTable::PodForExternal(uint32_t external_ip) const {
  auto it = external_to_pod_.find(external_ip);
  return it == external_to_pod_.end() ? nullptr : &it->second;
}

const PodIdentity* MappingTable::FindPod(uint16_t island_id, uint32_t pod_ip) const {
  if (config_.pod_directory != nullptr) {
    if (const PodIdentity* p = config_.pod_directory->Find(island_id, pod_ip)) return p;
  }
  auto it = pods_.find((uint64_t{island_id} << 32) | pod_ip);
  return it == pods_.end() ? nullptr : &it->second;
}

uint32_t MappingTable::PairedAddressIndex(const PoolEntry& p, uint16_t island_id,
                                          uint32_t pod_ip) const {
  return Mix(island_id, pod_ip) % static_cast<uint32_t>(p.addresses.size());
}

bool MappingTable::FindPoolAddress(uint32_t ip, int* pool_index, uint32_t* addr_index) const {
  auto it = pool_addresses_.find(ip);
  if (it == pool_addresses_.end()) return false;
  *pool_index = it->second.first;
  *addr_index = it->second.second;
  return true;
}

const ServiceEntry* MappingTable::FindService(uint32_t vip, uint8_t proto,
                                              uint16_t port_be) const {
  auto it = services_.find(ServiceKey(vip, proto, port_be));
  return it == services_.end() ? nullptr : &it->second;
}

bool MappingTable::Owned(uint32_t ip, OwnedKind* kind) const {
  auto it = owned_.find(ip);
  if (it == owned_.end()) return false;
  *kind = it->second;
  return true;
}

}  // namespace natgw::nat
