#include "lib/control/kube_list_watch.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "simdjson.h"

namespace natgw::control::kube {
namespace {

const char* Plural(Kind k) {
  switch (k) {
    case Kind::kPod:
      return "Pods";
    case Kind::kService:
      return "Services";
    case Kind::kEndpointSlice:
      return "EndpointSlices";
    case Kind::kNode:
      return "Nodes";
  }
  return "objects";
}

absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

bool LineSplitter::Feed(std::string_view data, const std::function<bool(std::string_view)>& line) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view piece = data.substr(0, nl);
    if (partial_.size() + piece.size() > max_line_bytes_) {
      overflowed_ = true;
      return false;
    }
    if (nl == std::string_view::npos) {
      partial_.append(piece);
      return true;
    }
    data.remove_prefix(nl + 1);
    std::string_view whole = piece;
    if (!partial_.empty()) {
      partial_.append(piece);
      whole = partial_;
    }
    if (!whole.empty() && whole.back() == '\r') whole.remove_suffix(1);
    bool blank = whole.find_first_not_of(" \t") == std::string_view::npos;
    bool go_on = blank || line(whole);
    partial_.clear();
    if (!go_on) return false;
  }
  return true;
}

std::chrono::milliseconds Backoff::Next(double uniform01) {
  double base = static_cast<double>(min_.count()) *
                std::ldexp(1.0, static_cast<int>(std::min<uint32_t>(attempt_, 40)));
  base = std::min(base, static_cast<double>(max_.count()));
  ++attempt_;
  double u = std::clamp(uniform01, 0.0, 1.0);
  double ms = base * (1.0 - jitter_ * u);
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string CollectionPath(Kind kind, std::string_view ns) {
  std::string group = kind == Kind::kEndpointSlice ? "/apis/discovery.k8s.io/v1" : "/api/v1";
  const char* resource = kind == Kind::kPod       ? "pods"
                         : kind == Kind::kService ? "services"
                         : kind == Kind::kNode    ? "nodes"
                                                  : "endpointslices";
  if (ns.empty() || kind == Kind::kNode) return absl::StrCat(group, "/", resource);
  return absl::StrCat(group, "/namespaces/", QueryEscape(ns), "/", resource);
}

std::string StatusBodyMessage(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  std::string_view message;
  if (parser.parse(padded).get(doc) == simdjson::SUCCESS &&
      doc["message"].get_string().get(message) == simdjson::SUCCESS) {
    return std::string(message);
  }
  std::string out;
  for (char c : body.substr(0, 200))
    out.push_back(std::isprint(static_cast<unsigned char>(c)) ? c : ' ');
  return out;
}

ListWatch::ListWatch(Kind kind, ListWatchOptions options, std::function<double()> uniform01)
    : kind_(kind),
      opt_(std::move(options)),
      uniform01_(std::move(uniform01)),
      backoff_(opt_.backoff_min, opt_.backoff_max) {}

ListWatch::Request ListWatch::Next() {
  Request r;
  r.path = CollectionPath(kind_, opt_.ns);
  std::vector<std::string> q;
  if (phase_ == Phase::kList) {
    if (opt_.page_limit > 0) q.push_back(absl::StrCat("limit=", opt_.page_limit));
    if (!continue_.empty()) q.push_back(absl::StrCat("continue=", QueryEscape(continue_)));
  } else {
    uint32_t lo = std::min(opt_.watch_timeout_min_s, opt_.watch_timeout_max_s);
    uint32_t hi = std::max(opt_.watch_timeout_min_s, opt_.watch_timeout_max_s);
    r.watch = true;
    r.timeout_s = lo + static_cast<uint32_t>(std::clamp(uniform01_(), 0.0, 1.0) * (hi - lo + 1));
    r.timeout_s = std::min(r.timeout_s, hi);
    watch_had_lines_ = false;
    q.push_back("watch=1");
    if (!rv_.empty()) q.push_back(absl::StrCat("resourceVersion=", QueryEscape(rv_)));
    q.push_back("allowWatchBookmarks=true");
    q.push_back(absl::StrCat("timeoutSeconds=", r.timeout_s));
  }
  if (!opt_.label_selector.empty() && kind_ != Kind::kNode) {
    q.push_back(absl::StrCat("labelSelector=", QueryEscape(opt_.label_selector)));
  }
  for (size_t i = 0; i < q.size(); ++i) absl::StrAppend(&r.path, i == 0 ? "?" : "&", q[i]);
  return r;
}

SourceUpdate ListWatch::Update(SourceUpdate::Type type) const {
  SourceUpdate u;
  u.type = type;
  u.source = opt_.source;
  u.kind = kind_;
  u.connected = connected_;
  u.resource_version = rv_;
  u.arrived = std::chrono::steady_clock::now();
  return u;
}

ListWatch::Step ListWatch::Fail(std::string message) {
  Step step;
  ++failures_;
  connected_ = false;
  last_error_ = std::move(message);
  step.abort = true;
  step.delay = backoff_.Next(uniform01_());
  SourceUpdate u = Update(SourceUpdate::Type::kStatus);
  u.message = last_error_;
  step.updates.push_back(std::move(u));
  return step;
}

ListWatch::Step ListWatch::Relist(std::string why) {
  Step step;
  ++relists_;
  // Must not spin: a 410 answering a list, or a watch's 410 with no event since the last one,
  // re-lists after a back-off; a first watch 410 re-lists at once.
  if (phase_ == Phase::kList || relists_in_row_ > 0) step.delay = backoff_.Next(uniform01_());
  ++relists_in_row_;
  phase_ = Phase::kList;
  continue_.clear();
  pages_.clear();
  rv_.clear();
  step.abort = true;
  last_error_ = std::move(why);
  return step;
}

void ListWatch::Connected(Step* step) {
  if (connected_) return;
  connected_ = true;
  SourceUpdate u = Update(SourceUpdate::Type::kStatus);
  u.message = absl::StrCat("watching ", Plural(kind_), " from resource version ", rv_);
  step->updates.push_back(std::move(u));
}

ListWatch::Step ListWatch::OnListResponse(int http_status, std::string_view body) {
  if (http_status == 410) {
    return Relist(absl::StrCat("list of ", Plural(kind_), ": 410 Gone (", StatusBodyMessage(body),
                               "), listing again from the start"));
  }
  if (http_status != 200) {
    return Fail(absl::StrCat("list of ", Plural(kind_), ": HTTP ", http_status, ": ",
                             StatusBodyMessage(body)));
  }
  auto doc = ParseDocument(body);
  if (!doc.ok()) {
    return Fail(absl::StrCat("list of ", Plural(kind_), ": ", doc.status().message()));
  }
  for (Object& o : doc->objects) {
    if (KindOf(o) == kind_) pages_.push_back(std::move(o));
  }
  Step step;
  if (!doc->continue_token.empty()) {
    continue_ = doc->continue_token;
    return step;
  }
  continue_.clear();
  rv_ = doc->resource_version;
  phase_ = Phase::kWatch;
  listed_ = true;
  connected_ = true;
  backoff_.Reset();
  SourceUpdate u = Update(SourceUpdate::Type::kReplace);
  u.objects = std::move(pages_);
  pages_.clear();
  u.message =
      absl::StrCat("listed ", u.objects.size(), " ", Plural(kind_), " at resource version ", rv_);
  step.updates.push_back(std::move(u));
  return step;
}

ListWatch::Step ListWatch::OnWatchStatus(int http_status) {
  Step step;
  if (http_status == 200) Connected(&step);
  return step;
}

ListWatch::Step ListWatch::OnWatchLine(std::string_view line) {
  watch_had_lines_ = true;
  backoff_.Reset();
  Step step;
  auto ev = ParseWatchEvent(line, kind_);
  if (!ev.ok()) {
    // One undecodable event is skipped (re-watching would replay it forever); said in the status.
    SourceUpdate u = Update(SourceUpdate::Type::kStatus);
    u.message = absl::StrCat("skipped an undecodable ", KindName(kind_),
                             " watch event: ", ev.status().message());
    last_error_ = u.message;
    step.updates.push_back(std::move(u));
    return step;
  }
  switch (ev->type) {
    case WatchEvent::Type::kAdded:
    case WatchEvent::Type::kModified:
    case WatchEvent::Type::kDeleted: {
      ++events_;
      relists_in_row_ = 0;
      if (!ev->resource_version.empty()) rv_ = ev->resource_version;
      SourceUpdate u = Update(ev->type == WatchEvent::Type::kDeleted ? SourceUpdate::Type::kDelete
                                                                     : SourceUpdate::Type::kUpsert);
      u.objects.push_back(std::move(*ev->object));
      step.updates.push_back(std::move(u));
      return step;
    }
    case WatchEvent::Type::kBookmark:
      relists_in_row_ = 0;
      if (!ev->resource_version.empty()) rv_ = ev->resource_version;
      step.updates.push_back(Update(SourceUpdate::Type::kStatus));
      return step;
    case WatchEvent::Type::kError:
      break;
  }
  if (ev->error_code == 410) {
    return Relist(absl::StrCat("watch of ", Plural(kind_), ": resource version ", rv_, " is gone (",
                               ev->error_message, "), listing again"));
  }
  return Fail(absl::StrCat("watch of ", Plural(kind_), ": ERROR event ", ev->error_code, ": ",
                           ev->error_message));
}

ListWatch::Step ListWatch::OnWatchEnd(int http_status, std::string_view body) {
  if (http_status == 200) {
    Step step;
    // The server ended the watch (timeoutSeconds, restart): watch again from the last RV, at once
    // unless the stream was empty (a server that closes every watch at once must not spin).
    if (!watch_had_lines_) step.delay = backoff_.Next(uniform01_());
    return step;
  }
  if (http_status == 410) {
    return Relist(absl::StrCat("watch of ", Plural(kind_), ": 410 Gone (", StatusBodyMessage(body),
                               "), listing again"));
  }
  return Fail(absl::StrCat("watch of ", Plural(kind_), ": HTTP ", http_status, ": ",
                           StatusBodyMessage(body)));
}

ListWatch::Step ListWatch::OnTransportError(std::string_view message) {
  return Fail(absl::StrCat(phase_ == Phase::kList ? "list of " : "watch of ", Plural(kind_), ": ",
                           A(message)));
}

}  // namespace natgw::control::kube
