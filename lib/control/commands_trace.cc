// `natgwctl trace POD`: everything the gateway holds for one pod — who it is, its unique
// address, the egress pool address its flows leave from, the services it backs, and its live
// sessions. POD is ISLAND/POD_IP ("c1/10.0.0.5") or NAMESPACE/NAME ("default/pod-a"; every
// island where that pod is known).
#include <rte_byteorder.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/conntrack/tcp_state.h"
#include "lib/control/commands.h"
#include "lib/net/builder.h"
#include "lib/net/headers.h"
#include "nlohmann/json.hpp"

namespace natgw::control {
namespace {

using net::FormatIp;
using nlohmann::json;

std::string Where(uint32_t ip_be, uint16_t port_be, uint8_t proto) {
  if (proto != net::kProtoTcp && proto != net::kProtoUdp && proto != net::kProtoIcmp) {
    return FormatIp(ip_be);
  }
  return absl::StrCat(FormatIp(ip_be), proto == net::kProtoIcmp ? "#" : ":",
                      rte_be_to_cpu_16(port_be));
}

struct PodKey {
  uint16_t island;
  uint32_t pod_ip;
};

}  // namespace

CtlReply GatewayCommands::Trace(const std::string& pod, bool as_json) {
  const nat::MappingTable& mt = *engine_->mappings();
  const nat::NatConfig& nc = mt.config();
  std::pair<std::string, std::string> parts = absl::StrSplit(pod, absl::MaxSplits('/', 1));
  if (parts.second.empty()) {
    return CtlReply{false, absl::StrCat("trace ", pod,
                                        ": use ISLAND/POD_IP (c1/10.0.0.5) or NAMESPACE/NAME\n")};
  }
  std::vector<PodKey> pods;
  const uint32_t ip = net::ParseIp(parts.second.c_str());
  int island = -1;
  for (size_t i = 0; i < config_->island_names.size(); ++i) {
    if (!config_->island_names[i].empty() && config_->island_names[i] == parts.first) {
      island = static_cast<int>(i);
    }
  }
  uint32_t id;
  if (island < 0 && absl::SimpleAtoi(parts.first, &id) &&
      mt.island(static_cast<uint16_t>(id)) != nullptr) {
    island = static_cast<int>(id);
  }
  if (ip != 0 && island >= 0) {
    pods.push_back({static_cast<uint16_t>(island), ip});
  } else {
    // NAMESPACE/NAME: the cluster sources' pods, then the static mappings' names.
    auto add = [&](uint16_t isl, uint32_t pod_ip) {
      for (const PodKey& k : pods) {
        if (k.island == isl && k.pod_ip == pod_ip) return;
      }
      pods.push_back({isl, pod_ip});
    };
    for (const nat::PodIdentity& p : nc.pods) {
      if (p.ns == parts.first && p.name == parts.second) add(p.island, p.pod_ip);
    }
    for (const nat::PodMappingConfig& m : nc.pod_mappings) {
      const nat::PodIdentity* who = mt.FindPod(m.island, m.pod_ip);
      if (m.name == pod ||
          (who != nullptr && who->ns == parts.first && who->name == parts.second)) {
        add(m.island, m.pod_ip);
      }
    }
    if (pods.empty()) {
      return CtlReply{false, absl::StrCat("trace ", pod, ": no pod of that name is known, and '",
                                          parts.first, "' is not an island\n")};
    }
  }

  const uint32_t now = hooks_.now_s ? hooks_.now_s() : 0;
  json all = json::array();
  std::string out;
  for (const PodKey& k : pods) {
    json j = {{"island", IslandName(k.island)}, {"pod", FormatIp(k.pod_ip)}};
    const nat::PodIdentity* who = mt.FindPod(k.island, k.pod_ip);
    j["namespace"] = who != nullptr ? who->ns : "";
    j["name"] = who != nullptr ? who->name : "";
    j["uid"] = who != nullptr ? who->uid : "";
    const uint32_t unique = mt.ExternalForPod(k.island, k.pod_ip);
    j["unique_address"] = unique != 0 ? json(FormatIp(unique)) : json(nullptr);
    // A pod with a unique address uses it for every flow; the others leave from their paired
    // egress address.
    json egress = nullptr;
    const nat::IslandEntry* isl = mt.island(k.island);
    if (unique == 0 && isl != nullptr && isl->pool >= 0) {
      const nat::PoolEntry& p = *mt.pool(isl->pool);
      egress = FormatIp(p.addresses[mt.PairedAddressIndex(p, k.island, k.pod_ip)]);
    }
    j["egress_address"] = egress;
    j["services"] = json::array();
    std::vector<std::string> services;
    for (const nat::ServiceConfig& s : nc.services) {
      for (const nat::BackendConfig& b : s.backends) {
        if (b.island != k.island || b.pod_ip != k.pod_ip) continue;
        const std::string vip =
            absl::StrCat(FormatIp(s.vip), ":", s.port, "/", net::ProtoName(s.proto));
        j["services"].push_back({{"name", s.name}, {"vip", vip}, {"pod_port", b.port}});
        services.push_back(absl::StrCat(s.name, " ", vip, " -> port ", b.port));
      }
    }
    j["sessions"] = json::array();
    std::string rows;
    uint64_t bindings = 0;
    engine_->ForEachSession([&](uint32_t, const conntrack::Session& s) {
      if (s.in_key.realm != k.island || s.in_key.src_ip != k.pod_ip) return;
      if (s.kind == conntrack::SessionKind::kBinding) {
        ++bindings;
        return;
      }
      const uint8_t p = s.in_key.proto;
      const std::string state =
          p == net::kProtoTcp
              ? conntrack::TcpStateName(static_cast<conntrack::TcpState>(s.tcp_state.load()))
              : "-";
      const uint32_t seen = s.last_seen_s.load(std::memory_order_relaxed);
      const uint32_t idle = now > seen ? now - seen : 0;
      json row = {{"proto", net::ProtoName(p)},
                  {"inside", Where(s.in_key.src_ip, s.in_key.src_port, p)},
                  {"external", Where(s.out_key.dst_ip, s.out_key.dst_port, p)},
                  {"remote", Where(s.out_key.src_ip, s.out_key.src_port, p)},
                  {"kind", conntrack::SessionKindName(s.kind)},
                  {"state", state},
                  {"idle_s", idle}};
      absl::StrAppend(&rows, "    ", row["proto"].get<std::string>(), " ",
                      row["inside"].get<std::string>(), " -> ", row["external"].get<std::string>(),
                      " <-> ", row["remote"].get<std::string>(), "  ",
                      row["kind"].get<std::string>(), " ", state, " idle ", idle, "s\n");
      j["sessions"].push_back(std::move(row));
    });
    j["bindings"] = bindings;
    all.push_back(j);

    const std::string ident =
        who == nullptr ? "unknown pod"
                       : absl::StrCat(who->ns.empty() ? "" : who->ns + "/", who->name,
                                      who->uid.empty() ? "" : " uid " + who->uid);
    absl::StrAppend(&out, "pod ", IslandName(k.island), "/", FormatIp(k.pod_ip), " (", ident,
                    ")\n");
    absl::StrAppend(&out, "  unique address  ", unique != 0 ? FormatIp(unique) : "none", "\n");
    absl::StrAppend(&out, "  egress address  ",
                    egress.is_null()
                        ? (unique != 0 ? "- (the unique address is used)" : "none (no egress pool)")
                        : egress.get<std::string>(),
                    "\n");
    absl::StrAppend(&out, "  services        ",
                    services.empty() ? "none" : absl::StrJoin(services, "; "), "\n");
    absl::StrAppend(&out, "  sessions        ", j["sessions"].size(), " (and ", bindings,
                    " bindings)\n", rows);
  }
  if (as_json) return CtlReply{true, json{{"query", pod}, {"pods", all}}.dump(2) + "\n"};
  return CtlReply{true, out};
}

}  // namespace natgw::control
