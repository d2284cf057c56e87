// natgwctl: the operator's command line for a running natgw, over its control socket.
#include <cstdio>
#include <string>
#include <vector>

#include "gflags/gflags.h"
#include "lib/control/ctl_socket.h"
#include "lib/telemetry/event_lookup.h"

DEFINE_string(
    socket, "/run/natgw/natgw.sock",
    "control socket of the gateway to talk to (the [gateway] control_socket of its conf)");
DEFINE_bool(json, false, "print machine-readable JSON instead of tables");
DEFINE_string(
    at, "",
    "with lookup: the time to ask about, RFC 3339 (\"2026-11-26T10:15:00Z\"); the gateway "
    "answers from its live sessions and its event log");
DEFINE_string(event_log, "",
              "with lookup --at: read this event log (and its rotated files PATH.1, PATH.2, ...) "
              "directly, without a running gateway");

namespace {

// `lookup TARGET --at T --event_log PATH`: no gateway needed.
int OfflineLookup(const std::string& target) {
  natgw::telemetry::LookupQuery q;
  if (absl::Status s = natgw::telemetry::ParseLookupTarget(target, &q); !s.ok()) {
    std::fprintf(stderr, "natgwctl: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  absl::StatusOr<int64_t> at = natgw::telemetry::ParseTime(FLAGS_at);
  if (!at.ok()) {
    std::fprintf(stderr, "natgwctl: %s\n", std::string(at.status().message()).c_str());
    return 2;
  }
  q.at_ms = *at;
  if (natgw::telemetry::EventLogFiles(FLAGS_event_log).empty()) {
    std::fprintf(stderr, "natgwctl: %s: no event log there (nor rotated files)\n",
                 FLAGS_event_log.c_str());
    return 1;
  }
  auto holders = natgw::telemetry::LookupInLog(FLAGS_event_log, q);
  if (!holders.ok()) {
    std::fprintf(stderr, "natgwctl: %s\n", std::string(holders.status().message()).c_str());
    return 1;
  }
  std::fputs(natgw::telemetry::RenderLookup(target, q, *holders, FLAGS_json).c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "natgwctl [--socket PATH] [--json] COMMAND\n"
      "\n"
      "commands:\n"
      "  show stats | interfaces | mappings | neighbors | routes\n"
      "  show cluster                cluster-state sources (connected, last event, resource\n"
      "                              version), pool usage, pods and services without address\n"
      "  show sessions [island=NAME] [pod=IP] [external=IP] [proto=tcp|udp|icmp] [limit=N]\n"
      "  lookup EXTERNAL_IP[:PORT]   which pod is behind an external address\n"
      "  lookup EXTERNAL_IP[:PORT] --at TIME [--event_log PATH]\n"
      "                              which pod held it at TIME (RFC 3339, e.g.\n"
      "                              2026-11-26T10:15:00Z): asks the gateway (live sessions and\n"
      "                              its event log), or reads PATH without a gateway\n"
      "  reload                      re-read the conf file (the running one stays if refused)\n"
      "  flush                       drop every session\n"
      "  trace ISLAND/POD_IP | NAMESPACE/NAME\n"
      "                              a pod's unique and egress addresses, services, sessions\n"
      "  help\n"
      "\n"
      "exit status: 0 done, 1 the gateway refused the command, 2 no gateway / bad usage");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fprintf(stderr, "%s\n", gflags::ProgramUsage());
    return 2;
  }
  if (!FLAGS_at.empty() || !FLAGS_event_log.empty()) {
    if (args.size() != 2 || args[0] != "lookup") {
      std::fprintf(stderr, "natgwctl: --at and --event_log go with lookup EXTERNAL_IP[:PORT]\n");
      return 2;
    }
    if (FLAGS_at.empty()) {
      std::fprintf(stderr, "natgwctl: --event_log needs --at TIME\n");
      return 2;
    }
    if (!FLAGS_event_log.empty()) return OfflineLookup(args[1]);
    // Checked here too, so that a typo is refused the same way with or without a gateway.
    natgw::telemetry::LookupQuery q;
    absl::Status target = natgw::telemetry::ParseLookupTarget(args[1], &q);
    absl::StatusOr<int64_t> at = natgw::telemetry::ParseTime(FLAGS_at);
    if (!target.ok() || !at.ok()) {
      std::fprintf(stderr, "natgwctl: %s\n",
                   std::string((!target.ok() ? target : at.status()).message()).c_str());
      return 2;
    }
    args.push_back("--at");
    std::string at_arg = FLAGS_at;  // one word on the control socket
    for (char& c : at_arg) c = c == ' ' ? 'T' : c;
    args.push_back(at_arg);
  }
  auto reply = natgw::control::CtlRequest(FLAGS_socket, args, FLAGS_json);
  if (!reply.ok()) {
    std::fprintf(stderr, "natgwctl: %s\n", std::string(reply.status().message()).c_str());
    return 2;
  }
  std::fputs(reply->body.c_str(), reply->ok ? stdout : stderr);
  return reply->ok ? 0 : 1;
}
