// IPFIX export of NAT events (RFC 7011 message format, RFC 8158 information elements). The
// encoder is pure (bytes in, bytes out) so that tests decode its messages; IpfixSender sends
// them over UDP without blocking the control thread.
#ifndef NATGW_LIB_TELEMETRY_IPFIX_H_
#define NATGW_LIB_TELEMETRY_IPFIX_H_

#include <netinet/in.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace natgw::telemetry {

// natEvent values (IANA "natEvent" registry, RFC 8158 section 4.1).
enum class NatEvent : uint8_t {
  kSessionCreate = 1,       // NAT44 session create
  kSessionDelete = 2,       // NAT44 session delete
  kAddressesExhausted = 3,  // NAT addresses exhausted
  kPortsExhausted = 10,     // NAT ports exhausted
  kQuotaExceeded = 11,
  kAddressBindingCreate = 12,
  kAddressBindingDelete = 13,
  kPortBlockAllocation = 14,
  kPortBlockDeallocation = 15,
};

// Template ids (data set ids) natgw uses; each lists its fields in ipfix.cc.
inline constexpr uint16_t kTemplateSession = 256;        // session create/delete
inline constexpr uint16_t kTemplatePortsExhausted = 257;
inline constexpr uint16_t kTemplatePortBlock = 258;      // port block allocation/deallocation
inline constexpr uint16_t kTemplateAddressBinding = 259; // pod got / lost a unique address
inline constexpr uint16_t kTemplateQuotaExceeded = 260;  // max entries per user (pod)
// natQuotaExceededEvent values (RFC 8158 section 4.1.1).
inline constexpr uint32_t kQuotaMaxEntriesPerUser = 3;

// Every field a natgw data record may carry; each template uses a subset. Addresses in network
// order, ports in host order.
struct IpfixRecord {
  uint16_t template_id = kTemplateSession;
  int64_t time_ms = 0;        // observationTimeMilliseconds (323)
  NatEvent event = NatEvent::kSessionCreate;  // natEvent (230)
  uint8_t proto = 0;          // protocolIdentifier (4)
  uint32_t src_ip = 0;        // sourceIPv4Address (8): the pod
  uint16_t src_port = 0;      // sourceTransportPort (7)
  uint32_t dst_ip = 0;        // destinationIPv4Address (12): the remote as the pod sees it
  uint16_t dst_port = 0;      // destinationTransportPort (11)
  uint32_t post_src_ip = 0;   // postNATSourceIPv4Address (225): the external address
  uint16_t post_src_port = 0; // postNAPTSourceTransportPort (227)
  uint32_t post_dst_ip = 0;   // postNATDestinationIPv4Address (226): the remote
  uint16_t post_dst_port = 0; // postNAPTDestinationTransportPort (228)
  uint32_t vrf = 0;           // ingressVRFID (234): the island id
  uint64_t initiator_packets = 0;  // initiatorPackets (298)
  uint64_t responder_packets = 0;  // responderPackets (299)
  uint64_t initiator_octets = 0;   // initiatorOctets (231)
  uint64_t responder_octets = 0;   // responderOctets (232)
  uint32_t pool_id = 0;            // natPoolId (283)
  uint16_t port_range_start = 0;   // portRangeStart (361)
  uint16_t port_range_end = 0;     // portRangeEnd (362)
  uint16_t port_range_step = 1;    // portRangeStepSize (363)
  uint16_t port_range_ports = 0;   // portRangeNumPorts (364)
  uint32_t quota_event = 0;        // natQuotaExceededEvent (466)
  uint32_t max_entries_per_user = 0;  // maxEntriesPerUser (473)
};

// Builds IPFIX messages for one observation domain. Not thread-safe (control thread).
class IpfixEncoder {
 public:
  IpfixEncoder(uint32_t observation_domain, uint32_t template_interval_s, size_t max_message = 1400)
      : domain_(observation_domain), template_interval_s_(template_interval_s),
        max_message_(max_message) {}

  void Add(const IpfixRecord& r) { pending_.push_back(r); }
  void set_template_interval(uint32_t seconds) { template_interval_s_ = seconds; }
  // Encodes the pending records into messages (at most max_message bytes each, sequence numbers
  // counting data records per RFC 7011 section 3.1), with the template set first when
  // `export_time_s` is template_interval_s past the last time templates were sent.
  std::vector<std::vector<uint8_t>> Flush(uint32_t export_time_s);

 private:
  uint32_t domain_;
  uint32_t template_interval_s_;
  size_t max_message_;
  uint32_t sequence_ = 0;
  int64_t templates_sent_s_ = -1;
  std::vector<IpfixRecord> pending_;
};

// A non-blocking UDP socket that sends to the collector.
class IpfixSender {
 public:
  static absl::StatusOr<IpfixSender> Connect(uint32_t ip_be, uint16_t port);
  IpfixSender(IpfixSender&& o) noexcept : fd_(o.fd_), to_(o.to_) { o.fd_ = -1; }
  IpfixSender& operator=(IpfixSender&&) = delete;
  ~IpfixSender();
  // False when the message could not be sent (counted by the caller).
  bool Send(const std::vector<uint8_t>& message);

 private:
  IpfixSender(int fd, const sockaddr_in& to) : fd_(fd), to_(to) {}
  int fd_;
  sockaddr_in to_;
};

}  // namespace natgw::telemetry

#endif  // NATGW_LIB_TELEMETRY_IPFIX_H_
