// The parts of Kubernetes objects natgw takes from cluster state (issue 4), parsed from JSON in
// exactly the shape the API server and `kubectl get ... -o json` write: a List of objects, a
// kind-specific list (PodList, ...), a single object, or one watch event line.
//
// Only what natgw uses is kept. Addresses are IPv4 in network order; IPv6 addresses in dual-stack
// objects are skipped.
#ifndef NATGW_LIB_CONTROL_KUBE_OBJECTS_H_
#define NATGW_LIB_CONTROL_KUBE_OBJECTS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/nat/nat_config.h"

namespace natgw::control::kube {

enum class Kind : uint8_t { kPod, kService, kEndpointSlice, kNode };
inline constexpr Kind kAllKinds[] = {Kind::kPod, Kind::kService, Kind::kEndpointSlice, Kind::kNode};
const char* KindName(Kind k);  // "Pod", "Service", "EndpointSlice", "Node"

struct Meta {
  std::string ns;  // empty for cluster-scoped objects (nodes)
  std::string name;
  std::string uid;
  std::string resource_version;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  bool deleting = false;  // metadata.deletionTimestamp is set
};

struct Pod {
  Meta meta;
  std::string node_name;
  bool host_network = false;
  std::string phase;          // Pending, Running, Succeeded, Failed, Unknown
  std::vector<uint32_t> ips;  // status.podIPs (IPv4 only), else status.podIP
};

struct ServicePort {
  std::string name;
  uint8_t proto = 6;  // 6 TCP, 17 UDP, 132 SCTP
  uint16_t port = 0;
  uint16_t target_port = 0;  // 0 when named or absent
};

struct Service {
  Meta meta;
  std::string type;  // ClusterIP, NodePort, LoadBalancer, ExternalName
  std::vector<ServicePort> ports;
  std::map<std::string, std::string> selector;
};

struct EndpointPort {
  std::string name;
  uint8_t proto = 6;
  uint16_t port = 0;
};

struct Endpoint {
  std::vector<uint32_t> addresses;
  bool ready = true;        // conditions.ready; absent means ready (API semantics)
  bool serving = true;      // conditions.serving; absent: same as ready
  bool terminating = false;
  std::string target_uid;   // targetRef.uid when the target is a Pod
  std::string node_name;
};

struct EndpointSlice {
  Meta meta;
  std::string service_name;  // label kubernetes.io/service-name
  std::string address_type;  // IPv4, IPv6, FQDN
  std::vector<EndpointPort> ports;
  std::vector<Endpoint> endpoints;
};

struct Node {
  Meta meta;
  std::vector<nat::Cidr> pod_cidrs;  // spec.podCIDRs (IPv4), else spec.podCIDR
  uint32_t internal_ip = 0;          // the first InternalIP address
};

using Object = std::variant<Pod, Service, EndpointSlice, Node>;

Kind KindOf(const Object& o);
const Meta& MetaOf(const Object& o);
// "Pod shop/cart-7", "Node node-1": for messages and keys.
std::string Describe(const Object& o);
// Identity within one kind: "namespace/name" (or "name" for nodes).
std::string KeyOf(const Object& o);

struct Document {
  std::vector<Object> objects;
  std::string resource_version;  // a list's metadata.resourceVersion, if any
  std::string continue_token;    // a list's metadata.continue, if any
  size_t skipped = 0;            // objects of kinds natgw does not use
};

// Parses a List / XxxList (items[]) or a single object. An item without kind in a typed list
// takes the list's kind. Errors say what is wrong and where ("items[3]: metadata.name missing").
absl::StatusOr<Document> ParseDocument(std::string_view json);

struct WatchEvent {
  enum class Type : uint8_t { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  std::optional<Object> object;    // kAdded, kModified, kDeleted
  std::string resource_version;    // the object's (or the bookmark's)
  int error_code = 0;              // kError: the Status object's code (410: resource version gone)
  std::string error_message;
};

// Parses one watch event ({"type": ..., "object": {...}}); `kind` is the watched kind, used when
// the object omits its kind.
absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view json, Kind kind);

// Parses a dotted-quad IPv4 address into network order; nullopt if it is not one.
std::optional<uint32_t> ParseIpv4(std::string_view s);

}  // namespace natgw::control::kube

#endif  // NATGW_LIB_CONTROL_KUBE_OBJECTS_H_
