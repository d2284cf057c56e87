// GoogleTest main for the dataplane tests: its own EAL (no hugepages, no PCI, in-memory) with two
// extra lcores for LaunchWorkers, floating over the CPUs this process may use, and an mbuf pool
// for injected frames. Ports are created per test with rte_eth_from_rings.
#include <glog/logging.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/dataplane/eal_runtime.h"
#include "tests/dataplane/ring_port.h"

namespace natgw::dataplane::testing {
namespace {
rte_mempool* g_inject_pool = nullptr;
}
rte_mempool* InjectPool() { return g_inject_pool; }
}  // namespace natgw::dataplane::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = google::GLOG_WARNING;  // the dataplane logs every port start at INFO
  // Lcores 0-2 may run on any allowed CPU, so the test needs no particular core count.
  cpu_set_t set;
  CPU_ZERO(&set);
  std::string cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (!CPU_ISSET(c, &set)) continue;
      if (!cpus.empty()) cpus += ",";
      cpus += std::to_string(c);
    }
  }
  if (cpus.empty()) cpus = "0";
  std::vector<std::string> eal_args = {
      "natgw-dataplane-test",
      "--no-huge",
      "--no-shconf",
      "--no-pci",
      "--no-telemetry",
      "-m",
      "512",
      "--lcores=(0-2)@(" + cpus + ")",
      "--log-level=lib.eal:error",
      "--log-level=pmd.net.ring:error",
      "--file-prefix=natgw-dp-test-" + std::to_string(getpid()),
  };
  std::vector<char*> eal_argv;
  for (auto& a : eal_args) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "dataplane test: rte_eal_init failed\n");
    return 1;
  }
  natgw::dataplane::testing::g_inject_pool = rte_pktmbuf_pool_create(
      "natgw_dp_inject", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (natgw::dataplane::testing::g_inject_pool == nullptr) {
    std::fprintf(stderr, "dataplane test: mbuf pool creation failed\n");
    return 1;
  }
  int rc = RUN_ALL_TESTS();
  rte_mempool_free(natgw::dataplane::testing::g_inject_pool);
  natgw::dataplane::CleanupEal();
  return rc;
}
