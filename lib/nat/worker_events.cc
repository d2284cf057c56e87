// Session events from the worker to the control thread's event log: create, delete (with the
// reason and the session's traffic), pool ports exhausted. Only reached when the engine was
// created with an event ring (EngineConfig::event_ring_size); never blocks, never allocates.
#include <rte_byteorder.h>
#include <rte_cycles.h>

#include "lib/nat/worker.h"
#include "lib/nat/worker_internal.h"

namespace natgw::nat {

using conntrack::Session;
using conntrack::SessionKind;

namespace {

void FillEndpoints(const Session& s, SessionEvent* e) {
  e->inside_ip = s.in_key.src_ip;
  e->inside_port = s.in_key.src_port;
  e->remote_inside_ip = s.in_key.dst_ip;
  e->remote_inside_port = s.in_key.dst_port;
  e->external_ip = s.out_key.dst_ip;
  e->external_port = s.out_key.dst_port;
  e->remote_ip = s.out_key.src_ip;
  e->remote_port = s.out_key.src_port;
  e->island = s.in_key.realm;
  e->proto = s.in_key.proto;
  e->kind = static_cast<uint8_t>(s.kind);
  e->outside_initiated =
      (s.flags.load(std::memory_order_relaxed) & conntrack::kSessionOutsideInitiated) != 0;
  e->created_s = s.created_s;
}

}  // namespace

void Worker::CountTraffic(uint32_t index, bool out2in, const Pkt& p) {
  // Several workers may translate packets of one flow: relaxed atomic adds.
  SessionTraffic& t = traffic_[index];
  __atomic_fetch_add(&t.packets[out2in], 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&t.bytes[out2in], rte_be_to_cpu_16(p.ip->total_length), __ATOMIC_RELAXED);
}

void Worker::EmitCreate(uint32_t /*index*/, const Session& s) {
  SessionEvent e{};
  e.tsc = rte_rdtsc();
  e.type = SessionEventType::kCreate;
  FillEndpoints(s, &e);
  e.event_s = now_s_;
  events_->Push(e);
}

void Worker::EmitAlarm(SessionEventType type, uint16_t island, uint32_t pod_ip,
                       uint32_t external_ip) {
  uint32_t& last = alarm_logged_s_[type == SessionEventType::kQuotaExceeded];
  if (last == now_s_) return;  // one per second and worker is enough to alarm
  last = now_s_;
  SessionEvent e{};
  e.tsc = rte_rdtsc();
  e.type = type;
  e.island = island;
  e.inside_ip = pod_ip;
  e.external_ip = external_ip;
  e.event_s = now_s_;
  events_->Push(e);
}

DeleteReason Worker::WhyDeleted(const Session& s, bool shutdown) const {
  if (shutdown) return DeleteReason::kShutdown;
  const uint8_t flags = s.flags.load(std::memory_order_acquire);
  if (flags & conntrack::kSessionFlushed) return DeleteReason::kFlushed;
  if (flags & conntrack::kSessionDead) return DeleteReason::kMappingChanged;  // Kill()
  const MappingTable* mt = engine_->mappings();
  if (SessionGeneration(s) != mt->generation() && !Valid(s, *mt)) {
    return DeleteReason::kMappingChanged;
  }
  if (s.in_key.proto == net::kProtoTcp) {
    const auto st = static_cast<conntrack::TcpState>(s.tcp_state.load(std::memory_order_relaxed));
    if (st == conntrack::TcpState::kClosing || st == conntrack::TcpState::kReset) {
      return DeleteReason::kTcpClosed;
    }
  }
  return DeleteReason::kIdleTimeout;
}

void Worker::Unlinked(uint32_t index, const Session& s, bool shutdown) {
  if (events_ == nullptr || s.kind == SessionKind::kBinding) return;
  SessionEvent e{};
  e.tsc = rte_rdtsc();
  e.type = SessionEventType::kDelete;
  e.reason = WhyDeleted(s, shutdown);
  FillEndpoints(s, &e);
  const SessionTraffic& t = traffic_[index];
  for (int d = 0; d < 2; ++d) {
    e.packets[d] = __atomic_load_n(&t.packets[d], __ATOMIC_RELAXED);
    e.bytes[d] = __atomic_load_n(&t.bytes[d], __ATOMIC_RELAXED);
  }
  e.event_s = now_s_;
  events_->Push(e);
}

}  // namespace natgw::nat
