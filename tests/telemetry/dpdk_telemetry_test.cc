// The DPDK telemetry commands' answers, from a snapshot of a real engine (the socket itself is
// exercised by tests/integration/observability_test.sh).
#include "lib/telemetry/dpdk_telemetry.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/nat/engine_fixture.h"

namespace natgw::nat::testing {
namespace {

using net::PacketBuilder;
using nlohmann::json;

control::GatewayConfig Config() {
  control::GatewayConfig g;
  g.name = "gw-tel";
  g.island_names = {"", "c1", "c2"};
  g.nat = TwoIslandConfig();
  return g;
}

json Query(const std::string& command) {
  return json::parse(telemetry::TelemetryJsonForTest(command));
}

TEST_P(EngineTest, TelemetryCommandsAnswerFromTheLatestSnapshot) {
  ASSERT_TRUE(telemetry::RegisterTelemetryCommands().ok());
  ASSERT_TRUE(telemetry::RegisterTelemetryCommands().ok());  // once per process, then a no-op
  const control::GatewayConfig config = Config();
  telemetry::PublishTelemetry(
      telemetry::BuildTelemetrySnapshot(*engine_, nullptr, config, nullptr));
  EXPECT_EQ(Query("/natgw/stats")["in2out_packets"], 0u);
  EXPECT_EQ(Query("/natgw/sessions")["total"], 0u);

  ASSERT_EQ(
      Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.50").Udp(40000, 53).Build()).action,
      Action::kToOutside);
  ASSERT_EQ(
      Send(kC1,
           PacketBuilder().Ipv4("10.0.0.9", "198.51.100.50").Tcp(40001, 80, net::kTcpSyn).Build())
          .action,
      Action::kToOutside);
  ASSERT_EQ(
      Send(kOut,
           PacketBuilder().Ipv4("198.51.100.50", "203.0.113.99").Tcp(1, 2, net::kTcpSyn).Build())
          .reason,
      DropReason::kNoMapping);
  // Nothing moves until the control thread publishes again.
  EXPECT_EQ(Query("/natgw/stats")["in2out_packets"], 0u);
  telemetry::PublishTelemetry(
      telemetry::BuildTelemetrySnapshot(*engine_, nullptr, config, nullptr));

  const json stats = Query("/natgw/stats");
  EXPECT_EQ(stats["in2out_packets"], 2u);
  EXPECT_EQ(stats["received_packets"], 3u);
  EXPECT_EQ(stats["engine_drops"], 1u);
  const json sessions = Query("/natgw/sessions");
  EXPECT_EQ(sessions["by_kind"]["pod_address"], 1u);
  EXPECT_EQ(sessions["by_kind"]["egress_pool"], 1u);
  EXPECT_EQ(sessions["by_protocol"]["tcp"], 2u);  // flow and its binding
  EXPECT_EQ(sessions["by_island"]["c1"], sessions["total"]);
  EXPECT_EQ(sessions["tcp_by_state"]["syn_sent"], 1u);
  const json drops = Query("/natgw/drops");
  EXPECT_EQ(drops["engine"]["no_mapping"], 1u);
  EXPECT_EQ(drops["engine"].size(), static_cast<size_t>(kNumDropReasons));
  const json pools = Query("/natgw/pools");
  EXPECT_EQ(pools["ports_in_use"], 1u);
  EXPECT_EQ(pools["192_0_2_32"]["ports"], 65535u);
  const json mappings = Query("/natgw/mappings");
  EXPECT_EQ(mappings["pod_addresses"], 3u);
  EXPECT_EQ(mappings["pods"][0], "c1/10.0.0.5 203.0.113.5 c1/pod-a");
  EXPECT_EQ(Query("/natgw/workers")["count"], static_cast<uint64_t>(workers()));

  telemetry::PublishTelemetry(nullptr);  // shutdown
  EXPECT_EQ(Query("/natgw/stats")["running"], 0);
}

}  // namespace
}  // namespace natgw::nat::testing
