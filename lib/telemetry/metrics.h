// Prometheus metrics: the gateway's counters in the text exposition format 0.0.4, served over
// plain HTTP/1.0 by the control thread ([metrics] in the conf file, conf/README.md).
//
// Families (names in base units, counters end in _total, dimensions are labels):
//   natgw_info{gateway}                            gauge, always 1
//   natgw_received_packets_total                   packets the engine was handed
//   natgw_packets_total{direction}                 in2out, out2in, hairpin, stateless_in2out, ...
//   natgw_drops_total{reason}                      every engine drop reason, zero included
//   natgw_engine_events_total{event}               the other engine events (ICMP, fragments, ...)
//   natgw_sessions_created_total{kind}, natgw_sessions_expired_total
//   natgw_sessions{protocol,kind,island}           gauge: live sessions (bindings: kind="binding")
//   natgw_tcp_sessions{state}                      gauge: live TCP sessions by state
//   natgw_session_capacity                         gauge
//   natgw_session_table_bytes{pages}               gauge: hugetlb, transparent, 4k
//   natgw_pool_size{pool,kind}, natgw_pool_addresses_in_use{pool,kind}   gauges
//   natgw_pool_ports_in_use{address}, natgw_pool_ports{address}   gauges, per egress address
//   natgw_pool_ports_exhausted_total               new flows refused for want of a port
//   natgw_mappings{kind}                           gauge: pod_address, egress_pool, service
// and with a dataplane:
//   natgw_dataplane_drops_total{reason}            every dataplane drop reason, zero included
//   natgw_dataplane_events_total{event}            rx_frames, tx_frames, ARP, hold queue, ...
//   natgw_interface_{rx,tx}_{packets,bytes}_total{interface}, natgw_interface_rx_missed_total,
//   natgw_interface_rx_nombuf_total, natgw_interface_{rx,tx}_errors_total,
//   natgw_interface_tx_dropped_total, natgw_interface_up (gauge)
//   natgw_dataplane_mbuf_pool_size{pool}, natgw_dataplane_mbuf_pool_free{pool}   gauges
//   natgw_worker_busy_cycles_total{worker}, natgw_worker_cycles_total{worker},
//   natgw_worker_busy_ratio{worker} (gauge), natgw_tsc_hz (gauge)
#ifndef NATGW_LIB_TELEMETRY_METRICS_H_
#define NATGW_LIB_TELEMETRY_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/control/gateway_config.h"
#include "lib/dataplane/dataplane.h"
#include "lib/nat/engine.h"

namespace natgw::telemetry {

inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Control thread: a racy snapshot of every counter (like `natgwctl show stats`). `dataplane` may
// be null (engine-only tests): the dataplane and interface families are left out.
// `busy_ratios` (per worker, from WorkerLoadTracker) may be null: natgw_worker_busy_ratio is then
// left out.
std::string RenderMetrics(const nat::Engine& engine, const dataplane::Dataplane* dataplane,
                          const control::GatewayConfig& config,
                          const std::vector<double>* busy_ratios = nullptr);

// Each worker's busy ratio over a recent window: Update is called often (every control loop);
// it takes a new sample when at least `window_ms` have passed since the last and sets the
// ratios to busy/total cycles between the two. Control thread.
class WorkerLoadTracker {
 public:
  explicit WorkerLoadTracker(int64_t window_ms = 1000) : window_ms_(window_ms) {}
  // `now_ms`: a monotonic clock (injected for tests).
  void Update(const std::vector<dataplane::WorkerLoad>& loads, int64_t now_ms);
  const std::vector<double>& ratios() const { return ratios_; }

 private:
  int64_t window_ms_;
  int64_t last_ms_ = -1;
  std::vector<dataplane::WorkerLoad> last_;
  std::vector<double> ratios_;
};

// A tiny HTTP/1.0 server for one endpoint: GET (or HEAD) /metrics answers 200 with the body of
// `render`, any other path 404, any other method 405. One request per connection, answered and
// closed. Never blocks longer than Poll's timeout plus a short per-client deadline, so a silent
// or slow client cannot stall the control thread.
class MetricsServer {
 public:
  // Binds address:port (network-order address; port 0 picks a free one) and listens.
  // FailedPrecondition (naming the address and the errno) when it cannot.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Listen(uint32_t address_be, uint16_t port);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Waits up to `timeout_ms` for connections, then answers those pending (a few at most per
  // call). `render` is only called for GET /metrics.
  void Poll(int timeout_ms, const std::function<std::string()>& render);

  uint16_t port() const { return port_; }  // the bound port (useful after port 0)
  int fd() const { return fd_; }           // readable when a client connects
  std::string address() const;             // "127.0.0.1:9469"

 private:
  MetricsServer(int fd, uint32_t address_be, uint16_t port)
      : fd_(fd), address_be_(address_be), port_(port) {}
  void Serve(int client, const std::function<std::string()>& render);

  int fd_;
  uint32_t address_be_;
  uint16_t port_;
};

}  // namespace natgw::telemetry

#endif  // NATGW_LIB_TELEMETRY_METRICS_H_
