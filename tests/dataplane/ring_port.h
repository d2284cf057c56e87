// Test ports without hardware: a DPDK ethdev backed by rte_rings (net_ring, created at run time
// with rte_eth_from_rings). The test writes frames into the port's RX rings (what the gateway
// receives) and reads the TX rings (what the gateway transmitted), in one process.
#ifndef NATGW_TESTS_DATAPLANE_RING_PORT_H_
#define NATGW_TESTS_DATAPLANE_RING_PORT_H_

#include <rte_ether.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace natgw::dataplane::testing {

// The mbuf pool frames are injected from (created by the test main).
rte_mempool* InjectPool();

class RingPort {
 public:
  // A port named "net_ring_<name>" with `queues` RX and TX rings of `ring_size` slots (a power
  // of two; a ring holds one less). Its MAC is whatever the Dataplane gives it (net_ring has
  // none). Aborts the test binary on failure.
  RingPort(const std::string& name, uint16_t queues, uint32_t ring_size = 1024);
  // Frees what is left in the rings and removes the vdev (after the Dataplane closed the port).
  ~RingPort();
  RingPort(const RingPort&) = delete;
  RingPort& operator=(const RingPort&) = delete;

  const std::string& device() const { return device_; }
  uint16_t port_id() const { return port_id_; }

  // Puts a copy of `frame` on RX queue `queue` (what the gateway will receive there).
  void Inject(const std::vector<uint8_t>& frame, uint16_t queue = 0);
  // Takes every frame the gateway transmitted, all TX queues (queue 0 first), freeing the mbufs.
  std::vector<std::vector<uint8_t>> Take();
  // Frees whatever the gateway transmitted; returns how many.
  uint32_t Discard();

 private:
  std::string name_;
  std::string device_;
  uint16_t port_id_ = 0;
  std::vector<rte_ring*> rx_;
  std::vector<rte_ring*> tx_;
};

}  // namespace natgw::dataplane::testing

#endif  // NATGW_TESTS_DATAPLANE_RING_PORT_H_
