// Forensic lookup over the translation event log: which pod held external address (and port) X
// at time T. Reads the log's files (the live one and its rotated copies) line by line; used by
// the gateway (`natgwctl lookup X --at T`) and offline by natgwctl (`--event_log PATH`).
// No DPDK: natgwctl links it.
#ifndef NATGW_LIB_TELEMETRY_EVENT_LOOKUP_H_
#define NATGW_LIB_TELEMETRY_EVENT_LOOKUP_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace natgw::telemetry {

// RFC 3339 time ("2026-11-26T10:15:00Z", fractions and "+01:00" offsets too) -> Unix ms.
absl::StatusOr<int64_t> ParseTime(std::string_view text);
// Unix ms -> "2026-11-26T10:15:00.123Z".
std::string FormatTime(int64_t unix_ms);

// "ip:port" (TCP, UDP), "ip#id" (ICMP echo) or "ip" (other protocols), as the log writes
// endpoints. Address and port in network order.
std::string FormatEndpoint(uint32_t ip_be, uint16_t port_be, uint8_t proto);

// The files of the log at `path`, oldest first: PATH.N .. PATH.1, PATH (those that exist).
std::vector<std::string> EventLogFiles(const std::string& path);

struct LookupQuery {
  uint32_t ip = 0;    // external address, network order
  uint16_t port = 0;  // host order; 0 = any port
  int64_t at_ms = 0;
};
// "IP" or "IP:PORT" -> query address and port; an error that says what is wrong.
absl::Status ParseLookupTarget(std::string_view text, LookupQuery* q);

// One holder of the address at the time asked.
struct Holder {
  std::string source;  // "live" (the session table) or "event_log"
  std::string record;  // "session", "port_block" or "mapping"
  std::string island, ns, name, uid, pod_ip;
  std::string proto;     // sessions only
  std::string inside;    // pod endpoint (sessions), pod address otherwise
  std::string external;  // external endpoint, "IP:FIRST-LAST" for blocks, IP for mappings
  std::string remote;    // sessions only
  int64_t from_ms = 0;
  int64_t until_ms = -1;  // -1: still held when the log ends (or now)
};

// Scans the log files of `path` for holders of q.ip (and q.port) at q.at_ms. Missing files are
// not an error (an empty answer); unreadable ones are. Lines that are not JSON are skipped.
absl::StatusOr<std::vector<Holder>> LookupInLog(const std::string& path, const LookupQuery& q);

// The answer for humans, or as JSON ({"query":..., "at":..., "holders":[...]}).
std::string RenderLookup(std::string_view target, const LookupQuery& q,
                         const std::vector<Holder>& holders, bool json);

}  // namespace natgw::telemetry

#endif  // NATGW_LIB_TELEMETRY_EVENT_LOOKUP_H_
