#include "tests/dataplane/ring_port.h"

#include <rte_bus_vdev.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace natgw::dataplane::testing {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "RingPort: %s\n", what.c_str());
  std::abort();
}

void FreeAll(rte_ring* r) {
  void* m;
  while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
}

}  // namespace

RingPort::RingPort(const std::string& name, uint16_t queues, uint32_t ring_size)
    : name_(name), device_("net_ring_" + name) {
  for (uint16_t q = 0; q < queues; ++q) {
    const std::string rx_name = name + "_rx" + std::to_string(q);
    const std::string tx_name = name + "_tx" + std::to_string(q);
    rte_ring* rx = rte_ring_create(rx_name.c_str(), ring_size, SOCKET_ID_ANY, 0);
    rte_ring* tx = rte_ring_create(tx_name.c_str(), ring_size, SOCKET_ID_ANY, 0);
    if (rx == nullptr || tx == nullptr) Fail("rte_ring_create " + rx_name);
    rx_.push_back(rx);
    tx_.push_back(tx);
  }
  int id = rte_eth_from_rings(name.c_str(), rx_.data(), queues, tx_.data(), queues, 0);
  if (id < 0) Fail("rte_eth_from_rings " + name);
  port_id_ = static_cast<uint16_t>(id);
}

RingPort::~RingPort() {
  rte_vdev_uninit(device_.c_str());
  for (rte_ring* r : rx_) {
    FreeAll(r);
    rte_ring_free(r);
  }
  for (rte_ring* r : tx_) {
    FreeAll(r);
    rte_ring_free(r);
  }
}

void RingPort::Inject(const std::vector<uint8_t>& frame, uint16_t queue) {
  rte_mbuf* m = rte_pktmbuf_alloc(InjectPool());
  if (m == nullptr) Fail("inject pool empty");
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  if (p == nullptr) Fail("frame too large");
  std::memcpy(p, frame.data(), frame.size());
  if (rte_ring_enqueue(rx_.at(queue), m) != 0) Fail("RX ring full");
}

std::vector<std::vector<uint8_t>> RingPort::Take() {
  std::vector<std::vector<uint8_t>> out;
  for (rte_ring* r : tx_) {
    void* p;
    while (rte_ring_dequeue(r, &p) == 0) {
      auto* m = static_cast<rte_mbuf*>(p);
      const auto* d = rte_pktmbuf_mtod(m, const uint8_t*);
      out.emplace_back(d, d + m->data_len);
      rte_pktmbuf_free(m);
    }
  }
  return out;
}

uint32_t RingPort::Discard() {
  uint32_t n = 0;
  for (rte_ring* r : tx_) {
    n += rte_ring_count(r);
    FreeAll(r);
  }
  return n;
}

}  // namespace natgw::dataplane::testing
