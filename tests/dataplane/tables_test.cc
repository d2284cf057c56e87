// The dataplane's tables on their own: the shared neighbor table (states, ageing, eviction,
// request rate limit, concurrent writers and readers), the hold queue and the route table.
#include <rte_cycles.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lib/dataplane/config_text.h"
#include "lib/dataplane/hold_queue.h"
#include "lib/dataplane/neighbor_table.h"
#include "lib/dataplane/pool_watch.h"
#include "lib/dataplane/route_table.h"
#include "lib/net/builder.h"

namespace natgw::dataplane {
namespace {

using State = NeighborTable::State;

constexpr uint64_t kHz = 1000;  // one tick per millisecond
uint32_t Ip(const char* s) { return net::ParseIp(s); }
rte_ether_addr Mac(uint8_t b) { return rte_ether_addr{{0x02, 0, 0, 0, 0, b}}; }

NeighborTableConfig SmallTable(uint32_t slots = 64) {
  NeighborTableConfig c;
  c.slots = slots;
  c.hz = kHz;
  c.reachable_s = 30;
  c.expire_s = 60;
  c.incomplete_s = 3;
  c.request_interval_ms = 1000;
  return c;
}

TEST(NeighborTableTest, LearnedEntryAgesFromReachableToStaleToIncomplete) {
  NeighborTable t(SmallTable());
  const uint64_t t0 = 1000000;
  EXPECT_EQ(t.Find(0, Ip("192.0.2.254"), t0).state, State::kAbsent);
  ASSERT_TRUE(t.Learn(0, Ip("192.0.2.254"), Mac(1), t0, /*create=*/true));
  auto r = t.Find(0, Ip("192.0.2.254"), t0 + 1);
  EXPECT_EQ(r.state, State::kReachable);
  EXPECT_TRUE(rte_is_same_ether_addr(&r.mac, &(const rte_ether_addr&)Mac(1)));
  EXPECT_EQ(t.Find(0, Ip("192.0.2.254"), t0 + 31 * kHz).state, State::kStale);
  EXPECT_EQ(t.Find(0, Ip("192.0.2.254"), t0 + 61 * kHz).state, State::kIncomplete);
  // Keyed by interface too.
  EXPECT_EQ(t.Find(1, Ip("192.0.2.254"), t0 + 1).state, State::kAbsent);
}

TEST(NeighborTableTest, LearnWithoutCreateOnlyRefreshes) {
  NeighborTable t(SmallTable());
  EXPECT_FALSE(t.Learn(0, Ip("10.0.0.5"), Mac(1), 5000, /*create=*/false));
  EXPECT_EQ(t.Find(0, Ip("10.0.0.5"), 5000).state, State::kAbsent);
  auto r = t.FindOrCreate(0, Ip("10.0.0.5"), 5000);
  EXPECT_EQ(r.state, State::kIncomplete);
  EXPECT_TRUE(t.Learn(0, Ip("10.0.0.5"), Mac(2), 5001, /*create=*/false));
  EXPECT_EQ(t.Find(0, Ip("10.0.0.5"), 5002).state, State::kReachable);
}

TEST(NeighborTableTest, RequestsAreRateLimitedPerEntry) {
  NeighborTable t(SmallTable());
  auto r = t.FindOrCreate(0, Ip("10.0.0.5"), 5000);
  ASSERT_NE(r.slot, NeighborTable::kNoSlot);
  EXPECT_TRUE(t.ClaimRequest(r.slot, 5000));
  EXPECT_FALSE(t.ClaimRequest(r.slot, 5500));
  EXPECT_TRUE(t.ClaimRequest(r.slot, 6000));
}

// A worker's memo: hits while the entry is reachable and nothing in the table moved; a new MAC,
// the entry turning stale, or an eviction anywhere sends the next frame back to the table.
TEST(NeighborCacheTest, HoldsOnlyWhileTheEntryIsReachableAndUnchanged) {
  NeighborTable t(SmallTable());
  NeighborCache c;
  const uint64_t t0 = 1000000;
  const uint32_t ip = Ip("192.0.2.2");
  rte_ether_addr mac{};
  EXPECT_FALSE(c.Find(t, 1, ip, t0, &mac));
  ASSERT_TRUE(t.Learn(1, ip, Mac(1), t0, /*create=*/true));
  uint64_t v = t.version();
  c.Remember(1, ip, t.FindOrCreate(1, ip, t0 + 1), v);
  ASSERT_TRUE(c.Find(t, 1, ip, t0 + 2, &mac));
  EXPECT_EQ(mac.addr_bytes[5], 1);
  EXPECT_FALSE(c.Find(t, 0, ip, t0 + 2, &mac));  // keyed by interface too

  // A refresh with the same MAC keeps the line; the line still ends where the entry it copied
  // turned stale (30 s after t0), and the table then says kStale (refresh request due).
  ASSERT_TRUE(t.Learn(1, ip, Mac(1), t0 + 10 * kHz, /*create=*/false));
  EXPECT_EQ(t.version(), v);
  EXPECT_TRUE(c.Find(t, 1, ip, t0 + 29 * kHz, &mac));
  EXPECT_FALSE(c.Find(t, 1, ip, t0 + 30 * kHz, &mac));

  // A new MAC (a gratuitous ARP after a failover) invalidates at once.
  c.Remember(1, ip, t.FindOrCreate(1, ip, t0 + 11 * kHz), t.version());
  ASSERT_TRUE(c.Find(t, 1, ip, t0 + 11 * kHz, &mac));
  ASSERT_TRUE(t.Learn(1, ip, Mac(7), t0 + 12 * kHz, /*create=*/false));
  EXPECT_NE(t.version(), v);
  EXPECT_FALSE(c.Find(t, 1, ip, t0 + 12 * kHz, &mac));
  v = t.version();
  c.Remember(1, ip, t.FindOrCreate(1, ip, t0 + 12 * kHz), v);
  ASSERT_TRUE(c.Find(t, 1, ip, t0 + 13 * kHz, &mac));
  EXPECT_EQ(mac.addr_bytes[5], 7);

  // Only reachable results are memoized, whatever their times say.
  const uint32_t other = Ip("192.0.2.3");
  for (State st : {State::kStale, State::kIncomplete, State::kBusy}) {
    NeighborTable::Result r;
    r.state = st;
    r.mac = Mac(3);
    r.reachable_until_tsc = t0 + 100 * kHz;
    c.Remember(1, other, r, t.version());
    EXPECT_FALSE(c.Find(t, 1, other, t0 + 13 * kHz, &mac)) << static_cast<int>(st);
  }
  // A first answer (incomplete -> reachable) leaves the version alone: no line could hold it.
  v = t.version();
  ASSERT_EQ(t.FindOrCreate(1, other, t0).state, State::kIncomplete);
  ASSERT_TRUE(t.Learn(1, other, Mac(3), t0 + 13 * kHz, /*create=*/false));
  EXPECT_EQ(t.version(), v);

  // A line remembered with a version older than a write that raced its lookup never hits.
  c.Remember(1, ip, t.Find(1, ip, t0 + 14 * kHz), v - 1);
  EXPECT_FALSE(c.Find(t, 1, ip, t0 + 14 * kHz, &mac));
  c.Remember(1, ip, t.Find(1, ip, t0 + 14 * kHz), v);
  EXPECT_TRUE(c.Find(t, 1, ip, t0 + 14 * kHz, &mac));
}

// A node's pods have consecutive addresses: 4000 of them (and the outside router) all stay
// memoized, so no frame to any of them goes back to the shared table. (With 1024 sets hashed on
// the network-order address, 1024 consecutive pods left 96 of them thrashing.)
TEST(NeighborCacheTest, ConsecutivePodsDoNotEvictEachOther) {
  NeighborTable t(SmallTable(8192));
  NeighborCache c;
  const uint64_t t0 = 1000000;
  const uint32_t first = rte_be_to_cpu_32(Ip("10.244.0.2"));
  constexpr uint32_t kPods = 4000;
  auto pod = [&](uint32_t i) { return rte_cpu_to_be_32(first + i); };
  for (uint32_t i = 0; i < kPods; ++i) {
    ASSERT_TRUE(t.Learn(0, pod(i), Mac(static_cast<uint8_t>(i)), t0, /*create=*/true));
    c.Remember(0, pod(i), t.Find(0, pod(i), t0), t.version());
  }
  ASSERT_TRUE(t.Learn(1, Ip("192.0.2.254"), Mac(200), t0, /*create=*/true));
  c.Remember(1, Ip("192.0.2.254"), t.Find(1, Ip("192.0.2.254"), t0), t.version());
  rte_ether_addr mac{};
  uint32_t missed = 0;
  for (uint32_t i = 0; i < kPods; ++i) {
    if (!c.Find(t, 0, pod(i), t0 + 1, &mac) || mac.addr_bytes[5] != static_cast<uint8_t>(i)) {
      ++missed;
    }
  }
  EXPECT_EQ(missed, 0u);
  EXPECT_TRUE(c.Find(t, 1, Ip("192.0.2.254"), t0 + 1, &mac));
}

// An entry is evicted only past expire_s (>= reachable_s), so a line of it has ended by then;
// evictions leave the version, and every other line, alone.
TEST(NeighborCacheTest, EvictionNeedsNoInvalidation) {
  NeighborTable t(SmallTable(16));  // 16 slots, probe window of 8
  NeighborCache c;
  const uint64_t t0 = 1000000;
  for (uint32_t i = 0; i < 16; ++i) {
    ASSERT_TRUE(t.Learn(0, Ip("10.0.0.0") + (i << 24), Mac(static_cast<uint8_t>(i)), t0, true));
  }
  const uint32_t ip = Ip("10.0.0.0");
  rte_ether_addr mac{};
  c.Remember(0, ip, t.Find(0, ip, t0 + 1), t.version());
  ASSERT_TRUE(c.Find(t, 0, ip, t0 + 1, &mac));
  ASSERT_TRUE(t.Learn(0, ip, Mac(0), t0 + 59 * kHz, false));  // refreshed: not evictable at 61 s
  c.Remember(0, ip, t.Find(0, ip, t0 + 59 * kHz), t.version());
  const uint64_t v = t.version();
  ASSERT_EQ(t.FindOrCreate(0, Ip("10.0.0.99"), t0 + 61 * kHz).state, State::kIncomplete);
  EXPECT_EQ(t.version(), v);  // some other, expired entry made room
  ASSERT_TRUE(c.Find(t, 0, ip, t0 + 61 * kHz, &mac));
  EXPECT_EQ(mac.addr_bytes[5], 0);
  // Once 10.0.0.0 expires too, its line is long over.
  EXPECT_FALSE(c.Find(t, 0, ip, t0 + 89 * kHz, &mac));
}

TEST(NeighborTableTest, FullWindowEvictsOnlyDeadEntries) {
  NeighborTable t(SmallTable(16));  // 16 slots, probe window of 8
  const uint64_t t0 = 100000;
  // Fill the table with live incomplete entries.
  uint32_t created = 0;
  for (uint32_t i = 1; i < 200 && created < 16; ++i) {
    if (t.FindOrCreate(0, rte_cpu_to_be_32(0x0a000000 + i), t0).state == State::kIncomplete) {
      ++created;
    }
  }
  EXPECT_EQ(created, 16u);
  EXPECT_EQ(t.FindOrCreate(0, Ip("192.0.2.1"), t0).state, State::kAbsent);  // full
  // After incomplete_s, unanswered entries make room.
  EXPECT_EQ(t.FindOrCreate(0, Ip("192.0.2.1"), t0 + 4 * kHz).state, State::kIncomplete);
  EXPECT_EQ(t.Snapshot(t0 + 4 * kHz).size(), 16u);
}

TEST(NeighborTableTest, ConcurrentWritersNeverTearAnEntry) {
  NeighborTable t(SmallTable());
  const uint32_t ip = Ip("192.0.2.254");
  // Two MACs whose halves differ: a torn read would mix them.
  const rte_ether_addr a = {{0x02, 0x11, 0x11, 0x11, 0x11, 0x11}};
  const rte_ether_addr b = {{0x02, 0x22, 0x22, 0x22, 0x22, 0x22}};
  ASSERT_TRUE(t.Learn(0, ip, a, 1, true));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> torn{0}, reads{0};
  auto writer = [&](const rte_ether_addr& mac) {
    uint64_t now = 2;
    while (!stop.load(std::memory_order_relaxed)) t.Learn(0, ip, mac, now++, false);
  };
  std::thread w1(writer, a), w2(writer, b);
  std::thread reader([&] {
    for (int i = 0; i < 200000; ++i) {
      auto r = t.Find(0, ip, 3);
      if (r.state != State::kReachable && r.state != State::kStale) continue;
      reads.fetch_add(1, std::memory_order_relaxed);
      if (!rte_is_same_ether_addr(&r.mac, &a) && !rte_is_same_ether_addr(&r.mac, &b)) {
        torn.fetch_add(1, std::memory_order_relaxed);
      }
    }
    stop = true;
  });
  reader.join();
  w1.join();
  w2.join();
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
}

TEST(HoldQueueTest, BoundsPerNeighborAndInAll) {
  HoldQueue q(5, 3);
  rte_mbuf* fake[8];
  for (int i = 0; i < 8; ++i) fake[i] = reinterpret_cast<rte_mbuf*>(uintptr_t{0x1000} * (i + 1));
  EXPECT_TRUE(q.Add(0, 1, fake[0], 10));
  EXPECT_TRUE(q.Add(0, 1, fake[1], 99));
  EXPECT_TRUE(q.Add(0, 1, fake[2], 99));
  EXPECT_FALSE(q.Add(0, 1, fake[3], 99));  // 3 per neighbor
  EXPECT_TRUE(q.Add(1, 1, fake[4], 20));   // another interface: another neighbor
  EXPECT_TRUE(q.Add(0, 2, fake[5], 30));
  EXPECT_FALSE(q.Add(0, 3, fake[6], 40));  // 5 in all
  EXPECT_EQ(q.num_pending(), 3u);
  EXPECT_EQ(q.num_frames(), 5u);
  EXPECT_EQ(q.pending(0).deadline_tsc, 10u);  // from the first frame
  EXPECT_EQ(q.pending(0).frames[2], fake[2]);
  q.Remove(0);
  EXPECT_EQ(q.num_pending(), 2u);
  EXPECT_EQ(q.num_frames(), 2u);
  EXPECT_EQ(q.pending(0).next_hop, 2u);  // the last moved into the hole
}

TEST(RouteTableTest, LongestPrefixThenDefaultPerSide) {
  std::vector<RouteSpec> specs = {
      {conntrack::kOutsideRealm, {Ip("192.0.2.0"), 24}, {0, 0}, true, "connected"},
      {conntrack::kOutsideRealm, {0, 0}, {0, Ip("192.0.2.254")}, false, "default"},
      {conntrack::kOutsideRealm, {Ip("198.18.0.0"), 15}, {0, Ip("192.0.2.253")}, false, "bench"},
      {1, {Ip("10.0.0.0"), 16}, {1, 0}, true, "c1"},
  };
  auto t = RouteTable::Create(specs, 9000, SOCKET_ID_ANY);
  ASSERT_TRUE(t.ok()) << t.status();
  const RouteTable& rt = **t;
  const Route* r = rt.Lookup(conntrack::kOutsideRealm, Ip("198.19.255.1"));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->via, Ip("192.0.2.253"));
  r = rt.Lookup(conntrack::kOutsideRealm, Ip("192.0.2.9"));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->via, 0u);
  r = rt.Lookup(conntrack::kOutsideRealm, Ip("1.1.1.1"));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->via, Ip("192.0.2.254"));
  r = rt.Lookup(1, Ip("10.0.3.4"));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->port_index, 1);
  EXPECT_EQ(rt.Lookup(1, Ip("8.8.8.8")), nullptr);   // no default inside
  EXPECT_EQ(rt.Lookup(2, Ip("10.0.3.4")), nullptr);  // another island
}

TEST(RouteTableTest, DuplicateDestinationOnOneSideIsRefused) {
  std::vector<RouteSpec> specs = {
      {1, {Ip("10.0.0.0"), 16}, {0, 0}, true, "c1.toml:3: interface a"},
      {2, {Ip("10.0.0.0"), 16}, {1, 0}, true, "c1.toml:5: interface b"},  // other island: fine
      {1, {Ip("10.0.0.0"), 16}, {0, Ip("10.0.0.9")}, false, "c1.toml:9: route"},
  };
  auto t = RouteTable::Create(specs, 9001, SOCKET_ID_ANY);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("c1.toml:9: route"), std::string::npos) << t.status();
  EXPECT_NE(t.status().message().find("c1.toml:3"), std::string::npos) << t.status();
}

// Every side gets its own LPM with its own RCU defer queue (named after the LPM: the names of
// sides must not collide, whatever the island ids).
TEST(RouteTableTest, EverySideHasItsOwnTable) {
  std::vector<RouteSpec> specs = {
      {conntrack::kOutsideRealm, {Ip("192.0.2.0"), 24}, {0, 0}, true, "outside"},
      {1, {Ip("10.0.0.0"), 16}, {1, 0}, true, "c1"},
      {2, {Ip("10.0.0.0"), 16}, {2, 0}, true, "c2"},
      {12, {Ip("10.0.0.0"), 16}, {3, 0}, true, "c12"},
      {255, {Ip("10.0.0.0"), 16}, {4, 0}, true, "c255"},
  };
  auto t = RouteTable::Create(specs, 9999, SOCKET_ID_ANY, 2, 4);
  ASSERT_TRUE(t.ok()) << t.status();
  for (uint16_t realm : {1, 2, 12, 255}) {
    const Route* r = (*t)->Lookup(realm, Ip("10.0.7.7"));
    ASSERT_NE(r, nullptr) << realm;
    EXPECT_EQ(r->port_index, realm == 1 ? 1 : realm == 2 ? 2 : realm == 12 ? 3 : 4);
  }
}

RouteSpec NodeRoute(const char* prefix, uint8_t len, const char* via, const char* node) {
  RouteSpec s{1, {Ip(prefix), len}, {0, Ip(via)}, false, std::string("node ") + node};
  s.cluster = true;
  return s;
}

bool Contains(const std::vector<std::string>& lines, const std::string& what) {
  for (const std::string& l : lines) {
    if (l.find(what) != std::string::npos) return true;
  }
  return false;
}

TEST(RouteTableTest, ClusterRoutesComeAndGoButNeverOverrideTheConf) {
  std::vector<RouteSpec> specs = {
      {1, {Ip("10.0.0.0"), 16}, {0, 0}, true, "interface c1-inside"},
      {1, {Ip("10.0.100.0"), 24}, {0, Ip("10.0.0.50")}, false, "c1.toml:9: route"},
  };
  auto t = RouteTable::Create(specs, 9002, SOCKET_ID_ANY, 1, 8);
  ASSERT_TRUE(t.ok()) << t.status();
  RouteTable& rt = **t;
  std::vector<std::string> changes, refused;
  ASSERT_TRUE(rt.SetClusterRoutes({NodeRoute("10.0.200.0", 24, "10.0.0.20", "n1"),
                                   NodeRoute("10.0.100.0", 24, "10.0.0.21", "n2"),
                                   NodeRoute("10.0.200.0", 24, "10.0.0.22", "n3"),
                                   NodeRoute("0.0.0.0", 0, "10.0.0.23", "n4")},
                                  &changes, &refused).ok());
  EXPECT_TRUE(Contains(changes, "10.0.200.0/24 via 10.0.0.20 (node n1) added")) << changes[0];
  EXPECT_EQ(changes.size(), 1u);
  EXPECT_TRUE(Contains(refused, "(node n2) not installed: the conf has a route"));
  EXPECT_TRUE(Contains(refused, "(node n3) not installed: node n1 has the same destination"));
  EXPECT_TRUE(Contains(refused, "(node n4) not installed: a cluster route cannot be a default"));
  const Route* r = rt.Lookup(1, Ip("10.0.200.7"));  // the node route, inside the connected /16
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->via, Ip("10.0.0.20"));
  r = rt.Lookup(1, Ip("10.0.100.7"));  // the conf's
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->via, Ip("10.0.0.50"));
  EXPECT_EQ(rt.Lookup(2, Ip("10.0.200.7")), nullptr);  // island 1's only
  auto all = rt.Specs();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_TRUE(all[2].cluster);
  EXPECT_EQ(all[2].origin, "node n1");

  // Moved to another node, then gone: the connected route answers again.
  changes.clear();
  refused.clear();
  ASSERT_TRUE(rt.SetClusterRoutes({NodeRoute("10.0.200.0", 24, "10.0.0.30", "n1")}, &changes,
                                  &refused).ok());
  EXPECT_TRUE(Contains(changes, "via 10.0.0.30 (node n1) replaces 10.0.200.0/24 via 10.0.0.20"));
  EXPECT_EQ(rt.Lookup(1, Ip("10.0.200.7"))->via, Ip("10.0.0.30"));
  changes.clear();
  ASSERT_TRUE(rt.SetClusterRoutes({}, &changes, &refused).ok());
  EXPECT_TRUE(Contains(changes, "10.0.200.0/24 via 10.0.0.30 (node n1) deleted"));
  EXPECT_EQ(rt.Lookup(1, Ip("10.0.200.7"))->via, 0u);
  EXPECT_EQ(rt.num_cluster_routes(), 0u);

  // More than the table holds: refused, the rest installed.
  std::vector<RouteSpec> many;
  for (int i = 0; i < 10; ++i) {
    many.push_back(
        NodeRoute(("10.0." + std::to_string(210 + i) + ".0").c_str(), 24, "10.0.0.20", "n"));
  }
  refused.clear();
  EXPECT_FALSE(rt.SetClusterRoutes(many, &changes, &refused).ok());
  EXPECT_EQ(rt.num_cluster_routes(), 8u);
  EXPECT_EQ(refused.size(), 2u);
}

// One reader looks up without pause while the control thread adds, moves and deletes cluster
// routes (a /24 in the first level, a /25 in a tbl8 group that is freed and reused): every lookup
// gets the connected route or one of the node routes, never a torn or foreign one.
TEST(RouteTableTest, ClusterRoutesChangeUnderAConcurrentReader) {
  std::vector<RouteSpec> specs = {
      {1, {Ip("10.0.0.0"), 16}, {0, 0}, true, "interface c1-inside"},
      {1, {Ip("10.0.100.0"), 24}, {1, Ip("10.0.0.50")}, false, "conf"},
  };
  auto t = RouteTable::Create(specs, 9003, SOCKET_ID_ANY, 1, 16);
  ASSERT_TRUE(t.ok()) << t.status();
  RouteTable& rt = **t;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> lookups{0}, bad{0};
  std::thread reader([&] {
    rt.ReaderOnline(0);
    const uint32_t a = Ip("10.0.200.7"), b = Ip("10.0.201.200"), c = Ip("10.0.100.1");
    while (!stop.load(std::memory_order_relaxed)) {
      for (uint32_t dst : {a, b}) {
        const Route* r = rt.Lookup(1, dst);
        const uint32_t via = r == nullptr ? 1 : r->via;
        if (r == nullptr || r->port_index != 0 ||
            (via != 0 && via != Ip("10.0.0.20") && via != Ip("10.0.0.21"))) {
          bad.fetch_add(1, std::memory_order_relaxed);
        }
      }
      const Route* r = rt.Lookup(1, c);
      if (r == nullptr || r->via != Ip("10.0.0.50")) bad.fetch_add(1, std::memory_order_relaxed);
      lookups.fetch_add(3, std::memory_order_relaxed);
      rt.ReaderQuiescent(0);
    }
    rt.ReaderOffline(0);
  });
  const std::vector<std::vector<RouteSpec>> steps = {
      {NodeRoute("10.0.200.0", 24, "10.0.0.20", "n1"),
       NodeRoute("10.0.201.128", 25, "10.0.0.21", "n2")},
      {NodeRoute("10.0.200.0", 24, "10.0.0.21", "n1"),
       NodeRoute("10.0.201.128", 25, "10.0.0.20", "n2")},
      {NodeRoute("10.0.201.128", 25, "10.0.0.21", "n2")},
      {},
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  // The reader first (on a loaded 2-core machine the writer could otherwise finish before the
  // reader thread ever ran, and the test would prove nothing).
  while (lookups.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  int applied = 0;
  for (int i = 0; i < 2000 && std::chrono::steady_clock::now() < deadline; ++i) {
    std::vector<std::string> changes, refused;
    // Out of slots means the reader has not passed a quiescent state since: try again.
    if (rt.SetClusterRoutes(steps[i % steps.size()], &changes, &refused).ok()) {
      ++applied;
      EXPECT_TRUE(refused.empty());
    } else {
      std::this_thread::yield();
      --i;
    }
  }
  stop = true;
  reader.join();
  EXPECT_EQ(applied, 2000);
  EXPECT_GT(lookups.load(), 0u);
  EXPECT_EQ(bad.load(), 0u) << "of " << lookups.load() << " lookups";
}

// The mbuf pool is sized by these: a zero-copy memif client's ring of 2^rsize slots holds that
// many of our mbufs, whatever descriptor count the queue setup asked for.
TEST(QueueFramesTest, ZeroCopyMemifRingSizeFromItsArguments) {
  struct Case {
    const char* driver;
    const char* args;
    uint32_t descriptors;
    uint32_t want;
  };
  const Case cases[] = {
      {"net_ring", "", 1024, 1024},
      {"net_af_packet", "iface=v0,rsize=12,zero-copy=yes", 1024, 1024},
      {"net_memif", "role=client,zero-copy=yes,socket=/run/m.sock", 1024, 1024},
      {"net_memif", "role=client,zero-copy=yes", 512, 1024},
      {"net_memif", "role=client,rsize=12,zero-copy=yes", 1024, 4096},
      {"net_memif", "zero-copy=yes,rsize=14", 1024, 16384},
      {"net_memif", "zero-copy=yes,rsize=8", 1024, 1024},
      {"net_memif", "zero-copy=yes,rsize=8", 128, 256},
      // What the PMD would refuse leaves the default.
      {"net_memif", "zero-copy=yes,rsize=15", 128, 1024},
      {"net_memif", "zero-copy=yes,rsize=0", 128, 1024},
      {"net_memif", "zero-copy=yes,rsize=x", 128, 1024},
      // Copying memif (a client without zero-copy, any server): its slots hold shared memory.
      {"net_memif", "role=client,rsize=12", 1024, 1024},
      {"net_memif", "role=server,rsize=12,zero-copy=yes", 1024, 1024},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(QueueFrames(c.driver, c.args, c.descriptors), c.want)
        << c.driver << " " << c.args << " " << c.descriptors;
  }
}

TEST(MbufPoolWatchTest, WarnsOfAnEmptyPoolOncePerIntervalNotOfOneWithMbufsFree) {
  MbufPoolWatch w;
  const std::vector<MbufPoolStatus> ok = {{"natgw_mb0_any", 8191, 5000}};
  const std::vector<MbufPoolStatus> empty = {{"natgw_mb0_any", 8191, 0}};
  EXPECT_TRUE(w.Check(ok, 0).empty());
  auto said = w.Check(empty, 1000);
  ASSERT_EQ(said.size(), 1u);
  EXPECT_NE(said[0].find("mbuf pool natgw_mb0_any: empty, all 8191 mbufs"), std::string::npos)
      << said[0];
  EXPECT_TRUE(w.Check(empty, 2000).empty());  // still empty: not again within the interval
  EXPECT_TRUE(w.Check(ok, 30000).empty());
  EXPECT_EQ(w.Check(empty, 1000 + MbufPoolWatch::kRepeatMs).size(), 1u);
  // Two pools (two sockets), one empty: only that one is named.
  said = w.Check({{"natgw_mb0_any", 100, 3}, {"natgw_mb1", 100, 0}}, 10 * MbufPoolWatch::kRepeatMs);
  ASSERT_EQ(said.size(), 1u);
  EXPECT_NE(said[0].find("natgw_mb1"), std::string::npos);
}

}  // namespace
}  // namespace natgw::dataplane
