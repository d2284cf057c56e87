// Parsing of the generator's command-line values (address and port ranges, pools, MACs, frame
// sizes) and writing of its JSON result. Start-up and exit only; not for the packet loop.
#ifndef NATGW_PERF_LOADGEN_OPTIONS_H_
#define NATGW_PERF_LOADGEN_OPTIONS_H_

#include <rte_ether.h>

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "perf/loadgen/packets.h"
#include "perf/loadgen/traffic.h"

namespace natgw::loadgen {

struct IpRange {
  uint32_t first = 0;  // host order
  uint32_t last = 0;
  uint32_t count() const { return last - first + 1; }
};
struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
  uint32_t count() const { return uint32_t{last} - first + 1; }
};

// "192.0.2.1", "192.0.2.1-192.0.2.9" or "192.0.2.0/28" (every address of the CIDR).
absl::StatusOr<IpRange> ParseIpRange(absl::string_view s);
// "9" or "1024-65535".
absl::StatusOr<PortRange> ParsePortRange(absl::string_view s);
// Comma-separated IP ranges into `expect` (at most 8).
absl::Status ParsePool(absl::string_view s, ExpectedSource* expect);
// "02:00:00:00:00:01".
absl::StatusOr<rte_ether_addr> ParseMac(absl::string_view s);
// Frame lengths without the FCS from "64", "imix" (7x64, 4x594, 1x1518 in a spread order) or
// "64,128,1518" (wire sizes with the FCS, 64..1518).
absl::StatusOr<std::vector<uint16_t>> ParseFrameSizes(absl::string_view s);

// The JSON result: configuration summary, rates, counts, invalid frames by reason, latency
// percentiles (microseconds) and the per-second timeline.
std::string ResultJson(const TrafficConfig& c, const std::string& mode_name,
                       const TrafficResult& r);

}  // namespace natgw::loadgen

#endif  // NATGW_PERF_LOADGEN_OPTIONS_H_
