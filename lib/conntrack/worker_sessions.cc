// Per-worker expiry and RCU-deferred reclamation.
//
// Tracked sessions form two FIFOs, each striped over kLanes lists through Session::next (the k-th
// session queued is in list k % kLanes, and pops take the lists in the same turn): young ones,
// in creation order, and settled ones. A sweep pops ripe young sessions and then settled ones
// from the heads and requeues live ones at the settled tail, so the FIFOs themselves are the
// resume cursor.
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
  young_.Clear();
  settled_.Clear();
}

void WorkerSessions::Fifo::Clear() {
  for (uint32_t l = 0; l < kLanes; ++l) head[l] = tail[l] = kNoSession;
  push_lane = pop_lane = count = 0;
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
  Push(young_, index);
}

// Unlinked by its owner: no longer live. Marks the TCP state gone so that a reader still
// translating a packet of it cannot move a state count any more.
void WorkerSessions::Uncount(Session& s) {
  --counts_->live[s.in_key.realm & 0xff][static_cast<int>(s.kind) & 3]
                 [SessionCounts::ProtoIndex(s.in_key.proto)];
  const uint8_t state = s.tcp_state.exchange(kTcpStateGone, std::memory_order_relaxed);
  if (CountsTcpState(s) && state != kTcpStateGone) --counts_->tcp[TcpCountIndex(state)];
}

void WorkerSessions::Push(Fifo& f, uint32_t index) {
  table_->session(index).next = kNoSession;
  const uint32_t l = f.push_lane;
  f.push_lane = (l + 1) % kLanes;
  if (f.tail[l] == kNoSession) {
    f.head[l] = index;
  } else {
    table_->session(f.tail[l]).next = index;
  }
  f.tail[l] = index;
  ++f.count;
}

uint32_t WorkerSessions::Pop(Fifo& f) {
  const uint32_t l = f.pop_lane;
  f.pop_lane = (l + 1) % kLanes;
  assert(f.head[l] != kNoSession);
  const uint32_t index = f.head[l];
  f.head[l] = table_->session(index).next;
  if (f.head[l] == kNoSession) {
    f.tail[l] = kNoSession;
  } else {
    rte_prefetch0(&table_->session(f.head[l]));
  }
  --f.count;
  return index;
}

bool WorkerSessions::HasRipe(uint32_t now_s, uint32_t hold_s) const {
  if (young_.count == 0) return false;
  if (hold_s == 0) return true;
  const uint32_t created = table_->session(young_.head[young_.pop_lane]).created_s;
  return static_cast<int64_t>(now_s) - created >= hold_s;
}

// Appends the young FIFO to the settled one as if its sessions were pushed one by one in FIFO
// order: young list (pop_lane + i) goes behind settled list (push_lane + i).
void WorkerSessions::SettleAll() {
  if (young_.count == 0) return;
  for (uint32_t i = 0; i < kLanes; ++i) {
    const uint32_t from = (young_.pop_lane + i) % kLanes;
    const uint32_t to = (settled_.push_lane + i) % kLanes;
    if (young_.head[from] == kNoSession) continue;
    if (settled_.tail[to] == kNoSession) {
      settled_.head[to] = young_.head[from];
    } else {
      table_->session(settled_.tail[to]).next = young_.head[from];
    }
    settled_.tail[to] = young_.tail[from];
  }
  settled_.push_lane = (settled_.push_lane + young_.count) % kLanes;
  settled_.count += young_.count;
  young_.Clear();
}

uint32_t WorkerSessions::Sweep(uint32_t now_s, uint32_t budget, uint32_t hold_s) {
  examined_ = 0;
  const bool ripe = HasRipe(now_s, hold_s);
  // Settled sessions requeued by this call are not examined again by it.
  uint32_t settled_left = settled_.count;
  if (budget == 0 || (!ripe && settled_left == 0)) {
    Reclaim(false);
    return 0;
  }
  // Each list's next session is fetched kLanes pops before it is needed.
  for (uint32_t i = 0; i < kLanes; ++i) {
    if (ripe && i < young_.count) {
      rte_prefetch0(&table_->session(young_.head[(young_.pop_lane + i) % kLanes]));
    }
    if (i < settled_left) {
      rte_prefetch0(&table_->session(settled_.head[(settled_.pop_lane + i) % kLanes]));
    }
  }
  // Examined in groups: a group is popped first and what the policy's expiry test reads
  // beyond the session (a binding's port reference count) fetched for all of it; the expired
  // sessions are unlinked after the group, their index buckets fetched meanwhile (under churn
  // each unlink would otherwise wait for two misses). Survivors go to the settled tail in
  // popping order, so that FIFO stays one FIFO.
  constexpr uint32_t kGroup = 16;
  uint32_t group[kGroup];
  uint32_t expired[kGroup];
  uint32_t unlinked = 0;
  bool young_ripe = ripe;
  while (examined_ < budget) {
    uint32_t size = 0;
    while (size < kGroup && examined_ + size < budget) {
      uint32_t index;
      if (young_ripe) {
        index = Pop(young_);
        young_ripe = HasRipe(now_s, hold_s);
      } else if (settled_left != 0) {
        index = Pop(settled_);
        --settled_left;
      } else {
        break;
      }
      policy_->PrefetchForExpiry(table_->session(index));
      group[size++] = index;
    }
    if (size == 0) break;
    examined_ += size;
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
        Push(settled_, index);
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
  SettleAll();
  while (settled_.count != 0) {
    const uint32_t index = Pop(settled_);
    table_->Unlink(index);
    policy_->Unlinked(index, table_->session(index), true);
    Uncount(table_->session(index));
    pending_->Push(table_, index);
  }
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
