// Control side of the dataplane: creation, route and neighbor tables, worker state, snapshots
// for natgwctl, launch and teardown. Port bring-up is in ports.cc, the worker loop in
// worker_loop.cc.
#include "lib/dataplane/dataplane.h"

#include <glog/logging.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "lib/dataplane/arp.h"
#include "lib/dataplane/config_text.h"
#include "lib/dataplane/worker_state.h"
#include "lib/net/builder.h"

namespace natgw::dataplane {
namespace {

std::atomic<uint32_t> g_instances{0};

// SendGratuitousArp waits at most this long for worker 0 to make room in the control ring.
constexpr uint32_t kControlWaitUs = 100;
constexpr int kMaxControlWaits = 2000;

// Counts and frees the frames a TX queue refused.
void OnTxError(rte_mbuf** unsent, uint16_t count, void* userdata) {
  auto* sink = static_cast<TxDropSink*>(userdata);
  rte_pktmbuf_free_bulk(unsent, count);
  *sink->port_dropped += count;
  sink->counters->Count(Drop::kTxFull, count);
}

}  // namespace

Dataplane::Dataplane(const control::GatewayConfig& config, nat::Engine* engine,
                     const DataplaneOptions& options)
    : config_(config),
      engine_(engine),
      options_(options),
      instance_(g_instances.fetch_add(1)),
      hz_(rte_get_tsc_hz()),
      drain_tsc_(hz_ * options.drain_us / 1000000),
      hold_timeout_tsc_(hz_ * options.hold_timeout_ms / 1000) {}

absl::StatusOr<std::unique_ptr<Dataplane>> Dataplane::Create(const control::GatewayConfig& config,
                                                             nat::Engine* engine,
                                                             const DataplaneOptions& options) {
  if (engine == nullptr) return absl::InvalidArgumentError("Dataplane::Create: no engine");
  std::unique_ptr<Dataplane> dp(new Dataplane(config, engine, options));
  absl::Status s = dp->Init();
  if (!s.ok()) return s;  // the destructor undoes what Init did
  return dp;
}

absl::Status Dataplane::Init() {
  if (absl::Status s = FindPorts(); !s.ok()) return s;
  if (absl::Status s = BuildRoutes(); !s.ok()) return s;
  if (absl::Status s = CreatePools(); !s.ok()) return s;
  for (Port& port : ports_) {
    if (absl::Status s = StartPort(port); !s.ok()) return s;
  }
  NeighborTableConfig nc;
  nc.slots = options_.neighbor_slots;
  nc.hz = hz_;
  nc.reachable_s = options_.neighbor_reachable_s;
  nc.expire_s = std::max(options_.neighbor_expire_s, options_.neighbor_reachable_s);
  nc.incomplete_s = std::max<uint32_t>(1, (options_.hold_timeout_ms + 999) / 1000);
  nc.request_interval_ms = options_.arp_interval_ms;
  neighbors_ = std::make_unique<NeighborTable>(nc);
  const std::string ring_name = absl::StrCat("natgw_ctl", instance_);
  uint32_t ring_size = 16;
  while (ring_size < options_.control_ring_size) ring_size <<= 1;
  control_ring_ = rte_ring_create(ring_name.c_str(), ring_size, SOCKET_ID_ANY, RING_F_SC_DEQ);
  if (control_ring_ == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot create ring ", ring_name, ": ", rte_strerror(rte_errno)));
  }
  return CreateWorkers();
}

absl::Status Dataplane::BuildRoutes() {
  std::vector<RouteSpec> specs;
  for (uint16_t i = 0; i < ports_.size(); ++i) {
    const control::InterfaceConfig& ic = *ports_[i].config;
    RouteSpec s;
    s.realm = ports_[i].realm;
    s.destination = nat::Cidr{ic.address & PrefixMask(ic.prefix_len), ic.prefix_len};
    s.route = Route{i, 0};
    s.connected = true;
    s.origin = absl::StrCat(Where(config_, ic.line), "interface ", ic.name, " (connected ",
                            net::FormatIp(s.destination.addr), "/", ic.prefix_len, ")");
    specs.push_back(s);
  }
  for (const control::RouteConfig& rc : config_.routes) {
    const std::string origin =
        absl::StrCat(Where(config_, rc.line), "route ", net::FormatIp(rc.destination.addr), "/",
                     rc.destination.len, " via ", rc.via == 0 ? "on-link" : net::FormatIp(rc.via),
                     " dev ", rc.interface);
    if (rc.destination.len > 32) return absl::InvalidArgumentError(origin + ": bad prefix length");
    auto it = std::find_if(ports_.begin(), ports_.end(),
                           [&](const Port& p) { return p.config->name == rc.interface; });
    if (it == ports_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": no interface named \"", rc.interface, "\""));
    }
    const control::InterfaceConfig& ic = *it->config;
    const nat::Cidr subnet{ic.address & PrefixMask(ic.prefix_len), ic.prefix_len};
    if (rc.via != 0 && !subnet.Contains(rc.via)) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": the next hop is not on the subnet of interface ", ic.name, " (",
                       net::FormatIp(subnet.addr), "/", ic.prefix_len, ")"));
    }
    RouteSpec s;
    s.realm = it->realm;
    s.destination =
        nat::Cidr{rc.destination.addr & PrefixMask(rc.destination.len), rc.destination.len};
    s.route = Route{static_cast<uint16_t>(it - ports_.begin()), rc.via};
    s.origin = origin;
    specs.push_back(s);
  }
  auto table = RouteTable::Create(specs, instance_, SOCKET_ID_ANY, engine_->num_workers(),
                                  options_.max_cluster_routes);
  if (!table.ok()) return table.status();
  routes_ = std::move(*table);
  return absl::OkStatus();
}

absl::Status Dataplane::CreateWorkers() {
  for (uint32_t w = 0; w < engine_->num_workers(); ++w) {
    auto ws = std::make_unique<WorkerState>(w, &engine_->worker(w), options_);
    for (uint32_t i = 0; i < ports_.size(); ++i) {
      auto* buf = static_cast<rte_eth_dev_tx_buffer*>(rte_zmalloc_socket(
          "natgw_txbuf", RTE_ETH_TX_BUFFER_SIZE(nat::kMaxBurst), 0, ports_[i].socket_id));
      if (buf == nullptr) return absl::ResourceExhaustedError("cannot allocate TX buffers");
      ws->tx[i] = buf;
      rte_eth_tx_buffer_init(buf, nat::kMaxBurst);
      ws->sinks[i] = TxDropSink{&ws->tx_dropped[i], &ws->counters};
      rte_eth_tx_buffer_set_err_callback(buf, OnTxError, &ws->sinks[i]);
    }
    workers_.push_back(std::move(ws));
  }
  return absl::OkStatus();
}

Dataplane::~Dataplane() {
  for (auto& ws : workers_) {
    DiscardHeld(*ws);
    for (uint32_t i = 0; i < ports_.size(); ++i) {
      rte_eth_dev_tx_buffer* buf = ws->tx[i];
      if (buf == nullptr) continue;
      rte_pktmbuf_free_bulk(buf->pkts, buf->length);
      rte_free(buf);
    }
  }
  workers_.clear();
  if (control_ring_ != nullptr) {
    void* m;
    while (rte_ring_dequeue(control_ring_, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    rte_ring_free(control_ring_);
  }
  for (Port& port : ports_) {
    if (port.started) {
      int rc = rte_eth_dev_stop(port.port_id);
      if (rc != 0) LOG(WARNING) << "rte_eth_dev_stop " << port.port_id << ": " << rte_strerror(-rc);
    }
    if (port.configured) {
      int rc = rte_eth_dev_close(port.port_id);
      if (rc != 0) {
        LOG(WARNING) << "rte_eth_dev_close " << port.port_id << ": " << rte_strerror(-rc);
      }
    }
    if (port.started) LOG(INFO) << "interface " << port.config->name << ": closed";
  }
  routes_.reset();
  neighbors_.reset();
  for (auto& [socket, pool] : pools_) {
    const unsigned in_use = rte_mempool_in_use_count(pool);
    if (in_use == 0) {
      rte_mempool_free(pool);
    } else {
      LOG(WARNING) << "mbuf pool " << pool->name << ": " << in_use
                   << " mbufs still in use; leaving the pool to rte_eal_cleanup";
    }
  }
}

void Dataplane::Stop() { stop_.store(true, std::memory_order_relaxed); }

int Dataplane::LaunchTrampoline(void* arg) {
  auto* a = static_cast<LaunchArg*>(arg);
  a->dp->RunWorker(a->w);
  return 0;
}

absl::Status Dataplane::LaunchWorkers() {
  const uint32_t n = num_workers();
  if (rte_lcore_count() < n + 1) {
    return absl::FailedPreconditionError(absl::StrCat("EAL has ", rte_lcore_count(), " lcores; ", n,
                                                      " workers need ", n + 1,
                                                      " (the main lcore runs the control thread)"));
  }
  if (!launch_args_.empty()) return absl::FailedPreconditionError("workers already launched");
  launch_args_.assign(n, LaunchArg{this, 0});
  worker0_running_.store(true, std::memory_order_relaxed);  // about to: SendGratuitousArp may wait
  uint32_t w = 0;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (w == n) break;
    launch_args_[w] = LaunchArg{this, w};
    int rc = rte_eal_remote_launch(LaunchTrampoline, &launch_args_[w], lcore);
    if (rc != 0) {
      Stop();
      return absl::InternalError(
          absl::StrCat("rte_eal_remote_launch on lcore ", lcore, ": ", rte_strerror(-rc)));
    }
    LOG(INFO) << "worker " << w << " runs on lcore " << lcore;
    ++w;
  }
  return absl::OkStatus();
}

absl::Status Dataplane::SendGratuitousArp(const std::vector<uint32_t>& addresses) {
  rte_ether_addr broadcast;
  std::memset(broadcast.addr_bytes, 0xff, RTE_ETHER_ADDR_LEN);
  const rte_ether_addr zero{};
  uint32_t queued = 0;
  int waits = 0;
  for (uint16_t i = 0; i < ports_.size(); ++i) {
    const Port& port = ports_[i];
    if (!port.outside) continue;
    for (uint32_t ip : addresses) {
      rte_mbuf* m = BuildArpMbuf(port.pool, broadcast, RTE_ARP_OP_REQUEST, port.mac, ip, zero, ip);
      if (m == nullptr) {
        return absl::ResourceExhaustedError(
            absl::StrCat("gratuitous ARP: mbuf pool empty after ", queued, " frames"));
      }
      m->port = i;
      // A running worker 0 drains the ring every drain interval: wait for room, a little.
      while (rte_ring_mp_enqueue(control_ring_, m) != 0) {
        if (!worker0_running_.load(std::memory_order_relaxed) || ++waits > kMaxControlWaits) {
          rte_pktmbuf_free(m);
          return absl::ResourceExhaustedError(
              absl::StrCat("gratuitous ARP: control ring full after ", queued, " frames"));
        }
        rte_delay_us_sleep(kControlWaitUs);
      }
      ++queued;
    }
  }
  VLOG(1) << "gratuitous ARP: " << queued << " frames queued for worker 0";
  return absl::OkStatus();
}

std::vector<InterfaceStatus> Dataplane::Interfaces() const {
  std::vector<InterfaceStatus> out;
  for (uint32_t i = 0; i < ports_.size(); ++i) {
    const Port& port = ports_[i];
    const control::InterfaceConfig& ic = *port.config;
    InterfaceStatus st;
    st.name = ic.name;
    st.device = ic.device;
    st.driver = port.driver;
    st.port_id = port.port_id;
    st.role = ic.role;
    st.island = ic.island;
    st.address = ic.address;
    st.prefix_len = ic.prefix_len;
    st.mtu = ic.mtu;
    st.mac = port.mac;
    rte_eth_link link{};
    if (rte_eth_link_get_nowait(port.port_id, &link) == 0) {
      st.link_up = link.link_status == RTE_ETH_LINK_UP;
      st.link_speed_mbps = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : link.link_speed;
    }
    rte_eth_stats stats{};
    if (rte_eth_stats_get(port.port_id, &stats) == 0) {
      st.rx_packets = stats.ipackets;
      st.tx_packets = stats.opackets;
      st.rx_bytes = stats.ibytes;
      st.tx_bytes = stats.obytes;
      st.rx_missed = stats.imissed;
      st.rx_nombuf = stats.rx_nombuf;
      st.rx_errors = stats.ierrors;
      st.tx_errors = stats.oerrors;
    }
    for (const auto& ws : workers_) {
      st.tx_dropped += __atomic_load_n(&ws->tx_dropped[i], __ATOMIC_RELAXED);
    }
    out.push_back(std::move(st));
  }
  return out;
}

std::vector<MbufPoolStatus> Dataplane::MbufPools() const {
  std::vector<MbufPoolStatus> out;
  for (const auto& [socket, pool] : pools_) {
    out.push_back({pool->name, pool->size, rte_mempool_avail_count(pool)});
  }
  return out;
}

std::vector<NeighborEntry> Dataplane::Neighbors() const {
  std::vector<NeighborEntry> out;
  for (const NeighborTable::Entry& e : neighbors_->Snapshot(Now())) {
    NeighborEntry n;
    n.interface = e.port_index < ports_.size() ? ports_[e.port_index].config->name : "?";
    n.ip = e.ip;
    n.mac = e.mac;
    n.resolved = e.resolved;
    n.age_s = static_cast<uint32_t>(e.age_tsc / hz_);
    out.push_back(std::move(n));
  }
  std::sort(out.begin(), out.end(), [](const NeighborEntry& a, const NeighborEntry& b) {
    if (a.interface != b.interface) return a.interface < b.interface;
    return rte_be_to_cpu_32(a.ip) < rte_be_to_cpu_32(b.ip);
  });
  return out;
}

absl::Status Dataplane::SetClusterRoutes(const std::vector<ClusterRoute>& routes,
                                         std::vector<std::string>* changes,
                                         std::vector<std::string>* refused) {
  std::vector<RouteSpec> specs;
  for (const ClusterRoute& c : routes) {
    const std::string what =
        absl::StrCat("route ", net::FormatIp(c.destination.addr), "/", c.destination.len, " via ",
                     net::FormatIp(c.via), " (", c.origin, ")");
    // The island's inside interface whose subnet holds the next hop.
    auto it = std::find_if(ports_.begin(), ports_.end(), [&](const Port& p) {
      const control::InterfaceConfig& ic = *p.config;
      return !p.outside && p.realm == c.island &&
             nat::Cidr{ic.address & PrefixMask(ic.prefix_len), ic.prefix_len}.Contains(c.via);
    });
    if (it == ports_.end() || c.via == it->address) {
      refused->push_back(absl::StrCat(what, " not installed: the next hop is not on an inside "
                                            "interface's subnet of island ", c.island));
      continue;
    }
    RouteSpec s;
    s.realm = c.island;
    s.destination =
        nat::Cidr{c.destination.addr & PrefixMask(c.destination.len), c.destination.len};
    s.route = Route{static_cast<uint16_t>(it - ports_.begin()), c.via};
    s.origin = c.origin;
    s.cluster = true;
    specs.push_back(std::move(s));
  }
  return routes_->SetClusterRoutes(specs, changes, refused);
}

std::vector<RouteEntry> Dataplane::Routes() const {
  std::vector<RouteEntry> out;
  for (const RouteSpec& s : routes_->Specs()) {
    RouteEntry r;
    r.interface = ports_[s.route.port_index].config->name;
    r.destination = s.destination;
    r.via = s.route.via;
    r.connected = s.connected;
    r.cluster = s.cluster;
    if (s.cluster) r.origin = s.origin;
    out.push_back(std::move(r));
  }
  return out;
}

DataplaneCounters Dataplane::SumCounters() const {
  DataplaneCounters sum;
  for (const auto& ws : workers_) sum.AddSnapshot(ws->counters);
  return sum;
}

void Dataplane::AdvanceClockForTest(uint64_t ms) {
  clock_offset_tsc_.fetch_add(hz_ * ms / 1000, std::memory_order_relaxed);
}

}  // namespace natgw::dataplane
