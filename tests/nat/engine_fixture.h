// Shared fixture for engine tests: a gateway that fronts two islands with the same pod CIDR,
// run with one or two workers. Packets are built with net::PacketBuilder, pushed through
// Worker::ProcessBurst, and the output frame, verdict and counters are checked.
#ifndef NATGW_TESTS_NAT_ENGINE_FIXTURE_H_
#define NATGW_TESTS_NAT_ENGINE_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/nat/engine.h"
#include "lib/nat/worker.h"
#include "lib/net/builder.h"
#include "lib/net/parse.h"

namespace natgw::nat::testing {

inline uint32_t Ip(const char* s) { return net::ParseIp(s); }

// Island 1 ("c1") and island 2 ("c2"), both with pods in 10.0.0.0/16:
//   c1 10.0.0.5 <-> 203.0.113.5, c1 10.0.0.6 <-> 203.0.113.6, c2 10.0.0.5 <-> 198.51.100.7
//   c1 egress pool 192.0.2.16-17, c2 egress pool 192.0.2.32
//   service 198.51.100.80:80/tcp -> c2 10.0.0.7:8080, c2 10.0.0.8:8080
//   service 198.51.100.80:53/udp -> c2 10.0.0.7:5353
//   gateway addresses: c1 10.0.0.1, c2 10.0.0.1, outside 192.0.2.1
NatConfig TwoIslandConfig();

struct Output {
  Action action = Action::kDrop;
  uint16_t island = 0;
  DropReason reason = DropReason::kCount;
  std::vector<uint8_t> frame;  // the packet as it left (empty when dropped)

  // Decoded fields of the output (valid when not dropped).
  net::PacketInfo info{};
  uint32_t src() const;
  uint32_t dst() const;
  uint16_t sport() const;  // TCP/UDP source port or ICMP identifier, host order
  uint16_t dport() const;
  uint8_t ttl() const;
  const uint8_t* l4() const { return frame.data() + info.l4_offset; }
};

class EngineTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Re-creates the engine with other settings.
  void Restart(const EngineConfig& ec, const NatConfig& nc);

  int workers() const { return GetParam(); }
  // Worker that handles the n-th packet: with two workers, in2out and out2in of one flow land on
  // different workers, as they may with RSS.
  Worker& W(Side side) { return engine_->worker(side.outside() ? engine_->num_workers() - 1 : 0); }

  // Sends one frame; the held-fragment releases of the burst are appended to `released`.
  Output Send(Side side, const std::vector<uint8_t>& frame,
              std::vector<Output>* released = nullptr);
  // Sends several frames in one burst.
  std::vector<Output> SendBurst(Side side, const std::vector<std::vector<uint8_t>>& frames);

  void Maintain(uint32_t now_s);  // every worker, twice (so grace periods pass)
  // `translated` (an output of a packet that arrived on `ingress`) did not fit the `mtu` of the
  // port on `egress`: what the worker that translated it makes of it.
  Output TooBig(Side ingress, Side egress, const Output& translated, uint16_t mtu);

  uint64_t Drops(DropReason r) const { return engine_->SumCounters().drop(r); }
  uint64_t Events(Event e) const { return engine_->SumCounters().event(e); }

  static Output Decode(const PacketVerdict& v);

  uint32_t now_s_ = 100;
  std::unique_ptr<Engine> engine_;
};

inline const Side kC1 = Side::Inside(1);
inline const Side kC2 = Side::Inside(2);
inline const Side kOut = Side::Outside();

}  // namespace natgw::nat::testing

#endif  // NATGW_TESTS_NAT_ENGINE_FIXTURE_H_
