// Small helpers for the dataplane's control-side messages. Control thread only (allocate).
#ifndef NATGW_LIB_DATAPLANE_CONFIG_TEXT_H_
#define NATGW_LIB_DATAPLANE_CONFIG_TEXT_H_

#include <rte_byteorder.h>
#include <rte_ether.h>

#include <string>

#include "absl/strings/str_cat.h"
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

}  // namespace natgw::dataplane

#endif  // NATGW_LIB_DATAPLANE_CONFIG_TEXT_H_
