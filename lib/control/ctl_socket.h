// The control socket between natgwctl and the gateway's control thread.
//
// Protocol: the client connects to a Unix stream socket, writes one request line (the command
// words separated by single spaces, then '\n'), and reads until EOF. The reply's first line is
// "ok" or "error"; the rest is the body (a human table, or JSON when the request ends in --json).
#ifndef NATGW_LIB_CONTROL_CTL_SOCKET_H_
#define NATGW_LIB_CONTROL_CTL_SOCKET_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace natgw::control {

struct CtlReply {
  bool ok = false;
  std::string body;
};

// Answers one request. `args` are the request's words (without "--json"); `json` asks for JSON.
class CtlHandler {
 public:
  virtual ~CtlHandler() = default;
  virtual CtlReply Handle(const std::vector<std::string>& args, bool json) = 0;
};

class CtlServer {
 public:
  // Creates the socket's directory if needed (0755), refuses to take over a socket another
  // gateway is listening on, replaces a stale one, binds and restricts it to its owner (0600).
  static absl::StatusOr<std::unique_ptr<CtlServer>> Listen(const std::string& path);
  ~CtlServer();  // closes and removes the socket

  // Waits up to `timeout_ms` for requests and answers each with `handler`. A slow or silent
  // client is dropped after a short deadline, so it cannot stall the control thread.
  void Poll(int timeout_ms, CtlHandler& handler);

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }  // readable when a client connects

 private:
  CtlServer(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  void Serve(int client, CtlHandler& handler);
  std::string path_;
  int fd_;
};

// Client side: sends `args` (plus "--json" if json) and returns the reply. A gateway that is not
// running yields an Unavailable status that says so.
absl::StatusOr<CtlReply> CtlRequest(const std::string& path, const std::vector<std::string>& args,
                                    bool json);

}  // namespace natgw::control

#endif  // NATGW_LIB_CONTROL_CTL_SOCKET_H_
