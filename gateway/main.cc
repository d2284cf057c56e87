// natgw: the NAT gateway appliance. Loads the conf file, starts DPDK's EAL and the ports, runs
// one translation worker per worker lcore and the control thread (natgwctl, reload, counters) on
// the main lcore (also the Prometheus endpoint, [metrics]). SIGHUP reloads the conf; SIGTERM and
// SIGINT stop cleanly.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_pdump.h>
#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gflags/gflags.h"
#include "glog/logging.h"
#include "lib/conntrack/session_table.h"
#include "lib/control/cluster_source.h"
#include "lib/control/cluster_sync.h"
#include "lib/control/commands.h"
#include "lib/control/ctl_socket.h"
#include "lib/control/dir_source.h"
#include "lib/control/gateway_config.h"
#include "lib/control/kube_api_source.h"
#include "lib/dataplane/dataplane.h"
#include "lib/dataplane/eal_runtime.h"
#include "lib/dataplane/pool_watch.h"
#include "lib/nat/engine.h"
#include "lib/telemetry/cluster_metrics.h"
#include "lib/telemetry/dpdk_telemetry.h"
#include "lib/telemetry/event_log.h"
#include "lib/telemetry/metrics.h"

DEFINE_string(config, "", "the gateway's conf file (TOML; see conf/README.md). Required.");
DEFINE_bool(check, false, "validate the conf file, print a summary and exit (0 valid, 1 not)");
DEFINE_string(eal_args, "",
              "extra EAL arguments, space-separated, appended after those the conf file gives "
              "(so they win); everything after a lone -- is appended too");
DEFINE_string(control_socket, "", "override [gateway] control_socket of the conf file");

namespace natgw {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

void OnSignal(int sig) {
  if (sig == SIGHUP) {
    g_reload = true;
  } else {
    g_stop = true;
  }
}

std::vector<std::string> EalArgs(const control::GatewayConfig& c,
                                 const std::vector<std::string>& extra) {
  const std::string lcore_map = c.dpdk.EalLcoreMap();
  std::vector<std::string> a = {
      "natgw", lcore_map.empty() ? "-l" : "--lcores", lcore_map.empty() ? c.dpdk.lcores : lcore_map,
      absl::StrCat("--main-lcore=", c.dpdk.lcore_ids.empty() ? 0 : c.dpdk.lcore_ids[0]),
      "--file-prefix=" + (c.dpdk.file_prefix.empty() ? "natgw-" + c.name : c.dpdk.file_prefix)};
  if (c.dpdk.no_huge) a.push_back("--no-huge");
  if (c.dpdk.memory_mb != 0) {
    a.push_back("-m");
    a.push_back(absl::StrCat(c.dpdk.memory_mb));
  }
  bool any_pci = false;
  for (const auto& i : c.interfaces) {
    if (i.vdev_args.empty() && i.device.find(':') != std::string::npos) {
      a.push_back("-a");
      a.push_back(i.device);
      any_pci = true;
    } else {
      a.push_back(absl::StrCat("--vdev=", i.device, i.vdev_args.empty() ? "" : ",", i.vdev_args));
    }
  }
  if (!any_pci) a.push_back("--no-pci");
  for (const auto& e : c.dpdk.extra_args) a.push_back(e);
  for (const auto& e : extra) a.push_back(e);
  // memif shares the memory of a zero-copy port as one file per segment list, and its driver
  // refuses the port otherwise (which natgw would report as a missing port).
  const bool zero_copy = std::any_of(c.interfaces.begin(), c.interfaces.end(),
                                     [](const auto& i) { return i.ZeroCopyMemif(); });
  if (zero_copy && std::find(a.begin(), a.end(), "--single-file-segments") == a.end()) {
    a.push_back("--single-file-segments");
  }
  // Hugepage files stay linked while natgw runs, so that secondary processes (dpdk-dumpcap,
  // through rte_pdump) can map them; EAL removes a crashed run's files when the same
  // --file-prefix starts again. With --no-huge or --in-memory there is no capture.
  return a;
}

// EAL keeps its hugepage files while it runs (see EalArgs) and leaves them behind at exit; this
// removes this process's own (PREFIXmap_N in every hugetlbfs mount) after rte_eal_cleanup.
void RemoveHugepageFiles(const std::string& prefix) {
  std::ifstream mounts("/proc/mounts");
  for (std::string line; std::getline(mounts, line);) {
    const std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() < 3 || f[2] != "hugetlbfs") continue;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(f[1], ec)) {
      const std::string name = e.path().filename().string();
      const std::string rest = name.substr(std::min(name.size(), prefix.size() + 4));
      if (name.starts_with(prefix + "map_") && !rest.empty() &&
          rest.find_first_not_of("0123456789") == std::string::npos) {
        std::filesystem::remove(e.path(), ec);
      }
    }
  }
}

// Whether the session table asks for the reserved hugepages. With [dpdk] memory_mb set, EAL has
// taken that much before the table is made; the table then takes pages of the pool beside it,
// leaving kTableLeavesToDpdk free for DPDK's heap to grow into (the mbuf pools are made after
// the table). With memory_mb 0 the pool is left to DPDK, and with --no-huge (the conf's no_huge,
// or EAL arguments) there is none to use: transparent huge pages then.
constexpr size_t kTableLeavesToDpdk = 128u << 20;

std::string TableNotOnHugetlb(const control::GatewayConfig& c,
                              const std::vector<std::string>& eal) {
  if (std::find(eal.begin(), eal.end(), "--no-huge") != eal.end()) return "EAL runs --no-huge";
  if (c.dpdk.memory_mb == 0) return "[dpdk] memory_mb is 0: the hugepage pool is left to DPDK";
  return "";
}

void LogTablePages(const conntrack::SessionTable& t, const std::string& not_asked) {
  const conntrack::SessionTablePages p = t.Pages();
  const auto mib = [](size_t b) { return (b + (1u << 19)) >> 20; };
  const size_t small = p.on_4k_bytes();
  // Of what could have had 2 MiB pages, what did not get them (mappings under 2 MiB cannot).
  const size_t missed = small - std::min(small, p.small_bytes);
  std::string why;
  if (p.hugetlb_bytes + p.small_bytes < p.bytes) {
    why = absl::StrCat(" (not on reserved hugepages: ",
                       not_asked.empty() ? p.hugetlb_fallback : not_asked, ")");
  }
  const std::string msg =
      absl::StrCat("session table: ", t.capacity(), " sessions in ", mib(p.bytes), " MiB: ",
                   mib(p.hugetlb_bytes), " MiB on reserved 2 MiB hugepages, ", mib(p.thp_bytes),
                   " MiB on transparent huge pages, ", mib(small), " MiB on 4 KiB pages", why);
  if (missed > p.bytes / 4) {
    LOG(WARNING)
        << msg
        << "; lookups in a big table will miss the TLB as well as the cache: reserve "
           "hugepages and set [dpdk] memory_mb, or enable transparent huge pages (madvise)";
  } else {
    LOG(INFO) << msg;
  }
}

class Gateway {
 public:
  int Run(const std::string& path, const std::vector<std::string>& extra_eal) {
    auto cfg = control::LoadConfigFile(path);
    if (!cfg.ok()) {
      LOG(ERROR) << cfg.status().message();
      return 1;
    }
    config_ = std::make_unique<control::GatewayConfig>(std::move(*cfg));
    if (!FLAGS_control_socket.empty()) config_->control_socket = FLAGS_control_socket;
    path_ = path;

    std::vector<std::string> eal = EalArgs(*config_, extra_eal);
    table_not_on_hugetlb_ = TableNotOnHugetlb(*config_, eal);
    LOG(INFO) << "natgw " << config_->name << ": EAL " << absl::StrJoin(eal, " ");
    std::vector<char*> eal_argv;
    for (auto& s : eal) eal_argv.push_back(s.data());
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
      LOG(ERROR) << "cannot start DPDK's EAL (" << rte_strerror(rte_errno)
                 << "): check [dpdk] lcores, memory and hugepages";
      return 1;
    }
    const std::string prefix = std::filesystem::path(rte_eal_get_runtime_dir()).filename().string();
    // Packet capture by secondary processes (dpdk-dumpcap --file-prefix=PREFIX -i PORT).
    const bool pdump = rte_pdump_init() == 0;
    if (!pdump) {
      LOG(WARNING) << "rte_pdump_init failed (" << rte_strerror(rte_errno)
                   << "): no dpdk-dumpcap capture";
    }
    if (absl::Status s = telemetry::RegisterTelemetryCommands(); !s.ok()) {
      LOG(WARNING) << s.message();
    }
    const uint32_t workers = rte_lcore_count() - 1;
    if (workers != config_->engine.num_workers) {
      LOG(ERROR) << "EAL gave " << workers << " worker lcores, the conf asks for "
                 << config_->engine.num_workers;
      if (pdump) rte_pdump_uninit();
      dataplane::CleanupEal();
      if (!config_->dpdk.no_huge) RemoveHugepageFiles(prefix);
      return 1;
    }
    int rc = Serve();
    if (pdump) rte_pdump_uninit();
    dataplane::CleanupEal();
    if (!config_->dpdk.no_huge) RemoveHugepageFiles(prefix);
    LOG(INFO) << "natgw " << config_->name << " stopped";
    return rc;
  }

 private:
  // Runs until SIGTERM/SIGINT. Whatever happens, the engine and the ports are gone when it
  // returns (before rte_eal_cleanup).
  int Serve() {
    int rc = ServeUntilStopped();
    StopClusterSources();  // also on a failed start: their threads end before anything else goes
    if (dataplane_ != nullptr) {
      dataplane_->Stop();
      rte_eal_mp_wait_lcore();
    }
    if (event_log_ != nullptr) {
      // The workers are gone: end every session here, so the log closes their spans.
      for (uint32_t i = 0; i < engine_->num_workers(); ++i) {
        engine_->EndSessionsOfStoppedWorker(i);
        event_log_->Poll();
      }
      event_log_.reset();
    }
    telemetry::PublishTelemetry(nullptr);  // the telemetry thread must not see them go
    engine_.reset();     // first: fragments it holds go back to the dataplane's mbuf pool
    dataplane_.reset();  // stops and closes the ports
    return rc;
  }

  int ServeUntilStopped() {
    nat::EngineConfig ec = config_->engine;
    ec.hugetlb = table_not_on_hugetlb_.empty();
    ec.hugetlb_keep_free = kTableLeavesToDpdk;
    auto engine = nat::Engine::Create(ec, config_->nat);
    if (!engine.ok()) {
      LOG(ERROR) << "engine: " << engine.status().message();
      return 1;
    }
    engine_ = std::move(*engine);
    LogTablePages(engine_->table(), table_not_on_hugetlb_);
    auto dp = dataplane::Dataplane::Create(*config_, engine_.get());
    if (!dp.ok()) {
      LOG(ERROR) << "ports: " << dp.status().message();
      return 1;
    }
    dataplane_ = std::move(*dp);
    auto server = control::CtlServer::Listen(config_->control_socket);
    if (!server.ok()) {
      LOG(ERROR) << server.status().message();
      return 1;
    }
    std::unique_ptr<telemetry::MetricsServer> metrics;
    if (config_->metrics.enabled) {
      auto m = telemetry::MetricsServer::Listen(config_->metrics.address, config_->metrics.port);
      if (!m.ok()) {
        LOG(ERROR) << m.status().message();
        return 1;
      }
      metrics = std::move(*m);
    }
    if (config_->engine.event_ring_size != 0) {
      auto log = telemetry::EventLog::Create(config_.get(), engine_.get());
      if (!log.ok()) {
        LOG(ERROR) << log.status().message();
        return 1;
      }
      event_log_ = std::move(*log);
    }
    control::GatewayCommands commands(config_.get(), engine_.get(), dataplane_.get(),
                                      {[this] { return Reload(); },
                                       [this] { return dataplane_->NowSeconds(); }});
    if (event_log_ != nullptr) {
      commands.set_event_log_counters([this] {
        const telemetry::EventLogCounters& k = event_log_->counters();
        return control::GatewayCommands::CounterList{
            {"records", k.records},         {"write_errors", k.write_errors},
            {"rotations", k.rotations},     {"ipfix_records", k.ipfix_records},
            {"ipfix_messages", k.ipfix_messages}, {"ipfix_send_errors", k.ipfix_errors}};
      });
    }
    commands_ = &commands;
    if (absl::Status s = StartCluster(); !s.ok()) {
      LOG(ERROR) << s.message();
      return 1;
    }
    commands.set_cluster(cluster_.get());
    if (absl::Status s = dataplane_->LaunchWorkers(); !s.ok()) {
      LOG(ERROR) << s.message();
      return 1;
    }
    LOG(INFO) << "natgw " << config_->name << " running: " << dataplane_->num_workers()
              << " workers, " << config_->interfaces.size() << " interfaces, control socket "
              << config_->control_socket << ", metrics "
              << (metrics ? absl::StrCat("http://", metrics->address(), "/metrics") : "off");
    if (absl::Status s = dataplane_->SendGratuitousArp(ExternalAddresses(config_->nat)); !s.ok()) {
      LOG(WARNING) << "gratuitous ARP: " << s.message();
    }
    telemetry::WorkerLoadTracker load;
    const auto render = [&] {
      std::string text =
          telemetry::RenderMetrics(*engine_, dataplane_.get(), *config_, &load.ratios());
      if (cluster_) text += telemetry::RenderClusterMetrics(*cluster_, *config_);
      if (event_log_) text += event_log_->RenderMetrics();
      return text;
    };
    int64_t published_ms = -1;
    int64_t pools_checked_ms = -1;
    dataplane::MbufPoolWatch pool_watch;
    while (!g_stop) {
      // Busy ratios and the DPDK telemetry snapshot (read by DPDK's telemetry thread).
      const int64_t now_ms = static_cast<int64_t>(rte_get_tsc_cycles() / (rte_get_tsc_hz() / 1000));
      load.Update(dataplane_->WorkerLoads(), now_ms);
      if (published_ms < 0 || now_ms - published_ms >= 250) {
        telemetry::PublishTelemetry(telemetry::BuildTelemetrySnapshot(*engine_, dataplane_.get(),
                                                                      *config_, &load.ratios()));
        published_ms = now_ms;
      }
      if (pools_checked_ms < 0 || now_ms - pools_checked_ms >= 1000) {
        for (const std::string& w : pool_watch.Check(dataplane_->MbufPools(), now_ms)) {
          LOG(WARNING) << w;
        }
        for (const std::string& l : dataplane_->ServiceLinks(now_ms)) LOG(WARNING) << l;
        pools_checked_ms = now_ms;
      }
      // One poll over every descriptor the control thread serves, so that a cluster event is
      // applied as soon as it arrives; at most 100 ms per round.
      std::vector<pollfd> fds = {{(*server)->fd(), POLLIN, 0}, {updates_.fd(), POLLIN, 0}};
      if (metrics) fds.push_back({metrics->fd(), POLLIN, 0});
      for (const auto& d : dir_sources_) fds.push_back({d->fd(), POLLIN, 0});
      // With the event log on, every 10 ms at least, so that the workers' rings do not fill.
      if (poll(fds.data(), fds.size(), event_log_ ? 10 : 100) > 0) {
        if (fds[0].revents != 0) (*server)->Poll(0, commands);
        size_t next = 2;
        if (metrics && fds[next++].revents != 0) metrics->Poll(0, render);
        for (const auto& d : dir_sources_) {
          if (fds[next++].revents != 0) d->Poll();
        }
      }
      if (cluster_) SyncCluster();
      if (g_reload.exchange(false)) {
        auto r = Reload();  // what needs a restart is logged by Reload
        if (!r.ok()) {
          LOG(WARNING) << "reload refused, keeping the running configuration: "
                       << r.status().message();
        }
      }
      if (event_log_) event_log_->Poll();
      engine_->ReclaimRetired();
    }
    StopClusterSources();
    LOG(INFO) << "natgw " << config_->name << " stopping";
    commands_ = nullptr;
    return 0;
  }

  static std::vector<uint32_t> ExternalAddresses(const nat::NatConfig& c) {
    std::vector<uint32_t> out;
    for (const auto& m : c.pod_mappings) out.push_back(m.external_ip);
    for (const auto& p : c.egress_pools) {
      out.insert(out.end(), p.addresses.begin(), p.addresses.end());
    }
    for (const auto& s : c.services) out.push_back(s.vip);
    return out;
  }

  // Cluster-state sync ([[cluster]] sections): the allocation state, the directory sources, and
  // the first policy with what they found.
  absl::Status StartCluster() {
    if (config_->clusters.empty()) return absl::OkStatus();
    cluster_ = std::make_unique<control::ClusterSync>(
        *config_,
        control::ClusterSync::Clock{[this] { return dataplane_->NowSeconds(); },
                                    [] { return static_cast<int64_t>(std::time(nullptr)); }});
    LOG(INFO) << cluster_->LoadState();
    for (const control::ClusterConfig& c : config_->clusters) {
      if (!c.directory.empty()) {
        const std::string name = "dir:" + c.directory;
        cluster_->AddSource(c.island, name);
        auto d = control::DirectorySource::Start(c.directory, name, &updates_);
        if (!d.ok()) return d.status();
        LOG(INFO) << "cluster " << control::IslandName(*config_, c.island) << ": watching "
                  << c.directory;
        dir_sources_.push_back(std::move(*d));
      }
      if (c.kubernetes.enabled) {
        control::KubeApiConfig k = KubeApiConfigOf(c);
        cluster_->AddSource(c.island, k.source_name);
        auto src = control::KubeApiSource::Create(k, &updates_);
        if (!src.ok()) {
          return absl::Status(src.status().code(),
                              absl::StrCat(config_->source, ":", c.line, ": cluster ",
                                           control::IslandName(*config_, c.island), ": ",
                                           src.status().message()));
        }
        if (absl::Status s = (*src)->Start(); !s.ok()) return s;
        kube_sources_.push_back(std::move(*src));
      }
    }
    SyncCluster();
    return absl::OkStatus();
  }

  // The Kubernetes API source of one [[cluster]]: named "kubernetes:ISLAND" (what natgwctl and
  // the metrics show). kubeconfig wins over in_cluster; `server` alone is a plain URL (kubectl
  // proxy), with either of the others it overrides their server.
  control::KubeApiConfig KubeApiConfigOf(const control::ClusterConfig& c) const {
    control::KubeApiConfig k;
    k.source_name = "kubernetes:" + control::IslandName(*config_, c.island);
    k.kubeconfig = c.kubernetes.kubeconfig;
    k.context = c.kubernetes.context;
    k.in_cluster = c.kubernetes.in_cluster;
    k.server = c.kubernetes.server;
    k.ns = c.kubernetes.ns;
    k.label_selector = c.kubernetes.label_selector;
    return k;
  }

  // Stops the sources' threads (the API source's are joined) and closes their descriptors; the
  // last known cluster state stays applied. Idempotent.
  void StopClusterSources() {
    for (auto& k : kube_sources_) k->Stop();
    kube_sources_.clear();
    dir_sources_.clear();
  }

  // Takes what the sources queued and, if the desired policy changed, publishes it.
  void SyncCluster() {
    std::vector<control::SourceUpdate> updates = updates_.Drain();
    for (control::SourceUpdate& u : updates) {
      if (u.arrived < first_arrival_ || !pending_) first_arrival_ = u.arrived;
      pending_ = true;
      cluster_->Handle(std::move(u));
    }
    if (!cluster_->dirty()) return;
    if (absl::Status s = ApplyCluster(config_->nat); !s.ok()) {
      LOG(ERROR) << "cluster state refused by the engine, the previous mappings stay: "
                 << s.message();
    }
  }

  // Builds the cluster's policy on `base` (the conf file's) and applies it; then logs the
  // changes, announces new external addresses, installs node routes and saves the allocation
  // state. An error: the engine refused it (nothing of it applied).
  absl::Status ApplyCluster(const nat::NatConfig& base) {
    std::vector<std::string> changes;
    nat::NatConfig nc = cluster_->Build(base, &changes);
    absl::Status s = engine_->Apply(nc);
    cluster_->Applied(s.ok(), pending_ ? first_arrival_ : std::chrono::steady_clock::now());
    pending_ = false;
    if (!s.ok()) return s;
    constexpr size_t kMaxLines = 100;
    for (size_t i = 0; i < changes.size() && i < kMaxLines; ++i) {
      LOG(INFO) << "cluster: " << changes[i];
    }
    if (changes.size() > kMaxLines) {
      LOG(INFO) << "cluster: ... and " << changes.size() - kMaxLines
                << " more changes (natgwctl show mappings lists them all)";
    }
    std::vector<uint32_t> added;
    std::vector<uint32_t> now = ExternalAddresses(nc);
    for (uint32_t a : now) {
      if (std::find(published_.begin(), published_.end(), a) == published_.end()) {
        added.push_back(a);
      }
    }
    published_ = std::move(now);
    if (!added.empty() && dataplane_ != nullptr) {
      if (absl::Status g = dataplane_->SendGratuitousArp(added); !g.ok()) {
        LOG(WARNING) << "gratuitous ARP: " << g.message();
      }
    }
    InstallNodeRoutes();
    if (absl::Status st = cluster_->SaveState(); !st.ok()) LOG(WARNING) << st.message();
    return absl::OkStatus();
  }

  // The nodes' pod CIDRs of the last Build into the dataplane's route tables (workers keep
  // running); each route added, changed, deleted or refused is logged once.
  void InstallNodeRoutes() {
    std::vector<dataplane::ClusterRoute> routes;
    for (const control::NodeRoute& r : cluster_->node_routes()) {
      routes.push_back({r.island, r.destination, r.via, "node " + r.node});
    }
    std::vector<std::string> changes;
    std::vector<std::string> refused;
    absl::Status s = dataplane_->SetClusterRoutes(routes, &changes, &refused);
    for (const std::string& c : changes) LOG(INFO) << "cluster: " << c;
    std::set<std::string> now(refused.begin(), refused.end());
    for (const std::string& r : now) {
      if (!refused_routes_.contains(r)) LOG(WARNING) << "cluster: " << r;
    }
    refused_routes_ = std::move(now);
    if (!s.ok()) LOG(WARNING) << "cluster: node routes: " << s.message();
  }

  // Applies the conf file again (SIGHUP, natgwctl reload); returns the changed settings that
  // only a restart applies (they keep their running values), or why the file was refused.
  absl::StatusOr<std::vector<std::string>> Reload() {
    auto cfg = control::LoadConfigFile(path_);
    if (!cfg.ok()) return cfg.status();
    if (!FLAGS_control_socket.empty()) cfg->control_socket = FLAGS_control_socket;
    std::vector<std::string> needs_restart = control::KeepRestartOnlySettings(*config_, &*cfg);
    // The event log's new file and collector before anything changes: one that cannot be opened
    // refuses the reload.
    std::optional<telemetry::EventLogReload> log_reload;
    if (event_log_ != nullptr) {
      auto r = event_log_->PrepareReload(*cfg);
      if (!r.ok()) return r.status();
      log_reload.emplace(std::move(*r));
    } else {  // no rings: IPFIX, like the log (its mode is named above), starts with natgw only
      if (cfg->ipfix.enabled) needs_restart.push_back("[ipfix]");
      cfg->event_log = config_->event_log;
      cfg->ipfix = config_->ipfix;
    }
    if (cluster_) {
      // The selectors may have changed, and the static policy the cluster's is merged with.
      cluster_->SetPolicy(cfg->clusters);
      cluster_->ReserveStatic(cfg->nat);
      if (absl::Status s = ApplyCluster(cfg->nat); !s.ok()) {
        cluster_->SetPolicy(config_->clusters);  // the next sync builds the running policy again
        cluster_->ReserveStatic(config_->nat);
        return s;
      }
    } else if (absl::Status s = engine_->Apply(cfg->nat); !s.ok()) {
      return s;
    }
    std::vector<uint32_t> before = ExternalAddresses(config_->nat);
    std::vector<uint32_t> added;
    for (uint32_t a : ExternalAddresses(cfg->nat)) {
      if (std::find(before.begin(), before.end(), a) == before.end()) added.push_back(a);
    }
    const auto pods = static_cast<int64_t>(cfg->nat.pod_mappings.size());
    LOG(INFO) << "reloaded " << path_ << ": " << pods << " pod addresses ("
              << pods - static_cast<int64_t>(config_->nat.pod_mappings.size()) << " change), "
              << cfg->nat.services.size() << " services, " << added.size()
              << " new external addresses";
    if (!needs_restart.empty()) {
      LOG(WARNING) << "reload: not applied until natgw restarts (the running settings stay): "
                   << absl::StrJoin(needs_restart, ", ");
    }
    retired_configs_.push_back(std::move(config_));  // commands may still point at it this poll
    config_ = std::make_unique<control::GatewayConfig>(std::move(*cfg));
    commands_->set_config(config_.get());
    if (event_log_) event_log_->CommitReload(std::move(*log_reload), config_.get());
    if (!added.empty() && !cluster_) {  // (ApplyCluster announced them)
      if (absl::Status s = dataplane_->SendGratuitousArp(added); !s.ok()) {
        LOG(WARNING) << "gratuitous ARP: " << s.message();
      }
    }
    return needs_restart;
  }

  std::string path_;
  std::string table_not_on_hugetlb_;  // why the session table does not ask for hugetlb pages
  std::unique_ptr<control::GatewayConfig> config_;
  std::vector<std::unique_ptr<control::GatewayConfig>> retired_configs_;
  std::unique_ptr<nat::Engine> engine_;
  std::unique_ptr<dataplane::Dataplane> dataplane_;
  std::unique_ptr<telemetry::EventLog> event_log_;  // [event_log] / [ipfix], or null
  control::GatewayCommands* commands_ = nullptr;
  // Cluster-state sync.
  control::UpdateQueue updates_;
  std::unique_ptr<control::ClusterSync> cluster_;
  std::vector<std::unique_ptr<control::DirectorySource>> dir_sources_;
  std::vector<std::unique_ptr<control::KubeApiSource>> kube_sources_;  // threads push to updates_
  std::chrono::steady_clock::time_point first_arrival_;
  bool pending_ = false;
  std::vector<uint32_t> published_;  // external addresses of the last cluster policy (for GARP)
  std::set<std::string> refused_routes_;  // node routes not installed, as last logged
};

}  // namespace
}  // namespace natgw

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "natgw --config FILE [--check] [--eal_args \"...\"] [-- EAL args]\n"
      "The NAT gateway for Kubernetes island-mode clusters. The conf file (conf/README.md) names\n"
      "the ports, islands, pools, mappings, services, routes and DPDK settings. Talk to a running\n"
      "gateway with natgwctl. SIGHUP reloads the conf file; SIGTERM/SIGINT stop it.\n"
      "Observability: Prometheus metrics ([metrics] in the conf), DPDK telemetry commands\n"
      "/natgw/{stats,sessions,drops,workers,pools,mappings} (dpdk-telemetry.py -f FILE_PREFIX),\n"
      "packet capture with dpdk-dumpcap --file-prefix=FILE_PREFIX -i PORT (needs hugepages).\n"
      "Translation event log and IPFIX export: [event_log] and [ipfix] in the conf; which pod "
      "held\n"
      "an external address at a time: natgwctl lookup IP[:PORT] --at TIME.");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (FLAGS_config.empty()) {
    std::fprintf(stderr, "natgw: --config FILE is required (try --help)\n");
    return 2;
  }
  if (FLAGS_check) {
    auto cfg = natgw::control::LoadConfigFile(FLAGS_config);
    if (!cfg.ok()) {
      std::fprintf(stderr, "%s\n", std::string(cfg.status().message()).c_str());
      return 1;
    }
    std::printf(
        "%s: ok: gateway %s, %zu interfaces, %zu islands, %zu pod addresses, %zu egress pools, "
        "%zu services, %u workers\n",
        FLAGS_config.c_str(), cfg->name.c_str(), cfg->interfaces.size(), cfg->nat.islands.size(),
        cfg->nat.pod_mappings.size(), cfg->nat.egress_pools.size(), cfg->nat.services.size(),
        cfg->engine.num_workers);
    return 0;
  }
  std::vector<std::string> extra = absl::StrSplit(FLAGS_eal_args, ' ', absl::SkipEmpty());
  for (int i = 1; i < argc; ++i) extra.push_back(argv[i]);
  struct sigaction sa{};
  sa.sa_handler = natgw::OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGHUP, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  return natgw::Gateway().Run(FLAGS_config, extra);
}
