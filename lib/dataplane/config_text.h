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

// How many of our mbufs one queue of an interface can hold, for sizing the mbuf pool: the
// descriptors asked for at queue setup, except on a zero-copy net_memif client
// (zero-copy=yes; a server always copies), which ignores that count and fills rings of 2^rsize
// slots (its own vdev argument, 10 unless given, 1..14) with our mbufs. A copying memif's slots
// hold its shared memory, not mbufs.
inline uint32_t QueueFrames(absl::string_view driver, absl::string_view args,
                            uint32_t descriptors) {
  if (driver != "net_memif") return descriptors;
  uint32_t log2 = 10;
  bool zero_copy = false, server = false;
  for (absl::string_view kv : absl::StrSplit(args, ',')) {
    kv = absl::StripAsciiWhitespace(kv);
    if (kv == "zero-copy=yes") zero_copy = true;
    if (kv == "role=server") server = true;
    if (!absl::ConsumePrefix(&kv, "rsize=")) continue;
    uint32_t v;
    // (The PMD reads the number with strtoul, so "12abc" is 12 to it and the default here.)
    if (absl::SimpleAtoi(kv, &v) && v >= 1 && v <= 14) log2 = v;
  }
  if (!zero_copy || server) return descriptors;
  return std::max(descriptors, 1u << log2);
}

}  // namespace natgw::dataplane

#endif  // NATGW_LIB_DATAPLANE_CONFIG_TEXT_H_
