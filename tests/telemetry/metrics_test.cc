// RenderMetrics over a real engine (packets pushed through Worker::ProcessBurst), checked line by
// line and for exposition-format syntax; MetricsServer answered over a loopback socket.
#include "lib/telemetry/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/nat/counters.h"
#include "tests/nat/engine_fixture.h"

namespace natgw::nat::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool HasLine(const std::string& text, const std::string& line) {
  for (const auto& l : Lines(text)) {
    if (l == line) return true;
  }
  return false;
}

// The value of the sample `series` (name and labels), or -1 when there is none.
long long SampleValue(const std::string& text, const std::string& series) {
  for (const auto& l : Lines(text)) {
    if (l.rfind(series + " ", 0) == 0) return std::stoll(l.substr(series.size() + 1));
  }
  return -1;
}

// Checks the text exposition format 0.0.4 (what `promtool check metrics` checks for syntax):
// every line is # HELP, # TYPE or a sample; each family has one HELP and one TYPE, before its
// samples; samples belong to the family announced last; no series appears twice; counters end in
// _total; the text ends in a newline.
void ExpectValidExposition(const std::string& text) {
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) [^\n]*$)");
  static const std::regex kType(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$)");
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")"
      R"((?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (-?[0-9]+(?:\.[0-9]+)?)$)");
  std::set<std::string> helped, typed, series;
  std::string family, type;
  for (const std::string& l : Lines(text)) {
    SCOPED_TRACE(l);
    std::smatch m;
    if (std::regex_match(l, m, kHelp)) {
      EXPECT_TRUE(helped.insert(m[1]).second) << "second HELP";
      family = m[1];
      type.clear();
    } else if (std::regex_match(l, m, kType)) {
      EXPECT_EQ(m[1], family) << "TYPE without its HELP first";
      EXPECT_TRUE(typed.insert(m[1]).second) << "second TYPE";
      type = m[2];
      EXPECT_EQ(type == "counter", family.ends_with("_total"))
          << "counters, and only they, end in _total";
    } else if (std::regex_match(l, m, kSample)) {
      EXPECT_EQ(m[1], family) << "sample outside its family";
      EXPECT_FALSE(type.empty()) << "sample before # TYPE";
      EXPECT_TRUE(series.insert(std::string(m[1]) + std::string(m[2])).second)
          << "duplicate series";
    } else {
      ADD_FAILURE() << "not exposition syntax";
    }
  }
}

control::GatewayConfig TestGatewayConfig() {
  control::GatewayConfig g;
  g.name = "gw-test";
  g.island_names = {"", "c1", "c2"};
  g.nat = TwoIslandConfig();
  control::PoolConfig c1_egress{.name = "c1-egress",
                                .kind = control::PoolKind::kEgress,
                                .island = 1,
                                .ranges = {{Ip("192.0.2.16"), 31}}};
  control::PoolConfig c2_egress{.name = "c2-egress",
                                .kind = control::PoolKind::kEgress,
                                .island = 2,
                                .ranges = {{Ip("192.0.2.32"), 32}}};
  control::PoolConfig c1_unique{.name = "c1-unique",
                                .kind = control::PoolKind::kUnique,
                                .island = 1,
                                .ranges = {{Ip("203.0.113.0"), 24}}};
  g.pools = {c1_egress, c2_egress, c1_unique};
  return g;
}

TEST_P(EngineTest, MetricsCountWhatPassedThrough) {
  using net::PacketBuilder;
  // c1 pod-a (1:1 address) over UDP, a c1 pod without one (egress pool) over TCP, and an outside
  // packet for an address nobody has.
  ASSERT_EQ(
      Send(kC1, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.50").Udp(40000, 53).Build()).action,
      Action::kToOutside);
  ASSERT_EQ(Send(kC1, PacketBuilder().Ipv4("10.0.0.9", "198.51.100.50")
                          .Tcp(40001, 80, net::kTcpSyn).Build()).action,
            Action::kToOutside);
  ASSERT_EQ(Send(kOut, PacketBuilder().Ipv4("198.51.100.50", "203.0.113.99")
                           .Tcp(1, 2, net::kTcpSyn).Build()).reason,
            DropReason::kNoMapping);

  const std::string text = telemetry::RenderMetrics(*engine_, nullptr, TestGatewayConfig());
  ExpectValidExposition(text);
  EXPECT_TRUE(HasLine(text, "# TYPE natgw_packets_total counter")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_info{gateway=\"gw-test\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_received_packets_total 3")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_packets_total{direction=\"in2out\"} 2")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_packets_total{direction=\"out2in\"} 0")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_packets_total{direction=\"hairpin\"} 0")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_drops_total{reason=\"no_mapping\"} 1")) << text;
  for (int i = 0; i < kNumDropReasons; ++i) {  // every reason, zero included
    const std::string name = DropReasonName(static_cast<DropReason>(i));
    if (name == "no_mapping") continue;
    EXPECT_TRUE(HasLine(text, "natgw_drops_total{reason=\"" + name + "\"} 0")) << name;
  }
  EXPECT_TRUE(
      HasLine(text, "natgw_sessions{protocol=\"udp\",kind=\"pod_address\",island=\"c1\"} 1"))
      << text;
  EXPECT_TRUE(
      HasLine(text, "natgw_sessions{protocol=\"tcp\",kind=\"egress_pool\",island=\"c1\"} 1"))
      << text;
  EXPECT_TRUE(HasLine(text, "natgw_sessions_created_total{kind=\"pod_address\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_sessions_created_total{kind=\"egress_pool\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_sessions_created_total{kind=\"service\"} 0")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_sessions_created_total{kind=\"binding\"} " +
                                std::to_string(Events(Event::kSessionsCreated) - 2)))
      << text;
  EXPECT_TRUE(HasLine(text, "natgw_tcp_sessions{state=\"syn_sent\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_tcp_sessions{state=\"established\"} 0")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_pool_size{pool=\"c1-egress\",kind=\"egress\"} 2")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_pool_addresses_in_use{pool=\"c1-egress\",kind=\"egress\"} 1"))
      << text;
  EXPECT_TRUE(HasLine(text, "natgw_pool_addresses_in_use{pool=\"c2-egress\",kind=\"egress\"} 0"))
      << text;
  EXPECT_TRUE(HasLine(text, "natgw_pool_size{pool=\"c1-unique\",kind=\"unique\"} 256")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_pool_addresses_in_use{pool=\"c1-unique\",kind=\"unique\"} 2"))
      << text;
  EXPECT_TRUE(HasLine(text, "natgw_pool_ports{address=\"192.0.2.32\"} 65535")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_pool_ports_exhausted_total 0")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_sessions_expired_total 0")) << text;
  EXPECT_TRUE(
      HasLine(text, "natgw_session_capacity " + std::to_string(engine_->table().capacity())))
      << text;
  // The table's memory by page kind: all of it, once (this engine did not ask for hugetlb).
  const long long hugetlb = SampleValue(text, "natgw_session_table_bytes{pages=\"hugetlb\"}");
  const long long thp = SampleValue(text, "natgw_session_table_bytes{pages=\"transparent\"}");
  const long long small = SampleValue(text, "natgw_session_table_bytes{pages=\"4k\"}");
  EXPECT_EQ(hugetlb, 0) << text;
  EXPECT_GE(thp, 0) << text;
  EXPECT_GE(small, 0) << text;
  EXPECT_EQ(static_cast<size_t>(hugetlb + thp + small), engine_->table().Pages().bytes) << text;
  EXPECT_TRUE(HasLine(text, "natgw_mappings{kind=\"pod_address\"} 3")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_mappings{kind=\"egress_pool\"} 2")) << text;
  EXPECT_TRUE(HasLine(text, "natgw_mappings{kind=\"service\"} 2")) << text;
  // c1's pod took one port of one of its two pool addresses (paired pooling picks which).
  const bool on16 = HasLine(text, "natgw_pool_ports_in_use{address=\"192.0.2.16\"} 1") &&
                    HasLine(text, "natgw_pool_ports_in_use{address=\"192.0.2.17\"} 0");
  const bool on17 = HasLine(text, "natgw_pool_ports_in_use{address=\"192.0.2.16\"} 0") &&
                    HasLine(text, "natgw_pool_ports_in_use{address=\"192.0.2.17\"} 1");
  EXPECT_TRUE(on16 || on17) << text;
  EXPECT_TRUE(HasLine(text, "natgw_pool_ports_in_use{address=\"192.0.2.32\"} 0")) << text;
  // Without a dataplane, no dataplane or interface families.
  EXPECT_THAT(text, ::testing::Not(HasSubstr("natgw_dataplane_")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("natgw_interface_")));
}

TEST(WorkerLoadTrackerTest, RatioOfBusyCyclesOverTheLastWindow) {
  telemetry::WorkerLoadTracker t(1000);
  t.Update({{0, 0}, {0, 0}}, 0);
  EXPECT_THAT(t.ratios(), ::testing::ElementsAre(0.0, 0.0));
  t.Update({{500, 1000}, {0, 1000}}, 500);  // within the window: no new sample
  EXPECT_THAT(t.ratios(), ::testing::ElementsAre(0.0, 0.0));
  t.Update({{250, 1000}, {1000, 1000}}, 1000);
  EXPECT_THAT(t.ratios(), ::testing::ElementsAre(0.25, 1.0));
  t.Update({{250, 3000}, {1500, 2000}}, 2100);
  EXPECT_THAT(t.ratios(), ::testing::ElementsAre(0.0, 0.5));
}

TEST_P(EngineTest, MetricsEscapeLabelValues) {
  control::GatewayConfig g = TestGatewayConfig();
  g.name = "a\"b\\c";
  const std::string text = telemetry::RenderMetrics(*engine_, nullptr, g);
  ExpectValidExposition(text);
  EXPECT_TRUE(HasLine(text, "natgw_info{gateway=\"a\\\"b\\\\c\"} 1")) << text;
}

// ---- MetricsServer ----

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  EXPECT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// One exchange, single-threaded: the kernel completes the connection and buffers the request
// before the server accepts it, and buffers the answer until the client reads it.
std::string Fetch(telemetry::MetricsServer& server, const std::string& request, int* renders) {
  int fd = Connect(server.port());
  EXPECT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  server.Poll(1000, [&] {
    ++*renders;
    return std::string("# HELP natgw_x X.\n# TYPE natgw_x gauge\nnatgw_x 7\n");
  });
  std::string reply = ReadAll(fd);
  close(fd);
  return reply;
}

TEST(MetricsServerTest, ServesMetricsAnd404) {
  auto s = telemetry::MetricsServer::Listen(htonl(INADDR_LOOPBACK), 0);
  ASSERT_TRUE(s.ok()) << s.status();
  telemetry::MetricsServer& server = **s;
  ASSERT_NE(server.port(), 0);
  EXPECT_EQ(server.address(), "127.0.0.1:" + std::to_string(server.port()));

  int renders = 0;
  std::string r =
      Fetch(server, "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", &renders);
  EXPECT_THAT(r, StartsWith("HTTP/1.0 200 OK\r\n"));
  EXPECT_THAT(r, HasSubstr("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_THAT(r, HasSubstr("\r\nContent-Length: 49\r\n"));
  EXPECT_THAT(r,
              ::testing::EndsWith("\r\n\r\n# HELP natgw_x X.\n# TYPE natgw_x gauge\nnatgw_x 7\n"));
  EXPECT_EQ(renders, 1);

  r = Fetch(server, "GET /metrics?x=1 HTTP/1.0\n\n", &renders);  // bare \n, query string
  EXPECT_THAT(r, StartsWith("HTTP/1.0 200 OK\r\n"));
  EXPECT_EQ(renders, 2);

  r = Fetch(server, "GET / HTTP/1.0\r\n\r\n", &renders);
  EXPECT_THAT(r, StartsWith("HTTP/1.0 404 Not Found\r\n"));
  r = Fetch(server, "GET /metricsx HTTP/1.0\r\n\r\n", &renders);
  EXPECT_THAT(r, StartsWith("HTTP/1.0 404 Not Found\r\n"));
  r = Fetch(server, "POST /metrics HTTP/1.0\r\n\r\n", &renders);
  EXPECT_THAT(r, StartsWith("HTTP/1.0 405 Method Not Allowed\r\n"));
  r = Fetch(server, "HEAD /metrics HTTP/1.0\r\n\r\n", &renders);
  EXPECT_THAT(r, StartsWith("HTTP/1.0 200 OK\r\n"));
  EXPECT_THAT(r, ::testing::EndsWith("\r\n\r\n"));
  EXPECT_EQ(renders, 3);  // 404, 405 render nothing; HEAD does
}

TEST(MetricsServerTest, SilentClientDoesNotStallPoll) {
  auto s = telemetry::MetricsServer::Listen(htonl(INADDR_LOOPBACK), 0);
  ASSERT_TRUE(s.ok()) << s.status();
  int silent = Connect((*s)->port());
  const auto start = std::chrono::steady_clock::now();
  (*s)->Poll(100, [] { return std::string(); });
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  EXPECT_EQ(ReadAll(silent), "");  // dropped without an answer
  close(silent);
  // Still serving afterwards.
  int renders = 0;
  EXPECT_THAT(Fetch(**s, "GET /metrics HTTP/1.0\r\n\r\n", &renders), StartsWith("HTTP/1.0 200 OK"));
}

TEST(MetricsServerTest, PortInUseIsRefusedWithFix) {
  auto a = telemetry::MetricsServer::Listen(htonl(INADDR_LOOPBACK), 0);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = telemetry::MetricsServer::Listen(htonl(INADDR_LOOPBACK), (*a)->port());
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.status().message(), HasSubstr("cannot listen for metrics on 127.0.0.1:"));
  EXPECT_THAT(b.status().message(), HasSubstr("[metrics]"));
}

}  // namespace
}  // namespace natgw::nat::testing
