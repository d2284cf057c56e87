#include "lib/telemetry/dpdk_telemetry.h"

#include <rte_telemetry.h>

#include <map>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/conntrack/session.h"
#include "lib/conntrack/tcp_state.h"
#include "lib/conntrack/worker_sessions.h"
#include "lib/dataplane/counters.h"
#include "lib/nat/counters.h"
#include "lib/net/builder.h"
#include "lib/net/headers.h"
#include "nlohmann/json.hpp"

namespace natgw::telemetry {
namespace {

using Section = TelemetrySnapshot::Section;

// The latest snapshot (see the header: DPDK's callbacks have no context pointer).
std::mutex g_mu;
std::shared_ptr<const TelemetrySnapshot> g_snapshot;  // guarded by g_mu

std::shared_ptr<const TelemetrySnapshot> Latest() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_snapshot;
}

const Section* Find(const TelemetrySnapshot& s, const std::string& command) {
  if (command == "/natgw/stats") return &s.stats;
  if (command == "/natgw/sessions") return &s.sessions;
  if (command == "/natgw/drops") return &s.drops;
  if (command == "/natgw/workers") return &s.workers;
  if (command == "/natgw/pools") return &s.pools;
  if (command == "/natgw/mappings") return &s.mappings;
  return nullptr;
}

// DPDK accepts only letters, digits, '_' and '/' in names: "c1-outside" becomes "c1_outside",
// "192.0.2.16" becomes "192_0_2_16".
std::string Key(const std::string& name) {
  std::string k = name.substr(0, RTE_TEL_MAX_STRING_LEN - 1);
  for (char& ch : k) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '/') ch = '_';
  }
  return k;
}

// DPDK limits: 256 entries per dict, 512 per array, 128 bytes per string, and containers one
// level deep (a section's children carry values only).
void Fill(const Section& s, rte_tel_data* d) {
  rte_tel_data_start_dict(d);
  int entries = 0;
  for (const auto& [k, v] : s.values) {
    if (++entries > RTE_TEL_MAX_DICT_ENTRIES) return;
    rte_tel_data_add_dict_u64(d, Key(k).c_str(), v);
  }
  for (const auto& [k, child] : s.children) {
    if (++entries > RTE_TEL_MAX_DICT_ENTRIES) return;
    rte_tel_data* c = rte_tel_data_alloc();
    if (c == nullptr) return;
    Fill(Section{child, {}, {}, {}}, c);
    rte_tel_data_add_dict_container(d, Key(k).c_str(), c, 0);  // DPDK frees c
  }
  if (s.list_name.empty() || ++entries > RTE_TEL_MAX_DICT_ENTRIES) return;
  rte_tel_data* list = rte_tel_data_alloc();
  if (list == nullptr) return;
  rte_tel_data_start_array(list, RTE_TEL_STRING_VAL);
  for (size_t i = 0; i < s.list.size() && i < RTE_TEL_MAX_ARRAY_ENTRIES; ++i) {
    rte_tel_data_add_array_string(list, s.list[i].substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
  }
  rte_tel_data_add_dict_container(d, Key(s.list_name).c_str(), list, 0);
}

int Callback(const char* cmd, const char* /*params*/, rte_tel_data* d) {
  const std::shared_ptr<const TelemetrySnapshot> s = Latest();
  if (s == nullptr) {
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_int(d, "running", 0);
    return 0;
  }
  const Section* section = Find(*s, cmd);
  if (section == nullptr) return -1;
  Fill(*section, d);
  return 0;
}

nlohmann::json ToJson(const Section& s) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : s.values) j[Key(k)] = v;
  for (const auto& [k, child] : s.children) j[Key(k)] = ToJson(Section{child, {}, {}, {}});
  if (!s.list_name.empty()) j[Key(s.list_name)] = s.list;
  return j;
}

struct Command {
  const char* name;
  const char* help;
};
constexpr Command kCommands[] = {
    {"/natgw/stats",
     "natgw: packets by direction, sessions created/expired, drop totals, interfaces"},
    {"/natgw/sessions", "natgw: live sessions by kind, protocol, island and TCP state"},
    {"/natgw/drops", "natgw: every drop reason of the engine and the dataplane"},
    {"/natgw/workers", "natgw: per worker busy and total loop cycles, busy ratio"},
    {"/natgw/pools", "natgw: egress pool ports in use and capacity, exhaustion events"},
    {"/natgw/mappings", "natgw: mapping counts and the 1:1 pod addresses"},
};

std::string Lower(const char* s) { return absl::AsciiStrToLower(s); }

}  // namespace

const std::vector<std::string>& TelemetryCommands() {
  static const std::vector<std::string>* names = [] {
    auto* v = new std::vector<std::string>;
    for (const Command& c : kCommands) v->push_back(c.name);
    return v;
  }();
  return *names;
}

absl::Status RegisterTelemetryCommands() {
  static std::once_flag once;
  static absl::Status status;
  std::call_once(once, [] {
    for (const Command& c : kCommands) {
      if (rte_telemetry_register_cmd(c.name, Callback, c.help) != 0) {
        status = absl::InternalError(absl::StrCat("DPDK telemetry refused command ", c.name));
        return;
      }
    }
  });
  return status;
}

void PublishTelemetry(std::shared_ptr<const TelemetrySnapshot> snapshot) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_snapshot.swap(snapshot);
  // The old snapshot is freed here or by the last callback still holding it.
}

std::string TelemetryJsonForTest(const std::string& command) {
  const std::shared_ptr<const TelemetrySnapshot> s = Latest();
  if (s == nullptr) return nlohmann::json{{"running", 0}}.dump();
  const Section* section = Find(*s, command);
  return section == nullptr ? "null" : ToJson(*section).dump();
}

std::shared_ptr<const TelemetrySnapshot> BuildTelemetrySnapshot(
    const nat::Engine& engine, const dataplane::Dataplane* dataplane,
    const control::GatewayConfig& config, const std::vector<double>* busy_ratios) {
  auto out = std::make_shared<TelemetrySnapshot>();
  out->gateway = config.name;
  const nat::WorkerCounters c = engine.SumCounters();
  const std::unique_ptr<conntrack::SessionCounts> live = engine.SumSessionCounts();
  const dataplane::DataplaneCounters d =
      dataplane != nullptr ? dataplane->SumCounters() : dataplane::DataplaneCounters{};

  // /natgw/drops
  uint64_t engine_drops = 0, dataplane_drops = 0;
  Section engine_section, dataplane_section;
  for (int i = 0; i < nat::kNumDropReasons; ++i) {
    engine_section.values.emplace_back(nat::DropReasonName(static_cast<nat::DropReason>(i)),
                                       c.drops[i]);
    engine_drops += c.drops[i];
  }
  out->drops.children.emplace_back("engine", std::move(engine_section.values));
  if (dataplane != nullptr) {
    for (int i = 0; i < dataplane::kNumDrops; ++i) {
      dataplane_section.values.emplace_back(dataplane::DropName(static_cast<dataplane::Drop>(i)),
                                            d.drops[i]);
      dataplane_drops += d.drops[i];
    }
    out->drops.children.emplace_back("dataplane", std::move(dataplane_section.values));
  }
  out->drops.values = {{"engine_total", engine_drops}, {"dataplane_total", dataplane_drops}};

  // /natgw/stats
  Section& st = out->stats;
  st.values = {{"received_packets", c.event(nat::Event::kRxPackets)},
               {"in2out_packets", c.event(nat::Event::kIn2Out)},
               {"out2in_packets", c.event(nat::Event::kOut2In)},
               {"hairpin_packets", c.event(nat::Event::kHairpin)},
               {"stateless_in2out_packets", c.event(nat::Event::kStatelessIn2Out)},
               {"stateless_out2in_packets", c.event(nat::Event::kStatelessOut2In)},
               {"sessions_created", c.event(nat::Event::kSessionsCreated)},
               {"sessions_expired", c.event(nat::Event::kSessionsExpired)},
               {"sessions", live->Total()},
               {"session_capacity", engine.table().capacity()},
               {"engine_drops", engine_drops},
               {"dataplane_drops", dataplane_drops}};
  if (dataplane != nullptr) {  // one dict per interface, by name
    for (const dataplane::InterfaceStatus& i : dataplane->Interfaces()) {
      Section one;
      one.values = {{"rx_packets", i.rx_packets}, {"tx_packets", i.tx_packets},
                    {"rx_bytes", i.rx_bytes},     {"tx_bytes", i.tx_bytes},
                    {"rx_missed", i.rx_missed},   {"rx_nombuf", i.rx_nombuf},
                    {"rx_errors", i.rx_errors},   {"tx_errors", i.tx_errors},
                    {"tx_dropped", i.tx_dropped},
                    {"link_up", i.link_up ? 1u : 0u}};
      st.children.emplace_back(i.name, std::move(one.values));
    }
  }

  // /natgw/sessions
  std::map<std::string, uint64_t> by_kind, by_proto, by_island;
  for (int r = 0; r < conntrack::SessionCounts::kRealms; ++r) {
    for (int k = 0; k < conntrack::SessionCounts::kKinds; ++k) {
      for (int p = 0; p < conntrack::SessionCounts::kProtos; ++p) {
        const uint64_t n = live->live[r][k][p];
        if (n == 0) continue;
        by_kind[conntrack::SessionKindName(static_cast<conntrack::SessionKind>(k))] += n;
        by_proto[net::ProtoName(conntrack::SessionCounts::kProtoOf[p])] += n;
        by_island[control::IslandName(config, static_cast<uint16_t>(r))] += n;
      }
    }
  }
  Section kinds, protos, islands, tcp;
  for (int k = 0; k < conntrack::SessionCounts::kKinds; ++k) {
    const char* name = conntrack::SessionKindName(static_cast<conntrack::SessionKind>(k));
    kinds.values.emplace_back(name, by_kind[name]);
  }
  for (int p = 0; p < conntrack::SessionCounts::kProtos; ++p) {
    const char* name = net::ProtoName(conntrack::SessionCounts::kProtoOf[p]);
    protos.values.emplace_back(name, by_proto[name]);
  }
  for (const auto& [name, n] : by_island) islands.values.emplace_back(name, n);
  for (int i = 1; i < conntrack::SessionCounts::kTcpStates; ++i) {
    tcp.values.emplace_back(Lower(conntrack::TcpStateName(static_cast<conntrack::TcpState>(i))),
                            live->tcp[i]);
  }
  out->sessions.values = {{"total", live->Total()}, {"capacity", engine.table().capacity()}};
  out->sessions.children = {{"by_kind", std::move(kinds.values)},
                            {"by_protocol", std::move(protos.values)},
                            {"by_island", std::move(islands.values)},
                            {"tcp_by_state", std::move(tcp.values)}};

  // /natgw/workers
  if (dataplane != nullptr) {
    const std::vector<dataplane::WorkerLoad> loads = dataplane->WorkerLoads();
    out->workers.values = {{"count", loads.size()}, {"tsc_hz", dataplane->tsc_hz()}};
    for (size_t i = 0; i < loads.size(); ++i) {
      Section w;
      const double ratio =
          busy_ratios != nullptr && i < busy_ratios->size() ? (*busy_ratios)[i] : 0.0;
      w.values = {{"busy_cycles", loads[i].busy_cycles},
                  {"total_cycles", loads[i].total_cycles},
                  {"busy_ppm", static_cast<uint64_t>(ratio * 1e6)}};  // no doubles in 22.11
      out->workers.children.emplace_back(absl::StrCat(i), std::move(w.values));
    }
  } else {
    out->workers.values = {{"count", engine.num_workers()}};
  }

  // /natgw/pools
  const nat::PortAllocatorRegistry& reg = engine.allocators();
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_address;
  for (uint32_t i = 0; i < reg.size(); ++i) {
    const nat::PortAllocator* a = reg.Get(static_cast<uint16_t>(i));
    if (a == nullptr) continue;
    auto& [in_use, capacity] = by_address[net::FormatIp(a->address())];
    in_use += a->InUse();
    capacity = 1023 + (a->port_max() - a->port_min() + 1);
  }
  uint64_t ports_in_use = 0;
  for (const auto& [addr, n] : by_address) {
    Section one;
    one.values = {{"ports_in_use", n.first}, {"ports", n.second}};
    out->pools.children.emplace_back(addr, std::move(one.values));
    ports_in_use += n.first;
  }
  out->pools.values = {{"egress_addresses", by_address.size()},
                       {"ports_in_use", ports_in_use},
                       {"ports_exhausted", c.drop(nat::DropReason::kPoolPortsExhausted)},
                       {"session_table_full", c.drop(nat::DropReason::kSessionTableFull)}};

  // /natgw/mappings
  if (const nat::MappingTable* mt = engine.mappings()) {
    const nat::NatConfig& nc = mt->config();
    out->mappings.values = {{"pod_addresses", nc.pod_mappings.size()},
                            {"egress_pools", nc.egress_pools.size()},
                            {"services", nc.services.size()}};
    out->mappings.list_name = "pods";
    for (const auto& m : nc.pod_mappings) {
      out->mappings.list.push_back(absl::StrCat(control::IslandName(config, m.island), "/",
                                                net::FormatIp(m.pod_ip), " ",
                                                net::FormatIp(m.external_ip),
                                                m.name.empty() ? "" : " ", m.name));
    }
  }
  return out;
}

}  // namespace natgw::telemetry
