// Cluster-state sync: the address allocator (stability, quarantine, persistence), the desired
// policy built from pods, services, endpoint slices and nodes, and the directory source.
#include "lib/control/cluster_sync.h"

#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/control/address_allocator.h"
#include "lib/control/dir_source.h"
#include "lib/nat/mapping_table.h"
#include "lib/nat/port_allocator.h"

namespace natgw::control {
namespace {

using ::testing::HasSubstr;

uint32_t Ip(const char* s) { return inet_addr(s); }

std::string TempDir(const std::string& tag) {
  std::string d = "/tmp/natgw-cluster-test-" + tag + "-" + std::to_string(getpid());
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// ---- AddressAllocator

AddressAllocator FourAddresses(uint32_t quarantine_s = 120) {
  return AddressAllocator({{"u", {Ip("203.0.113.1"), Ip("203.0.113.2"), Ip("203.0.113.3"),
                                  Ip("203.0.113.4")}}},
                          quarantine_s);
}

TEST(AddressAllocatorTest, StableQuarantinedAndExhausted) {
  AddressAllocator a = FourAddresses();
  a.Reserve(Ip("203.0.113.4"));  // a static mapping's address
  auto x = a.Acquire("u", "c1/pod/x", "ns/x", 0, 1000);
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(*a.Acquire("u", "c1/pod/x", "ns/x", 0, 1001), *x);  // stable
  auto y = a.Acquire("u", "c1/pod/y", "ns/y", 0, 1000);
  auto z = a.Acquire("u", "c1/pod/z", "ns/z", 0, 1000);
  ASSERT_TRUE(y.ok() && z.ok());
  EXPECT_NE(*x, *y);
  EXPECT_NE(*y, *z);
  EXPECT_NE(*z, Ip("203.0.113.4"));
  auto full = a.Acquire("u", "c1/pod/w", "ns/w", 0, 1000);
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  // x leaves: its address is quarantined for 120 s, then reusable.
  a.Release("c1/pod/x", 1010);
  EXPECT_EQ(a.Acquire("u", "c1/pod/w", "ns/w", 0, 1100).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(a.PoolUsage(1100)[0].quarantined, 1u);
  EXPECT_EQ(a.PoolUsage(1100)[0].size, 3u);
  EXPECT_EQ(a.PoolUsage(1100)[0].exhausted, 2u);
  auto fixed = a.Acquire("u", "c1/pod/w", "ns/w", *x, 1100);
  EXPECT_EQ(fixed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(fixed.status().message()), HasSubstr("quarantined for 30 more seconds"));
  EXPECT_EQ(*a.Acquire("u", "c1/pod/w", "ns/w", 0, 1130), *x);
}

TEST(AddressAllocatorTest, ReturningOwnerGetsItsAddressBackAndFixedAddressesConflict) {
  AddressAllocator a = FourAddresses();
  uint32_t x = *a.Acquire("u", "c1/pod/x", "ns/x", 0, 1000);
  a.Release("c1/pod/x", 1001);
  EXPECT_EQ(*a.Acquire("u", "c1/pod/x", "ns/x", 0, 1002), x);  // quarantine is not for itself
  auto taken = a.Acquire("u", "c1/pod/y", "ns/y", x, 1002);
  EXPECT_THAT(std::string(taken.status().message()), HasSubstr("is held by ns/x"));
  auto outside = a.Acquire("u", "c1/pod/y", "ns/y", Ip("198.51.100.1"), 1002);
  EXPECT_THAT(std::string(outside.status().message()), HasSubstr("is not an address of pool u"));
  a.Reserve(Ip("203.0.113.3"));
  auto reserved = a.Acquire("u", "c1/pod/y", "ns/y", Ip("203.0.113.3"), 1002);
  EXPECT_THAT(std::string(reserved.status().message()), HasSubstr("static mapping"));
  EXPECT_EQ(*a.Acquire("u", "c1/pod/y", "ns/y", Ip("203.0.113.2"), 1002), Ip("203.0.113.2"));
}

// A reload's static addresses: a new one is reserved, one no longer static goes back to its
// pool after the quarantine (peers of the old static mapping may still send to it).
TEST(AddressAllocatorTest, ReloadedReservationsAddAndGiveBack) {
  AddressAllocator a = FourAddresses();
  a.SetReserved({Ip("203.0.113.1"), Ip("203.0.113.2")}, 1000);
  EXPECT_EQ(a.PoolUsage(1000)[0].size, 2u);
  a.SetReserved({Ip("203.0.113.2"), Ip("203.0.113.3")}, 1000);
  EXPECT_EQ(a.PoolUsage(1000)[0].size, 2u);
  EXPECT_EQ(a.PoolUsage(1000)[0].quarantined, 1u);  // .1, no longer static
  auto not_yet = a.Acquire("u", "c1/pod/x", "ns/x", Ip("203.0.113.1"), 1060);
  EXPECT_THAT(std::string(not_yet.status().message()), HasSubstr("quarantined for 60 more"));
  EXPECT_EQ(*a.Acquire("u", "c1/pod/x", "ns/x", 0, 1060), Ip("203.0.113.4"));
  EXPECT_EQ(*a.Acquire("u", "c1/pod/y", "ns/y", 0, 1120), Ip("203.0.113.1"));
  EXPECT_EQ(a.Acquire("u", "c1/pod/z", "ns/z", 0, 1120).status().code(),
            absl::StatusCode::kResourceExhausted);  // .2 and .3 stay static
  // A pod's previous address that a reload made static is not its to take back, and its
  // holder's release does not put a static address back in the pool.
  a.Release("c1/pod/x", 1200);                     // .4, free again
  a.SetReserved({Ip("203.0.113.2"), Ip("203.0.113.3"), Ip("203.0.113.4")}, 1201);
  a.Release("c1/pod/y", 1202);                     // .1: quarantined until 1322
  EXPECT_EQ(a.Acquire("u", "c1/pod/x", "ns/x", 0, 1210).status().code(),
            absl::StatusCode::kResourceExhausted);
  a.SetReserved({Ip("203.0.113.1"), Ip("203.0.113.2"), Ip("203.0.113.3")}, 1300);
  auto msg = a.Acquire("u", "c1/pod/w", "ns/w", Ip("203.0.113.4"), 1310);
  EXPECT_THAT(std::string(msg.status().message()),
              HasSubstr("after the conf file stopped using it"));
  EXPECT_EQ(*a.Acquire("u", "c1/pod/x", "ns/x", 0, 1420), Ip("203.0.113.4"));
  EXPECT_EQ(a.Acquire("u", "c1/pod/q", "ns/q", 0, 1420).status().code(),
            absl::StatusCode::kResourceExhausted);  // .1 static now, the rest held
}

TEST(AddressAllocatorTest, StateSurvivesARestartAndCorruptStateIsRebuilt) {
  const std::string dir = TempDir("state");
  const std::string path = dir + "/sub/alloc.json";
  uint32_t x, y;
  {
    AddressAllocator a = FourAddresses();
    x = *a.Acquire("u", "c1/pod/x", "ns/x", 0, 1000);
    y = *a.Acquire("u", "c1/pod/y", "ns/y", 0, 1000);
    a.Release("c1/pod/y", 1050);
    ASSERT_TRUE(a.Save(path).ok());
    EXPECT_FALSE(a.dirty());
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  }
  {
    AddressAllocator b = FourAddresses();
    EXPECT_THAT(b.Load(path, 1100), HasSubstr("1 addresses restored, 1 still quarantined"));
    EXPECT_EQ(*b.Acquire("u", "c1/pod/x", "ns/x", 0, 1100), x);
    uint32_t z = *b.Acquire("u", "c1/pod/z", "ns/z", 0, 1100);
    EXPECT_NE(z, y);  // y is still in quarantine after the restart
    EXPECT_NE(z, x);
  }
  {
    std::ofstream(path) << "{\"version\": 1, \"allocations\": [";  // truncated
    AddressAllocator c = FourAddresses();
    EXPECT_THAT(c.Load(path, 1100), HasSubstr("corrupt"));
    EXPECT_TRUE(c.Acquire("u", "c1/pod/x", "ns/x", 0, 1100).ok());
  }
  AddressAllocator d = FourAddresses();
  EXPECT_THAT(d.Load(dir + "/missing.json", 0), HasSubstr("not found"));
  std::filesystem::remove_all(dir);
}

// ---- ClusterSync

constexpr char kConf[] = R"(
[gateway]
name = "t"
[[interface]]
name = "in"
device = "net_tap0"
role = "inside"
island = "c1"
address = "10.0.0.1/16"
[[interface]]
name = "out"
device = "net_tap1"
role = "outside"
address = "192.0.2.1/24"
[[island]]
name = "c1"
id = 1
pod_cidrs = ["10.0.0.0/16"]
[[pool]]
name = "c1-unique"
kind = "unique"
island = "c1"
addresses = ["203.0.113.8/30"]
[[pool]]
name = "c1-egress"
kind = "egress"
island = "c1"
addresses = ["192.0.2.16/30"]
[[pool]]
name = "vips"
kind = "vip"
addresses = ["198.51.100.128/30"]
[[mapping]]
name = "static/legacy"
island = "c1"
pod = "10.0.0.200"
external = "203.0.113.8"
[[cluster]]
island = "c1"
directory = "/nonexistent"
unique_pods = [{ namespace = "shop", labels = { unique = "yes" } }]
[allocation]
quarantine_s = 60
)";

kube::Pod MakePod(const std::string& ns, const std::string& name, const std::string& uid,
                  const char* ip, std::map<std::string, std::string> labels = {},
                  std::map<std::string, std::string> annotations = {}) {
  kube::Pod p;
  p.meta.ns = ns;
  p.meta.name = name;
  p.meta.uid = uid;
  p.meta.labels = std::move(labels);
  p.meta.annotations = std::move(annotations);
  p.phase = "Running";
  if (ip != nullptr) p.ips.push_back(Ip(ip));
  return p;
}

class ClusterSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = ParseConfig(kConf, "t.toml");
    ASSERT_TRUE(c.ok()) << c.status();
    config_ = std::move(*c);
    dir_ = TempDir("sync");
    config_.allocation.state_file = dir_ + "/alloc.json";
    sync_ = std::make_unique<ClusterSync>(
        config_, ClusterSync::Clock{[this] { return engine_now_; }, [this] { return wall_now_; }});
    sync_->AddSource(1, "src");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Replace(kube::Kind kind, std::vector<kube::Object> objects) {
    SourceUpdate u;
    u.type = SourceUpdate::Type::kReplace;
    u.source = "src";
    u.kind = kind;
    u.objects = std::move(objects);
    sync_->Handle(std::move(u));
  }
  void Upsert(kube::Object o) {
    SourceUpdate u;
    u.source = "src";
    u.kind = kube::KindOf(o);
    u.objects.push_back(std::move(o));
    sync_->Handle(std::move(u));
  }
  void Delete(kube::Object o) {
    SourceUpdate u;
    u.type = SourceUpdate::Type::kDelete;
    u.source = "src";
    u.kind = kube::KindOf(o);
    u.objects.push_back(std::move(o));
    sync_->Handle(std::move(u));
  }
  // Pods shop/p0.. (uid u0..) at 10.0.3.1.., each selected for a unique address.
  void UpsertUniquePods(int n) {
    for (int i = 0; i < n; ++i) {
      std::string ip = "10.0.3." + std::to_string(i + 1);
      Upsert(MakePod("shop", "p" + std::to_string(i), "u" + std::to_string(i), ip.c_str(),
                     {{"unique", "yes"}}));
    }
  }
  void ListAll() {
    for (kube::Kind k : kube::kAllKinds) Replace(k, {});
  }
  // Builds and checks that the engine would accept the result.
  nat::NatConfig Build() {
    changes_.clear();
    nat::NatConfig nc = sync_->Build(config_.nat, &changes_);
    nat::PortAllocatorRegistry reg(1);
    auto t = nat::MappingTable::Build(nc, 1, &reg);
    EXPECT_TRUE(t.ok()) << t.status();
    return nc;
  }
  // Build without the engine's check (for tests that build many times).
  nat::NatConfig BuildOnly() {
    changes_.clear();
    return sync_->Build(config_.nat, &changes_);
  }
  static uint32_t ExternalOf(const nat::NatConfig& nc, const char* pod) {
    for (const auto& m : nc.pod_mappings) {
      if (m.pod_ip == Ip(pod)) return m.external_ip;
    }
    return 0;
  }
  bool Changed(const std::string& part) const {
    for (const std::string& c : changes_) {
      if (c.find(part) != std::string::npos) return true;
    }
    return false;
  }

  GatewayConfig config_;
  std::string dir_;
  uint32_t engine_now_ = 50;
  int64_t wall_now_ = 1'000'000;
  const ClusterCounters& counters_of() const { return sync_->counters(); }
  std::unique_ptr<ClusterSync> sync_;
  std::vector<std::string> changes_;
};

TEST_F(ClusterSyncTest, SelectedAndAnnotatedPodsGetUniqueAddressesOthersOnlyAnIdentity) {
  ListAll();
  Upsert(MakePod("shop", "cart", "u-cart", "10.0.1.5", {{"unique", "yes"}}));
  Upsert(MakePod("shop", "web", "u-web", "10.0.1.6"));  // not selected
  Upsert(MakePod("ops", "probe", "u-probe", "10.0.1.7", {},
                 {{kAnnotationExternalAddress, "203.0.113.10"}}));
  Upsert(MakePod("shop", "quiet", "u-quiet", "10.0.1.8", {{"unique", "yes"}},
                 {{kAnnotationExternalAddress, "none"}}));
  kube::Pod host = MakePod("kube-system", "proxy", "u-host", "10.0.1.9", {{"unique", "yes"}});
  host.host_network = true;
  Upsert(host);
  Upsert(MakePod("shop", "stray", "u-stray", "172.16.0.5", {{"unique", "yes"}}));
  nat::NatConfig nc = Build();
  const uint32_t cart = ExternalOf(nc, "10.0.1.5");
  EXPECT_EQ(cart, Ip("203.0.113.9"));  // .8 is the network address, .10 the annotated one
  EXPECT_EQ(ExternalOf(nc, "10.0.1.6"), 0u);
  EXPECT_EQ(ExternalOf(nc, "10.0.1.7"), Ip("203.0.113.10"));
  EXPECT_EQ(ExternalOf(nc, "10.0.1.8"), 0u);
  EXPECT_EQ(ExternalOf(nc, "10.0.1.9"), 0u);
  EXPECT_EQ(nc.pod_mappings.size(), 3u);  // static + cart + probe
  EXPECT_EQ(sync_->directory().size(), 4u);  // not the host-network pod, not the stray one
  EXPECT_TRUE(Changed("pod shop/cart (uid u-cart) at 10.0.1.5 got unique address"));
  EXPECT_TRUE(Changed("shop/stray: address 172.16.0.5 is outside island c1"));
  // The mapping carries the identity the event log uses.
  nat::PortAllocatorRegistry reg(1);
  auto t = nat::MappingTable::Build(nc, 1, &reg);
  const nat::PodIdentity* id = (*t)->FindPod(1, Ip("10.0.1.6"));
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(id->ns, "shop");
  EXPECT_EQ(id->name, "web");
  EXPECT_EQ(id->uid, "u-web");
}

// A reload's new selectors apply to the pods already known: newly selected ones get an address,
// ones no longer selected lose theirs.
TEST_F(ClusterSyncTest, NewSelectorsFromAReloadApplyToKnownPods) {
  ListAll();
  Upsert(MakePod("shop", "cart", "u-cart", "10.0.1.5", {{"unique", "yes"}}));
  Upsert(MakePod("shop", "web", "u-web", "10.0.1.6", {{"tier", "front"}}));
  nat::NatConfig nc = Build();
  EXPECT_NE(ExternalOf(nc, "10.0.1.5"), 0u);
  EXPECT_EQ(ExternalOf(nc, "10.0.1.6"), 0u);
  std::vector<ClusterConfig> clusters = config_.clusters;
  clusters[0].unique_pods = {ClusterSelector{"shop", {{"tier", "front"}}}};
  sync_->SetPolicy(clusters);
  EXPECT_TRUE(sync_->dirty());
  nc = Build();
  EXPECT_EQ(ExternalOf(nc, "10.0.1.5"), 0u);
  EXPECT_NE(ExternalOf(nc, "10.0.1.6"), 0u);
  EXPECT_TRUE(Changed("pod shop/web (uid u-web) at 10.0.1.6 got unique address"));
}

// A static address a reload adds inside a pool is not handed to a pod.
TEST_F(ClusterSyncTest, StaticAddressesOfAReloadAreReserved) {
  ListAll();
  nat::NatConfig reloaded = config_.nat;
  nat::PodMappingConfig m = reloaded.pod_mappings[0];
  m.name = "static/new";
  m.pod_ip = Ip("10.0.0.201");
  m.external_ip = Ip("203.0.113.9");  // the address the first pod would get
  reloaded.pod_mappings.push_back(m);
  sync_->ReserveStatic(reloaded);
  Upsert(MakePod("shop", "cart", "u-cart", "10.0.1.5", {{"unique", "yes"}}));
  changes_.clear();
  nat::NatConfig nc = sync_->Build(reloaded, &changes_);
  const uint32_t cart = ExternalOf(nc, "10.0.1.5");
  EXPECT_NE(cart, 0u);
  EXPECT_NE(cart, Ip("203.0.113.9"));
  nat::PortAllocatorRegistry reg(1);
  EXPECT_TRUE(nat::MappingTable::Build(nc, 1, &reg).ok());
}

TEST_F(ClusterSyncTest, ReusedAddressNeverReachesTheOldPodsMapping) {
  ListAll();
  Upsert(MakePod("shop", "cart-1", "u-1", "10.0.1.5", {{"unique", "yes"}}));
  nat::NatConfig nc = Build();
  const uint32_t first = ExternalOf(nc, "10.0.1.5");
  ASSERT_NE(first, 0u);
  // The pod is deleted and a new pod (new uid) gets the same IP.
  engine_now_ = 70;
  Delete(MakePod("shop", "cart-1", "u-1", "10.0.1.5"));
  Upsert(MakePod("shop", "cart-2", "u-2", "10.0.1.5", {{"unique", "yes"}}));
  nc = Build();
  const uint32_t second = ExternalOf(nc, "10.0.1.5");
  ASSERT_NE(second, 0u);
  EXPECT_NE(second, first);  // the old address is in quarantine
  ASSERT_EQ(nc.departures.size(), 1u);
  EXPECT_EQ(nc.departures[0].pod_ip, Ip("10.0.1.5"));
  EXPECT_EQ(nc.departures[0].at_s, 70u);
  EXPECT_TRUE(Changed("left by uid u-1, which loses unique address"));
  EXPECT_TRUE(Changed("pod shop/cart-2 (uid u-2) at 10.0.1.5 got unique address"));
  // Nothing maps the old address any more.
  for (const auto& m : nc.pod_mappings) EXPECT_NE(m.external_ip, first);
}

// The next holder of an address leaves within the same second: its departure must not look like
// the first one repeated (the engine would keep that holder's sessions for the third pod).
TEST_F(ClusterSyncTest, TwoDeparturesOfAnAddressInOneSecondAreTwo) {
  ListAll();
  Upsert(MakePod("shop", "cart-1", "u-1", "10.0.1.5"));
  Build();
  engine_now_ = 70;
  Delete(MakePod("shop", "cart-1", "u-1", "10.0.1.5"));
  Upsert(MakePod("shop", "cart-2", "u-2", "10.0.1.5"));
  nat::NatConfig nc = Build();
  ASSERT_EQ(nc.departures.size(), 1u);
  EXPECT_EQ(nc.departures[0].at_s, 70u);
  Delete(MakePod("shop", "cart-2", "u-2", "10.0.1.5"));
  Upsert(MakePod("shop", "cart-3", "u-3", "10.0.1.5"));
  nc = Build();
  ASSERT_EQ(nc.departures.size(), 2u);
  EXPECT_EQ(nc.departures[1].pod_ip, Ip("10.0.1.5"));
  EXPECT_EQ(nc.departures[1].at_s, 71u);
  // Each counts from the table that first carried it.
  nat::PortAllocatorRegistry reg(1);
  auto t1 = nat::MappingTable::Build(nc, 2, &reg);
  ASSERT_TRUE(t1.ok()) << t1.status();
  engine_now_ = 71;  // the third holder leaves in the second the second departure was moved to
  Delete(MakePod("shop", "cart-3", "u-3", "10.0.1.5"));
  nc = Build();
  ASSERT_EQ(nc.departures.size(), 3u);
  EXPECT_EQ(nc.departures[2].at_s, 72u);
  auto t2 = nat::MappingTable::Build(nc, 3, &reg, t1->get());
  ASSERT_TRUE(t2.ok()) << t2.status();
  const uint16_t island = nc.departures[0].island;
  ASSERT_NE((*t2)->FindDeparture(island, Ip("10.0.1.5")), nullptr);
  EXPECT_EQ((*t2)->FindDeparture(island, Ip("10.0.1.5"))->generation, 3u);
}

TEST_F(ClusterSyncTest, FinishedPodsReleaseTheirAddressAndTheNewestClaimWins) {
  ListAll();
  Upsert(MakePod("jobs", "a", "u-a", "10.0.2.1", {}, {{kAnnotationExternalAddress, "auto"}}));
  ASSERT_NE(ExternalOf(Build(), "10.0.2.1"), 0u);
  kube::Pod done =
      MakePod("jobs", "a", "u-a", "10.0.2.1", {}, {{kAnnotationExternalAddress, "auto"}});
  done.phase = "Succeeded";  // podIP is still set, but the address is free again
  Upsert(done);
  Upsert(MakePod("jobs", "b", "u-b", "10.0.2.1"));
  nat::NatConfig nc = Build();
  EXPECT_EQ(ExternalOf(nc, "10.0.2.1"), 0u);
  ASSERT_EQ(sync_->directory().size(), 1u);
  EXPECT_EQ(sync_->directory().Find(1, Ip("10.0.2.1"))->uid, "u-b");
  EXPECT_EQ(sync_->allocator().Find("c1/pod/u-a"), nullptr);
  EXPECT_EQ(sync_->PoolUsage()[0].quarantined + sync_->PoolUsage()[1].quarantined, 1u);
}

TEST_F(ClusterSyncTest, NothingIsReleasedBeforeThePodsAreListed) {
  std::string msg = sync_->LoadState();
  Upsert(MakePod("shop", "x", "u-x", "10.0.1.5", {{"unique", "yes"}}));
  uint32_t x = ExternalOf(Build(), "10.0.1.5");
  ASSERT_TRUE(sync_->SaveState().ok());
  // Restart: the state is loaded, a watch event about another pod arrives before the list.
  sync_ = std::make_unique<ClusterSync>(
      config_, ClusterSync::Clock{[this] { return engine_now_; }, [this] { return wall_now_; }});
  sync_->AddSource(1, "src");
  EXPECT_THAT(sync_->LoadState(), HasSubstr("1 addresses restored"));
  Upsert(MakePod("shop", "y", "u-y", "10.0.1.6", {{"unique", "yes"}}));
  nat::NatConfig nc = Build();
  EXPECT_NE(ExternalOf(nc, "10.0.1.6"), x);  // x's address stays x's
  ASSERT_NE(sync_->allocator().Find("c1/pod/u-x"), nullptr);
  Replace(kube::Kind::kPod, {MakePod("shop", "x", "u-x", "10.0.1.5", {{"unique", "yes"}})});
  nc = Build();
  EXPECT_EQ(ExternalOf(nc, "10.0.1.5"), x);  // the surviving pod kept its address
  EXPECT_EQ(sync_->allocator().Find("c1/pod/u-y"), nullptr);  // y was not in the list
}

TEST_F(ClusterSyncTest, ExhaustedPoolIsReportedAndThePodStillHasAnIdentity) {
  ListAll();
  UpsertUniquePods(4);
  nat::NatConfig nc = Build();
  // 203.0.113.8/30: .8 is the network address (and static), .11 the broadcast address: two left.
  EXPECT_EQ(nc.pod_mappings.size(), 3u);
  ASSERT_EQ(sync_->failures().size(), 2u);
  EXPECT_THAT(sync_->failures().begin()->second, HasSubstr("has no free address"));
  EXPECT_THAT(sync_->failures().begin()->second, HasSubstr("egress pool"));
  EXPECT_EQ(sync_->counters().allocation_failures, 2u);
  EXPECT_EQ(sync_->directory().size(), 4u);
  Build();  // reported once, not on every build
  EXPECT_EQ(sync_->counters().allocation_failures, 2u);
}

// After the list, each event is evaluated for the addresses it touched (and the pods waiting for
// an address): a freed address goes to a waiting pod once out of quarantine, and a pod that moves
// to another IP keeps its external address while its old IP departs.
TEST_F(ClusterSyncTest, EventsAfterTheListTouchOnlyTheirAddresses) {
  ListAll();
  UpsertUniquePods(4);
  nat::NatConfig nc = Build();
  ASSERT_EQ(sync_->failures().size(), 2u);  // two addresses for four pods: which two is open
  std::vector<int> served;
  for (int i = 0; i < 4; ++i) {
    if (ExternalOf(nc, ("10.0.3." + std::to_string(i + 1)).c_str()) != 0) served.push_back(i);
  }
  ASSERT_EQ(served.size(), 2u);
  const std::string gone_ip = "10.0.3." + std::to_string(served[0] + 1);
  const std::string moved_ip = "10.0.3." + std::to_string(served[1] + 1);
  const std::string moved = std::to_string(served[1]);
  const uint32_t moved_ext = ExternalOf(nc, moved_ip.c_str());
  Delete(MakePod("shop", "p" + std::to_string(served[0]), "u" + std::to_string(served[0]),
                 gone_ip.c_str()));
  nc = Build();
  EXPECT_EQ(ExternalOf(nc, gone_ip.c_str()), 0u);
  EXPECT_TRUE(Changed("pod address " + gone_ip + " left by uid u" + std::to_string(served[0])));
  EXPECT_EQ(sync_->failures().size(), 2u);  // the freed address is in quarantine
  wall_now_ += 3600;
  nc = Build();
  EXPECT_TRUE(Changed("got an address after all"));
  EXPECT_EQ(sync_->failures().size(), 1u);
  EXPECT_EQ(nc.pod_mappings.size(), 3u);  // the static one, the moving pod and a waiting pod
  // The other served pod moves to 10.0.3.9: same uid, same external address; its old IP departs.
  Upsert(MakePod("shop", "p" + moved, "u" + moved, "10.0.3.9", {{"unique", "yes"}}));
  nc = Build();
  EXPECT_EQ(ExternalOf(nc, "10.0.3.9"), moved_ext);
  EXPECT_EQ(ExternalOf(nc, moved_ip.c_str()), 0u);
  EXPECT_TRUE(Changed("pod address " + moved_ip + " left by uid u" + moved));
  EXPECT_EQ(nc.pod_mappings.size(), 3u);
  EXPECT_NE(sync_->allocator().Find("c1/pod/u" + moved), nullptr);
}

TEST_F(ClusterSyncTest, ServicesGetVipsWithReadyAndDrainingBackends) {
  ListAll();
  kube::Service svc;
  svc.meta = {"shop", "web", "u-svc", "1", {}, {{kAnnotationVip, "auto"}}, false};
  svc.ports = {{"http", 6, 80, 8080}, {"dns", 17, 53, 0}, {"sctp", 132, 9, 9}};
  Upsert(svc);
  kube::EndpointSlice es;
  es.meta = {"shop", "web-abc", "u-es", "2", {}, {}, false};
  es.service_name = "web";
  es.address_type = "IPv4";
  es.ports = {{"http", 6, 8080}, {"dns", 17, 5353}};
  kube::Endpoint ready;
  ready.addresses = {Ip("10.0.1.20")};
  kube::Endpoint terminating;
  terminating.addresses = {Ip("10.0.1.21")};
  terminating.ready = false;
  terminating.serving = true;
  terminating.terminating = true;
  kube::Endpoint gone;
  gone.addresses = {Ip("10.0.1.22")};
  gone.ready = false;
  gone.serving = false;
  es.endpoints = {ready, terminating, gone};
  Upsert(es);
  kube::Service plain;
  plain.meta = {"shop", "internal", "u-int", "1", {}, {}, false};
  plain.ports = {{"", 6, 80, 80}};
  Upsert(plain);  // no annotation, not selected: no VIP
  nat::NatConfig nc = Build();
  ASSERT_EQ(nc.services.size(), 2u);  // http and dns; sctp is not translated
  const nat::ServiceConfig& http = nc.services[0];
  EXPECT_EQ(http.name, "shop/web:http");
  EXPECT_EQ(http.proto, 6);
  EXPECT_EQ(http.port, 80);
  ASSERT_EQ(http.backends.size(), 2u);
  EXPECT_EQ(http.backends[0].pod_ip, Ip("10.0.1.20"));
  EXPECT_EQ(http.backends[0].port, 8080);
  EXPECT_FALSE(http.backends[0].draining);
  EXPECT_TRUE(http.backends[1].draining);
  EXPECT_EQ(nc.services[1].backends[0].port, 5353);
  EXPECT_EQ(http.vip, nc.services[1].vip);
  EXPECT_TRUE(Changed("c1 service shop/web got VIP"));
  EXPECT_TRUE(Changed("(2 ready, 2 draining backends, all ports)"));
  // The terminating endpoint goes away.
  es.endpoints = {ready};
  Upsert(es);
  nc = Build();
  EXPECT_EQ(nc.services[0].backends.size(), 1u);
  EXPECT_TRUE(Changed("backends: 2 -> 2 ready, 2 -> 0 draining"));
  Delete(svc);
  nc = Build();
  EXPECT_TRUE(nc.services.empty());
  EXPECT_TRUE(Changed("lost VIP"));
}

TEST_F(ClusterSyncTest, NodesGivePodCidrRoutes) {
  ListAll();
  kube::Node n;
  n.meta.name = "node-1";
  n.pod_cidrs = {nat::Cidr{Ip("10.0.1.0"), 24}, nat::Cidr{Ip("172.16.9.0"), 24}};
  n.internal_ip = Ip("10.0.0.11");
  Upsert(n);
  Build();
  ASSERT_EQ(sync_->node_routes().size(), 1u);  // the CIDR outside the island is left out
  EXPECT_EQ(sync_->node_routes()[0].destination.addr, Ip("10.0.1.0"));
  EXPECT_EQ(sync_->node_routes()[0].via, Ip("10.0.0.11"));
  EXPECT_EQ(sync_->node_routes()[0].node, "node-1");
}

TEST_F(ClusterSyncTest, SourceStatus) {
  Replace(kube::Kind::kPod, {MakePod("a", "b", "u", "10.0.0.9")});
  auto st = sync_->SourceStatus();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_FALSE(st[0].synced);
  EXPECT_EQ(st[0].objects[0], 1u);
  SourceUpdate down;
  down.type = SourceUpdate::Type::kStatus;
  down.source = "src";
  down.connected = false;
  down.message = "connection refused";
  sync_->Handle(down);
  ListAll();
  st = sync_->SourceStatus();
  EXPECT_TRUE(st[0].synced);
  EXPECT_TRUE(st[0].connected);
  EXPECT_GE(st[0].last_event_age_s, 0);
}

// A Build after an event looks only at what the event touched; it must publish exactly what
// evaluating everything again would. Random pods (reused addresses, finished phases, exhausted
// pools) and services come and go; after each event the incremental result is compared with a
// forced full rebuild of the same state, which must also find nothing else to change.
TEST_F(ClusterSyncTest, IncrementalBuildsMatchAFullRebuild) {
  ListAll();
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::map<std::string, kube::Pod> pods;
  std::map<std::string, kube::Service> services;
  std::map<std::string, kube::EndpointSlice> slices;
  auto flat = [](const nat::NatConfig& nc) {
    std::set<std::string> out;
    for (const auto& m : nc.pod_mappings) {
      out.insert(absl::StrCat("pod ", m.island, " ", m.pod_ip, " ", m.external_ip, " ", m.name, " ",
                              m.uid));
    }
    for (const auto& sc : nc.services) {
      std::string line = absl::StrCat("svc ", sc.name, " ", sc.vip, " ", sc.proto, " ", sc.port);
      for (const auto& b : sc.backends) {
        absl::StrAppend(&line, " ", b.pod_ip, ":", b.port, b.draining ? "d" : "");
      }
      out.insert(line);
    }
    return out;
  };
  for (int step = 0; step < 400; ++step) {
    const int what = pick(10);
    if (what < 4) {  // a new pod, or a new version of one
      const std::string name = absl::StrCat("p", pick(30));
      kube::Pod p = MakePod("shop", name, absl::StrCat("uid-", name, "-", pick(3)),
                            absl::StrCat("10.0.2.", pick(12)).c_str(),
                            pick(2) == 0 ? std::map<std::string, std::string>{{"unique", "yes"}}
                                         : std::map<std::string, std::string>{});
      if (pick(8) == 0) p.phase = pick(2) == 0 ? "Succeeded" : "Failed";
      pods[name] = p;
      Upsert(p);
    } else if (what < 6 && !pods.empty()) {
      auto it = std::next(pods.begin(), pick(static_cast<int>(pods.size())));
      Delete(it->second);
      pods.erase(it);
    } else if (what < 8) {  // a service that wants a VIP (or not any more)
      const std::string name = absl::StrCat("s", pick(4));
      kube::Service svc;
      svc.meta = {"shop", name, absl::StrCat("uid-", name, "-", pick(2)), "1", {},
                  {{kAnnotationVip, pick(4) == 0 ? "none" : "auto"}}, false};
      svc.ports = {{"http", 6, 80, 8080}};
      services[name] = svc;
      Upsert(svc);
    } else if (what < 9) {  // its endpoints change
      const std::string name = absl::StrCat("s", pick(4));
      kube::EndpointSlice es;
      es.meta = {"shop", name + "-x", "u-" + name, "1", {}, {}, false};
      es.service_name = name;
      es.address_type = "IPv4";
      es.ports = {{"http", 6, 8080}};
      for (int e = pick(4); e > 0; --e) {
        kube::Endpoint ep;
        ep.addresses = {Ip(absl::StrCat("10.0.3.", pick(8)).c_str())};
        ep.ready = pick(3) != 0;
        es.endpoints.push_back(ep);
      }
      slices[name] = es;
      Upsert(es);
    } else if (!services.empty()) {
      auto it = std::next(services.begin(), pick(static_cast<int>(services.size())));
      Delete(it->second);
      services.erase(it);
    }
    const std::set<std::string> incremental = flat(BuildOnly());
    sync_->ForceRebuild();
    const std::set<std::string> full = flat(BuildOnly());
    ASSERT_EQ(incremental, full) << "after step " << step;
    for (const std::string& c : changes_) {
      // The reason an object waits for an address names the pool's counts, which the releases at
      // the end of a build move; anything else is a change the incremental build missed.
      if (c.find(" gets no ") == std::string::npos) ADD_FAILURE() << "step " << step << ": " << c;
    }
    wall_now_ += 7;  // quarantines (60 s) end on the way: waiting objects get addresses
  }
  EXPECT_GT(counters_of().allocation_failures, 0u);  // the small pools ran out on the way
}

// ---- DirectorySource

TEST(DirectorySourceTest, InitialStateAtomicReplaceMalformedAndDeletedFiles) {
  const std::string dir = TempDir("dir");
  const std::string fixtures = std::string(NATGW_SOURCE_ROOT) + "/tests/control/testdata/kube/";
  std::filesystem::copy_file(fixtures + "pods.json", dir + "/pods.json");
  std::filesystem::copy_file(fixtures + "nodes.json", dir + "/nodes.json");
  std::ofstream(dir + "/.hidden.json") << "not json";  // ignored
  std::ofstream(dir + "/README") << "not json";        // ignored
  UpdateQueue q;
  auto src = DirectorySource::Start(dir, "dir:" + dir, &q);
  ASSERT_TRUE(src.ok()) << src.status();
  auto updates = q.Drain();
  ASSERT_EQ(updates.size(), 4u);  // one full list per kind
  EXPECT_EQ(updates[0].type, SourceUpdate::Type::kReplace);
  EXPECT_EQ(updates[0].kind, kube::Kind::kPod);
  EXPECT_EQ(updates[0].objects.size(), 4u);
  EXPECT_EQ(updates[3].kind, kube::Kind::kNode);
  EXPECT_EQ(updates[3].objects.size(), 2u);

  auto wait = [&] {
    pollfd p{(*src)->fd(), POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 2000), 1);
    (*src)->Poll();
    return q.Drain();
  };
  // Atomic replace: write elsewhere, rename in. Only the pod kind changed.
  {
    std::ofstream(dir + "/.pods.json.tmp")
        << R"({"kind":"PodList","items":[{"metadata":{"name":"a","namespace":"n","uid":"u"},"status":{"podIP":"10.0.0.5"}}]})";
  }
  std::filesystem::rename(dir + "/.pods.json.tmp", dir + "/pods.json");
  updates = wait();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].kind, kube::Kind::kPod);
  ASSERT_EQ(updates[0].objects.size(), 1u);
  EXPECT_EQ(kube::KeyOf(updates[0].objects[0]), "n/a");

  // A malformed file is refused with its name; the previous content stays.
  { std::ofstream(dir + "/pods.json") << R"({"kind":"PodList","items":[{"metadata":{}}]})"; }
  updates = wait();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].type, SourceUpdate::Type::kStatus);
  EXPECT_THAT(updates[0].message, HasSubstr("pods.json: items[0]: metadata.name missing"));
  ASSERT_EQ((*src)->refused().size(), 1u);

  // Deleting the nodes file removes its nodes; the pods are still those of the good version.
  std::filesystem::remove(dir + "/nodes.json");
  updates = wait();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].kind, kube::Kind::kNode);
  EXPECT_TRUE(updates[0].objects.empty());
  EXPECT_THAT(updates[0].message, HasSubstr("pods.json"));  // still refused
  src->reset();
  std::filesystem::remove_all(dir);
}


// The demo's island c2 (conf/examples/two-islands/c2.toml) takes pod G, pod H and service
// default/web from the JSON files in conf/examples/two-islands/c2-cluster/: what natgw builds from
// them is what the two-island test and the demo send traffic to.
TEST(ClusterExampleTest, TwoIslandsC2FromItsClusterDirectory) {
  const std::string root = std::string(NATGW_SOURCE_ROOT) + "/conf/examples/two-islands/";
  auto c = LoadConfigFile(root + "c2.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string dir = TempDir("example");
  c->allocation.state_file = dir + "/alloc.json";
  ClusterSync sync(*c, ClusterSync::Clock{[] { return 50u; }, [] { return int64_t{1'000'000}; }});
  sync.AddSource(c->clusters[0].island, "dir");
  UpdateQueue q;
  auto src = DirectorySource::Start(root + "c2-cluster", "dir", &q);
  ASSERT_TRUE(src.ok()) << src.status();
  for (SourceUpdate& u : q.Drain()) sync.Handle(std::move(u));
  std::vector<std::string> changes;
  const nat::NatConfig nc = sync.Build(c->nat, &changes);
  std::map<std::string, std::pair<uint32_t, uint32_t>> pods;  // name -> pod, external
  for (const auto& m : nc.pod_mappings) pods[m.name] = {m.pod_ip, m.external_ip};
  EXPECT_EQ(pods.size(), 2u);
  EXPECT_EQ(pods["default/pod-g"], std::make_pair(Ip("10.0.0.5"), Ip("198.51.100.7")));
  EXPECT_EQ(pods["default/pod-h"], std::make_pair(Ip("10.0.0.6"), Ip("198.51.100.8")));
  ASSERT_EQ(nc.services.size(), 1u);
  const nat::ServiceConfig& web = nc.services[0];
  EXPECT_EQ(web.vip, Ip("198.51.100.130"));
  EXPECT_EQ(web.proto, 6);
  EXPECT_EQ(web.port, 80);
  ASSERT_EQ(web.backends.size(), 2u);
  std::set<uint32_t> backends;
  for (const auto& b : web.backends) {
    EXPECT_EQ(b.island, 2);
    EXPECT_EQ(b.port, 8080);
    EXPECT_FALSE(b.draining);
    backends.insert(b.pod_ip);
  }
  EXPECT_EQ(backends, (std::set<uint32_t>{Ip("10.0.0.7"), Ip("10.0.0.8")}));
  nat::PortAllocatorRegistry reg(1);
  EXPECT_TRUE(nat::MappingTable::Build(nc, 1, &reg).ok());
  src->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace natgw::control
