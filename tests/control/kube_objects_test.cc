// Kubernetes JSON as kubectl and the API server write it -> kube_objects.h.
#include "lib/control/kube_objects.h"

#include <arpa/inet.h>

#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace natgw::control::kube {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream f(std::string(NATGW_SOURCE_ROOT) + "/tests/control/testdata/kube/" + name);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

uint32_t Ip(const char* s) { return inet_addr(s); }

TEST(KubeObjectsTest, PodsFromKubectlList) {
  auto doc = ParseDocument(Fixture("pods.json"));
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_EQ(doc->objects.size(), 4u);
  const Pod& cart = std::get<Pod>(doc->objects[0]);
  EXPECT_EQ(cart.meta.ns, "shop");
  EXPECT_EQ(cart.meta.name, "cart-5d9f8c7b6-x2k4p");
  EXPECT_EQ(cart.meta.uid, "7f1c2d3e-1111-4000-8000-00000000a001");
  EXPECT_EQ(cart.meta.resource_version, "48213");
  EXPECT_EQ(cart.meta.labels.at("app"), "cart");
  EXPECT_EQ(cart.meta.annotations.at("natgw.io/external-address"), "auto");
  EXPECT_FALSE(cart.meta.deleting);
  EXPECT_EQ(cart.phase, "Running");
  EXPECT_EQ(cart.node_name, "node-1");
  ASSERT_EQ(cart.ips.size(), 1u);  // the IPv6 address of the dual-stack pod is skipped
  EXPECT_EQ(cart.ips[0], Ip("10.0.1.5"));
  EXPECT_EQ(KeyOf(doc->objects[0]), "shop/cart-5d9f8c7b6-x2k4p");
  EXPECT_EQ(Describe(doc->objects[0]), "Pod shop/cart-5d9f8c7b6-x2k4p");

  const Pod& job = std::get<Pod>(doc->objects[1]);
  EXPECT_TRUE(job.meta.deleting);
  EXPECT_EQ(job.phase, "Succeeded");
  ASSERT_EQ(job.ips.size(), 1u);  // podIP only (no podIPs)
  EXPECT_EQ(job.ips[0], Ip("10.0.2.9"));
  EXPECT_TRUE(std::get<Pod>(doc->objects[2]).host_network);
  EXPECT_TRUE(std::get<Pod>(doc->objects[3]).ips.empty());  // pending, no IP yet
}

TEST(KubeObjectsTest, ServiceListGivesItemsTheListKind) {
  auto doc = ParseDocument(Fixture("services.json"));
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->resource_version, "50001");
  ASSERT_EQ(doc->objects.size(), 1u);
  const Service& s = std::get<Service>(doc->objects[0]);
  EXPECT_EQ(KeyOf(doc->objects[0]), "shop/web");
  EXPECT_EQ(s.type, "ClusterIP");
  EXPECT_EQ(s.meta.annotations.at("natgw.io/vip"), "auto");
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0].name, "http");
  EXPECT_EQ(s.ports[0].proto, 6);
  EXPECT_EQ(s.ports[0].port, 80);
  EXPECT_EQ(s.ports[0].target_port, 8080);
  EXPECT_EQ(s.ports[1].proto, 17);
  EXPECT_EQ(s.ports[1].target_port, 0);  // a named target port
  EXPECT_EQ(s.selector.at("app"), "web");
}

TEST(KubeObjectsTest, EndpointSliceConditions) {
  auto doc = ParseDocument(Fixture("endpointslice.json"));
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_EQ(doc->objects.size(), 1u);
  const EndpointSlice& es = std::get<EndpointSlice>(doc->objects[0]);
  EXPECT_EQ(es.service_name, "web");
  EXPECT_EQ(es.address_type, "IPv4");
  ASSERT_EQ(es.ports.size(), 2u);
  EXPECT_EQ(es.ports[1].proto, 17);
  EXPECT_EQ(es.ports[1].port, 5353);
  ASSERT_EQ(es.endpoints.size(), 3u);
  EXPECT_TRUE(es.endpoints[0].ready);
  EXPECT_EQ(es.endpoints[0].target_uid, "7f1c2d3e-1111-4000-8000-00000000a010");
  EXPECT_FALSE(es.endpoints[1].ready);
  EXPECT_TRUE(es.endpoints[1].serving);
  EXPECT_TRUE(es.endpoints[1].terminating);
  EXPECT_TRUE(es.endpoints[2].ready);  // no condition: ready, as the API defines it
  EXPECT_EQ(es.endpoints[2].addresses[0], Ip("10.0.1.9"));
}

TEST(KubeObjectsTest, NodesPodCidrsAndInternalIp) {
  auto doc = ParseDocument(Fixture("nodes.json"));
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_EQ(doc->objects.size(), 2u);
  const Node& n1 = std::get<Node>(doc->objects[0]);
  EXPECT_EQ(KeyOf(doc->objects[0]), "node-1");
  ASSERT_EQ(n1.pod_cidrs.size(), 1u);
  EXPECT_EQ(n1.pod_cidrs[0].addr, Ip("10.0.1.0"));
  EXPECT_EQ(n1.pod_cidrs[0].len, 24);
  EXPECT_EQ(n1.internal_ip, Ip("172.16.0.11"));
  EXPECT_EQ(std::get<Node>(doc->objects[1]).pod_cidrs[0].addr, Ip("10.0.2.0"));
}

TEST(KubeObjectsTest, OtherKindsAreSkippedAndErrorsSayWhere) {
  auto doc = ParseDocument(R"j({"kind":"List","items":[
      {"kind":"ConfigMap","metadata":{"name":"x"}},
      {"kind":"Pod","metadata":{"name":"a","namespace":"n"}}]})j");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->objects.size(), 1u);
  EXPECT_EQ(doc->skipped, 1u);
  EXPECT_EQ(std::get<Pod>(doc->objects[0]).meta.ns, "n");

  auto bad = ParseDocument(R"j({"kind":"List","items":[{"kind":"Pod","metadata":{"name":"a"}},
      {"kind":"Pod","metadata":{"namespace":"n"}}]})j");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "items[1]: metadata.name missing");
  auto truncated = ParseDocument(R"j({"kind":"List","items":[{"kind":"Pod")j");
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("not valid JSON"), std::string::npos);
  EXPECT_FALSE(ParseDocument(R"j({"apiVersion":"v1"})j").ok());
  auto port = ParseDocument(
      R"j({"kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":70000}]}})j");
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.status().message().find("port out of range"), std::string::npos);
}

TEST(KubeObjectsTest, WatchEvents) {
  auto added = ParseWatchEvent(
      R"j({"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a","namespace":"n","uid":"u1","resourceVersion":"7"},"status":{"podIP":"10.0.0.5"}}})j",
      Kind::kPod);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(added->type, WatchEvent::Type::kAdded);
  EXPECT_EQ(added->resource_version, "7");
  ASSERT_TRUE(added->object.has_value());
  EXPECT_EQ(std::get<Pod>(*added->object).ips[0], Ip("10.0.0.5"));

  auto bookmark = ParseWatchEvent(
      R"j({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12345","annotations":{"k8s.io/initial-events-end":"true"}}}})j",
      Kind::kPod);
  ASSERT_TRUE(bookmark.ok()) << bookmark.status();
  EXPECT_EQ(bookmark->type, WatchEvent::Type::kBookmark);
  EXPECT_EQ(bookmark->resource_version, "12345");
  EXPECT_FALSE(bookmark->object.has_value());

  auto gone = ParseWatchEvent(
      R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (4000)","reason":"Expired","code":410}})j",
      Kind::kPod);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->type, WatchEvent::Type::kError);
  EXPECT_EQ(gone->error_code, 410);
  EXPECT_EQ(gone->error_message, "too old resource version: 1 (4000)");

  auto deleted = ParseWatchEvent(
      R"j({"type":"DELETED","object":{"metadata":{"name":"node-9","resourceVersion":"9"}}})j",
      Kind::kNode);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(KindOf(*deleted->object), Kind::kNode);

  EXPECT_FALSE(ParseWatchEvent(R"j({"type":"SOMETHING","object":{}})j", Kind::kPod).ok());
  EXPECT_FALSE(
      ParseWatchEvent(R"j({"type":"ADDED","object":{"kind":"Node","metadata":{"name":"x"}}})j",
                      Kind::kPod)
          .ok());
}

TEST(KubeObjectsTest, Ipv4) {
  EXPECT_EQ(ParseIpv4("10.0.0.5"), Ip("10.0.0.5"));
  EXPECT_FALSE(ParseIpv4("fd00::1").has_value());
  EXPECT_FALSE(ParseIpv4("").has_value());
  EXPECT_FALSE(ParseIpv4("10.0.0.256").has_value());
}

}  // namespace
}  // namespace natgw::control::kube
