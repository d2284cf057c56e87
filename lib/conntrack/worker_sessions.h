// Per-worker session ownership: expiry with a bounded sweep, and reclamation after an RCU grace
// period (rte_rcu_qsbr) so that no reader ever touches a freed session.
#ifndef NATGW_LIB_CONNTRACK_WORKER_SESSIONS_H_
#define NATGW_LIB_CONNTRACK_WORKER_SESSIONS_H_

#include <rte_rcu_qsbr.h>

#include <cstdint>
#include <memory>

#include "lib/conntrack/session_table.h"
#include "lib/conntrack/tcp_state.h"

namespace natgw::conntrack {

// Live sessions of one worker (or a sum over workers), kept as they come and go so that
// `show stats` and the metrics never walk the table. A session counts from Track (creation)
// until its owner unlinks it (expiry, flush, reload); the dimensions are fixed at creation
// (protocol, kind, island). TCP sessions are also counted by state: any worker that changes a
// session's state moves one count in its own array (CountTcpTransition), so one worker's
// per-state counts may wrap below zero; only the sum over workers is meaningful (unsigned
// arithmetic makes it exact).
struct SessionCounts {
  static constexpr int kProtos = 4;  // tcp, udp, icmp, other (ProtoIndex)
  static constexpr int kKinds = 4;   // SessionKind
  static constexpr int kRealms = 256;
  static constexpr int kTcpStates = 9;  // TcpState
  uint64_t live[kRealms][kKinds][kProtos] = {};
  uint64_t tcp[kTcpStates] = {};  // TCP sessions other than bindings, by state

  static int ProtoIndex(uint8_t proto) {
    return proto == 6 ? 0 : proto == 17 ? 1 : proto == 1 ? 2 : 3;
  }
  static constexpr uint8_t kProtoOf[kProtos] = {6, 17, 1, 0};  // 0: "other"
  // Adds a racy (relaxed) snapshot of `other`, which its worker may be writing.
  void AddSnapshot(const SessionCounts& other);
  uint64_t Total() const;
};

static_assert(static_cast<int>(TcpState::kMidStream) + 1 == SessionCounts::kTcpStates);
// The count a stored state goes to (a torn or foreign value to kNone's, which nothing reads).
inline int TcpCountIndex(uint8_t state) { return state < SessionCounts::kTcpStates ? state : 0; }

// Session::tcp_state once its owner has unlinked it: late state changes by readers that still
// hold the session are not counted.
inline constexpr uint8_t kTcpStateGone = 0xff;

// Decides expiry and releases what a session holds (ports, per-pod counts). Implemented by the
// NAT engine; called on the owning worker.
class SessionPolicy {
 public:
  virtual ~SessionPolicy() = default;
  // True if the session should be removed at `now_s` (idle past its protocol/state timeout). May
  // write what readers write too (the NAT engine refreshes a binding's last_seen_s and restamps
  // the mapping generation it checked the session against).
  virtual bool Expired(const Session& s, uint32_t now_s) const = 0;
  // Starts fetching what Expired(s) reads besides `s` itself; the sweep calls it for a group of
  // sessions before it examines them, so those misses overlap.
  virtual void PrefetchForExpiry(const Session& /*s*/) const {}
  // Called once per session just before its memory returns to the pool (after the grace period).
  virtual void Release(Session& s) = 0;
  // Called once per session right after its owner unlinked it, before its TCP state is marked
  // gone (the event log's delete record); `shutdown` when DrainAll unlinked it.
  virtual void Unlinked(uint32_t /*index*/, const Session& /*s*/, bool /*shutdown*/) {}
};

// An rte_rcu_qsbr variable for `max_threads` reader threads, in memory it owns.
struct QsbrDeleter { void operator()(rte_rcu_qsbr* v) const; };
using QsbrPtr = std::unique_ptr<rte_rcu_qsbr, QsbrDeleter>;
QsbrPtr MakeQsbr(uint32_t max_threads);

// Not thread-safe: owned and used by one worker. `qsbr` may be null when the table has no readers
// besides the owner (single-threaded tools): sessions are then freed as soon as they are unlinked.
class WorkerSessions {
 public:
  WorkerSessions(SessionTable* table, rte_rcu_qsbr* qsbr, uint32_t worker, SessionPolicy* policy);
  ~WorkerSessions();

  // Starts tracking (and counting) a session this worker created and inserted. `inserted_state`
  // is the TCP state it stored before Insert (not one read after: from Insert on another worker
  // may move the state, and count that move, before this call).
  void Track(uint32_t index, uint8_t inserted_state);

  // Any worker that moved a TCP session from `from` to `to` (having won the compare-exchange on
  // Session::tcp_state) counts it in its own counts.
  void CountTcpTransition(TcpState from, TcpState to) {
    --counts_->tcp[static_cast<int>(from)];
    ++counts_->tcp[static_cast<int>(to)];
  }
  // This worker's counts (written by it only; read racily through SessionCounts::AddSnapshot).
  const SessionCounts& counts() const { return *counts_; }

  // Examines at most `budget` tracked sessions with a resume cursor: expired or dead ones are
  // unlinked from the index and queued for freeing; live ones are requeued. Then frees queued
  // sessions whose grace period is over (Release, then back to the pool).
  // Returns the number of sessions unlinked by this call.
  //
  // A session is young from Track until its first examination. `hold_s` is the shortest time in
  // which a new session can expire (the shortest idle timeout): a young session created less
  // than `hold_s` seconds before `now_s` is not examined, so a table of new flows costs the sweep
  // nothing for that long. Young sessions are kept in creation order, so the sweep stops at the
  // first that is not ripe. A session can only go sooner by a flush or a reload that
  // invalidates it: call SettleAll() first then. Ripe young sessions are examined first, then
  // at most as many settled ones (examined before) as there were at the start of the call. (So
  // settled sessions wait while more young ones ripen per call than the budget: long-lived
  // flows created faster than that for longer than `hold_s`.)
  uint32_t Sweep(uint32_t now_s, uint32_t budget, uint32_t hold_s = 0);
  // Sessions the last Sweep examined.
  uint32_t examined() const { return examined_; }
  // Makes every young session settled (examined by the next sweeps like any other), keeping
  // FIFO order: after a reload or a flush, which may end sessions of any age.
  void SettleAll();
  // True if a young session is ripe at `now_s` (the next Sweep would examine it).
  bool HasRipe(uint32_t now_s, uint32_t hold_s) const;

  // Unlinks and queues every tracked session (shutdown, flush-all), then waits for the grace
  // period only if `wait` (the caller must not itself be an online reader then).
  void DrainAll(bool wait);

  uint32_t tracked() const { return young_.count + settled_.count; }
  uint32_t young() const { return young_.count; }
  uint32_t settled() const { return settled_.count; }
  uint32_t pending_free() const;

 private:
  struct Pending;
  // A FIFO of sessions striped over kLanes lists through Session::next: the k-th push goes to
  // list k % kLanes and the k-th pop takes list k % kLanes, which keeps FIFO order. A sweep so
  // follows kLanes chains at once, fetching each list's next session while the others are
  // examined (one chain would wait for a cache miss per session).
  static constexpr uint32_t kLanes = 8;
  struct Fifo {
    uint32_t head[kLanes];
    uint32_t tail[kLanes];
    uint32_t push_lane;  // the list the next push goes to
    uint32_t pop_lane;   // the list the next pop takes
    uint32_t count;
    void Clear();  // empty lists, the next push and pop at list 0
  };
  void Push(Fifo& f, uint32_t index);
  uint32_t Pop(Fifo& f);  // f must not be empty; starts fetching the list's next session
  void Uncount(Session& s);
  void Reclaim(bool all);
  SessionTable* table_;
  rte_rcu_qsbr* qsbr_;
  uint32_t worker_;
  SessionPolicy* policy_;
  Fifo young_;    // tracked, never examined: in creation order
  Fifo settled_;  // examined at least once, or made settled by SettleAll
  uint32_t examined_ = 0;
  std::unique_ptr<Pending> pending_;
  std::unique_ptr<SessionCounts> counts_;
};

}  // namespace natgw::conntrack

#endif  // NATGW_LIB_CONNTRACK_WORKER_SESSIONS_H_
