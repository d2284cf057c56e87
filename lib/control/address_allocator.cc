#include "lib/control/address_allocator.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/control/kube_objects.h"
#include "nlohmann/json.hpp"

namespace natgw::control {
namespace {

constexpr int64_t kNeverUsed = std::numeric_limits<int64_t>::min();
constexpr int kStateVersion = 1;

std::string Ip(uint32_t ip_be) {
  char buf[INET_ADDRSTRLEN];
  in_addr a{ip_be};
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return buf;
}

}  // namespace

AddressAllocator::AddressAllocator(std::vector<Pool> pools, uint32_t quarantine_s)
    : quarantine_s_(quarantine_s) {
  for (Pool& p : pools) {
    PoolState& s = pools_[p.name];
    for (uint32_t a : p.addresses) {
      s.addresses.push_back(a);
      s.free.emplace(kNeverUsed, a);
      pool_of_[a] = p.name;
    }
  }
}

void AddressAllocator::Reserve(uint32_t address) {
  auto it = pool_of_.find(address);
  if (it == pool_of_.end() || !reserved_.insert(address).second) return;
  PoolState& p = pools_[it->second];
  for (auto f = p.free.begin(); f != p.free.end(); ++f) {
    if (f->second == address) {
      p.free.erase(f);
      break;
    }
  }
  // Its last owner must not get it back as its own previous address.
  if (auto r = released_.find(address); r != released_.end()) {
    auto last = last_of_owner_.find(r->second.owner);
    if (last != last_of_owner_.end() && last->second == address) last_of_owner_.erase(last);
    released_.erase(r);
  }
}

void AddressAllocator::SetReserved(const absl::flat_hash_set<uint32_t>& addresses, int64_t now) {
  std::vector<uint32_t> gone;
  for (uint32_t a : reserved_) {
    if (!addresses.contains(a)) gone.push_back(a);
  }
  for (uint32_t a : gone) {
    reserved_.erase(a);
    if (by_address_.contains(a)) continue;  // (held before it was reserved: stays its owner's)
    PoolState& p = pools_[pool_of_.at(a)];  // only pool addresses are ever reserved
    auto old = released_.find(a);
    if (old != released_.end()) p.free.erase({old->second.at, a});
    p.free.erase({kNeverUsed, a});
    p.free.emplace(now, a);
    released_[a] = Released{now, ""};
    dirty_ = true;
  }
  for (uint32_t a : addresses) Reserve(a);
}

void AddressAllocator::Take(PoolState& p, uint32_t address) {
  auto r = released_.find(address);
  int64_t at = kNeverUsed;
  if (r != released_.end()) {
    at = r->second.at;
    auto last = last_of_owner_.find(r->second.owner);
    if (last != last_of_owner_.end() && last->second == address) last_of_owner_.erase(last);
    released_.erase(r);
  }
  p.free.erase({at, address});
}

bool AddressAllocator::Quarantined(uint32_t address, int64_t now) const {
  auto r = released_.find(address);
  return r != released_.end() && r->second.at + quarantine_s_ > now;
}

absl::StatusOr<uint32_t> AddressAllocator::Acquire(const std::string& pool,
                                                   const std::string& owner,
                                                   const std::string& label, uint32_t want,
                                                   int64_t now) {
  auto pit = pools_.find(pool);
  if (pit == pools_.end()) return absl::NotFoundError(absl::StrCat("no pool ", pool));
  PoolState& p = pit->second;
  if (auto held = by_owner_.find(owner); held != by_owner_.end()) {
    if (held->second.pool == pool && (want == 0 || want == held->second.address)) {
      return held->second.address;
    }
    Release(owner, now);  // it asks for another address or pool now
  }
  uint32_t pick = 0;
  if (want != 0) {
    auto in = pool_of_.find(want);
    if (in == pool_of_.end() || in->second != pool) {
      return absl::FailedPreconditionError(
          absl::StrCat(Ip(want), " is not an address of pool ", pool));
    }
    if (reserved_.contains(want)) {
      return absl::FailedPreconditionError(
          absl::StrCat(Ip(want), " is used by a static mapping or service of the conf file"));
    }
    if (auto other = by_address_.find(want); other != by_address_.end()) {
      const Allocation& a = by_owner_.at(other->second);
      return absl::FailedPreconditionError(
          absl::StrCat(Ip(want), " is held by ", a.label, " (", a.owner, ")"));
    }
    auto r = released_.find(want);
    if (r != released_.end() && r->second.owner != owner && Quarantined(want, now)) {
      const std::string why = r->second.owner.empty()
                                  ? "the conf file stopped using it"
                                  : absl::StrCat(r->second.owner, " released it");
      return absl::FailedPreconditionError(absl::StrCat(Ip(want), " is quarantined for ",
                                                        r->second.at + quarantine_s_ - now,
                                                        " more seconds after ", why));
    }
    pick = want;
  } else {
    // Its own previous address first (a pod that flapped keeps its address), else the
    // longest-free address that is out of quarantine.
    if (auto prev = last_of_owner_.find(owner);
        prev != last_of_owner_.end() && pool_of_.at(prev->second) == pool &&
        !reserved_.contains(prev->second) && !by_address_.contains(prev->second)) {
      pick = prev->second;
    }
    if (pick == 0 && !p.free.empty() && p.free.begin()->first + int64_t{quarantine_s_} <= now) {
      pick = p.free.begin()->second;
    }
    if (pick == 0) {
      ++p.exhausted;
      return absl::ResourceExhaustedError(
          absl::StrCat("pool ", pool, " has no free address (", p.free.size(), " of ",
                       p.addresses.size(), " are in quarantine or reserved, the rest in use)"));
    }
  }
  Take(p, pick);
  Allocation a{owner, label, pool, pick, now};
  by_address_[pick] = owner;
  by_owner_[owner] = std::move(a);
  dirty_ = true;
  return pick;
}

void AddressAllocator::Release(const std::string& owner, int64_t now) {
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return;
  const Allocation& a = it->second;
  by_address_.erase(a.address);
  if (!reserved_.contains(a.address)) {  // (made static meanwhile: it stays out of the pool)
    released_[a.address] = Released{now, owner};
    last_of_owner_[owner] = a.address;
    pools_[a.pool].free.emplace(now, a.address);
  }
  by_owner_.erase(it);
  dirty_ = true;
}

const AddressAllocator::Allocation* AddressAllocator::Find(const std::string& owner) const {
  auto it = by_owner_.find(owner);
  return it == by_owner_.end() ? nullptr : &it->second;
}

std::vector<std::string> AddressAllocator::OwnersWithPrefix(const std::string& prefix) const {
  std::vector<std::string> out;
  for (const auto& [owner, a] : by_owner_) {
    if (absl::StartsWith(owner, prefix)) out.push_back(owner);
  }
  return out;
}

std::vector<AddressAllocator::Usage> AddressAllocator::PoolUsage(int64_t now) const {
  std::vector<Usage> out;
  for (const auto& [name, p] : pools_) {
    Usage u;
    u.pool = name;
    u.exhausted = p.exhausted;
    for (uint32_t a : p.addresses) {
      if (reserved_.contains(a)) continue;
      ++u.size;
      if (by_address_.contains(a)) {
        ++u.in_use;
      } else if (Quarantined(a, now)) {
        ++u.quarantined;
      }
    }
    out.push_back(u);
  }
  return out;
}

std::string AddressAllocator::Load(const std::string& path, int64_t now) {
  std::ifstream f(path);
  if (!f) {
    return absl::StrCat("allocation state ", path, " not found: starting empty; addresses are "
                        "allocated afresh from cluster state");
  }
  std::stringstream ss;
  ss << f.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.value("version", 0) != kStateVersion ||
      !j.contains("allocations") || !j["allocations"].is_array()) {
    dirty_ = true;
    return absl::StrCat("allocation state ", path, " is corrupt or of another version: ignored; "
                        "addresses are rebuilt from cluster state");
  }
  size_t restored = 0, dropped = 0, quarantined = 0;
  auto address_of = [&](const nlohmann::json& e) -> uint32_t {
    if (!e.is_object() || !e.contains("address") || !e["address"].is_string()) return 0;
    return kube::ParseIpv4(e["address"].get<std::string>()).value_or(0);
  };
  for (const auto& e : j["allocations"]) {
    uint32_t addr = address_of(e);
    std::string owner = e.value("owner", ""), pool = e.value("pool", "");
    auto in = pool_of_.find(addr);
    if (addr == 0 || owner.empty() || in == pool_of_.end() || in->second != pool ||
        reserved_.contains(addr) || by_address_.contains(addr) || by_owner_.contains(owner)) {
      ++dropped;
      continue;
    }
    Take(pools_[pool], addr);
    by_address_[addr] = owner;
    by_owner_[owner] =
        Allocation{owner, e.value("label", ""), pool, addr, e.value("since", int64_t{0})};
    ++restored;
  }
  if (j.contains("released") && j["released"].is_array()) {
    for (const auto& e : j["released"]) {
      uint32_t addr = address_of(e);
      int64_t at = e.value("at", int64_t{0});
      auto in = pool_of_.find(addr);
      if (addr == 0 || in == pool_of_.end() || by_address_.contains(addr) ||
          reserved_.contains(addr) || at + int64_t{quarantine_s_} <= now) {
        continue;
      }
      PoolState& p = pools_[in->second];
      p.free.erase({kNeverUsed, addr});
      p.free.emplace(at, addr);
      released_[addr] = Released{at, e.value("owner", "")};
      if (!released_[addr].owner.empty()) last_of_owner_[released_[addr].owner] = addr;
      ++quarantined;
    }
  }
  dirty_ = dropped > 0;
  return absl::StrCat("allocation state ", path, ": ", restored, " addresses restored, ",
                      quarantined, " still quarantined",
                      dropped > 0 ? absl::StrCat(", ", dropped,
                                                 " dropped (pool or address no longer "
                                                 "in the conf, or used by it)")
                                  : "");
}

absl::Status AddressAllocator::Save(const std::string& path) {
  if (!dirty_) return absl::OkStatus();
  nlohmann::json j;
  j["version"] = kStateVersion;
  j["allocations"] = nlohmann::json::array();
  for (const auto& [owner, a] : by_owner_) {
    j["allocations"].push_back({{"owner", owner},
                                {"label", a.label},
                                {"pool", a.pool},
                                {"address", Ip(a.address)},
                                {"since", a.since}});
  }
  j["released"] = nlohmann::json::array();
  for (const auto& [addr, r] : released_) {
    j["released"].push_back({{"address", Ip(addr)}, {"owner", r.owner}, {"at", r.at}});
  }
  const std::string text = j.dump(1) + "\n";
  if (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
    std::string dir = path.substr(0, slash);
    for (size_t i = 1; i <= dir.size(); ++i) {  // mkdir -p, 0755
      if (i == dir.size() || dir[i] == '/') mkdir(dir.substr(0, i).c_str(), 0755);
    }
  }
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot write allocation state ", tmp, ": ", std::strerror(errno)));
  }
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return absl::UnavailableError(
          absl::StrCat("cannot write allocation state ", tmp, ": ", std::strerror(err)));
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot save allocation state ", path, ": ", std::strerror(err)));
  }
  dirty_ = false;
  return absl::OkStatus();
}

}  // namespace natgw::control
