// The conf-file parser: every example under conf/examples loads with the values it says, bad
// files are refused with the right line and a message that says what to fix.
#include <arpa/inet.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/control/gateway_config.h"
#include "tests/control/config_test_base.h"

namespace natgw::control {
namespace {

using conftest::kBase;
using conftest::kBaseLines;

using ::testing::ElementsAre;
using ::testing::HasSubstr;

uint32_t Ip(const char* text) {
  in_addr a;
  EXPECT_EQ(inet_pton(AF_INET, text, &a), 1) << text;
  return a.s_addr;
}

std::string Example(const std::string& relative) {
  return std::string(NATGW_SOURCE_ROOT) + "/conf/examples/" + relative;
}

const PoolConfig* FindPool(const GatewayConfig& g, const std::string& name) {
  for (const PoolConfig& p : g.pools) {
    if (p.name == name) return &p;
  }
  return nullptr;
}


TEST(ConfigExamplesTest, EveryExampleLoads) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(Example(""))) {
    if (e.is_regular_file() && e.path().extension() == ".toml") files.push_back(e.path());
  }
  EXPECT_GE(files.size(), 4u);
  for (const std::string& f : files) {
    absl::StatusOr<GatewayConfig> c = LoadConfigFile(f);
    EXPECT_TRUE(c.ok()) << c.status();
    if (c.ok()) {
      EXPECT_EQ(c->source, f);
    }
  }
}

TEST(ConfigExamplesTest, TwoIslandsC1) {
  absl::StatusOr<GatewayConfig> c = LoadConfigFile(Example("two-islands/c1.toml"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "c1");
  EXPECT_EQ(c->control_socket, "/run/natgw/c1.sock");
  EXPECT_EQ(c->idle_sleep_us, 100u);
  EXPECT_FALSE(c->dpdk.no_huge);  // scripts reserve hugepages
  EXPECT_EQ(c->dpdk.memory_mb, 256u);
  EXPECT_EQ(c->dpdk.file_prefix, "natgw-c1");
  EXPECT_THAT(c->dpdk.lcore_ids, ElementsAre(0u, 1u));
  EXPECT_EQ(c->metrics.port, 9469);
  EXPECT_EQ(c->engine.num_workers, 1u);

  ASSERT_EQ(c->interfaces.size(), 2u);
  const InterfaceConfig& in = c->interfaces[0];
  EXPECT_EQ(in.device, "net_af_packet0");
  EXPECT_EQ(in.vdev_args, "iface=c1gw-in");
  EXPECT_EQ(in.role, InterfaceRole::kInside);
  EXPECT_EQ(in.island, 1);
  EXPECT_EQ(in.address, Ip("10.0.0.1"));
  EXPECT_EQ(in.prefix_len, 16);
  EXPECT_EQ(in.mtu, 1500);
  EXPECT_EQ(c->interfaces[1].vdev_args, "iface=c1gw-out");
  EXPECT_EQ(c->interfaces[1].role, InterfaceRole::kOutside);

  ASSERT_EQ(c->nat.islands.size(), 1u);
  EXPECT_EQ(c->nat.islands[0].gateway_ip, Ip("10.0.0.1"));
  ASSERT_EQ(c->island_names.size(), 2u);
  EXPECT_EQ(c->island_names[1], "c1");
  EXPECT_EQ(c->nat.outside_gateway_ip, Ip("192.0.2.1"));

  ASSERT_EQ(c->nat.pod_mappings.size(), 1u);
  EXPECT_EQ(c->nat.pod_mappings[0].island, 1);
  EXPECT_EQ(c->nat.pod_mappings[0].pod_ip, Ip("10.0.0.5"));
  EXPECT_EQ(c->nat.pod_mappings[0].external_ip, Ip("203.0.113.5"));
  EXPECT_EQ(c->nat.pod_mappings[0].name, "default/pod-a");

  ASSERT_EQ(c->nat.egress_pools.size(), 1u);
  const nat::EgressPoolConfig& e = c->nat.egress_pools[0];
  EXPECT_EQ(e.island, 1);
  ASSERT_EQ(e.addresses.size(), 16u);
  EXPECT_EQ(e.addresses.front(), Ip("192.0.2.16"));
  EXPECT_EQ(e.addresses.back(), Ip("192.0.2.31"));
  EXPECT_EQ(e.port_min, 1024);
  EXPECT_EQ(e.port_max, 65535);
  EXPECT_EQ(e.filtering, nat::Filtering::kAddressAndPortDependent);
  ASSERT_NE(FindPool(*c, "c1-unique"), nullptr);
  EXPECT_EQ(FindPool(*c, "c1-unique")->kind, PoolKind::kUnique);

  ASSERT_EQ(c->routes.size(), 2u);
  EXPECT_EQ(c->routes[0].destination.addr, Ip("198.51.100.0"));
  EXPECT_EQ(c->routes[0].destination.len, 24);
  EXPECT_EQ(c->routes[0].via, Ip("192.0.2.2"));
  EXPECT_EQ(c->routes[0].interface, "c1-outside");
  EXPECT_EQ(c->routes[1].destination.len, 0);
  EXPECT_EQ(c->routes[1].via, 0u);
}

TEST(ConfigExamplesTest, TwoIslandsC2) {
  absl::StatusOr<GatewayConfig> c = LoadConfigFile(Example("two-islands/c2.toml"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->control_socket, "/run/natgw/c2.sock");
  EXPECT_EQ(c->metrics.listen, "127.0.0.1:9470");
  EXPECT_EQ(c->nat.outside_gateway_ip, Ip("192.0.2.2"));
  // Pods and the web service come from the cluster directory (ClusterSyncTest checks what the
  // example's JSON files give); nothing static.
  EXPECT_TRUE(c->nat.pod_mappings.empty());
  EXPECT_TRUE(c->nat.services.empty());
  ASSERT_EQ(c->clusters.size(), 1u);
  EXPECT_EQ(c->clusters[0].island, 2);
  EXPECT_EQ(c->clusters[0].directory, "/run/natgw/c2-cluster");
  EXPECT_EQ(c->allocation.state_file, "/run/natgw/c2.allocations.json");
  ASSERT_NE(FindPool(*c, "c2-vip"), nullptr);
  EXPECT_EQ(FindPool(*c, "c2-vip")->kind, PoolKind::kVip);
  EXPECT_EQ(c->routes[0].via, Ip("192.0.2.1"));
}

TEST(ConfigExamplesTest, SingleGateway) {
  absl::StatusOr<GatewayConfig> c = LoadConfigFile(Example("single-gateway/natgw.toml"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->control_socket, "/run/natgw/edge1.sock");
  EXPECT_FALSE(c->dpdk.no_huge);
  EXPECT_THAT(c->dpdk.lcore_ids, ElementsAre(0u, 1u, 2u));
  EXPECT_EQ(c->engine.num_workers, 2u);
  EXPECT_EQ(c->interfaces[0].device, "0000:03:00.0");
  EXPECT_EQ(c->interfaces[0].vdev_args, "");
  EXPECT_EQ(c->interfaces[1].mtu, 9000);
  EXPECT_EQ(c->engine.max_sessions, 4194304u);
  EXPECT_EQ(c->engine.max_pods, 262144u);
  EXPECT_EQ(c->engine.fragment_states, 4096u);
  EXPECT_EQ(c->nat.limits.max_sessions_per_pod, 20000u);
  ASSERT_EQ(c->nat.egress_pools.size(), 1u);
  EXPECT_EQ(c->nat.egress_pools[0].addresses.size(), 17u);  // a /28 and one address
  EXPECT_EQ(c->nat.egress_pools[0].addresses.back(), Ip("203.0.113.80"));
  EXPECT_EQ(c->nat.egress_pools[0].filtering, nat::Filtering::kEndpointIndependent);
  ASSERT_EQ(c->nat.services.size(), 2u);
  EXPECT_EQ(c->nat.services[1].proto, 17);
  EXPECT_EQ(c->nat.islands[0].id, 0);
}

TEST(ConfigExamplesTest, TwoIslandsOneGateway) {
  absl::StatusOr<GatewayConfig> c = LoadConfigFile(Example("two-islands-one-gateway/natgw.toml"));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->nat.islands.size(), 2u);
  EXPECT_EQ(c->nat.islands[0].gateway_ip, Ip("10.0.0.1"));
  EXPECT_EQ(c->nat.islands[1].gateway_ip, Ip("10.0.0.1"));
  EXPECT_THAT(c->island_names, ElementsAre("", "blue", "green"));
  EXPECT_EQ(c->interfaces[0].island, 1);
  EXPECT_EQ(c->interfaces[1].island, 2);
  ASSERT_EQ(c->nat.pod_mappings.size(), 2u);
  EXPECT_EQ(c->nat.pod_mappings[0].pod_ip, c->nat.pod_mappings[1].pod_ip);
  EXPECT_EQ(c->nat.egress_pools.size(), 2u);
  EXPECT_EQ(c->nat.services[0].backends[1].island, 2);
}

TEST(ConfigTest, DefaultsApplied) {
  absl::StatusOr<GatewayConfig> c = ParseConfig(kBase, "min.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->source, "min.toml");
  EXPECT_EQ(c->name, "natgw");
  EXPECT_EQ(c->control_socket, "/run/natgw/natgw.sock");
  EXPECT_EQ(c->idle_sleep_us, 0u);
  EXPECT_TRUE(c->answer_arp_for_external);
  EXPECT_EQ(c->dpdk.lcores, "0,1");
  EXPECT_THAT(c->dpdk.lcore_ids, ElementsAre(0u, 1u));
  EXPECT_EQ(c->dpdk.memory_mb, 0u);
  EXPECT_FALSE(c->dpdk.no_huge);
  EXPECT_EQ(c->dpdk.file_prefix, "natgw-natgw");
  EXPECT_TRUE(c->dpdk.extra_args.empty());
  EXPECT_EQ(c->interfaces[0].mtu, 1500);
  EXPECT_EQ(c->nat.timeouts.tcp_established_s, 7440u);
  EXPECT_EQ(c->nat.timeouts.tcp_transitory_s, 240u);
  EXPECT_EQ(c->nat.timeouts.udp_s, 300u);
  EXPECT_EQ(c->nat.timeouts.icmp_s, 60u);
  EXPECT_EQ(c->engine.max_sessions, 1048576u);
  EXPECT_EQ(c->nat.limits.max_sessions_per_pod, 0u);
  EXPECT_EQ(c->engine.max_pods, 65536u);
  EXPECT_EQ(c->engine.fragment_states, 1024u);
  EXPECT_EQ(c->engine.fragment_hold, 32u);
  EXPECT_EQ(c->engine.fragment_timeout_s, 2u);
  EXPECT_EQ(c->engine.num_workers, 1u);
  EXPECT_TRUE(c->nat.egress_pools.empty());
  EXPECT_TRUE(c->routes.empty());
  EXPECT_TRUE(c->metrics.enabled);
  EXPECT_EQ(c->metrics.listen, "127.0.0.1:9469");
  EXPECT_EQ(c->metrics.address, Ip("127.0.0.1"));
  EXPECT_EQ(c->metrics.port, 9469);
  EXPECT_FALSE(c->metrics.allow_remote);
}

TEST(ConfigTest, Metrics) {
  auto c = ParseConfig(std::string(kBase) + "[metrics]\nlisten = \"127.0.0.2:9100\"\n", "m.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->metrics.enabled);
  EXPECT_EQ(c->metrics.address, Ip("127.0.0.2"));
  EXPECT_EQ(c->metrics.port, 9100);
  c = ParseConfig(std::string(kBase) + "[metrics]\nlisten = \"\"\n", "m.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->metrics.enabled);
  c = ParseConfig(std::string(kBase) + "[metrics]\nenabled = false\n", "m.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->metrics.enabled);
  c = ParseConfig(std::string(kBase) +
                      "[metrics]\nlisten = \"0.0.0.0:9469\"\nallow_remote = true\n",
                  "m.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metrics.address, 0u);
  EXPECT_EQ(c->metrics.port, 9469);
}

TEST(ConfigTest, NameDerivesSocketAndPrefix) {
  absl::StatusOr<GatewayConfig> c =
      ParseConfig(std::string(kBase) +
                      "[gateway]\nname = \"gw7\"\n[dpdk]\nlcores = \"0-2,4\"\n"
                      "args = [\"--log-level=pmd:debug\"]\n",
                  "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->control_socket, "/run/natgw/gw7.sock");
  EXPECT_EQ(c->dpdk.file_prefix, "natgw-gw7");
  EXPECT_THAT(c->dpdk.lcore_ids, ElementsAre(0u, 1u, 2u, 4u));
  EXPECT_EQ(c->engine.num_workers, 3u);
  EXPECT_THAT(c->dpdk.extra_args, ElementsAre("--log-level=pmd:debug"));
  EXPECT_EQ(c->dpdk.EalLcoreMap(), "");  // no lcore pinned elsewhere: EAL's -l as written
}

TEST(ConfigTest, LcoresPinnedToOtherCpus) {
  // Two workers sharing CPU 1 (a test on a 2-CPU machine): EAL gets --lcores with the map.
  absl::StatusOr<GatewayConfig> c =
      ParseConfig(std::string(kBase) + "[dpdk]\nlcores = \"0,1-2@1\"\n", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->dpdk.lcore_ids, ElementsAre(0u, 1u, 2u));
  EXPECT_THAT(c->dpdk.lcore_cpus, ElementsAre(0u, 1u, 1u));
  EXPECT_EQ(c->engine.num_workers, 2u);
  EXPECT_EQ(c->dpdk.EalLcoreMap(), "0@0,1@1,2@1");
}

TEST(ConfigTest, UnknownKeyRefusedWithSuggestion) {
  absl::StatusOr<GatewayConfig> c =
      ParseConfig(std::string(kBase) + "[limits]\nmax_session = 10\n", "typo.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "typo.toml:17: limits: unknown key 'max_session'; did you mean 'max_sessions'? "
            "(known keys: max_sessions, max_sessions_per_pod, max_pods, fragment_states, "
            "fragment_hold, fragment_timeout_s)");
}

TEST(ConfigTest, MissingFileIsNotFound) {
  absl::StatusOr<GatewayConfig> c = LoadConfigFile("/nonexistent/natgw.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/natgw.toml: cannot open"));
}

struct BadCase {
  const char* description;
  std::string text;
  int line;
  const char* message;  // a distinctive part of "section: what; fix"
};

// `extra` appended to kBase; `line` counts from the first line of `extra`.
BadCase Extra(const char* description, const char* extra, int line, const char* message) {
  return {description, std::string(kBase) + extra, kBaseLines + line, message};
}

const char kThirdInside[] =
    "[[interface]]\nname = \"in2\"\ndevice = \"net_tap2\"\nrole = \"inside\"\n";

std::vector<BadCase> BadCases() {
  return {
      Extra("syntax error", "[[pool]\nname = 1\n", 1, "syntax: "),
      Extra("unknown section", "[limit]\nmax_sessions = 5\n", 1,
            "top level: unknown section or key 'limit'; did you mean 'limits'?"),
      {"top-level key", "name = \"x\"\n" + std::string(kBase), 1,
       "top level: unknown section or key 'name'"},
      Extra("section written as a list", "[[gateway]]\nname = \"x\"\n", 1,
            "'gateway' must be a section; write it as a table: [gateway]"),
      {"list written as a section", "[interface]\nname = \"x\"\n", 1,
       "'interface' must be a list of tables; write each entry under its own [[interface]]"},
      Extra("unknown interface key", "[[interface]]\nname = \"x\"\nmut = 1500\n", 3,
            "interface: unknown key 'mut'; did you mean 'mtu'?"),
      Extra("wrong type", "[limits]\nmax_sessions = \"big\"\n", 2,
            "limits: 'max_sessions' must be an integer, not a string"),
      Extra("float for integer", "[timeouts]\nudp_s = 1.5\n", 2,
            "'udp_s' must be an integer, not a floating-point number"),
      Extra("bool as string", "[dpdk]\nno_huge = \"yes\"\n", 2,
            "'no_huge' must be a boolean, not a string; write true or false"),
      Extra("missing key", "[[route]]\ninterface = \"out\"\n", 1,
            "route: missing key 'destination'"),
      Extra("mtu out of range",
            "[[interface]]\nname = \"o2\"\ndevice = \"net_tap2\"\nrole = \"outside\"\n"
            "address = \"198.18.0.1/24\"\nmtu = 10000\n",
            6, "interface: 'mtu' is 10000 bytes, out of range 68..9600"),
      Extra("fragment_hold over 32", "[limits]\nfragment_hold = 33\n", 2,
            "'fragment_hold' is 33, out of range 0..32"),
      Extra("island id out of range",
            "[[island]]\nname = \"c2\"\nid = 256\npod_cidrs = [\"10.0.0.0/16\"]\n", 3,
            "island: 'id' is 256, out of range 0..255"),
      Extra("bad address",
            "[[mapping]]\nisland = \"c1\"\npod = \"10.0.0.256\"\nexternal = \"203.0.113.5\"\n", 3,
            "mapping: 'pod' = \"10.0.0.256\" is not an IPv4 address"),
      Extra("CIDR where an address is expected",
            "[[mapping]]\nisland = \"c1\"\npod = \"10.0.0.5\"\nexternal = \"203.0.113.5/32\"\n", 4,
            "is a CIDR, not an address; write the address alone: \"203.0.113.5\""),
      Extra("host bits in a CIDR",
            "[[pool]]\nname = \"u\"\nkind = \"unique\"\nisland = \"c1\"\n"
            "addresses = [\n  \"203.0.113.0/25\",\n  \"198.51.100.5/24\",\n]\n",
            7,
            "pool: 'addresses' = \"198.51.100.5/24\" has host bits set; write \"198.51.100.0/24\""),
      Extra("host bits in pod_cidrs",
            "[[island]]\nname = \"c2\"\nid = 2\npod_cidrs = [\"10.1.2.3/16\"]\n", 4,
            "write \"10.1.0.0/16\""),
      Extra("interface address without prefix",
            "[[interface]]\nname = \"o2\"\ndevice = \"net_tap2\"\nrole = \"outside\"\n"
            "address = \"198.18.0.1\"\n",
            5, "address \"198.18.0.1\" is not an address/prefix"),
      Extra("interface on the network address",
            "[[interface]]\nname = \"o2\"\ndevice = \"net_tap2\"\nrole = \"outside\"\n"
            "address = \"198.18.0.0/24\"\n",
            5, "is the network address of 198.18.0.0/24"),
      Extra("bad device",
            "[[interface]]\nname = \"o2\"\ndevice = \"eth0\"\nrole = \"outside\"\n"
            "address = \"198.18.0.1/24\"\n",
            3, "device \"eth0\" is neither a PCI address nor a vdev"),
      Extra("args for a PCI device",
            "[[interface]]\nname = \"o2\"\ndevice = \"0000:03:00.1\"\nargs = \"x=1\"\n"
            "role = \"outside\"\naddress = \"198.18.0.1/24\"\n",
            4, "args given for PCI device 0000:03:00.1"),
      Extra("af_packet without iface",
            "[[interface]]\nname = \"o2\"\ndevice = \"net_af_packet0\"\nrole = \"outside\"\n"
            "address = \"198.18.0.1/24\"\n",
            3, "add args = \"iface=<veth name>\""),
      Extra("zero-copy memif without hugepages",
            "[dpdk]\nno_huge = true\n[[interface]]\nname = \"o2\"\ndevice = \"net_memif2\"\n"
            "args = \"role=client,zero-copy=yes\"\nrole = \"outside\"\n"
            "address = \"198.18.0.1/24\"\n",
            6, "interface o2: a zero-copy memif port shares natgw's hugepages"),
      Extra("bad role",
            "[[interface]]\nname = \"o2\"\ndevice = \"net_tap2\"\nrole = \"both\"\n"
            "address = \"198.18.0.1/24\"\n",
            4, "'role' is \"both\"; use one of \"inside\", \"outside\""),
      Extra("inside interface without island",
            (std::string(kThirdInside) + "address = \"10.9.0.1/16\"\n").c_str(), 4,
            "inside interface in2 names no island"),
      Extra("outside interface with island",
            "[[interface]]\nname = \"o2\"\ndevice = \"net_tap2\"\nrole = \"outside\"\n"
            "island = \"c1\"\naddress = \"198.18.0.1/24\"\n",
            5, "outside interface o2 names an island; remove island"),
      Extra("duplicate interface name",
            "[[interface]]\nname = \"in\"\ndevice = \"net_tap2\"\nrole = \"outside\"\n"
            "address = \"198.18.0.1/24\"\n",
            2, "interface: interface name \"in\" is already used at line 1"),
      Extra("duplicate device",
            "[[interface]]\nname = \"o2\"\ndevice = \"net_tap1\"\nrole = \"outside\"\n"
            "address = \"198.18.0.1/24\"\n",
            3, "device \"net_tap1\" is already used by interface out (line 7)"),
      Extra("interface island not defined",
            (std::string(kThirdInside) + "island = \"c9\"\naddress = \"10.9.0.1/16\"\n").c_str(), 5,
            "interface: island \"c9\" is not defined; define it in an [[island]] section or "
            "use one of: c1"),
      Extra("two inside interfaces for one island",
            (std::string(kThirdInside) + "island = \"c1\"\naddress = \"10.9.0.1/16\"\n").c_str(), 5,
            "island c1 already has inside interface in (line 1)"),
      {"no outside interface",
       "[[interface]]\nname = \"in\"\ndevice = \"net_tap0\"\nrole = \"inside\"\n"
       "island = \"c1\"\naddress = \"10.0.0.1/16\"\n"
       "[[island]]\nname = \"c1\"\nid = 1\npod_cidrs = [\"10.0.0.0/16\"]\n",
       1, "interface: there is no outside interface; add an [[interface]] with role = \"outside\""},
      Extra("duplicate island name",
            "[[island]]\nname = \"c1\"\nid = 2\npod_cidrs = [\"10.0.0.0/16\"]\n", 2,
            "island name \"c1\" is already used at line 12"),
      Extra("duplicate island id",
            "[[island]]\nname = \"c2\"\nid = 1\npod_cidrs = [\"10.0.0.0/16\"]\n", 3,
            "island id 1 is already used by island c1 (line 12)"),
      Extra("empty pod_cidrs", "[[island]]\nname = \"c2\"\nid = 2\npod_cidrs = []\n", 4,
            "'pod_cidrs' is empty"),
      Extra("route to an unknown interface",
            "[[route]]\ndestination = \"0.0.0.0/0\"\ninterface = \"nope\"\n", 3,
            "route: interface \"nope\" is not defined; use one of: in, out"),
      Extra("route next hop off the subnet",
            "[[route]]\ndestination = \"0.0.0.0/0\"\nvia = \"198.18.0.1\"\ninterface = \"out\"\n",
            3, "next hop 198.18.0.1 is not on the subnet of interface out (192.0.2.1/24)"),
      Extra("duplicate route",
            "[[route]]\ndestination = \"0.0.0.0/0\"\ninterface = \"out\"\n"
            "[[route]]\ndestination = \"0.0.0.0/0\"\ninterface = \"in\"\n",
            5, "destination 0.0.0.0/0 is already routed at line 16"),
      Extra("mapping pod outside the island",
            "[[mapping]]\nisland = \"c1\"\npod = \"10.1.0.5\"\nexternal = \"203.0.113.5\"\n", 3,
            "mapping: pod 10.1.0.5 is outside the pod_cidrs of island c1 (10.0.0.0/16)"),
      Extra("mapping to an unknown island",
            "[[mapping]]\nisland = \"c2\"\npod = \"10.0.0.5\"\nexternal = \"203.0.113.5\"\n", 2,
            "mapping: island \"c2\" is not defined"),
      Extra("pod mapped twice",
            "[[mapping]]\nisland = \"c1\"\npod = \"10.0.0.5\"\nexternal = \"203.0.113.5\"\n"
            "[[mapping]]\nisland = \"c1\"\npod = \"10.0.0.5\"\nexternal = \"203.0.113.6\"\n",
            7, "pod 10.0.0.5 of island c1 is already mapped at line 16"),
      Extra("external outside the unique pools",
            "[[pool]]\nname = \"u\"\nkind = \"unique\"\nisland = \"c1\"\n"
            "addresses = [\"203.0.113.0/25\"]\n"
            "[[mapping]]\nisland = \"c1\"\npod = \"10.0.0.5\"\nexternal = \"198.51.100.9\"\n",
            9,
            "mapping: external address 198.51.100.9 is outside every unique pool of island c1; "
            "add it to a [[pool]] of kind \"unique\" or pick one from 203.0.113.0/25"),
      Extra("two externals the same",
            "[[mapping]]\nisland = \"c1\"\npod = \"10.0.0.5\"\nexternal = \"203.0.113.5\"\n"
            "[[mapping]]\nisland = \"c1\"\npod = \"10.0.0.6\"\nexternal = \"203.0.113.5\"\n",
            8,
            "203.0.113.5 (the external address of pod 10.0.0.6 of island c1) is already the "
            "external address of pod 10.0.0.5 of island c1 (line 19)"),
      Extra("external is the outside address",
            "[[mapping]]\nisland = \"c1\"\npod = \"10.0.0.5\"\nexternal = \"192.0.2.1\"\n", 4,
            "is already the address of outside interface out (line 11)"),
      Extra("external in the egress pool",
            "[[pool]]\nname = \"e\"\nkind = \"egress\"\nisland = \"c1\"\n"
            "addresses = [\"192.0.2.16/28\"]\n"
            "[[mapping]]\nisland = \"c1\"\npod = \"10.0.0.5\"\nexternal = \"192.0.2.20\"\n",
            9, "lies in egress pool e of island c1 (line 20)"),
      Extra("overlapping pools",
            "[[pool]]\nname = \"u\"\nkind = \"unique\"\nisland = \"c1\"\n"
            "addresses = [\"203.0.113.0/25\"]\n"
            "[[pool]]\nname = \"e\"\nkind = \"egress\"\nisland = \"c1\"\n"
            "addresses = [\"203.0.113.64/28\"]\n",
            10, "pool: 203.0.113.64/28 overlaps 203.0.113.0/25 of unique pool u (line 20)"),
      {"pool holding the outside address",  // reported where the address is
       std::string(kBase) + "[[pool]]\nname = \"e\"\nkind = \"egress\"\nisland = \"c1\"\n"
                            "addresses = [\"192.0.2.0/30\"]\n",
       11, "192.0.2.1 (the address of outside interface out) lies in egress pool e"},
      Extra("egress pool on the subnet's broadcast address",
            "[[pool]]\nname = \"e\"\nkind = \"egress\"\nisland = \"c1\"\n"
            "addresses = [\"192.0.2.240/28\"]\n",
            5,
            "192.0.2.255 (an address of egress pool e) is the broadcast address of outside "
            "subnet 192.0.2.0/24"),
      Extra("two egress pools for one island",
            "[[pool]]\nname = \"e1\"\nkind = \"egress\"\nisland = \"c1\"\n"
            "addresses = [\"192.0.2.16/28\"]\n"
            "[[pool]]\nname = \"e2\"\nkind = \"egress\"\nisland = \"c1\"\n"
            "addresses = [\"192.0.2.32/28\"]\n",
            6, "island c1 already has egress pool e1 (line 16)"),
      Extra("duplicate pool name",
            "[[pool]]\nname = \"p\"\nkind = \"vip\"\naddresses = [\"198.51.100.0/28\"]\n"
            "[[pool]]\nname = \"p\"\nkind = \"vip\"\naddresses = [\"198.51.100.16/28\"]\n",
            6, "pool name \"p\" is already used at line 16"),
      Extra("egress ports below 1024",
            "[[pool]]\nname = \"e\"\nkind = \"egress\"\nisland = \"c1\"\n"
            "addresses = [\"192.0.2.16/28\"]\nports = \"80-90\"\n",
            6, "ports \"80-90\" is not a range MIN-MAX with 1024 <= MIN <= MAX <= 65535"),
      Extra("egress ports backwards",
            "[[pool]]\nname = \"e\"\nkind = \"egress\"\nisland = \"c1\"\n"
            "addresses = [\"192.0.2.16/28\"]\nports = \"5000-4000\"\n",
            6, "ports \"5000-4000\" is not a range"),
      Extra("ports on a unique pool",
            "[[pool]]\nname = \"u\"\nkind = \"unique\"\nisland = \"c1\"\n"
            "addresses = [\"203.0.113.0/25\"]\nports = \"1024-2047\"\n",
            6, "'ports' given for unique pool u"),
      Extra("egress pool without island",
            "[[pool]]\nname = \"e\"\nkind = \"egress\"\naddresses = [\"192.0.2.16/28\"]\n", 3,
            "egress pool e names no island"),
      Extra("vip pool with island",
            "[[pool]]\nname = \"v\"\nkind = \"vip\"\nisland = \"c1\"\n"
            "addresses = [\"198.51.100.0/28\"]\n",
            4, "vip pool v names an island"),
      Extra("bad filtering",
            "[[pool]]\nname = \"e\"\nkind = \"egress\"\nisland = \"c1\"\n"
            "addresses = [\"192.0.2.16/28\"]\nfiltering = \"full-cone\"\n",
            6, "use one of \"address-and-port-dependent\", \"endpoint-independent\""),
      Extra("VIP outside the vip pools",
            "[[pool]]\nname = \"v\"\nkind = \"vip\"\naddresses = [\"198.51.100.128/28\"]\n"
            "[[service]]\nname = \"default/web\"\nvip = \"198.51.100.200\"\nprotocol = \"tcp\"\n"
            "port = 80\nbackends = [{ island = \"c1\", pod = \"10.0.0.7\", port = 8080 }]\n",
            7,
            "service: VIP 198.51.100.200 is outside every vip pool; add it to a [[pool]] of "
            "kind \"vip\" or pick one from 198.51.100.128/28"),
      Extra("VIP in an egress pool",
            "[[pool]]\nname = \"e\"\nkind = \"egress\"\nisland = \"c1\"\n"
            "addresses = [\"192.0.2.16/28\"]\n"
            "[[service]]\nname = \"default/web\"\nvip = \"192.0.2.17\"\nprotocol = \"tcp\"\n"
            "port = 80\nbackends = [{ island = \"c1\", pod = \"10.0.0.7\", port = 8080 }]\n",
            8, "192.0.2.17 (the VIP of service default/web) lies in egress pool e"),
      Extra("service on the same VIP, port and protocol",
            "[[service]]\nname = \"a\"\nvip = \"198.51.100.1\"\nprotocol = \"tcp\"\nport = 80\n"
            "backends = [{ island = \"c1\", pod = \"10.0.0.7\", port = 8080 }]\n"
            "[[service]]\nname = \"b\"\nvip = \"198.51.100.1\"\nprotocol = \"tcp\"\nport = 80\n"
            "backends = [{ island = \"c1\", pod = \"10.0.0.8\", port = 8080 }]\n",
            11, "198.51.100.1:80/tcp is already used by service a (line 16)"),
      Extra("bad protocol",
            "[[service]]\nname = \"a\"\nvip = \"198.51.100.1\"\nprotocol = \"sctp\"\nport = 80\n"
            "backends = [{ island = \"c1\", pod = \"10.0.0.7\", port = 8080 }]\n",
            4, "'protocol' is \"sctp\"; use one of \"tcp\", \"udp\""),
      Extra("service port 0",
            "[[service]]\nname = \"a\"\nvip = \"198.51.100.1\"\nprotocol = \"udp\"\nport = 0\n"
            "backends = [{ island = \"c1\", pod = \"10.0.0.7\", port = 53 }]\n",
            5, "'port' is 0, out of range 1..65535"),
      Extra("service without backends",
            "[[service]]\nname = \"a\"\nvip = \"198.51.100.1\"\nprotocol = \"tcp\"\nport = 80\n"
            "backends = []\n",
            6, "service a has no backends"),
      Extra("unknown backend key",
            "[[service]]\nname = \"a\"\nvip = \"198.51.100.1\"\nprotocol = \"tcp\"\nport = 80\n"
            "backends = [\n  { island = \"c1\", pod = \"10.0.0.7\", prot = 8080 },\n]\n",
            7, "service backend: unknown key 'prot'; did you mean 'port'?"),
      Extra("backend outside the island",
            "[[service]]\nname = \"a\"\nvip = \"198.51.100.1\"\nprotocol = \"tcp\"\nport = 80\n"
            "backends = [\n  { island = \"c1\", pod = \"10.2.0.7\", port = 8080 },\n]\n",
            7, "service backend: pod 10.2.0.7 is outside the pod_cidrs of island c1"),
      Extra("backend listed twice",
            "[[service]]\nname = \"a\"\nvip = \"198.51.100.1\"\nprotocol = \"tcp\"\nport = 80\n"
            "backends = [\n  { island = \"c1\", pod = \"10.0.0.7\", port = 8080 },\n"
            "  { island = \"c1\", pod = \"10.0.0.7\", port = 8080 },\n]\n",
            8, "backend c1/10.0.0.7:8080 is listed twice (line 22)"),
      Extra("one lcore", "[dpdk]\nlcores = \"0\"\n", 2,
            "dpdk: lcores \"0\" lists 1 lcore(s) (the first runs the control thread"),
      Extra("bad lcore list", "[dpdk]\nlcores = \"0-x\"\n", 2,
            "lcores \"0-x\": '0-x' is not an lcore id"),
      Extra("lcore listed twice", "[dpdk]\nlcores = \"0-2,1\"\n", 2, "lcore 1 is listed twice"),
      Extra("bad cpu after @", "[dpdk]\nlcores = \"0,1@x\"\n", 2,
            "'1@x': after '@' comes the CPU to run on"),
      Extra("bad gateway name", "[gateway]\nname = \"my gateway\"\n", 2,
            "gateway: name \"my gateway\" is not a plain name"),
      Extra("relative control socket", "[gateway]\ncontrol_socket = \"natgw.sock\"\n", 2,
            "is not an absolute path"),
      Extra("metrics listen without port", "[metrics]\nlisten = \"127.0.0.1\"\n", 2,
            "metrics: listen \"127.0.0.1\" is not address:port"),
      Extra("metrics port 0", "[metrics]\nlisten = \"127.0.0.1:0\"\n", 2, "is not address:port"),
      Extra("metrics port too big", "[metrics]\nlisten = \"127.0.0.1:65536\"\n", 2,
            "is not address:port"),
      Extra("metrics remote", "[metrics]\nlisten = \"0.0.0.0:9469\"\n", 2,
            "is not a loopback address"),
      Extra("metrics unknown key", "[metrics]\nlisten = \"127.0.0.1:9469\"\nport = 1\n", 3,
            "metrics: unknown key 'port'"),
      Extra("args not strings", "[dpdk]\nargs = [\n  \"-v\",\n  3,\n]\n", 4,
            "dpdk: 'args' must hold strings, not an integer"),
      Extra("cluster without a source", "[[cluster]]\nisland = \"c1\"\n", 2,
            "cluster: a [[cluster]] without a source; add directory"),
      Extra("cluster of an unknown island", "[[cluster]]\nisland = \"c9\"\ndirectory = \"/x\"\n", 2,
            "cluster: island \"c9\" is not defined"),
      Extra("cluster directory relative", "[[cluster]]\nisland = \"c1\"\ndirectory = \"x\"\n", 3,
            "directory \"x\" is not an absolute path"),
      Extra("cluster server not a URL",
            "[[cluster]]\nisland = \"c1\"\nserver = \"10.0.0.1:6443\"\n", 3,
            "server \"10.0.0.1:6443\" is not an http(s) URL"),
      Extra("cluster context without kubeconfig",
            "[[cluster]]\nisland = \"c1\"\nserver = \"http://127.0.0.1:8001\"\ncontext = \"a\"\n",
            4, "context picks a context of a kubeconfig, and there is none"),
      Extra("cluster namespace without API",
            "[[cluster]]\nisland = \"c1\"\ndirectory = \"/x\"\nnamespace = \"a\"\n", 4,
            "restrict the Kubernetes API source"),
      Extra("cluster twice",
            "[[cluster]]\nisland = \"c1\"\ndirectory = \"/x\"\n[[cluster]]\nisland = "
            "\"c1\"\ndirectory = \"/y\"\n",
            5, "island c1 already has a [[cluster]] (line"),
      Extra("cluster selects pods without a unique pool",
            "[[cluster]]\nisland = \"c1\"\ndirectory = \"/x\"\nunique_pods = [{ namespace = \"a\" "
            "}]\n",
            4, "has no unique pool"),
      Extra("cluster unique_pool of another kind",
            "[[pool]]\nname = \"v\"\nkind = \"vip\"\naddresses = [\"203.0.113.0/30\"]\n"
            "[[cluster]]\nisland = \"c1\"\ndirectory = \"/x\"\nunique_pool = \"v\"\n",
            8, "unique_pool \"v\" is not a unique pool of island c1"),
      Extra("cluster selector label not a string",
            "[[cluster]]\nisland = \"c1\"\ndirectory = \"/x\"\nvip_services = [{ labels = { app = "
            "1 } }]\n",
            4, "'labels.app' must be a string"),
      Extra("cluster selector unknown key",
            "[[cluster]]\nisland = \"c1\"\ndirectory = \"/x\"\nunique_pods = [{ ns = \"a\" }]\n", 4,
            "unknown key 'ns'"),
      Extra("allocation state file relative", "[allocation]\nstate_file = \"a.json\"\n", 2,
            "allocation: state_file \"a.json\" is not an absolute path"),
      Extra("allocation quarantine too long", "[allocation]\nquarantine_s = 9999999\n", 2,
            "out of range"),
  };
}

TEST(ConfigTest, ClusterSection) {
  auto c =
      ParseConfig(std::string(kBase) +
                      "[[pool]]\nname = \"u\"\nkind = \"unique\"\nisland = \"c1\"\n"
                      "addresses = [\"203.0.113.0/28\"]\n"
                      "[[pool]]\nname = \"v\"\nkind = \"vip\"\naddresses = [\"203.0.113.64/30\"]\n"
                      "[[cluster]]\nisland = \"c1\"\ndirectory = \"/etc/natgw/c1\"\n"
                      "server = \"http://127.0.0.1:8001\"\nnamespace = \"shop\"\n"
                      "unique_pods = [{ namespace = \"shop\", labels = { app = \"cart\" } }, {}]\n"
                      "vip_services = [{ labels = { expose = \"yes\" } }]\n"
                      "node_routes = false\n"
                      "[allocation]\nquarantine_s = 30\n",
                  "c.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->clusters.size(), 1u);
  const ClusterConfig& k = c->clusters[0];
  EXPECT_EQ(k.island, 1);
  EXPECT_EQ(k.directory, "/etc/natgw/c1");
  EXPECT_TRUE(k.kubernetes.enabled);
  EXPECT_EQ(k.kubernetes.server, "http://127.0.0.1:8001");
  EXPECT_EQ(k.kubernetes.ns, "shop");
  EXPECT_TRUE(k.kubernetes.context.empty());
  EXPECT_EQ(k.unique_pool, "u");  // the island's only unique pool
  EXPECT_EQ(k.vip_pool, "v");     // the only vip pool
  ASSERT_EQ(k.unique_pods.size(), 2u);
  EXPECT_EQ(k.unique_pods[0].ns, "shop");
  EXPECT_EQ(k.unique_pods[0].labels.at("app"), "cart");
  EXPECT_TRUE(k.unique_pods[1].labels.empty());
  EXPECT_EQ(k.vip_services[0].labels.at("expose"), "yes");
  EXPECT_FALSE(k.node_routes);
  EXPECT_EQ(c->allocation.quarantine_s, 30u);
  EXPECT_EQ(c->allocation.state_file, "/var/lib/natgw/natgw.allocations.json");
}

// What a reload cannot apply is named and keeps its running value; what it can (here an egress
// pool's addresses) and moved lines are not reported.
TEST(ConfigReloadTest, RestartOnlySettingsAreNamedAndKept) {
  std::ifstream in(Example("two-islands/c2.toml"));
  std::stringstream text;
  text << in.rdbuf();
  const std::string base = text.str();
  auto running = ParseConfig(base, "c2.toml");
  ASSERT_TRUE(running.ok()) << running.status();
  const auto edit = [](std::string s, const std::string& from, const std::string& to) {
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? s : s.replace(at, from.size(), to);
  };

  std::string same = "# moved down a line\n" + edit(base, "192.0.2.32/28", "192.0.2.48/28");
  same = edit(same, "lcores = \"0,1\"", "lcores = \"0-1\"");  // the same lcores
  // The two routes in the other order.
  const std::string default_route =
      "[[route]]\ndestination = \"0.0.0.0/0\"\ninterface = \"c2-outside\"\n";
  same = edit(same, default_route, "");
  same = edit(same, "[[route]]\ndestination = \"203.0.113.0/24\"",
              default_route + "\n[[route]]\ndestination = \"203.0.113.0/24\"");
  same = edit(same, "directory = \"/run/natgw/c2-cluster\"",
              "directory = \"/run/natgw/c2-cluster\"\nunique_pods = [{ labels = { app = \"x\" } }]"
              "\nnode_routes = false");
  auto next = ParseConfig(same, "c2.toml");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_THAT(KeepRestartOnlySettings(*running, &*next), ::testing::IsEmpty());
  ASSERT_EQ(next->nat.egress_pools.size(), 1u);
  EXPECT_EQ(next->nat.egress_pools[0].addresses.front(), Ip("192.0.2.48"));
  ASSERT_EQ(next->clusters.size(), 1u);  // the cluster's selectors reload
  ASSERT_EQ(next->clusters[0].unique_pods.size(), 1u);
  EXPECT_EQ(next->clusters[0].unique_pods[0].labels.at("app"), "x");
  EXPECT_FALSE(next->clusters[0].node_routes);

  std::string changed = base;
  changed = edit(changed, "idle_sleep_us = 100", "idle_sleep_us = 50");
  changed = edit(changed, "127.0.0.1:9470", "127.0.0.1:9471");
  changed = edit(changed, "memory_mb = 256", "memory_mb = 512");
  changed = edit(changed, "address = \"10.0.0.1/16\"", "address = \"10.0.0.1/16\"\nmtu = 1400");
  changed = edit(changed, "198.51.100.0/25", "198.51.100.0/26");
  changed = edit(changed, "directory = \"/run/natgw/c2-cluster\"", "directory = \"/tmp/c2\"");
  changed = edit(changed, "c2.allocations.json", "c2b.allocations.json");
  changed = edit(changed, "destination = \"0.0.0.0/0\"", "destination = \"198.18.0.0/15\"");
  changed += "\n[limits]\nmax_sessions = 2048\n";
  next = ParseConfig(changed, "c2.toml");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_THAT(KeepRestartOnlySettings(*running, &*next),
              ElementsAre("[gateway] idle_sleep_us", "[dpdk]", "[metrics]",
                          "[[interface]] c2-inside", "[[route]]", "[[pool]] c2-unique",
                          "[[cluster]] c2", "[allocation]", "[limits]"));
  EXPECT_EQ(next->idle_sleep_us, 100u);
  EXPECT_EQ(next->dpdk.memory_mb, 256u);
  EXPECT_EQ(next->metrics.port, 9470);
  EXPECT_EQ(next->interfaces[0].mtu, 1500);
  EXPECT_EQ(next->routes.back().destination.addr, Ip("0.0.0.0"));
  ASSERT_NE(FindPool(*next, "c2-unique"), nullptr);
  EXPECT_EQ(FindPool(*next, "c2-unique")->ranges[0].len, 25);
  ASSERT_NE(FindPool(*next, "c2-egress"), nullptr);  // egress pools stay the file's
  EXPECT_EQ(next->clusters[0].directory, "/run/natgw/c2-cluster");
  EXPECT_EQ(next->allocation.state_file, "/run/natgw/c2.allocations.json");
  EXPECT_EQ(next->engine.max_sessions, running->engine.max_sessions);
}

// With several clusters, one whose source changed keeps its running configuration and the
// others take their new selectors and node_routes; a new gateway name is the only change it
// makes.
TEST(ConfigReloadTest, ClustersOneByOneAndNameAlone) {
  const std::string two =
      std::string(kBase) +
      "[[interface]]\nname = \"in2\"\ndevice = \"net_tap2\"\nrole = \"inside\"\nisland = \"c2\"\n"
      "address = \"10.1.0.1/16\"\n"
      "[[island]]\nname = \"c2\"\nid = 2\npod_cidrs = [\"10.1.0.0/16\"]\n"
      "[[cluster]]\nisland = \"c1\"\ndirectory = \"/d1\"\n"
      "[[cluster]]\nisland = \"c2\"\ndirectory = \"/d2\"\n";
  auto running = ParseConfig(two, "t.toml");
  ASSERT_TRUE(running.ok()) << running.status();
  std::string changed = two;
  changed.replace(changed.find("/d1"), 3, "/d9");
  changed += "node_routes = false\n";  // c2's
  auto next = ParseConfig(changed, "t.toml");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_THAT(KeepRestartOnlySettings(*running, &*next), ElementsAre("[[cluster]] c1"));
  ASSERT_EQ(next->clusters.size(), 2u);
  EXPECT_EQ(next->clusters[0].directory, "/d1");
  EXPECT_FALSE(next->clusters[1].node_routes);

  next = ParseConfig("[gateway]\nname = \"other\"\n" + two, "t.toml");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_THAT(KeepRestartOnlySettings(*running, &*next), ElementsAre("[gateway] name"));
  EXPECT_EQ(next->name, "natgw");
  EXPECT_EQ(next->control_socket, running->control_socket);
  EXPECT_EQ(next->event_log.path, running->event_log.path);
}

TEST(ConfigTest, BadFilesNameLineAndFix) {
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.description);
    absl::StatusOr<GatewayConfig> r = ParseConfig(c.text, "bad.toml");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    std::string message(r.status().message());
    EXPECT_THAT(message, ::testing::StartsWith("bad.toml:" + std::to_string(c.line) + ": "));
    EXPECT_THAT(message, HasSubstr(c.message));
    // Every message says what is wrong and, after "; ", how to fix it.
    EXPECT_THAT(message, HasSubstr("; "));
  }
}

}  // namespace
}  // namespace natgw::control
