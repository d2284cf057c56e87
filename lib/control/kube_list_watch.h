// The list+watch protocol of the Kubernetes API for one kind, as pure logic with no I/O, so that
// every transition is unit-tested without a network (kube_api_source.cc drives it with libcurl).
//
//   list:  GET <path>?limit=N[&continue=TOKEN]          pages until metadata.continue is empty,
//          then one kReplace with every page's objects and the list's resourceVersion.
//   watch: GET <path>?watch=1&resourceVersion=RV&allowWatchBookmarks=true&timeoutSeconds=T
//          (T jittered), a chunked stream of newline-delimited JSON events:
//          ADDED/MODIFIED -> kUpsert, DELETED -> kDelete, BOOKMARK -> kStatus with the new RV.
//   410 Gone (HTTP status, or an ERROR event with code 410)  -> re-list from scratch (at once;
//          after a back-off when the list itself, e.g. an expired continue token, or a watch
//          with no event since the last 410 got it, so a broken server is not hammered).
//   the server ends the stream                               -> re-watch from the last RV (after
//          a back-off if the stream carried nothing).
//   an undecodable event                                     -> skipped, said in a kStatus.
//   connection error, 5xx, 429, other ERROR event, bad body  -> back off (capped, jittered,
//          exponential), push kStatus connected=false, then retry what failed (the list page or
//          the watch from the last RV).
//
// Thread context: one machine per kind, used by one thread. Not thread-safe.
#ifndef NATGW_LIB_CONTROL_KUBE_LIST_WATCH_H_
#define NATGW_LIB_CONTROL_KUBE_LIST_WATCH_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/control/cluster_source.h"
#include "lib/control/kube_objects.h"

namespace natgw::control::kube {

// Splits a byte stream into lines on '\n', whatever the chunking: an event split across chunks is
// reassembled, several events in one chunk come out one by one, a trailing partial line waits for
// the rest (and is dropped if the stream ends first: its RV was never reached, the re-watch
// replays it). Blank lines are skipped; a trailing '\r' is removed.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line_bytes = 64u << 20) : max_line_bytes_(max_line_bytes) {}
  // Calls `line` for each complete line in order; stops early (returning false) when it returns
  // false or a line grows past max_line_bytes (overflowed() is then true).
  bool Feed(std::string_view data, const std::function<bool(std::string_view)>& line);
  void Reset() {
    partial_.clear();
    overflowed_ = false;
  }
  size_t pending_bytes() const { return partial_.size(); }
  bool overflowed() const { return overflowed_; }

 private:
  size_t max_line_bytes_;
  std::string partial_;
  bool overflowed_ = false;
};

// Capped exponential back-off with jitter: attempt n waits base = min(max, min * 2^n), jittered
// uniformly into [base * (1 - jitter), base]. Never more than `max`, never less than
// min * (1 - jitter).
class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, double jitter = 0.25)
      : min_(min), max_(max), jitter_(jitter) {}
  // `uniform01` is a number in [0, 1).
  std::chrono::milliseconds Next(double uniform01);
  void Reset() { attempt_ = 0; }
  uint32_t attempt() const { return attempt_; }

 private:
  std::chrono::milliseconds min_, max_;
  double jitter_;
  uint32_t attempt_ = 0;
};

// RFC 3986 percent-encoding of a query value (unreserved characters kept).
std::string QueryEscape(std::string_view s);

// The API path of a kind's collection: /api/v1/pods, /api/v1/namespaces/NS/pods,
// /apis/discovery.k8s.io/v1/[namespaces/NS/]endpointslices, /api/v1/nodes (nodes are
// cluster-scoped: never namespaced).
std::string CollectionPath(Kind kind, std::string_view ns);

// The `message` of a Kubernetes Status body (`{"kind":"Status",...,"message":"..."}`), else the
// first 200 printable bytes of the body.
std::string StatusBodyMessage(std::string_view body);

struct ListWatchOptions {
  std::string source = "kubernetes";  // SourceUpdate::source
  std::string ns;                     // empty: all namespaces
  std::string label_selector;         // empty: none; never applied to nodes
  uint32_t page_limit = 500;          // 0: one unpaged list
  uint32_t watch_timeout_min_s = 240;
  uint32_t watch_timeout_max_s = 360;
  std::chrono::milliseconds backoff_min{500};
  std::chrono::milliseconds backoff_max{30000};
};

class ListWatch {
 public:
  struct Request {
    std::string path;  // with the query string
    bool watch = false;
    uint32_t timeout_s = 0;  // watch: timeoutSeconds sent to the server
  };
  // What the driver does after a callback: push `updates` in order; when `abort` stop reading the
  // current response; wait `delay` before the next Request().
  struct Step {
    std::vector<SourceUpdate> updates;
    bool abort = false;
    std::chrono::milliseconds delay{0};
  };
  enum class Phase : uint8_t { kList, kWatch };

  // `uniform01` returns numbers in [0, 1) (jitter of watch timeouts and back-off).
  ListWatch(Kind kind, ListWatchOptions options, std::function<double()> uniform01);

  // The next request to make.
  Request Next();
  // A list page answered (whole body).
  Step OnListResponse(int http_status, std::string_view body);
  // A watch answered with headers; on 200 the stream's lines follow.
  Step OnWatchStatus(int http_status);
  // One line of a 200 watch stream.
  Step OnWatchLine(std::string_view line);
  // The watch response ended without a transport error: the stream closed (200), or a non-200
  // status with its body.
  Step OnWatchEnd(int http_status, std::string_view body);
  // The connection failed (refused, TLS, reset, timeout, truncated stream...).
  Step OnTransportError(std::string_view message);

  Kind kind() const { return kind_; }
  Phase phase() const { return phase_; }
  bool connected() const { return connected_; }
  bool listed() const { return listed_; }
  const std::string& resource_version() const { return rv_; }
  const std::string& last_error() const { return last_error_; }
  uint64_t failures() const { return failures_; }
  uint64_t relists() const { return relists_; }
  uint64_t events() const { return events_; }

 private:
  SourceUpdate Update(SourceUpdate::Type type) const;
  Step Fail(std::string message);  // back off, disconnected
  Step Relist(std::string why);    // 410: list again from scratch
  void Connected(Step* step);      // a 200 after failures: say connected again

  Kind kind_;
  ListWatchOptions opt_;
  std::function<double()> uniform01_;
  Backoff backoff_;
  Phase phase_ = Phase::kList;
  std::string rv_;             // last resource version seen (list, event or bookmark)
  std::string continue_;       // list paging
  std::vector<Object> pages_;  // objects of the pages so far
  bool connected_ = false;
  bool listed_ = false;
  bool watch_had_lines_ = false;
  std::string last_error_;
  uint64_t failures_ = 0;
  uint64_t relists_ = 0;
  uint32_t relists_in_row_ = 0;  // 410s with no event in between
  uint64_t events_ = 0;
};

}  // namespace natgw::control::kube

#endif  // NATGW_LIB_CONTROL_KUBE_LIST_WATCH_H_
