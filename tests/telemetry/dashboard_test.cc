// conf/grafana/natgw.json: valid JSON, every panel queries Prometheus, and every metric its
// queries name is one natgw exports. Families that need running ports (interfaces, workers,
// dataplane) are checked against a live scrape by tests/integration/observability_test.sh;
// those of cluster-state sync (rendered only with [[cluster]] sources) and of the event log
// (only with [event_log]/[ipfix]) against the code that renders them.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "lib/telemetry/metrics.h"
#include "nlohmann/json.hpp"
#include "tests/nat/engine_fixture.h"

namespace natgw::nat::testing {
namespace {

// Rendered by RenderClusterMetrics (lib/telemetry/cluster_metrics.cc) only when the conf has
// [[cluster]] sources; the test finds each in that file's family declarations.
const std::set<std::string> kClusterOnly = {
    "natgw_apply_latency_seconds",     // histogram: _bucket, _sum, _count
    "natgw_cluster_source_connected",  // gauge
    "natgw_pool_exhausted_total",      // the cluster allocator's, by pool
};

bool ClusterOnly(const std::string& name) {
  return kClusterOnly.contains(name) || name.starts_with("natgw_cluster_");
}

// Rendered by EventLog::RenderMetrics (lib/telemetry/event_log.cc) only when [event_log] or
// [ipfix] is on; the test finds each name in that file.
bool EventLogOnly(const std::string& name) {
  return name.starts_with("natgw_event_log_") || name.starts_with("natgw_ipfix_");
}

// Families rendered only with a dataplane (ports), by prefix.
bool NeedsDataplane(const std::string& name) {
  for (const char* p : {"natgw_interface_", "natgw_dataplane_", "natgw_worker_", "natgw_tsc_"}) {
    if (name.starts_with(p)) return true;
  }
  return false;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Family(const std::string& name) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (name.ends_with(s) && kClusterOnly.contains(name.substr(0, name.size() - s.size()))) {
      return name.substr(0, name.size() - s.size());
    }
  }
  return name;
}

TEST_P(EngineTest, GrafanaDashboardQueriesOnlyExportedMetrics) {
  const std::string text = ReadFile(std::string(NATGW_SOURCE_ROOT) + "/conf/grafana/natgw.json");
  ASSERT_FALSE(text.empty());
  nlohmann::json d;
  ASSERT_NO_THROW(d = nlohmann::json::parse(text));
  ASSERT_TRUE(d["panels"].is_array());
  ASSERT_GE(d["panels"].size(), 10u);

  control::GatewayConfig g;
  g.name = "gw";
  g.island_names = {"", "c1", "c2"};
  g.nat = TwoIslandConfig();
  const std::string metrics = telemetry::RenderMetrics(*engine_, nullptr, g);
  std::set<std::string> exported;
  static const std::regex kType(R"(^# TYPE (\S+) )");
  std::istringstream lines(metrics);
  for (std::string l; std::getline(lines, l);) {
    std::smatch m;
    if (std::regex_search(l, m, kType)) exported.insert(m[1]);
  }
  ASSERT_TRUE(exported.contains("natgw_packets_total"));

  static const std::regex kName(R"(\bnatgw_[a-z0-9_]+)");
  std::set<std::string> used;
  for (const auto& panel : d["panels"]) {
    SCOPED_TRACE(panel.value("title", "?"));
    ASSERT_TRUE(panel["targets"].is_array());
    ASSERT_FALSE(panel["targets"].empty());
    for (const auto& t : panel["targets"]) {
      const std::string expr = t["expr"];
      auto begin = std::sregex_iterator(expr.begin(), expr.end(), kName);
      int names = 0;
      for (auto it = begin; it != std::sregex_iterator(); ++it, ++names) {
        used.insert(Family(it->str()));
      }
      EXPECT_GT(names, 0) << expr;
    }
  }
  const std::string cluster_code =
      ReadFile(std::string(NATGW_SOURCE_ROOT) + "/lib/telemetry/cluster_metrics.cc");
  const std::string event_code =
      ReadFile(std::string(NATGW_SOURCE_ROOT) + "/lib/telemetry/event_log.cc");
  for (const std::string& name : used) {
    if (ClusterOnly(name)) {
      EXPECT_NE(cluster_code.find("Head(&o, \"" + name + "\""), std::string::npos)
          << name << " is not a family of RenderClusterMetrics";
      continue;
    }
    if (EventLogOnly(name)) {
      EXPECT_TRUE(event_code.find("counter(&out, \"" + name + "\"") != std::string::npos ||
                  event_code.find("# TYPE " + name + " counter") != std::string::npos)
          << name << " is not a family of EventLog::RenderMetrics";
      continue;
    }
    if (NeedsDataplane(name)) continue;
    EXPECT_TRUE(exported.contains(name)) << name << " is queried by the dashboard but not exported";
  }
  // The dashboard covers what the issue asks for.
  for (const char* must :
       {"natgw_packets_total", "natgw_drops_total", "natgw_sessions", "natgw_pool_addresses_in_use",
        "natgw_worker_busy_ratio", "natgw_apply_latency_seconds", "natgw_cluster_source_connected",
        "natgw_cluster_source_last_event_age_seconds", "natgw_event_log_dropped_total",
        "natgw_ipfix_send_errors_total"}) {
    EXPECT_TRUE(used.contains(must)) << must;
  }
}

}  // namespace
}  // namespace natgw::nat::testing
