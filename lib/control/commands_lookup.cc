// `lookup EXTERNAL_IP[:PORT] --at TIME`: who held an external address at a past time. Live
// sessions answer for times inside their span; the event log files (rotated ones included) answer
// for the rest.
#include <rte_byteorder.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "lib/control/commands.h"
#include "lib/net/builder.h"
#include "lib/net/headers.h"
#include "lib/telemetry/event_lookup.h"

namespace natgw::control {

using telemetry::FormatEndpoint;

CtlReply GatewayCommands::LookupAt(const std::string& what, const std::string& at, bool as_json) {
  telemetry::LookupQuery q;
  if (absl::Status s = telemetry::ParseLookupTarget(what, &q); !s.ok()) {
    return CtlReply{false, std::string(s.message()) + "\n"};
  }
  absl::StatusOr<int64_t> at_ms = telemetry::ParseTime(at);
  if (!at_ms.ok()) return CtlReply{false, std::string(at_ms.status().message()) + "\n"};
  q.at_ms = *at_ms;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  if (q.at_ms > now_ms + 1000) {
    return CtlReply{false, absl::StrCat("time ", at, " is in the future (now is ",
                                        telemetry::FormatTime(now_ms), ")\n")};
  }
  std::vector<telemetry::Holder> holders;
  // Live sessions whose span [created, now] holds the time (created is known to the second).
  const uint32_t now_s = hooks_.now_s ? hooks_.now_s() : 0;
  const nat::MappingTable& mt = *engine_->mappings();
  engine_->ForEachSession([&](uint32_t, const conntrack::Session& s) {
    if (s.kind == conntrack::SessionKind::kBinding || s.out_key.dst_ip != q.ip) return;
    if (q.port != 0 && rte_be_to_cpu_16(s.out_key.dst_port) != q.port) return;
    const int64_t created_ms =
        now_ms - int64_t{now_s > s.created_s ? now_s - s.created_s : 0} * 1000;
    if (q.at_ms < created_ms - 1000) return;
    telemetry::Holder h;
    h.source = "live";
    h.record = "session";
    h.island = IslandName(s.in_key.realm);
    if (const nat::PodIdentity* p = mt.FindPod(s.in_key.realm, s.in_key.src_ip)) {
      h.ns = p->ns;
      h.name = p->name;
      h.uid = p->uid;
    }
    const uint8_t proto = s.in_key.proto;
    h.pod_ip = net::FormatIp(s.in_key.src_ip);
    h.proto = net::ProtoName(proto);
    h.inside = FormatEndpoint(s.in_key.src_ip, s.in_key.src_port, proto);
    h.external = FormatEndpoint(s.out_key.dst_ip, s.out_key.dst_port, proto);
    h.remote = FormatEndpoint(s.out_key.src_ip, s.out_key.src_port, proto);
    h.from_ms = created_ms;
    holders.push_back(std::move(h));
  });
  if (config_->event_log.mode != EventLogMode::kOff) {
    absl::StatusOr<std::vector<telemetry::Holder>> logged =
        telemetry::LookupInLog(config_->event_log.path, q);
    if (!logged.ok()) return CtlReply{false, std::string(logged.status().message()) + "\n"};
    for (telemetry::Holder& h : *logged) {
      bool live = false;
      for (const telemetry::Holder& l : holders) {
        live |= l.source == "live" && h.until_ms < 0 && l.inside == h.inside &&
                l.external == h.external && l.remote == h.remote && l.proto == h.proto;
      }
      if (!live) holders.push_back(std::move(h));
    }
  } else if (q.at_ms >= now_ms - 2000) {
    // No log: a 1:1 address can still be named for "now".
    if (const nat::MappingTable::PodRef* p = mt.PodForExternal(q.ip)) {
      telemetry::Holder h;
      h.source = "live";
      h.record = "mapping";
      h.island = IslandName(p->island);
      if (const nat::PodIdentity* id = mt.FindPod(p->island, p->pod_ip)) {
        h.ns = id->ns;
        h.name = id->name;
        h.uid = id->uid;
      }
      h.pod_ip = h.inside = net::FormatIp(p->pod_ip);
      h.external = net::FormatIp(q.ip);
      h.from_ms = now_ms;
      holders.push_back(std::move(h));
    }
  }
  return CtlReply{true, telemetry::RenderLookup(what, q, holders, as_json)};
}

}  // namespace natgw::control
