#include "lib/control/ctl_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace natgw::control {
namespace {

constexpr int kClientDeadlineMs = 2000;
constexpr size_t kMaxRequestBytes = 4096;

absl::StatusOr<sockaddr_un> Address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("control socket path ", path, " is longer than ", sizeof(addr.sun_path) - 1,
                     " bytes"));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CtlServer>> CtlServer::Listen(const std::string& path) {
  auto addr = Address(path);
  if (!addr.ok()) return addr.status();
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", dir.string(), " for the control socket: ", ec.message()));
  }
  // Another gateway still listening there? Then refuse rather than steal its socket.
  if (std::filesystem::exists(path)) {
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 &&
        connect(probe, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) == 0) {
      close(probe);
      return absl::AlreadyExistsError(absl::StrCat(
          "control socket ", path, " is in use by a running gateway; stop it or pick another "
          "[gateway] control_socket"));
    }
    if (probe >= 0) close(probe);
    unlink(path.c_str());
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  const mode_t old_mask = umask(0177);
  const int rc = bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
  umask(old_mask);
  if (rc != 0 || chmod(path.c_str(), 0600) != 0 || listen(fd, 16) != 0) {
    const int err = errno;
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on control socket ", path, ": ", std::strerror(err)));
  }
  return std::unique_ptr<CtlServer>(new CtlServer(path, fd));
}

CtlServer::~CtlServer() {
  close(fd_);
  unlink(path_.c_str());
}

void CtlServer::Poll(int timeout_ms, CtlHandler& handler) {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return;
  while (true) {
    int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) return;  // EAGAIN: nothing more pending
    Serve(client, handler);
    close(client);
  }
}

void CtlServer::Serve(int client, CtlHandler& handler) {
  std::string request;
  char buf[512];
  while (request.find('\n') == std::string::npos && request.size() < kMaxRequestBytes) {
    pollfd p{client, POLLIN, 0};
    if (poll(&p, 1, kClientDeadlineMs) <= 0) return;
    ssize_t n = recv(client, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  request = request.substr(0, request.find('\n'));
  std::vector<std::string> args = absl::StrSplit(request, ' ', absl::SkipEmpty());
  bool json = false;
  std::vector<std::string> words;
  for (auto& a : args) {
    if (a == "--json") {
      json = true;
    } else {
      words.push_back(std::move(a));
    }
  }
  CtlReply reply = handler.Handle(words, json);
  WriteAll(client, absl::StrCat(reply.ok ? "ok\n" : "error\n", reply.body));
}

absl::StatusOr<CtlReply> CtlRequest(const std::string& path, const std::vector<std::string>& args,
                                    bool json) {
  auto addr = Address(path);
  if (!addr.ok()) return addr.status();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    const int err = errno;
    close(fd);
    if (err == ENOENT || err == ECONNREFUSED) {
      return absl::UnavailableError(absl::StrCat(
          "natgw is not running (no gateway listens on ", path, "); start it, or pass "
          "--socket for another gateway"));
    }
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", path, ": ", std::strerror(err)));
  }
  std::string line = absl::StrCat(absl::StrJoin(args, " "), json ? " --json" : "", "\n");
  if (!WriteAll(fd, line)) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot send to ", path));
  }
  shutdown(fd, SHUT_WR);
  std::string reply;
  char buf[4096];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t nl = reply.find('\n');
  if (nl == std::string::npos) {
    return absl::UnavailableError("the gateway closed the connection without an answer");
  }
  return CtlReply{reply.substr(0, nl) == "ok", reply.substr(nl + 1)};
}

}  // namespace natgw::control
