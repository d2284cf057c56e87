// Per-worker expiry and RCU-deferred reclamation.
//
// Tracked sessions form one FIFO striped over kLanes lists through Session::next (the k-th
// session queued is in list k % kLanes, and pops take the lists in the same turn); a sweep pops
// from the head and requeues live sessions at the tail, so the FIFO itself is the resume cursor.
// Once a session is unlinked it leaves the expiry FIFO and joins the pending-free FIFO, reusing
// the same link (no memory per session beyond the pool). Pending sessions are grouped in
// batches, one per sweep, each stamped with an rte_rcu_qsbr token taken after its sessions were
// unlinked; a batch is freed once every registered reader has reported quiescence past its token.
#include "lib/conntrack/worker_sessions.h"

#include <rte_common.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>

namespace natgw::conntrack {

struct WorkerSessions::Pending {
  // Batches beyond this many (readers stalled for as many sweeps) merge into the newest one:
  // a later token is always safe, it only frees later.
  static constexpr uint32_t kMaxBatches = 64;
  struct Batch {
    uint64_t token;
    uint32_t count;
  };
  uint32_t head = kNoSession;  // FIFO through Session::next
  uint32_t tail = kNoSession;
  uint32_t count = 0;
  Batch batches[kMaxBatches];
  uint32_t first = 0;     // oldest batch
  uint32_t num = 0;       // batches in use
  uint32_t unsealed = 0;  // sessions pushed since the last Seal

  void Push(SessionTable* table, uint32_t index) {
    table->session(index).next = kNoSession;
    if (tail == kNoSession) {
      head = index;
    } else {
      table->session(tail).next = index;
    }
    tail = index;
    ++count;
    ++unsealed;
  }
  uint32_t Pop(SessionTable* table) {
    const uint32_t index = head;
    head = table->session(index).next;
    if (head == kNoSession) tail = kNoSession;
    --count;
    return index;
  }
  // Closes the sessions pushed since the last Seal into a batch freed after `token`.
  void Seal(uint64_t token) {
    if (unsealed == 0) return;
    if (num == kMaxBatches) {
      Batch& last = batches[(first + num - 1) % kMaxBatches];
      last.token = token;
      last.count += unsealed;
    } else {
      batches[(first + num) % kMaxBatches] = Batch{token, unsealed};
      ++num;
    }
    unsealed = 0;
  }
};

void QsbrDeleter::operator()(rte_rcu_qsbr* v) const { std::free(v); }

QsbrPtr MakeQsbr(uint32_t max_threads) {
  const size_t size = rte_rcu_qsbr_get_memsize(max_threads);
  if (size == 1) return nullptr;  // rte_rcu_qsbr_get_memsize's error value
  const size_t rounded = RTE_ALIGN_CEIL(size, RTE_CACHE_LINE_SIZE);
  auto* v = static_cast<rte_rcu_qsbr*>(std::aligned_alloc(RTE_CACHE_LINE_SIZE, rounded));
  if (v == nullptr) return nullptr;
  if (rte_rcu_qsbr_init(v, max_threads) != 0) {
    std::free(v);
    return nullptr;
  }
  return QsbrPtr(v);
}

WorkerSessions::WorkerSessions(SessionTable* table, rte_rcu_qsbr* qsbr, uint32_t worker,
                               SessionPolicy* policy)
    : table_(table),
      qsbr_(qsbr),
      worker_(worker),
      policy_(policy),
      pending_(std::make_unique<Pending>()),
      counts_(std::make_unique<SessionCounts>()) {
  assert(worker < table->num_workers());
  ClearLanes();
}

void WorkerSessions::ClearLanes() {
  for (uint32_t l = 0; l < kLanes; ++l) head_[l] = tail_[l] = kNoSession;
  push_lane_ = pop_lane_ = 0;
}

// Pending sessions stay unfreed: they may still be read, and the table may be going away too.
// Call DrainAll(true) first to return everything to the pool.
WorkerSessions::~WorkerSessions() = default;

uint32_t WorkerSessions::pending_free() const { return pending_->count; }

void SessionCounts::AddSnapshot(const SessionCounts& other) {
  for (int r = 0; r < kRealms; ++r) {
    for (int k = 0; k < kKinds; ++k) {
      for (int p = 0; p < kProtos; ++p) {
        live[r][k][p] += __atomic_load_n(&other.live[r][k][p], __ATOMIC_RELAXED);
      }
    }
  }
  for (int i = 0; i < kTcpStates; ++i) tcp[i] += __atomic_load_n(&other.tcp[i], __ATOMIC_RELAXED);
}

uint64_t SessionCounts::Total() const {
  uint64_t n = 0;
  for (const auto& realm : live) {
    for (const auto& kind : realm) {
      for (uint64_t v : kind) n += v;
    }
  }
  return n;
}

namespace {
bool CountsTcpState(const Session& s) {
  return s.in_key.proto == 6 && s.kind != SessionKind::kBinding;
}
}  // namespace

void WorkerSessions::Track(uint32_t index, uint8_t inserted_state) {
  Session& s = table_->session(index);
  assert(s.owner == worker_);
  assert(s.in_key.realm < SessionCounts::kRealms);
  ++counts_->live[s.in_key.realm & 0xff][static_cast<int>(s.kind) & 3]
                 [SessionCounts::ProtoIndex(s.in_key.proto)];
  if (CountsTcpState(s)) ++counts_->tcp[TcpCountIndex(inserted_state)];
  Enqueue(index);
}

// Unlinked by its owner: no longer live. Marks the TCP state gone so that a reader still
// translating a packet of it cannot move a state count any more.
void WorkerSessions::Uncount(Session& s) {
  --counts_->live[s.in_key.realm & 0xff][static_cast<int>(s.kind) & 3]
                 [SessionCounts::ProtoIndex(s.in_key.proto)];
  const uint8_t state = s.tcp_state.exchange(kTcpStateGone, std::memory_order_relaxed);
  if (CountsTcpState(s) && state != kTcpStateGone) --counts_->tcp[TcpCountIndex(state)];
}

void WorkerSessions::Enqueue(uint32_t index) {
  Session& s = table_->session(index);
  s.next = kNoSession;
  const uint32_t l = push_lane_;
  push_lane_ = (l + 1) % kLanes;
  if (tail_[l] == kNoSession) {
    head_[l] = index;
  } else {
    table_->session(tail_[l]).next = index;
  }
  tail_[l] = index;
  ++tracked_;
}

uint32_t WorkerSessions::Sweep(uint32_t now_s, uint32_t budget) {
  const uint32_t n = budget < tracked_ ? budget : tracked_;
  if (n == 0) {
    Reclaim(false);
    return 0;
  }
  // Each list's next session is fetched kLanes pops before it is needed.
  for (uint32_t i = 0; i < kLanes && i < n; ++i) {
    rte_prefetch0(&table_->session(head_[(pop_lane_ + i) % kLanes]));
  }
  // Examined in groups: a group is popped first and what the policy's expiry test reads
  // beyond the session (a binding's port reference count) fetched for all of it; the expired
  // sessions are unlinked after the group, their index buckets fetched meanwhile (under churn
  // each unlink would otherwise wait for two misses). Survivors go back in popping order, so
  // the lists stay one FIFO.
  constexpr uint32_t kGroup = 16;
  uint32_t group[kGroup];
  uint32_t expired[kGroup];
  uint32_t unlinked = 0;
  for (uint32_t done = 0; done < n;) {
    const uint32_t size = std::min(n - done, kGroup);
    for (uint32_t j = 0; j < size; ++j) {
      const uint32_t l = pop_lane_;
      pop_lane_ = (l + 1) % kLanes;
      assert(head_[l] != kNoSession);
      const uint32_t index = head_[l];
      const Session& s = table_->session(index);
      head_[l] = s.next;
      if (head_[l] == kNoSession) {
        tail_[l] = kNoSession;
      } else {
        rte_prefetch0(&table_->session(head_[l]));
      }
      --tracked_;
      policy_->PrefetchForExpiry(s);
      group[j] = index;
    }
    done += size;
    uint32_t num_expired = 0;
    for (uint32_t j = 0; j < size; ++j) {
      const uint32_t index = group[j];
      const Session& s = table_->session(index);
      if ((s.flags.load(std::memory_order_acquire) & kSessionDead) != 0 ||
          policy_->Expired(s, now_s)) {
        table_->PrefetchKey(s.in_key);
        table_->PrefetchKey(s.out_key);
        expired[num_expired++] = index;
      } else {
        Enqueue(index);
      }
    }
    for (uint32_t j = 0; j < num_expired; ++j) {
      Session& s = table_->session(expired[j]);
      table_->Unlink(expired[j]);
      policy_->Unlinked(expired[j], s, false);
      Uncount(s);
      pending_->Push(table_, expired[j]);
    }
    unlinked += num_expired;
  }
  if (unlinked != 0) pending_->Seal(qsbr_ != nullptr ? rte_rcu_qsbr_start(qsbr_) : 0);
  Reclaim(false);
  return unlinked;
}

void WorkerSessions::DrainAll(bool wait) {
  // In FIFO order, oldest first (the policy may log each one).
  for (; tracked_ != 0; --tracked_) {
    const uint32_t l = pop_lane_;
    pop_lane_ = (l + 1) % kLanes;
    const uint32_t index = head_[l];
    head_[l] = table_->session(index).next;
    table_->Unlink(index);
    policy_->Unlinked(index, table_->session(index), true);
    Uncount(table_->session(index));
    pending_->Push(table_, index);
  }
  ClearLanes();
  pending_->Seal(qsbr_ != nullptr ? rte_rcu_qsbr_start(qsbr_) : 0);
  if (wait && qsbr_ != nullptr) rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
  Reclaim(wait);
}

// Frees every batch whose grace period is over (all of them if `all`: the caller waited).
void WorkerSessions::Reclaim(bool all) {
  Pending& p = *pending_;
  while (p.num != 0) {
    Pending::Batch& b = p.batches[p.first];
    if (!all && qsbr_ != nullptr && rte_rcu_qsbr_check(qsbr_, b.token, false) != 1) break;
    for (uint32_t i = 0; i < b.count; ++i) {
      const uint32_t index = p.Pop(table_);
      policy_->Release(table_->session(index));
      table_->Free(index);
    }
    p.first = (p.first + 1) % Pending::kMaxBatches;
    --p.num;
  }
}

}  // namespace natgw::conntrack
