// natgw-loadgen: a DPDK load generator with two ports, one facing a gateway's inside (it plays
// the pods), one facing its outside (it plays the remote servers). See perf/README.md.
//
//   natgw-loadgen --flows=1000000 --duration_s=10 --json_out=r.json --
//       -l 0 --file-prefix=lg --no-pci --vdev=net_memif0,role=server,socket=/run/in.sock
//       --vdev=net_memif1,role=server,socket=/run/out.sock      (one command line)
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gflags/gflags.h"
#include "lib/dataplane/eal_runtime.h"
#include "perf/loadgen/options.h"
#include "perf/loadgen/traffic.h"

DEFINE_string(mode, "udp",
              "udp: established UDP flows (each flow once as warm-up, then all in turn); "
              "udp_new: every packet a new flow, one pass over --flows; "
              "tcp: connections (SYN, SYN-ACK, ACK+data, FIN, FIN-ACK, ACK), one per flow");
DEFINE_uint32(inside_port, 0, "DPDK port id facing the gateway's inside (the pods)");
DEFINE_uint32(outside_port, 1, "DPDK port id facing the gateway's outside (remote servers)");
DEFINE_string(pod_ips, "10.0.1.0-10.0.1.255", "pod addresses: A, A-B or A/LEN");
DEFINE_string(pod_ports, "1024-65535", "pod source ports: P or MIN-MAX");
DEFINE_string(remote_ips, "198.51.100.10", "remote server addresses: A, A-B or A/LEN");
DEFINE_string(remote_ports, "9", "remote server ports: P or MIN-MAX");
DEFINE_uint32(flows, 1000,
              "number of flows (udp) or connections (tcp, udp_new); flow i takes pod i mod "
              "#pods, then the next source port, remote address, remote port");
DEFINE_string(frame_size, "64", "wire frame sizes with FCS, 64..1518 (UDP), comma-separated, "
              "cycled; or 'imix' (7x64, 4x594, 1x1518)");
DEFINE_double(rate_pps, 0, "requests per second from the inside (tcp: connections per second); "
              "0 = as fast as the ports take them");
DEFINE_double(duration_s, 10, "measured interval in seconds (after the warm-up)");
DEFINE_double(warmup_pps, 1e6,
              "udp mode: rate of the warm-up pass that creates every flow; 0 = max");
DEFINE_string(expect_pool, "",
              "where translated sources must lie: comma-separated A, A-B or A/LEN (at most 8); "
              "empty = any address");
DEFINE_string(expect_ports, "1024-65535", "translated source ports of sources >= 1024");
DEFINE_bool(expect_translation, true,
            "false: the source must arrive unchanged (plain forwarding, e.g. testpmd)");
DEFINE_bool(arp, true, "resolve the gateway's MACs by ARP and answer ARP requests for every "
            "other address; false: send to --inside_gateway_mac/--outside_gateway_mac");
DEFINE_string(inside_gateway_ip, "10.0.0.1", "the gateway's inside address");
DEFINE_string(outside_gateway_ip, "192.0.2.1", "the gateway's outside address");
DEFINE_string(outside_ip, "192.0.2.2", "the generator's outside address (the gateway's next hop)");
DEFINE_string(inside_gateway_mac, "02:00:00:00:00:02", "with --noarp: destination MAC inside");
DEFINE_string(outside_gateway_mac, "02:00:00:00:00:03", "with --noarp: destination MAC outside");
DEFINE_uint32(rx_queues, 1, "RX queues per port, all polled (memif: as many as the peer has TX "
              "queues; Open vSwitch uses PMD threads + 1)");
DEFINE_uint32(queues, 1,
              "queue pairs per port, each driven by its own loop on its own worker lcore (EAL "
              "-l with the main lcore plus this many) with its own share of the flows: a "
              "gateway with one worker per queue (natgw: worker w on queue w) gets loop w's "
              "flows on worker w. 1: one loop on the main lcore. --rate_pps and --warmup_pps "
              "are split evenly");
DEFINE_uint32(mbufs, 32767, "mbufs in the generator's pool");
DEFINE_uint32(descriptors, 1024, "RX and TX descriptors per port");
DEFINE_double(link_timeout_s, 30, "how long to wait for both links to come up (the gateway "
              "connecting to the generator's memif sockets)");
DEFINE_string(json_out, "", "write the JSON result to this file");
DEFINE_double(linger_s, 0, "after the result, keep the ports open until both links are down "
              "(the gateway left), SIGTERM, or this many seconds: a memif client whose server "
              "vanishes while it polls can crash in DPDK 22.11's PMD, so the peer should leave "
              "first");
DEFINE_bool(progress, true, "print a progress line every second");
DEFINE_bool(fail_on_invalid, true, "exit 3 when any frame came back invalid");

namespace {

volatile bool g_stop = false;
void OnSignal(int) { g_stop = true; }

// --linger_s: waits, without touching the rings, until no link of the two test ports is up,
// SIGTERM/SIGINT, or the time is up.
void Linger(const natgw::loadgen::TrafficConfig& c, uint16_t nports) {
  if (FLAGS_linger_s <= 0 || c.inside_port >= nports || c.outside_port >= nports) return;
  const uint64_t end =
      rte_rdtsc() + static_cast<uint64_t>(FLAGS_linger_s * static_cast<double>(rte_get_tsc_hz()));
  while (!g_stop && rte_rdtsc() < end) {
    rte_eth_link in{}, out{};
    rte_eth_link_get_nowait(c.inside_port, &in);
    rte_eth_link_get_nowait(c.outside_port, &out);
    if (in.link_status != RTE_ETH_LINK_UP && out.link_status != RTE_ETH_LINK_UP) return;
    rte_delay_us_sleep(20000);  // lcore 0 may be a peer's control thread too: do not spin
  }
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "natgw-loadgen: %s\n", what.c_str());
  return 2;
}

bool SetUpPort(uint16_t port, uint16_t rxq, uint16_t txq, rte_mempool* pool, std::string* err) {
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(port, rxq, txq, &conf);
  uint16_t rxd = static_cast<uint16_t>(FLAGS_descriptors), txd = rxd;
  if (rc == 0) rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
  for (uint16_t q = 0; rc == 0 && q < rxq; ++q) {
    rc = rte_eth_rx_queue_setup(port, q, rxd, rte_eth_dev_socket_id(port), nullptr, pool);
  }
  for (uint16_t q = 0; rc == 0 && q < txq; ++q) {
    rc = rte_eth_tx_queue_setup(port, q, txd, rte_eth_dev_socket_id(port), nullptr);
  }
  if (rc == 0) rc = rte_eth_dev_start(port);
  if (rc != 0) {
    *err = absl::StrCat("port ", port, ": ", rte_strerror(-rc));
    return false;
  }
  rte_eth_promiscuous_enable(port);  // not every PMD has it; harmless when refused
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace natgw::loadgen;
  gflags::SetUsageMessage(
      "a DPDK load generator for natgw: the inside port plays pods, the outside port remote "
      "servers; every translated frame is checked and answered.\n"
      "usage: natgw-loadgen [flags] -- EAL-ARGS (own --file-prefix, --no-pci, two --vdev)");
  gflags::ParseCommandLineFlags(&argc, &argv, true);

  TrafficConfig c;
  std::string mode = FLAGS_mode;
  if (mode == "udp") {
    c.mode = Mode::kUdp;
  } else if (mode == "udp_new") {
    c.mode = Mode::kUdpNew;
  } else if (mode == "tcp") {
    c.mode = Mode::kTcp;
  } else {
    return Fail("--mode must be udp, udp_new or tcp");
  }
  auto pods = ParseIpRange(FLAGS_pod_ips);
  auto sports = ParsePortRange(FLAGS_pod_ports);
  auto remotes = ParseIpRange(FLAGS_remote_ips);
  auto dports = ParsePortRange(FLAGS_remote_ports);
  auto sizes = ParseFrameSizes(FLAGS_frame_size);
  auto in_gw = ParseIpRange(FLAGS_inside_gateway_ip);
  auto out_gw = ParseIpRange(FLAGS_outside_gateway_ip);
  auto out_ip = ParseIpRange(FLAGS_outside_ip);
  auto in_mac = ParseMac(FLAGS_inside_gateway_mac);
  auto out_mac = ParseMac(FLAGS_outside_gateway_mac);
  for (const absl::Status& s : {pods.status(), sports.status(), remotes.status(), dports.status(),
                                sizes.status(), in_gw.status(), out_gw.status(), out_ip.status(),
                                in_mac.status(), out_mac.status()}) {
    if (!s.ok()) return Fail(std::string(s.message()));
  }
  if (absl::Status s = ParsePool(FLAGS_expect_pool, &c.expect); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  auto exp_ports = ParsePortRange(FLAGS_expect_ports);
  if (!exp_ports.ok()) return Fail(std::string(exp_ports.status().message()));
  c.expect.port_min = exp_ports->first;
  c.expect.port_max = exp_ports->last;
  c.expect.translate = FLAGS_expect_translation;
  c.ranges = FlowRanges{pods->first,    pods->count(),     sports->first, sports->count(),
                        remotes->first, remotes->count(),  dports->first, dports->count()};
  if (FLAGS_flows == 0) return Fail("--flows must be at least 1");
  if (FLAGS_flows > c.ranges.Capacity()) {
    return Fail(absl::StrCat("--flows=", FLAGS_flows, " but the ranges hold only ",
                             c.ranges.Capacity(), " distinct flows"));
  }
  c.num_flows = FLAGS_flows;
  c.frame_lens = *sizes;
  if (c.mode == Mode::kTcp && FLAGS_frame_size != "64") {
    return Fail("--frame_size is for UDP modes");
  }
  c.rate_pps = FLAGS_rate_pps;
  c.duration_s = FLAGS_duration_s;
  c.warmup_pps = FLAGS_warmup_pps;
  c.arp = FLAGS_arp;
  c.inside_gateway_ip_be = rte_cpu_to_be_32(in_gw->first);
  c.outside_gateway_ip_be = rte_cpu_to_be_32(out_gw->first);
  c.outside_ip_be = rte_cpu_to_be_32(out_ip->first);
  c.inside_gateway_mac = *in_mac;
  c.outside_gateway_mac = *out_mac;
  c.progress = FLAGS_progress;
  c.link_timeout_s = FLAGS_link_timeout_s;
  if (FLAGS_rx_queues < 1 || FLAGS_rx_queues > 16) return Fail("--rx_queues must be 1..16");
  if (FLAGS_queues < 1 || FLAGS_queues > 16) return Fail("--queues must be 1..16");
  c.queues = static_cast<uint16_t>(FLAGS_queues);
  c.rx_queues = static_cast<uint16_t>(std::max(FLAGS_rx_queues, FLAGS_queues));
  if (c.queues > c.num_flows) return Fail("--queues must not exceed --flows");

  std::vector<char*> eal = {argv[0]};
  for (int i = 1; i < argc; ++i) eal.push_back(argv[i]);
  if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) {
    return Fail(absl::StrCat("EAL init failed: ", rte_strerror(rte_errno)));
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  int rc = 0;
  const uint16_t nports = rte_eth_dev_count_avail();
  c.inside_port = static_cast<uint16_t>(FLAGS_inside_port);
  c.outside_port = static_cast<uint16_t>(FLAGS_outside_port);
  c.pool = rte_pktmbuf_pool_create("loadgen", FLAGS_mbufs, 512, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                   static_cast<int>(rte_socket_id()));
  std::string err;
  if (c.inside_port >= nports || c.outside_port >= nports || c.inside_port == c.outside_port) {
    rc = Fail(absl::StrCat("need two distinct ports; EAL found ", nports, " (give two --vdev)"));
  } else if (c.queues > 1 && rte_lcore_count() < c.queues + 1u) {
    rc = Fail(absl::StrCat("--queues=", c.queues, " needs ", c.queues,
                           " worker lcores besides the main one; EAL has ",
                           rte_lcore_count() - 1, " (give -l with ", c.queues + 1, " cores)"));
  } else if (c.pool == nullptr) {
    rc = Fail(absl::StrCat("mbuf pool: ", rte_strerror(rte_errno)));
  } else if (!SetUpPort(c.inside_port, c.rx_queues, c.queues, c.pool, &err) ||
             !SetUpPort(c.outside_port, c.rx_queues, c.queues, c.pool, &err)) {
    rc = Fail(err);
  } else {
    const TrafficResult r = Run(c, &g_stop);
    const std::string json = ResultJson(c, mode, r);
    if (!FLAGS_json_out.empty()) {
      std::ofstream(FLAGS_json_out) << json;
    } else {
      std::fputs(json.c_str(), stdout);
    }
    const double s = r.seconds > 0 ? r.seconds : 1;
    std::printf(
        "natgw-loadgen: %.1fs  in2out %.3f/%.3f Mpps  out2in %.3f/%.3f Mpps (offered/delivered)"
        "  invalid %llu  latency p50 %.1f p99 %.1f p99.9 %.1f us",
        r.seconds, static_cast<double>(r.in2out.offered) / s / 1e6,
        static_cast<double>(r.in2out.delivered) / s / 1e6,
        static_cast<double>(r.out2in.offered) / s / 1e6,
        static_cast<double>(r.out2in.delivered) / s / 1e6,
        static_cast<unsigned long long>(r.invalid_total),
        static_cast<double>(r.latency.Percentile(0.5)) / 1e3,
        static_cast<double>(r.latency.Percentile(0.99)) / 1e3,
        static_cast<double>(r.latency.Percentile(0.999)) / 1e3);
    if (c.mode == Mode::kTcp) {
      std::printf("  %.0f conn/s (%llu completed)", static_cast<double>(r.tcp_completed) / s,
                  static_cast<unsigned long long>(r.tcp_completed));
    }
    std::printf("\n");
    for (size_t i = 0; i < kNumInvalid; ++i) {
      if (r.invalid[i] != 0) {
        std::printf("  invalid %s: %llu\n", InvalidName(static_cast<Invalid>(i)),
                    static_cast<unsigned long long>(r.invalid[i]));
      }
    }
    if (!r.error.empty()) {
      rc = Fail(r.error);
    } else if (FLAGS_fail_on_invalid && r.invalid_total != 0) {
      rc = 3;
    }
  }
  std::fflush(stdout);
  Linger(c, nports);
  for (uint16_t p = 0; p < nports; ++p) {
    rte_eth_dev_stop(p);
    rte_eth_dev_close(p);
  }
  natgw::dataplane::CleanupEal();
  return rc;
}
