// The kubernetes source against a scripted API server (plain HTTP) replaying watch streams in the
// wire format: chunked, events split across chunks, bookmarks, 410 as status and as event, the
// server closing or dropping the stream, a slow server, errors. Asserts what the queue receives
// and what the server was asked.
#include "lib/control/kube_api_source.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/control/fake_apiserver.h"
#include "tests/control/kube_test_json.h"

namespace natgw::control {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::AtLeast;
using testing::CollectUntil;
using testing::FakeApiServer;
using testing::StartSource;
using testing::TempDir;
namespace tj = kube::testjson;

// "upsert rv=101 [c]", "status rv=150", "replace rv=100 [a,b] ", "status rv=100 disconnected".
std::string Summary(const SourceUpdate& u) {
  static const char* kTypes[] = {"replace", "upsert", "delete", "status"};
  std::string s = absl::StrCat(kTypes[static_cast<int>(u.type)], " rv=", u.resource_version);
  if (!u.connected) s += " disconnected";
  if (u.type != SourceUpdate::Type::kStatus) {
    std::vector<std::string> names;
    for (const auto& o : u.objects) names.push_back(kube::MetaOf(o).name);
    absl::StrAppend(&s, " [", absl::StrJoin(names, ","), "]");
  }
  return s;
}

std::vector<std::string> Summaries(const std::vector<SourceUpdate>& all) {
  std::vector<std::string> out;
  for (const auto& u : all) out.push_back(Summary(u));
  return out;
}

std::string L(const std::string& event) { return event + "\n"; }

KubeApiConfig PodsAt(const FakeApiServer& server) {
  KubeApiConfig c;
  c.server = server.url();
  c.kinds = {kube::Kind::kPod};
  c.page_limit = 2;
  c.watch_timeout_min_s = c.watch_timeout_max_s = 5;
  c.backoff_min_ms = 20;
  c.backoff_max_ms = 100;
  return c;
}

constexpr char kWatch[] = "/api/v1/pods?watch=1&resourceVersion=";
std::string WatchPath(const std::string& rv) {
  return absl::StrCat(kWatch, rv, "&allowWatchBookmarks=true&timeoutSeconds=5");
}

TEST(KubeApiSourceTest, PagedListThenWatchWithEventsSplitAcrossChunks) {
  TempDir dir;
  std::string added = L(tj::Event("ADDED", tj::Pod("d", "101", "10.0.0.4")));
  std::string modified = L(tj::Event("MODIFIED", tj::Pod("d", "102", "10.0.0.14")));
  std::string bookmark = L(tj::Bookmark("150"));
  std::string stream = added + modified + bookmark;
  size_t cut1 = added.size() / 2, cut2 = added.size() + modified.size() + 10;
  FakeApiServer server(
      dir,
      json::array({
          {{"match", "/api/v1/pods?limit=2"},
           {"body", tj::PodList("", "c1",
                                {tj::Pod("a", "90", "10.0.0.1"), tj::Pod("b", "91", "10.0.0.2")})}},
          {{"match", "/api/v1/pods?limit=2&continue=c1"},
           {"chunks",
            {tj::PodList("100", "", {tj::Pod("c", "92", "10.0.0.3")}).substr(0, 40),
             tj::PodList("100", "", {tj::Pod("c", "92", "10.0.0.3")}).substr(40)}}},
          // One event split in two chunks, the next event and a bookmark's start in one chunk.
          {{"match", WatchPath("100")},
           {"chunks",
            {stream.substr(0, cut1), stream.substr(cut1, cut2 - cut1), stream.substr(cut2)}},
           {"delay_ms", 20}},
          {{"match", WatchPath("150")},
           {"chunks", {L(tj::Event("DELETED", tj::Pod("a", "151", "10.0.0.1")))}},
           {"end", "hold"}},
      }));
  ASSERT_GT(server.port(), 0);
  UpdateQueue q;
  auto src = StartSource(PodsAt(server), &q);
  ASSERT_NE(src, nullptr);
  auto all = CollectUntil(q, AtLeast(5));
  EXPECT_EQ(Summaries(all),
            (std::vector<std::string>{"replace rv=100 [a,b,c]", "upsert rv=101 [d]",
                                      "upsert rv=102 [d]", "status rv=150", "delete rv=151 [a]"}));
  ASSERT_GE(all.size(), 2u);
  EXPECT_EQ(all[0].source, "kubernetes");
  EXPECT_EQ(all[0].kind, kube::Kind::kPod);
  EXPECT_EQ(std::get<kube::Pod>(all[2].objects[0]).ips[0], kube::ParseIpv4("10.0.0.14"));

  KubeApiStatus st = src->status();
  EXPECT_TRUE(st.connected);
  ASSERT_EQ(st.kinds.size(), 1u);
  EXPECT_EQ(st.kinds[0].resource_version, "151");
  EXPECT_EQ(st.kinds[0].events, 3u);
  EXPECT_EQ(st.kinds[0].failures, 0u);
  EXPECT_TRUE(st.kinds[0].listed);

  // Stop is prompt although the last watch is held open by the server.
  auto t0 = std::chrono::steady_clock::now();
  src->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  EXPECT_EQ(server.Paths(),
            (std::vector<std::string>{"/api/v1/pods?limit=2", "/api/v1/pods?limit=2&continue=c1",
                                      WatchPath("100"), WatchPath("150")}));
}

TEST(KubeApiSourceTest, Gone410AsErrorEventAndAsStatusRelists) {
  TempDir dir;
  FakeApiServer server(
      dir, json::array({
               {{"match", "/api/v1/pods?limit=2"},
                {"body", tj::PodList("100", "", {tj::Pod("a", "90", "10.0.0.1")})}},
               {{"match", WatchPath("100")},
                {"chunks",
                 {L(tj::Event("ADDED", tj::Pod("b", "110", "10.0.0.2"))),
                  L(tj::ErrorEvent(410, "too old resource version: 100 (180)"))}},
                {"end", "hold"}},
               {{"match", "/api/v1/pods?limit=2"},
                {"body",
                 tj::PodList("200", "",
                             {tj::Pod("a", "90", "10.0.0.1"), tj::Pod("b", "110", "10.0.0.2")})}},
               {{"match", WatchPath("200")},
                {"status", 410},
                {"body", tj::Status(410, "Expired", "too old")}},
               {{"match", "/api/v1/pods?limit=2"},
                {"body", tj::PodList("300", "", {tj::Pod("b", "110", "10.0.0.2")})}},
           }));
  UpdateQueue q;
  auto src = StartSource(PodsAt(server), &q);
  ASSERT_NE(src, nullptr);
  auto all = CollectUntil(q, AtLeast(4));
  EXPECT_EQ(Summaries(all),
            (std::vector<std::string>{"replace rv=100 [a]", "upsert rv=110 [b]",
                                      "replace rv=200 [a,b]", "replace rv=300 [b]"}));
  CollectUntil(
      q, [&](auto&) { return server.Paths().size() >= 6; }, 3s);
  src->Stop();
  EXPECT_EQ(server.Paths(), (std::vector<std::string>{"/api/v1/pods?limit=2", WatchPath("100"),
                                                      "/api/v1/pods?limit=2", WatchPath("200"),
                                                      "/api/v1/pods?limit=2", WatchPath("300")}));
  EXPECT_EQ(src->status().kinds[0].relists, 2u);
  EXPECT_EQ(src->status().kinds[0].failures, 0u);
}

TEST(KubeApiSourceTest, ClosedStreamRewatchesAndDroppedStreamReconnects) {
  TempDir dir;
  FakeApiServer server(
      dir,
      json::array({
          {{"match", "/api/v1/pods?limit=2"},
           {"body", tj::PodList("100", "", {tj::Pod("a", "90", "10.0.0.1")})}},
          {{"match", WatchPath("100")},
           {"chunks", {L(tj::Event("ADDED", tj::Pod("b", "120", "10.0.0.2")))}}},
          // Dropped mid-event: the partial line is discarded, the watch resumes from 130.
          {{"match", WatchPath("120")},
           {"chunks", {L(tj::Event("ADDED", tj::Pod("c", "130", "10.0.0.3"))), "{\"type\":\"ADD"}},
           {"end", "abort"}},
          {{"match", WatchPath("130")},
           {"chunks", {L(tj::Event("ADDED", tj::Pod("d", "140", "10.0.0.4")))}},
           {"delay_ms", 50},
           {"end", "hold"}},
      }));
  UpdateQueue q;
  auto src = StartSource(PodsAt(server), &q);
  ASSERT_NE(src, nullptr);
  auto all = CollectUntil(q, AtLeast(6));
  EXPECT_EQ(Summaries(all),
            (std::vector<std::string>{"replace rv=100 [a]", "upsert rv=120 [b]",
                                      "upsert rv=130 [c]", "status rv=130 disconnected",
                                      "status rv=130", "upsert rv=140 [d]"}));
  ASSERT_GE(all.size(), 5u);
  EXPECT_NE(all[3].message.find("watch of Pods: " + server.url()), std::string::npos)
      << all[3].message;
  KubeApiStatus st = src->status();
  EXPECT_TRUE(st.connected);
  EXPECT_EQ(st.kinds[0].failures, 1u);
  EXPECT_EQ(st.kinds[0].events, 3u);
  EXPECT_EQ(st.kinds[0].last_error, all[3].message);
  src->Stop();
  EXPECT_EQ(server.Paths(), (std::vector<std::string>{"/api/v1/pods?limit=2", WatchPath("100"),
                                                      WatchPath("120"), WatchPath("130")}));
}

TEST(KubeApiSourceTest, SlowServerDribblingBytes) {
  TempDir dir;
  std::string events =
      L(tj::Event("ADDED", tj::Pod("slow", "101", "10.0.0.9"))) + L(tj::Bookmark("105"));
  FakeApiServer server(
      dir,
      json::array({
          {{"match", "/api/v1/pods?limit=2"}, {"body", tj::PodList("100", "", {})}},
          {{"match", WatchPath("100")}, {"chunks", {events}}, {"dribble_ms", 1}, {"end", "hold"}},
      }));
  UpdateQueue q;
  auto src = StartSource(PodsAt(server), &q);
  ASSERT_NE(src, nullptr);
  auto all = CollectUntil(q, AtLeast(3));
  EXPECT_EQ(Summaries(all), (std::vector<std::string>{"replace rv=100 []", "upsert rv=101 [slow]",
                                                      "status rv=105"}));
}

TEST(KubeApiSourceTest, ServerErrorsBackOffThenRecover) {
  TempDir dir;
  FakeApiServer server(dir,
                       json::array({
                           {{"match", "/api/v1/pods?limit=2"},
                            {"status", 503},
                            {"body", tj::Status(503, "ServiceUnavailable", "etcd leader changed")}},
                           {{"match", "/api/v1/pods?limit=2"}, {"status", 500}, {"body", "oops"}},
                           {{"match", "/api/v1/pods?limit=2"},
                            {"body", tj::PodList("100", "", {tj::Pod("a", "90", "10.0.0.1")})}},
                       }));
  UpdateQueue q;
  auto src = StartSource(PodsAt(server), &q);
  ASSERT_NE(src, nullptr);
  auto all = CollectUntil(q, AtLeast(3));
  EXPECT_EQ(Summaries(all),
            (std::vector<std::string>{"status rv= disconnected", "status rv= disconnected",
                                      "replace rv=100 [a]"}));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].message, "list of Pods: HTTP 503: etcd leader changed");
  EXPECT_EQ(all[1].message, "list of Pods: HTTP 500: oops");
  EXPECT_GE(all[1].arrived - all[0].arrived, 15ms);  // backed off (20 ms, jittered down to 15)
  EXPECT_GE(all[2].arrived - all[1].arrived, 30ms);  // then 40 ms, jittered down to 30
  EXPECT_EQ(src->status().kinds[0].failures, 2u);
  EXPECT_TRUE(src->status().connected);
}

TEST(KubeApiSourceTest, UnreachableServerSaysDisconnectedAndStopsPromptlyMidBackoff) {
  // A port nothing listens on.
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  KubeApiConfig c;
  c.server = absl::StrCat("http://127.0.0.1:", ntohs(a.sin_port));
  c.backoff_min_ms = 200;
  c.backoff_max_ms = 60000;
  UpdateQueue q;
  auto src = StartSource(c, &q);
  ASSERT_NE(src, nullptr);
  auto all = CollectUntil(q, [](const std::vector<SourceUpdate>& v) {
    size_t pods = 0;
    for (const auto& u : v) pods += u.kind == kube::Kind::kPod;
    return pods >= 3;  // three tries: 200 ms, 400 ms apart
  });
  for (const auto& u : all) {
    EXPECT_EQ(u.type, SourceUpdate::Type::kStatus);
    EXPECT_FALSE(u.connected);
    EXPECT_NE(u.message.find(c.server), std::string::npos) << u.message;
  }
  KubeApiStatus st = src->status();
  EXPECT_FALSE(st.connected);
  EXPECT_EQ(st.kinds.size(), 4u);
  for (const auto& k : st.kinds) EXPECT_GE(k.failures, 1u);
  auto t0 = std::chrono::steady_clock::now();
  src->Stop();  // the threads sleep in back-offs of up to a few seconds
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 300ms);
}

TEST(KubeApiSourceTest, OneFailingKindMakesEveryUpdateSayDisconnected) {
  TempDir dir;
  FakeApiServer server(
      dir, json::array({
               {{"match", "/api/v1/pods?limit=2"}, {"body", tj::PodList("100", "", {})}},
               {{"match", WatchPath("100")},
                {"chunks", {L(tj::Event("ADDED", tj::Pod("a", "101", "10.0.0.1")))}},
                {"delay_ms", 300},
                {"end", "hold"}},
               // No route for services: every list of them is a 404.
           }));
  KubeApiConfig c = PodsAt(server);
  c.kinds = {kube::Kind::kPod, kube::Kind::kService};
  c.backoff_min_ms = c.backoff_max_ms = 5000;
  UpdateQueue q;
  auto src = StartSource(c, &q);
  ASSERT_NE(src, nullptr);
  auto all = CollectUntil(q, [](const std::vector<SourceUpdate>& v) {
    return !v.empty() && v.back().type == SourceUpdate::Type::kUpsert;
  });
  ASSERT_FALSE(all.empty());
  const SourceUpdate& upsert = all.back();
  EXPECT_EQ(upsert.kind, kube::Kind::kPod);
  EXPECT_FALSE(upsert.connected);
  EXPECT_EQ(upsert.message, "list of Services: HTTP 404: no route");
  KubeApiStatus st = src->status();
  EXPECT_FALSE(st.connected);
  ASSERT_EQ(st.kinds.size(), 2u);
  EXPECT_TRUE(st.kinds[0].connected);
  EXPECT_FALSE(st.kinds[1].connected);
  EXPECT_EQ(st.kinds[1].last_error, "list of Services: HTTP 404: no route");
}

TEST(KubeApiSourceTest, AllKindsUseTheirPathsNamespaceAndSelector) {
  TempDir dir;
  FakeApiServer server(dir, json::array());  // every list 404s: the paths are what counts
  KubeApiConfig c = PodsAt(server);
  c.kinds = {std::begin(kube::kAllKinds), std::end(kube::kAllKinds)};
  c.ns = "shop";
  c.label_selector = "natgw in (yes)";
  c.backoff_min_ms = c.backoff_max_ms = 5000;
  UpdateQueue q;
  auto src = StartSource(c, &q);
  ASSERT_NE(src, nullptr);
  CollectUntil(q, AtLeast(4));
  src->Stop();
  auto paths = server.Paths();
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(paths,
            (std::vector<std::string>{
                "/api/v1/namespaces/shop/pods?limit=2&labelSelector=natgw%20in%20%28yes%29",
                "/api/v1/namespaces/shop/services?limit=2&labelSelector=natgw%20in%20%28yes%29",
                "/api/v1/nodes?limit=2",
                "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices?limit=2&"
                "labelSelector=natgw%20in%20%28yes%29"}));
}

TEST(KubeApiSourceTest, RefusesConfigWithoutAServer) {
  UpdateQueue q;
  auto src = KubeApiSource::Create(KubeApiConfig{}, &q);
  EXPECT_FALSE(src.ok());
  KubeApiConfig c;
  c.server = "127.0.0.1:8001";
  src = KubeApiSource::Create(c, &q);
  ASSERT_FALSE(src.ok());
  EXPECT_NE(src.status().message().find("must start with https:// or http://"), std::string::npos);
}

}  // namespace
}  // namespace natgw::control
