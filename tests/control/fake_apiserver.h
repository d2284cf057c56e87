// Test harness around fake_apiserver.py: a scripted Kubernetes API server on an ephemeral port,
// started per test and killed by its PID; plus helpers to collect what a source pushes.
#ifndef NATGW_TESTS_CONTROL_FAKE_APISERVER_H_
#define NATGW_TESTS_CONTROL_FAKE_APISERVER_H_

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/control/cluster_source.h"
#include "lib/control/kube_api_source.h"
#include "nlohmann/json.hpp"

namespace natgw::control::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "natgw-kube-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  std::string Write(const std::string& name, const std::string& content) const {
    std::ofstream(File(name), std::ios::binary | std::ios::trunc) << content;
    return File(name);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct SeenRequest {
  std::string path;
  std::string authorization;
  std::string client_cn;
};

class FakeApiServer {
 public:
  // `routes` as fake_apiserver.py documents; `tls_args` e.g. {"--cert", c, "--key", k}.
  FakeApiServer(const TempDir& dir, const nlohmann::json& routes,
                std::vector<std::string> tls_args = {})
      : log_(dir.File("requests.log")) {
    std::string script = dir.Write("script.json", nlohmann::json{{"routes", routes}}.dump());
    int fds[2];
    if (pipe(fds) != 0) return;
    std::vector<std::string> args = {
        "python3", std::string(NATGW_SOURCE_ROOT) + "/tests/control/fake_apiserver.py", script,
        log_};
    args.insert(args.end(), tls_args.begin(), tls_args.end());
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("python3", argv.data());
      _exit(127);
    }
    close(fds[1]);
    pollfd p{fds[0], POLLIN, 0};
    std::string line;
    char c;
    while (poll(&p, 1, 10000) == 1 && read(fds[0], &c, 1) == 1 && c != '\n') line.push_back(c);
    close(fds[0]);
    port_ = line.empty() ? 0 : std::stoi(line);
  }
  ~FakeApiServer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  std::string url(const char* scheme = "http") const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(port_);
  }
  std::vector<SeenRequest> Requests() const {
    std::vector<SeenRequest> out;
    std::ifstream f(log_);
    for (std::string line; std::getline(f, line);) {
      auto j = nlohmann::json::parse(line);
      out.push_back({j["path"], j["authorization"], j["client_cn"]});
    }
    return out;
  }
  std::vector<std::string> Paths() const {
    std::vector<std::string> out;
    for (auto& r : Requests()) out.push_back(r.path);
    return out;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Creates and starts a source (a test failure and nullptr when either refuses).
inline std::unique_ptr<KubeApiSource> StartSource(const KubeApiConfig& config, UpdateQueue* q) {
  auto src = KubeApiSource::Create(config, q);
  EXPECT_TRUE(src.ok()) << src.status();
  if (!src.ok()) return nullptr;
  absl::Status st = (*src)->Start();
  EXPECT_TRUE(st.ok()) << st;
  return st.ok() ? *std::move(src) : nullptr;
}

// Collects a queue's updates until `done(all)` holds or `timeout` passes; returns everything.
inline std::vector<SourceUpdate> CollectUntil(
    UpdateQueue& q, const std::function<bool(const std::vector<SourceUpdate>&)>& done,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(8000)) {
  std::vector<SourceUpdate> all;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done(all)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{q.fd(), POLLIN, 0};
    poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 50)));  // re-check `done`
    for (auto& u : q.Drain()) all.push_back(std::move(u));
  }
  return all;
}

inline std::function<bool(const std::vector<SourceUpdate>&)> AtLeast(size_t n) {
  return [n](const std::vector<SourceUpdate>& all) { return all.size() >= n; };
}

}  // namespace natgw::control::testing

#endif  // NATGW_TESTS_CONTROL_FAKE_APISERVER_H_
