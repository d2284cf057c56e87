// What a reload cannot change on a running gateway (KeepRestartOnlySettings).
#include <algorithm>
#include <tuple>
#include <utility>
#include <string>
#include <vector>

#include "lib/control/gateway_config.h"
#include "lib/nat/nat_config.h"

namespace natgw::control {
namespace {

template <typename T>
bool SameApartFromLine(T a, T b) {
  a.line = 0;
  b.line = 0;
  return a == b;
}

// Lists named by `key` (an interface's name, a cluster's island): each one added, removed or
// changed gets "SECTION KEY" in `out`. True when any differs.
template <typename T, typename Key, typename Same>
bool ListChanges(const std::vector<T>& running, const std::vector<T>& next, Key key, Same same,
                 const std::string& section, std::vector<std::string>* out) {
  const size_t before = out->size();
  for (const T& r : running) {
    auto it = std::find_if(next.begin(), next.end(), [&](const T& n) { return key(n) == key(r); });
    if (it == next.end() || !same(r, *it)) out->push_back(section + " " + key(r));
  }
  for (const T& n : next) {
    auto it =
        std::find_if(running.begin(), running.end(), [&](const T& r) { return key(r) == key(n); });
    if (it == running.end()) out->push_back(section + " " + key(n));
  }
  return out->size() != before;
}

// A cluster's island, sources and pools; its selectors and node_routes reload.
bool SameClusterSources(ClusterConfig a, ClusterConfig b) {
  for (ClusterConfig* c : {&a, &b}) {
    c->unique_pods.clear();
    c->vip_services.clear();
    c->node_routes = true;
  }
  return SameApartFromLine(a, b);
}

// The same routes in any order.
bool SameRoutes(std::vector<RouteConfig> a, std::vector<RouteConfig> b) {
  const auto order = [](const RouteConfig& x, const RouteConfig& y) {
    return std::tie(x.destination.addr, x.destination.len, x.via, x.interface) <
           std::tie(y.destination.addr, y.destination.len, y.via, y.interface);
  };
  for (auto* v : {&a, &b}) {
    for (RouteConfig& r : *v) r.line = 0;
    std::sort(v->begin(), v->end(), order);
  }
  return a == b;
}

// `lcores` as parsed ("0,1" and "0-1" are the same).
bool SameDpdk(DpdkConfig a, DpdkConfig b) {
  a.lcores.clear();
  b.lcores.clear();
  return a == b;
}

// The islands' ids and names (their pod_cidrs and gateway address reload).
std::vector<std::pair<uint16_t, std::string>> IslandIds(const nat::NatConfig& c) {
  std::vector<std::pair<uint16_t, std::string>> out;
  for (const nat::IslandConfig& i : c.islands) out.emplace_back(i.id, i.name);
  std::sort(out.begin(), out.end());
  return out;
}

bool SameSizing(const nat::EngineConfig& a, const nat::EngineConfig& b) {
  return a.max_sessions == b.max_sessions && a.max_pods == b.max_pods &&
         a.fragment_states == b.fragment_states && a.fragment_hold == b.fragment_hold &&
         a.fragment_timeout_s == b.fragment_timeout_s;
}

}  // namespace

std::vector<std::string> KeepRestartOnlySettings(const GatewayConfig& running,
                                                 GatewayConfig* next) {
  std::vector<std::string> out;
  if (next->name != running.name) {
    out.push_back("[gateway] name");
    // What the new name would move by default stays where the running name put it.
    const NameDefaults n = DefaultsForName(next->name);
    const NameDefaults r = DefaultsForName(running.name);
    const auto rebase = [](std::string* v, const std::string& for_next, const std::string& kept) {
      if (*v == for_next) *v = kept;
    };
    rebase(&next->control_socket, n.control_socket, r.control_socket);
    rebase(&next->dpdk.file_prefix, n.file_prefix, r.file_prefix);
    rebase(&next->allocation.state_file, n.state_file, r.state_file);
    rebase(&next->event_log.path, n.event_log, r.event_log);
  }
  next->name = running.name;
  if (next->control_socket != running.control_socket) out.push_back("[gateway] control_socket");
  next->control_socket = running.control_socket;
  if (next->idle_sleep_us != running.idle_sleep_us) out.push_back("[gateway] idle_sleep_us");
  if (next->answer_arp_for_external != running.answer_arp_for_external) {
    out.push_back("[gateway] answer_arp_for_external");
  }
  next->idle_sleep_us = running.idle_sleep_us;
  next->answer_arp_for_external = running.answer_arp_for_external;
  if (!SameDpdk(next->dpdk, running.dpdk)) out.push_back("[dpdk]");
  next->dpdk = running.dpdk;
  if (!(next->metrics == running.metrics)) out.push_back("[metrics]");
  next->metrics = running.metrics;
  // The engine's event rings and per-session counters are made at start.
  EventLogConfig& e = next->event_log;
  const EventLogConfig& re = running.event_log;
  if (e.mode != re.mode) out.push_back("[event_log] mode");
  if (e.ring_size != re.ring_size) out.push_back("[event_log] ring_size");
  if (e.port_block_size != re.port_block_size) out.push_back("[event_log] port_block_size");
  e.mode = re.mode;
  e.ring_size = re.ring_size;
  e.port_block_size = re.port_block_size;
  const auto by_name = [](const auto& x) { return x.name; };
  const auto same = [](const auto& a, const auto& b) { return SameApartFromLine(a, b); };
  if (ListChanges(running.interfaces, next->interfaces, by_name, same, "[[interface]]", &out)) {
    next->interfaces = running.interfaces;
  }
  if (!SameRoutes(running.routes, next->routes)) out.push_back("[[route]]");
  next->routes = running.routes;
  // Unique and VIP pools are what cluster objects are given addresses from (the allocator is
  // made at start); egress pools are the engine's and reload with it.
  const auto allocated = [](const std::vector<PoolConfig>& pools) {
    std::vector<PoolConfig> out;
    for (const PoolConfig& p : pools) {
      if (p.kind != PoolKind::kEgress) out.push_back(p);
    }
    return out;
  };
  const std::vector<PoolConfig> kept = allocated(running.pools);
  if (ListChanges(kept, allocated(next->pools), by_name, same, "[[pool]]", &out)) {
    std::vector<PoolConfig> pools = kept;
    for (const PoolConfig& p : next->pools) {
      if (p.kind == PoolKind::kEgress) pools.push_back(p);
    }
    next->pools = std::move(pools);
  }
  // Islands are what ports, pools and clusters are tied to.
  if (IslandIds(running.nat) != IslandIds(next->nat)) {
    const auto same_id = [](const nat::IslandConfig& a, const nat::IslandConfig& b) {
      return a.id == b.id;
    };
    ListChanges(running.nat.islands, next->nat.islands, by_name, same_id, "[[island]]", &out);
    next->nat.islands = running.nat.islands;
    next->island_names = running.island_names;
  }
  // A cluster with new sources or pools (or one added or removed) keeps its running
  // configuration; the others take their new selectors.
  const auto by_island = [&](const ClusterConfig& c) { return IslandName(running, c.island); };
  ListChanges(running.clusters, next->clusters, by_island, SameClusterSources, "[[cluster]]",
              &out);
  std::vector<ClusterConfig> clusters;
  for (const ClusterConfig& r : running.clusters) {
    auto it = std::find_if(next->clusters.begin(), next->clusters.end(),
                           [&](const ClusterConfig& n) { return n.island == r.island; });
    clusters.push_back(it != next->clusters.end() && SameClusterSources(r, *it) ? *it : r);
  }
  next->clusters = std::move(clusters);
  if (!(next->allocation == running.allocation)) out.push_back("[allocation]");
  next->allocation = running.allocation;
  if (!SameSizing(running.engine, next->engine)) out.push_back("[limits]");
  next->engine = running.engine;
  return out;
}

}  // namespace natgw::control
