// The `kubernetes` cluster-state source (issue 4): list+watch of Pods, Services, EndpointSlices
// and Nodes from the Kubernetes API over HTTP(S) with libcurl, one thread per kind, feeding an
// UpdateQueue. It never touches the engine: the control thread drains the queue.
//
// Per kind: a paged list (one kReplace once every page is in), then watches from the list's
// resource version (kUpsert/kDelete per event, kStatus per bookmark); 410 Gone re-lists; a closed
// stream re-watches; failures back off (capped, jittered) and push kStatus connected=false with
// the reason, so the control thread keeps translating with the last known state and says so. See
// kube_list_watch.h for the protocol. `connected` on every update is the whole source's: false
// while any kind is failing, the message then that kind's reason (status() has each kind's).
//
// Conf keys (in each [[cluster]], as config_reader.cc reads them into KubernetesSourceConfig;
// map them 1:1 onto KubeApiConfig):
//   kubeconfig = "/etc/natgw/kubeconfig"  # or in_cluster = true, or server alone
//   server = "http://127.0.0.1:8001"      # alone: kubectl proxy; with kubeconfig: overrides it
//   in_cluster = true                     # the pod's service account
//   namespace = "shop"                    # default all namespaces; nodes are cluster-wide
//   label_selector = "natgw=yes"          # server-side filter of pods/services/slices
// Suggested further keys, with the defaults of KubeApiConfig (optional, for tuning and tests):
//   context = "island-1"                  # kubeconfig context; default its current-context
//   kinds = ["pods", "services", "endpointslices", "nodes"]
//   page_limit = 500
//   watch_timeout_s = [240, 360]          # jittered timeoutSeconds of each watch
//   backoff_ms = [500, 30000]             # reconnect back-off, first and cap
//   connect_timeout_s = 10
// source_name: "kubernetes" by default; give each [[cluster]] its own (e.g. "kubernetes:c1").
//
// Usage:
//   auto src = KubeApiSource::Create(cfg, &queue);   // resolves credentials; no I/O yet
//   (*src)->Start();                                 // threads start listing
//   ... (*src)->status() for natgwctl / metrics, any thread ...
//   (*src)->Stop();                                  // prompt, even mid-watch or mid-back-off
#ifndef NATGW_LIB_CONTROL_KUBE_API_SOURCE_H_
#define NATGW_LIB_CONTROL_KUBE_API_SOURCE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/control/cluster_source.h"
#include "lib/control/kube_credentials.h"
#include "lib/control/kube_list_watch.h"
#include "lib/control/kube_objects.h"

struct curl_slist;

namespace natgw::control {

struct KubeApiConfig {
  std::string source_name = "kubernetes";  // SourceUpdate::source
  // Where and how: kubeconfig, else in_cluster, else a plain `server` URL (kubectl proxy).
  std::string kubeconfig;
  std::string context;  // kubeconfig context; empty: current-context
  bool in_cluster = false;
  std::string in_cluster_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::string server;  // alone: the URL; with kubeconfig/in_cluster: overrides their server
  // What.
  std::string ns;              // empty: all namespaces (a kubeconfig context's is not implied)
  std::string label_selector;  // empty: everything; never applied to nodes
  std::vector<kube::Kind> kinds = {std::begin(kube::kAllKinds), std::end(kube::kAllKinds)};
  uint32_t page_limit = 500;
  // How.
  uint32_t watch_timeout_min_s = 240;
  uint32_t watch_timeout_max_s = 360;
  uint32_t backoff_min_ms = 500;
  uint32_t backoff_max_ms = 30000;
  uint32_t connect_timeout_s = 10;
  uint32_t list_timeout_s = 120;  // one list page, whole response
};

struct KubeKindStatus {
  kube::Kind kind = kube::Kind::kPod;
  bool connected = false;
  bool listed = false;  // a full list has been pushed at least once
  std::string resource_version;
  std::chrono::steady_clock::time_point last_update{};  // last update pushed (zero: none yet)
  uint64_t events = 0;                                  // watch events (added, modified, deleted)
  uint64_t failures = 0;  // failed requests, each followed by a back-off and a reconnect
  uint64_t relists = 0;   // 410 Gone
  std::string last_error;
};

struct KubeApiStatus {
  std::string server;
  std::string origin;      // "kubeconfig /etc/natgw/kubeconfig (context c)", "in-cluster ..."
  bool connected = false;  // every kind connected
  std::vector<KubeKindStatus> kinds;
};

class KubeApiSource {
 public:
  // Resolves the credentials (reads kubeconfig / service account); refuses bad config.
  static absl::StatusOr<std::unique_ptr<KubeApiSource>> Create(const KubeApiConfig& config,
                                                               UpdateQueue* queue);
  ~KubeApiSource();  // Stop()s
  KubeApiSource(const KubeApiSource&) = delete;
  KubeApiSource& operator=(const KubeApiSource&) = delete;

  // Starts one thread per kind. Once only.
  absl::Status Start();
  // Stops and joins the threads, promptly (wakes blocking transfers and back-offs). Idempotent.
  void Stop();
  // Any thread.
  KubeApiStatus status() const;

 private:
  struct Worker;
  KubeApiSource(const KubeApiConfig& config, kube::KubeCredentials creds, UpdateQueue* queue);
  void Run(Worker* w);
  curl_slist* Prepare(Worker* w, char* errbuf, std::string* error);
  int Perform(Worker* w);  // a CURLcode
  void Publish(Worker* w, kube::ListWatch::Step* step);
  // Waits `d` or until Stop(); false when stopping.
  bool Sleep(std::chrono::milliseconds d);

  KubeApiConfig config_;
  kube::KubeCredentials creds_;
  UpdateQueue* queue_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  mutable std::mutex mu_;  // guards Worker::status and the back-off wait
  std::condition_variable cv_;
};

}  // namespace natgw::control

#endif  // NATGW_LIB_CONTROL_KUBE_API_SOURCE_H_
