// Helpers shared by the event log and IPFIX tests.
#ifndef NATGW_TESTS_TELEMETRY_EVENT_LOG_TEST_UTIL_H_
#define NATGW_TESTS_TELEMETRY_EVENT_LOG_TEST_UTIL_H_

#include <rte_byteorder.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/control/gateway_config.h"
#include "lib/nat/session_events.h"
#include "lib/telemetry/event_log.h"
#include "nlohmann/json.hpp"
#include "tests/nat/engine_fixture.h"

namespace natgw::nat::testing {

inline constexpr int64_t kT0 = 1795688100000;  // 2026-11-26T10:15:00Z

inline std::string TempLogDir(const std::string& what) {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  for (char& c : name) c = c == '/' ? '_' : c;  // parameterized tests: "Name/1w"
  const std::string d =
      ::testing::TempDir() + "natgw-" + what + "-" + std::to_string(getpid()) + "-" + name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// The gateway of TwoIslandConfig with the event log on (session mode) under `dir`.
inline control::GatewayConfig TestConfig(const std::string& dir) {
  control::GatewayConfig g;
  g.name = "gw-test";
  g.island_names = {"", "c1", "c2"};
  g.nat = TwoIslandConfig();
  g.event_log.mode = control::EventLogMode::kSession;
  g.event_log.path = dir + "/events.jsonl";
  return g;
}

inline SessionEvent UdpEvent(SessionEventType type, uint64_t tsc, const char* inside,
                             uint16_t iport, const char* external, uint16_t eport,
                             const char* remote, uint16_t rport) {
  SessionEvent e{};
  e.tsc = tsc;
  e.type = type;
  e.island = 1;
  e.proto = 17;
  e.inside_ip = Ip(inside);
  e.inside_port = rte_cpu_to_be_16(iport);
  e.remote_inside_ip = e.remote_ip = Ip(remote);
  e.remote_inside_port = e.remote_port = rte_cpu_to_be_16(rport);
  e.external_ip = Ip(external);
  e.external_port = rte_cpu_to_be_16(eport);
  return e;
}

inline std::vector<nlohmann::json> ReadRecords(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    out.push_back(nlohmann::json::parse(line, nullptr, false));
    EXPECT_FALSE(out.back().is_discarded()) << line;
  }
  return out;
}

// An engine with session event rings (ring of 64), and an event log under a fresh directory.
class EventLogTest : public EngineTest {
 protected:
  void SetUp() override {
    EngineConfig ec;
    ec.max_sessions = 4096;
    ec.num_workers = static_cast<uint32_t>(workers());
    ec.event_ring_size = 64;
    Restart(ec, TwoIslandConfig());
    dir_ = TempLogDir("event_log");
    config_ = TestConfig(dir_);
  }
  void TearDown() override {
    log_.reset();
    EngineTest::TearDown();
    std::filesystem::remove_all(dir_);
  }
  std::vector<SessionEvent> DrainEvents() {
    std::vector<SessionEvent> out;
    SessionEvent e;
    for (uint32_t w = 0; w < engine_->num_workers(); ++w) {
      while (engine_->event_ring(w)->Pop(&e)) out.push_back(e);
    }
    return out;
  }
  void OpenLog() {
    auto log = telemetry::EventLog::Create(&config_, engine_.get());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
    log_->SetClockForTest(0, kT0, 1000);  // 1 TSC tick = 1 ms after kT0
  }

  std::string dir_;
  control::GatewayConfig config_;
  std::unique_ptr<telemetry::EventLog> log_;
};

}  // namespace natgw::nat::testing

#endif  // NATGW_TESTS_TELEMETRY_EVENT_LOG_TEST_UTIL_H_
