// The list+watch state machine, the line splitter and the back-off, without a network.
#include "lib/control/kube_list_watch.h"

#include <arpa/inet.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/control/kube_test_json.h"

namespace natgw::control::kube {
namespace {

using namespace std::chrono_literals;
namespace tj = testjson;
using Type = SourceUpdate::Type;

std::vector<std::string> Split(LineSplitter& s, const std::vector<std::string>& chunks) {
  std::vector<std::string> lines;
  for (const auto& c : chunks) {
    s.Feed(c, [&](std::string_view l) {
      lines.emplace_back(l);
      return true;
    });
  }
  return lines;
}

TEST(LineSplitterTest, EventSplitAcrossChunksIsReassembled) {
  LineSplitter s;
  auto lines = Split(s, {"{\"type\":\"AD", "DED\",", "\"object\":{}}", "\n"});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], R"({"type":"ADDED","object":{}})");
  EXPECT_EQ(s.pending_bytes(), 0u);
}

TEST(LineSplitterTest, SeveralEventsInOneChunkComeOutInOrder) {
  LineSplitter s;
  auto lines = Split(s, {"a\nb\n\nc\r\nd"});
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(s.pending_bytes(), 1u);  // "d" waits for its newline
  lines = Split(s, {"e\n"});
  EXPECT_EQ(lines, (std::vector<std::string>{"de"}));
}

TEST(LineSplitterTest, TrailingPartialLineIsNeverEmittedAndResetDropsIt) {
  LineSplitter s;
  auto lines = Split(s, {"one\ntw"});
  EXPECT_EQ(lines, (std::vector<std::string>{"one"}));
  EXPECT_EQ(s.pending_bytes(), 2u);
  s.Reset();
  EXPECT_EQ(Split(s, {"x\n"}), (std::vector<std::string>{"x"}));
}

TEST(LineSplitterTest, OneByteChunks) {
  LineSplitter s;
  std::string stream = "first line\nsecond\n";
  std::vector<std::string> chunks;
  for (char c : stream) chunks.emplace_back(1, c);
  EXPECT_EQ(Split(s, chunks), (std::vector<std::string>{"first line", "second"}));
}

TEST(LineSplitterTest, CallbackStopsFeeding) {
  LineSplitter s;
  int n = 0;
  EXPECT_FALSE(s.Feed("a\nb\nc\n", [&](std::string_view) { return ++n < 2; }));
  EXPECT_EQ(n, 2);
}

TEST(LineSplitterTest, OverlongLineOverflows) {
  LineSplitter s(8);
  EXPECT_TRUE(s.Feed("1234", [](std::string_view) { return true; }));
  EXPECT_FALSE(s.Feed("56789", [](std::string_view) { return true; }));
  EXPECT_TRUE(s.overflowed());
}

TEST(BackoffTest, DoublesFromMinAndCapsAtMax) {
  Backoff b(500ms, 30000ms);
  std::vector<int64_t> got;
  for (int i = 0; i < 9; ++i) got.push_back(b.Next(0.0).count());
  EXPECT_EQ(got, (std::vector<int64_t>{500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}));
  b.Reset();
  EXPECT_EQ(b.Next(0.0), 500ms);
}

TEST(BackoffTest, JitterStaysWithinBounds) {
  Backoff b(500ms, 30000ms, 0.25);
  EXPECT_EQ(b.Next(0.999999).count(), 375);  // 500 * (1 - 0.25 * u)
  EXPECT_EQ(b.Next(0.5).count(), 875);       // 1000 * (1 - 0.125)
  Backoff c(500ms, 30000ms, 0.25);
  for (int i = 0; i < 1000; ++i) {
    auto d = c.Next((i * 7919 % 1000) / 1000.0);
    EXPECT_GE(d, 375ms);
    EXPECT_LE(d, 30000ms);
  }
  EXPECT_EQ(c.attempt(), 1000u);  // no overflow after many attempts
}

TEST(KubePathTest, CollectionPaths) {
  EXPECT_EQ(CollectionPath(Kind::kPod, ""), "/api/v1/pods");
  EXPECT_EQ(CollectionPath(Kind::kPod, "shop"), "/api/v1/namespaces/shop/pods");
  EXPECT_EQ(CollectionPath(Kind::kService, "shop"), "/api/v1/namespaces/shop/services");
  EXPECT_EQ(CollectionPath(Kind::kEndpointSlice, ""), "/apis/discovery.k8s.io/v1/endpointslices");
  EXPECT_EQ(CollectionPath(Kind::kEndpointSlice, "a"),
            "/apis/discovery.k8s.io/v1/namespaces/a/endpointslices");
  EXPECT_EQ(CollectionPath(Kind::kNode, "shop"), "/api/v1/nodes");
  EXPECT_EQ(QueryEscape("app in (a,b),tier!=x"), "app%20in%20%28a%2Cb%29%2Ctier%21%3Dx");
  EXPECT_EQ(StatusBodyMessage(tj::Status(403, "Forbidden", "pods is forbidden")),
            "pods is forbidden");
  EXPECT_EQ(StatusBodyMessage("bad\ngateway"), "bad gateway");
}

class ListWatchTest : public ::testing::Test {
 protected:
  ListWatchTest() {
    ListWatchOptions o;
    o.page_limit = 2;
    Reset(o);
  }
  void Reset(ListWatchOptions o, Kind kind = Kind::kPod) {
    m_ = std::make_unique<ListWatch>(kind, o, [this] { return u_; });
  }
  // Lists two pods in two pages and returns the kReplace.
  SourceUpdate ListTwoPods(const std::string& rv = "100") {
    m_->Next();
    auto s1 = m_->OnListResponse(200, tj::PodList("", "tok", {tj::Pod("a", "90", "10.0.0.1")}));
    EXPECT_TRUE(s1.updates.empty());
    m_->Next();
    auto s2 = m_->OnListResponse(200, tj::PodList(rv, "", {tj::Pod("b", "95", "10.0.0.2")}));
    EXPECT_EQ(s2.updates.size(), 1u);
    return s2.updates.empty() ? SourceUpdate{} : s2.updates[0];
  }

  double u_ = 0.0;
  std::unique_ptr<ListWatch> m_;
};

TEST_F(ListWatchTest, PagesWithContinueTokensThenOneReplace) {
  EXPECT_EQ(m_->Next().path, "/api/v1/pods?limit=2");
  auto s = m_->OnListResponse(
      200, tj::PodList(
               "", "eyJ2Ij0x=", {tj::Pod("a", "90", "10.0.0.1"), tj::Pod("b", "91", "10.0.0.2")}));
  EXPECT_TRUE(s.updates.empty());
  EXPECT_EQ(s.delay, 0ms);
  auto r = m_->Next();
  EXPECT_FALSE(r.watch);
  EXPECT_EQ(r.path, "/api/v1/pods?limit=2&continue=eyJ2Ij0x%3D");
  s = m_->OnListResponse(200, tj::PodList("", "second", {tj::Pod("c", "92", "10.0.0.3")}));
  EXPECT_TRUE(s.updates.empty());
  EXPECT_EQ(m_->Next().path, "/api/v1/pods?limit=2&continue=second");
  s = m_->OnListResponse(200, tj::PodList("120", "", {tj::Pod("d", "93", "10.0.0.4")}));
  ASSERT_EQ(s.updates.size(), 1u);
  const SourceUpdate& u = s.updates[0];
  EXPECT_EQ(u.type, Type::kReplace);
  EXPECT_EQ(u.kind, Kind::kPod);
  EXPECT_EQ(u.source, "kubernetes");
  EXPECT_TRUE(u.connected);
  EXPECT_EQ(u.resource_version, "120");
  ASSERT_EQ(u.objects.size(), 4u);
  EXPECT_EQ(MetaOf(u.objects[0]).name, "a");
  EXPECT_EQ(MetaOf(u.objects[3]).name, "d");
  EXPECT_TRUE(m_->listed());
  EXPECT_EQ(m_->phase(), ListWatch::Phase::kWatch);
  r = m_->Next();
  EXPECT_TRUE(r.watch);
  EXPECT_EQ(r.path,
            "/api/v1/pods?watch=1&resourceVersion=120&allowWatchBookmarks=true&"
            "timeoutSeconds=240");
}

TEST_F(ListWatchTest, WatchTimeoutIsJitteredWithinRange) {
  ListTwoPods();
  u_ = 0.0;
  EXPECT_EQ(m_->Next().timeout_s, 240u);
  u_ = 0.5;
  EXPECT_EQ(m_->Next().timeout_s, 300u);
  u_ = 0.999999;
  EXPECT_EQ(m_->Next().timeout_s, 360u);
}

TEST_F(ListWatchTest, EventsBecomeUpsertsAndDeletesAndAdvanceTheResourceVersion) {
  ListTwoPods();
  m_->Next();
  auto s = m_->OnWatchStatus(200);
  EXPECT_TRUE(s.updates.empty());  // already connected: nothing to say
  s = m_->OnWatchLine(tj::Event("ADDED", tj::Pod("c", "101", "10.0.0.3")));
  ASSERT_EQ(s.updates.size(), 1u);
  EXPECT_EQ(s.updates[0].type, Type::kUpsert);
  EXPECT_EQ(s.updates[0].resource_version, "101");
  EXPECT_EQ(std::get<Pod>(s.updates[0].objects[0]).ips[0], inet_addr("10.0.0.3"));
  s = m_->OnWatchLine(tj::Event("MODIFIED", tj::Pod("c", "102", "10.0.0.3")));
  EXPECT_EQ(s.updates[0].type, Type::kUpsert);
  s = m_->OnWatchLine(tj::Event("DELETED", tj::Pod("a", "103", "10.0.0.1")));
  ASSERT_EQ(s.updates.size(), 1u);
  EXPECT_EQ(s.updates[0].type, Type::kDelete);
  EXPECT_EQ(MetaOf(s.updates[0].objects[0]).name, "a");
  EXPECT_EQ(m_->resource_version(), "103");
  EXPECT_EQ(m_->events(), 3u);
  EXPECT_FALSE(s.abort);
}

TEST_F(ListWatchTest, BookmarkAdvancesResourceVersionAndRewatchUsesIt) {
  ListTwoPods();
  m_->Next();
  m_->OnWatchStatus(200);
  auto s = m_->OnWatchLine(tj::Bookmark("250"));
  ASSERT_EQ(s.updates.size(), 1u);
  EXPECT_EQ(s.updates[0].type, Type::kStatus);
  EXPECT_EQ(s.updates[0].resource_version, "250");
  EXPECT_TRUE(s.updates[0].objects.empty());
  EXPECT_EQ(m_->events(), 0u);
  s = m_->OnWatchEnd(200, "");
  EXPECT_EQ(s.delay, 0ms);
  EXPECT_TRUE(s.updates.empty());
  EXPECT_NE(m_->Next().path.find("resourceVersion=250&"), std::string::npos);
}

TEST_F(ListWatchTest, StreamClosedRewatchesFromLastResourceVersion) {
  ListTwoPods();
  m_->Next();
  m_->OnWatchStatus(200);
  m_->OnWatchLine(tj::Event("ADDED", tj::Pod("c", "130", "10.0.0.3")));
  auto s = m_->OnWatchEnd(200, "");
  EXPECT_EQ(s.delay, 0ms);
  auto r = m_->Next();
  EXPECT_TRUE(r.watch);
  EXPECT_NE(r.path.find("resourceVersion=130&"), std::string::npos);
  EXPECT_EQ(m_->relists(), 0u);
  // A stream closed with no event at all is re-watched after a back-off (no spinning).
  m_->OnWatchStatus(200);
  s = m_->OnWatchEnd(200, "");
  EXPECT_GE(s.delay, 375ms);
  EXPECT_TRUE(m_->connected());
  EXPECT_NE(m_->Next().path.find("resourceVersion=130&"), std::string::npos);
}

TEST_F(ListWatchTest, ErrorEvent410Relists) {
  ListTwoPods();
  m_->Next();
  m_->OnWatchStatus(200);
  auto s = m_->OnWatchLine(tj::ErrorEvent(410, "too old resource version: 100 (200)"));
  EXPECT_TRUE(s.abort);
  EXPECT_EQ(s.delay, 0ms);
  EXPECT_TRUE(s.updates.empty());
  EXPECT_EQ(m_->relists(), 1u);
  EXPECT_TRUE(m_->connected());
  EXPECT_NE(m_->last_error().find("too old resource version"), std::string::npos);
  auto r = m_->Next();
  EXPECT_FALSE(r.watch);
  EXPECT_EQ(r.path, "/api/v1/pods?limit=2");
  auto u = ListTwoPods("300");
  EXPECT_EQ(u.type, Type::kReplace);
  EXPECT_EQ(u.resource_version, "300");
}

TEST_F(ListWatchTest, HttpStatus410OnWatchRelists) {
  ListTwoPods();
  m_->Next();
  m_->OnWatchStatus(410);
  auto s = m_->OnWatchEnd(410, tj::Status(410, "Expired", "too old"));
  EXPECT_EQ(s.delay, 0ms);
  EXPECT_EQ(m_->relists(), 1u);
  EXPECT_EQ(m_->Next().path, "/api/v1/pods?limit=2");
}

TEST_F(ListWatchTest, Repeated410WithoutEventsBacksOff) {
  ListTwoPods();
  m_->Next();
  EXPECT_EQ(m_->OnWatchLine(tj::ErrorEvent(410, "gone")).delay, 0ms);
  ListTwoPods("200");
  m_->Next();
  EXPECT_EQ(m_->OnWatchLine(tj::ErrorEvent(410, "gone")).delay, 500ms);  // no event in between
  ListTwoPods("300");
  m_->Next();
  m_->OnWatchLine(tj::Bookmark("301"));
  EXPECT_EQ(m_->OnWatchLine(tj::ErrorEvent(410, "gone")).delay, 0ms);
  EXPECT_EQ(m_->relists(), 3u);
}

TEST_F(ListWatchTest, ExpiredContinueTokenRestartsTheListAfterABackoff) {
  m_->Next();
  m_->OnListResponse(200, tj::PodList("", "tok", {tj::Pod("a", "90", "10.0.0.1")}));
  EXPECT_EQ(m_->Next().path, "/api/v1/pods?limit=2&continue=tok");
  auto s = m_->OnListResponse(410, tj::Status(410, "Expired", "continue token expired"));
  EXPECT_GT(s.delay, 0ms);
  EXPECT_EQ(m_->Next().path, "/api/v1/pods?limit=2");
  // The first page's objects were dropped: the fresh list alone makes the replace.
  s = m_->OnListResponse(200, tj::PodList("400", "", {tj::Pod("z", "399", "10.0.0.9")}));
  ASSERT_EQ(s.updates.size(), 1u);
  ASSERT_EQ(s.updates[0].objects.size(), 1u);
  EXPECT_EQ(MetaOf(s.updates[0].objects[0]).name, "z");
}

TEST_F(ListWatchTest, ServerErrorOnAPageRetriesThatPage) {
  m_->Next();
  m_->OnListResponse(200, tj::PodList("", "tok", {tj::Pod("a", "90", "10.0.0.1")}));
  m_->Next();
  auto s = m_->OnListResponse(503, tj::Status(503, "ServiceUnavailable", "etcd leader changed"));
  ASSERT_EQ(s.updates.size(), 1u);
  EXPECT_EQ(s.updates[0].type, Type::kStatus);
  EXPECT_FALSE(s.updates[0].connected);
  EXPECT_EQ(s.updates[0].message, "list of Pods: HTTP 503: etcd leader changed");
  EXPECT_EQ(s.delay, 500ms);
  EXPECT_EQ(m_->Next().path, "/api/v1/pods?limit=2&continue=tok");
  s = m_->OnListResponse(200, tj::PodList("500", "", {tj::Pod("b", "91", "10.0.0.2")}));
  ASSERT_EQ(s.updates.size(), 1u);
  EXPECT_EQ(s.updates[0].objects.size(), 2u);
  EXPECT_TRUE(s.updates[0].connected);
}

TEST_F(ListWatchTest, TransportErrorsBackOffExponentiallyAndReconnectFromLastRv) {
  ListTwoPods("100");
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 8; ++i) {
    m_->Next();
    auto s = m_->OnTransportError("connection refused");
    ASSERT_EQ(s.updates.size(), 1u);
    EXPECT_FALSE(s.updates[0].connected);
    EXPECT_EQ(s.updates[0].resource_version, "100");
    EXPECT_EQ(s.updates[0].message, "watch of Pods: connection refused");
    delays.push_back(s.delay);
  }
  EXPECT_EQ(delays, (std::vector<std::chrono::milliseconds>{500ms, 1000ms, 2000ms, 4000ms, 8000ms,
                                                            16000ms, 30000ms, 30000ms}));
  EXPECT_EQ(m_->failures(), 8u);
  EXPECT_FALSE(m_->connected());
  auto r = m_->Next();
  EXPECT_TRUE(r.watch);
  EXPECT_NE(r.path.find("resourceVersion=100&"), std::string::npos);
  auto s = m_->OnWatchStatus(200);
  ASSERT_EQ(s.updates.size(), 1u);
  EXPECT_EQ(s.updates[0].type, Type::kStatus);
  EXPECT_TRUE(s.updates[0].connected);
  EXPECT_TRUE(m_->connected());
  // An event resets the back-off.
  m_->OnWatchLine(tj::Bookmark("101"));
  s = m_->OnTransportError("reset");
  EXPECT_EQ(s.delay, 500ms);
}

TEST_F(ListWatchTest, OtherErrorEventsAndStatusesBackOff) {
  ListTwoPods();
  m_->Next();
  m_->OnWatchStatus(200);
  auto s = m_->OnWatchLine(tj::ErrorEvent(500, "internal error"));
  EXPECT_TRUE(s.abort);
  ASSERT_EQ(s.updates.size(), 1u);
  EXPECT_FALSE(s.updates[0].connected);
  EXPECT_EQ(s.updates[0].message, "watch of Pods: ERROR event 500: internal error");
  EXPECT_EQ(m_->relists(), 0u);
  m_->Next();
  s = m_->OnWatchEnd(403, tj::Status(403, "Forbidden", "pods is forbidden: User x cannot watch"));
  EXPECT_EQ(s.updates[0].message,
            "watch of Pods: HTTP 403: pods is forbidden: User x cannot watch");
  EXPECT_EQ(s.delay, 1000ms);
}

TEST_F(ListWatchTest, UndecodableEventIsSkippedAndSaid) {
  ListTwoPods();
  m_->Next();
  m_->OnWatchStatus(200);
  auto s = m_->OnWatchLine("{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\"");
  EXPECT_FALSE(s.abort);
  ASSERT_EQ(s.updates.size(), 1u);
  EXPECT_EQ(s.updates[0].type, Type::kStatus);
  EXPECT_TRUE(s.updates[0].connected);
  EXPECT_NE(s.updates[0].message.find("skipped an undecodable Pod watch event"), std::string::npos);
  EXPECT_EQ(m_->resource_version(), "100");
}

TEST_F(ListWatchTest, BadListBodyBacksOff) {
  m_->Next();
  auto s = m_->OnListResponse(200, "{\"kind\":\"PodList\",\"items\":[");
  EXPECT_FALSE(s.updates[0].connected);
  EXPECT_GT(s.delay, 0ms);
  EXPECT_FALSE(m_->listed());
}

TEST_F(ListWatchTest, NamespaceAndLabelSelector) {
  ListWatchOptions o;
  o.ns = "shop";
  o.label_selector = "natgw=yes";
  o.page_limit = 0;
  Reset(o);
  EXPECT_EQ(m_->Next().path, "/api/v1/namespaces/shop/pods?labelSelector=natgw%3Dyes");
  Reset(o, Kind::kNode);
  EXPECT_EQ(m_->Next().path, "/api/v1/nodes");
  Reset(o, Kind::kEndpointSlice);
  EXPECT_EQ(m_->Next().path,
            "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices?labelSelector=natgw%3Dyes");
}

}  // namespace
}  // namespace natgw::control::kube
