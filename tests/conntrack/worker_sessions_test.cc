#include "lib/conntrack/worker_sessions.h"

#include <rte_rcu_qsbr.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "lib/conntrack/session_table.h"

namespace natgw::conntrack {
namespace {

constexpr uint32_t kPoison = 0xdeadbeef;

// Expiry time in Session::aux0 (absolute, fake seconds); Release poisons aux1 and counts.
class TestPolicy : public SessionPolicy {
 public:
  explicit TestPolicy(uint32_t capacity) : releases_(capacity, 0) {}
  bool Expired(const Session& s, uint32_t now_s) const override {
    ++expired_calls_;
    calls_.push_back({'E', Index(s)});
    return now_s >= s.aux0;
  }
  void PrefetchForExpiry(const Session& s) const override { calls_.push_back({'P', Index(s)}); }
  void Release(Session& s) override {
    ++releases_[Index(s)];
    s.aux1 = kPoison;
  }
  void Unlinked(uint32_t index, const Session& /*s*/, bool shutdown) override {
    if (shutdown) drained_.push_back(index);
  }
  void set_base(const Session* base) { base_ = base; }
  int releases(uint32_t index) const { return releases_[index]; }
  int total_releases() const {
    int n = 0;
    for (int r : releases_) n += r;
    return n;
  }
  uint32_t Index(const Session& s) const { return static_cast<uint32_t>(&s - base_); }
  // The sessions Expired was called for, in order.
  std::vector<uint32_t> Examined() const {
    std::vector<uint32_t> out;
    for (const auto& [what, index] : calls_) {
      if (what == 'E') out.push_back(index);
    }
    return out;
  }
  mutable uint32_t expired_calls_ = 0;
  // PrefetchForExpiry ('P') and Expired ('E') calls in order, with the session's index.
  mutable std::vector<std::pair<char, uint32_t>> calls_;
  std::vector<uint32_t> drained_;  // sessions DrainAll unlinked, in order

 private:
  const Session* base_ = nullptr;
  std::vector<int> releases_;
};

FlowKey Key(uint32_t n, bool out) {
  return FlowKey{.src_ip = 0x0a000000u | n,
                 .dst_ip = 0x01010101u,
                 .src_port = static_cast<uint16_t>(n),
                 .dst_port = 80,
                 .realm = static_cast<uint16_t>(out ? kOutsideRealm : 0),
                 .proto = 6,
                 .flags = 0};
}

class WorkerSessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = SessionTable::Create({.max_sessions = 256, .num_workers = 2});
    ASSERT_TRUE(t.ok());
    table_ = std::move(t).value();
    policy_ = std::make_unique<TestPolicy>(table_->capacity());
    policy_->set_base(&table_->session(0));
    qsbr_ = MakeQsbr(4);
    ASSERT_NE(qsbr_, nullptr);
    ws_ = std::make_unique<WorkerSessions>(table_.get(), qsbr_.get(), 0, policy_.get());
  }

  // Allocates and fills, but does not insert, a session of worker 0 that expires at `expire_s`.
  uint32_t Prepare(uint32_t n, uint32_t expire_s, uint32_t created_s = 0) {
    const uint32_t i = table_->Alloc(0);
    EXPECT_NE(i, kNoSession);
    Session& s = table_->session(i);
    s.in_key = Key(n, false);
    s.out_key = Key(n, true);
    s.flags.store(0);
    s.aux0 = expire_s;
    s.aux1 = 0;
    s.created_s = created_s;
    return i;
  }

  // Creates, inserts and tracks a session of worker 0 that expires at `expire_s`.
  uint32_t Add(uint32_t n, uint32_t expire_s, uint32_t created_s = 0) {
    const uint32_t i = Prepare(n, expire_s, created_s);
    const uint8_t state = table_->session(i).tcp_state.load();  // as inserted (Track's argument)
    EXPECT_EQ(table_->Insert(i, false, nullptr), InsertResult::kOk);
    ws_->Track(i, state);
    return i;
  }

  // Sessions 0..count-1, the even ones expiring at 100, the odd ones at 1000.
  std::vector<uint32_t> AddEvenExpiring(uint32_t count) {
    std::vector<uint32_t> idx;
    for (uint32_t n = 0; n < count; ++n) idx.push_back(Add(n, n % 2 == 0 ? 100 : 1000));
    return idx;
  }

  // Drains everything and expects the sessions `first`, `first + step`, .. below `end` of
  // `idx`, then those of the further ranges, in that order (the FIFO's order).
  void ExpectDrainOrder(const std::vector<uint32_t>& idx,
                        std::initializer_list<std::array<uint32_t, 3>> ranges) {
    ws_->DrainAll(true);
    std::vector<uint32_t> want;
    for (const auto& [first, end, step] : ranges) {
      for (uint32_t n = first; n < end; n += step) want.push_back(idx[n]);
    }
    EXPECT_EQ(policy_->drained_, want);
  }

  bool Indexed(uint32_t n) const {
    return table_->Lookup(Key(n, false)) != kMiss || table_->Lookup(Key(n, true)) != kMiss;
  }

  std::unique_ptr<SessionTable> table_;
  std::unique_ptr<TestPolicy> policy_;
  QsbrPtr qsbr_;
  std::unique_ptr<WorkerSessions> ws_;
};

// Once inserted, a session is another worker's to move: a move counted there before its owner
// tracks it must leave the sums over both workers exact.
TEST_F(WorkerSessionsTest, TcpStateMovedBeforeTrackIsCountedOnce) {
  WorkerSessions other(table_.get(), qsbr_.get(), 1, policy_.get());
  const uint32_t i = Prepare(7, 1000);
  Session& s = table_->session(i);
  const auto syn_sent = static_cast<uint8_t>(TcpState::kSynSent);
  s.tcp_state.store(syn_sent);
  ASSERT_EQ(table_->Insert(i, false, nullptr), InsertResult::kOk);
  // Worker 1 translates the SYN-ACK before worker 0 gets to Track.
  uint8_t expected = syn_sent;
  ASSERT_TRUE(s.tcp_state.compare_exchange_strong(
      expected, static_cast<uint8_t>(TcpState::kEstablished)));
  other.CountTcpTransition(TcpState::kSynSent, TcpState::kEstablished);
  ws_->Track(i, syn_sent);
  SessionCounts sum;
  sum.AddSnapshot(ws_->counts());
  sum.AddSnapshot(other.counts());
  EXPECT_EQ(sum.tcp[static_cast<int>(TcpState::kSynSent)], 0u);
  EXPECT_EQ(sum.tcp[static_cast<int>(TcpState::kEstablished)], 1u);
  ws_->DrainAll(true);
  sum = SessionCounts{};
  sum.AddSnapshot(ws_->counts());
  sum.AddSnapshot(other.counts());
  for (int st = 0; st < SessionCounts::kTcpStates; ++st) EXPECT_EQ(sum.tcp[st], 0u) << st;
}

TEST_F(WorkerSessionsTest, SweepRespectsBudget) {
  for (uint32_t n = 0; n < 10; ++n) Add(n, 100);
  EXPECT_EQ(ws_->Sweep(/*now_s=*/200, /*budget=*/3), 3u);
  EXPECT_EQ(ws_->tracked(), 7u);
  EXPECT_EQ(policy_->expired_calls_, 3u);
  // FIFO order: the oldest three went first.
  for (uint32_t n = 0; n < 10; ++n) EXPECT_EQ(Indexed(n), n >= 3) << n;
  EXPECT_EQ(ws_->Sweep(200, 100), 7u);
  EXPECT_EQ(ws_->tracked(), 0u);
}

// The FIFO is striped over several lists (so a sweep fetches sessions in parallel): it must stay
// one FIFO when sessions leave it, are requeued and are added in between, in any number.
TEST_F(WorkerSessionsTest, SweepOrderStaysFifoAcrossUnlinksRequeuesAndAdds) {
  std::vector<uint32_t> idx;
  for (uint32_t n = 0; n < 20; ++n) idx.push_back(Add(n, n % 3 == 0 ? 100 : 1000));
  EXPECT_EQ(ws_->Sweep(100, 7), 3u);  // 0..6: unlinks 0, 3, 6; requeues 1, 2, 4, 5
  for (uint32_t n = 20; n < 23; ++n) Add(n, 100);
  EXPECT_EQ(ws_->Sweep(100, 13), 4u);  // 7..19: unlinks 9, 12, 15, 18
  for (uint32_t n = 20; n < 23; ++n) EXPECT_TRUE(Indexed(n)) << n;
  // Next in line: the four requeued by the first sweep, then the three added after it.
  EXPECT_EQ(ws_->Sweep(100, 7), 3u);
  EXPECT_EQ(policy_->expired_calls_, 27u);
  for (uint32_t n = 0; n < 23; ++n) EXPECT_EQ(Indexed(n), n < 20 && n % 3 != 0) << n;
  EXPECT_EQ(ws_->tracked(), 13u);
  // A drain goes in the same order: those the second sweep requeued, then those the third did.
  ws_->DrainAll(true);
  EXPECT_EQ(ws_->tracked(), 0u);
  std::vector<uint32_t> want;
  for (uint32_t n : {7, 8, 10, 11, 13, 14, 16, 17, 19, 1, 2, 4, 5}) want.push_back(idx[n]);
  EXPECT_EQ(policy_->drained_, want);
  // After a drain the next session added is the next examined.
  Add(30, 100);
  Add(31, 1000);
  EXPECT_EQ(ws_->Sweep(100, 1), 1u);
  EXPECT_FALSE(Indexed(30));
  EXPECT_TRUE(Indexed(31));
}

// The sweep asks the policy to fetch what its expiry test reads for a group of 16 sessions, then
// tests them: every examined session exactly once each, the prefetch first, in FIFO order.
TEST_F(WorkerSessionsTest, SweepPrefetchesEachGroupBeforeExaminingIt) {
  const std::vector<uint32_t> idx = AddEvenExpiring(40);
  EXPECT_EQ(ws_->Sweep(100, 20), 10u);
  std::vector<std::pair<char, uint32_t>> want;
  for (uint32_t n = 0; n < 16; ++n) want.push_back({'P', idx[n]});
  for (uint32_t n = 0; n < 16; ++n) want.push_back({'E', idx[n]});
  for (uint32_t n = 16; n < 20; ++n) want.push_back({'P', idx[n]});
  for (uint32_t n = 16; n < 20; ++n) want.push_back({'E', idx[n]});
  EXPECT_EQ(policy_->calls_, want);
  for (uint32_t n = 0; n < 40; ++n) EXPECT_EQ(Indexed(n), n >= 20 || n % 2 == 1) << n;
  // The survivors of whole groups went in order to the settled FIFO; the sessions not yet
  // examined are still young, in creation order, and drain after them.
  EXPECT_EQ(ws_->settled(), 10u);
  EXPECT_EQ(ws_->young(), 20u);
  ExpectDrainOrder(idx, {{1, 20, 2}, {20, 40, 1}});
}

// A budget above the tracked count, over several whole groups: each session examined once.
TEST_F(WorkerSessionsTest, BigBudgetExaminesEverySessionOnceAcrossGroups) {
  const std::vector<uint32_t> idx = AddEvenExpiring(40);
  EXPECT_EQ(ws_->Sweep(100, 1000), 20u);
  EXPECT_EQ(policy_->Examined(), idx);
  EXPECT_EQ(ws_->tracked(), 20u);
  ExpectDrainOrder(idx, {{1, 40, 2}});
}

TEST_F(WorkerSessionsTest, LiveSessionsSurviveAndAreExaminedOncePerSweep) {
  std::vector<uint32_t> idx;
  for (uint32_t n = 0; n < 6; ++n) idx.push_back(Add(n, n % 2 == 0 ? 50 : 500));
  // A budget above the tracked count examines each session once, not twice.
  EXPECT_EQ(ws_->Sweep(100, 1000), 3u);
  EXPECT_EQ(policy_->expired_calls_, 6u);
  EXPECT_EQ(ws_->tracked(), 3u);
  for (uint32_t n = 0; n < 6; ++n) {
    EXPECT_EQ(Indexed(n), n % 2 == 1) << n;
    if (n % 2 == 1) {
      EXPECT_EQ(table_->Lookup(Key(n, true)), MakeRef(idx[n], true));
    }
  }
  EXPECT_EQ(ws_->Sweep(499, 1000), 0u);
  EXPECT_EQ(ws_->Sweep(500, 1000), 3u);
  for (uint32_t n = 0; n < 6; ++n) EXPECT_FALSE(Indexed(n)) << n;
}

// A young session is not examined until `hold_s` after its creation; young sessions ripen in
// creation order and are examined before the settled ones.
TEST_F(WorkerSessionsTest, YoungSessionsWaitOutTheHoldInCreationOrder) {
  std::vector<uint32_t> idx;
  for (uint32_t n = 0; n < 10; ++n) idx.push_back(Add(n, 20, /*created_s=*/0));
  for (uint32_t n = 10; n < 20; ++n) idx.push_back(Add(n, 1000, /*created_s=*/5));
  EXPECT_EQ(ws_->Sweep(/*now_s=*/9, /*budget=*/64, /*hold_s=*/10), 0u);
  EXPECT_EQ(ws_->examined(), 0u);
  EXPECT_TRUE(policy_->calls_.empty());
  EXPECT_FALSE(ws_->HasRipe(9, 10));
  EXPECT_TRUE(ws_->HasRipe(10, 10));
  EXPECT_EQ(ws_->young(), 20u);

  // A budget smaller than the ripe ones: the oldest first.
  EXPECT_EQ(ws_->Sweep(10, 4, 10), 0u);
  EXPECT_EQ(ws_->examined(), 4u);
  EXPECT_EQ(policy_->Examined(), std::vector<uint32_t>(idx.begin(), idx.begin() + 4));
  // The rest of those created at 0; the next ones (created at 5) are not ripe before 15.
  policy_->calls_.clear();
  EXPECT_EQ(ws_->Sweep(10, 64, 10), 0u);
  EXPECT_EQ(ws_->examined(), 10u);  // 4..9 once, then 0..3 (settled) once more
  std::vector<uint32_t> want(idx.begin() + 4, idx.begin() + 10);
  want.insert(want.end(), idx.begin(), idx.begin() + 4);
  EXPECT_EQ(policy_->Examined(), want);
  EXPECT_EQ(ws_->young(), 10u);
  EXPECT_EQ(ws_->settled(), 10u);
  EXPECT_FALSE(ws_->HasRipe(14, 10));

  // At 15 the young ones ripen: examined first, then every settled one once.
  policy_->calls_.clear();
  EXPECT_EQ(ws_->Sweep(15, 64, 10), 0u);
  want.assign(idx.begin() + 10, idx.end());
  want.insert(want.end(), idx.begin() + 4, idx.begin() + 10);
  want.insert(want.end(), idx.begin(), idx.begin() + 4);
  EXPECT_EQ(policy_->Examined(), want);
  EXPECT_EQ(ws_->young(), 0u);
  EXPECT_EQ(ws_->Sweep(20, 64, 10), 10u);  // the first ten expire at 20
  for (uint32_t n = 0; n < 20; ++n) EXPECT_EQ(Indexed(n), n >= 10) << n;
}

// The hold is the shortest of the four timeouts, whichever it is.
TEST(ShortestTimeoutTest, TakesTheSmallestOfTheFour) {
  Timeouts t;
  EXPECT_EQ(ShortestTimeout(t), 60u);  // ICMP's
  t.udp_s = 30;
  EXPECT_EQ(ShortestTimeout(t), 30u);
  t.tcp_transitory_s = 20;
  EXPECT_EQ(ShortestTimeout(t), 20u);
  t.tcp_established_s = 10;
  EXPECT_EQ(ShortestTimeout(t), 10u);
  t.icmp_s = 0;
  EXPECT_EQ(ShortestTimeout(t), 0u);
}

// A dead young session waits for its hold like any other; SettleAll (which a reload or a flush
// calls for) makes every young session examinable at once.
TEST_F(WorkerSessionsTest, SettleAllExaminesYoungSessionsAtOnce) {
  const uint32_t a = Add(1, 1000, 100);
  Add(2, 1000, 100);
  table_->session(a).flags.fetch_or(kSessionDead);
  EXPECT_EQ(ws_->Sweep(100, 64, 60), 0u);
  EXPECT_TRUE(Indexed(1));
  ws_->SettleAll();
  EXPECT_EQ(ws_->young(), 0u);
  EXPECT_EQ(ws_->settled(), 2u);
  EXPECT_EQ(ws_->Sweep(100, 64, 60), 1u);
  EXPECT_FALSE(Indexed(1));
  EXPECT_TRUE(Indexed(2));
}

// SettleAll appends the young FIFO behind the settled one in order, whichever of the striped
// lists each FIFO's next push and pop are at.
TEST_F(WorkerSessionsTest, SettleAllKeepsFifoOrderWhateverTheLanes) {
  std::vector<uint32_t> settled;
  for (uint32_t n = 0; n < 3; ++n) settled.push_back(Add(n, 1000, 0));
  EXPECT_EQ(ws_->Sweep(50, 64, 10), 0u);  // all three settled: the next push to list 3
  std::vector<uint32_t> early, late;
  for (uint32_t n = 3; n < 8; ++n) early.push_back(Add(n, 1000, 50));
  for (uint32_t n = 8; n < 21; ++n) late.push_back(Add(n, 1000, 100));
  policy_->calls_.clear();
  EXPECT_EQ(ws_->Sweep(60, 64, 10), 0u);  // the five early ones ripe, then the settled three
  std::vector<uint32_t> want = early;
  want.insert(want.end(), settled.begin(), settled.end());
  ASSERT_EQ(policy_->Examined(), want);
  ASSERT_EQ(ws_->young(), 13u);  // the young FIFO's next pop is at list 5, the settled's at 3
  ws_->SettleAll();
  EXPECT_EQ(ws_->settled(), 21u);
  policy_->calls_.clear();
  EXPECT_EQ(ws_->Sweep(60, 1000, 10), 0u);
  want.insert(want.end(), late.begin(), late.end());
  EXPECT_EQ(policy_->Examined(), want);
  EXPECT_EQ(ws_->examined(), 21u);
  // And the order holds after the sweep requeued them all.
  ws_->DrainAll(true);
  EXPECT_EQ(policy_->drained_, want);
}

TEST_F(WorkerSessionsTest, NoRegisteredReadersFreesAtOnce) {
  const uint32_t i = Add(1, 10);
  EXPECT_EQ(table_->InUse(), 1u);
  EXPECT_EQ(ws_->Sweep(10, 8), 1u);
  EXPECT_EQ(ws_->pending_free(), 0u);
  EXPECT_EQ(policy_->releases(i), 1);
  EXPECT_EQ(table_->InUse(), 0u);
}

TEST_F(WorkerSessionsTest, DeadFlagUnlinksLiveSession) {
  const uint32_t a = Add(1, 1000);
  const uint32_t b = Add(2, 1000);
  table_->session(a).flags.fetch_or(kSessionDead);
  EXPECT_EQ(ws_->Sweep(5, 8), 1u);
  EXPECT_FALSE(Indexed(1));
  EXPECT_EQ(table_->Lookup(Key(2, false)), MakeRef(b, false));
  EXPECT_EQ(policy_->releases(a), 1);
  EXPECT_EQ(policy_->releases(b), 0);
}

// A second reader thread that goes online and reports quiescence only when told to.
class Reader {
 public:
  Reader(rte_rcu_qsbr* v, uint32_t id) : v_(v), id_(id), thread_([this] { Run(); }) {
    while (state_.load() != 1) std::this_thread::yield();
  }
  ~Reader() {
    command_.store(2);
    thread_.join();
  }
  // Blocks until the reader has reported a quiescent state.
  void ReportQuiescent() {
    const int before = reports_.load();
    command_.store(1);
    while (reports_.load() == before) std::this_thread::yield();
  }

 private:
  void Run() {
    rte_rcu_qsbr_thread_register(v_, id_);
    rte_rcu_qsbr_thread_online(v_, id_);
    state_.store(1);
    for (;;) {
      const int c = command_.load();
      if (c == 2) break;
      if (c == 1) {
        command_.store(0);
        rte_rcu_qsbr_quiescent(v_, id_);
        reports_.fetch_add(1);
      }
      std::this_thread::yield();
    }
    rte_rcu_qsbr_thread_offline(v_, id_);
    rte_rcu_qsbr_thread_unregister(v_, id_);
  }

  rte_rcu_qsbr* v_;
  uint32_t id_;
  std::atomic<int> state_{0};
  std::atomic<int> command_{0};
  std::atomic<int> reports_{0};
  std::thread thread_;
};

TEST_F(WorkerSessionsTest, FreedOnlyAfterEveryReaderIsQuiescent) {
  // This thread is worker 0 and itself a reader (thread id 0); thread id 1 is another worker.
  ASSERT_EQ(rte_rcu_qsbr_thread_register(qsbr_.get(), 0), 0);
  rte_rcu_qsbr_thread_online(qsbr_.get(), 0);
  {
    Reader other(qsbr_.get(), 1);
    std::vector<uint32_t> idx;
    for (uint32_t n = 0; n < 4; ++n) idx.push_back(Add(n, 10));
    EXPECT_EQ(ws_->Sweep(10, 64), 4u);
    for (uint32_t n = 0; n < 4; ++n) EXPECT_FALSE(Indexed(n));
    EXPECT_EQ(ws_->pending_free(), 4u);

    // Our own quiescent state is not enough while thread 1 may still hold a reference.
    for (int loop = 0; loop < 3; ++loop) {
      rte_rcu_qsbr_quiescent(qsbr_.get(), 0);
      EXPECT_EQ(ws_->Sweep(11, 64), 0u);
    }
    EXPECT_EQ(ws_->pending_free(), 4u);
    EXPECT_EQ(policy_->total_releases(), 0);
    EXPECT_EQ(table_->InUse(), 4u);
    for (uint32_t i : idx) EXPECT_NE(table_->session(i).aux1, kPoison);

    other.ReportQuiescent();
    EXPECT_EQ(ws_->Sweep(12, 64), 0u);
    EXPECT_EQ(ws_->pending_free(), 0u);
    EXPECT_EQ(table_->InUse(), 0u);
    for (uint32_t i : idx) EXPECT_EQ(policy_->releases(i), 1);

    // Nothing is released twice.
    rte_rcu_qsbr_quiescent(qsbr_.get(), 0);
    other.ReportQuiescent();
    ws_->Sweep(13, 64);
    for (uint32_t i : idx) EXPECT_EQ(policy_->releases(i), 1);
  }
  rte_rcu_qsbr_thread_offline(qsbr_.get(), 0);
  rte_rcu_qsbr_thread_unregister(qsbr_.get(), 0);
}

TEST_F(WorkerSessionsTest, ManySweepsWhileReaderStallsAreAllFreedLater) {
  Reader other(qsbr_.get(), 1);
  // More sweeps than the pending queue keeps separate batches for.
  for (uint32_t n = 0; n < 100; ++n) {
    Add(n, n);
    EXPECT_EQ(ws_->Sweep(n, 1), 1u);
  }
  EXPECT_EQ(ws_->pending_free(), 100u);
  EXPECT_EQ(table_->InUse(), 100u);
  other.ReportQuiescent();
  ws_->Sweep(1000, 1);
  EXPECT_EQ(ws_->pending_free(), 0u);
  EXPECT_EQ(table_->InUse(), 0u);
  EXPECT_EQ(policy_->total_releases(), 100);
}

TEST_F(WorkerSessionsTest, DrainAllWithoutWaitLeavesSessionsPending) {
  Reader other(qsbr_.get(), 1);
  for (uint32_t n = 0; n < 5; ++n) Add(n, 1000);
  ws_->DrainAll(false);
  EXPECT_EQ(ws_->tracked(), 0u);
  EXPECT_EQ(ws_->pending_free(), 5u);
  for (uint32_t n = 0; n < 5; ++n) EXPECT_FALSE(Indexed(n));
  EXPECT_EQ(policy_->total_releases(), 0);
  other.ReportQuiescent();
  ws_->Sweep(0, 0);
  EXPECT_EQ(ws_->pending_free(), 0u);
  EXPECT_EQ(policy_->total_releases(), 5);
}

TEST_F(WorkerSessionsTest, DrainAllWaitFreesEverything) {
  for (uint32_t n = 0; n < 5; ++n) Add(n, 1000);
  {
    // An online reader delays the drain until it reports.
    Reader other(qsbr_.get(), 1);
    std::thread reporter([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      other.ReportQuiescent();
    });
    ws_->DrainAll(true);
    reporter.join();
  }
  EXPECT_EQ(ws_->tracked(), 0u);
  EXPECT_EQ(ws_->pending_free(), 0u);
  EXPECT_EQ(table_->InUse(), 0u);
  EXPECT_EQ(policy_->total_releases(), 5);
  // Freed sessions are reusable.
  const uint32_t i = Add(7, 1000);
  EXPECT_EQ(table_->Lookup(Key(7, false)), MakeRef(i, false));
}

TEST(MakeQsbrTest, CreatesUsableVariable) {
  QsbrPtr v = MakeQsbr(8);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(v.get()) % RTE_CACHE_LINE_SIZE, 0u);
  EXPECT_EQ(rte_rcu_qsbr_thread_register(v.get(), 7), 0);
  EXPECT_NE(rte_rcu_qsbr_thread_register(v.get(), 8), 0);
  EXPECT_EQ(rte_rcu_qsbr_thread_unregister(v.get(), 7), 0);
}

}  // namespace
}  // namespace natgw::conntrack
