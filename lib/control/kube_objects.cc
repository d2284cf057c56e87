// Kubernetes JSON -> the structs of kube_objects.h, with simdjson's DOM (a 10,000-pod list is
// tens of megabytes; this must parse in a few tens of milliseconds).
#include "lib/control/kube_objects.h"

#include <arpa/inet.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "simdjson.h"

namespace natgw::control::kube {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// Member `key` of `e` if `e` is an object that has it.
absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool Member(element e, std::string_view key, element* out) {
  object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return false;
  return o.at_key(key).get(*out) == simdjson::SUCCESS;
}

std::string_view Str(element e, std::string_view key) {
  element v;
  std::string_view s;
  if (!Member(e, key, &v) || v.get_string().get(s) != simdjson::SUCCESS) return {};
  return s;
}

bool Bool(element e, std::string_view key, bool dflt) {
  element v;
  bool b;
  if (!Member(e, key, &v) || v.get_bool().get(b) != simdjson::SUCCESS) return dflt;
  return b;
}

int64_t Int(element e, std::string_view key, int64_t dflt) {
  element v;
  int64_t i;
  if (!Member(e, key, &v) || v.get_int64().get(i) != simdjson::SUCCESS) return dflt;
  return i;
}

bool Array(element e, std::string_view key, array* out) {
  element v;
  return Member(e, key, &v) && v.get_array().get(*out) == simdjson::SUCCESS;
}

std::map<std::string, std::string> StringMap(element e, std::string_view key) {
  std::map<std::string, std::string> m;
  element v;
  object o;
  if (!Member(e, key, &v) || v.get_object().get(o) != simdjson::SUCCESS) return m;
  for (auto field : o) {
    std::string_view s;
    if (field.value.get_string().get(s) == simdjson::SUCCESS) m.emplace(field.key, s);
  }
  return m;
}

uint8_t Protocol(std::string_view p) {
  if (p == "UDP") return 17;
  if (p == "SCTP") return 132;
  return 6;  // TCP is the API's default
}

absl::Status ParseMeta(element o, bool namespaced, Meta* m) {
  element md;
  if (!Member(o, "metadata", &md)) return absl::InvalidArgumentError("metadata missing");
  m->name = std::string(Str(md, "name"));
  if (m->name.empty()) return absl::InvalidArgumentError("metadata.name missing");
  m->ns = std::string(Str(md, "namespace"));
  if (namespaced && m->ns.empty()) m->ns = "default";
  m->uid = std::string(Str(md, "uid"));
  m->resource_version = std::string(Str(md, "resourceVersion"));
  m->labels = StringMap(md, "labels");
  m->annotations = StringMap(md, "annotations");
  element del;
  m->deleting = Member(md, "deletionTimestamp", &del) && !del.is_null();
  return absl::OkStatus();
}

absl::StatusOr<Pod> ParsePod(element o) {
  Pod p;
  if (absl::Status s = ParseMeta(o, true, &p.meta); !s.ok()) return s;
  element spec, status;
  if (Member(o, "spec", &spec)) {
    p.node_name = std::string(Str(spec, "nodeName"));
    p.host_network = Bool(spec, "hostNetwork", false);
  }
  if (Member(o, "status", &status)) {
    p.phase = std::string(Str(status, "phase"));
    array ips;
    if (Array(status, "podIPs", &ips)) {
      for (element e : ips) {
        if (auto ip = ParseIpv4(Str(e, "ip"))) p.ips.push_back(*ip);
      }
    }
    if (p.ips.empty()) {
      if (auto ip = ParseIpv4(Str(status, "podIP"))) p.ips.push_back(*ip);
    }
  }
  return p;
}

absl::StatusOr<Service> ParseService(element o) {
  Service s;
  if (absl::Status st = ParseMeta(o, true, &s.meta); !st.ok()) return st;
  element spec;
  if (!Member(o, "spec", &spec)) return s;
  s.type = std::string(Str(spec, "type"));
  if (s.type.empty()) s.type = "ClusterIP";
  s.selector = StringMap(spec, "selector");
  array ports;
  if (Array(spec, "ports", &ports)) {
    for (element e : ports) {
      ServicePort p;
      p.name = std::string(Str(e, "name"));
      p.proto = Protocol(Str(e, "protocol"));
      int64_t port = Int(e, "port", 0);
      if (port <= 0 || port > 65535) {
        return absl::InvalidArgumentError("spec.ports[].port out of range");
      }
      p.port = static_cast<uint16_t>(port);
      int64_t target = Int(e, "targetPort", 0);
      p.target_port = target > 0 && target <= 65535 ? static_cast<uint16_t>(target) : 0;
      s.ports.push_back(std::move(p));
    }
  }
  return s;
}

absl::StatusOr<EndpointSlice> ParseEndpointSlice(element o) {
  EndpointSlice es;
  if (absl::Status st = ParseMeta(o, true, &es.meta); !st.ok()) return st;
  auto svc = es.meta.labels.find("kubernetes.io/service-name");
  if (svc != es.meta.labels.end()) es.service_name = svc->second;
  es.address_type = std::string(Str(o, "addressType"));
  array ports, endpoints;
  if (Array(o, "ports", &ports)) {
    for (element e : ports) {
      EndpointPort p;
      p.name = std::string(Str(e, "name"));
      p.proto = Protocol(Str(e, "protocol"));
      int64_t port = Int(e, "port", 0);
      if (port < 0 || port > 65535) return absl::InvalidArgumentError("ports[].port out of range");
      p.port = static_cast<uint16_t>(port);
      es.ports.push_back(std::move(p));
    }
  }
  if (Array(o, "endpoints", &endpoints)) {
    for (element e : endpoints) {
      Endpoint ep;
      array addrs;
      if (Array(e, "addresses", &addrs)) {
        for (element a : addrs) {
          std::string_view s;
          if (a.get_string().get(s) != simdjson::SUCCESS) continue;
          if (auto ip = ParseIpv4(s)) ep.addresses.push_back(*ip);
        }
      }
      element cond;
      if (Member(e, "conditions", &cond)) {
        ep.ready = Bool(cond, "ready", true);
        ep.serving = Bool(cond, "serving", ep.ready);
        ep.terminating = Bool(cond, "terminating", false);
      }
      element ref;
      if (Member(e, "targetRef", &ref) && Str(ref, "kind") == "Pod") {
        ep.target_uid = std::string(Str(ref, "uid"));
      }
      ep.node_name = std::string(Str(e, "nodeName"));
      es.endpoints.push_back(std::move(ep));
    }
  }
  return es;
}

std::optional<nat::Cidr> ParseCidr(std::string_view s) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = ParseIpv4(s.substr(0, slash));
  int len;
  if (!ip || !absl::SimpleAtoi(A(s.substr(slash + 1)), &len) || len < 0 || len > 32) {
    return std::nullopt;
  }
  uint32_t mask = len == 0 ? 0 : htonl(~uint32_t{0} << (32 - len));
  return nat::Cidr{*ip & mask, static_cast<uint8_t>(len)};
}

absl::StatusOr<Node> ParseNode(element o) {
  Node n;
  if (absl::Status st = ParseMeta(o, false, &n.meta); !st.ok()) return st;
  element spec, status;
  if (Member(o, "spec", &spec)) {
    array cidrs;
    if (Array(spec, "podCIDRs", &cidrs)) {
      for (element e : cidrs) {
        std::string_view s;
        if (e.get_string().get(s) != simdjson::SUCCESS) continue;
        if (auto c = ParseCidr(s)) n.pod_cidrs.push_back(*c);
      }
    }
    if (n.pod_cidrs.empty()) {
      if (auto c = ParseCidr(Str(spec, "podCIDR"))) n.pod_cidrs.push_back(*c);
    }
  }
  array addrs;
  if (Member(o, "status", &status) && Array(status, "addresses", &addrs)) {
    for (element e : addrs) {
      if (Str(e, "type") != "InternalIP") continue;
      if (auto ip = ParseIpv4(Str(e, "address"))) {
        n.internal_ip = *ip;
        break;
      }
    }
  }
  return n;
}

std::optional<Kind> KindFromName(std::string_view k) {
  if (k == "Pod") return Kind::kPod;
  if (k == "Service") return Kind::kService;
  if (k == "EndpointSlice") return Kind::kEndpointSlice;
  if (k == "Node") return Kind::kNode;
  return std::nullopt;
}

// nullopt result with OK status: a kind natgw does not use.
absl::StatusOr<std::optional<Object>> ParseObject(element o, std::optional<Kind> default_kind) {
  std::string_view kind_name = Str(o, "kind");
  std::optional<Kind> kind = kind_name.empty() ? default_kind : KindFromName(kind_name);
  if (!kind) {
    if (kind_name.empty()) return absl::InvalidArgumentError("kind missing");
    return std::optional<Object>();
  }
  auto wrap = [](auto r) -> absl::StatusOr<std::optional<Object>> {
    if (!r.ok()) return r.status();
    return std::optional<Object>(Object(std::move(*r)));
  };
  switch (*kind) {
    case Kind::kPod: return wrap(ParsePod(o));
    case Kind::kService: return wrap(ParseService(o));
    case Kind::kEndpointSlice: return wrap(ParseEndpointSlice(o));
    case Kind::kNode: return wrap(ParseNode(o));
  }
  return std::optional<Object>();
}

absl::Status Located(const absl::Status& s, std::string_view where) {
  return absl::InvalidArgumentError(absl::StrCat(A(where), ": ", s.message()));
}

absl::StatusOr<element> ParseJson(simdjson::dom::parser& parser, std::string_view json) {
  element doc;
  auto err = parser.parse(json.data(), json.size()).get(doc);
  if (err != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON: ", simdjson::error_message(err)));
  }
  return doc;
}

thread_local simdjson::dom::parser tls_parser;

}  // namespace

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kPod: return "Pod";
    case Kind::kService: return "Service";
    case Kind::kEndpointSlice: return "EndpointSlice";
    case Kind::kNode: return "Node";
  }
  return "?";
}

Kind KindOf(const Object& o) { return static_cast<Kind>(o.index()); }

const Meta& MetaOf(const Object& o) {
  return std::visit([](const auto& x) -> const Meta& { return x.meta; }, o);
}

std::string KeyOf(const Object& o) {
  const Meta& m = MetaOf(o);
  return m.ns.empty() ? m.name : absl::StrCat(m.ns, "/", m.name);
}

std::string Describe(const Object& o) { return absl::StrCat(KindName(KindOf(o)), " ", KeyOf(o)); }

std::optional<uint32_t> ParseIpv4(std::string_view s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  char buf[16];
  s.copy(buf, s.size());
  buf[s.size()] = '\0';
  in_addr a;
  if (inet_pton(AF_INET, buf, &a) != 1) return std::nullopt;
  return a.s_addr;
}

absl::StatusOr<Document> ParseDocument(std::string_view json) {
  auto doc = ParseJson(tls_parser, json);
  if (!doc.ok()) return doc.status();
  Document out;
  std::string_view kind = Str(*doc, "kind");
  array items;
  if (Array(*doc, "items", &items)) {
    std::optional<Kind> item_kind;
    if (kind.size() > 4 && kind.substr(kind.size() - 4) == "List") {
      item_kind = KindFromName(kind.substr(0, kind.size() - 4));
    }
    element md;
    if (Member(*doc, "metadata", &md)) {
      out.resource_version = std::string(Str(md, "resourceVersion"));
      out.continue_token = std::string(Str(md, "continue"));
    }
    size_t i = 0;
    for (element e : items) {
      auto o = ParseObject(e, item_kind);
      if (!o.ok()) return Located(o.status(), absl::StrCat("items[", i, "]"));
      if (o->has_value()) {
        out.objects.push_back(std::move(**o));
      } else {
        ++out.skipped;
      }
      ++i;
    }
    return out;
  }
  if (kind.empty()) {
    return absl::InvalidArgumentError("neither a List (items) nor an object (kind)");
  }
  auto o = ParseObject(*doc, std::nullopt);
  if (!o.ok()) return o.status();
  if (o->has_value()) {
    out.objects.push_back(std::move(**o));
  } else {
    ++out.skipped;
  }
  return out;
}

absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view json, Kind kind) {
  auto doc = ParseJson(tls_parser, json);
  if (!doc.ok()) return doc.status();
  WatchEvent ev;
  std::string_view type = Str(*doc, "type");
  element obj;
  if (!Member(*doc, "object", &obj)) {
    return absl::InvalidArgumentError("watch event without object");
  }
  if (type == "ADDED") {
    ev.type = WatchEvent::Type::kAdded;
  } else if (type == "MODIFIED") {
    ev.type = WatchEvent::Type::kModified;
  } else if (type == "DELETED") {
    ev.type = WatchEvent::Type::kDeleted;
  } else if (type == "BOOKMARK") {
    ev.type = WatchEvent::Type::kBookmark;
    element md;
    if (Member(obj, "metadata", &md)) ev.resource_version = std::string(Str(md, "resourceVersion"));
    return ev;
  } else if (type == "ERROR") {
    ev.type = WatchEvent::Type::kError;
    ev.error_code = static_cast<int>(Int(obj, "code", 0));
    ev.error_message = std::string(Str(obj, "message"));
    return ev;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown watch event type \"", A(type), "\""));
  }
  auto o = ParseObject(obj, kind);
  if (!o.ok()) return Located(o.status(), "object");
  if (!o->has_value() || KindOf(**o) != kind) {
    return absl::InvalidArgumentError(
        absl::StrCat("watch of ", KindName(kind), " sent another kind"));
  }
  ev.resource_version = MetaOf(**o).resource_version;
  ev.object = std::move(**o);
  return ev;
}

}  // namespace natgw::control::kube
