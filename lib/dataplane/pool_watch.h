// Watches the ports' mbuf pools from the control thread: a pool with no mbuf free means the
// ports cannot refill their receive rings and drop frames (some PMDs count that as rx_nombuf,
// memif's zero-copy ring does not count it at all), so the gateway says so in its log.
#ifndef NATGW_LIB_DATAPLANE_POOL_WATCH_H_
#define NATGW_LIB_DATAPLANE_POOL_WATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/dataplane/dataplane.h"

namespace natgw::dataplane {

class MbufPoolWatch {
 public:
  // A warning is repeated at most once per this interval while a pool stays (or is found) empty.
  static constexpr int64_t kRepeatMs = 60'000;

  // Called with the pools' state now (Dataplane::MbufPools()); returns the warnings to log.
  std::vector<std::string> Check(const std::vector<MbufPoolStatus>& pools, int64_t now_ms) {
    std::vector<std::string> out;
    for (const MbufPoolStatus& p : pools) {
      if (p.free != 0) continue;
      if (last_warned_ms_ >= 0 && now_ms - last_warned_ms_ < kRepeatMs) continue;
      out.push_back(absl::StrCat(
          "mbuf pool ", p.name, ": empty, all ", p.size,
          " mbufs are in receive rings, transmit queues or held frames: the ports cannot refill "
          "their receive rings and drop frames (natgw_interface_rx_nombuf_total, rx_missed)"));
    }
    if (!out.empty()) last_warned_ms_ = now_ms;
    return out;
  }

 private:
  int64_t last_warned_ms_ = -1;
};

}  // namespace natgw::dataplane

#endif  // NATGW_LIB_DATAPLANE_POOL_WATCH_H_
