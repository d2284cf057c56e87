// The whole configuration of one natgw gateway, as loaded from its TOML conf file
// (conf/README.md documents every key). Plain data; LoadConfigFile validates it in one place.
#ifndef NATGW_LIB_CONTROL_GATEWAY_CONFIG_H_
#define NATGW_LIB_CONTROL_GATEWAY_CONFIG_H_

#include <array>
#include <map>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/nat/engine.h"
#include "lib/nat/nat_config.h"

namespace natgw::control {

enum class InterfaceRole : uint8_t { kInside, kOutside };

struct InterfaceConfig {
  std::string name;       // conf name, used by routes and natgwctl ("c1-inside")
  std::string device;     // DPDK device: a PCI address ("0000:03:00.0") or a vdev name
  std::string vdev_args;  // for a vdev: its arguments ("iface=veth0"); empty for PCI devices
  InterfaceRole role = InterfaceRole::kOutside;
  uint16_t island = 0;    // island id, for inside interfaces
  uint32_t address = 0;   // the interface's own address, network order
  uint8_t prefix_len = 0;
  uint16_t mtu = 1500;
  int line = 0;           // where it was defined, for messages
  bool operator==(const InterfaceConfig&) const = default;
  // A zero-copy memif port: it shares natgw's hugepage memory with its peer, which needs EAL's
  // --single-file-segments (natgw adds it) and hugepages.
  bool ZeroCopyMemif() const {
    return device.starts_with("net_memif") && vdev_args.find("zero-copy=yes") != std::string::npos;
  }
};

struct RouteConfig {
  nat::Cidr destination;
  uint32_t via = 0;       // next hop, network order; 0 = destination is on-link
  std::string interface;  // InterfaceConfig::name
  int line = 0;
  bool operator==(const RouteConfig&) const = default;
};

// A pool of addresses the gateway hands out: unique (1:1 pod addresses), egress (NAPT) or vip.
enum class PoolKind : uint8_t { kUnique, kEgress, kVip };
struct PoolConfig {
  std::string name;
  PoolKind kind = PoolKind::kEgress;
  uint16_t island = 0;
  std::vector<nat::Cidr> ranges;
  uint16_t port_min = 1024;  // egress only
  uint16_t port_max = 65535;
  nat::Filtering filtering = nat::Filtering::kAddressAndPortDependent;
  int line = 0;
  bool operator==(const PoolConfig&) const = default;
};

struct DpdkConfig {
  std::string lcores = "0,1";  // main lcore (control thread) first, then one per worker
  std::vector<uint32_t> lcore_ids;   // `lcores` parsed, in the order written
  std::vector<uint32_t> lcore_cpus;  // the CPU of each (its own id unless pinned with '@')
  // EAL's --lcores map ("0@0,1@1,2@1") when `lcores` pins some lcore with '@'; else empty
  // (EAL's -l takes `lcores` as written).
  std::string EalLcoreMap() const;
  uint32_t memory_mb = 0;      // 0: EAL default
  bool no_huge = false;        // run without hugepages (tests, demos)
  std::string file_prefix;     // default: natgw-<gateway name>
  std::vector<std::string> extra_args;
  bool operator==(const DpdkConfig&) const = default;
};

// [metrics]: Prometheus text exposition served over HTTP by the control thread.
struct MetricsConfig {
  bool enabled = true;          // false (or listen = "") turns the endpoint off
  std::string listen = "127.0.0.1:9469";  // as written in the conf
  uint32_t address = 0;         // `listen` parsed, network order (127.0.0.1 by default)
  uint16_t port = 9469;
  bool allow_remote = false;    // a non-loopback `listen` address needs this
  bool operator==(const MetricsConfig&) const = default;
};

// [event_log]: the translation event log (JSON lines, lib/telemetry/event_log.h).
enum class EventLogMode : uint8_t {
  kOff,        // no file
  kSession,    // one record per session create and delete
  kPortBlock,  // egress-pool sessions as blocks of ports; other sessions as in kSession
};
struct EventLogConfig {
  EventLogMode mode = EventLogMode::kOff;
  std::string path;              // default /var/log/natgw/<gateway name>.events.jsonl
  double max_size_mb = 100;      // the file is rotated before it grows past this
  uint32_t keep_files = 10;      // rotated files kept (PATH.1 newest .. PATH.N oldest)
  uint32_t ring_size = 65536;    // records per worker ring, a power of two
  uint32_t port_block_size = 64; // ports per block in port-block mode
};

// [ipfix]: NAT events exported to a collector (RFC 7011 over UDP, RFC 8158 elements).
struct IpfixConfig {
  bool enabled = false;              // a collector is set
  std::string collector;             // "IP:PORT" as written
  uint32_t address = 0;              // network order
  uint16_t port = 0;
  uint32_t observation_domain = 1;
  uint32_t template_interval_s = 60; // templates are sent again this often
};

// [[cluster]]: where the mappings of one island's pods and services come from (issue 4), besides
// the static [[mapping]]s and [[service]]s.
struct ClusterSelector {
  std::string ns;                             // "" = any namespace
  std::map<std::string, std::string> labels;  // all must match; empty = any
  bool operator==(const ClusterSelector&) const = default;
};

struct KubernetesSourceConfig {
  bool enabled = false;       // any of kubeconfig, server, in_cluster given
  std::string kubeconfig;     // path of a kubeconfig file
  std::string context;        // its context ("" = its current-context)
  std::string server;         // API URL ("http://127.0.0.1:8001" for kubectl proxy)
  bool in_cluster = false;    // the pod's service account
  std::string ns;             // watch one namespace only ("" = all)
  std::string label_selector;
  bool operator==(const KubernetesSourceConfig&) const = default;
};

struct ClusterConfig {
  uint16_t island = 0;
  std::string directory;  // a directory of `kubectl get ... -o json` files ("" = none)
  KubernetesSourceConfig kubernetes;
  std::string unique_pool;  // pool pods get unique addresses from ("" = none)
  std::string vip_pool;     // pool services get VIPs from ("" = none)
  std::vector<ClusterSelector> unique_pods;   // pods that get a unique address without annotation
  std::vector<ClusterSelector> vip_services;  // services that get a VIP without annotation
  bool node_routes = true;  // nodes' pod CIDRs become inside routes via the node's InternalIP
  int line = 0;
  bool operator==(const ClusterConfig&) const = default;
};

// [allocation]: how addresses handed out from pools to cluster objects are kept.
struct AllocationConfig {
  std::string state_file;     // default /var/lib/natgw/<gateway name>.allocations.json
  uint32_t quarantine_s = 120;
  bool operator==(const AllocationConfig&) const = default;
};

struct GatewayConfig {
  std::string name = "natgw";
  std::string source;  // the file it came from
  std::string control_socket = "/run/natgw/natgw.sock";
  uint32_t idle_sleep_us = 0;  // worker back-off when a poll finds nothing; 0 = pure polling
  bool answer_arp_for_external = true;  // proxy-ARP for unique addresses, pools and VIPs
  DpdkConfig dpdk;
  MetricsConfig metrics;
  EventLogConfig event_log;
  IpfixConfig ipfix;
  std::vector<InterfaceConfig> interfaces;
  std::vector<RouteConfig> routes;
  std::vector<PoolConfig> pools;
  std::vector<ClusterConfig> clusters;
  AllocationConfig allocation;
  std::vector<std::string> island_names;  // index = island id
  nat::NatConfig nat;        // islands, mappings, egress pools, services, timeouts, limits
  nat::EngineConfig engine;  // sizing; num_workers follows dpdk.lcores
};

// Parses and validates a conf file. Errors name the file, the line and what to do, e.g.
// "c1.toml:14: mapping: external address 198.51.100.9 is outside every unique pool of island c1;
//  add it to a [[pool]] of kind \"unique\" or pick one from 203.0.113.0/24".
absl::StatusOr<GatewayConfig> LoadConfigFile(const std::string& path);

// The paths a gateway's name gives when the conf does not set them (conf/README.md).
struct NameDefaults {
  std::string control_socket;  // /run/natgw/NAME.sock
  std::string file_prefix;     // natgw-NAME (EAL --file-prefix)
  std::string state_file;      // /var/lib/natgw/NAME.allocations.json
  std::string event_log;       // /var/log/natgw/NAME.events.jsonl
};
NameDefaults DefaultsForName(const std::string& name);

// The name of island `id` ("outside" for the outside realm, the id itself if it has no name).
std::string IslandName(const GatewayConfig& config, uint16_t id);
absl::StatusOr<GatewayConfig> ParseConfig(std::string_view text, const std::string& source);

// A reload from `running` to `next` (SIGHUP, natgwctl reload) applies the mappings, services,
// egress pools, islands, timeouts, max_sessions_per_pod, the clusters' selectors and node_routes
// and the event log's file and IPFIX settings. What else differs can only change with a
// restart: the section (and its name where there are several) goes to the result, and `next`
// gets the running value back, so that the swapped-in configuration says what runs. `line`
// numbers are not compared.
std::vector<std::string> KeepRestartOnlySettings(const GatewayConfig& running, GatewayConfig* next);

}  // namespace natgw::control

#endif  // NATGW_LIB_CONTROL_GATEWAY_CONFIG_H_
