// GoogleTest main for natgw unit tests: starts the EAL without hugepages or PCI, then runs tests.
#include <rte_eal.h>
#include <rte_lcore.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/dataplane/eal_runtime.h"
#include "tests/eal_env.h"

namespace natgw::testing {
namespace {
rte_mempool* g_pool = nullptr;
}

rte_mempool* TestMbufPool() { return g_pool; }

rte_mbuf* MbufFromBytes(const void* data, uint16_t len) {
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  if (m == nullptr) return nullptr;
  char* p = rte_pktmbuf_append(m, len);
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memcpy(p, data, len);
  return m;
}

}  // namespace natgw::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string prefix = "--file-prefix=natgw-test-" + std::to_string(getpid());
  std::vector<std::string> eal_args = {"natgw-test", "--no-huge", "--no-shconf", "--no-pci",
                                       "-m",         "256",       "--log-level=lib.eal:error",
                                       prefix,       "--no-telemetry"};
  std::vector<char*> eal_argv;
  for (auto& a : eal_args) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "test_main: rte_eal_init failed\n");
    return 1;
  }
  natgw::testing::g_pool =
      rte_pktmbuf_pool_create("natgw_test_pool", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                              static_cast<int>(rte_socket_id()));
  if (natgw::testing::g_pool == nullptr) {
    std::fprintf(stderr, "test_main: mbuf pool creation failed\n");
    return 1;
  }
  int rc = RUN_ALL_TESTS();
  rte_mempool_free(natgw::testing::g_pool);
  natgw::dataplane::CleanupEal();
  return rc;
}
