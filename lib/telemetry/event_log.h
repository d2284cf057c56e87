// The translation event log (control thread): drains the workers' session event rings, names the
// pod behind each event, and writes one JSON line per session create and delete, per mapping
// change (a pod got or lost a unique address) and per pool ports exhausted, to a file rotated by
// size; in port-block mode egress-pool sessions are folded into blocks of ports. The same events
// go to an IPFIX collector when [ipfix] is set. Never waits on a worker.
#ifndef NATGW_LIB_TELEMETRY_EVENT_LOG_H_
#define NATGW_LIB_TELEMETRY_EVENT_LOG_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "lib/control/gateway_config.h"
#include "lib/nat/engine.h"
#include "lib/nat/session_events.h"
#include "lib/telemetry/ipfix.h"

namespace natgw::telemetry {

// A file that is renamed to PATH.1 (PATH.1 to PATH.2, ...; the oldest beyond keep_files is
// removed) before a write would take it past max_bytes. Writes are buffered until Flush.
class RotatingFile {
 public:
  RotatingFile(std::string path, uint64_t max_bytes, uint32_t keep_files)
      : path_(std::move(path)), max_bytes_(max_bytes), keep_files_(keep_files) {}
  ~RotatingFile();
  RotatingFile(const RotatingFile&) = delete;
  RotatingFile& operator=(const RotatingFile&) = delete;

  // Creates the directory if needed and opens PATH for appending.
  absl::Status Open();
  // Closes the file and removes it, and the directories Open created, if Open created it and
  // nothing was written (a reload that was refused after its new file had been opened).
  void RemoveIfUnused();
  // Queues one line (without its '\n'); rotates first if it would not fit.
  absl::Status Append(std::string_view line);
  absl::Status Flush();
  uint64_t rotations() const { return rotations_; }
  // New limits for the next Append (a reload that keeps the path).
  void SetLimits(uint64_t max_bytes, uint32_t keep_files) {
    max_bytes_ = max_bytes;
    keep_files_ = keep_files;
  }

 private:
  absl::Status Rotate();
  std::string path_;
  uint64_t max_bytes_;
  uint32_t keep_files_;
  int fd_ = -1;
  uint64_t size_ = 0;  // bytes in the file, buffer included
  std::string buffer_;
  uint64_t rotations_ = 0;
  bool opened_before_ = false;
  bool created_ = false;                        // the file did not exist before the first Open
  std::vector<std::filesystem::path> new_dirs_;  // directories Open created, outermost first
};

struct EventLogCounters {
  uint64_t records = 0;       // JSON lines written
  uint64_t write_errors = 0;  // lines lost to a failed write or rotation
  uint64_t rotations = 0;
  uint64_t ipfix_records = 0;
  uint64_t ipfix_messages = 0;
  uint64_t ipfix_errors = 0;  // messages that could not be sent
};

// What a reload changes of a running log: made by EventLog::PrepareReload (which opens what is
// new, so that a bad path or collector refuses the reload before anything changed), applied by
// EventLog::CommitReload.
struct EventLogReload {
  EventLogReload() = default;
  EventLogReload(EventLogReload&&) = default;
  // A reload dropped before its commit (the engine refused the conf) leaves no new empty file.
  ~EventLogReload() {
    if (file != nullptr) file->RemoveIfUnused();
  }
  std::unique_ptr<RotatingFile> file;  // the file at a new path, opened
  bool limits = false;                 // the same path with a new size or keep_files
  bool ipfix = false;                  // IPFIX turned on or off, or its settings changed
  std::unique_ptr<IpfixEncoder> encoder;  // a new collector or domain (null: keep the running)
  std::optional<IpfixSender> sender;      // a new collector
  std::vector<std::string> changes;  // what changes, for the log
};

class EventLog {
 public:
  // Opens the file (mode != off) and the collector socket ([ipfix]), writes a mapping_add record
  // for every pod address in the running table, and becomes the engine's apply observer, so every
  // later Engine::Apply logs its mapping changes. `config` must outlive the log (set_config after
  // a reload). The engine must have been created with an event ring.
  static absl::StatusOr<std::unique_ptr<EventLog>> Create(const control::GatewayConfig* config,
                                                          nat::Engine* engine);
  ~EventLog();

  // Drains every worker's ring and writes what it found; flushes the file and the IPFIX messages.
  void Poll();

  void set_config(const control::GatewayConfig* config) { config_ = config; }
  // A reload to `next`: its [event_log] path, max_size_mb and keep_files and its [ipfix] take
  // effect at CommitReload (mode, ring_size and port_block_size are fixed at start:
  // control::KeepRestartOnlySettings gives `next` the running ones). An error (the new file
  // cannot be opened) changes nothing.
  absl::StatusOr<EventLogReload> PrepareReload(const control::GatewayConfig& next) const;
  // Writes what the workers' rings hold to the old file and collector, then switches to the new
  // ones, which start with a mapping_add (reason "reload") for every pod address held now.
  // `config` (the reloaded one, from PrepareReload) must outlive the log.
  void CommitReload(EventLogReload r, const control::GatewayConfig* config);
  const EventLogCounters& counters() const { return counters_; }
  uint64_t dropped() const { return engine_->EventsDropped(); }
  // Prometheus text of the counters above (natgw_event_log_*, natgw_ipfix_*).
  std::string RenderMetrics() const;

  // Wall clock of an event's TSC stamp. Tests fix the reference and the frequency.
  int64_t WallMs(uint64_t tsc) const;
  void SetClockForTest(uint64_t tsc0, int64_t wall_ms0, uint64_t tsc_hz) {
    tsc0_ = tsc0;
    wall_ms0_ = wall_ms0;
    tsc_hz_ = tsc_hz;
  }
  // Handles one event as Poll would (tests).
  void HandleForTest(const nat::SessionEvent& e) { Handle(e); }
  void FlushForTest() { Flush(); }

 private:
  EventLog(const control::GatewayConfig* config, nat::Engine* engine);
  void Handle(const nat::SessionEvent& e);
  void OnApply(const nat::MappingTable& before, const nat::MappingTable& after, int64_t now_ms);
  // One mapping_add (with `reason`) or mapping_remove record, to the file and to IPFIX as asked;
  // `since_ms`: when the address was taken (a remove's "since", a reload snapshot's).
  void WriteMapping(bool add, const nat::PodMappingConfig& p, const nat::MappingTable& t,
                    const char* reason, int64_t since_ms, int64_t now_ms, bool to_file,
                    bool to_ipfix);
  void Write(const std::string& line);
  void Flush();

  struct Block {
    uint32_t sessions = 0;
    int64_t allocated_ms = 0;
  };
  // (island << 32 | pod_ip, external_ip << 32 | block index)
  using BlockKey = std::pair<uint64_t, uint64_t>;

  const control::GatewayConfig* config_;
  nat::Engine* engine_;
  control::EventLogConfig settings_;  // running: as at start, path and limits as reloaded
  std::unique_ptr<RotatingFile> file_;
  std::unique_ptr<IpfixEncoder> ipfix_;
  std::optional<IpfixSender> sender_;
  absl::flat_hash_map<BlockKey, Block> blocks_;
  absl::flat_hash_map<uint64_t, int64_t> mapped_since_;  // (island << 32 | pod_ip) -> ms
  uint64_t tsc0_ = 0;
  int64_t wall_ms0_ = 0;
  uint64_t tsc_hz_ = 0;
  EventLogCounters counters_;
  uint64_t old_files_rotations_ = 0;  // rotations of the files before a reload's new path
};

}  // namespace natgw::telemetry

#endif  // NATGW_LIB_TELEMETRY_EVENT_LOG_H_
