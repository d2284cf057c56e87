// The commands natgwctl sends to a running gateway: show, lookup, reload, flush. Runs on the
// control thread; reads the engine's tables as racy snapshots (never blocks a worker).
#ifndef NATGW_LIB_CONTROL_COMMANDS_H_
#define NATGW_LIB_CONTROL_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "lib/control/ctl_socket.h"
#include "lib/control/gateway_config.h"
#include "lib/nat/engine.h"

namespace natgw::dataplane {
class Dataplane;
}

namespace natgw::control {

class ClusterSync;

class GatewayCommands : public CtlHandler {
 public:
  struct Hooks {
    // Re-reads the conf file and applies it; returns the changed settings that need a restart.
    std::function<absl::StatusOr<std::vector<std::string>>()> reload;
    std::function<uint32_t()> now_s;       // the workers' clock
  };
  // The event log's counters for `show stats` (name, value), when the log runs.
  using CounterList = std::vector<std::pair<std::string, uint64_t>>;
  void set_event_log_counters(std::function<CounterList()> f) {
    event_log_counters_ = std::move(f);
  }
  // `dataplane` may be null (tests, or before ports are up): interface commands then say so.
  GatewayCommands(const GatewayConfig* config, nat::Engine* engine,
                  const dataplane::Dataplane* dataplane, Hooks hooks);

  CtlReply Handle(const std::vector<std::string>& args, bool json) override;

  // After a reload the gateway swaps in its new configuration.
  void set_config(const GatewayConfig* config) { config_ = config; }
  // The cluster-state sync, when the conf has [[cluster]] sections (`show cluster`).
  void set_cluster(const ClusterSync* cluster) { cluster_ = cluster; }

 private:
  CtlReply ShowStats(bool json);
  CtlReply ShowInterfaces(bool json);
  CtlReply ShowMappings(bool json);
  CtlReply ShowSessions(const std::vector<std::string>& filters, bool json);
  CtlReply ShowNeighbors(bool json);
  CtlReply ShowRoutes(bool json);
  CtlReply ShowCluster(bool json);
  CtlReply Lookup(const std::string& what, bool json);
  // Who held an external address (and port) at a past time: live sessions, then the event log
  // files (commands_lookup.cc).
  CtlReply LookupAt(const std::string& what, const std::string& at, bool json);
  CtlReply Trace(const std::string& pod, bool json);  // commands_trace.cc
  std::string IslandName(uint16_t id) const;

  const GatewayConfig* config_;
  nat::Engine* engine_;
  const dataplane::Dataplane* dataplane_;
  const ClusterSync* cluster_ = nullptr;
  Hooks hooks_;
  std::function<CounterList()> event_log_counters_;
};

}  // namespace natgw::control

#endif  // NATGW_LIB_CONTROL_COMMANDS_H_
