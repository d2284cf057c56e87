// The immutable translation policy the workers read. The control thread builds a new table from a
// NatConfig (validating it), and the engine publishes it by RCU pointer swap; workers only ever
// read a table. Lookups here are for the slow path (session creation) and revalidation.
#ifndef NATGW_LIB_NAT_MAPPING_TABLE_H_
#define NATGW_LIB_NAT_MAPPING_TABLE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "lib/nat/maglev.h"
#include "lib/nat/nat_config.h"

namespace natgw::nat {

class PortAllocatorRegistry;

struct IslandEntry {
  bool present = false;
  std::vector<Cidr> pod_cidrs;
  uint32_t gateway_ip = 0;
  int pool = -1;  // index into MappingTable::pools(), -1 if the island has no egress pool
};

struct PoolEntry {
  uint16_t island = 0;
  std::vector<uint32_t> addresses;
  std::vector<uint16_t> allocator_ids;  // PortAllocatorRegistry ids, parallel to addresses
  Filtering filtering = Filtering::kAddressAndPortDependent;
};

struct ServiceEntry {
  std::string name;
  std::vector<BackendConfig> backends;  // ready ones; Maglev picks among these
  std::vector<BackendConfig> draining;  // keep their sessions, get no new ones
  std::shared_ptr<const Maglev> maglev;  // shared with the previous table when unchanged
};

// What an external (outside-realm) address belongs to.
enum class OwnedKind : uint8_t { kPodAddress, kPoolAddress, kVip, kGateway };

class MappingTable {
 public:
  // Validates `config` (islands exist, pod addresses inside their island's CIDRs, no external
  // address used twice across unique addresses, pools, VIPs and gateway addresses, sane ports) and
  // builds the lookup structures. New pool addresses get port allocators from `registry`.
  // `previous` (the running table, may be null) lends its Maglev tables to services whose ready
  // backends did not change, so a cluster event does not recompute a thousand of them.
  static absl::StatusOr<std::unique_ptr<const MappingTable>> Build(
      const NatConfig& config, uint16_t generation, PortAllocatorRegistry* registry,
      const MappingTable* previous = nullptr);

  uint16_t generation() const { return generation_; }
  const NatConfig& config() const { return config_; }

  const IslandEntry* island(uint16_t id) const {
    return id < kMaxIslands && islands_[id].present ? &islands_[id] : nullptr;
  }
  bool IsPodSource(uint16_t island, uint32_t ip) const;

  // 1:1 mappings. Return 0 if none.
  uint32_t ExternalForPod(uint16_t island, uint32_t pod_ip) const;
  struct PodRef {
    uint16_t island;
    uint32_t pod_ip;
  };
  const PodRef* PodForExternal(uint32_t external_ip) const;

  // Who holds pod address `pod_ip` of `island` now (the pod directory, NatConfig::pods, then the
  // static 1:1 mappings, whose "namespace/name" is split), or nullptr if nobody is known.
  // Control thread only (the pod directory changes under it).
  const PodIdentity* FindPod(uint16_t island, uint32_t pod_ip) const;
  // The holder of a pod address changed (NatConfig::departures): when, and the generation of the
  // first table that knew it. A session last found valid by an older table is the departed pod's.
  struct Departure {
    uint32_t at_s = 0;
    uint16_t generation = 0;
    // Older than kDepartureHorizon generations: kept only so that the next table knows it is not
    // new.
    bool stale = false;
  };
  // A departure this many generations older than the table no longer counts: by then the sweep
  // has judged every session made before it (a pass takes seconds, a reload milliseconds; session
  // generations are 16-bit and compared within half their range).
  static constexpr uint16_t kDepartureHorizon = 16384;
  // The last departure from pod address `pod_ip` of `island` that still counts, or nullptr.
  const Departure* FindDeparture(uint16_t island, uint32_t pod_ip) const {
    if (departures_.empty()) return nullptr;
    auto it = departures_.find((uint64_t{island} << 32) | pod_ip);
    return it == departures_.end() || it->second.stale ? nullptr : &it->second;
  }

  const PoolEntry* pool(int index) const { return index < 0 ? nullptr : &pools_[index]; }
  // The pool of an island address (paired pooling: a pod always gets the same address).
  // Returns the index into PoolEntry::addresses.
  uint32_t PairedAddressIndex(const PoolEntry& pool, uint16_t island, uint32_t pod_ip) const;
  // Pool index and address index of a pool address, or false.
  bool FindPoolAddress(uint32_t ip, int* pool, uint32_t* addr_index) const;

  const ServiceEntry* FindService(uint32_t vip, uint8_t proto, uint16_t port_be) const;

  // Kind of an outside-realm address owned by this gateway; false if not owned.
  bool Owned(uint32_t ip, OwnedKind* kind) const;
  bool IsOwned(uint32_t ip) const { return owned_.contains(ip); }

 private:
  MappingTable() = default;
  static uint64_t ServiceKey(uint32_t vip, uint8_t proto, uint16_t port_be) {
    return (uint64_t{vip} << 32) | (uint64_t{proto} << 16) | port_be;
  }

  uint16_t generation_ = 0;
  NatConfig config_;
  std::array<IslandEntry, kMaxIslands> islands_;
  absl::flat_hash_map<uint64_t, uint32_t> pod_to_external_;  // (island << 32 | ip) -> external
  absl::flat_hash_map<uint32_t, PodRef> external_to_pod_;
  absl::flat_hash_map<uint64_t, PodIdentity> pods_;
  absl::flat_hash_map<uint64_t, Departure> departures_;  // (island << 32 | ip) -> last departure
  std::vector<PoolEntry> pools_;
  absl::flat_hash_map<uint32_t, std::pair<int, uint32_t>> pool_addresses_;
  absl::flat_hash_map<uint64_t, ServiceEntry> services_;
  absl::flat_hash_map<uint32_t, OwnedKind> owned_;
};

}  // namespace natgw::nat

#endif  // NATGW_LIB_NAT_MAPPING_TABLE_H_
