// Internals of the conf-file parser, shared by its three steps:
//   config_reader.cc   TOML -> RawConfig: syntax, unknown keys, types, single-value checks
//                      (config_table.h: typed access to one TOML table)
//   config_validate.cc RawConfig -> GatewayConfig: names resolved, cross-checks, overlaps
//   config_parser.cc   LoadConfigFile / ParseConfig: the two steps, then MappingTable::Build
// Every error reads "FILE:LINE: <section>: <what is wrong>; <how to fix it>".
#ifndef NATGW_LIB_CONTROL_CONFIG_INTERNAL_H_
#define NATGW_LIB_CONTROL_CONFIG_INTERNAL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/control/gateway_config.h"
#include "lib/nat/nat_config.h"

#define NATGW_CONFIG_RETURN_IF_ERROR(expr)              \
  do {                                                  \
    if (absl::Status status_ = (expr); !status_.ok()) { \
      return status_;                                   \
    }                                                   \
  } while (0)

namespace natgw::control::internal {

// Formats errors for one source file.
class Errors {
 public:
  explicit Errors(std::string source) : source_(std::move(source)) {}
  const std::string& source() const { return source_; }
  // "FILE:LINE: section: what; fix" as InvalidArgument.
  absl::Status At(int line, absl::string_view section, absl::string_view what,
                  absl::string_view fix) const;

 private:
  std::string source_;
};

// Where a table and its keys were written.
struct Lines {
  int table = 0;
  absl::flat_hash_map<std::string, int> keys;
  // The line of `key`, or of the table if the key was not written.
  int operator()(absl::string_view key) const;
};

// ---- Values (config_values.cc) ----

std::string FormatIp(uint32_t ip_be);
std::string FormatCidr(const nat::Cidr& cidr);
// Strict dotted quad: four decimal parts 0..255 without leading zeros.
bool ParseIp(absl::string_view text, uint32_t* ip_be);
// "a.b.c.d" or "a.b.c.d/len". `len` is -1 when there is no "/len". False on bad syntax or a
// length over 32.
bool ParseIpAndPrefix(absl::string_view text, uint32_t* ip_be, int* len);
uint32_t PrefixMask(int len);  // host order
nat::Cidr MaskedCidr(uint32_t ip_be, int len);
// First and last address of a CIDR, host order.
uint32_t FirstHost(const nat::Cidr& c);
uint32_t LastHost(const nat::Cidr& c);
bool CidrsOverlap(const nat::Cidr& a, const nat::Cidr& b);
// "0,1", "0-2,4", "0,1@1,2@1": lcore ids in the order written, and in `cpus` the CPU each runs
// on (its own id, or the CPU after '@': "A-B@C" runs lcores A..B on CPU C). On error, `why`
// says what is wrong.
bool ParseLcores(absl::string_view text, uint32_t max_lcore, std::vector<uint32_t>* out,
                 std::vector<uint32_t>* cpus, std::string* why);
// "0000:03:00.0" or "03:00.0".
bool IsPciAddress(absl::string_view device);
// "net_af_packet0", "net_memif0", ...: "net_" then lower-case letters, digits and '_'.
bool IsVdevName(absl::string_view device);
// Names of gateways, interfaces, islands and pools: 1..63 of [A-Za-z0-9._-].
bool IsPlainName(absl::string_view name);
// The candidate closest to `word` by edit distance if it is close enough to be a typo, else "".
absl::string_view ClosestMatch(absl::string_view word,
                               const std::vector<absl::string_view>& options);

// ---- What the reader produces ----

struct RawInterface {
  InterfaceConfig cfg;  // island id not yet resolved
  std::string island;   // island name, "" if absent
  Lines at;
};

struct RawIsland {
  nat::IslandConfig cfg;  // gateway_ip not yet known
  Lines at;
};

struct RawPool {
  PoolConfig cfg;                // island id not yet resolved
  std::string island;            // "" if absent
  std::vector<int> range_lines;  // parallel to cfg.ranges
  Lines at;
};

struct RawMapping {
  nat::PodMappingConfig cfg;
  std::string island;
  Lines at;
};

struct RawBackend {
  nat::BackendConfig cfg;
  std::string island;
  Lines at;
};

struct RawService {
  nat::ServiceConfig cfg;  // backends filled in by the validator
  std::vector<RawBackend> backends;
  Lines at;
};

struct RawRoute {
  RouteConfig cfg;
  Lines at;
};

struct RawCluster {
  ClusterConfig cfg;
  std::string island;
  Lines at;
};

struct RawConfig {
  // [gateway], [dpdk], [timeouts] and [limits], defaults applied; the rest is filled in by the
  // validator.
  GatewayConfig base;
  Lines gateway_at;
  Lines dpdk_at;
  std::vector<RawInterface> interfaces;
  std::vector<RawIsland> islands;
  std::vector<RawPool> pools;
  std::vector<RawMapping> mappings;
  std::vector<RawService> services;
  std::vector<RawRoute> routes;
  std::vector<RawCluster> clusters;
  Lines allocation_at;
  Lines event_log_at;
};

absl::StatusOr<RawConfig> ReadToml(std::string_view text, const Errors& errors);
absl::StatusOr<GatewayConfig> Validate(RawConfig raw, const Errors& errors);

}  // namespace natgw::control::internal

#endif  // NATGW_LIB_CONTROL_CONFIG_INTERNAL_H_
