#include "lib/control/cluster_sync.h"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace natgw::control {
namespace {

using kube::Kind;

std::string Ip(uint32_t ip_be) {
  char buf[INET_ADDRSTRLEN];
  in_addr a{ip_be};
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return buf;
}

size_t K(Kind k) { return static_cast<size_t>(k); }

bool Selected(const std::vector<ClusterSelector>& selectors, const kube::Meta& m) {
  for (const ClusterSelector& s : selectors) {
    if (!s.ns.empty() && s.ns != m.ns) continue;
    bool all = true;
    for (const auto& [k, v] : s.labels) {
      auto it = m.labels.find(k);
      if (it == m.labels.end() || it->second != v) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

// What an annotation (external-address or vip) asks for: no = false; want = 0 for "auto".
struct Wish {
  bool wants = false;
  uint32_t want = 0;
  std::string error;
};

Wish ReadWish(const kube::Meta& m, const char* annotation, bool selected) {
  Wish w;
  auto it = m.annotations.find(annotation);
  if (it == m.annotations.end()) {
    w.wants = selected;
    return w;
  }
  const std::string& v = it->second;
  if (v == "none" || v == "false") return w;
  w.wants = true;
  if (v == "auto" || v.empty() || v == "true") return w;
  if (auto ip = kube::ParseIpv4(v)) {
    w.want = *ip;
  } else {
    w.error = absl::StrCat("annotation ", annotation, " = \"", v,
                           "\" is neither \"auto\", \"none\" nor an IPv4 address");
  }
  return w;
}

std::string Label(const kube::Meta& m) { return absl::StrCat(m.ns, "/", m.name); }
std::string Uid(const kube::Meta& m) { return m.uid.empty() ? Label(m) : m.uid; }

}  // namespace

void ApplyLatency::Observe(double seconds) {
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++counts[i];
      break;
    }
  }
  ++count;
  sum_s += seconds;
  last_s = seconds;
}

namespace {

std::vector<AddressAllocator::Pool> AllocatorPools(const GatewayConfig& config) {
  std::vector<AddressAllocator::Pool> pools;
  for (const PoolConfig& p : config.pools) {
    if (p.kind == PoolKind::kEgress) continue;
    AddressAllocator::Pool ap{p.name, {}};
    for (const nat::Cidr& c : p.ranges) {
      const uint32_t mask = c.len == 0 ? 0 : ~uint32_t{0} << (32 - c.len);
      uint64_t first = ntohl(c.addr) & mask;
      uint64_t last = first | ~mask;
      if (c.len <= 30) {  // a range's network and broadcast addresses are not handed out
        ++first;
        --last;
      }
      for (uint64_t h = first; h <= last; ++h) {
        ap.addresses.push_back(htonl(static_cast<uint32_t>(h)));
      }
    }
    pools.push_back(std::move(ap));
  }
  return pools;
}

}  // namespace

ClusterSync::ClusterSync(const GatewayConfig& config, Clock clock)
    : clock_(std::move(clock)),
      clusters_(config.clusters),
      island_names_(config.island_names),
      state_file_(config.allocation.state_file),
      allocator_(AllocatorPools(config), config.allocation.quarantine_s) {
  ReserveStatic(config.nat);  // static addresses inside pools are never handed out
}

void ClusterSync::ReserveStatic(const nat::NatConfig& base) {
  absl::flat_hash_set<uint32_t> addresses;
  for (const auto& m : base.pod_mappings) addresses.insert(m.external_ip);
  for (const auto& s : base.services) addresses.insert(s.vip);
  allocator_.SetReserved(addresses, clock_.wall_now());
}

std::string ClusterSync::IslandName(uint16_t id) const {
  return id < island_names_.size() && !island_names_[id].empty() ? island_names_[id]
                                                                 : absl::StrCat(id);
}

std::string ClusterSync::LoadState() { return allocator_.Load(state_file_, clock_.wall_now()); }

absl::Status ClusterSync::SaveState() { return allocator_.Save(state_file_); }

void ClusterSync::AddSource(uint16_t island, const std::string& name) {
  Source s;
  s.name = name;
  s.island = island;
  sources_.push_back(std::move(s));
}

void ClusterSync::Handle(SourceUpdate u) {
  auto it = std::find_if(sources_.begin(), sources_.end(),
                         [&](const Source& s) { return s.name == u.source; });
  if (it == sources_.end()) {
    LOG(WARNING) << "cluster: update from unknown source " << u.source << " ignored";
    return;
  }
  Source& s = *it;
  ++s.updates;
  // A failure report is no news from the cluster: while disconnected the age keeps growing.
  if (u.connected || u.type != SourceUpdate::Type::kStatus) {
    s.last_event = u.arrived;
    s.any_event = true;
  }
  const bool was_connected = s.connected;
  s.connected = u.connected;
  if (was_connected && !u.connected) ++s.disconnects;
  if (!was_connected && u.connected && s.disconnects > 0) ++s.reconnects;
  if (u.connected != was_connected || u.message != s.message) {
    if (!u.connected) {
      LOG(WARNING) << "cluster source " << s.name << " disconnected"
                   << (u.message.empty() ? "" : ": " + u.message)
                   << "; translating with the last known state";
    } else if (!was_connected) {
      LOG(INFO) << "cluster source " << s.name << " connected";
    }
  }
  s.message = u.message;
  if (u.kind == Kind::kPod && !u.resource_version.empty()) s.pod_rv = u.resource_version;
  const size_t si = static_cast<size_t>(it - sources_.begin());
  Pending& pending = pending_[s.island];
  auto& objects = s.objects[K(u.kind)];
  switch (u.type) {
    case SourceUpdate::Type::kReplace:
      for (const auto& [key, st] : objects) Note(si, u.kind, key, st.object, false);
      objects.clear();
      for (kube::Object& o : u.objects) {
        std::string key = kube::KeyOf(o);
        Note(si, u.kind, key, o, true);
        objects[key] = Stored{std::move(o), ++seq_};
      }
      s.listed[K(u.kind)] = true;
      // A (re-)list may also end what the previous state left (allocations of pods never seen
      // again): every object of the kind is looked at again.
      if (u.kind == Kind::kPod) pending.all_pods = true;
      if (u.kind == Kind::kService || u.kind == Kind::kEndpointSlice) pending.all_services = true;
      dirty_ = true;
      break;
    case SourceUpdate::Type::kUpsert:
      for (kube::Object& o : u.objects) {
        std::string key = kube::KeyOf(o);
        auto old = objects.find(key);
        if (old != objects.end()) Note(si, u.kind, key, old->second.object, false);
        Note(si, u.kind, key, o, true);
        objects[key] = Stored{std::move(o), ++seq_};
      }
      dirty_ = true;
      break;
    case SourceUpdate::Type::kDelete:
      for (const kube::Object& o : u.objects) {
        auto old = objects.find(kube::KeyOf(o));
        if (old == objects.end()) continue;
        Note(si, u.kind, old->first, old->second.object, false);
        objects.erase(old);
      }
      dirty_ = true;
      break;
    case SourceUpdate::Type::kStatus:
      break;
  }
}

void ClusterSync::Note(size_t source, Kind kind, const std::string& key, const kube::Object& o,
                       bool add) {
  const uint16_t island = sources_[source].island;
  Pending& pending = pending_[island];
  const auto update = [&](std::vector<Ref>& refs) {
    if (add) {
      refs.emplace_back(source, key);
    } else {
      refs.erase(std::remove(refs.begin(), refs.end(), Ref{source, key}), refs.end());
    }
  };
  if (kind == Kind::kPod) {
    const kube::Pod& p = std::get<kube::Pod>(o);
    if (p.ips.empty()) return;
    pending.pod_ips.insert(p.ips[0]);
    const uint64_t hk = (uint64_t{island} << 32) | p.ips[0];
    if (add) {
      update(pods_by_ip_[hk]);
    } else if (auto r = pods_by_ip_.find(hk); r != pods_by_ip_.end()) {
      update(r->second);
      if (r->second.empty()) pods_by_ip_.erase(r);
    }
  } else if (kind == Kind::kService) {
    pending.services.insert(key);
  } else if (kind == Kind::kEndpointSlice) {
    const kube::EndpointSlice& es = std::get<kube::EndpointSlice>(o);
    if (es.service_name.empty()) return;
    std::pair<uint16_t, std::string> sk{island, absl::StrCat(es.meta.ns, "/", es.service_name)};
    pending.services.insert(sk.second);
    if (add) {
      update(slices_by_service_[sk]);
    } else if (auto r = slices_by_service_.find(sk); r != slices_by_service_.end()) {
      update(r->second);
      if (r->second.empty()) slices_by_service_.erase(r);
    }
  }
}

bool ClusterSync::Listed(uint16_t island, Kind kind) const {
  bool any = false;
  for (const Source& s : sources_) {
    if (s.island != island) continue;
    if (!s.listed[K(kind)]) return false;
    any = true;
  }
  return any;
}

bool ClusterSync::InIsland(const nat::NatConfig& base, uint16_t island, uint32_t ip) const {
  for (const nat::IslandConfig& is : base.islands) {
    if (is.id != island) continue;
    for (const nat::Cidr& c : is.pod_cidrs) {
      if (c.Contains(ip)) return true;
    }
  }
  return false;
}

void ClusterSync::Refuse(const std::string& key, const std::string& why,
                         std::vector<std::string>* changes) {
  auto [it, fresh] = refused_.try_emplace(key, why);
  if (fresh || it->second != why) {
    it->second = why;
    changes->push_back(absl::StrCat(key, ": ", why));
    ++counters_.refused_objects;
  }
}

nat::NatConfig ClusterSync::Build(const nat::NatConfig& base, std::vector<std::string>* changes) {
  nat::NatConfig out = base;
  node_routes_.clear();
  out.pod_directory = &directory_;
  for (const ClusterConfig& c : clusters_) BuildIsland(c, base, &out, changes);
  force_ = false;
  // Departures live long enough for every old session to be revalidated against them.
  const int64_t now = clock_.wall_now();
  departures_.erase(std::remove_if(departures_.begin(), departures_.end(),
                                   [&](const Departure& d) { return d.until <= now; }),
                    departures_.end());
  for (const Departure& d : departures_) out.departures.push_back(d.d);
  dirty_ = false;
  return out;
}

void ClusterSync::BuildIsland(const ClusterConfig& c, const nat::NatConfig& base,
                              nat::NatConfig* out, std::vector<std::string>* changes) {
  const uint16_t island = c.island;
  Pending& pending = pending_[island];
  BuildPods(c, base, pending, out, changes);
  BuildServices(c, base, pending, out, changes);
  pending.all_pods = pending.all_services = false;
  pending.pod_ips.clear();
  pending.services.clear();

  // ---- Nodes: pod CIDR via the node.
  if (c.node_routes) {
    for (const Source& s : sources_) {
      if (s.island != island) continue;
      for (const auto& [key, st] : s.objects[K(Kind::kNode)]) {
        const auto& n = std::get<kube::Node>(st.object);
        if (n.internal_ip == 0) continue;
        for (const nat::Cidr& cidr : n.pod_cidrs) {
          if (!InIsland(base, island, cidr.addr)) continue;
          node_routes_.push_back({island, cidr, n.internal_ip, n.meta.name});
        }
      }
    }
  }
}

void ClusterSync::Depart(uint16_t island, uint32_t ip, const Holder& h,
                         std::vector<std::string>* changes) {
  uint32_t at_s = std::max<uint32_t>(1, clock_.engine_now());
  // A departure is told from the address's one before by its second: a second one within the
  // same second (the next holder gone as fast) takes the second after.
  for (const Departure& d : departures_) {
    if (d.d.island == island && d.d.pod_ip == ip) at_s = std::max(at_s, d.d.at_s + 1);
  }
  const int64_t keep = std::max<int64_t>(allocator_.quarantine_s(), 120);
  departures_.push_back({{island, ip, at_s}, clock_.wall_now() + keep});
  changes->push_back(absl::StrCat(
      IslandName(island), " pod address ", Ip(ip), " left by uid ", h.uid,
      h.external != 0 ? absl::StrCat(", which loses unique address ", Ip(h.external)) : "",
      "; its sessions are flushed"));
}

// Pods: one holder per address, the newest report wins. Only the addresses whose reports changed
// (and holders still waiting for an address) are evaluated again: a pod event costs one pod.
void ClusterSync::BuildPods(const ClusterConfig& c, const nat::NatConfig& base, Pending& pending,
                            nat::NatConfig* out, std::vector<std::string>* changes) {
  const uint16_t island = c.island;
  const std::string iname = IslandName(island);
  const int64_t wall = clock_.wall_now();
  const bool all = pending.all_pods || force_;
  const auto mine = [island](uint64_t hk) { return (hk >> 32) == island; };

  absl::flat_hash_set<uint32_t> todo;
  if (all) {
    for (const auto& [hk, refs] : pods_by_ip_) {
      if (mine(hk)) todo.insert(static_cast<uint32_t>(hk));
    }
    for (const auto& [hk, h] : holders_) {
      if (mine(hk)) todo.insert(static_cast<uint32_t>(hk));
    }
  } else {
    todo.swap(pending.pod_ips);
    for (uint64_t hk : failed_holders_) {
      if (mine(hk)) todo.insert(static_cast<uint32_t>(hk));
    }
  }
  absl::flat_hash_set<uint64_t> static_pods;
  for (const nat::PodMappingConfig& m : base.pod_mappings) {
    if (m.uid.empty()) static_pods.insert((uint64_t{m.island} << 32) | m.pod_ip);
  }

  const std::string pod_prefix = absl::StrCat(iname, "/pod/");
  const std::string failure_prefix = absl::StrCat(iname, " pod ");
  std::vector<std::string> released;     // owners whose holder left or changed
  absl::flat_hash_set<std::string> held;  // owners of the holders evaluated now
  for (const uint32_t ip : todo) {
    const uint64_t hk = (uint64_t{island} << 32) | ip;
    const kube::Pod* pod = nullptr;
    uint64_t seq = 0;
    if (auto r = pods_by_ip_.find(hk); r != pods_by_ip_.end()) {
      for (const auto& [si, key] : r->second) {
        const auto& objects = sources_[si].objects[K(Kind::kPod)];
        auto st = objects.find(key);
        if (st == objects.end()) continue;
        const kube::Pod& p = std::get<kube::Pod>(st->second.object);
        if (p.host_network || p.phase == "Succeeded" || p.phase == "Failed") continue;
        if (!InIsland(base, island, ip)) {
          Refuse(absl::StrCat(iname, " pod ", key),
                 absl::StrCat("address ", Ip(ip), " is outside island ", iname,
                              "'s pod CIDRs; ignored"),
                 changes);
          continue;
        }
        if (pod == nullptr || st->second.seq > seq) {
          pod = &p;
          seq = st->second.seq;
        }
      }
    }
    auto prev = holders_.find(hk);
    if (pod == nullptr) {  // nobody holds the address any more
      if (prev == holders_.end()) continue;
      directory_.Erase(island, ip);
      Depart(island, ip, prev->second, changes);
      if (!prev->second.owner.empty()) released.push_back(prev->second.owner);
      if (prev->second.failed) failures_.erase(failure_prefix + prev->second.label);
      failed_holders_.erase(hk);
      holders_.erase(prev);
      continue;
    }
    if (prev != holders_.end() && prev->second.seq == seq && !prev->second.failed && !force_) {
      if (!prev->second.owner.empty()) held.insert(prev->second.owner);
      continue;  // the same report as last time
    }
    const kube::Pod& p = *pod;
    Holder h;
    h.seq = seq;
    h.uid = Uid(p.meta);
    h.label = Label(p.meta);
    directory_.Set({island, ip, p.meta.ns, p.meta.name, p.meta.uid});
    const std::string key = failure_prefix + h.label;
    Wish w = ReadWish(p.meta, kAnnotationExternalAddress, Selected(c.unique_pods, p.meta));
    if (!w.error.empty()) {
      Refuse(key, w.error, changes);
    } else if (w.wants && static_pods.contains(hk)) {
      Refuse(key,
             absl::StrCat("address ", Ip(ip),
                          " has a static [[mapping]] in the conf file, which wins"),
             changes);
    } else if (w.wants && c.unique_pool.empty()) {
      Refuse(key, absl::StrCat("wants a unique address but island ", iname, " has no unique pool"),
             changes);
    } else if (w.wants) {
      h.owner = pod_prefix + h.uid;
      auto ext = allocator_.Acquire(c.unique_pool, h.owner, h.label, w.want, wall);
      if (ext.ok()) {
        h.external = *ext;
        if (failures_.erase(key) > 0) {
          changes->push_back(absl::StrCat(key, " got an address after all"));
        }
      } else {
        h.failed = true;
        std::string why = absl::StrCat(ext.status().message(),
                                       "; it reaches the outside through the egress pool");
        auto [it, fresh] = failures_.try_emplace(key, why);
        if (fresh || it->second != why) {
          it->second = why;
          ++counters_.allocation_failures;
          changes->push_back(absl::StrCat(key, " gets no unique address: ", why));
        }
      }
    }
    const bool same = prev != holders_.end() && prev->second.uid == h.uid;
    if (h.external != 0 && (!same || prev->second.external != h.external)) {
      changes->push_back(absl::StrCat(key, " (uid ", h.uid, ") at ", Ip(ip), " got unique address ",
                                      Ip(h.external)));
    } else if (same && prev->second.external != 0 && h.external == 0) {
      changes->push_back(absl::StrCat(key, " (uid ", h.uid, ") at ", Ip(ip),
                                      " lost unique address ", Ip(prev->second.external)));
    }
    if (prev != holders_.end()) {
      const Holder& old = prev->second;
      if (!same) Depart(island, ip, old, changes);  // another pod took the address
      if (!old.owner.empty() && old.owner != h.owner) released.push_back(old.owner);
      if (old.failed && (!h.failed || old.label != h.label)) {
        failures_.erase(failure_prefix + old.label);
      }
    }
    if (!h.owner.empty()) held.insert(h.owner);
    if (h.failed) {
      failed_holders_.insert(hk);
    } else {
      failed_holders_.erase(hk);
    }
    holders_.insert_or_assign(hk, std::move(h));
  }

  // Owners that no longer want an address give it back (quarantined): only once every source
  // has listed the pods, so that a restart does not release what it has not seen yet.
  if (Listed(island, Kind::kPod)) {
    if (all) {  // also what the state file remembered of pods that are gone
      absl::flat_hash_set<std::string> failing;
      for (const auto& [hk, h] : holders_) {
        if (!mine(hk)) continue;
        if (!h.owner.empty()) held.insert(h.owner);
        if (h.failed) failing.insert(failure_prefix + h.label);
      }
      for (const std::string& owner : allocator_.OwnersWithPrefix(pod_prefix)) {
        if (!held.contains(owner)) allocator_.Release(owner, wall);
      }
      for (auto it = failures_.begin(); it != failures_.end();) {
        const bool gone = it->first.rfind(failure_prefix, 0) == 0 && !failing.contains(it->first);
        it = gone ? failures_.erase(it) : std::next(it);
      }
    } else {
      for (const std::string& owner : released) {
        if (!held.contains(owner)) allocator_.Release(owner, wall);
      }
    }
  }
  for (const auto& [hk, h] : holders_) {
    if (mine(hk) && h.external != 0) {
      out->pod_mappings.push_back({island, static_cast<uint32_t>(hk), h.external, h.label, h.uid});
    }
  }
}

// Services and their endpoint slices: only those whose service or slices changed are evaluated
// again; the others are published as they were.
void ClusterSync::BuildServices(const ClusterConfig& c, const nat::NatConfig& base,
                                Pending& pending, nat::NatConfig* out,
                                std::vector<std::string>* changes) {
  const uint16_t island = c.island;
  const std::string iname = IslandName(island);
  const int64_t wall = clock_.wall_now();
  const bool all = pending.all_services || force_;
  const std::string svc_prefix = absl::StrCat(iname, "/service/");
  const bool listed = Listed(island, Kind::kService);

  std::set<std::string> todo;
  if (all) {
    for (const Source& s : sources_) {
      if (s.island != island) continue;
      for (const auto& [key, st] : s.objects[K(Kind::kService)]) todo.insert(key);
    }
    for (auto it = service_owner_.lower_bound({island, ""});
         it != service_owner_.end() && it->first.first == island; ++it) {
      todo.insert(it->first.second);
    }
  } else {
    todo.insert(pending.services.begin(), pending.services.end());
    for (auto it = failed_services_.lower_bound({island, ""});
         it != failed_services_.end() && it->first == island; ++it) {
      todo.insert(it->second);  // still waiting for a VIP
    }
  }

  absl::flat_hash_set<std::string> wanted;
  for (const std::string& key : todo) {
    const std::pair<uint16_t, std::string> sk{island, key};
    const kube::Service* svc = nullptr;  // the first source that has it
    for (const Source& s : sources_) {
      if (s.island != island) continue;
      auto it = s.objects[K(Kind::kService)].find(key);
      if (it != s.objects[K(Kind::kService)].end()) {
        svc = &std::get<kube::Service>(it->second.object);
        break;
      }
    }
    auto prev_owner = service_owner_.find(sk);
    std::string owner;
    std::optional<ServiceState> state;
    const std::string label = absl::StrCat(iname, " service ", key);
    if (svc != nullptr && svc->type != "ExternalName") {
      Wish w = ReadWish(svc->meta, kAnnotationVip, Selected(c.vip_services, svc->meta));
      if (!w.error.empty()) {
        Refuse(label, w.error, changes);
      } else if (w.wants && c.vip_pool.empty()) {
        Refuse(label, "wants a VIP but there is no vip pool", changes);
      } else if (w.wants) {
        owner = svc_prefix + Uid(svc->meta);
        wanted.insert(owner);
        auto vip = allocator_.Acquire(c.vip_pool, owner, key, w.want, wall);
        if (vip.ok()) {
          failed_services_.erase(sk);
          failures_.erase(label);
          state = ServiceState{*vip, 0, 0, {}};
        } else {
          failed_services_.insert(sk);
          std::string why = std::string(vip.status().message());
          auto [it, fresh] = failures_.try_emplace(label, why);
          if (fresh || it->second != why) {
            it->second = why;
            ++counters_.allocation_failures;
            changes->push_back(absl::StrCat(label, " gets no VIP: ", why));
          }
        }
      }
    }
    if (owner.empty()) {  // wants no VIP (any more)
      failures_.erase(label);
      failed_services_.erase(sk);
    }
    if (state) {
      std::vector<const kube::EndpointSlice*> slices;
      if (auto r = slices_by_service_.find(sk); r != slices_by_service_.end()) {
        for (const auto& [si, skey] : r->second) {
          const auto& objects = sources_[si].objects[K(Kind::kEndpointSlice)];
          auto st = objects.find(skey);
          if (st == objects.end()) continue;
          const auto& es = std::get<kube::EndpointSlice>(st->second.object);
          if (es.address_type != "IPv4" && !es.address_type.empty()) continue;
          slices.push_back(&es);
        }
      }
      for (const kube::ServicePort& sp : svc->ports) {
        if (sp.proto != 6 && sp.proto != 17) continue;
        nat::ServiceConfig sc;
        sc.name = svc->ports.size() > 1 && !sp.name.empty() ? absl::StrCat(key, ":", sp.name) : key;
        sc.vip = state->vip;
        sc.proto = sp.proto;
        sc.port = sp.port;
        absl::flat_hash_set<uint64_t> seen;
        for (const kube::EndpointSlice* es : slices) {
          for (const kube::EndpointPort& ep : es->ports) {
            if (ep.name != sp.name || ep.proto != sp.proto || ep.port == 0) continue;
            for (const kube::Endpoint& e : es->endpoints) {
              const bool draining = !e.ready;
              if (draining && !e.serving && !e.terminating) continue;
              for (uint32_t a : e.addresses) {
                if (!InIsland(base, island, a)) continue;
                if (!seen.insert((uint64_t{a} << 16) | ep.port).second) continue;
                sc.backends.push_back({island, a, ep.port, draining});
                if (draining) {
                  ++state->draining;
                } else {
                  ++state->ready;
                }
              }
            }
          }
        }
        state->configs.push_back(std::move(sc));
      }
    }

    // Tell what changed, and keep what is published now.
    auto prev =
        prev_owner != service_owner_.end() ? services_.find(prev_owner->second) : services_.end();
    if (state) {
      if (prev == services_.end() || prev->first != owner) {
        changes->push_back(absl::StrCat(label, " got VIP ", Ip(state->vip), " (", state->ready,
                                        " ready, ", state->draining,
                                        " draining backends, all ports)"));
      } else if (prev->second.ready != state->ready || prev->second.draining != state->draining) {
        changes->push_back(absl::StrCat(label, " backends: ", prev->second.ready, " -> ",
                                        state->ready, " ready, ", prev->second.draining, " -> ",
                                        state->draining, " draining"));
      }
    } else if (prev != services_.end()) {
      changes->push_back(absl::StrCat(label, " lost VIP ", Ip(prev->second.vip)));
    }
    if (prev_owner != service_owner_.end()) {
      const std::string old_owner = prev_owner->second;
      if (old_owner != owner) {
        services_.erase(old_owner);
        if (listed && !all) allocator_.Release(old_owner, wall);  // `all` releases below
      }
      service_owner_.erase(prev_owner);
    }
    if (state) {
      services_.insert_or_assign(owner, std::move(*state));
      service_owner_.emplace(sk, owner);
    }
  }
  if (all && listed) {  // also what the state file remembered of services that are gone
    for (const std::string& owner : allocator_.OwnersWithPrefix(svc_prefix)) {
      if (!wanted.contains(owner)) allocator_.Release(owner, wall);
    }
  }
  for (auto it = service_owner_.lower_bound({island, ""});
       it != service_owner_.end() && it->first.first == island; ++it) {
    const ServiceState& st = services_.at(it->second);
    out->services.insert(out->services.end(), st.configs.begin(), st.configs.end());
  }
}

void ClusterSync::Applied(bool ok, std::chrono::steady_clock::time_point first_arrival) {
  if (!ok) {
    ++counters_.apply_failures;
    return;
  }
  ++counters_.applies;
  latency_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - first_arrival).count());
}

std::vector<ClusterSourceStatus> ClusterSync::SourceStatus() const {
  std::vector<ClusterSourceStatus> out;
  const auto now = std::chrono::steady_clock::now();
  for (const Source& s : sources_) {
    ClusterSourceStatus st;
    st.name = s.name;
    st.island = s.island;
    st.connected = s.connected;
    st.synced = std::all_of(s.listed.begin(), s.listed.end(), [](bool b) { return b; });
    st.message = s.message;
    st.resource_version = s.pod_rv;
    st.updates = s.updates;
    st.disconnects = s.disconnects;
    st.reconnects = s.reconnects;
    if (s.any_event) {
      st.last_event_age_s = std::chrono::duration<double>(now - s.last_event).count();
    }
    for (size_t k = 0; k < 4; ++k) st.objects[k] = s.objects[k].size();
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace natgw::control
