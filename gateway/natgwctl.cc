// natgwctl: the operator's command line for a running natgw, over its control socket.
#include <cstdio>
#include <string>
#include <vector>

#include "gflags/gflags.h"
#include "lib/control/ctl_socket.h"

DEFINE_string(socket, "/run/natgw/natgw.sock",
              "control socket of the gateway to talk to (the [gateway] control_socket of its conf)");
DEFINE_bool(json, false, "print machine-readable JSON instead of tables");

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "natgwctl [--socket PATH] [--json] COMMAND\n"
      "\n"
      "commands:\n"
      "  show stats | interfaces | mappings | neighbors | routes\n"
      "  show sessions [island=NAME] [pod=IP] [external=IP] [proto=tcp|udp|icmp] [limit=N]\n"
      "  lookup EXTERNAL_IP[:PORT]   which pod is behind an external address\n"
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
  auto reply = natgw::control::CtlRequest(FLAGS_socket, args, FLAGS_json);
  if (!reply.ok()) {
    std::fprintf(stderr, "natgwctl: %s\n", std::string(reply.status().message()).c_str());
    return 2;
  }
  std::fputs(reply->body.c_str(), reply->ok ? stdout : stderr);
  return reply->ok ? 0 : 1;
}
