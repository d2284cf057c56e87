// Step 1 of the conf-file parser: TOML -> RawConfig. Catches syntax errors, unknown sections and
// keys, wrong types and values that are wrong on their own (bad addresses, out-of-range numbers).
// Checks that need more than one table are in config_validate.cc.
#include <arpa/inet.h>
#include <rte_config.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "lib/control/config_internal.h"
#include "lib/control/config_table.h"
#include "lib/nat/port_allocator.h"

namespace natgw::control::internal {
namespace {

absl::Status ReadGateway(const Table& t, RawConfig* raw) {
  GatewayConfig& g = raw->base;
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Allow({"name", "control_socket", "idle_sleep_us", "answer_arp_for_external"}));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("name", &g.name));
  if (!IsPlainName(g.name)) {
    return t.Error("name", absl::StrCat("name \"", g.name, "\" is not a plain name"),
                   "use 1..63 letters, digits, '.', '_' or '-'");
  }
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("control_socket", &g.control_socket));
  if (t.Has("control_socket") &&
      (g.control_socket.empty() || g.control_socket[0] != '/' || g.control_socket.size() > 107)) {
    return t.Error("control_socket",
                   absl::StrCat("control_socket \"", g.control_socket,
                                "\" is not an absolute path of at most 107 characters"),
                   "use a path like \"/run/natgw/natgw.sock\"");
  }
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("idle_sleep_us", 0, 1000000, &g.idle_sleep_us, " us"));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Bool("answer_arp_for_external", &g.answer_arp_for_external));
  raw->gateway_at = t.lines();
  return absl::OkStatus();
}

absl::Status ReadDpdk(const Table& t, RawConfig* raw) {
  DpdkConfig& d = raw->base.dpdk;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Allow({"lcores", "memory_mb", "no_huge", "file_prefix", "args"}));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("lcores", &d.lcores));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("memory_mb", 0, 1 << 20, &d.memory_mb, " MiB"));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Bool("no_huge", &d.no_huge));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("file_prefix", &d.file_prefix));
  if (t.Has("file_prefix") && !IsPlainName(d.file_prefix)) {
    return t.Error("file_prefix",
                   absl::StrCat("file_prefix \"", d.file_prefix, "\" is not a plain name"),
                   "use 1..63 letters, digits, '.', '_' or '-'");
  }
  std::vector<std::pair<std::string, int>> args;
  NATGW_CONFIG_RETURN_IF_ERROR(t.StringArray("args", &args, "[\"--log-level=pmd:debug\"]"));
  for (auto& [a, line] : args) d.extra_args.push_back(std::move(a));
  raw->dpdk_at = t.lines();
  return absl::OkStatus();
}

absl::Status ReadInterface(const Table& t, RawConfig* raw) {
  RawInterface r;
  InterfaceConfig& c = r.cfg;
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Allow({"name", "device", "args", "role", "island", "address", "mtu"}));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("name", "name = \"outside\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("device", "device = \"0000:03:00.0\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("role", "role = \"inside\" or role = \"outside\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("address",
                                         "the interface's own address and prefix, "
                                         "e.g. address = \"192.0.2.1/24\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("name", &c.name));
  if (!IsPlainName(c.name)) {
    return t.Error("name", absl::StrCat("name \"", c.name, "\" is not a plain name"),
                   "use 1..63 letters, digits, '.', '_' or '-'");
  }
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("device", &c.device));
  bool pci = IsPciAddress(c.device);
  if (!pci && !IsVdevName(c.device)) {
    return t.Error("device",
                   absl::StrCat("device \"", c.device, "\" is neither a PCI address nor a vdev"),
                   "write a PCI address like \"0000:03:00.0\" or a vdev name like "
                   "\"net_af_packet0\", \"net_memif0\", \"net_tap0\", \"net_ring0\"");
  }
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("args", &c.vdev_args));
  if (pci && t.Has("args")) {
    return t.Error("args", "args given for PCI device " + c.device,
                   "remove args: they are for vdevs only");
  }
  if (c.device.starts_with("net_af_packet") &&
      c.vdev_args.find("iface=") == absl::string_view::npos) {
    return t.Error(t.Has("args") ? "args" : "device",
                   "net_af_packet needs the kernel interface to attach to",
                   "add args = \"iface=<veth name>\"");
  }
  std::string role;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Choice("role", {"inside", "outside"}, &role));
  c.role = role == "inside" ? InterfaceRole::kInside : InterfaceRole::kOutside;
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("island", &r.island));
  if (c.role == InterfaceRole::kInside && !t.Has("island")) {
    return t.Error("role", "inside interface " + c.name + " names no island",
                   "add island = \"<name of an [[island]]>\"");
  }
  if (c.role == InterfaceRole::kOutside && t.Has("island")) {
    return t.Error("island", "outside interface " + c.name + " names an island",
                   "remove island: only inside interfaces belong to an island");
  }
  std::string address;
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("address", &address));
  int len;
  if (!ParseIpAndPrefix(address, &c.address, &len) || len < 1) {
    return t.Error("address", absl::StrCat("address \"", address, "\" is not an address/prefix"),
                   "write the interface's own address and prefix, e.g. \"192.0.2.1/24\"");
  }
  c.prefix_len = static_cast<uint8_t>(len);
  nat::Cidr subnet = MaskedCidr(c.address, len);
  uint32_t host = FirstHost(subnet) ^ ntohl(c.address);
  if (len <= 30 && (host == 0 || host == ~PrefixMask(len))) {
    return t.Error(
        "address",
        absl::StrCat("address \"", address, "\" is the ", host == 0 ? "network" : "broadcast",
                     " address of ", FormatCidr(subnet)),
        "use a host address of the subnet");
  }
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("mtu", 68, 9600, &c.mtu, " bytes"));
  c.line = t.lines().table;
  r.at = t.lines();
  raw->interfaces.push_back(std::move(r));
  return absl::OkStatus();
}

absl::Status ReadIsland(const Table& t, RawConfig* raw) {
  RawIsland r;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Allow({"name", "id", "pod_cidrs"}));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("name", "name = \"c1\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("id", "id = 1 (0..255, unique per gateway)"));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("pod_cidrs", "pod_cidrs = [\"10.0.0.0/16\"]"));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("name", &r.cfg.name));
  if (!IsPlainName(r.cfg.name)) {
    return t.Error("name", absl::StrCat("name \"", r.cfg.name, "\" is not a plain name"),
                   "use 1..63 letters, digits, '.', '_' or '-'");
  }
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("id", 0, nat::kMaxIslands - 1, &r.cfg.id));
  NATGW_CONFIG_RETURN_IF_ERROR(t.CidrArray("pod_cidrs", false, &r.cfg.pod_cidrs, nullptr));
  r.at = t.lines();
  raw->islands.push_back(std::move(r));
  return absl::OkStatus();
}

absl::Status ReadPool(const Table& t, RawConfig* raw) {
  RawPool r;
  PoolConfig& p = r.cfg;
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Allow({"name", "kind", "island", "addresses", "ports", "filtering"}));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("name", "name = \"c1-egress\""));
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Require("kind", "kind = \"unique\", kind = \"egress\" or kind = \"vip\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("addresses", "addresses = [\"192.0.2.16/28\"]"));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("name", &p.name));
  if (!IsPlainName(p.name)) {
    return t.Error("name", absl::StrCat("name \"", p.name, "\" is not a plain name"),
                   "use 1..63 letters, digits, '.', '_' or '-'");
  }
  std::string kind;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Choice("kind", {"unique", "egress", "vip"}, &kind));
  p.kind = kind == "unique"   ? PoolKind::kUnique
           : kind == "egress" ? PoolKind::kEgress
                              : PoolKind::kVip;
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("island", &r.island));
  if (p.kind != PoolKind::kVip && !t.Has("island")) {
    return t.Error("kind", absl::StrCat(kind, " pool ", p.name, " names no island"),
                   "add island = \"<name of an [[island]]>\"");
  }
  if (p.kind == PoolKind::kVip && t.Has("island")) {
    return t.Error("island", absl::StrCat("vip pool ", p.name, " names an island"),
                   "remove island: VIPs belong to no island (each backend names its own)");
  }
  NATGW_CONFIG_RETURN_IF_ERROR(t.CidrArray("addresses", true, &p.ranges, &r.range_lines));
  for (const char* key : {"ports", "filtering"}) {
    if (p.kind != PoolKind::kEgress && t.Has(key)) {
      return t.Error(key, absl::StrCat("'", key, "' given for ", kind, " pool ", p.name),
                     "remove it: only egress pools have ports and filtering");
    }
  }
  std::string ports;
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("ports", &ports));
  if (t.Has("ports")) {
    std::vector<absl::string_view> ends = absl::StrSplit(ports, '-');
    int64_t lo = -1, hi = -1;
    if (ends.size() == 2 && absl::SimpleAtoi(ends[0], &lo) && absl::SimpleAtoi(ends[1], &hi) &&
        lo >= 1024 && lo <= hi && hi <= 65535) {
      p.port_min = static_cast<uint16_t>(lo);
      p.port_max = static_cast<uint16_t>(hi);
    } else {
      return t.Error("ports",
                     absl::StrCat("ports \"", ports,
                                  "\" is not a range MIN-MAX with "
                                  "1024 <= MIN <= MAX <= 65535"),
                     "write e.g. ports = \"1024-65535\" (ports below 1024 are used for "
                     "privileged source ports only)");
    }
  }
  std::string filtering;
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Choice("filtering", {"address-and-port-dependent", "endpoint-independent"}, &filtering));
  p.filtering = filtering == "endpoint-independent" ? nat::Filtering::kEndpointIndependent
                                                    : nat::Filtering::kAddressAndPortDependent;
  if (p.kind == PoolKind::kEgress) {
    uint64_t total = 0;
    for (const nat::Cidr& c : p.ranges) total += uint64_t{LastHost(c)} - FirstHost(c) + 1;
    if (total > nat::PortAllocatorRegistry::kMaxAllocators) {
      return t.Error("addresses",
                     absl::StrCat("egress pool ", p.name, " has ", total, " addresses, more than ",
                                  nat::PortAllocatorRegistry::kMaxAllocators),
                     "use smaller ranges");
    }
  }
  p.line = t.lines().table;
  r.at = t.lines();
  raw->pools.push_back(std::move(r));
  return absl::OkStatus();
}

absl::Status ReadMapping(const Table& t, RawConfig* raw) {
  RawMapping r;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Allow({"island", "pod", "external", "name"}));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("island", "island = \"<name of an [[island]]>\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("pod", "the pod's address, e.g. pod = \"10.0.0.5\""));
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Require("external", "the unique external address, e.g. external = \"203.0.113.5\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("island", &r.island));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Address("pod", &r.cfg.pod_ip));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Address("external", &r.cfg.external_ip));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("name", &r.cfg.name));
  if (t.Has("name") && r.cfg.name.empty()) {
    return t.Error("name", "name is empty", "write \"namespace/pod\" or remove the key");
  }
  r.at = t.lines();
  raw->mappings.push_back(std::move(r));
  return absl::OkStatus();
}

absl::Status ReadBackend(const Table& t, RawService* s) {
  RawBackend r;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Allow({"island", "pod", "port"}));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("island", "island = \"<name of an [[island]]>\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("pod", "pod = \"10.0.0.7\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("port", "port = 8080"));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("island", &r.island));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Address("pod", &r.cfg.pod_ip));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("port", 1, 65535, &r.cfg.port));
  r.at = t.lines();
  s->backends.push_back(std::move(r));
  return absl::OkStatus();
}

absl::Status ReadService(const Table& t, const Errors& errors, RawConfig* raw) {
  RawService r;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Allow({"name", "vip", "protocol", "port", "backends"}));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("name", "name = \"default/web\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("vip", "vip = \"198.51.100.130\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("protocol", "protocol = \"tcp\" or protocol = \"udp\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("port", "port = 80"));
  constexpr absl::string_view kBackendExample =
      "{ island = \"c2\", pod = \"10.0.0.7\", port = 8080 }";
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Require("backends", absl::StrCat("backends = [", kBackendExample, "]")));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("name", &r.cfg.name));
  if (r.cfg.name.empty()) return t.Error("name", "name is empty", "write \"namespace/service\"");
  NATGW_CONFIG_RETURN_IF_ERROR(t.Address("vip", &r.cfg.vip));
  std::string proto;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Choice("protocol", {"tcp", "udp"}, &proto));
  r.cfg.proto = proto == "udp" ? 17 : 6;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("port", 1, 65535, &r.cfg.port));
  std::vector<const toml::table*> backends;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Tables("backends", &backends, kBackendExample));
  if (backends.empty()) {
    return t.Error("backends", "service " + r.cfg.name + " has no backends",
                   absl::StrCat("list at least one, e.g. backends = [", kBackendExample, "]"));
  }
  for (const toml::table* b : backends) {
    NATGW_CONFIG_RETURN_IF_ERROR(ReadBackend(Table(errors, *b, "service backend"), &r));
  }
  r.at = t.lines();
  raw->services.push_back(std::move(r));
  return absl::OkStatus();
}

absl::Status ReadRoute(const Table& t, RawConfig* raw) {
  RawRoute r;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Allow({"destination", "via", "interface"}));
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Require("destination", "destination = \"198.51.100.0/24\" (\"0.0.0.0/0\": default)"));
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Require("interface", "interface = \"<name of an [[interface]]>\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Cidr("destination", &r.cfg.destination));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Address("via", &r.cfg.via));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("interface", &r.cfg.interface));
  r.cfg.line = t.lines().table;
  r.at = t.lines();
  raw->routes.push_back(std::move(r));
  return absl::OkStatus();
}

absl::Status ReadTimeouts(const Table& t, RawConfig* raw) {
  conntrack::Timeouts& to = raw->base.nat.timeouts;
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Allow({"tcp_established_s", "tcp_transitory_s", "udp_s", "icmp_s"}));
  constexpr int64_t kMax = 30 * 24 * 3600;
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Integer("tcp_established_s", 1, kMax, &to.tcp_established_s, " s"));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("tcp_transitory_s", 1, kMax, &to.tcp_transitory_s, " s"));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("udp_s", 1, kMax, &to.udp_s, " s"));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("icmp_s", 1, kMax, &to.icmp_s, " s"));
  return absl::OkStatus();
}

absl::Status ReadLimits(const Table& t, RawConfig* raw) {
  nat::EngineConfig& e = raw->base.engine;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Allow({"max_sessions", "max_sessions_per_pod", "max_pods",
                                        "fragment_states", "fragment_hold", "fragment_timeout_s"}));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("max_sessions", 1, 1 << 30, &e.max_sessions));
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Integer("max_sessions_per_pod", 0, 1 << 30, &raw->base.nat.limits.max_sessions_per_pod));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("max_pods", 1, 1 << 24, &e.max_pods));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("fragment_states", 1, 1 << 20, &e.fragment_states));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("fragment_hold", 0, 32, &e.fragment_hold));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("fragment_timeout_s", 1, 60, &e.fragment_timeout_s, " s"));
  return absl::OkStatus();
}

absl::Status ReadSelectors(const Table& t, const Errors& errors, absl::string_view key,
                           std::vector<ClusterSelector>* out) {
  constexpr absl::string_view kExample = "{ namespace = \"shop\", labels = { app = \"web\" } }";
  std::vector<const toml::table*> tables;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Tables(key, &tables, kExample));
  for (const toml::table* st : tables) {
    Table sel(errors, *st, absl::StrCat("cluster ", key));
    NATGW_CONFIG_RETURN_IF_ERROR(sel.Allow({"namespace", "labels"}));
    ClusterSelector c;
    NATGW_CONFIG_RETURN_IF_ERROR(sel.String("namespace", &c.ns));
    NATGW_CONFIG_RETURN_IF_ERROR(sel.StringMap("labels", &c.labels, "{ app = \"web\" }"));
    out->push_back(std::move(c));
  }
  return absl::OkStatus();
}

absl::Status ReadCluster(const Table& t, const Errors& errors, RawConfig* raw) {
  RawCluster r;
  ClusterConfig& c = r.cfg;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Allow({"island", "directory", "kubeconfig", "context", "server",
                                        "in_cluster", "namespace", "label_selector", "unique_pool",
                                        "vip_pool", "unique_pods", "vip_services", "node_routes"}));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("island", "island = \"<name of an [[island]]>\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("island", &r.island));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("directory", &c.directory));
  if (t.Has("directory") && (c.directory.empty() || c.directory[0] != '/')) {
    return t.Error("directory",
                   absl::StrCat("directory \"", c.directory, "\" is not an absolute path"),
                   "write the directory the cluster's JSON files are put in, e.g. "
                   "directory = \"/etc/natgw/c1-cluster\"");
  }
  KubernetesSourceConfig& k = c.kubernetes;
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("kubeconfig", &k.kubeconfig));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("context", &k.context));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("server", &k.server));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Bool("in_cluster", &k.in_cluster));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("namespace", &k.ns));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("label_selector", &k.label_selector));
  if (t.Has("server") && !absl::StartsWith(k.server, "http://") &&
      !absl::StartsWith(k.server, "https://")) {
    return t.Error("server", absl::StrCat("server \"", k.server, "\" is not an http(s) URL"),
                   "write e.g. server = \"https://192.0.2.10:6443\" or \"http://127.0.0.1:8001\" "
                   "(kubectl proxy)");
  }
  k.enabled = !k.kubeconfig.empty() || !k.server.empty() || k.in_cluster;
  if (!k.enabled && c.directory.empty()) {
    return t.Error("island", "a [[cluster]] without a source",
                   "add directory = \"/path\" (kubectl JSON files) and/or kubeconfig = \"/path\", "
                   "server = \"URL\" or in_cluster = true (the Kubernetes API)");
  }
  if (t.Has("context") && k.kubeconfig.empty()) {
    return t.Error("context", "context picks a context of a kubeconfig, and there is none",
                   "add kubeconfig = \"/path\" or remove context");
  }
  if (!k.enabled && (t.Has("namespace") || t.Has("label_selector"))) {
    return t.Error(t.Has("namespace") ? "namespace" : "label_selector",
                   "namespace and label_selector restrict the Kubernetes API source, which this "
                   "[[cluster]] does not use",
                   "add kubeconfig, server or in_cluster, or remove the key");
  }
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("unique_pool", &c.unique_pool));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("vip_pool", &c.vip_pool));
  NATGW_CONFIG_RETURN_IF_ERROR(ReadSelectors(t, errors, "unique_pods", &c.unique_pods));
  NATGW_CONFIG_RETURN_IF_ERROR(ReadSelectors(t, errors, "vip_services", &c.vip_services));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Bool("node_routes", &c.node_routes));
  c.line = t.lines().table;
  r.at = t.lines();
  raw->clusters.push_back(std::move(r));
  return absl::OkStatus();
}

absl::Status ReadAllocation(const Table& t, RawConfig* raw) {
  AllocationConfig& a = raw->base.allocation;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Allow({"state_file", "quarantine_s"}));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("state_file", &a.state_file));
  if (t.Has("state_file") && (a.state_file.empty() || a.state_file[0] != '/')) {
    return t.Error("state_file",
                   absl::StrCat("state_file \"", a.state_file, "\" is not an absolute path"),
                   "write e.g. state_file = \"/var/lib/natgw/c1.allocations.json\"");
  }
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("quarantine_s", 0, 7 * 86400, &a.quarantine_s, " s"));
  raw->allocation_at = t.lines();
  return absl::OkStatus();
}

// "a.b.c.d:port" with 1 <= port <= 65535.
bool ParseListen(absl::string_view text, uint32_t* ip_be, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return false;
  int64_t p = 0;
  absl::string_view digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      !absl::SimpleAtoi(digits, &p) || p < 1 || p > 65535) {
    return false;
  }
  if (!ParseIp(text.substr(0, colon), ip_be)) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

absl::Status ReadMetrics(const Table& t, RawConfig* raw) {
  MetricsConfig& m = raw->base.metrics;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Allow({"enabled", "listen", "allow_remote"}));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Bool("enabled", &m.enabled));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("listen", &m.listen));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Bool("allow_remote", &m.allow_remote));
  if (m.listen.empty()) m.enabled = false;
  if (m.listen.empty()) return absl::OkStatus();
  if (!ParseListen(m.listen, &m.address, &m.port)) {
    return t.Error("listen", absl::StrCat("listen \"", m.listen, "\" is not address:port"),
                   "write an IPv4 address and a port 1..65535, e.g. listen = \"127.0.0.1:9469\" "
                   "(or listen = \"\" to turn metrics off)");
  }
  if ((ntohl(m.address) >> 24) != 127 && !m.allow_remote) {
    return t.Error("listen",
                   absl::StrCat("listen \"", m.listen, "\" is not a loopback address; the metrics "
                                "endpoint has no authentication"),
                   "use 127.0.0.1 (scrape through a local agent or proxy), or add "
                   "allow_remote = true to expose it on purpose");
  }
  return absl::OkStatus();
}

absl::Status ReadEventLog(const Table& t, RawConfig* raw) {
  EventLogConfig& e = raw->base.event_log;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Allow(
      {"mode", "path", "max_size_mb", "keep_files", "ring_size", "port_block_size"}));
  std::string mode = "off";
  NATGW_CONFIG_RETURN_IF_ERROR(t.Choice("mode", {"off", "session", "port-block"}, &mode));
  e.mode = mode == "session"      ? EventLogMode::kSession
           : mode == "port-block" ? EventLogMode::kPortBlock
                                  : EventLogMode::kOff;
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("path", &e.path));
  if (t.Has("path") && (e.path.empty() || e.path[0] != '/' || e.path.back() == '/')) {
    return t.Error("path", absl::StrCat("path \"", e.path, "\" is not an absolute file path"),
                   "write e.g. path = \"/var/log/natgw/c1.events.jsonl\"");
  }
  NATGW_CONFIG_RETURN_IF_ERROR(t.Number("max_size_mb", 0.001, 1 << 20, &e.max_size_mb, " MiB"));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("keep_files", 0, 1000, &e.keep_files));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Integer("ring_size", 64, 1 << 24, &e.ring_size, " records"));
  if ((e.ring_size & (e.ring_size - 1)) != 0) {
    return t.Error("ring_size", absl::StrCat("ring_size ", e.ring_size, " is not a power of two"),
                   "use a power of two, e.g. 65536");
  }
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Integer("port_block_size", 1, 32768, &e.port_block_size, " ports"));
  if (t.Has("port_block_size") && e.mode != EventLogMode::kPortBlock) {
    return t.Error("port_block_size", "port_block_size is set but mode is not \"port-block\"",
                   "add mode = \"port-block\" or remove port_block_size");
  }
  raw->event_log_at = t.lines();
  return absl::OkStatus();
}

absl::Status ReadIpfix(const Table& t, RawConfig* raw) {
  IpfixConfig& x = raw->base.ipfix;
  NATGW_CONFIG_RETURN_IF_ERROR(t.Allow({"collector", "observation_domain", "template_interval_s"}));
  NATGW_CONFIG_RETURN_IF_ERROR(t.Require("collector", "collector = \"192.0.2.50:4739\""));
  NATGW_CONFIG_RETURN_IF_ERROR(t.String("collector", &x.collector));
  if (!ParseListen(x.collector, &x.address, &x.port) || x.address == 0) {
    return t.Error("collector", absl::StrCat("collector \"", x.collector, "\" is not IP:PORT"),
                   "write the collector's IPv4 address and UDP port, e.g. \"192.0.2.50:4739\"");
  }
  x.enabled = true;
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Integer("observation_domain", 0, 0xffffffffLL, &x.observation_domain));
  NATGW_CONFIG_RETURN_IF_ERROR(
      t.Integer("template_interval_s", 1, 86400, &x.template_interval_s, " s"));
  return absl::OkStatus();
}

// Applies the defaults that depend on other keys and checks the lcore list.
absl::Status Finish(const Errors& errors, RawConfig* raw) {
  GatewayConfig& g = raw->base;
  NameDefaults d = DefaultsForName(g.name);
  if (raw->gateway_at.keys.find("control_socket") == raw->gateway_at.keys.end()) {
    g.control_socket = std::move(d.control_socket);
  }
  if (g.allocation.state_file.empty()) g.allocation.state_file = std::move(d.state_file);
  if (raw->dpdk_at.keys.find("file_prefix") == raw->dpdk_at.keys.end()) {
    g.dpdk.file_prefix = std::move(d.file_prefix);
  }
  std::string why;
  int line = raw->dpdk_at("lcores");
  if (!ParseLcores(g.dpdk.lcores, RTE_MAX_LCORE - 1, &g.dpdk.lcore_ids, &g.dpdk.lcore_cpus,
                   &why)) {
    return errors.At(line, "dpdk", absl::StrCat("lcores \"", g.dpdk.lcores, "\": ", why),
                     "write lcore ids and ranges, e.g. \"0,1\" or \"0-2,4\"; \"2@1\" runs "
                     "lcore 2 on CPU 1");
  }
  if (g.dpdk.lcore_ids.size() < 2 || g.dpdk.lcore_ids.size() > 65) {
    return errors.At(line, "dpdk",
                     absl::StrCat("lcores \"", g.dpdk.lcores, "\" lists ", g.dpdk.lcore_ids.size(),
                                  " lcore(s) (the first runs the control thread, each further "
                                  "one a worker)"),
                     "list 2..65 lcores (1..64 workers), e.g. \"0,1\"");
  }
  g.engine.num_workers = static_cast<uint32_t>(g.dpdk.lcore_ids.size() - 1);
  if (g.metrics.address == 0 && !g.metrics.listen.empty()) {  // no [metrics]: the default
    ParseListen(g.metrics.listen, &g.metrics.address, &g.metrics.port);
  }
  if (g.event_log.path.empty()) g.event_log.path = std::move(d.event_log);
  const bool events = g.event_log.mode != EventLogMode::kOff || g.ipfix.enabled;
  g.engine.event_ring_size = events ? g.event_log.ring_size : 0;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RawConfig> ReadToml(std::string_view text, const Errors& errors) {
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(errors.source()));
  } catch (const toml::parse_error& e) {
    return errors.At(static_cast<int>(e.source().begin.line), "syntax", Absl(e.description()),
                     "fix the TOML syntax (see https://toml.io)");
  }

  // Unknown sections first, then each section in the order below.
  const std::vector<absl::string_view> kTables = {"gateway", "dpdk",    "timeouts",  "limits",
                                                  "metrics", "allocation", "event_log", "ipfix"};
  const std::vector<absl::string_view> kLists = {"interface", "island", "pool",   "mapping",
                                                 "service",   "route",  "cluster"};
  std::vector<absl::string_view> known(kTables);
  known.insert(known.end(), kLists.begin(), kLists.end());
  for (auto&& [key, node] : root) {
    absl::string_view k = Absl(key.str());
    int line = static_cast<int>(key.source().begin.line);
    bool is_table = std::find(kTables.begin(), kTables.end(), k) != kTables.end();
    bool is_list = std::find(kLists.begin(), kLists.end(), k) != kLists.end();
    if (!is_table && !is_list) continue;  // reported by Allow below
    if (is_table && !node.is_table()) {
      return errors.At(line, "top level", absl::StrCat("'", k, "' must be a section"),
                       absl::StrCat("write it as a table: [", k, "]"));
    }
    if (is_list && !(node.is_array() && node.as_array()->is_array_of_tables())) {
      return errors.At(line, "top level", absl::StrCat("'", k, "' must be a list of tables"),
                       absl::StrCat("write each entry under its own [[", k, "]] header"));
    }
  }
  {
    // Same as Table::Allow but worded for sections.
    const toml::key* first = nullptr;
    for (auto&& [key, node] : root) {
      if (std::find(known.begin(), known.end(), Absl(key.str())) != known.end()) continue;
      if (first == nullptr || key.source().begin.line < first->source().begin.line) first = &key;
    }
    if (first != nullptr) {
      absl::string_view close = ClosestMatch(Absl(first->str()), known);
      return errors.At(
          static_cast<int>(first->source().begin.line), "top level",
          absl::StrCat("unknown section or key '", Absl(first->str()), "'"),
          absl::StrCat(close.empty() ? "remove it" : absl::StrCat("did you mean '", close, "'?"),
                       " (sections: [gateway], [dpdk], [[interface]], [[island]], "
                       "[[pool]], [[mapping]], [[service]], [[route]], [[cluster]], "
                       "[allocation], [timeouts], [limits], [metrics], [event_log], [ipfix])"));
    }
  }

  RawConfig raw;
  if (const toml::table* t = root["gateway"].as_table()) {
    NATGW_CONFIG_RETURN_IF_ERROR(ReadGateway(Table(errors, *t, "gateway"), &raw));
  }
  if (const toml::table* t = root["dpdk"].as_table()) {
    NATGW_CONFIG_RETURN_IF_ERROR(ReadDpdk(Table(errors, *t, "dpdk"), &raw));
  }
  auto each = [&](absl::string_view list, auto&& read) -> absl::Status {
    const toml::array* a = root[Std(list)].as_array();
    if (a == nullptr) return absl::OkStatus();
    for (const toml::node& n : *a) {
      NATGW_CONFIG_RETURN_IF_ERROR(read(Table(errors, *n.as_table(), std::string(list))));
    }
    return absl::OkStatus();
  };
  NATGW_CONFIG_RETURN_IF_ERROR(
      each("interface", [&](const Table& t) { return ReadInterface(t, &raw); }));
  NATGW_CONFIG_RETURN_IF_ERROR(each("island", [&](const Table& t) { return ReadIsland(t, &raw); }));
  NATGW_CONFIG_RETURN_IF_ERROR(each("pool", [&](const Table& t) { return ReadPool(t, &raw); }));
  NATGW_CONFIG_RETURN_IF_ERROR(
      each("mapping", [&](const Table& t) { return ReadMapping(t, &raw); }));
  NATGW_CONFIG_RETURN_IF_ERROR(
      each("service", [&](const Table& t) { return ReadService(t, errors, &raw); }));
  NATGW_CONFIG_RETURN_IF_ERROR(each("route", [&](const Table& t) { return ReadRoute(t, &raw); }));
  NATGW_CONFIG_RETURN_IF_ERROR(
      each("cluster", [&](const Table& t) { return ReadCluster(t, errors, &raw); }));
  if (const toml::table* t = root["allocation"].as_table()) {
    NATGW_CONFIG_RETURN_IF_ERROR(ReadAllocation(Table(errors, *t, "allocation"), &raw));
  }
  if (const toml::table* t = root["timeouts"].as_table()) {
    NATGW_CONFIG_RETURN_IF_ERROR(ReadTimeouts(Table(errors, *t, "timeouts"), &raw));
  }
  if (const toml::table* t = root["limits"].as_table()) {
    NATGW_CONFIG_RETURN_IF_ERROR(ReadLimits(Table(errors, *t, "limits"), &raw));
  }
  if (const toml::table* t = root["metrics"].as_table()) {
    NATGW_CONFIG_RETURN_IF_ERROR(ReadMetrics(Table(errors, *t, "metrics"), &raw));
  }
  if (const toml::table* t = root["event_log"].as_table()) {
    NATGW_CONFIG_RETURN_IF_ERROR(ReadEventLog(Table(errors, *t, "event_log"), &raw));
  }
  if (const toml::table* t = root["ipfix"].as_table()) {
    NATGW_CONFIG_RETURN_IF_ERROR(ReadIpfix(Table(errors, *t, "ipfix"), &raw));
  }
  NATGW_CONFIG_RETURN_IF_ERROR(Finish(errors, &raw));
  return raw;
}

}  // namespace natgw::control::internal
