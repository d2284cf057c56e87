#include "lib/telemetry/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "lib/conntrack/session.h"
#include "lib/conntrack/session_table.h"
#include "lib/conntrack/tcp_state.h"
#include "lib/conntrack/worker_sessions.h"
#include "lib/dataplane/counters.h"
#include "lib/nat/counters.h"
#include "lib/net/builder.h"
#include "lib/net/headers.h"

namespace natgw::telemetry {
namespace {

// ---- Exposition ----

std::string EscapeLabel(absl::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class Writer {
 public:
  // Starts a family: # HELP and # TYPE.
  void Family(absl::string_view name, absl::string_view type, absl::string_view help) {
    absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }
  void Sample(absl::string_view name, uint64_t value) {
    absl::StrAppend(&out_, name, " ", value, "\n");
  }
  void Sample(absl::string_view name, absl::string_view label, absl::string_view label_value,
              uint64_t value) {
    absl::StrAppend(&out_, name, "{", label, "=\"", EscapeLabel(label_value), "\"} ", value, "\n");
  }
  // Labels already rendered: `k1="v1",k2="v2"`.
  void SampleLabels(absl::string_view name, absl::string_view labels, uint64_t value) {
    absl::StrAppend(&out_, name, "{", labels, "} ", value, "\n");
  }
  void SampleDouble(absl::string_view name, absl::string_view label, absl::string_view label_value,
                    double value) {
    absl::StrAppend(&out_, name, "{", label, "=\"", EscapeLabel(label_value), "\"} ",
                    absl::StrFormat("%.6f", value), "\n");
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// The engine events that have a family of their own; the rest go to natgw_engine_events_total.
const char* Direction(nat::Event e) {
  switch (e) {
    case nat::Event::kIn2Out: return "in2out";
    case nat::Event::kOut2In: return "out2in";
    case nat::Event::kHairpin: return "hairpin";
    case nat::Event::kStatelessIn2Out: return "stateless_in2out";
    case nat::Event::kStatelessOut2In: return "stateless_out2in";
    default: return nullptr;
  }
}
bool HasOwnFamily(nat::Event e) {
  return Direction(e) != nullptr || e == nat::Event::kRxPackets ||
         e == nat::Event::kSessionsCreated || e == nat::Event::kSessionsExpired ||
         e == nat::Event::kPodMappingSessions || e == nat::Event::kEgressPoolSessions ||
         e == nat::Event::kServiceSessions || e == nat::Event::kBindingsCreated;
}

constexpr std::pair<const char*, nat::Event> kCreatedByKind[] = {
    {"pod_address", nat::Event::kPodMappingSessions},
    {"egress_pool", nat::Event::kEgressPoolSessions},
    {"service", nat::Event::kServiceSessions},
    {"binding", nat::Event::kBindingsCreated},
};

const char* PoolKindName(control::PoolKind k) {
  switch (k) {
    case control::PoolKind::kUnique: return "unique";
    case control::PoolKind::kEgress: return "egress";
    case control::PoolKind::kVip: return "vip";
  }
  return "unknown";
}

bool InPool(const control::PoolConfig& p, uint32_t ip) {
  for (const nat::Cidr& c : p.ranges) {
    if (c.Contains(ip)) return true;
  }
  return false;
}

uint64_t PoolSize(const control::PoolConfig& p) {
  uint64_t n = 0;
  for (const nat::Cidr& c : p.ranges) n += uint64_t{1} << (32 - c.len);
  return n;
}

// Pool utilisation: addresses per pool and how many are in use (unique: mapped to a pod;
// egress: holding at least one port; vip: carrying a service), ports per egress address, and
// port exhaustion. The cluster allocator's own pool families (natgw_pool_addresses{pool,state},
// natgw_pool_exhausted_total{pool}, lib/telemetry/cluster_metrics.h) use other names.
void RenderPools(const nat::Engine& engine, const control::GatewayConfig& config,
                 const nat::WorkerCounters& c, Writer* w) {
  const nat::PortAllocatorRegistry& reg = engine.allocators();
  std::map<uint32_t, std::pair<uint64_t, uint64_t>> ports;  // address -> (in use, capacity)
  for (uint32_t i = 0; i < reg.size(); ++i) {
    const nat::PortAllocator* a = reg.Get(static_cast<uint16_t>(i));
    if (a == nullptr) continue;
    auto& [in_use, capacity] = ports[a->address()];
    in_use += a->InUse();
    capacity = 1023 + (a->port_max() - a->port_min() + 1);
  }
  const nat::MappingTable* mt = engine.mappings();
  w->Family("natgw_pool_size", "gauge", "Addresses of each configured pool.");
  for (const control::PoolConfig& p : config.pools) {
    w->SampleLabels(
        "natgw_pool_size",
        absl::StrCat("pool=\"", EscapeLabel(p.name), "\",kind=\"", PoolKindName(p.kind), "\""),
        PoolSize(p));
  }
  w->Family("natgw_pool_addresses_in_use", "gauge",
            "Pool addresses in use: unique ones mapped to a pod, egress ones holding a port, VIPs "
            "carrying a service.");
  for (const control::PoolConfig& p : config.pools) {
    std::set<uint32_t> used;
    if (mt != nullptr) {
      if (p.kind == control::PoolKind::kUnique) {
        for (const auto& m : mt->config().pod_mappings) {
          if (InPool(p, m.external_ip)) used.insert(m.external_ip);
        }
      } else if (p.kind == control::PoolKind::kVip) {
        for (const auto& s : mt->config().services) {
          if (InPool(p, s.vip)) used.insert(s.vip);
        }
      }
    }
    if (p.kind == control::PoolKind::kEgress) {
      for (const auto& [addr, n] : ports) {
        if (n.first != 0 && InPool(p, addr)) used.insert(addr);
      }
    }
    w->SampleLabels(
        "natgw_pool_addresses_in_use",
        absl::StrCat("pool=\"", EscapeLabel(p.name), "\",kind=\"", PoolKindName(p.kind), "\""),
        used.size());
  }
  w->Family("natgw_pool_ports_in_use", "gauge", "Ports in use per egress pool address.");
  for (const auto& [addr, n] : ports) {
    w->Sample("natgw_pool_ports_in_use", "address", net::FormatIp(addr), n.first);
  }
  w->Family("natgw_pool_ports", "gauge",
            "Ports an egress pool address can hand out (1..1023 and its range).");
  for (const auto& [addr, n] : ports) {
    w->Sample("natgw_pool_ports", "address", net::FormatIp(addr), n.second);
  }
  // (natgw_pool_exhausted_total{pool} is the cluster allocator's: unique addresses refused.)
  w->Family("natgw_pool_ports_exhausted_total", "counter",
            "New flows refused because the pod's egress address had no free port.");
  w->Sample("natgw_pool_ports_exhausted_total", c.drop(nat::DropReason::kPoolPortsExhausted));
}

// ---- HTTP ----

constexpr int kClientDeadlineMs = 1000;  // the whole exchange with one client
constexpr size_t kMaxRequestBytes = 8192;
constexpr int kMaxClientsPerPoll = 8;

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

int RemainingMs(int64_t deadline) {
  const int64_t left = deadline - NowMs();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Writes everything unless the deadline passes or the client goes away. `fd` is non-blocking.
bool WriteAll(int fd, absl::string_view data, int64_t deadline) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      const int wait = RemainingMs(deadline);
      if (wait == 0 || poll(&p, 1, wait) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

std::string Response(absl::string_view status, absl::string_view content_type,
                     absl::string_view body, bool head, absl::string_view extra_headers = "") {
  return absl::StrCat("HTTP/1.0 ", status, "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(), "\r\n", extra_headers,
                      "Connection: close\r\n\r\n", head ? "" : body);
}

}  // namespace

std::string RenderMetrics(const nat::Engine& engine, const dataplane::Dataplane* dataplane,
                          const control::GatewayConfig& config,
                          const std::vector<double>* busy_ratios) {
  Writer w;
  const nat::WorkerCounters c = engine.SumCounters();

  w.Family("natgw_info", "gauge", "Information about the gateway; always 1.");
  w.Sample("natgw_info", "gateway", config.name, 1);

  w.Family("natgw_received_packets_total", "counter",
           "Packets handed to the translation engine, on either side.");
  w.Sample("natgw_received_packets_total", c.event(nat::Event::kRxPackets));

  w.Family("natgw_packets_total", "counter", "Packets translated and forwarded, by direction.");
  for (int i = 0; i < nat::kNumEvents; ++i) {
    if (const char* d = Direction(static_cast<nat::Event>(i))) {
      w.Sample("natgw_packets_total", "direction", d, c.events[i]);
    }
  }

  w.Family("natgw_drops_total", "counter",
           "Packets dropped by the translation engine, by reason (every reason, zero included).");
  for (int i = 0; i < nat::kNumDropReasons; ++i) {
    w.Sample("natgw_drops_total", "reason", nat::DropReasonName(static_cast<nat::DropReason>(i)),
             c.drops[i]);
  }

  w.Family("natgw_engine_events_total", "counter",
           "Other translation engine events (ICMP, fragments, bindings, sessions by kind).");
  for (int i = 0; i < nat::kNumEvents; ++i) {
    const auto e = static_cast<nat::Event>(i);
    if (!HasOwnFamily(e)) {
      w.Sample("natgw_engine_events_total", "event", nat::EventName(e), c.events[i]);
    }
  }

  w.Family(
      "natgw_sessions_created_total", "counter",
      "Sessions created (translations set up), by kind; binding = endpoint-independent binding.");
  for (const auto& [kind, e] : kCreatedByKind) {
    w.Sample("natgw_sessions_created_total", "kind", kind, c.event(e));
  }
  w.Family("natgw_sessions_expired_total", "counter",
           "Sessions removed after their idle timeout, a flush or a reload.");
  w.Sample("natgw_sessions_expired_total", c.event(nat::Event::kSessionsExpired));

  // Live sessions: the workers' own counts, no table walk.
  const std::unique_ptr<conntrack::SessionCounts> live = engine.SumSessionCounts();
  w.Family("natgw_sessions", "gauge", "Live sessions by protocol, kind and island.");
  for (int r = 0; r < conntrack::SessionCounts::kRealms; ++r) {
    for (int k = 0; k < conntrack::SessionCounts::kKinds; ++k) {
      for (int p = 0; p < conntrack::SessionCounts::kProtos; ++p) {
        const uint64_t n = live->live[r][k][p];
        if (n == 0) continue;
        w.SampleLabels(
            "natgw_sessions",
            absl::StrCat(
                "protocol=\"", net::ProtoName(conntrack::SessionCounts::kProtoOf[p]), "\",kind=\"",
                conntrack::SessionKindName(static_cast<conntrack::SessionKind>(k)), "\",island=\"",
                EscapeLabel(control::IslandName(config, static_cast<uint16_t>(r))), "\""),
            n);
      }
    }
  }
  w.Family("natgw_tcp_sessions", "gauge", "Live TCP sessions (bindings aside) by state.");
  for (int i = 1; i < conntrack::SessionCounts::kTcpStates; ++i) {
    w.Sample("natgw_tcp_sessions", "state",
             absl::AsciiStrToLower(conntrack::TcpStateName(static_cast<conntrack::TcpState>(i))),
             live->tcp[i]);
  }
  w.Family("natgw_session_capacity", "gauge", "Size of the session table.");
  w.Sample("natgw_session_capacity", engine.table().capacity());
  // Read from /proc/self/smaps at each scrape: transparent huge pages can be split later.
  const conntrack::SessionTablePages pages = engine.table().Pages();
  w.Family("natgw_session_table_bytes", "gauge",
           "Memory of the session table by page kind: reserved 2 MiB hugepages, transparent huge "
           "pages, 4 KiB pages (every lookup in a big table on 4 KiB pages also misses the TLB).");
  w.Sample("natgw_session_table_bytes", "pages", "hugetlb", pages.hugetlb_bytes);
  w.Sample("natgw_session_table_bytes", "pages", "transparent", pages.thp_bytes);
  w.Sample("natgw_session_table_bytes", "pages", "4k", pages.on_4k_bytes());

  RenderPools(engine, config, c, &w);

  w.Family("natgw_mappings", "gauge", "Configured 1:1 pod addresses, egress pools and services.");
  if (const nat::MappingTable* m = engine.mappings()) {
    w.Sample("natgw_mappings", "kind", "pod_address", m->config().pod_mappings.size());
    w.Sample("natgw_mappings", "kind", "egress_pool", m->config().egress_pools.size());
    w.Sample("natgw_mappings", "kind", "service", m->config().services.size());
  }

  if (dataplane == nullptr) return w.Take();

  const dataplane::DataplaneCounters d = dataplane->SumCounters();
  w.Family("natgw_dataplane_drops_total", "counter",
           "Frames dropped by the dataplane (layer 2, ARP, routing, transmit), by reason.");
  for (int i = 0; i < dataplane::kNumDrops; ++i) {
    w.Sample("natgw_dataplane_drops_total", "reason",
             dataplane::DropName(static_cast<dataplane::Drop>(i)), d.drops[i]);
  }
  w.Family("natgw_dataplane_events_total", "counter",
           "Dataplane events: frames received and sent, ARP, hold queue, neighbors.");
  for (int i = 0; i < dataplane::kNumEvents; ++i) {
    w.Sample("natgw_dataplane_events_total", "event",
             dataplane::EventName(static_cast<dataplane::Event>(i)), d.events[i]);
  }

  const std::vector<dataplane::InterfaceStatus> ifs = dataplane->Interfaces();
  struct Column {
    const char* name;
    const char* type;
    const char* help;
    uint64_t dataplane::InterfaceStatus::*field;
  };
  const Column columns[] = {
      {"natgw_interface_rx_packets_total", "counter", "Packets received by the port.",
       &dataplane::InterfaceStatus::rx_packets},
      {"natgw_interface_tx_packets_total", "counter", "Packets sent by the port.",
       &dataplane::InterfaceStatus::tx_packets},
      {"natgw_interface_rx_bytes_total", "counter", "Bytes received by the port.",
       &dataplane::InterfaceStatus::rx_bytes},
      {"natgw_interface_tx_bytes_total", "counter", "Bytes sent by the port.",
       &dataplane::InterfaceStatus::tx_bytes},
      {"natgw_interface_rx_missed_total", "counter",
       "Packets the NIC dropped for lack of RX descriptors.",
       &dataplane::InterfaceStatus::rx_missed},
      {"natgw_interface_rx_nombuf_total", "counter",
       "Receive-ring refills that failed for want of mbufs (the pool was empty).",
       &dataplane::InterfaceStatus::rx_nombuf},
      {"natgw_interface_rx_errors_total", "counter", "Frames the port received in error.",
       &dataplane::InterfaceStatus::rx_errors},
      {"natgw_interface_tx_errors_total", "counter", "Frames the port failed to send.",
       &dataplane::InterfaceStatus::tx_errors},
      {"natgw_interface_tx_dropped_total", "counter", "Frames the TX queue refused.",
       &dataplane::InterfaceStatus::tx_dropped},
  };
  for (const Column& col : columns) {
    w.Family(col.name, col.type, col.help);
    for (const auto& i : ifs) w.Sample(col.name, "interface", i.name, i.*col.field);
  }
  w.Family("natgw_interface_up", "gauge", "1 when the port's link is up.");
  for (const auto& i : ifs) w.Sample("natgw_interface_up", "interface", i.name, i.link_up ? 1 : 0);

  const std::vector<dataplane::MbufPoolStatus> pools = dataplane->MbufPools();
  w.Family("natgw_dataplane_mbuf_pool_size", "gauge", "mbufs in each of the ports' mbuf pools.");
  for (const auto& p : pools) w.Sample("natgw_dataplane_mbuf_pool_size", "pool", p.name, p.size);
  w.Family("natgw_dataplane_mbuf_pool_free", "gauge",
           "mbufs free in each pool; at 0 the ports cannot refill their receive rings.");
  for (const auto& p : pools) w.Sample("natgw_dataplane_mbuf_pool_free", "pool", p.name, p.free);

  const std::vector<dataplane::WorkerLoad> loads = dataplane->WorkerLoads();
  w.Family("natgw_worker_busy_cycles_total", "counter",
           "TSC cycles of worker loops that received at least one frame.");
  for (size_t i = 0; i < loads.size(); ++i) {
    w.Sample("natgw_worker_busy_cycles_total", "worker", absl::StrCat(i), loads[i].busy_cycles);
  }
  w.Family("natgw_worker_cycles_total", "counter", "TSC cycles of worker loops, busy or idle.");
  for (size_t i = 0; i < loads.size(); ++i) {
    w.Sample("natgw_worker_cycles_total", "worker", absl::StrCat(i), loads[i].total_cycles);
  }
  if (busy_ratios != nullptr) {
    w.Family(
        "natgw_worker_busy_ratio", "gauge",
        "Share of a worker's cycles spent in loops that did work, over the last second or so.");
    for (size_t i = 0; i < busy_ratios->size(); ++i) {
      w.SampleDouble("natgw_worker_busy_ratio", "worker", absl::StrCat(i), (*busy_ratios)[i]);
    }
  }
  w.Family("natgw_tsc_hz", "gauge", "TSC cycles per second (to turn cycle counters into seconds).");
  w.Sample("natgw_tsc_hz", dataplane->tsc_hz());
  return w.Take();
}

void WorkerLoadTracker::Update(const std::vector<dataplane::WorkerLoad>& loads, int64_t now_ms) {
  if (last_ms_ >= 0 && now_ms - last_ms_ < window_ms_ && last_.size() == loads.size()) return;
  if (last_.size() == loads.size()) {
    ratios_.assign(loads.size(), 0.0);
    for (size_t i = 0; i < loads.size(); ++i) {
      const uint64_t total = loads[i].total_cycles - last_[i].total_cycles;
      const uint64_t busy = loads[i].busy_cycles - last_[i].busy_cycles;
      ratios_[i] = total == 0 ? 0.0 : static_cast<double>(busy) / static_cast<double>(total);
    }
  } else {
    ratios_.assign(loads.size(), 0.0);
  }
  last_ = loads;
  last_ms_ = now_ms;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Listen(uint32_t address_be,
                                                                     uint16_t port) {
  const std::string where = absl::StrCat(net::FormatIp(address_be), ":", port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("metrics: socket: ", std::strerror(errno)));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = address_be;
  addr.sin_port = htons(port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 16) != 0) {
    const int err = errno;
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot listen for metrics on ", where, ": ", std::strerror(err),
        "; pick another [metrics] listen address or port, or set enabled = false"));
  }
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("metrics: getsockname: ", std::strerror(err)));
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(fd, address_be, ntohs(addr.sin_port)));
}

MetricsServer::~MetricsServer() { close(fd_); }

std::string MetricsServer::address() const {
  return absl::StrCat(net::FormatIp(address_be_), ":", port_);
}

void MetricsServer::Poll(int timeout_ms, const std::function<std::string()>& render) {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return;
  for (int i = 0; i < kMaxClientsPerPoll; ++i) {
    int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) return;  // EAGAIN: nothing more pending
    Serve(client, render);
    close(client);
  }
}

void MetricsServer::Serve(int client, const std::function<std::string()>& render) {
  const int64_t deadline = NowMs() + kClientDeadlineMs;
  std::string request;
  char buf[1024];
  // The request line and headers end at an empty line; only the request line matters.
  while (request.find("\r\n\r\n") == std::string::npos &&
         request.find("\n\n") == std::string::npos && request.size() < kMaxRequestBytes) {
    ssize_t n = recv(client, buf, sizeof(buf), 0);
    if (n > 0) {
      request.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) break;  // client closed its side: answer what we have
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return;
    pollfd p{client, POLLIN, 0};
    const int wait = RemainingMs(deadline);
    if (wait == 0 || poll(&p, 1, wait) <= 0) return;  // silent client: drop it
  }
  const std::string line = request.substr(0, request.find_first_of("\r\n"));
  // "METHOD SP TARGET [SP VERSION]"
  const size_t sp1 = line.find(' ');
  std::string method = line.substr(0, sp1);
  std::string target;
  if (sp1 != std::string::npos) {
    const size_t sp2 = line.find(' ', sp1 + 1);
    target = line.substr(sp1 + 1, sp2 == std::string::npos ? std::string::npos : sp2 - sp1 - 1);
  }
  const std::string path = target.substr(0, target.find('?'));
  const bool head = method == "HEAD";
  std::string response;
  if (sp1 == std::string::npos || target.empty()) {
    response = Response("400 Bad Request", "text/plain; charset=utf-8", "bad request\n", false);
  } else if (method != "GET" && !head) {
    response = Response("405 Method Not Allowed", "text/plain; charset=utf-8",
                        "only GET and HEAD\n", false, "Allow: GET, HEAD\r\n");
  } else if (path != "/metrics") {
    response = Response("404 Not Found", "text/plain; charset=utf-8",
                        "not found; metrics are at /metrics\n", head);
  } else {
    response = Response("200 OK", kContentType, render(), head);
  }
  WriteAll(client, response, deadline);
}

}  // namespace natgw::telemetry
