// One poll-mode worker's view of the engine. Not thread-safe: each Worker is used by exactly one
// thread (its worker lcore, or a test thread), which must be online as an RCU reader of the
// engine's qsbr variable while it calls ProcessBurst (Engine::Create puts every worker online).
#ifndef NATGW_LIB_NAT_WORKER_H_
#define NATGW_LIB_NAT_WORKER_H_

#include <cstdint>
#include <vector>

#include "lib/conntrack/worker_sessions.h"
#include "lib/nat/engine.h"
#include "lib/net/parse.h"

namespace natgw::nat {

class Worker final : public conntrack::SessionPolicy {
 public:
  Worker(Engine* engine, uint32_t id);
  ~Worker() override;

  // Translates `n` (<= kMaxBurst) packets that arrived on `side` at time `now_s` (a coarse
  // monotonic clock in seconds, injected so tests control time). Packets are rewritten in place.
  // The caller has started fetching the headers (Dataplane::Poll prefetches every received
  // header for writing, right after the receive). No allocation, lock, syscall or logging.
  void ProcessBurst(Side side, rte_mbuf* const* pkts, uint16_t n, uint32_t now_s,
                    BurstResult* out);

  // A frame this worker translated that is too big for the MTU of the port it leaves by (the
  // dataplane finds that out after ProcessBurst). If it may not be fragmented (DF), the frame is
  // turned into an ICMP "fragmentation needed" (RFC 1191) from natgw's address on that side,
  // carrying `mtu`, and translated back to the packet's sender like one a router on that side
  // would send: the returned verdict says where it goes. kDrop (not counted here; the caller
  // counts the frame and frees it) when no error is sent: no DF, a later fragment, an ICMP
  // error, no gateway address on that side, or over the rate limit.
  PacketVerdict FragmentationNeeded(rte_mbuf* m, Side egress, uint16_t mtu, uint32_t now_s);
  // ICMP errors this worker generates (time exceeded, fragmentation needed) per second; more
  // are not sent (icmp_errors_rate_limited).
  static constexpr uint32_t kIcmpErrorsPerSecond = 1000;

  // Once per poll loop: reports an RCU quiescent state, sweeps a bounded number of this worker's
  // sessions for expiry, frees sessions past their grace period and times out held fragments.
  // A new session is not examined until the shortest idle timeout has passed since its creation
  // (none can expire sooner), unless a reload or Engine::FlushAll came first: a table of new
  // flows costs the sweep nothing for that long. (A session that another worker's packet finds
  // invalid, Kill(), was made invalid by a reload that this worker sees at its next Maintain,
  // or saw since it made the session.) Once sweeps have examined as many sessions as the worker
  // has settled (examined before) without expiring one, and no new one is due (a whole pass
  // found nothing), each further fruitless sweep is followed by kSweepBackoff skipped calls,
  // unless the clock (whole seconds, the resolution of every timeout) moves, a reload changes
  // the mappings or Engine::FlushAll runs first: a table of live flows, the normal case under
  // load, gives the sweep nothing to do, and every session it examines costs a cache miss in a
  // big table. A sweep that finds at least a quarter of its budget expired goes on (up to
  // kSweepMaxRounds budgets), so that under churn expiry keeps up with creation.
  void Maintain(uint32_t now_s);
  static constexpr uint32_t kSweepBackoff = 15;
  static constexpr uint32_t kSweepMaxRounds = 8;
  // Sweep rounds run so far (tests; the back-off is otherwise invisible).
  uint64_t sweeps_run() const { return sweeps_run_; }

  // Reports an RCU quiescent state only (Maintain does it too). Call at least once per loop.
  void Quiescent() { rte_rcu_qsbr_quiescent(engine_->qsbr(), id_); }

  // RCU reader state of this worker's thread.
  void Online();
  void Offline();

  const WorkerCounters& counters() const { return counters_; }
  uint32_t id() const { return id_; }
  conntrack::WorkerSessions& sessions() { return sessions_; }
  const conntrack::WorkerSessions& sessions() const { return sessions_; }

  // conntrack::SessionPolicy (called on this worker by its sweep).
  bool Expired(const conntrack::Session& s, uint32_t now_s) const override;
  void PrefetchForExpiry(const conntrack::Session& s) const override;
  void Release(conntrack::Session& s) override;
  void Unlinked(uint32_t index, const conntrack::Session& s, bool shutdown) override;

 private:
  struct Pkt;
  struct FragState;
  struct HeldFragment;

  // Fast path.
  void TranslateHit(Pkt& p, uint32_t ref, PacketVerdict* v);
  void Rewrite(Pkt& p, const conntrack::Session& s, bool out2in);
  void Forward(Pkt& p, const conntrack::Session& s, bool out2in, PacketVerdict* v);
  // Hairpin: the packet, translated for the outside, is to be translated again as if it came
  // in from there; gives back the hop its first pass counted.
  void TurnAroundHairpin(Pkt& p);

  // Slow path (worker_slow_path.cc).
  void SlowPath(Pkt& p, PacketVerdict* v);
  void SlowPathInside(Pkt& p, PacketVerdict* v);
  void SlowPathOutside(Pkt& p, PacketVerdict* v);
  void Stateless(Pkt& p, PacketVerdict* v);
  uint32_t CreateEgress(Pkt& p, const IslandEntry& island, DropReason* why);
  uint32_t CreateFromBinding(Pkt& p, uint32_t binding_ref, DropReason* why);
  uint32_t CreatePodMapping(Pkt& p, uint16_t island, uint32_t pod_ip, uint32_t external_ip,
                            bool outside_initiated, DropReason* why);
  uint32_t CreateService(Pkt& p, const ServiceEntry& svc, DropReason* why);
  struct Binding {
    uint32_t ext_ip;
    uint16_t ext_port;  // host order; 0 if none
    uint16_t alloc_id;
  };
  // The endpoint-independent binding of the packet's source, created if needed, with one more
  // port reference taken for the caller's flow.
  Binding FindOrCreateBinding(Pkt& p, uint16_t alloc_id, uint32_t ext_ip, DropReason* why);
  // Fills, publishes and tracks a session. Takes over one reference on `alloc_id`'s port
  // out.dst_port (if alloc_id != kNoAllocator) and, if `count_pod`, charges the session to the
  // inside pod's limit. Returns the reference matching the arriving packet's key, the existing
  // session's reference if another worker won the race, or kMiss with *why (everything taken
  // has been released then).
  uint32_t Publish(const conntrack::FlowKey& in, const conntrack::FlowKey& out,
                   conntrack::SessionKind kind, bool outside_initiated, bool count_pod,
                   uint16_t alloc_id, conntrack::TcpState tcp_state, DropReason* why);
  void ReleaseResources(uint32_t pod_slot, uint16_t alloc_id, uint16_t port_be);

  // Session events (worker_events.cc); only called when events_ is set.
  void EmitCreate(uint32_t index, const conntrack::Session& s);
  // Ports exhausted or quota exceeded: at most one of each type per second and worker.
  void EmitAlarm(SessionEventType type, uint16_t island, uint32_t pod_ip, uint32_t external_ip);
  void CountTraffic(uint32_t index, bool out2in, const Pkt& p);
  DeleteReason WhyDeleted(const conntrack::Session& s, bool shutdown) const;
  bool Valid(const conntrack::Session& s, const MappingTable& mt) const;
  void Kill(uint32_t index);

  // ICMP (worker_icmp.cc).
  void IcmpError(Pkt& p, PacketVerdict* v);
  void StatelessIcmpError(Pkt& p, rte_ipv4_hdr* quoted, PacketVerdict* v);
  // New outer addresses, one hop less, both checksums of the error anew.
  void RewriteIcmpErrorOuter(Pkt& p, uint32_t outer_src, uint32_t outer_dst);
  void TimeExceeded(Pkt& p, PacketVerdict* v);
  // Turns the packet into an ICMP error about it, in place: a new IP header from `src` to the
  // packet's source, an ICMP header of `type` and `code` whose last four bytes are `rest`
  // (network order), then the packet's IP header and as much of the rest as fits in 576 bytes.
  // False (nothing changed) when the mbuf has no headroom for it.
  bool WrapInIcmpError(Pkt& p, uint32_t src, uint8_t type, uint8_t code, uint32_t rest);
  // Takes one of this second's kIcmpErrorsPerSecond, or counts the error as rate limited.
  bool IcmpErrorAllowed();
  // The address natgw sends an error about `p` from (its own on `side`), or 0 when it sends
  // none: a later fragment, an ICMP error, no address on that side, or over the rate limit.
  uint32_t IcmpErrorSource(const Pkt& p, Side side);
  uint32_t GatewayAddress(Side side) const;  // natgw's own address on a side, 0 if none
  // An unfragmented echo request to natgw's own address: answered whatever its TTL (everything
  // else with TTL <= 1 is dropped before it could be forwarded with its TTL wrapped).
  bool EchoToGateway(const Pkt& p) const;
  void EchoReply(Pkt& p, PacketVerdict* v);

  // Fragments (worker_fragments.cc).
  void LaterFragment(Pkt& p, PacketVerdict* v);
  void RememberFirstFragment(const Pkt& p, const PacketVerdict& v, BurstResult* out);
  void ExpireHeld(uint32_t now_s);

  void DropPacket(Pkt& p, DropReason r, PacketVerdict* v);

  Engine* engine_;
  uint32_t id_;
  WorkerCounters counters_;
  conntrack::WorkerSessions sessions_;
  const MappingTable* mt_ = nullptr;  // the table of the burst being processed
  uint32_t now_s_ = 0;
  std::vector<FragState> frag_states_;
  std::vector<HeldFragment> held_;
  uint32_t held_count_ = 0;
  uint32_t icmp_error_second_ = 0;
  uint32_t icmp_errors_this_second_ = 0;
  uint32_t sweeps_to_skip_ = 0;
  uint32_t sweep_backoff_s_ = 0;  // the second the skipping began
  uint32_t flush_epoch_seen_ = 0;  // Engine::flush_epoch_ at the last sweep
  uint16_t sweep_generation_ = 0;  // the mapping generation at the last sweep
  uint64_t examined_since_expiry_ = 0;
  uint64_t sweeps_run_ = 0;
  // Session events: set only when the engine was created with an event ring.
  friend class Engine;
  std::unique_ptr<SessionEventRing> events_;
  SessionTraffic* traffic_ = nullptr;  // the engine's, indexed by session
  uint32_t alarm_logged_s_[2] = {~0u, ~0u};  // last second of each alarm type (EmitAlarm)
};

}  // namespace natgw::nat

#endif  // NATGW_LIB_NAT_WORKER_H_
