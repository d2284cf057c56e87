// The fixed-size key of the session table.
#ifndef NATGW_LIB_CONNTRACK_FLOW_KEY_H_
#define NATGW_LIB_CONNTRACK_FLOW_KEY_H_

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace natgw::conntrack {

// The realm of a key: an island id (0..kMaxIslands-1) for keys seen on an inside port, or
// kOutsideRealm for keys seen on the outside.
inline constexpr uint16_t kOutsideRealm = 0xffff;

// A flow as seen on one side of the gateway. Addresses and ports are in network byte order, as on
// the wire. For ICMP query messages both ports hold the ICMP identifier. Padding-free: two keys
// are equal iff their 16 bytes are equal.
struct FlowKey {
  uint32_t src_ip;
  uint32_t dst_ip;
  uint16_t src_port;
  uint16_t dst_port;
  uint16_t realm;
  uint8_t proto;
  uint8_t flags;  // 0 for flow keys; kBindingKey for endpoint-independent binding keys

  friend bool operator==(const FlowKey& a, const FlowKey& b) {
    uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, &a, 8);
    std::memcpy(&a1, reinterpret_cast<const char*>(&a) + 8, 8);
    std::memcpy(&b0, &b, 8);
    std::memcpy(&b1, reinterpret_cast<const char*>(&b) + 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
};
static_assert(sizeof(FlowKey) == 16, "FlowKey must be 16 bytes with no padding");
static_assert(std::has_unique_object_representations_v<FlowKey>, "FlowKey must have no padding");
static_assert(std::is_trivially_copyable_v<FlowKey>);

inline constexpr uint8_t kBindingKey = 0x01;

}  // namespace natgw::conntrack

#endif  // NATGW_LIB_CONNTRACK_FLOW_KEY_H_
