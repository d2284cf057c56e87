// libcurl I/O around kube::ListWatch: one thread, one multi handle and one easy handle per kind.
// A multi handle (not curl_easy_perform) so that Stop() wakes a blocked transfer at once with
// curl_multi_wakeup instead of waiting for a progress callback.
#include "lib/control/kube_api_source.h"

#include <curl/curl.h>
#include <glog/logging.h>

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace natgw::control {
namespace {

using kube::ListWatch;

constexpr size_t kMaxErrorBody = 64 << 10;

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

void SetBlob(CURL* easy, CURLoption opt, const std::string& pem) {
  curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(easy, opt, &blob);
}

}  // namespace

// One kind's thread, its machine and the response being read.
struct KubeApiSource::Worker {
  Worker(kube::Kind kind, kube::ListWatchOptions options, uint64_t seed)
      : rng(seed), machine(kind, std::move(options), [this] { return uniform(rng); }) {}
  ~Worker() {
    if (multi != nullptr) curl_multi_cleanup(multi);
  }

  KubeApiSource* source = nullptr;
  std::mt19937_64 rng;
  std::uniform_real_distribution<double> uniform{0.0, 1.0};
  ListWatch machine;
  CURLM* multi = nullptr;
  std::thread thread;
  KubeKindStatus status;  // under source->mu_

  // The transfer in flight.
  ListWatch::Request request;
  long http_status = 0;
  std::string body;  // list responses and non-200 watch bodies
  kube::LineSplitter splitter;
  bool machine_aborted = false;  // the machine said stop reading; its step is already published
  std::chrono::milliseconds abort_delay{0};

  CURL* easy = nullptr;

  // Records the response's status once known (a 200 watch is connected before any event).
  void NoteStatus();
  static size_t OnBody(char* data, size_t size, size_t n, void* arg);
};

void KubeApiSource::Worker::NoteStatus() {
  if (http_status != 0) return;
  long code = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
  if (code == 0) return;
  http_status = code;
  if (request.watch) {
    ListWatch::Step step = machine.OnWatchStatus(static_cast<int>(code));
    source->Publish(this, &step);
  }
}

size_t KubeApiSource::Worker::OnBody(char* data, size_t size, size_t n, void* arg) {
  auto* w = static_cast<Worker*>(arg);
  std::string_view chunk(data, size * n);
  w->NoteStatus();
  if (!w->request.watch || w->http_status != 200) {
    if (w->request.watch && w->body.size() + chunk.size() > kMaxErrorBody) return size * n;
    w->body.append(chunk);
    return size * n;
  }
  bool ok = w->splitter.Feed(chunk, [w](std::string_view line) {
    ListWatch::Step step = w->machine.OnWatchLine(line);
    bool abort = step.abort;
    if (abort) w->abort_delay = step.delay;
    w->source->Publish(w, &step);
    return !abort && !w->source->stopping_.load(std::memory_order_relaxed);
  });
  if (!ok) {
    if (w->splitter.overflowed()) {
      ListWatch::Step step = w->machine.OnTransportError("a watch event larger than 64 MiB");
      w->abort_delay = step.delay;
      w->source->Publish(w, &step);
    }
    w->machine_aborted = true;
    return 0;  // CURLE_WRITE_ERROR ends the transfer
  }
  return size * n;
}

absl::StatusOr<std::unique_ptr<KubeApiSource>> KubeApiSource::Create(const KubeApiConfig& config,
                                                                     UpdateQueue* queue) {
  static CurlGlobal curl_global;
  absl::StatusOr<kube::KubeCredentials> creds;
  if (!config.kubeconfig.empty()) {
    creds = kube::LoadKubeconfig(config.kubeconfig, config.context);
  } else if (config.in_cluster) {
    creds = kube::LoadInCluster(config.in_cluster_dir);
  } else if (!config.server.empty()) {
    creds = kube::FromUrl(config.server);
  } else {
    return absl::InvalidArgumentError(
        "kubernetes source: set one of kubeconfig, in_cluster or server");
  }
  if (!creds.ok()) return creds.status();
  if (!config.server.empty() && (!config.kubeconfig.empty() || config.in_cluster)) {
    auto url = kube::FromUrl(config.server);
    if (!url.ok()) return url.status();
    creds->server = url->server;
  }
  if (config.kinds.empty()) return absl::InvalidArgumentError("kubernetes source: no kinds");
  if (config.backoff_min_ms == 0 || config.backoff_max_ms < config.backoff_min_ms) {
    return absl::InvalidArgumentError("kubernetes source: back-off must be 0 < min <= max");
  }
  return std::unique_ptr<KubeApiSource>(new KubeApiSource(config, *std::move(creds), queue));
}

KubeApiSource::KubeApiSource(const KubeApiConfig& config, kube::KubeCredentials creds,
                             UpdateQueue* queue)
    : config_(config), creds_(std::move(creds)), queue_(queue) {
  std::random_device rd;
  for (kube::Kind kind : config_.kinds) {
    kube::ListWatchOptions o;
    o.source = config_.source_name;
    o.ns = config_.ns;
    o.label_selector = config_.label_selector;
    o.page_limit = config_.page_limit;
    o.watch_timeout_min_s = config_.watch_timeout_min_s;
    o.watch_timeout_max_s = config_.watch_timeout_max_s;
    o.backoff_min = std::chrono::milliseconds(config_.backoff_min_ms);
    o.backoff_max = std::chrono::milliseconds(config_.backoff_max_ms);
    auto w = std::make_unique<Worker>(kind, std::move(o), (uint64_t{rd()} << 32) | rd());
    w->source = this;
    w->status.kind = kind;
    workers_.push_back(std::move(w));
  }
}

KubeApiSource::~KubeApiSource() { Stop(); }

absl::Status KubeApiSource::Start() {
  if (started_) return absl::FailedPreconditionError("kubernetes source already started");
  started_ = true;
  if (creds_.insecure_skip_tls_verify) {
    LOG(WARNING) << "kubernetes source: TLS verification of " << creds_.server
                 << " is off (insecure-skip-tls-verify)";
  }
  if (!creds_.tls_server_name.empty()) {
    LOG(WARNING) << "kubernetes source: tls-server-name is not supported; verifying "
                 << creds_.server;
  }
  std::vector<std::string> names;
  for (auto& w : workers_) {
    w->multi = curl_multi_init();
    if (w->multi == nullptr) return absl::ResourceExhaustedError("curl_multi_init failed");
    names.push_back(kube::KindName(w->machine.kind()));
  }
  LOG(INFO) << "kubernetes source: list+watch of " << absl::StrJoin(names, ", ") << " at "
            << creds_.server << " from " << creds_.origin
            << (config_.ns.empty() ? "" : absl::StrCat(", namespace ", config_.ns));
  for (auto& w : workers_) {
    Worker* raw = w.get();
    w->thread = std::thread([this, raw] { Run(raw); });
  }
  return absl::OkStatus();
}

void KubeApiSource::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_.exchange(true)) return;
  }
  cv_.notify_all();
  for (auto& w : workers_) {
    if (w->multi != nullptr) curl_multi_wakeup(w->multi);
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  if (started_) LOG(INFO) << "kubernetes source: stopped";
}

bool KubeApiSource::Sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

KubeApiStatus KubeApiSource::status() const {
  KubeApiStatus s;
  s.server = creds_.server;
  s.origin = creds_.origin;
  std::lock_guard<std::mutex> lock(mu_);
  s.connected = !workers_.empty();
  for (const auto& w : workers_) {
    s.kinds.push_back(w->status);
    s.connected = s.connected && w->status.connected;
  }
  return s;
}

void KubeApiSource::Publish(Worker* w, ListWatch::Step* step) {
  const ListWatch& m = w->machine;
  {
    std::lock_guard<std::mutex> lock(mu_);
    KubeKindStatus& st = w->status;
    if (m.failures() > st.failures) {
      // A new failure: said once per disconnection or change of reason, then at VLOG(1).
      if (st.connected || m.last_error() != st.last_error) {
        LOG(WARNING) << "kubernetes source: " << m.last_error() << "; retrying, "
                     << (st.listed ? "keeping the last known state" : "nothing listed yet");
      } else {
        VLOG(1) << "kubernetes source: " << m.last_error();
      }
    } else if (!st.connected && m.connected() && st.failures > 0) {
      LOG(INFO) << "kubernetes source: " << kube::KindName(m.kind()) << " connected again";
    }
    if (m.relists() > st.relists) LOG(INFO) << "kubernetes source: " << m.last_error();
    st.connected = m.connected();
    st.listed = m.listed();
    st.resource_version = m.resource_version();
    st.events = m.events();
    st.failures = m.failures();
    st.relists = m.relists();
    st.last_error = m.last_error();
    if (!step->updates.empty()) st.last_update = step->updates.back().arrived;
    // The control thread keeps one status per source: every update carries the source's, which
    // is disconnected while any kind is failing, with that kind's reason.
    for (const auto& other : workers_) {
      const KubeKindStatus& o = other->status;
      if (o.connected || o.failures == 0) continue;
      for (SourceUpdate& u : step->updates) {
        u.connected = false;
        if (u.message.empty() || other.get() != w) u.message = o.last_error;
      }
      break;
    }
  }
  for (SourceUpdate& u : step->updates) {
    if (u.type == SourceUpdate::Type::kReplace) LOG(INFO) << "kubernetes source: " << u.message;
    queue_->Push(std::move(u));
  }
  step->updates.clear();
}

// The options of one request; nullptr headers when the token cannot be read (`*error` says why).
curl_slist* KubeApiSource::Prepare(Worker* w, char* errbuf, std::string* error) {
  CURL* easy = w->easy;
  curl_easy_reset(easy);
  std::string url = creds_.server + w->request.path;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "natgw");
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);  // a dead peer ends a quiet watch
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 10L);
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, static_cast<long>(config_.connect_timeout_s));
  long timeout_s = w->request.watch ? static_cast<long>(w->request.timeout_s) + 30
                                    : static_cast<long>(config_.list_timeout_s);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Worker::OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, w);
  if (!creds_.ca_pem.empty()) SetBlob(easy, CURLOPT_CAINFO_BLOB, creds_.ca_pem);
  if (creds_.insecure_skip_tls_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!creds_.client_cert_pem.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    SetBlob(easy, CURLOPT_SSLCERT_BLOB, creds_.client_cert_pem);
    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
    SetBlob(easy, CURLOPT_SSLKEY_BLOB, creds_.client_key_pem);
  }
  auto token = creds_.BearerToken();  // re-read per request: service-account tokens rotate
  if (!token.ok()) {
    *error = std::string(token.status().message());
    return nullptr;
  }
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  if (!token->empty()) {
    headers = curl_slist_append(headers, absl::StrCat("Authorization: Bearer ", *token).c_str());
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  return headers;
}

// Runs the prepared transfer until it ends or Stop() wakes it; its CURLcode.
int KubeApiSource::Perform(Worker* w) {
  curl_multi_add_handle(w->multi, w->easy);
  CURLcode result = CURLE_OK;
  bool done = false;
  while (!done && !stopping_) {
    int running = 0;
    curl_multi_perform(w->multi, &running);
    w->NoteStatus();  // a 200 watch is connected before its first event
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(w->multi, &queued)) {
      if (msg->msg == CURLMSG_DONE) {
        result = msg->data.result;
        done = true;
      }
    }
    if (!done) curl_multi_poll(w->multi, nullptr, 0, 1000, nullptr);
  }
  if (done) w->NoteStatus();
  curl_multi_remove_handle(w->multi, w->easy);
  return result;
}

void KubeApiSource::Run(Worker* w) {
  w->easy = curl_easy_init();
  char errbuf[CURL_ERROR_SIZE];
  while (w->easy != nullptr && !stopping_) {
    w->request = w->machine.Next();
    w->http_status = 0;
    w->body.clear();
    w->splitter.Reset();
    w->machine_aborted = false;
    w->abort_delay = std::chrono::milliseconds(0);
    errbuf[0] = '\0';
    std::string error;
    curl_slist* headers = Prepare(w, errbuf, &error);
    ListWatch::Step step;
    if (headers == nullptr) {
      step = w->machine.OnTransportError(error);
    } else {
      auto result = static_cast<CURLcode>(Perform(w));
      curl_slist_free_all(headers);
      if (stopping_) break;
      if (w->machine_aborted) {
        step.delay = w->abort_delay;  // its updates are out already
      } else if (result == CURLE_OPERATION_TIMEDOUT && w->request.watch && w->http_status == 200) {
        step = w->machine.OnWatchEnd(200, "");  // the server ignored timeoutSeconds: re-watch
      } else if (result != CURLE_OK) {
        std::string why = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(result);
        step = w->machine.OnTransportError(absl::StrCat(creds_.server, ": ", why));
      } else if (!w->request.watch) {
        step = w->machine.OnListResponse(static_cast<int>(w->http_status), w->body);
        w->body.clear();
        w->body.shrink_to_fit();
      } else {
        step = w->machine.OnWatchEnd(static_cast<int>(w->http_status), w->body);
      }
    }
    Publish(w, &step);
    if (step.delay.count() > 0 && !Sleep(step.delay)) break;
  }
  if (w->easy != nullptr) curl_easy_cleanup(w->easy);
  w->easy = nullptr;
}

}  // namespace natgw::control
