// Starts DPDK's EAL once per test binary (no hugepages, in-memory, no PCI) so tests can use
// mbuf pools and rte_rcu_qsbr. Each binary gets its own --file-prefix.
#ifndef NATGW_TESTS_EAL_ENV_H_
#define NATGW_TESTS_EAL_ENV_H_

#include <rte_mbuf.h>
#include <rte_mempool.h>

namespace natgw::testing {

// The shared mbuf pool (8191 mbufs, 2 KiB data room). Valid after main() started the EAL.
rte_mempool* TestMbufPool();

// Copies `len` bytes into a fresh mbuf from TestMbufPool().
rte_mbuf* MbufFromBytes(const void* data, uint16_t len);

}  // namespace natgw::testing

#endif  // NATGW_TESTS_EAL_ENV_H_
