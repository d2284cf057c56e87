// The load generator's flows: flow id -> (pod address, source port, remote address, destination
// port), enumerated from ranges without a table, so any id can be turned back into its tuple on
// the packet path (the id travels in the payload).
//
// Pure functions and plain data; any thread.
#ifndef NATGW_PERF_LOADGEN_FLOWS_H_
#define NATGW_PERF_LOADGEN_FLOWS_H_

#include <rte_byteorder.h>

#include <cstdint>

namespace natgw::loadgen {

// Division by a divisor fixed at start, without a divide instruction: a 64-bit reciprocal and
// one or two 128-bit multiplies (the "fastmod" construction of Lemire, Kaser and Kurz, 2019).
// Exact for every 32-bit dividend and divisor >= 1.
class FastDivisor {
 public:
  FastDivisor() = default;
  explicit FastDivisor(uint32_t d) : d_(d), m_(~uint64_t{0} / d + 1) {}
  uint32_t divisor() const { return d_; }
  uint32_t Div(uint32_t a) const {
    if (d_ == 1) return a;  // m_ wraps to 0 for d == 1
    return static_cast<uint32_t>((static_cast<unsigned __int128>(m_) * a) >> 64);
  }
  uint32_t Mod(uint32_t a) const {
    if (d_ == 1) return 0;
    const uint64_t low = m_ * a;
    return static_cast<uint32_t>((static_cast<unsigned __int128>(low) * d_) >> 64);
  }

 private:
  uint32_t d_ = 1;
  uint64_t m_ = 0;
};

// What the generator plays: pods (address range x source port range) talking to remote servers
// (address range x destination port range). Addresses and ports in host order here.
struct FlowRanges {
  uint32_t pod_ip_first = 0;
  uint32_t pod_count = 1;
  uint16_t sport_first = 1024;
  uint32_t sport_count = 1;
  uint32_t remote_ip_first = 0;
  uint32_t remote_count = 1;
  uint16_t dport_first = 9;
  uint32_t dport_count = 1;

  // Distinct tuples the ranges hold (flow ids beyond it repeat tuples).
  uint64_t Capacity() const {
    return uint64_t{pod_count} * sport_count * remote_count * dport_count;
  }
};

// One flow as it appears on the inside wire (network order).
struct FlowTuple {
  uint32_t pod_ip_be;
  uint32_t remote_ip_be;
  uint16_t sport_be;
  uint16_t dport_be;
};

// Maps flow ids to tuples. The pod address varies fastest, then the source port, the remote
// address and the destination port, so consecutive ids spread over all pods (and so over all
// egress pool addresses) at once.
class FlowSet {
 public:
  FlowSet() = default;
  explicit FlowSet(const FlowRanges& r)
      : r_(r),
        pods_(r.pod_count),
        sports_(r.sport_count),
        remotes_(r.remote_count),
        dports_(r.dport_count) {}

  const FlowRanges& ranges() const { return r_; }

  FlowTuple Tuple(uint32_t id) const {
    const uint32_t q1 = pods_.Div(id);
    const uint32_t pod = id - q1 * pods_.divisor();
    const uint32_t q2 = sports_.Div(q1);
    const uint32_t sport = q1 - q2 * sports_.divisor();
    const uint32_t q3 = remotes_.Div(q2);
    const uint32_t remote = q2 - q3 * remotes_.divisor();
    const uint32_t dport = dports_.Mod(q3);
    return FlowTuple{rte_cpu_to_be_32(r_.pod_ip_first + pod),
                     rte_cpu_to_be_32(r_.remote_ip_first + remote),
                     rte_cpu_to_be_16(static_cast<uint16_t>(r_.sport_first + sport)),
                     rte_cpu_to_be_16(static_cast<uint16_t>(r_.dport_first + dport))};
  }

 private:
  FlowRanges r_;
  FastDivisor pods_, sports_, remotes_, dports_;
};

}  // namespace natgw::loadgen

#endif  // NATGW_PERF_LOADGEN_FLOWS_H_
