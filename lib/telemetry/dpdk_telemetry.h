// The gateway's counters through DPDK telemetry: `dpdk-telemetry.py -f FILE_PREFIX` (or any
// client of /var/run/dpdk/FILE_PREFIX/dpdk_telemetry.v2) shows these commands:
//   /natgw/stats     packets received and translated by direction, sessions created/expired,
//                    drop totals, live sessions; per interface (by name) packets and bytes
//   /natgw/sessions  live sessions: total, by kind, protocol and island, TCP by state
//   /natgw/drops     every engine and dataplane drop reason, zero included
//   /natgw/workers   per worker: busy and total loop cycles, busy ratio over the last second
//   /natgw/pools     totals, exhaustion events; per egress address: ports in use and capacity
//   /natgw/mappings  mapping counts and the 1:1 pod addresses ("c1/10.0.0.5 203.0.113.5 ns/name")
// The values are those of the Prometheus endpoint (lib/telemetry/metrics.h). DPDK allows only
// letters, digits, '_' and '/' in names, so others become '_': interface "c1-outside" is
// "c1_outside", address 192.0.2.16 is "192_0_2_16".
//
// Threads: DPDK runs the callbacks on its own telemetry thread, never on the control thread, so
// they never touch the engine or the dataplane. The control thread copies the counters into a
// TelemetrySnapshot (BuildTelemetrySnapshot) and hands it over with PublishTelemetry; a callback
// answers from the latest snapshot it finds (a shared pointer swapped under a mutex that neither
// side holds for longer than the swap). DPDK's callback type carries no context pointer, so the
// latest snapshot lives in this file: one gateway per process.
#ifndef NATGW_LIB_TELEMETRY_DPDK_TELEMETRY_H_
#define NATGW_LIB_TELEMETRY_DPDK_TELEMETRY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "lib/control/gateway_config.h"
#include "lib/dataplane/dataplane.h"
#include "lib/nat/engine.h"

namespace natgw::telemetry {

struct TelemetrySnapshot {
  using Entries = std::vector<std::pair<std::string, uint64_t>>;
  struct Section {  // a dict: numbers, then dicts of numbers (one level), then a list of strings
    Entries values;
    std::vector<std::pair<std::string, Entries>> children;
    std::string list_name;
    std::vector<std::string> list;
  };
  std::string gateway;
  Section stats, sessions, drops, workers, pools, mappings;
};

// Control thread: copies the counters (racy snapshots, like the metrics). `dataplane` and
// `busy_ratios` may be null.
std::shared_ptr<const TelemetrySnapshot> BuildTelemetrySnapshot(
    const nat::Engine& engine, const dataplane::Dataplane* dataplane,
    const control::GatewayConfig& config, const std::vector<double>* busy_ratios);

// Registers the /natgw/... commands with rte_telemetry_register_cmd (once per process; later
// calls do nothing). Before or after rte_eal_init. Internal error naming the command if DPDK
// refuses one.
absl::Status RegisterTelemetryCommands();

// Any thread: the snapshot the commands answer from from now on; null (at shutdown) makes them
// answer {"running": 0}.
void PublishTelemetry(std::shared_ptr<const TelemetrySnapshot> snapshot);

// The command names, for tests and --help.
const std::vector<std::string>& TelemetryCommands();

// Tests: renders a command's answer as JSON text, as the telemetry socket would, without DPDK.
std::string TelemetryJsonForTest(const std::string& command);

}  // namespace natgw::telemetry

#endif  // NATGW_LIB_TELEMETRY_DPDK_TELEMETRY_H_
