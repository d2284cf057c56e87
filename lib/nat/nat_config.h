// The translation policy the control thread hands to the engine. Plain data; validated by
// MappingTable::Build. Addresses are in network byte order, ports in host order.
#ifndef NATGW_LIB_NAT_NAT_CONFIG_H_
#define NATGW_LIB_NAT_NAT_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "lib/conntrack/session.h"

namespace natgw::nat {

inline constexpr uint16_t kMaxIslands = 256;

struct Cidr {
  uint32_t addr = 0;  // network order, host bits zero
  uint8_t len = 0;
  bool Contains(uint32_t ip_be) const;
  bool operator==(const Cidr&) const = default;
};

struct IslandConfig {
  uint16_t id = 0;  // 0..kMaxIslands-1
  std::string name;
  std::vector<Cidr> pod_cidrs;  // sources allowed from this island (anti-spoofing)
  uint32_t gateway_ip = 0;      // natgw's address on this island's side (ICMP errors, echo)
};

// 1:1: island pod address <-> unique external address, ports untouched, any IP protocol.
struct PodMappingConfig {
  uint16_t island = 0;
  uint32_t pod_ip = 0;
  uint32_t external_ip = 0;
  std::string name;  // namespace/name, for humans
  std::string uid;   // Kubernetes metadata.uid when the mapping came from cluster state
};

// Who holds a pod address of an island: for the event log, natgwctl and metrics. Cluster sources
// list every known pod here (with or without a unique address); static [[mapping]]s add theirs.
struct PodIdentity {
  uint16_t island = 0;
  uint32_t pod_ip = 0;
  std::string ns;    // Kubernetes namespace ("" when unknown)
  std::string name;  // pod name, or the mapping's name
  std::string uid;   // metadata.uid ("" for static mappings)
};

enum class Filtering : uint8_t {
  kAddressAndPortDependent,  // only replies from the endpoint a pod sent to (default)
  kEndpointIndependent,      // anyone may reach a live binding (RFC 4787 EIF)
};

// NAPT for pods of `island` that have no 1:1 mapping.
struct EgressPoolConfig {
  uint16_t island = 0;
  std::vector<uint32_t> addresses;
  uint16_t port_min = 1024;  // ports handed out for source ports >= 1024
  uint16_t port_max = 65535;
  Filtering filtering = Filtering::kAddressAndPortDependent;
};

struct BackendConfig {
  uint16_t island = 0;
  uint32_t pod_ip = 0;
  uint16_t port = 0;
  // Not ready (terminating, or failing its readiness probe): gets no new sessions, but the
  // sessions already pinned to it keep working.
  bool draining = false;
};

// VIP:port/proto -> one of the backends (Maglev consistent hashing, pinned per session).
struct ServiceConfig {
  std::string name;
  uint32_t vip = 0;
  uint8_t proto = 6;
  uint16_t port = 0;
  std::vector<BackendConfig> backends;
};

// Who holds which pod address, kept up to date event by event by the control thread's cluster
// sync (so that a pod event does not copy ten thousand identities). Workers never read it; the
// control thread reads it through MappingTable::FindPod.
class PodDirectory {
 public:
  void Set(const PodIdentity& p) { map_[Key(p.island, p.pod_ip)] = p; }
  void Erase(uint16_t island, uint32_t pod_ip) { map_.erase(Key(island, pod_ip)); }
  const PodIdentity* Find(uint16_t island, uint32_t pod_ip) const {
    auto it = map_.find(Key(island, pod_ip));
    return it == map_.end() ? nullptr : &it->second;
  }
  size_t size() const { return map_.size(); }

 private:
  static uint64_t Key(uint16_t island, uint32_t ip) { return (uint64_t{island} << 32) | ip; }
  absl::flat_hash_map<uint64_t, PodIdentity> map_;
};

// A pod address whose holder changed at `at_s` (the engine's clock): the pod was deleted, or its
// address went to a new pod. The sessions of that address that exist when the first reload that
// carries the departure is applied are flushed, so no packet of the old pod's flows reaches the
// new one; sessions made under that reload or a later one are kept, even in the same second.
// `at_s` tells one departure of an address from the next: it must grow with each (ClusterSync
// moves a second departure within one second to the next second).
struct PodDeparture {
  uint16_t island = 0;
  uint32_t pod_ip = 0;
  uint32_t at_s = 0;
};

struct LimitsConfig {
  uint32_t max_sessions_per_pod = 0;  // 0: unlimited
};

struct NatConfig {
  std::vector<IslandConfig> islands;
  std::vector<PodMappingConfig> pod_mappings;
  std::vector<PodIdentity> pods;  // pods known besides the directory (identity only)
  // The cluster sync's directory of pods (control thread; outlives every table built from this
  // config), or null.
  const PodDirectory* pod_directory = nullptr;
  std::vector<PodDeparture> departures;
  std::vector<EgressPoolConfig> egress_pools;
  std::vector<ServiceConfig> services;
  uint32_t outside_gateway_ip = 0;  // natgw's own outside address (ICMP errors, echo replies)
  conntrack::Timeouts timeouts;
  LimitsConfig limits;
};

}  // namespace natgw::nat

#endif  // NATGW_LIB_NAT_NAT_CONFIG_H_
