// Cluster-state sync speed (issue 4): an initial state of 10,000 pods and 1,000 services (with
// their endpoint slices) parsed from kubectl-shaped JSON and applied to the engine (target
// <= 200 ms), and single pod events from watch-event JSON to the table being published to
// workers (target p99 <= 10 ms over 1,000 events).
//   ./build-rel/perf/natgw_cluster_bench --benchmark_repetitions=5
// Counters: the initial sync's parse_ms / build_ms / apply_ms; each pod event's latency p50/p99
// and the p50 of its ClusterSync::Build and Engine::Apply. Measured on the shared 2-vCPU box,
// release build, 2026-11-27, where wall time was about twice CPU time (load 6 to 11):
//   pod event: p50 2.8-6.3 ms, p99 8.0-12.3 ms wall, about 3 ms CPU per event (Build 0.7 ms,
//   Apply 1.7 ms); before (full rebuild per event): p50 29 ms, p99 50 ms, 16 ms CPU.
//   initial sync: 153-188 ms CPU, 240-310 ms wall (parse 100-150, Build 46-65, Apply 50).
#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "glog/logging.h"
#include "lib/control/cluster_sync.h"
#include "lib/control/gateway_config.h"
#include "lib/control/kube_objects.h"
#include "lib/nat/engine.h"

namespace natgw::control {
namespace {

constexpr int kPods = 10000;
constexpr int kServices = 1000;
constexpr int kUniqueEvery = 5;  // every 5th pod asks for a unique address (2,000 pods)

// Pod i: 10.0.(i / 250).(i % 250 + 2), service i % kServices backs it.
std::string PodIp(int i) { return absl::StrCat("10.0.", i / 250, ".", i % 250 + 2); }

// A pod as the API server writes it, with the fields natgw ignores too (managedFields, spec,
// conditions), so that parsing costs what it costs in a real cluster: about 2 KB.
std::string PodJson(int i, const std::string& uid, const std::string& ip) {
  return absl::StrCat(
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"app-)", i,
      R"(-7d9c5b","namespace":"ns-)", i % 50, R"(","uid":")", uid, R"(","resourceVersion":")",
      100000 + i, R"(","creationTimestamp":"2026-11-26T09:00:00Z","generateName":"app-)", i,
      R"(-","labels":{"app":"svc-)", i % kServices, R"(","pod-template-hash":"7d9c5b")",
      i % kUniqueEvery == 0 ? R"(,"natgw-unique":"yes")" : "",
      R"(},"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-26T08:00:00Z"},)"
      R"("ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"app-7d9c5b","uid":"0b6c1a52-0000-4000-8000-000000000001","controller":true,"blockOwnerDeletion":true}],)"
      R"("managedFields":[{"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1","time":"2026-11-26T09:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"0b6c1a52\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{}}}}}},)"
      R"({"manager":"kubelet","operation":"Update","apiVersion":"v1","time":"2026-11-26T09:00:05Z","fieldsType":"FieldsV1","fieldsV1":{"f:status":{"f:conditions":{},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:podIPs":{},"f:startTime":{}}},"subresource":"status"}]},)"
      R"("spec":{"containers":[{"name":"app","image":"registry.example/app:1.)",
      i % 7,
      R"(","ports":[{"containerPort":8080,"protocol":"TCP"}],"resources":{"requests":{"cpu":"100m","memory":"128Mi"}},"terminationMessagePath":"/dev/termination-log","imagePullPolicy":"IfNotPresent"}],)"
      R"("restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","nodeName":"node-)",
      i % 50,
      R"(","serviceAccountName":"default","schedulerName":"default-scheduler"},)"
      R"("status":{"phase":"Running","conditions":[{"type":"Initialized","status":"True","lastTransitionTime":"2026-11-26T09:00:00Z"},{"type":"Ready","status":"True","lastTransitionTime":"2026-11-26T09:00:05Z"},{"type":"ContainersReady","status":"True","lastTransitionTime":"2026-11-26T09:00:05Z"},{"type":"PodScheduled","status":"True","lastTransitionTime":"2026-11-26T09:00:00Z"}],)"
      R"("hostIP":"172.16.0.)",
      i % 50 + 10, R"(","podIP":")", ip, R"(","podIPs":[{"ip":")", ip,
      R"("}],"startTime":"2026-11-26T09:00:00Z","qosClass":"Burstable","containerStatuses":[{"name":"app","ready":true,"restartCount":0,"image":"registry.example/app:1.0","imageID":"registry.example/app@sha256:0123456789abcdef","containerID":"containerd://0123456789abcdef","started":true,"state":{"running":{"startedAt":"2026-11-26T09:00:04Z"}}}]}})");
}

std::string Uid(int i, int generation = 0) {
  return absl::StrFormat("%08x-1111-4000-8000-%012x", i, generation);
}

std::string List(const std::string& kind, const std::vector<std::string>& items) {
  std::string out = absl::StrCat(R"({"apiVersion":"v1","kind":")", kind,
                                 R"(","metadata":{"resourceVersion":"200000"},"items":[)");
  for (size_t i = 0; i < items.size(); ++i) absl::StrAppend(&out, i ? "," : "", items[i]);
  return out + "]}";
}

struct ClusterJson {
  std::string pods, services, slices, nodes;
};

ClusterJson MakeCluster() {
  ClusterJson c;
  std::vector<std::string> items;
  for (int i = 0; i < kPods; ++i) items.push_back(PodJson(i, Uid(i), PodIp(i)));
  c.pods = List("PodList", items);
  items.clear();
  for (int s = 0; s < kServices; ++s) {
    items.push_back(absl::StrCat(
        R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"svc-)", s,
        R"(","namespace":"ns-)", s % 50, R"(","uid":"svc-uid-)", s,
        R"(","annotations":{"natgw.io/vip":"auto"}},"spec":{"type":"ClusterIP","clusterIP":"10.96.)",
        s / 250, ".", s % 250,
        R"(","ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080}],"selector":{"app":"svc-)",
        s, R"("}}})"));
  }
  c.services = List("ServiceList", items);
  items.clear();
  for (int s = 0; s < kServices; ++s) {
    std::string eps;
    for (int i = s; i < kPods; i += kServices) {  // 10 pods per service
      absl::StrAppend(
          &eps, eps.empty() ? "" : ",", R"({"addresses":[")", PodIp(i),
          R"("],"conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":"node-)",
          i % 50, R"(","targetRef":{"kind":"Pod","name":"app-)", i, R"(","namespace":"ns-)", s % 50,
          R"(","uid":")", Uid(i), R"("}})");
    }
    items.push_back(absl::StrCat(
        R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"svc-)", s,
        R"(-abcde","namespace":"ns-)", s % 50, R"(","uid":"es-uid-)", s,
        R"(","labels":{"kubernetes.io/service-name":"svc-)", s,
        R"("}},"addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":[)",
        eps, "]}"));
  }
  c.slices = List("EndpointSliceList", items);
  items.clear();
  for (int n = 0; n < 50; ++n) {
    items.push_back(
        absl::StrCat(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"node-)", n,
                     R"(","uid":"node-uid-)", n, R"("},"spec":{"podCIDR":"10.0.)", 200 + n,
                     R"(.0/24"},"status":{"addresses":[{"type":"InternalIP","address":"10.0.255.)",
                     n + 1, R"("}]}})"));
  }
  c.nodes = List("NodeList", items);
  return c;
}

constexpr char kConf[] = R"(
[gateway]
name = "bench"
[[interface]]
name = "in"
device = "net_null0"
role = "inside"
island = "c1"
address = "10.0.255.254/16"
[[interface]]
name = "out"
device = "net_null1"
role = "outside"
address = "192.0.2.1/24"
[[island]]
name = "c1"
id = 1
pod_cidrs = ["10.0.0.0/16"]
[[pool]]
name = "unique"
kind = "unique"
island = "c1"
addresses = ["198.18.0.0/20"]
[[pool]]
name = "egress"
kind = "egress"
island = "c1"
addresses = ["192.0.2.16/28"]
[[pool]]
name = "vips"
kind = "vip"
addresses = ["198.19.0.0/22"]
[[cluster]]
island = "c1"
directory = "/nonexistent"
unique_pods = [{ labels = { natgw-unique = "yes" } }]
[allocation]
state_file = "/nonexistent/alloc.json"
)";

struct Fixture {
  GatewayConfig config;
  std::unique_ptr<nat::Engine> engine;
  std::unique_ptr<ClusterSync> sync;
  uint32_t now = 10;

  Fixture() {
    config = *ParseConfig(kConf, "bench.toml");
    nat::EngineConfig ec;
    ec.max_sessions = 1 << 12;
    engine = *nat::Engine::Create(ec, config.nat);
    sync = std::make_unique<ClusterSync>(
        config, ClusterSync::Clock{[this] { return now; }, [] { return int64_t{1'800'000'000}; }});
    sync->AddSource(1, "bench");
  }

  void Replace(kube::Kind kind, const std::string& json) {
    auto doc = kube::ParseDocument(json);
    CHECK(doc.ok()) << doc.status();
    SourceUpdate u;
    u.type = SourceUpdate::Type::kReplace;
    u.source = "bench";
    u.kind = kind;
    u.objects = std::move(doc->objects);
    sync->Handle(std::move(u));
  }

  // `build_ms`/`apply_ms`, when given, receive the time of ClusterSync::Build and of
  // Engine::Apply (the table published).
  void Apply(double* build_ms = nullptr, double* apply_ms = nullptr) {
    std::vector<std::string> changes;
    const auto t0 = std::chrono::steady_clock::now();
    nat::NatConfig nc = sync->Build(config.nat, &changes);
    const auto t1 = std::chrono::steady_clock::now();
    absl::Status s = engine->Apply(nc);
    const auto t2 = std::chrono::steady_clock::now();
    CHECK(s.ok()) << s;
    engine->ReclaimRetired();
    if (build_ms != nullptr) *build_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    if (apply_ms != nullptr) *apply_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
  }
};

void BM_InitialSync(benchmark::State& state) {
  const ClusterJson json = MakeCluster();
  size_t mappings = 0, services = 0;
  double parse_ms = 0, build_ms = 0, apply_ms = 0;
  for (auto _ : state) {
    Fixture f;

    const auto start = std::chrono::steady_clock::now();
    f.Replace(kube::Kind::kPod, json.pods);
    f.Replace(kube::Kind::kService, json.services);
    f.Replace(kube::Kind::kEndpointSlice, json.slices);
    f.Replace(kube::Kind::kNode, json.nodes);
    parse_ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    double b = 0, a = 0;
    f.Apply(&b, &a);
    build_ms += b;
    apply_ms += a;
    mappings = f.engine->mappings()->config().pod_mappings.size();
    services = f.engine->mappings()->config().services.size();
    state.PauseTiming();
    f.engine.reset();
    state.ResumeTiming();
  }
  state.counters["json_MB"] = static_cast<double>(json.pods.size() + json.services.size() +
                                                  json.slices.size() + json.nodes.size()) / 1e6;
  state.counters["pod_mappings"] = static_cast<double>(mappings);
  state.counters["services"] = static_cast<double>(services);
  // Where the time goes: parse and hand over, ClusterSync::Build, Engine::Apply (means).
  const double n = static_cast<double>(state.iterations());
  state.counters["parse_ms"] = parse_ms / n;
  state.counters["build_ms"] = build_ms / n;
  state.counters["apply_ms"] = apply_ms / n;
}
BENCHMARK(BM_InitialSync)->Unit(benchmark::kMillisecond)->MinTime(2);

// 1,000 pod events, one at a time: a pod is deleted, or a new pod (new uid) takes an address.
// Each is a watch-event line parsed, handed over, diffed and published.
void BM_PodEventToTable(benchmark::State& state) {
  const ClusterJson json = MakeCluster();
  Fixture f;
  f.Replace(kube::Kind::kPod, json.pods);
  f.Replace(kube::Kind::kService, json.services);
  f.Replace(kube::Kind::kEndpointSlice, json.slices);
  f.Replace(kube::Kind::kNode, json.nodes);
  f.Apply();
  std::vector<double> latency_ms, build_ms, apply_ms;
  int generation = 1;
  for (auto _ : state) {
    latency_ms.clear();
    build_ms.clear();
    apply_ms.clear();
    for (int e = 0; e < 1000; ++e) {
      const int i = (e * 7919) % kPods;
      const bool add = e % 2 == 1;  // delete pod i, then re-create it with a new uid
      const std::string line =
          absl::StrCat(R"({"type":")", add ? "ADDED" : "DELETED", R"(","object":)",
                       PodJson(i, Uid(i, add ? generation++ : generation), PodIp(i)), "}");
      const auto start = std::chrono::steady_clock::now();
      auto ev = kube::ParseWatchEvent(line, kube::Kind::kPod);
      CHECK(ev.ok()) << ev.status();
      SourceUpdate u;
      u.type = add ? SourceUpdate::Type::kUpsert : SourceUpdate::Type::kDelete;
      u.source = "bench";
      u.kind = kube::Kind::kPod;
      u.objects.push_back(std::move(*ev->object));
      u.arrived = start;
      f.sync->Handle(std::move(u));
      ++f.now;
      double b = 0, a = 0;
      f.Apply(&b, &a);
      build_ms.push_back(b);
      apply_ms.push_back(a);
      latency_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
    }
  }
  std::sort(latency_ms.begin(), latency_ms.end());
  std::sort(build_ms.begin(), build_ms.end());
  std::sort(apply_ms.begin(), apply_ms.end());
  state.counters["build_p50_ms"] = build_ms[build_ms.size() / 2];
  state.counters["apply_p50_ms"] = apply_ms[apply_ms.size() / 2];
  state.counters["p50_ms"] = latency_ms[latency_ms.size() / 2];
  state.counters["p99_ms"] = latency_ms[latency_ms.size() * 99 / 100];
  state.counters["max_ms"] = latency_ms.back();
  // Every deleted pod came back: as many unique addresses as at the start (2,000).
  state.counters["pod_mappings"] =
      static_cast<double>(f.engine->mappings()->config().pod_mappings.size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
}
BENCHMARK(BM_PodEventToTable)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace natgw::control

BENCHMARK_MAIN();
