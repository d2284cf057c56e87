#include "lib/control/cluster_sync.h"

#include <arpa/inet.h>

#include <algorithm>

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
      for (uint64_t h = first; h <= last; ++h) ap.addresses.push_back(htonl(static_cast<uint32_t>(h)));
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
  // Static addresses inside pools are never handed out.
  for (const auto& m : config.nat.pod_mappings) allocator_.Reserve(m.external_ip);
  for (const auto& s : config.nat.services) allocator_.Reserve(s.vip);
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
  auto& objects = s.objects[K(u.kind)];
  if (u.type != SourceUpdate::Type::kStatus &&
      (u.kind == Kind::kService || u.kind == Kind::kEndpointSlice)) {
    services_dirty_.insert(s.island);
  }
  if (u.type == SourceUpdate::Type::kReplace && u.kind == Kind::kPod) pods_relisted_.insert(s.island);
  const bool pods = u.kind == Kind::kPod;
  switch (u.type) {
    case SourceUpdate::Type::kReplace:
      if (pods) {
        for (const auto& [key, st] : objects) IndexPod(s.island, &key, &st, false);
      }
      objects.clear();
      for (kube::Object& o : u.objects) {
        std::string key = kube::KeyOf(o);
        objects[key] = Stored{std::move(o), ++seq_};
      }
      if (pods) {
        for (const auto& [key, st] : objects) IndexPod(s.island, &key, &st, true);
      }
      s.listed[K(u.kind)] = true;
      dirty_ = true;
      break;
    case SourceUpdate::Type::kUpsert:
      for (kube::Object& o : u.objects) {
        std::string key = kube::KeyOf(o);
        auto [it, fresh] = objects.try_emplace(std::move(key));
        if (pods && !fresh) IndexPod(s.island, &it->first, &it->second, false);
        it->second = Stored{std::move(o), ++seq_};
        if (pods) IndexPod(s.island, &it->first, &it->second, true);
      }
      dirty_ = true;
      break;
    case SourceUpdate::Type::kDelete:
      for (const kube::Object& o : u.objects) {
        auto it = objects.find(kube::KeyOf(o));
        if (it == objects.end()) continue;
        if (pods) IndexPod(s.island, &it->first, &it->second, false);
        objects.erase(it);
      }
      dirty_ = true;
      break;
    case SourceUpdate::Type::kStatus:
      break;
  }
}

void ClusterSync::IndexPod(uint16_t island, const std::string* key, const Stored* st, bool add) {
  const auto& p = std::get<kube::Pod>(st->object);
  if (p.ips.empty()) return;
  const uint64_t hk = (uint64_t{island} << 32) | p.ips[0];
  dirty_pod_ips_.insert(hk);
  auto& at = pod_index_[hk];
  if (add) {
    at.emplace_back(key, st);
    return;
  }
  at.erase(std::remove_if(at.begin(), at.end(), [&](const auto& e) { return e.second == st; }),
           at.end());
  if (at.empty()) pod_index_.erase(hk);
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
  dirty_pod_ips_.clear();
  dirty_ = false;
  return out;
}

void ClusterSync::BuildIsland(const ClusterConfig& c, const nat::NatConfig& base,
                              nat::NatConfig* out, std::vector<std::string>* changes) {
  const uint16_t island = c.island;
  const std::string iname = IslandName(island);
  const int64_t wall = clock_.wall_now();

  // ---- Pods: one holder per address, the newest report wins.
  struct Candidate {
    const kube::Pod* pod;
    uint64_t seq;
  };
  // Everything after a fresh list or a conf change; otherwise only the addresses whose pods
  // changed since the last Build (and those still waiting for an address): a pod event costs
  // one pod, not ten thousand.
  const bool full = force_ || pods_relisted_.contains(island);
  absl::flat_hash_set<uint64_t> considered;  // (island << 32 | ip), when not full
  if (!full) {
    for (uint64_t hk : dirty_pod_ips_) {
      if ((hk >> 32) == island) considered.insert(hk);
    }
    for (uint64_t hk : failed_holders_) {
      if ((hk >> 32) == island) considered.insert(hk);
    }
  }
  absl::flat_hash_map<uint32_t, Candidate> by_ip;
  auto consider = [&](const std::string& key, const Stored& st) {
    const kube::Pod& p = std::get<kube::Pod>(st.object);
    if (p.host_network || p.ips.empty() || p.phase == "Succeeded" || p.phase == "Failed") return;
    const uint32_t ip = p.ips[0];
    if (!InIsland(base, island, ip)) {
      Refuse(absl::StrCat(iname, " pod ", key),
             absl::StrCat("address ", Ip(ip), " is outside island ", iname, "'s pod CIDRs; ignored"),
             changes);
      return;
    }
    auto [it, fresh] = by_ip.try_emplace(ip, Candidate{&p, st.seq});
    if (!fresh && st.seq > it->second.seq) it->second = Candidate{&p, st.seq};
  };
  if (full) {
    for (const Source& s : sources_) {
      if (s.island != island) continue;
      for (const auto& [key, st] : s.objects[K(Kind::kPod)]) consider(key, st);
    }
  } else {
    for (uint64_t hk : considered) {
      auto it = pod_index_.find(hk);
      if (it == pod_index_.end()) continue;
      for (const auto& [key, st] : it->second) consider(*key, *st);
    }
  }
  absl::flat_hash_set<uint64_t> static_pods;
  for (const nat::PodMappingConfig& m : base.pod_mappings) {
    if (m.uid.empty()) static_pods.insert((uint64_t{m.island} << 32) | m.pod_ip);
  }

  // Each holder is evaluated again only when its pod report changed (or it is still waiting for
  // an address, or the conf changed): a pod event costs one pod, not ten thousand.
  const std::string pod_prefix = absl::StrCat(iname, "/pod/");
  const std::string failure_prefix = absl::StrCat(iname, " pod ");
  absl::flat_hash_map<uint64_t, Holder> next;
  next.reserve(by_ip.size());
  for (const auto& [ip, cand] : by_ip) {
    const uint64_t hk = (uint64_t{island} << 32) | ip;
    auto prev = holders_.find(hk);
    if (prev != holders_.end() && prev->second.seq == cand.seq && !prev->second.failed && !force_) {
      // Unchanged. (Not full: only here when its address was touched, e.g. a pod deleted that
      // had lost it to this newer one.)
      Holder& h = prev->second;
      if (h.external != 0) out->pod_mappings.push_back({island, ip, h.external, h.label, h.uid});
      next.emplace(hk, std::move(h));
      continue;
    }
    const kube::Pod& p = *cand.pod;
    Holder h;
    h.seq = cand.seq;
    h.uid = Uid(p.meta);
    h.label = Label(p.meta);
    directory_.Set({island, ip, p.meta.ns, p.meta.name, p.meta.uid});
    const std::string key = failure_prefix + h.label;
    Wish w = ReadWish(p.meta, kAnnotationExternalAddress, Selected(c.unique_pods, p.meta));
    if (!w.error.empty()) {
      Refuse(key, w.error, changes);
    } else if (w.wants && static_pods.contains(hk)) {
      Refuse(key, absl::StrCat("address ", Ip(ip), " has a static [[mapping]] in the conf file, which wins"),
             changes);
    } else if (w.wants && c.unique_pool.empty()) {
      Refuse(key, absl::StrCat("wants a unique address but island ", iname, " has no unique pool"),
             changes);
    } else if (w.wants) {
      h.owner = pod_prefix + h.uid;
      auto ext = allocator_.Acquire(c.unique_pool, h.owner, h.label, w.want, wall);
      if (ext.ok()) {
        h.external = *ext;
        out->pod_mappings.push_back({island, ip, *ext, h.label, p.meta.uid});
        if (failures_.erase(key) > 0) changes->push_back(absl::StrCat(key, " got an address after all"));
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
      changes->push_back(absl::StrCat(key, " (uid ", h.uid, ") at ", Ip(ip), " lost unique address ",
                                      Ip(prev->second.external)));
    }
    next.emplace(hk, std::move(h));
  }

  // Addresses whose holder left: departures (their sessions are flushed).
  const uint32_t engine_now = std::max<uint32_t>(1, clock_.engine_now());
  const int64_t keep = std::max<int64_t>(allocator_.quarantine_s(), 120);
  std::vector<std::string> dropped_owners;  // owners of holders that left or changed
  auto depart = [&](uint64_t hk, const Holder& prev) {
    auto now_it = next.find(hk);
    if (!prev.owner.empty() && (now_it == next.end() || now_it->second.owner != prev.owner)) {
      dropped_owners.push_back(prev.owner);
    }
    if (now_it != next.end() && now_it->second.seq == prev.seq) return;  // unchanged
    if (now_it != next.end() && now_it->second.uid == prev.uid) return;  // same pod, updated
    const uint32_t ip = static_cast<uint32_t>(hk);
    if (now_it == next.end()) directory_.Erase(island, ip);
    departures_.push_back({{island, ip, engine_now}, wall + keep});
    changes->push_back(absl::StrCat(iname, " pod address ", Ip(ip), " left by uid ", prev.uid,
                                    prev.external != 0
                                        ? absl::StrCat(", which loses unique address ", Ip(prev.external))
                                        : "",
                                    "; its sessions are flushed"));
  };
  if (full) {
    for (const auto& [hk, prev] : holders_) {
      if ((hk >> 32) == island) depart(hk, prev);
    }
  } else {
    for (uint64_t hk : considered) {
      if (auto it = holders_.find(hk); it != holders_.end()) depart(hk, it->second);
    }
  }

  // The new holders in place: all of the island's (full), or those of the considered addresses.
  if (full && clusters_.size() == 1) {
    holders_.swap(next);  // every holder is this island's
  } else {
    if (full) {
      absl::erase_if(holders_, [&](const auto& e) { return (e.first >> 32) == island; });
    } else {
      for (uint64_t hk : considered) holders_.erase(hk);
    }
    for (auto& [hk, h] : next) holders_.insert_or_assign(hk, std::move(h));
  }
  absl::erase_if(failed_holders_, [&](uint64_t hk) { return (hk >> 32) == island; });
  absl::flat_hash_set<std::string> failing;
  for (const auto& [hk, h] : holders_) {
    if ((hk >> 32) != island) continue;
    if (h.failed) {
      failing.insert(failure_prefix + h.label);
      failed_holders_.insert(hk);
    }
    // The unchanged holders' mappings (the evaluated ones were added above).
    if (!full && h.external != 0 && !considered.contains(hk)) {
      out->pod_mappings.push_back({island, static_cast<uint32_t>(hk), h.external, h.label, h.uid});
    }
  }

  // Owners that no longer want an address give it back (quarantined): only once every source
  // has listed the pods, so that a restart does not release what it has not seen yet.
  // After a fresh list (or a conf change) every owner of the allocator is checked, also those
  // restored from the state file whose pods are gone; otherwise only the owners that left.
  if (Listed(island, Kind::kPod)) {
    if (full) {
      absl::flat_hash_set<std::string> wanted;
      for (const auto& [hk, h] : holders_) {
        if ((hk >> 32) == island && !h.owner.empty()) wanted.insert(h.owner);
      }
      for (const std::string& owner : allocator_.OwnersWithPrefix(pod_prefix)) {
        if (!wanted.contains(owner)) allocator_.Release(owner, wall);
      }
      pods_relisted_.erase(island);
    } else {
      for (const std::string& owner : dropped_owners) {
        const bool still = std::any_of(holders_.begin(), holders_.end(),
                                       [&](const auto& e) { return e.second.owner == owner; });
        if (!still) allocator_.Release(owner, wall);
      }
    }
    for (auto it = failures_.begin(); it != failures_.end();) {
      const bool gone = it->first.rfind(failure_prefix, 0) == 0 && !failing.contains(it->first);
      it = gone ? failures_.erase(it) : std::next(it);
    }
  }

  // ---- Services and their endpoint slices: evaluated again only when one of them changed (a
  // pod event does not touch them), the conf changed, or a service is waiting for a VIP.
  ServiceCache& cache = service_cache_[island];
  if (force_ || !cache.valid || cache.retry || services_dirty_.contains(island)) {
    const size_t first = out->services.size();
    cache.retry = BuildServices(c, base, out, changes);
    cache.services.assign(out->services.begin() + static_cast<long>(first), out->services.end());
    cache.valid = true;
    services_dirty_.erase(island);
  } else {
    out->services.insert(out->services.end(), cache.services.begin(), cache.services.end());
  }

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

// The services of island c.island with a VIP and their backends, into out->services. True when
// a service wants a VIP and got none (it is tried again at the next Build).
bool ClusterSync::BuildServices(const ClusterConfig& c, const nat::NatConfig& base,
                                nat::NatConfig* out, std::vector<std::string>* changes) {
  const uint16_t island = c.island;
  const std::string iname = IslandName(island);
  const int64_t wall = clock_.wall_now();
  bool waiting = false;
  std::map<std::string, const kube::Service*> services;
  std::map<std::string, std::vector<const kube::EndpointSlice*>> slices;  // by ns/service
  for (const Source& s : sources_) {
    if (s.island != island) continue;
    for (const auto& [key, st] : s.objects[K(Kind::kService)]) {
      services.try_emplace(key, &std::get<kube::Service>(st.object));
    }
    for (const auto& [key, st] : s.objects[K(Kind::kEndpointSlice)]) {
      const auto& es = std::get<kube::EndpointSlice>(st.object);
      if (es.service_name.empty() || (es.address_type != "IPv4" && !es.address_type.empty())) continue;
      slices[absl::StrCat(es.meta.ns, "/", es.service_name)].push_back(&es);
    }
  }
  const std::string svc_prefix = absl::StrCat(iname, "/service/");
  absl::flat_hash_set<std::string> wanted_vips;
  std::map<std::string, ServiceState> service_states;
  for (const auto& [key, svc] : services) {
    if (svc->type == "ExternalName") continue;
    Wish w = ReadWish(svc->meta, kAnnotationVip, Selected(c.vip_services, svc->meta));
    const std::string label = absl::StrCat(iname, " service ", key);
    if (!w.error.empty()) {
      Refuse(label, w.error, changes);
      continue;
    }
    if (!w.wants) continue;
    if (c.vip_pool.empty()) {
      Refuse(label, "wants a VIP but there is no vip pool", changes);
      continue;
    }
    const std::string owner = svc_prefix + Uid(svc->meta);
    wanted_vips.insert(owner);
    auto vip = allocator_.Acquire(c.vip_pool, owner, key, w.want, wall);
    if (!vip.ok()) {
      waiting = true;
      std::string why = std::string(vip.status().message());
      auto [it, fresh] = failures_.try_emplace(label, why);
      if (fresh || it->second != why) {
        it->second = why;
        ++counters_.allocation_failures;
        changes->push_back(absl::StrCat(label, " gets no VIP: ", why));
      }
      continue;
    }
    failures_.erase(label);
    ServiceState st{*vip, 0, 0};
    for (const kube::ServicePort& sp : svc->ports) {
      if (sp.proto != 6 && sp.proto != 17) continue;
      nat::ServiceConfig sc;
      sc.name = svc->ports.size() > 1 && !sp.name.empty() ? absl::StrCat(key, ":", sp.name) : key;
      sc.vip = *vip;
      sc.proto = sp.proto;
      sc.port = sp.port;
      absl::flat_hash_set<uint64_t> seen;
      for (const kube::EndpointSlice* es : slices[key]) {
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
                ++st.draining;
              } else {
                ++st.ready;
              }
            }
          }
        }
      }
      out->services.push_back(std::move(sc));
    }
    auto prev = services_.find(owner);
    if (prev == services_.end()) {
      changes->push_back(absl::StrCat(label, " got VIP ", Ip(*vip), " (", st.ready, " ready, ",
                                      st.draining, " draining backends, all ports)"));
    } else if (prev->second.ready != st.ready || prev->second.draining != st.draining) {
      changes->push_back(absl::StrCat(label, " backends: ", prev->second.ready, " -> ", st.ready,
                                      " ready, ", prev->second.draining, " -> ", st.draining,
                                      " draining"));
    }
    service_states[owner] = st;
  }
  for (auto it = services_.begin(); it != services_.end();) {
    if (it->first.rfind(svc_prefix, 0) != 0) {
      ++it;
      continue;
    }
    if (!service_states.contains(it->first)) {
      changes->push_back(absl::StrCat(iname, " service ", it->first.substr(svc_prefix.size()),
                                      " lost VIP ", Ip(it->second.vip)));
    }
    it = services_.erase(it);
  }
  services_.insert(service_states.begin(), service_states.end());
  if (Listed(island, Kind::kService)) {
    for (const std::string& owner : allocator_.OwnersWithPrefix(svc_prefix)) {
      if (!wanted_vips.contains(owner)) allocator_.Release(owner, wall);
    }
  }
  return waiting;
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
    if (s.any_event) st.last_event_age_s = std::chrono::duration<double>(now - s.last_event).count();
    for (size_t k = 0; k < 4; ++k) st.objects[k] = s.objects[k].size();
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace natgw::control
