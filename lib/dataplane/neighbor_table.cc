#include "lib/dataplane/neighbor_table.h"

#include <rte_hash_crc.h>
#include <rte_pause.h>

#include <algorithm>
#include <cstring>

namespace natgw::dataplane {
namespace {

uint64_t PackMac(const rte_ether_addr& mac) {
  uint64_t v = 0;
  std::memcpy(&v, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
  return v;
}

rte_ether_addr UnpackMac(uint64_t v) {
  rte_ether_addr mac;
  std::memcpy(mac.addr_bytes, &v, RTE_ETHER_ADDR_LEN);
  return mac;
}

uint64_t Age(uint64_t since, uint64_t now) { return now > since ? now - since : 0; }

constexpr int kReadRetries = 16;

}  // namespace

NeighborTable::NeighborTable(const NeighborTableConfig& config) : config_(config) {
  uint32_t n = 16;
  while (n < config.slots) n <<= 1;
  mask_ = n - 1;
  slots_ = std::make_unique<Slot[]>(n);
  reachable_tsc_ = config.hz * config.reachable_s;
  expire_tsc_ = config.hz * std::max(config.expire_s, config.reachable_s);
  incomplete_tsc_ = config.hz * config.incomplete_s;
  interval_tsc_ = config.hz * config.request_interval_ms / 1000;
}

uint32_t NeighborTable::Home(uint64_t key) const { return rte_hash_crc_8byte(key, 0) & mask_; }

bool NeighborTable::Read(uint32_t i, uint64_t* key, uint64_t* mac, uint64_t* since) const {
  const Slot& s = slots_[i];
  for (int tries = 0; tries < kReadRetries; ++tries) {
    const uint32_t s1 = s.seq.load(std::memory_order_acquire);
    if (s1 & 1) {
      rte_pause();
      continue;
    }
    *key = s.key.load(std::memory_order_relaxed);
    *mac = s.mac.load(std::memory_order_relaxed);
    *since = s.since_tsc.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (s.seq.load(std::memory_order_relaxed) == s1) return true;
  }
  return false;
}

bool NeighborTable::TryLock(uint32_t i, uint32_t* seq) {
  Slot& s = slots_[i];
  uint32_t cur = s.seq.load(std::memory_order_relaxed);
  if (cur & 1) return false;
  if (!s.seq.compare_exchange_strong(cur, cur + 1, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
    return false;
  }
  std::atomic_thread_fence(std::memory_order_release);
  *seq = cur + 1;
  return true;
}

void NeighborTable::Unlock(uint32_t i, uint32_t seq) {
  slots_[i].seq.store(seq + 1, std::memory_order_release);
}

NeighborTable::Result NeighborTable::Decode(uint32_t i, uint64_t mac, uint64_t since,
                                            uint64_t now_tsc) const {
  Result r;
  r.slot = i;
  r.state = State::kIncomplete;
  if (mac & kResolved) {
    const uint64_t age = Age(since, now_tsc);
    if (age < expire_tsc_) {
      r.state = age < reachable_tsc_ ? State::kReachable : State::kStale;
      r.mac = UnpackMac(mac);
      r.reachable_until_tsc = since + reachable_tsc_;
    }
  }
  return r;
}

bool NeighborTable::Evictable(uint64_t mac, uint64_t since, uint64_t now_tsc) const {
  const uint64_t age = Age(since, now_tsc);
  return (mac & kResolved) ? age >= expire_tsc_ : age >= incomplete_tsc_;
}

NeighborTable::Result NeighborTable::Probe(uint64_t key, uint64_t now_tsc,
                                           uint32_t* free_slot) const {
  uint32_t empty = kNoSlot;
  uint32_t victim = kNoSlot;
  uint64_t victim_age = 0;
  bool busy = false;
  const uint32_t home = Home(key);
  for (uint32_t p = 0; p < kProbe; ++p) {
    const uint32_t i = (home + p) & mask_;
    uint64_t k, mac, since;
    if (!Read(i, &k, &mac, &since)) {
      busy = true;
      continue;
    }
    if (k == key) return Decode(i, mac, since, now_tsc);
    if (k == 0) {  // slots are never emptied: the key is not further along
      empty = i;
      break;
    }
    if (Evictable(mac, since, now_tsc)) {
      const uint64_t age = Age(since, now_tsc);
      if (victim == kNoSlot || age > victim_age) {
        victim = i;
        victim_age = age;
      }
    }
  }
  *free_slot = empty != kNoSlot ? empty : victim;
  Result r;
  r.state = busy ? State::kBusy : State::kAbsent;
  return r;
}

NeighborTable::Result NeighborTable::Find(uint16_t port_index, uint32_t ip,
                                          uint64_t now_tsc) const {
  uint32_t unused;
  return Probe(MakeKey(port_index, ip), now_tsc, &unused);
}

uint32_t NeighborTable::Claim(uint32_t slot, uint64_t key, uint64_t now_tsc) {
  uint32_t seq;
  if (!TryLock(slot, &seq)) return kNoSlot;
  Slot& s = slots_[slot];
  const uint64_t k = s.key.load(std::memory_order_relaxed);
  if (k == key) {  // another worker created it meanwhile
    Unlock(slot, seq);
    return slot;
  }
  if (k != 0 && !Evictable(s.mac.load(std::memory_order_relaxed),
                           s.since_tsc.load(std::memory_order_relaxed), now_tsc)) {
    Unlock(slot, seq);
    return kNoSlot;
  }
  s.key.store(key, std::memory_order_relaxed);
  s.mac.store(0, std::memory_order_relaxed);
  s.since_tsc.store(now_tsc, std::memory_order_relaxed);
  s.requested_tsc.store(0, std::memory_order_relaxed);
  Unlock(slot, seq);
  // No version bump: only an entry past expire_s (>= reachable_s) is evicted, and a memo line of
  // it ended at reachable_s.
  return slot;
}

NeighborTable::Result NeighborTable::FindOrCreate(uint16_t port_index, uint32_t ip,
                                                  uint64_t now_tsc) {
  const uint64_t key = MakeKey(port_index, ip);
  uint32_t free_slot;
  Result r = Probe(key, now_tsc, &free_slot);
  if (r.state != State::kAbsent || free_slot == kNoSlot) return r;
  r.slot = Claim(free_slot, key, now_tsc);
  if (r.slot == kNoSlot) return r;  // kAbsent: a writer raced us
  // The winner of a creation race may have learned the MAC already.
  uint64_t k, mac, since;
  if (Read(r.slot, &k, &mac, &since) && k == key) return Decode(r.slot, mac, since, now_tsc);
  r.state = State::kIncomplete;
  return r;
}

bool NeighborTable::ClaimRequest(uint32_t slot, uint64_t now_tsc) {
  std::atomic<uint64_t>& t = slots_[slot & mask_].requested_tsc;
  uint64_t last = t.load(std::memory_order_relaxed);
  if (last != 0 && Age(last, now_tsc) < interval_tsc_) return false;
  return t.compare_exchange_strong(last, now_tsc == 0 ? 1 : now_tsc, std::memory_order_relaxed);
}

bool NeighborTable::Learn(uint16_t port_index, uint32_t ip, const rte_ether_addr& mac,
                          uint64_t now_tsc, bool create) {
  const uint64_t key = MakeKey(port_index, ip);
  uint32_t free_slot;
  Result r = Probe(key, now_tsc, &free_slot);
  uint32_t slot = r.slot;
  if (r.state == State::kBusy) return false;
  if (r.state == State::kAbsent) {
    if (!create || free_slot == kNoSlot) return false;
    slot = Claim(free_slot, key, now_tsc);
    if (slot == kNoSlot) return false;
  }
  uint32_t seq;
  if (!TryLock(slot, &seq)) return false;
  Slot& s = slots_[slot];
  const bool ok = s.key.load(std::memory_order_relaxed) == key;
  bool changed = false;
  if (ok) {
    const uint64_t word = PackMac(mac) | kResolved;
    const uint64_t old = s.mac.load(std::memory_order_relaxed);
    changed = (old & kResolved) != 0 && old != word;  // a memo line may hold the old MAC
    s.mac.store(word, std::memory_order_relaxed);
    s.since_tsc.store(now_tsc, std::memory_order_relaxed);
  }
  Unlock(slot, seq);
  if (changed) version_.fetch_add(1, std::memory_order_release);
  return ok;
}

std::vector<NeighborTable::Entry> NeighborTable::Snapshot(uint64_t now_tsc) const {
  std::vector<Entry> out;
  for (uint32_t i = 0; i <= mask_; ++i) {
    uint64_t k, mac, since;
    if (!Read(i, &k, &mac, &since) || k == 0) continue;
    Entry e;
    e.port_index = static_cast<uint16_t>((k >> 32) - 1);
    e.ip = static_cast<uint32_t>(k);
    e.mac = UnpackMac(mac);
    e.resolved = Decode(i, mac, since, now_tsc).state != State::kIncomplete;
    e.age_tsc = Age(since, now_tsc);
    out.push_back(e);
  }
  return out;
}

}  // namespace natgw::dataplane
