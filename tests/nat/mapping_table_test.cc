// Validation of translation policies, Maglev balance and stability, and the port allocator.
#include "lib/nat/mapping_table.h"

#include <set>

#include "gtest/gtest.h"
#include "lib/nat/maglev.h"
#include "lib/nat/port_allocator.h"
#include "tests/nat/engine_fixture.h"

namespace natgw::nat::testing {
namespace {

absl::Status BuildStatus(const NatConfig& c) {
  PortAllocatorRegistry reg(1);
  return MappingTable::Build(c, 0, &reg).status();
}

struct BadConfig {
  const char* description;
  void (*mutate)(NatConfig&);
  const char* message_part;
};

TEST(MappingTableTest, RefusesInconsistentPolicies) {
  const BadConfig cases[] = {
      {"unique address reused as a pool address",
       [](NatConfig& c) { c.pod_mappings[0].external_ip = Ip("192.0.2.17"); }, "192.0.2.17"},
      {"two pods with one external address",
       [](NatConfig& c) { c.pod_mappings[1].external_ip = c.pod_mappings[0].external_ip; },
       "already used"},
      {"VIP equal to a unique address",
       [](NatConfig& c) { c.services[0].vip = Ip("203.0.113.5"); }, "203.0.113.5"},
      {"pod outside its island's CIDR",
       [](NatConfig& c) { c.pod_mappings[0].pod_ip = Ip("172.16.0.5"); }, "outside the island"},
      {"mapping for an unknown island", [](NatConfig& c) { c.pod_mappings[0].island = 7; },
       "unknown island"},
      {"pool port range below 1024", [](NatConfig& c) { c.egress_pools[0].port_min = 80; },
       "port range"},
      {"pool port range reversed",
       [](NatConfig& c) {
         c.egress_pools[0].port_min = 5000;
         c.egress_pools[0].port_max = 4000;
       },
       "port range"},
      {"island id out of range", [](NatConfig& c) { c.islands[0].id = 300; }, "out of range"},
      {"island without pod CIDRs", [](NatConfig& c) { c.islands[0].pod_cidrs.clear(); },
       "pod CIDR"},
      {"gateway address reused as a pool address",
       [](NatConfig& c) { c.outside_gateway_ip = Ip("192.0.2.32"); }, "192.0.2.32"},
      {"backend outside any island", [](NatConfig& c) { c.services[0].backends[0].island = 5; },
       "not a pod address"},
      {"service defined twice",
       [](NatConfig& c) { c.services.push_back(c.services[0]); }, "defined twice"},
  };
  ASSERT_TRUE(BuildStatus(TwoIslandConfig()).ok()) << BuildStatus(TwoIslandConfig());
  for (const BadConfig& bc : cases) {
    NatConfig c = TwoIslandConfig();
    bc.mutate(c);
    absl::Status s = BuildStatus(c);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bc.description;
    EXPECT_NE(s.message().find(bc.message_part), std::string::npos)
        << bc.description << ": " << s.message();
  }
}

TEST(MappingTableTest, AnswersLookups) {
  PortAllocatorRegistry reg(1);
  auto t = MappingTable::Build(TwoIslandConfig(), 3, &reg);
  ASSERT_TRUE(t.ok());
  const MappingTable& mt = **t;
  EXPECT_EQ(mt.generation(), 3);
  EXPECT_EQ(mt.ExternalForPod(1, Ip("10.0.0.5")), Ip("203.0.113.5"));
  EXPECT_EQ(mt.ExternalForPod(2, Ip("10.0.0.5")), Ip("198.51.100.7"));
  EXPECT_EQ(mt.ExternalForPod(2, Ip("10.0.0.6")), 0u);
  ASSERT_NE(mt.PodForExternal(Ip("198.51.100.7")), nullptr);
  EXPECT_EQ(mt.PodForExternal(Ip("198.51.100.7"))->island, 2);
  EXPECT_TRUE(mt.IsPodSource(1, Ip("10.0.255.1")));
  EXPECT_FALSE(mt.IsPodSource(1, Ip("10.1.0.1")));
  OwnedKind k;
  ASSERT_TRUE(mt.Owned(Ip("192.0.2.17"), &k));
  EXPECT_EQ(k, OwnedKind::kPoolAddress);
  ASSERT_TRUE(mt.Owned(Ip("198.51.100.80"), &k));
  EXPECT_EQ(k, OwnedKind::kVip);
  EXPECT_FALSE(mt.Owned(Ip("203.0.113.200"), &k));
  EXPECT_EQ(reg.size(), 3u);  // one allocator per pool address
}

TEST(MaglevTest, SpreadsEvenlyAndMovesFewFlowsWhenABackendLeaves) {
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) names.push_back("backend-" + std::to_string(i));
  Maglev m(names);
  ASSERT_GT(m.size(), 0u);
  for (int i = 0; i < 5; ++i) {
    double share = static_cast<double>(m.EntriesOf(i)) / static_cast<double>(m.size());
    EXPECT_NEAR(share, 0.2, 0.02) << names[i];
  }
  std::vector<std::string> fewer(names.begin(), names.end() - 1);
  Maglev m2(fewer);
  int moved = 0, kept_total = 0;
  for (uint32_t h = 0; h < 100000; h += 7) {
    int a = m.Pick(h), b = m2.Pick(h);
    if (a == 4) continue;  // flows of the removed backend must move
    ++kept_total;
    moved += a != b;
  }
  EXPECT_LT(static_cast<double>(moved) / kept_total, 0.1);
  EXPECT_EQ(Maglev().Pick(1), -1);
}

// The table is the paper's: backend i fills its preference list (offset + j * skip) % M in
// turn, checked against that formula written out (sessions pinned by an older natgw keep their
// backend after an upgrade).
TEST(MaglevTest, TableIsThePreferenceListFormula) {
  for (int n : {1, 3, 10, 40}) {
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) names.push_back("1/10.0.0." + std::to_string(i) + ":80");
    Maglev m(names);
    const uint32_t size = static_cast<uint32_t>(m.size());
    std::vector<uint64_t> offset(n), skip(n), next(n, 0);
    for (int i = 0; i < n; ++i) {
      offset[i] = SeededHash(names[i], 0x6d61676c) % size;
      skip[i] = SeededHash(names[i], 0x65763031) % (size - 1) + 1;
    }
    std::vector<int> want(size, -1);
    for (uint32_t filled = 0; filled < size;) {
      for (int i = 0; i < n && filled < size; ++i) {
        uint64_t c = (offset[i] + next[i] * skip[i]) % size;
        while (want[c] >= 0) c = (offset[i] + ++next[i] * skip[i]) % size;
        want[c] = i;
        ++next[i];
        ++filled;
      }
    }
    for (uint32_t h = 0; h < size; ++h) ASSERT_EQ(m.Pick(h), want[h]) << n << " backends, " << h;
  }
}

TEST(MappingTableTest, FindsPodIdentityFromClusterPodsThenMappings) {
  NatConfig c = TwoIslandConfig();
  c.pods.push_back({1, Ip("10.0.0.5"), "shop", "cart-7", "uid-1"});
  c.pods.push_back({1, Ip("10.0.0.77"), "shop", "web-1", "uid-2"});
  PortAllocatorRegistry reg(1);
  auto t = MappingTable::Build(c, 0, &reg);
  ASSERT_TRUE(t.ok()) << t.status();
  const PodIdentity* a =
      (*t)->FindPod(1, Ip("10.0.0.5"));  // also a 1:1 mapping: the pod entry wins
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->ns, "shop");
  EXPECT_EQ(a->name, "cart-7");
  EXPECT_EQ(a->uid, "uid-1");
  const PodIdentity* w = (*t)->FindPod(1, Ip("10.0.0.77"));
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->name, "web-1");
  const PodIdentity* b = (*t)->FindPod(1, Ip("10.0.0.6"));  // only a static mapping names it
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->ns, "c1");
  EXPECT_EQ(b->name, "pod-b");
  EXPECT_EQ(b->uid, "");
  EXPECT_EQ((*t)->FindPod(2, Ip("10.0.0.77")), nullptr);  // same IP, other island: unknown
  EXPECT_EQ((*t)->FindPod(1, Ip("10.0.0.99")), nullptr);
}

// A departure counts from the first table that carried it: the tables after keep its generation
// (cluster sync repeats it at every reload for minutes), a later departure of the same address
// starts again, and one older than the horizon stops counting for good.
TEST(MappingTableTest, DepartureKeepsTheGenerationOfTheFirstTableThatCarriedIt) {
  NatConfig c = TwoIslandConfig();
  c.departures.push_back({1, Ip("10.0.0.9"), 70});
  c.departures.push_back({1, Ip("10.0.0.9"), 65});  // an older one of the same address
  PortAllocatorRegistry reg(1);
  auto first = MappingTable::Build(c, 5, &reg);
  ASSERT_TRUE(first.ok()) << first.status();
  const MappingTable::Departure* d = (*first)->FindDeparture(1, Ip("10.0.0.9"));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->at_s, 70u);
  EXPECT_EQ(d->generation, 5u);
  EXPECT_EQ((*first)->FindDeparture(2, Ip("10.0.0.9")), nullptr);  // other island
  EXPECT_EQ((*first)->FindDeparture(1, Ip("10.0.0.8")), nullptr);

  auto again = MappingTable::Build(c, 6, &reg, first->get());
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_NE((*again)->FindDeparture(1, Ip("10.0.0.9")), nullptr);
  EXPECT_EQ((*again)->FindDeparture(1, Ip("10.0.0.9"))->generation, 5u);

  NatConfig later = c;
  later.departures.push_back({1, Ip("10.0.0.9"), 71});  // the next holder left too
  auto next = MappingTable::Build(later, 7, &reg, again->get());
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_NE((*next)->FindDeparture(1, Ip("10.0.0.9")), nullptr);
  EXPECT_EQ((*next)->FindDeparture(1, Ip("10.0.0.9"))->at_s, 71u);
  EXPECT_EQ((*next)->FindDeparture(1, Ip("10.0.0.9"))->generation, 7u);

  const uint16_t past = static_cast<uint16_t>(7 + MappingTable::kDepartureHorizon);
  auto old = MappingTable::Build(later, past - 1, &reg, next->get());
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_NE((*old)->FindDeparture(1, Ip("10.0.0.9")), nullptr);
  auto stale = MappingTable::Build(later, past, &reg, old->get());
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_EQ((*stale)->FindDeparture(1, Ip("10.0.0.9")), nullptr);
  auto still = MappingTable::Build(later, past + 1, &reg, stale->get());  // not taken for new
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ((*still)->FindDeparture(1, Ip("10.0.0.9")), nullptr);
}

TEST(PortAllocatorTest, WorkersGetDisjointSlicesAndRefcountsHoldPorts) {
  PortAllocator a(Ip("192.0.2.16"), 1024, 1031, 2);  // 8 high ports: 4 per worker
  std::set<uint16_t> w0, w1;
  for (int i = 0; i < 4; ++i) w0.insert(a.Allocate(0, false));
  for (int i = 0; i < 4; ++i) w1.insert(a.Allocate(1, false));
  EXPECT_EQ(w0.size(), 4u);
  EXPECT_EQ(w1.size(), 4u);
  for (uint16_t p : w0) EXPECT_EQ(w1.count(p), 0u) << p;
  EXPECT_EQ(a.Allocate(0, false), 0);  // worker 0's slice is exhausted
  EXPECT_EQ(a.InUse(), 8u);
  uint16_t p = *w0.begin();
  EXPECT_EQ(a.Ref(p), PortAllocator::RefResult::kOk);
  a.Unref(1, p);  // any worker may drop a reference
  EXPECT_EQ(a.Allocate(0, false), 0);  // still held once
  EXPECT_EQ(a.InUse(), 8u);
  a.Unref(1, p);  // the last one: worker 1 counts one port fewer, worker 0 still its four
  EXPECT_EQ(a.InUse(), 7u);
  EXPECT_EQ(a.Ref(p), PortAllocator::RefResult::kNotHeld);  // free ports cannot be re-referenced
  EXPECT_EQ(a.Allocate(0, false), p);   // and come back to their worker
  EXPECT_EQ(a.InUse(), 8u);
  uint16_t low = a.Allocate(1, true);
  EXPECT_GE(low, 1);
  EXPECT_LT(low, 1024);
  EXPECT_EQ(a.InUse(), 9u);
  for (uint16_t q : w1) a.Unref(0, q);  // worker 0 drops worker 1's ports
  a.Unref(0, low);
  EXPECT_EQ(a.InUse(), 4u);
  for (uint16_t q : w0) a.Unref(1, q);  // and worker 1 worker 0's: its own count goes below zero
  EXPECT_EQ(a.InUse(), 0u);
  EXPECT_EQ(a.Allocate(1, false), *w1.begin());  // all free again
  EXPECT_EQ(a.InUse(), 1u);
}

TEST(PortAllocatorTest, ReferencesSaturateInsteadOfWrappingToFree) {
  PortAllocator a(Ip("192.0.2.16"), 1024, 1031, 1);
  const uint16_t p = a.Allocate(0, false);
  ASSERT_NE(p, 0);
  for (uint32_t n = 1; n < PortAllocator::kMaxRefs; ++n) {
    ASSERT_EQ(a.Ref(p), PortAllocator::RefResult::kOk) << n;
  }
  EXPECT_EQ(a.refs(p), PortAllocator::kMaxRefs);
  EXPECT_EQ(a.Ref(p), PortAllocator::RefResult::kSaturated);
  EXPECT_EQ(a.refs(p), PortAllocator::kMaxRefs);  // not wrapped to 0 (free)
  a.Unref(0, p);
  EXPECT_EQ(a.Ref(p), PortAllocator::RefResult::kOk);  // room for one again
  for (uint32_t n = 0; n < PortAllocator::kMaxRefs; ++n) a.Unref(0, p);
  EXPECT_EQ(a.refs(p), 0u);
  EXPECT_EQ(a.InUse(), 0u);
}

}  // namespace
}  // namespace natgw::nat::testing
