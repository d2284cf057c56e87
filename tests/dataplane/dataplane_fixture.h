// A gateway on ring-backed ports for dataplane tests:
//
//   pods of c1 (10.0.0.0/16) -- [c1 10.0.0.1/16]                 [out 192.0.2.1/24] -- routers
//   pods of c2 (10.0.0.0/16) -- [c2 10.0.0.1/16]   natgw                                192.0.2.254
//   (default)
//                                                                                       192.0.2.253
//                                                                                       (198.18.0.0/15)
// c1 10.0.0.5 <-> 203.0.113.5, c2 10.0.0.5 <-> 198.51.100.7, c1 egress pool 192.0.2.16-17,
// c2 egress pool 192.0.2.32. Frames are injected into the ports' RX rings and read back from
// their TX rings.
#ifndef NATGW_TESTS_DATAPLANE_DATAPLANE_FIXTURE_H_
#define NATGW_TESTS_DATAPLANE_DATAPLANE_FIXTURE_H_

#include <rte_ether.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "lib/control/gateway_config.h"
#include "lib/dataplane/dataplane.h"
#include "lib/nat/engine.h"
#include "lib/net/builder.h"
#include "tests/dataplane/ring_port.h"

namespace natgw::dataplane::testing {

inline uint32_t Ip(const char* s) { return net::ParseIp(s); }
rte_ether_addr Mac(uint8_t a, uint8_t b);  // 02:00:00:00:a:b

// Hosts around the gateway.
inline const rte_ether_addr kRouter1Mac = {{0x02, 0, 0, 0, 0x0f, 0x01}};  // 192.0.2.254
inline const rte_ether_addr kRouter2Mac = {{0x02, 0, 0, 0, 0x0f, 0x02}};  // 192.0.2.253
inline const rte_ether_addr kHostMac = {{0x02, 0, 0, 0, 0x0f, 0x03}};     // 192.0.2.77
inline const rte_ether_addr kPodAMac = {{0x02, 0, 0, 0, 0x0a, 0x05}};     // c1 10.0.0.5
inline const rte_ether_addr kPodGMac = {{0x02, 0, 0, 0, 0x0b, 0x05}};     // c2 10.0.0.5
inline const rte_ether_addr kBroadcastMac = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
inline const rte_ether_addr kZeroMac = {{0, 0, 0, 0, 0, 0}};

struct Topology {
  uint32_t workers = 1;
  bool second_island = false;
  bool default_route = true;   // 0.0.0.0/0 via 192.0.2.254 dev out
  bool specific_route = true;  // 198.18.0.0/15 via 192.0.2.253 dev out
  bool answer_arp_for_external = true;
  uint32_t idle_sleep_us = 0;
  uint32_t ring_size = 1024;  // of every RX and TX ring of the test ports
  uint16_t out_mtu = 1500;    // of the outside port
  uint16_t in_mtu = 1500;     // of island c1's inside port
  DataplaneOptions options = SmallOptions();

  static DataplaneOptions SmallOptions() {
    DataplaneOptions o;
    o.rx_descriptors = 128;
    o.tx_descriptors = 128;
    o.neighbor_slots = 1024;
    return o;
  }
};

// A decoded ARP frame.
struct ArpFields {
  rte_ether_addr eth_dst, eth_src;
  uint16_t op;
  rte_ether_addr sha, tha;
  uint32_t sip, tip;
};

std::vector<uint8_t> ArpFrame(uint16_t op, const rte_ether_addr& eth_src,
                              const rte_ether_addr& eth_dst, const rte_ether_addr& sha,
                              uint32_t sip, const rte_ether_addr& tha, uint32_t tip);
bool IsArp(const std::vector<uint8_t>& frame);
ArpFields DecodeArp(const std::vector<uint8_t>& frame);
rte_ether_addr EthDst(const std::vector<uint8_t>& frame);
rte_ether_addr EthSrc(const std::vector<uint8_t>& frame);
uint32_t IpSrc(const std::vector<uint8_t>& frame);  // untagged IPv4 frames
uint32_t IpDst(const std::vector<uint8_t>& frame);
uint16_t L4Sport(const std::vector<uint8_t>& frame);  // host order, no IP options
uint16_t L4Dport(const std::vector<uint8_t>& frame);

::testing::AssertionResult SameMac(const rte_ether_addr& a, const rte_ether_addr& b);

class DataplaneTest : public ::testing::Test {
 protected:
  void TearDown() override;

  // Creates ports, engine and dataplane for `t`.
  void Start(const Topology& t = {});
  control::GatewayConfig MakeConfig(const Topology& t);
  void Stop();  // destroys the dataplane, the engine and the ports (TX rings drained first)

  // A UDP frame from pod A (c1 10.0.0.5) to `dst`, addressed to the gateway's c1 MAC.
  std::vector<uint8_t> FromPodA(uint32_t dst, uint16_t sport = 40000, uint16_t dport = 53);
  // The gateway answers ARP requests from `ip`/`mac` and so learns them (as a real host would
  // after the gateway's own request).
  void Introduce(RingPort& port, uint32_t gateway_ip, uint32_t ip, const rte_ether_addr& mac);

  uint32_t Poll(uint32_t w = 0) { return dp_->PollOnceForTest(w); }
  uint64_t Drops(Drop d) const { return dp_->SumCounters().drop(d); }
  uint64_t Events(Event e) const { return dp_->SumCounters().event(e); }

  std::unique_ptr<RingPort> out_, c1_, c2_;
  std::unique_ptr<nat::Engine> engine_;
  std::unique_ptr<Dataplane> dp_;
  rte_ether_addr out_mac_{}, c1_mac_{}, c2_mac_{};  // the gateway's, per port
};

}  // namespace natgw::dataplane::testing

#endif  // NATGW_TESTS_DATAPLANE_DATAPLANE_FIXTURE_H_
