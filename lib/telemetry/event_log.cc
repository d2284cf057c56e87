#include "lib/telemetry/event_log.h"

#include <fcntl.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "lib/net/builder.h"
#include "lib/net/headers.h"
#include "lib/telemetry/event_lookup.h"
#include "nlohmann/json.hpp"

namespace natgw::telemetry {
namespace {

using Json = nlohmann::ordered_json;
using nat::SessionEvent;
using nat::SessionEventType;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "namespace/name" of a static mapping, or a cluster pod's identity.
void PutPod(Json& j, const std::string& ns, const std::string& name, const std::string& uid,
            uint32_t pod_ip) {
  j["namespace"] = ns;
  j["pod"] = name;
  j["uid"] = uid;
  j["pod_ip"] = net::FormatIp(pod_ip);
}

// The island and the pod (as far as the running mapping table knows it) of an event.
void PutWho(Json& j, const std::string& island, const nat::PodIdentity* pod, uint32_t pod_ip) {
  j["island"] = island;
  PutPod(j, pod ? pod->ns : "", pod ? pod->name : "", pod ? pod->uid : "", pod_ip);
}

void SplitName(const std::string& full, std::string* ns, std::string* name) {
  const size_t slash = full.find('/');
  if (slash == std::string::npos) {
    ns->clear();
    *name = full;
  } else {
    *ns = full.substr(0, slash);
    *name = full.substr(slash + 1);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RotatingFile

RotatingFile::~RotatingFile() {
  (void)Flush();
  if (fd_ >= 0) close(fd_);
}

absl::Status RotatingFile::Open() {
  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  // What the first Open creates is remembered (RemoveIfUnused); a later one (after a failed
  // rotation) is of a log in use.
  const bool first = !opened_before_;
  opened_before_ = true;
  if (!dir.empty()) {
    std::vector<std::filesystem::path> missing;  // innermost first
    for (std::filesystem::path d = dir; first && !d.empty() && !std::filesystem::exists(d, ec);
         d = d.parent_path()) {
      missing.push_back(d);
      if (d == d.parent_path()) break;
    }
    std::filesystem::create_directories(dir, ec);
    new_dirs_.insert(new_dirs_.end(), missing.rbegin(), missing.rend());
  }
  fd_ = open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0 && errno == ENOENT) {
    fd_ = open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd_ >= 0) {
      created_ = first;
    } else if (errno == EEXIST) {  // made meanwhile, or a dangling symlink: as before
      fd_ = open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    }
  }
  if (fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat(path_, ": cannot open the event log: ", std::strerror(errno)));
  }
  struct stat st{};
  size_ = fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return absl::OkStatus();
}

void RotatingFile::RemoveIfUnused() {
  if (size_ != 0 || rotations_ != 0) return;
  if (!created_) {  // directories made for a file that could not be created
    std::error_code ec;
    for (auto d = new_dirs_.rbegin(); d != new_dirs_.rend(); ++d) std::filesystem::remove(*d, ec);
    new_dirs_.clear();
    return;
  }
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  unlink(path_.c_str());
  std::error_code ec;
  for (auto d = new_dirs_.rbegin(); d != new_dirs_.rend(); ++d) {
    std::filesystem::remove(*d, ec);  // empty ones only
  }
  created_ = false;
  new_dirs_.clear();
}

absl::Status RotatingFile::Append(std::string_view line) {
  if (fd_ < 0) {  // a failed rotation: try again, one record at a time
    if (absl::Status s = Open(); !s.ok()) return s;
  }
  if (size_ != 0 && size_ + line.size() + 1 > max_bytes_) {
    if (absl::Status s = Rotate(); !s.ok()) return s;
  }
  buffer_.append(line.data(), line.size());
  buffer_.push_back('\n');
  size_ += line.size() + 1;
  if (buffer_.size() >= (64 << 10)) return Flush();
  return absl::OkStatus();
}

absl::Status RotatingFile::Flush() {
  if (buffer_.empty() || fd_ < 0) return absl::OkStatus();
  size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      size_ -= buffer_.size() - done;
      buffer_.clear();
      return absl::DataLossError(
          absl::StrCat(path_, ": event log write failed: ", std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  buffer_.clear();
  return absl::OkStatus();
}

absl::Status RotatingFile::Rotate() {
  absl::Status flushed = Flush();
  close(fd_);
  fd_ = -1;
  // PATH.(keep-1) -> PATH.keep (replacing the oldest), ..., PATH -> PATH.1.
  if (keep_files_ == 0) {
    unlink(path_.c_str());
  } else {
    for (uint32_t i = keep_files_ - 1; i >= 1; --i) {
      rename(absl::StrCat(path_, ".", i).c_str(), absl::StrCat(path_, ".", i + 1).c_str());
    }
    rename(path_.c_str(), absl::StrCat(path_, ".1").c_str());
  }
  ++rotations_;
  size_ = 0;
  absl::Status opened = Open();
  return opened.ok() ? flushed : opened;
}

// ---------------------------------------------------------------------------------------------
// EventLog

EventLog::EventLog(const control::GatewayConfig* config, nat::Engine* engine)
    : config_(config), engine_(engine), settings_(config->event_log) {}

EventLog::~EventLog() {
  engine_->set_apply_observer(nullptr);
  Flush();
}

absl::StatusOr<std::unique_ptr<EventLog>> EventLog::Create(const control::GatewayConfig* config,
                                                           nat::Engine* engine) {
  if (engine->event_ring(0) == nullptr) {
    return absl::FailedPreconditionError("event log: the engine has no session event rings");
  }
  std::unique_ptr<EventLog> log(new EventLog(config, engine));
  log->SetClockForTest(rte_rdtsc(), NowMs(), rte_get_tsc_hz());
  if (log->settings_.mode != control::EventLogMode::kOff) {
    const auto max_bytes = static_cast<uint64_t>(log->settings_.max_size_mb * 1024 * 1024);
    log->file_ = std::make_unique<RotatingFile>(log->settings_.path, max_bytes,
                                                log->settings_.keep_files);
    if (absl::Status s = log->file_->Open(); !s.ok()) return s;
  }
  if (config->ipfix.enabled) {
    auto sender = IpfixSender::Connect(config->ipfix.address, config->ipfix.port);
    if (!sender.ok()) return sender.status();
    log->sender_.emplace(std::move(*sender));
    log->ipfix_ = std::make_unique<IpfixEncoder>(config->ipfix.observation_domain,
                                                 config->ipfix.template_interval_s);
  }
  // Every pod address held at start, so that lookups of 1:1 addresses need no older log.
  const nat::MappingTable& mt = *engine->mappings();
  log->OnApply(mt, mt, NowMs());
  EventLog* self = log.get();
  engine->set_apply_observer(
      [self](const nat::MappingTable& before, const nat::MappingTable& after) {
        self->OnApply(before, after, NowMs());
      });
  log->Flush();
  return log;
}

absl::StatusOr<EventLogReload> EventLog::PrepareReload(const control::GatewayConfig& next) const {
  EventLogReload r;
  const control::EventLogConfig& e = next.event_log;
  if (file_ != nullptr) {
    const auto max_bytes = static_cast<uint64_t>(e.max_size_mb * 1024 * 1024);
    if (e.path != settings_.path) {
      r.file = std::make_unique<RotatingFile>(e.path, max_bytes, e.keep_files);
      if (absl::Status s = r.file->Open(); !s.ok()) return s;
    } else {
      r.limits = e.max_size_mb != settings_.max_size_mb || e.keep_files != settings_.keep_files;
    }
    if (r.file != nullptr || r.limits) {
      r.changes.push_back(absl::StrCat("event log ", e.path, " (max_size_mb ", e.max_size_mb,
                                       ", keep_files ", e.keep_files, ")"));
    }
  }
  const control::IpfixConfig& now = config_->ipfix;
  const control::IpfixConfig& want = next.ipfix;
  const bool collector = want.enabled != now.enabled || want.address != now.address ||
                         want.port != now.port;
  r.ipfix = collector || want.observation_domain != now.observation_domain ||
            want.template_interval_s != now.template_interval_s;
  if (want.enabled && collector) {
    auto sender = IpfixSender::Connect(want.address, want.port);
    if (!sender.ok()) return sender.status();
    r.sender.emplace(std::move(*sender));
  }
  // A new collector or domain gets a new sequence (RFC 7011 section 3.1) and the templates
  // first; a new template interval alone keeps both.
  if (want.enabled && (collector || want.observation_domain != now.observation_domain)) {
    r.encoder = std::make_unique<IpfixEncoder>(want.observation_domain, want.template_interval_s);
  }
  if (r.ipfix) {
    r.changes.push_back(want.enabled ? absl::StrCat("IPFIX to ", want.collector,
                                                    " (observation_domain ",
                                                    want.observation_domain,
                                                    ", template_interval_s ",
                                                    want.template_interval_s, ")")
                                     : std::string("IPFIX off"));
  }
  return r;
}

void EventLog::CommitReload(EventLogReload r, const control::GatewayConfig* config) {
  Poll();  // what happened before the reload goes where the old settings said
  const control::EventLogConfig& e = config->event_log;
  const bool file_moved = r.file != nullptr;
  if (file_moved) {
    old_files_rotations_ += file_->rotations();
    file_ = std::move(r.file);
  } else if (r.limits) {
    file_->SetLimits(static_cast<uint64_t>(e.max_size_mb * 1024 * 1024), e.keep_files);
  }
  const bool new_collector = r.sender.has_value();
  const bool new_export = r.encoder != nullptr;
  if (new_export || !config->ipfix.enabled) ipfix_ = std::move(r.encoder);
  if (new_collector || !config->ipfix.enabled) sender_.reset();
  if (new_collector) sender_.emplace(std::move(*r.sender));
  if (ipfix_ != nullptr && r.ipfix) {
    ipfix_->set_template_interval(config->ipfix.template_interval_s);
  }
  settings_.path = e.path;
  settings_.max_size_mb = e.max_size_mb;
  settings_.keep_files = e.keep_files;
  config_ = config;
  // A new file or collector starts with the pod addresses held now, as one at start does, so
  // that lookups in it and the collector know them.
  if (file_moved || new_export) {
    const int64_t now = NowMs();
    const nat::MappingTable& mt = *engine_->mappings();
    for (const nat::PodMappingConfig& p : mt.config().pod_mappings) {
      auto it = mapped_since_.find((uint64_t{p.island} << 32) | p.pod_ip);
      WriteMapping(true, p, mt, "reload", it == mapped_since_.end() ? now : it->second, now,
                   file_moved, new_export);
    }
  }
  Flush();
  for (const std::string& c : r.changes) LOG(INFO) << "reload: now " << c;
}

int64_t EventLog::WallMs(uint64_t tsc) const {
  if (tsc_hz_ == 0) return NowMs();
  const auto delta = static_cast<int64_t>(tsc - tsc0_);
  return wall_ms0_ + delta / static_cast<int64_t>(tsc_hz_) * 1000 +
         delta % static_cast<int64_t>(tsc_hz_) * 1000 / static_cast<int64_t>(tsc_hz_);
}

void EventLog::Poll() {
  // Re-anchor the TSC to the wall clock now and then (NTP moves the latter).
  if (tsc_hz_ != 0 && rte_rdtsc() - tsc0_ > 60 * tsc_hz_) {
    tsc0_ = rte_rdtsc();
    wall_ms0_ = NowMs();
  }
  SessionEvent e;
  for (uint32_t w = 0; w < engine_->num_workers(); ++w) {
    nat::SessionEventRing* ring = engine_->event_ring(w);
    // Bounded per poll, so that a flood does not starve natgwctl.
    for (uint32_t n = 0; n < ring->capacity() && ring->Pop(&e); ++n) Handle(e);
  }
  Flush();
}

void EventLog::Write(const std::string& line) {
  if (file_ == nullptr) return;
  if (absl::Status s = file_->Append(line); !s.ok()) {
    ++counters_.write_errors;
    LOG_EVERY_N(WARNING, 1000) << s.message();
    return;
  }
  ++counters_.records;
}

void EventLog::Flush() {
  if (file_ != nullptr) {
    if (absl::Status s = file_->Flush(); !s.ok()) {
      ++counters_.write_errors;
      LOG_EVERY_N(WARNING, 1000) << s.message();
    }
    counters_.rotations = old_files_rotations_ + file_->rotations();
  }
  if (ipfix_ != nullptr) {
    for (const auto& m : ipfix_->Flush(static_cast<uint32_t>(NowMs() / 1000))) {
      if (sender_->Send(m)) {
        ++counters_.ipfix_messages;
      } else {
        ++counters_.ipfix_errors;
      }
    }
  }
}

void EventLog::Handle(const SessionEvent& e) {
  const int64_t t = WallMs(e.tsc);
  const std::string island = control::IslandName(*config_, e.island);
  const nat::MappingTable& mt = *engine_->mappings();
  const nat::PodIdentity* pod = mt.FindPod(e.island, e.inside_ip);
  Json j;
  j["time"] = FormatTime(t);
  if (e.type == SessionEventType::kPortsExhausted) {
    j["event"] = "ports_exhausted";
    PutWho(j, island, pod, e.inside_ip);
    j["external"] = net::FormatIp(e.external_ip);
    Write(j.dump());
    if (ipfix_ != nullptr) {
      IpfixRecord r;
      r.template_id = kTemplatePortsExhausted;
      r.time_ms = t;
      r.event = NatEvent::kPortsExhausted;
      r.vrf = e.island;
      r.src_ip = e.inside_ip;
      r.post_src_ip = e.external_ip;
      int pool;
      uint32_t addr;
      if (mt.FindPoolAddress(e.external_ip, &pool, &addr)) r.pool_id = static_cast<uint32_t>(pool);
      ipfix_->Add(r);
      ++counters_.ipfix_records;
    }
    return;
  }
  if (e.type == SessionEventType::kQuotaExceeded) {
    const uint32_t limit = mt.config().limits.max_sessions_per_pod;
    j["event"] = "quota_exceeded";
    PutWho(j, island, pod, e.inside_ip);
    j["limit"] = limit;
    Write(j.dump());
    if (ipfix_ != nullptr) {
      IpfixRecord r;
      r.template_id = kTemplateQuotaExceeded;
      r.time_ms = t;
      r.event = NatEvent::kQuotaExceeded;
      r.quota_event = kQuotaMaxEntriesPerUser;
      r.max_entries_per_user = limit;
      r.vrf = e.island;
      r.src_ip = e.inside_ip;
      ipfix_->Add(r);
      ++counters_.ipfix_records;
    }
    return;
  }
  const bool create = e.type == SessionEventType::kCreate;
  const auto kind = static_cast<conntrack::SessionKind>(e.kind);
  const int64_t created_ms = create ? t : t - int64_t{e.event_s - e.created_s} * 1000;
  if (settings_.mode == control::EventLogMode::kPortBlock &&
      kind == conntrack::SessionKind::kEgressPool) {
    const uint32_t size = settings_.port_block_size;
    const uint32_t block = rte_be_to_cpu_16(e.external_port) / size;
    const BlockKey key{(uint64_t{e.island} << 32) | e.inside_ip,
                       (uint64_t{e.external_ip} << 32) | block};
    Block& b = blocks_[key];
    const bool edge = create ? b.sessions++ == 0 : b.sessions == 1;
    if (!create && b.sessions > 0) --b.sessions;
    if (!edge) {
      if (b.sessions == 0) blocks_.erase(key);
      return;
    }
    if (create) b.allocated_ms = t;
    const uint32_t first = block * size;
    const uint32_t last = std::min<uint32_t>(first + size - 1, 65535);
    j["event"] = create ? "port_block_alloc" : "port_block_release";
    PutWho(j, island, pod, e.inside_ip);
    j["external"] = net::FormatIp(e.external_ip);
    j["port_min"] = first;
    j["port_max"] = last;
    if (!create) j["allocated"] = FormatTime(b.allocated_ms);
    Write(j.dump());
    if (ipfix_ != nullptr) {
      IpfixRecord r;
      r.template_id = kTemplatePortBlock;
      r.time_ms = t;
      r.event = create ? NatEvent::kPortBlockAllocation : NatEvent::kPortBlockDeallocation;
      r.vrf = e.island;
      r.src_ip = e.inside_ip;
      r.post_src_ip = e.external_ip;
      r.port_range_start = static_cast<uint16_t>(first);
      r.port_range_end = static_cast<uint16_t>(last);
      r.port_range_ports = static_cast<uint16_t>(last - first + 1);
      ipfix_->Add(r);
      ++counters_.ipfix_records;
    }
    if (!create) blocks_.erase(key);
    return;
  }
  j["event"] = create ? "session_create" : "session_delete";
  PutWho(j, island, pod, e.inside_ip);
  j["proto"] = net::ProtoName(e.proto);
  j["kind"] = conntrack::SessionKindName(kind);
  j["direction"] = e.outside_initiated ? "inbound" : "outbound";
  j["inside"] = FormatEndpoint(e.inside_ip, e.inside_port, e.proto);
  j["external"] = FormatEndpoint(e.external_ip, e.external_port, e.proto);
  j["remote"] = FormatEndpoint(e.remote_ip, e.remote_port, e.proto);
  j["remote_as_seen_inside"] = FormatEndpoint(e.remote_inside_ip, e.remote_inside_port, e.proto);
  if (!create) {
    j["reason"] = nat::DeleteReasonName(e.reason);
    j["created"] = FormatTime(created_ms);
    j["packets_in2out"] = e.packets[0];
    j["packets_out2in"] = e.packets[1];
    j["bytes_in2out"] = e.bytes[0];
    j["bytes_out2in"] = e.bytes[1];
  }
  Write(j.dump());
  if (ipfix_ != nullptr) {
    IpfixRecord r;
    r.template_id = kTemplateSession;
    r.time_ms = t;
    r.event = create ? NatEvent::kSessionCreate : NatEvent::kSessionDelete;
    r.proto = e.proto;
    r.vrf = e.island;
    r.src_ip = e.inside_ip;
    r.src_port = rte_be_to_cpu_16(e.inside_port);
    r.dst_ip = e.remote_inside_ip;
    r.dst_port = rte_be_to_cpu_16(e.remote_inside_port);
    r.post_src_ip = e.external_ip;
    r.post_src_port = rte_be_to_cpu_16(e.external_port);
    r.post_dst_ip = e.remote_ip;
    r.post_dst_port = rte_be_to_cpu_16(e.remote_port);
    const int init = e.outside_initiated ? 1 : 0;  // direction index of the initiator
    r.initiator_packets = e.packets[init];
    r.responder_packets = e.packets[1 - init];
    r.initiator_octets = e.bytes[init];
    r.responder_octets = e.bytes[1 - init];
    ipfix_->Add(r);
    ++counters_.ipfix_records;
  }
}

void EventLog::WriteMapping(bool add, const nat::PodMappingConfig& p, const nat::MappingTable& t,
                            const char* reason, int64_t since_ms, int64_t now_ms, bool to_file,
                            bool to_ipfix) {
  std::string ns, name, uid = p.uid;
  SplitName(p.name, &ns, &name);
  if (const nat::PodIdentity* id = t.FindPod(p.island, p.pod_ip); add && id != nullptr) {
    ns = id->ns;
    name = id->name;
    uid = id->uid;
  }
  if (to_file) {
    Json j;
    j["time"] = FormatTime(now_ms);
    j["event"] = add ? "mapping_add" : "mapping_remove";
    j["island"] = control::IslandName(*config_, p.island);
    PutPod(j, ns, name, uid, p.pod_ip);
    j["external"] = net::FormatIp(p.external_ip);
    if (add) j["reason"] = reason;
    if (!add || since_ms != now_ms) j["since"] = FormatTime(since_ms);
    Write(j.dump());
  }
  if (to_ipfix && ipfix_ != nullptr) {
    IpfixRecord r;
    r.template_id = kTemplateAddressBinding;
    r.time_ms = now_ms;
    r.event = add ? NatEvent::kAddressBindingCreate : NatEvent::kAddressBindingDelete;
    r.vrf = p.island;
    r.src_ip = p.pod_ip;
    r.post_src_ip = p.external_ip;
    ipfix_->Add(r);
    ++counters_.ipfix_records;
  }
}

void EventLog::OnApply(const nat::MappingTable& before, const nat::MappingTable& after,
                       int64_t now_ms) {
  struct Held {
    uint32_t external;
    const nat::PodMappingConfig* m;
  };
  const auto index = [](const nat::MappingTable& t) {
    absl::flat_hash_map<uint64_t, Held> m;
    for (const nat::PodMappingConfig& p : t.config().pod_mappings) {
      m[(uint64_t{p.island} << 32) | p.pod_ip] = Held{p.external_ip, &p};
    }
    return m;
  };
  const auto old_map = index(before);
  const auto new_map = index(after);
  const bool start = &before == &after;
  const auto emit = [&](bool add, const nat::PodMappingConfig& p) {
    const uint64_t key = (uint64_t{p.island} << 32) | p.pod_ip;
    int64_t since = now_ms;
    if (add) {
      mapped_since_[key] = now_ms;
    } else if (auto it = mapped_since_.find(key); it != mapped_since_.end()) {
      since = it->second;
      mapped_since_.erase(it);
    }
    WriteMapping(add, p, after, start ? "start" : "apply", since, now_ms, true, true);
  };
  if (start) {
    for (const auto& [key, h] : new_map) emit(true, *h.m);
    return;
  }
  for (const auto& [key, h] : old_map) {
    auto it = new_map.find(key);
    if (it == new_map.end() || it->second.external != h.external) emit(false, *h.m);
  }
  for (const auto& [key, h] : new_map) {
    auto it = old_map.find(key);
    if (it == old_map.end() || it->second.external != h.external) emit(true, *h.m);
  }
}

std::string EventLog::RenderMetrics() const {
  const auto counter = [](std::string* out, const char* name, const char* help, uint64_t v) {
    absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " counter\n", name, " ",
                    v, "\n");
  };
  std::string out;
  counter(&out, "natgw_event_log_records_total", "Event log records written (JSON lines).",
          counters_.records);
  absl::StrAppend(&out,
                  "# HELP natgw_event_log_dropped_total Session events dropped because the "
                  "worker's event ring was full.\n# TYPE natgw_event_log_dropped_total counter\n");
  for (uint32_t w = 0; w < engine_->num_workers(); ++w) {
    absl::StrAppend(&out, "natgw_event_log_dropped_total{worker=\"", w, "\"} ",
                    engine_->event_ring(w)->dropped(), "\n");
  }
  counter(&out, "natgw_event_log_write_errors_total",
          "Event log records lost to failed writes or rotations.", counters_.write_errors);
  counter(&out, "natgw_event_log_rotations_total", "Event log files rotated.", counters_.rotations);
  counter(&out, "natgw_ipfix_records_total", "IPFIX data records exported.",
          counters_.ipfix_records);
  counter(&out, "natgw_ipfix_messages_total", "IPFIX messages sent to the collector.",
          counters_.ipfix_messages);
  counter(&out, "natgw_ipfix_send_errors_total", "IPFIX messages that could not be sent.",
          counters_.ipfix_errors);
  return out;
}

}  // namespace natgw::telemetry
