// LoadConfigFile / ParseConfig: reads the TOML (config_reader.cc), validates it
// (config_validate.cc), then lets the engine's own MappingTable::Build check the result.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "lib/control/config_internal.h"
#include "lib/control/gateway_config.h"
#include "lib/nat/mapping_table.h"
#include "lib/nat/port_allocator.h"

namespace natgw::control {

absl::StatusOr<GatewayConfig> ParseConfig(std::string_view text, const std::string& source) {
  internal::Errors errors(source);
  absl::StatusOr<internal::RawConfig> raw = internal::ReadToml(text, errors);
  if (!raw.ok()) return raw.status();
  absl::StatusOr<GatewayConfig> config = internal::Validate(std::move(*raw), errors);
  if (!config.ok()) return config.status();
  config->source = source;

  // The engine's checks, on a throwaway registry (it only records pool addresses).
  nat::PortAllocatorRegistry registry(config->engine.num_workers);
  auto table = nat::MappingTable::Build(config->nat, 0, &registry);
  if (!table.ok()) {
    return absl::Status(table.status().code(),
                        absl::StrCat(source, ": ", table.status().message()));
  }
  return config;
}

absl::StatusOr<GatewayConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open the conf file: ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat(path, ": cannot read the conf file"));
  }
  return ParseConfig(text.str(), path);
}

NameDefaults DefaultsForName(const std::string& name) {
  return {absl::StrCat("/run/natgw/", name, ".sock"), absl::StrCat("natgw-", name),
          absl::StrCat("/var/lib/natgw/", name, ".allocations.json"),
          absl::StrCat("/var/log/natgw/", name, ".events.jsonl")};
}

std::string IslandName(const GatewayConfig& c, uint16_t id) {
  if (id == conntrack::kOutsideRealm) return "outside";
  if (id < c.island_names.size() && !c.island_names[id].empty()) return c.island_names[id];
  for (const auto& i : c.nat.islands) {
    if (i.id == id && !i.name.empty()) return i.name;
  }
  return absl::StrCat(id);
}

}  // namespace natgw::control
