// [event_log] and [ipfix]: defaults, accepted values, and refused ones with file:line: reason.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/control/gateway_config.h"
#include "tests/control/config_test_base.h"

namespace natgw::control {
namespace {

using conftest::kBase;

using ::testing::HasSubstr;

absl::StatusOr<GatewayConfig> Parse(const std::string& extra) {
  return ParseConfig(std::string(kBase) + extra, "gw.toml");
}

TEST(EventLogConfigTest, OffByDefaultWithDocumentedDefaults) {
  auto g = Parse("[gateway]\nname = \"c1\"\n");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->event_log.mode, EventLogMode::kOff);
  EXPECT_EQ(g->event_log.path, "/var/log/natgw/c1.events.jsonl");
  EXPECT_EQ(g->event_log.max_size_mb, 100);
  EXPECT_EQ(g->event_log.keep_files, 10u);
  EXPECT_EQ(g->event_log.ring_size, 65536u);
  EXPECT_FALSE(g->ipfix.enabled);
  EXPECT_EQ(g->engine.event_ring_size, 0u) << "no rings, no per-session counting";
}

TEST(EventLogConfigTest, AcceptsEveryKey) {
  auto g = Parse(
      "[event_log]\n"
      "mode = \"port-block\"\n"
      "path = \"/tmp/natgw/c1.jsonl\"\n"
      "max_size_mb = 0.5\n"
      "keep_files = 3\n"
      "ring_size = 1024\n"
      "port_block_size = 128\n"
      "[ipfix]\n"
      "collector = \"192.0.2.50:4739\"\n"
      "observation_domain = 9\n"
      "template_interval_s = 30\n");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->event_log.mode, EventLogMode::kPortBlock);
  EXPECT_EQ(g->event_log.path, "/tmp/natgw/c1.jsonl");
  EXPECT_EQ(g->event_log.max_size_mb, 0.5);
  EXPECT_EQ(g->event_log.keep_files, 3u);
  EXPECT_EQ(g->event_log.port_block_size, 128u);
  EXPECT_EQ(g->engine.event_ring_size, 1024u);
  EXPECT_TRUE(g->ipfix.enabled);
  EXPECT_EQ(g->ipfix.port, 4739);
  EXPECT_EQ(g->ipfix.observation_domain, 9u);
  EXPECT_EQ(g->ipfix.template_interval_s, 30u);
}

TEST(EventLogConfigTest, IpfixAloneStillNeedsTheRings) {
  auto g = Parse("[ipfix]\ncollector = \"192.0.2.50:4739\"\n");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->event_log.mode, EventLogMode::kOff);
  EXPECT_EQ(g->engine.event_ring_size, 65536u);
}

struct Bad {
  const char* text;
  const char* where;  // "gw.toml:LINE"
  const char* what;
};

TEST(EventLogConfigTest, RefusesBadValuesWithFileLineAndReason) {
  const Bad cases[] = {
      {"[event_log]\nmode = \"verbose\"\n", "gw.toml:17",
       "use one of \"off\", \"session\", \"port-block\""},
      {"[event_log]\nmode = \"session\"\npath = \"relative.jsonl\"\n", "gw.toml:18",
       "not an absolute file path"},
      {"[event_log]\nmax_size_mb = 0\n", "gw.toml:17", "out of range"},
      {"[event_log]\nmax_size_mb = \"big\"\n", "gw.toml:17", "a number"},
      {"[event_log]\nkeep_files = -1\n", "gw.toml:17", "out of range"},
      {"[event_log]\nring_size = 1000\n", "gw.toml:17", "not a power of two"},
      {"[event_log]\nring_size = 16\n", "gw.toml:17", "out of range"},
      {"[event_log]\nmode = \"session\"\nport_block_size = 64\n", "gw.toml:18",
       "mode is not \"port-block\""},
      {"[event_log]\nmode = \"port-block\"\nport_block_size = 0\n", "gw.toml:18", "out of range"},
      {"[event_log]\nrotate = true\n", "gw.toml:17", "rotate"},
      {"[ipfix]\nobservation_domain = 1\n", "gw.toml:16", "collector"},
      {"[ipfix]\ncollector = \"collector.example:4739\"\n", "gw.toml:17", "is not IP:PORT"},
      {"[ipfix]\ncollector = \"192.0.2.50\"\n", "gw.toml:17", "is not IP:PORT"},
      {"[ipfix]\ncollector = \"192.0.2.50:4739\"\ntemplate_interval_s = 0\n", "gw.toml:18",
       "out of range"},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.text);
    auto g = Parse(c.text);
    ASSERT_FALSE(g.ok());
    EXPECT_THAT(std::string(g.status().message()), HasSubstr(std::string(c.where) + ":"));
    EXPECT_THAT(std::string(g.status().message()), HasSubstr(c.what));
  }
}

}  // namespace
}  // namespace natgw::control
