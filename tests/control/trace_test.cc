// `natgwctl trace POD` as the control thread answers it, over a real engine with sessions.
#include "gtest/gtest.h"
#include "lib/control/commands.h"
#include "nlohmann/json.hpp"
#include "tests/nat/engine_fixture.h"

namespace natgw::nat::testing {
// The shared fixture's own instantiation has no TEST_P in this binary; TraceTest has its own.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(EngineTest);
namespace {

using net::PacketBuilder;
using nlohmann::json;

class TraceTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineTest::SetUp();
    config_.name = "gw";
    config_.island_names = {"", "c1", "c2"};
    config_.nat = TwoIslandConfig();
    // A pod the cluster source knows, without a unique address.
    config_.nat.pods.push_back({1, Ip("10.0.0.9"), "shop", "cart-7d9f", "0b5e-uid"});
    ASSERT_TRUE(engine_->Apply(config_.nat).ok());
    commands_ = std::make_unique<control::GatewayCommands>(
        &config_, engine_.get(), nullptr,
        control::GatewayCommands::Hooks{nullptr, [this] { return now_s_; }});
  }
  control::CtlReply Run(const std::string& pod, bool as_json) {
    return commands_->Handle({"trace", pod}, as_json);
  }
  json Json(const std::string& pod) {
    control::CtlReply r = Run(pod, true);
    EXPECT_TRUE(r.ok) << r.body;
    return json::parse(r.body);
  }

  control::GatewayConfig config_;
  std::unique_ptr<control::GatewayCommands> commands_;
};

TEST_P(TraceTest, PodWithUniqueAddressShowsItsAddressAndSessions) {
  ASSERT_EQ(
      Send(kC1,
           PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Tcp(40000, 80, net::kTcpSyn).Build())
          .action,
      Action::kToOutside);
  ASSERT_EQ(
      Send(kC1, PacketBuilder().Ipv4("10.0.0.6", "198.51.100.9").Udp(5000, 53).Build()).action,
      Action::kToOutside);  // another pod: not in pod A's trace
  const json j = Json("c1/10.0.0.5");
  ASSERT_EQ(j["pods"].size(), 1u);
  const json& p = j["pods"][0];
  EXPECT_EQ(p["island"], "c1");
  EXPECT_EQ(p["pod"], "10.0.0.5");
  EXPECT_EQ(p["namespace"], "c1");
  EXPECT_EQ(p["name"], "pod-a");
  EXPECT_EQ(p["unique_address"], "203.0.113.5");
  EXPECT_TRUE(p["egress_address"].is_null());
  ASSERT_EQ(p["sessions"].size(), 1u);
  EXPECT_EQ(p["sessions"][0]["inside"], "10.0.0.5:40000");
  EXPECT_EQ(p["sessions"][0]["external"], "203.0.113.5:40000");
  EXPECT_EQ(p["sessions"][0]["remote"], "198.51.100.9:80");
  EXPECT_EQ(p["sessions"][0]["state"], "SYN_SENT");

  const control::CtlReply text = Run("c1/10.0.0.5", false);
  ASSERT_TRUE(text.ok);
  EXPECT_NE(text.body.find("pod c1/10.0.0.5 (c1/pod-a)"), std::string::npos) << text.body;
  EXPECT_NE(text.body.find("unique address  203.0.113.5"), std::string::npos) << text.body;
  EXPECT_NE(text.body.find("tcp 10.0.0.5:40000 -> 203.0.113.5:40000 <-> 198.51.100.9:80"),
            std::string::npos)
      << text.body;
  // By namespace/name, the same pod.
  EXPECT_EQ(Json("c1/pod-a")["pods"][0]["pod"], "10.0.0.5");
}

TEST_P(TraceTest, PodWithoutUniqueAddressShowsItsEgressAddressAndBindings) {
  ASSERT_EQ(
      Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Udp(5000, 53).Build()).action,
      Action::kToOutside);
  const json j = Json("shop/cart-7d9f");
  ASSERT_EQ(j["pods"].size(), 1u);
  const json& p = j["pods"][0];
  EXPECT_EQ(p["uid"], "0b5e-uid");
  EXPECT_TRUE(p["unique_address"].is_null());
  const std::string egress = p["egress_address"];
  EXPECT_TRUE(egress == "192.0.2.16" || egress == "192.0.2.17") << egress;
  ASSERT_EQ(p["sessions"].size(), 1u);
  EXPECT_EQ(p["sessions"][0]["kind"], "egress_pool");
  EXPECT_EQ(p["sessions"][0]["external"].get<std::string>().substr(0, egress.size()), egress);
  EXPECT_EQ(p["bindings"], 1u);
}

TEST_P(TraceTest, ServiceBackendListsItsServices) {
  const json p = Json("c2/10.0.0.7")["pods"][0];
  ASSERT_EQ(p["services"].size(), 2u);
  EXPECT_EQ(p["services"][0]["name"], "c2/web");
  EXPECT_EQ(p["services"][0]["vip"], "198.51.100.80:80/tcp");
  EXPECT_EQ(p["services"][0]["pod_port"], 8080);
  EXPECT_EQ(p["services"][1]["vip"], "198.51.100.80:53/udp");
}

TEST_P(TraceTest, UnknownPodIsAnError) {
  EXPECT_FALSE(Run("nobody/nothing", false).ok);
  EXPECT_FALSE(Run("10.0.0.5", false).ok);
  EXPECT_NE(Run("c9/10.0.0.5", false).body.find("no pod of that name"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Workers, TraceTest, ::testing::Values(1, 2),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return std::to_string(i.param) + "w";
                         });

}  // namespace
}  // namespace natgw::nat::testing
