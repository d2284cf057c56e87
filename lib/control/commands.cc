#include "lib/control/commands.h"

#include <rte_byteorder.h>

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/conntrack/tcp_state.h"
#include "lib/control/cluster_sync.h"
#include "lib/dataplane/dataplane.h"
#include "lib/net/builder.h"
#include "lib/net/headers.h"
#include "nlohmann/json.hpp"

namespace natgw::control {
namespace {

using nlohmann::json;
using net::FormatIp;

constexpr const char* kHelp =
    "commands:\n"
    "  show stats                      counters: translations, every drop reason, sessions\n"
    "  show interfaces                 ports, addresses, link, packet counters\n"
    "  show mappings                   1:1 pod addresses, egress pools, services\n"
    "  show sessions [island=NAME] [pod=IP] [external=IP] [proto=tcp|udp|icmp] [limit=N]\n"
    "  show neighbors                  ARP table\n"
    "  show routes                     routes per side\n"
    "  show cluster                    cluster-state sources, allocations, pods without address\n"
    "  lookup EXTERNAL_IP[:PORT]       which pod is behind an external address (and port)\n"
    "  lookup EXTERNAL_IP[:PORT] --at TIME   which pod held it at TIME (RFC 3339): live\n"
    "                                  sessions and the event log (rotated files too)\n"
    "  reload                          re-read the conf file; the old one stays if it is refused\n"
    "  flush                           drop every session (flows restart)\n"
    "  trace ISLAND/POD_IP | NAMESPACE/NAME   a pod's addresses, services and sessions\n"
    "add --json to any command for machine-readable output\n";

// Left-aligned columns, two spaces apart.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render() const {
    std::vector<size_t> width(rows_[0].size(), 0);
    for (const auto& r : rows_) {
      for (size_t i = 0; i < r.size() && i < width.size(); ++i) {
        width[i] = std::max(width[i], r[i].size());
      }
    }
    std::string out;
    for (const auto& r : rows_) {
      std::string line;
      for (size_t i = 0; i < r.size(); ++i) {
        absl::StrAppend(&line, r[i]);
        if (i + 1 < r.size()) line.append(width[i] - r[i].size() + 2, ' ');
      }
      absl::StrAppend(&out, line, "\n");
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string Endpoint(uint32_t ip_be, uint16_t port_be, uint8_t proto) {
  if (proto != net::kProtoTcp && proto != net::kProtoUdp && proto != net::kProtoIcmp) {
    return FormatIp(ip_be);
  }
  return absl::StrCat(FormatIp(ip_be), proto == net::kProtoIcmp ? "#" : ":",
                      rte_be_to_cpu_16(port_be));
}

std::string CidrString(const nat::Cidr& c) { return absl::StrCat(FormatIp(c.addr), "/", c.len); }

bool ParseIpArg(const std::string& s, uint32_t* ip) {
  *ip = net::ParseIp(s.c_str());
  return *ip != 0 || s == "0.0.0.0";
}

CtlReply Ok(std::string body) { return CtlReply{true, std::move(body)}; }
CtlReply Error(std::string body) { return CtlReply{false, body + "\n"}; }
CtlReply Json(const json& j) { return Ok(j.dump(2) + "\n"); }

}  // namespace

GatewayCommands::GatewayCommands(const GatewayConfig* config, nat::Engine* engine,
                                 const dataplane::Dataplane* dataplane, Hooks hooks)
    : config_(config), engine_(engine), dataplane_(dataplane), hooks_(std::move(hooks)) {}

std::string GatewayCommands::IslandName(uint16_t id) const {
  return control::IslandName(*config_, id);
}

CtlReply GatewayCommands::Handle(const std::vector<std::string>& args, bool json) {
  if (args.empty() || args[0] == "help") return Ok(kHelp);
  const std::string& cmd = args[0];
  if (cmd == "show" && args.size() >= 2) {
    const std::string& what = args[1];
    if (what == "stats") return ShowStats(json);
    if (what == "interfaces") return ShowInterfaces(json);
    if (what == "mappings") return ShowMappings(json);
    if (what == "sessions") return ShowSessions({args.begin() + 2, args.end()}, json);
    if (what == "neighbors") return ShowNeighbors(json);
    if (what == "routes") return ShowRoutes(json);
    if (what == "cluster") return ShowCluster(json);
    return Error(absl::StrCat("unknown: show ", what, "\n", kHelp));
  }
  if (cmd == "lookup" && args.size() == 2) return Lookup(args[1], json);
  if (cmd == "lookup" && args.size() == 4 && args[2] == "--at") {
    return LookupAt(args[1], args[3], json);
  }
  if (cmd == "lookup" && args.size() == 3 && args[2].starts_with("at=")) {
    return LookupAt(args[1], args[2].substr(3), json);
  }
  if (cmd == "reload" && args.size() == 1) {
    absl::StatusOr<std::vector<std::string>> r =
        hooks_.reload ? hooks_.reload() : absl::UnimplementedError("no reload hook");
    if (!r.ok()) {
      return Error(absl::StrCat("reload refused, the running configuration stays: ",
                                r.status().message()));
    }
    if (json) return Json({{"reloaded", true}, {"needs_restart", *r}});
    if (r->empty()) return Ok("reloaded\n");
    return Ok(absl::StrCat("reloaded; not applied until natgw restarts: ", absl::StrJoin(*r, ", "),
                           "\n"));
  }
  if (cmd == "trace" && args.size() == 2) return Trace(args[1], json);
  if (cmd == "flush" && args.size() == 1) {
    const uint64_t n = engine_->FlushAll();
    return json ? Json({{"flushed", n}}) : Ok(absl::StrCat("flushed ", n, " sessions\n"));
  }
  return Error(absl::StrCat("unknown command: ", absl::StrJoin(args, " "), "\n", kHelp));
}

CtlReply GatewayCommands::ShowStats(bool as_json) {
  const nat::WorkerCounters c = engine_->SumCounters();
  // The workers' live counts: no walk of the table.
  std::map<std::string, uint64_t> sessions_by_kind;
  const std::unique_ptr<conntrack::SessionCounts> live = engine_->SumSessionCounts();
  for (const auto& realm : live->live) {
    for (int k = 0; k < conntrack::SessionCounts::kKinds; ++k) {
      const auto kind = static_cast<conntrack::SessionKind>(k);
      for (int p = 0; p < conntrack::SessionCounts::kProtos; ++p) {
        if (realm[k][p] == 0) continue;
        sessions_by_kind[kind == conntrack::SessionKind::kBinding
                             ? "bindings"
                             : absl::StrCat(net::ProtoName(conntrack::SessionCounts::kProtoOf[p]),
                                            "_", conntrack::SessionKindName(kind))] += realm[k][p];
      }
    }
  }
  json j;
  j["gateway"] = config_->name;
  for (int i = 0; i < nat::kNumEvents; ++i) {
    j["events"][nat::EventName(static_cast<nat::Event>(i))] = c.events[i];
  }
  for (int i = 0; i < nat::kNumDropReasons; ++i) {
    j["drops"][nat::DropReasonName(static_cast<nat::DropReason>(i))] = c.drops[i];
  }
  j["sessions"] = sessions_by_kind;
  j["session_capacity"] = engine_->table().capacity();
  nat::PortAllocatorRegistry& reg = engine_->allocators();
  for (uint32_t i = 0; i < reg.size(); ++i) {
    const nat::PortAllocator* a = reg.Get(static_cast<uint16_t>(i));
    j["pool_ports_in_use"][FormatIp(a->address())] = a->InUse();
  }
  if (dataplane_ != nullptr) {
    const dataplane::DataplaneCounters d = dataplane_->SumCounters();
    for (int i = 0; i < dataplane::kNumEvents; ++i) {
      j["dataplane"][dataplane::EventName(static_cast<dataplane::Event>(i))] = d.events[i];
    }
    for (int i = 0; i < dataplane::kNumDrops; ++i) {
      j["dataplane_drops"][dataplane::DropName(static_cast<dataplane::Drop>(i))] = d.drops[i];
    }
  }
  j["event_log"]["dropped"] = engine_->EventsDropped();
  if (event_log_counters_) {
    for (const auto& [k, v] : event_log_counters_()) j["event_log"][k] = v;
  }
  if (as_json) return Json(j);
  std::string out = absl::StrCat("gateway ", config_->name, "\n\nsessions (capacity ",
                                 engine_->table().capacity(), ")\n");
  for (const auto& [k, v] : sessions_by_kind) {
    absl::StrAppend(&out, absl::StrFormat("  %-28s %llu\n", k, v));
  }
  absl::StrAppend(&out, "\ntranslation\n");
  for (int i = 0; i < nat::kNumEvents; ++i) {
    absl::StrAppend(&out, absl::StrFormat("  %-28s %llu\n",
                                          nat::EventName(static_cast<nat::Event>(i)), c.events[i]));
  }
  absl::StrAppend(&out, "\ndrops (every reason, zero or not)\n");
  for (int i = 0; i < nat::kNumDropReasons; ++i) {
    absl::StrAppend(
        &out, absl::StrFormat("  %-28s %llu\n",
                              nat::DropReasonName(static_cast<nat::DropReason>(i)), c.drops[i]));
  }
  if (j.contains("pool_ports_in_use")) {
    absl::StrAppend(&out, "\negress pool ports in use\n");
    for (auto& [ip, n] : j["pool_ports_in_use"].items()) {
      absl::StrAppend(&out, absl::StrFormat("  %-28s %llu\n", ip, n.get<uint64_t>()));
    }
  }
  absl::StrAppend(&out, "\nevent log\n");
  for (auto& [k, v] : j["event_log"].items()) {
    absl::StrAppend(&out, absl::StrFormat("  %-28s %llu\n", k, v.get<uint64_t>()));
  }
  if (j.contains("dataplane")) {
    absl::StrAppend(&out, "\ndataplane\n");
    for (auto& [k, v] : j["dataplane"].items()) {
      absl::StrAppend(&out, absl::StrFormat("  %-28s %llu\n", k, v.get<uint64_t>()));
    }
    absl::StrAppend(&out, "\ndataplane drops\n");
    for (auto& [k, v] : j["dataplane_drops"].items()) {
      absl::StrAppend(&out, absl::StrFormat("  %-28s %llu\n", k, v.get<uint64_t>()));
    }
  }
  return Ok(out);
}

CtlReply GatewayCommands::ShowMappings(bool as_json) {
  const nat::NatConfig& nc = engine_->mappings()->config();
  json j = json::object();
  j["pod_addresses"] = json::array();
  j["egress_pools"] = json::array();
  j["services"] = json::array();
  TextTable pods({"ISLAND", "POD", "EXTERNAL", "NAME"});
  for (const auto& m : nc.pod_mappings) {
    pods.Add({IslandName(m.island), FormatIp(m.pod_ip), FormatIp(m.external_ip), m.name});
    j["pod_addresses"].push_back({{"island", IslandName(m.island)}, {"pod", FormatIp(m.pod_ip)},
                                  {"external", FormatIp(m.external_ip)}, {"name", m.name},
                                  {"uid", m.uid}});
  }
  TextTable pools({"ISLAND", "ADDRESSES", "PORTS", "FILTERING"});
  for (const auto& p : nc.egress_pools) {
    std::vector<std::string> addrs;
    for (uint32_t a : p.addresses) addrs.push_back(FormatIp(a));
    const char* filtering = p.filtering == nat::Filtering::kEndpointIndependent
                                ? "endpoint-independent"
                                : "address-and-port-dependent";
    pools.Add({IslandName(p.island), absl::StrJoin(addrs, ","),
               absl::StrCat(p.port_min, "-", p.port_max), filtering});
    j["egress_pools"].push_back({{"island", IslandName(p.island)}, {"addresses", addrs},
                                 {"port_min", p.port_min}, {"port_max", p.port_max},
                                 {"filtering", filtering}});
  }
  TextTable svcs({"SERVICE", "VIP", "BACKENDS"});
  for (const auto& s : nc.services) {
    std::vector<std::string> backends;
    for (const auto& b : s.backends) {
      backends.push_back(absl::StrCat(IslandName(b.island), "/", FormatIp(b.pod_ip), ":", b.port,
                                      b.draining ? "(draining)" : ""));
    }
    const std::string vip =
        absl::StrCat(FormatIp(s.vip), ":", s.port, "/", net::ProtoName(s.proto));
    svcs.Add({s.name, vip, absl::StrJoin(backends, ",")});
    j["services"].push_back({{"name", s.name}, {"vip", vip}, {"backends", backends}});
  }
  if (as_json) return Json(j);
  return Ok(absl::StrCat("pod addresses (1:1)\n", pods.Render(), "\negress pools\n", pools.Render(),
                         "\nservices\n", svcs.Render()));
}

CtlReply GatewayCommands::ShowSessions(const std::vector<std::string>& filters, bool as_json) {
  int island = -1;
  uint32_t pod = 0, external = 0;
  int proto = -1;
  uint64_t limit = 1000;
  for (const std::string& f : filters) {
    std::pair<std::string, std::string> kv = absl::StrSplit(f, absl::MaxSplits('=', 1));
    const auto& [k, v] = kv;
    if (k == "island") {
      for (size_t i = 0; i < config_->island_names.size(); ++i) {
        if (config_->island_names[i] == v) island = static_cast<int>(i);
      }
      uint32_t id;
      if (island < 0 && absl::SimpleAtoi(v, &id)) island = static_cast<int>(id);
      if (island < 0) return Error(absl::StrCat("unknown island '", v, "'"));
    } else if (k == "pod") {
      if (!ParseIpArg(v, &pod)) return Error(absl::StrCat("pod=", v, ": not an IPv4 address"));
    } else if (k == "external") {
      if (!ParseIpArg(v, &external)) {
        return Error(absl::StrCat("external=", v, ": not an IPv4 address"));
      }
    } else if (k == "proto") {
      proto = v == "tcp" ? 6 : v == "udp" ? 17 : v == "icmp" ? 1 : -2;
      if (proto == -2) return Error(absl::StrCat("proto=", v, ": use tcp, udp or icmp"));
    } else if (k == "limit") {
      if (!absl::SimpleAtoi(v, &limit)) return Error(absl::StrCat("limit=", v, ": not a number"));
    } else {
      return Error(
          absl::StrCat("unknown filter '", f, "'; use island=, pod=, external=, proto=, limit="));
    }
  }
  const uint32_t now = hooks_.now_s ? hooks_.now_s() : 0;
  TextTable t({"ISLAND", "PROTO", "INSIDE", "EXTERNAL", "REMOTE", "KIND", "STATE", "IDLE_S"});
  json rows = json::array();
  uint64_t matched = 0;
  engine_->ForEachSession([&](uint32_t, const conntrack::Session& s) {
    if (s.kind == conntrack::SessionKind::kBinding) return;
    if (island >= 0 && s.in_key.realm != island) return;
    if (pod != 0 && s.in_key.src_ip != pod) return;
    if (external != 0 && s.out_key.dst_ip != external) return;
    if (proto >= 0 && s.in_key.proto != proto) return;
    if (++matched > limit) return;
    const uint8_t p = s.in_key.proto;
    const std::string state =
        p == net::kProtoTcp
            ? conntrack::TcpStateName(static_cast<conntrack::TcpState>(s.tcp_state.load()))
            : "-";
    const uint32_t seen = s.last_seen_s.load(std::memory_order_relaxed);
    const uint32_t idle = now > seen ? now - seen : 0;
    const std::string inside = Endpoint(s.in_key.src_ip, s.in_key.src_port, p);
    const std::string ext = Endpoint(s.out_key.dst_ip, s.out_key.dst_port, p);
    const std::string remote = Endpoint(s.out_key.src_ip, s.out_key.src_port, p);
    t.Add({IslandName(s.in_key.realm), net::ProtoName(p), inside, ext, remote,
           conntrack::SessionKindName(s.kind), state, absl::StrCat(idle)});
    rows.push_back({{"island", IslandName(s.in_key.realm)},
                    {"proto", net::ProtoName(p)},
                    {"inside", inside},
                    {"external", ext},
                    {"remote", remote},
                    {"remote_as_seen_inside", Endpoint(s.in_key.dst_ip, s.in_key.dst_port, p)},
                    {"kind", conntrack::SessionKindName(s.kind)},
                    {"state", state},
                    {"idle_s", idle}});
  });
  if (as_json) return Json({{"sessions", rows}, {"matched", matched}});
  std::string out = t.Render();
  if (matched > limit) {
    absl::StrAppend(&out, "... ", matched - limit, " more (limit=", limit, ")\n");
  }
  absl::StrAppend(&out, matched, " sessions\n");
  return Ok(out);
}

CtlReply GatewayCommands::Lookup(const std::string& what, bool as_json) {
  std::pair<std::string, std::string> parts = absl::StrSplit(what, absl::MaxSplits(':', 1));
  uint32_t ip;
  if (!ParseIpArg(parts.first, &ip)) return Error(absl::StrCat(what, ": expected IP or IP:PORT"));
  uint32_t port = 0;
  if (!parts.second.empty() &&
      (!absl::SimpleAtoi(parts.second, &port) || port == 0 || port > 65535)) {
    return Error(absl::StrCat(what, ": port must be 1..65535"));
  }
  const nat::MappingTable& mt = *engine_->mappings();
  json j = {{"query", what}};
  std::string out;
  nat::OwnedKind kind;
  if (!mt.Owned(ip, &kind)) {
    j["owner"] = nullptr;
    return as_json ? Json(j)
                   : Ok(absl::StrCat(FormatIp(ip), " is not an address of this gateway\n"));
  }
  for (const auto& m : mt.config().pod_mappings) {
    if (m.external_ip != ip) continue;
    j["pod"] = {{"island", IslandName(m.island)}, {"pod", FormatIp(m.pod_ip)}, {"name", m.name}};
    absl::StrAppend(&out, FormatIp(ip), " is the unique address of pod ", FormatIp(m.pod_ip), " (",
                    m.name.empty() ? "unnamed" : m.name, ") in island ", IslandName(m.island),
                    "\n");
  }
  for (const auto& s : mt.config().services) {
    if (s.vip != ip || (port != 0 && s.port != port)) continue;
    std::vector<std::string> backends;
    for (const auto& b : s.backends) {
      backends.push_back(absl::StrCat(IslandName(b.island), "/", FormatIp(b.pod_ip), ":", b.port));
    }
    j["services"].push_back({{"name", s.name}, {"port", s.port}, {"backends", backends}});
    absl::StrAppend(&out, FormatIp(ip), ":", s.port, "/", net::ProtoName(s.proto), " is service ",
                    s.name, " -> ", absl::StrJoin(backends, ", "), "\n");
  }
  if (kind == nat::OwnedKind::kGateway) {
    absl::StrAppend(&out, FormatIp(ip), " is the gateway's own address\n");
  }
  // Live sessions holding the address (and port): who is behind it right now.
  j["sessions"] = json::array();
  engine_->ForEachSession([&](uint32_t, const conntrack::Session& s) {
    if (s.out_key.dst_ip != ip) return;
    if (port != 0 && rte_be_to_cpu_16(s.out_key.dst_port) != port) return;
    const uint8_t p = s.in_key.proto;
    const std::string inside = Endpoint(s.in_key.src_ip, s.in_key.src_port, p);
    const std::string remote = s.kind == conntrack::SessionKind::kBinding
                                   ? "*"
                                   : Endpoint(s.out_key.src_ip, s.out_key.src_port, p);
    j["sessions"].push_back({{"island", IslandName(s.in_key.realm)},
                             {"inside", inside},
                             {"proto", net::ProtoName(p)},
                             {"remote", remote},
                             {"kind", conntrack::SessionKindName(s.kind)}});
    absl::StrAppend(&out, "  ", net::ProtoName(p), " ",
                    Endpoint(s.out_key.dst_ip, s.out_key.dst_port, p), " <- island ",
                    IslandName(s.in_key.realm), " ", inside, " (",
                    conntrack::SessionKindName(s.kind), ", remote ", remote, ")\n");
  });
  if (out.empty()) {
    out = absl::StrCat(FormatIp(ip), " belongs to this gateway but nothing holds it now\n");
  }
  return as_json ? Json(j) : Ok(out);
}

CtlReply GatewayCommands::ShowInterfaces(bool as_json) {
  if (dataplane_ == nullptr) return Error("the dataplane is not running");
  json rows = json::array();
  TextTable t({"NAME", "DEVICE", "PORT", "ROLE", "ADDRESS", "MAC", "LINK", "RX_PKTS", "TX_PKTS",
               "RX_MISSED"});
  for (const auto& i : dataplane_->Interfaces()) {
    const std::string role = i.role == InterfaceRole::kInside
                                 ? absl::StrCat("inside:", IslandName(i.island))
                                 : "outside";
    const std::string mac = absl::StrFormat(
        "%02x:%02x:%02x:%02x:%02x:%02x", i.mac.addr_bytes[0], i.mac.addr_bytes[1],
        i.mac.addr_bytes[2], i.mac.addr_bytes[3], i.mac.addr_bytes[4], i.mac.addr_bytes[5]);
    const std::string addr = absl::StrCat(FormatIp(i.address), "/", i.prefix_len);
    t.Add({i.name, i.device, absl::StrCat(i.port_id), role, addr, mac, i.link_up ? "up" : "down",
           absl::StrCat(i.rx_packets), absl::StrCat(i.tx_packets), absl::StrCat(i.rx_missed)});
    rows.push_back({{"name", i.name}, {"device", i.device}, {"port", i.port_id}, {"role", role},
                    {"address", addr}, {"mac", mac}, {"link_up", i.link_up},
                    {"rx_packets", i.rx_packets}, {"tx_packets", i.tx_packets},
                    {"rx_bytes", i.rx_bytes}, {"tx_bytes", i.tx_bytes}, {"rx_missed", i.rx_missed},
                    {"rx_nombuf", i.rx_nombuf}, {"rx_errors", i.rx_errors},
                    {"tx_errors", i.tx_errors}, {"tx_dropped", i.tx_dropped}});
  }
  return as_json ? Json({{"interfaces", rows}}) : Ok(t.Render());
}

CtlReply GatewayCommands::ShowNeighbors(bool as_json) {
  if (dataplane_ == nullptr) return Error("the dataplane is not running");
  json rows = json::array();
  TextTable t({"INTERFACE", "ADDRESS", "MAC", "STATE"});
  for (const auto& n : dataplane_->Neighbors()) {
    const std::string mac = absl::StrFormat(
        "%02x:%02x:%02x:%02x:%02x:%02x", n.mac.addr_bytes[0], n.mac.addr_bytes[1],
        n.mac.addr_bytes[2], n.mac.addr_bytes[3], n.mac.addr_bytes[4], n.mac.addr_bytes[5]);
    t.Add({n.interface, FormatIp(n.ip), n.resolved ? mac : "-",
           n.resolved ? "reachable" : "incomplete"});
    rows.push_back({{"interface", n.interface},
                    {"address", FormatIp(n.ip)},
                    {"mac", mac},
                    {"resolved", n.resolved}});
  }
  return as_json ? Json({{"neighbors", rows}}) : Ok(t.Render());
}

CtlReply GatewayCommands::ShowRoutes(bool as_json) {
  if (dataplane_ == nullptr) return Error("the dataplane is not running");
  json rows = json::array();
  TextTable t({"INTERFACE", "DESTINATION", "VIA", "FROM"});
  for (const auto& r : dataplane_->Routes()) {
    const std::string via = r.via == 0 ? "on-link" : FormatIp(r.via);
    const std::string from = r.cluster ? absl::StrCat("cluster (", r.origin, ")")
                                       : (r.connected ? "connected" : "conf");
    t.Add({r.interface, CidrString(r.destination), via, from});
    rows.push_back({{"interface", r.interface},
                    {"destination", CidrString(r.destination)},
                    {"via", via},
                    {"from", r.cluster ? "cluster" : (r.connected ? "connected" : "conf")},
                    {"origin", r.origin}});
  }
  return as_json ? Json({{"routes", rows}}) : Ok(t.Render());
}

CtlReply GatewayCommands::ShowCluster(bool as_json) {
  if (cluster_ == nullptr) {
    return Error("no [[cluster]] in the conf file: mappings come from the conf file only");
  }
  const ClusterSync& c = *cluster_;
  json j = json::object();
  j["sources"] = json::array();
  TextTable sources({"ISLAND", "SOURCE", "STATE", "CONNECTED", "PODS", "SERVICES", "SLICES",
                     "NODES", "LAST EVENT", "RESOURCE VERSION", "RECONNECTS", "MESSAGE"});
  for (const ClusterSourceStatus& s : c.SourceStatus()) {
    const char* state = !s.connected ? "disconnected" : (s.synced ? "synced" : "listing");
    const std::string age =
        s.last_event_age_s < 0 ? "never" : absl::StrFormat("%.1fs ago", s.last_event_age_s);
    sources.Add({IslandName(s.island), s.name, state, s.connected ? "yes" : "no",
                 absl::StrCat(s.objects[0]), absl::StrCat(s.objects[1]),
                 absl::StrCat(s.objects[2]), absl::StrCat(s.objects[3]), age,
                 s.resource_version.empty() ? "-" : s.resource_version,
                 absl::StrCat(s.reconnects), s.message.empty() ? "-" : s.message});
    j["sources"].push_back({{"island", IslandName(s.island)}, {"name", s.name}, {"state", state},
                            {"connected", s.connected}, {"synced", s.synced},
                            {"pods", s.objects[0]}, {"services", s.objects[1]},
                            {"endpointslices", s.objects[2]}, {"nodes", s.objects[3]},
                            {"last_event_age_s", s.last_event_age_s}, {"updates", s.updates},
                            {"resource_version", s.resource_version},
                            {"disconnects", s.disconnects}, {"reconnects", s.reconnects},
                            {"message", s.message}});
  }
  TextTable pools({"POOL", "ADDRESSES", "IN USE", "QUARANTINED", "EXHAUSTED"});
  j["pools"] = json::array();
  for (const auto& u : c.PoolUsage()) {
    pools.Add({u.pool, absl::StrCat(u.size), absl::StrCat(u.in_use), absl::StrCat(u.quarantined),
               absl::StrCat(u.exhausted)});
    j["pools"].push_back({{"pool", u.pool}, {"addresses", u.size}, {"in_use", u.in_use},
                          {"quarantined", u.quarantined}, {"exhausted", u.exhausted}});
  }
  TextTable failures({"OBJECT", "WHY IT HAS NO ADDRESS"});
  j["without_address"] = json::array();
  for (const auto& [who, why] : c.failures()) {
    failures.Add({who, why});
    j["without_address"].push_back({{"object", who}, {"why", why}});
  }
  const ApplyLatency& l = c.apply_latency();
  const ClusterCounters& k = c.counters();
  j["applies"] = k.applies;
  j["apply_failures"] = k.apply_failures;
  j["last_apply_latency_s"] = l.last_s;
  j["mean_apply_latency_s"] = l.count == 0 ? 0.0 : l.sum_s / static_cast<double>(l.count);
  if (as_json) return Json(j);
  bool all_connected = true;
  for (const ClusterSourceStatus& s : c.SourceStatus()) {
    all_connected = all_connected && s.connected;
  }
  return Ok(absl::StrCat(
      "sources\n", sources.Render(),
      all_connected ? ""
                    : "a source is disconnected: translating with the last known state of its "
                      "cluster\n", "\naddress pools\n", pools.Render(),
      c.failures().empty() ? "\nevery pod and service that wants an address has one\n"
                           : absl::StrCat("\nwithout an address\n", failures.Render()),
      absl::StrFormat("\napplied %u changes (%u refused); last apply took %.2f ms\n", k.applies,
                      k.apply_failures, l.last_s * 1e3)));
}

}  // namespace natgw::control
