// Small helpers for the dataplane's control-side messages. Control thread only (allocate).
#ifndef NATGW_LIB_DATAPLANE_CONFIG_TEXT_H_
#define NATGW_LIB_DATAPLANE_CONFIG_TEXT_H_

#include <rte_byteorder.h>
#include <rte_ether.h>

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "lib/control/gateway_config.h"

namespace natgw::dataplane {

// The network-order mask of a prefix length (0..32).
inline uint32_t PrefixMask(uint8_t len) {
  return len == 0 ? 0 : rte_cpu_to_be_32(~0u << (32 - len));
}

inline std::string MacString(const rte_ether_addr& mac) {
  char buf[RTE_ETHER_ADDR_FMT_SIZE];
  rte_ether_format_addr(buf, sizeof(buf), &mac);
  return buf;
}

// "c1.toml:14: " when the line is known, else "".
inline std::string Where(const control::GatewayConfig& c, int line) {
  if (line <= 0) return "";
  return absl::StrCat(c.source.empty() ? "config" : c.source, ":", line, ": ");
}

// How many frames one queue of an interface can hold, for sizing the mbuf pool: the descriptors
// asked for at queue setup, except on net_memif, which ignores that count and makes its rings
// 2^rsize slots long (its own vdev argument, 10 unless given, at most 14); in zero-copy mode
// every slot holds one of our mbufs.
inline uint32_t QueueFrames(absl::string_view driver, absl::string_view args,
                            uint32_t descriptors) {
  if (driver != "net_memif") return descriptors;
  uint32_t log2 = 10;
  for (absl::string_view kv : absl::StrSplit(args, ',')) {
    kv = absl::StripAsciiWhitespace(kv);
    if (!absl::ConsumePrefix(&kv, "rsize=")) continue;
    uint32_t v;
    if (absl::SimpleAtoi(kv, &v) && v <= 14) log2 = v;  // the PMD refuses anything else
  }
  return std::max(descriptors, 1u << log2);
}

}  // namespace natgw::dataplane

#endif  // NATGW_LIB_DATAPLANE_CONFIG_TEXT_H_
