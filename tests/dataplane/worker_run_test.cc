// Whole worker loops running on their own threads (std::thread, and EAL lcores through
// LaunchWorkers), translating traffic end to end between ring ports, then stopped.
#include <rte_arp.h>
#include <rte_launch.h>

#include <chrono>
#include <thread>
#include <vector>

#include "lib/net/verify.h"
#include "tests/dataplane/dataplane_fixture.h"

namespace natgw::dataplane::testing {
namespace {

using Frames = std::vector<std::vector<uint8_t>>;

// Collects what `port` transmits until `want` frames arrived (answering nothing) or 10 s passed.
Frames Collect(RingPort& port, size_t want) {
  Frames all;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (all.size() < want && std::chrono::steady_clock::now() < deadline) {
    for (auto& f : port.Take()) all.push_back(std::move(f));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return all;
}

class WorkerRunTest : public DataplaneTest {
 protected:
  void StartThreads() {
    for (uint32_t w = 0; w < dp_->num_workers(); ++w) {
      threads_.emplace_back([this, w] { dp_->RunWorker(w); });
    }
  }
  void JoinThreads() {
    dp_->Stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  void TearDown() override {
    if (!threads_.empty()) JoinThreads();
    DataplaneTest::TearDown();
  }
  std::vector<std::thread> threads_;
};

TEST_F(WorkerRunTest, TwoWorkersTranslateBetweenTwoIslandsAndTheOutside) {
  Topology t;
  t.workers = 2;
  t.second_island = true;
  t.idle_sleep_us = 20;  // two busy pollers would starve the test thread on a small host
  Start(t);
  Introduce(*out_, Ip("192.0.2.1"), Ip("192.0.2.254"), kRouter1Mac);
  Introduce(*c1_, Ip("10.0.0.1"), Ip("10.0.0.5"), kPodAMac);
  Introduce(*c2_, Ip("10.0.0.1"), Ip("10.0.0.5"), kPodGMac);
  StartThreads();

  // The same pod address in both islands, spread over both RX queues.
  constexpr uint16_t kFlows = 40;
  for (uint16_t i = 0; i < kFlows; ++i) {
    const uint16_t q = i % 2;
    c1_->Inject(FromPodA(Ip("8.8.8.8"), static_cast<uint16_t>(30000 + i)), q);
    c2_->Inject(net::PacketBuilder()
                    .Eth(kPodGMac, c2_mac_)
                    .Ipv4(Ip("10.0.0.5"), Ip("8.8.8.8"))
                    .Udp(static_cast<uint16_t>(30000 + i), 53)
                    .Build(),
                q);
  }
  Frames out = Collect(*out_, 2 * kFlows);
  ASSERT_EQ(out.size(), 2u * kFlows);
  int from_c1 = 0, from_c2 = 0;
  for (const auto& f : out) {
    EXPECT_TRUE(SameMac(EthDst(f), kRouter1Mac));
    EXPECT_TRUE(SameMac(EthSrc(f), out_mac_));
    EXPECT_EQ(IpDst(f), Ip("8.8.8.8"));
    EXPECT_TRUE(net::VerifyChecksums(f.data(), f.size()).ok());
    if (IpSrc(f) == Ip("203.0.113.5")) ++from_c1;
    if (IpSrc(f) == Ip("198.51.100.7")) ++from_c2;
  }
  EXPECT_EQ(from_c1, kFlows);
  EXPECT_EQ(from_c2, kFlows);

  // Replies, on either queue (any worker can translate any flow).
  for (uint16_t i = 0; i < kFlows; ++i) {
    for (const char* ext : {"203.0.113.5", "198.51.100.7"}) {
      out_->Inject(net::PacketBuilder()
                       .Eth(kRouter1Mac, out_mac_)
                       .Ipv4(Ip("8.8.8.8"), Ip(ext))
                       .Udp(53, static_cast<uint16_t>(30000 + i))
                       .Build(),
                   static_cast<uint16_t>((i + 1) % 2));
    }
  }
  Frames to_c1 = Collect(*c1_, kFlows);
  Frames to_c2 = Collect(*c2_, kFlows);
  ASSERT_EQ(to_c1.size(), kFlows);
  ASSERT_EQ(to_c2.size(), kFlows);
  for (const auto& f : to_c1) {
    EXPECT_TRUE(SameMac(EthDst(f), kPodAMac));
    EXPECT_EQ(IpDst(f), Ip("10.0.0.5"));
  }
  for (const auto& f : to_c2) {
    EXPECT_TRUE(SameMac(EthDst(f), kPodGMac));
    EXPECT_EQ(IpDst(f), Ip("10.0.0.5"));
  }

  // A next hop resolved while the workers run: the test answers the gateway's ARP request.
  c1_->Inject(FromPodA(Ip("192.0.2.77"), 31000), 1);
  Frames req = Collect(*out_, 1);
  ASSERT_EQ(req.size(), 1u);
  ASSERT_TRUE(IsArp(req[0]));
  EXPECT_EQ(DecodeArp(req[0]).tip, Ip("192.0.2.77"));
  out_->Inject(ArpFrame(RTE_ARP_OP_REPLY, kHostMac, out_mac_, kHostMac, Ip("192.0.2.77"), out_mac_,
                        Ip("192.0.2.1")),
               0);  // the answer reaches the other worker
  Frames held = Collect(*out_, 1);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_TRUE(SameMac(EthDst(held[0]), kHostMac));
  EXPECT_EQ(IpDst(held[0]), Ip("192.0.2.77"));

  JoinThreads();
  EXPECT_EQ(dp_->SumCounters().TotalDrops(), 0u);
  EXPECT_EQ(engine_->SumCounters().TotalDrops(), 0u);
  EXPECT_EQ(engine_->SumCounters().event(nat::Event::kIn2Out), 2u * kFlows + 1);
  EXPECT_EQ(engine_->SumCounters().event(nat::Event::kOut2In), 2u * kFlows);
}

TEST_F(WorkerRunTest, StopReturnsFromIdleWorkers) {
  Topology t;
  t.workers = 2;
  Start(t);
  StartThreads();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto before = std::chrono::steady_clock::now();
  JoinThreads();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(1));
}

TEST_F(WorkerRunTest, LaunchWorkersRunsOnEalLcoresAndSendsGratuitousArp) {
  Topology t;
  t.workers = 2;
  t.idle_sleep_us = 50;
  Start(t);
  ASSERT_TRUE(dp_->LaunchWorkers().ok());
  ASSERT_TRUE(dp_->SendGratuitousArp({Ip("203.0.113.5")}).ok());
  Frames garp = Collect(*out_, 1);
  ASSERT_EQ(garp.size(), 1u);
  EXPECT_EQ(DecodeArp(garp[0]).sip, Ip("203.0.113.5"));
  EXPECT_EQ(DecodeArp(garp[0]).tip, Ip("203.0.113.5"));
  // The running workers answer ARP too.
  out_->Inject(ArpFrame(RTE_ARP_OP_REQUEST, kRouter1Mac, kBroadcastMac, kRouter1Mac,
                        Ip("192.0.2.254"), kZeroMac, Ip("192.0.2.1")),
               1);
  Frames reply = Collect(*out_, 1);
  ASSERT_EQ(reply.size(), 1u);
  EXPECT_EQ(DecodeArp(reply[0]).op, RTE_ARP_OP_REPLY);
  dp_->Stop();
  rte_eal_mp_wait_lcore();
}

TEST_F(WorkerRunTest, ManyGratuitousArpsWaitForWorkerZeroToDrain) {
  Topology t;
  t.workers = 2;
  t.idle_sleep_us = 20;
  t.options.control_ring_size = 64;
  t.ring_size = 2048;  // the whole announcement fits, however late the collector runs
  Start(t);
  StartThreads();
  // Once this one is out, worker 0 is draining.
  ASSERT_TRUE(dp_->SendGratuitousArp({Ip("192.0.2.16")}).ok());
  ASSERT_EQ(Collect(*out_, 1).size(), 1u);
  constexpr uint32_t kAddresses = 1500;  // far more than the ring holds
  Frames got;
  std::thread collector([&] { got = Collect(*out_, kAddresses); });
  std::vector<uint32_t> addresses;
  for (uint32_t i = 0; i < kAddresses; ++i) addresses.push_back(rte_cpu_to_be_32(0x64400000 + i));
  absl::Status s = dp_->SendGratuitousArp(addresses);
  collector.join();
  EXPECT_TRUE(s.ok()) << s;
  ASSERT_EQ(got.size(), kAddresses);
  EXPECT_EQ(DecodeArp(got.back()).sip, addresses.back());
  JoinThreads();
  EXPECT_EQ(Events(Event::kGratuitousArpSent), kAddresses + 1);
  EXPECT_EQ(dp_->SumCounters().TotalDrops(), 0u);
}

TEST_F(DataplaneTest, GratuitousArpFailsFastWhenNoWorkerDrains) {
  Topology t;
  t.options.control_ring_size = 16;
  Start(t);
  std::vector<uint32_t> addresses(100, Ip("203.0.113.5"));
  EXPECT_EQ(dp_->SendGratuitousArp(addresses).code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(WorkerRunTest, LaunchWorkersNeedsEnoughLcores) {
  Topology t;
  t.workers = 3;  // the test EAL has two worker lcores
  Start(t);
  EXPECT_EQ(dp_->LaunchWorkers().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace natgw::dataplane::testing
