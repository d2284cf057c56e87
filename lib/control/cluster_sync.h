// Cluster-state sync (issue 4): keeps what the cluster sources report (pods, services, endpoint
// slices, nodes of each island) and turns it, together with the conf file's static policy, into
// the NatConfig the engine publishes:
//   - every pod with an address becomes a known identity (event log, natgwctl);
//   - pods selected by the conf ([[cluster]] unique_pods) or annotated
//     natgw.io/external-address = "auto" | "<address>" get a unique external address from the
//     island's unique pool ("none" opts a selected pod out);
//   - services selected (vip_services) or annotated natgw.io/vip = "auto" | "<address>" get a VIP
//     from the vip pool; their ready endpoints are the backends, endpoints that are not ready but
//     still serving or terminating are draining backends;
//   - a pod address whose holder leaves (deleted, Succeeded/Failed, or reused by a new pod uid)
//     becomes a departure, which flushes the old holder's sessions;
//   - nodes' pod CIDRs become inside routes via the node's InternalIP.
// Addresses are held by uid in an AddressAllocator, so they survive restarts and are quarantined
// when released. Control thread only.
#ifndef NATGW_LIB_CONTROL_CLUSTER_SYNC_H_
#define NATGW_LIB_CONTROL_CLUSTER_SYNC_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "lib/control/address_allocator.h"
#include "lib/control/cluster_source.h"
#include "lib/control/gateway_config.h"
#include "lib/control/kube_objects.h"
#include "lib/nat/nat_config.h"

namespace natgw::control {

inline constexpr char kAnnotationExternalAddress[] = "natgw.io/external-address";
inline constexpr char kAnnotationVip[] = "natgw.io/vip";

struct NodeRoute {
  uint16_t island = 0;
  nat::Cidr destination;
  uint32_t via = 0;  // the node's InternalIP
  std::string node;
};

struct ClusterSourceStatus {
  std::string name;
  uint16_t island = 0;
  bool connected = false;
  bool synced = false;       // every kind has been listed at least once
  std::string message;       // the last problem, if any
  std::string resource_version;  // of pods, when the source has one
  double last_event_age_s = -1;  // since the last news (failures are not); -1: none yet
  uint64_t updates = 0;
  uint64_t disconnects = 0;  // times it went from connected to disconnected
  uint64_t reconnects = 0;   // times it came back after a disconnection
  std::array<size_t, 4> objects{};  // by kube::Kind
};

// Apply latency: from the arrival of the first event of a batch to the new table being visible
// to workers.
struct ApplyLatency {
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,  0.5,   1,    2.5};
  std::array<uint64_t, kBuckets.size()> counts{};  // cumulative is computed when rendered
  uint64_t count = 0;
  double sum_s = 0;
  double last_s = 0;
  void Observe(double seconds);
};

struct ClusterCounters {
  uint64_t applies = 0;          // policies published because of cluster events
  uint64_t apply_failures = 0;   // refused by the engine (the previous policy stays)
  uint64_t allocation_failures = 0;
  uint64_t refused_objects = 0;  // pods/services skipped (address outside the island, ...)
};

class ClusterSync {
 public:
  struct Clock {
    std::function<uint32_t()> engine_now;  // the workers' clock (departure times)
    std::function<int64_t()> wall_now;     // unix seconds (allocation state, quarantine)
  };
  ClusterSync(const GatewayConfig& config, Clock clock);

  // Loads the allocation state file; returns what happened, for the log.
  std::string LoadState();
  // Saves it if it changed.
  absl::Status SaveState();

  // A source feeding island `island`'s state; `name` is SourceUpdate::source.
  void AddSource(uint16_t island, const std::string& name);
  // Takes one update. Unknown source names are ignored (and said in the log).
  void Handle(SourceUpdate u);
  bool dirty() const { return dirty_; }

  // The desired policy: `base` (the conf file's) plus the cluster's mappings, identities, services
  // and departures. `changes` receives one line per change since the previous Build, for the
  // INFO log. Clears dirty().
  nat::NatConfig Build(const nat::NatConfig& base, std::vector<std::string>* changes);
  // Inside routes from nodes, as of the last Build.
  const std::vector<NodeRoute>& node_routes() const { return node_routes_; }

  // New selection policy from a reload: each cluster's unique_pods, vip_services and
  // node_routes. Its islands, sources and pools must be the running ones (KeepRestartOnlySettings
  // keeps them). Every object is evaluated again at the next Build.
  void SetPolicy(const std::vector<ClusterConfig>& clusters) {
    clusters_ = clusters;
    ForceRebuild();
  }
  // Keeps the static [[mapping]] and [[service]] addresses of a reloaded conf out of the pools
  // (as at start; an address a cluster object holds already stays its, and the engine refuses
  // the conflict); addresses no longer static go back to their pool after the quarantine.
  void ReserveStatic(const nat::NatConfig& base);
  // Evaluates every object again at the next Build (the conf's static policy changed).
  void ForceRebuild() {
    force_ = true;
    dirty_ = true;
  }
  // Who holds which pod address (also reachable as MappingTable::FindPod).
  const nat::PodDirectory& directory() const { return directory_; }

  // Call after the engine accepted (ok) or refused the policy of the last Build.
  void Applied(bool ok, std::chrono::steady_clock::time_point first_arrival);

  std::vector<ClusterSourceStatus> SourceStatus() const;
  std::vector<AddressAllocator::Usage> PoolUsage() const {
    return allocator_.PoolUsage(clock_.wall_now());
  }
  const ApplyLatency& apply_latency() const { return latency_; }
  const ClusterCounters& counters() const { return counters_; }
  // Pods that want a unique address (or services a VIP) and have none: label -> why.
  const std::map<std::string, std::string>& failures() const { return failures_; }
  const AddressAllocator& allocator() const { return allocator_; }
  const std::vector<ClusterConfig>& clusters() const { return clusters_; }

 private:
  struct Stored {
    kube::Object object;
    uint64_t seq;  // order of arrival: with two pods on one address, the newest wins
  };
  struct Source {
    std::string name;
    uint16_t island = 0;
    std::array<std::map<std::string, Stored>, 4> objects;  // by kind, then KeyOf
    std::array<bool, 4> listed{};
    bool connected = false;
    std::string message;
    std::string pod_rv;
    std::chrono::steady_clock::time_point last_event{};  // last news (not a failure report)
    bool any_event = false;
    uint64_t updates = 0;
    uint64_t disconnects = 0;
    uint64_t reconnects = 0;
  };
  // The pod holding an address, as evaluated at the last Build.
  struct Holder {
    uint64_t seq = 0;   // of the pod report it was evaluated from
    std::string uid;
    std::string label;  // namespace/name
    std::string owner;  // allocator owner when it wants a unique address
    uint32_t external = 0;
    bool failed = false;  // wanted an address and got none: evaluated again at every Build
  };
  struct ServiceState {
    uint32_t vip = 0;
    size_t ready = 0;
    size_t draining = 0;
    std::vector<nat::ServiceConfig> configs;  // one per port, as last published
  };
  // What changed since the last Build, per island: a Build looks at the pod addresses and the
  // services that changed, not at every object (a re-list or a conf change looks at all).
  struct Pending {
    bool all_pods = true;
    bool all_services = true;
    absl::flat_hash_set<uint32_t> pod_ips;
    absl::flat_hash_set<std::string> services;  // ns/name (a service or one of its slices changed)
  };
  using Ref = std::pair<size_t, std::string>;  // index in sources_, object key

  // Keeps pods_by_ip_ / slices_by_service_ in step with a source's objects and notes the change.
  void Note(size_t source, kube::Kind kind, const std::string& key, const kube::Object& o,
            bool add);
  void BuildIsland(const ClusterConfig& c, const nat::NatConfig& base, nat::NatConfig* out,
                   std::vector<std::string>* changes);
  void BuildPods(const ClusterConfig& c, const nat::NatConfig& base, Pending& pending,
                 nat::NatConfig* out, std::vector<std::string>* changes);
  void BuildServices(const ClusterConfig& c, const nat::NatConfig& base, Pending& pending,
                     nat::NatConfig* out, std::vector<std::string>* changes);
  // A pod address lost its holder `h` (deleted, or taken by another pod): its sessions go.
  void Depart(uint16_t island, uint32_t ip, const Holder& h, std::vector<std::string>* changes);
  bool Listed(uint16_t island, kube::Kind kind) const;
  bool InIsland(const nat::NatConfig& base, uint16_t island, uint32_t ip) const;
  void Refuse(const std::string& key, const std::string& why, std::vector<std::string>* changes);
  std::string IslandName(uint16_t id) const;

  Clock clock_;
  std::vector<ClusterConfig> clusters_;
  std::vector<std::string> island_names_;
  std::string state_file_;
  AddressAllocator allocator_;
  std::vector<Source> sources_;
  uint64_t seq_ = 0;
  bool dirty_ = true;
  bool force_ = true;
  nat::PodDirectory directory_;

  std::map<uint16_t, Pending> pending_;  // by island
  absl::flat_hash_map<uint64_t, std::vector<Ref>> pods_by_ip_;                 // island << 32 | ip
  std::map<std::pair<uint16_t, std::string>, std::vector<Ref>>
      slices_by_service_;  // island, ns/svc

  // What the previous Build published, to tell changes.
  absl::flat_hash_map<uint64_t, Holder> holders_;               // (island << 32 | pod ip)
  absl::flat_hash_set<uint64_t> failed_holders_;                // holders with failed set
  std::map<std::string, ServiceState> services_;                // by allocator owner
  std::map<std::pair<uint16_t, std::string>, std::string> service_owner_;  // island, ns/name
  std::set<std::pair<uint16_t, std::string>> failed_services_;            // waiting for a VIP
  std::map<std::string, std::string> refused_;                  // key -> why (logged once)
  std::map<std::string, std::string> failures_;
  struct Departure {
    nat::PodDeparture d;
    int64_t until;  // wall clock
  };
  std::vector<Departure> departures_;
  std::vector<NodeRoute> node_routes_;
  ApplyLatency latency_;
  ClusterCounters counters_;
};

}  // namespace natgw::control

#endif  // NATGW_LIB_CONTROL_CLUSTER_SYNC_H_
