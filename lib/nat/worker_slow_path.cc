// The worker's slow path: policy checks and session creation for packets that missed the table,
// stateless 1:1 translation of other IP protocols, and session validity after a reload.
#include <rte_byteorder.h>

#include "lib/nat/worker.h"
#include "lib/nat/worker_internal.h"
#include "lib/net/checksum.h"

namespace natgw::nat {

using conntrack::FlowKey;
using conntrack::kMiss;
using conntrack::Session;
using conntrack::SessionKind;
using conntrack::TcpState;

namespace {

bool IsSyn(const uint8_t* tcp) {
  uint8_t f = tcp[13];
  return (f & net::kTcpSyn) != 0 && (f & (net::kTcpAck | net::kTcpRst)) == 0;
}

uint32_t FlowHash(const FlowKey& k) {
  uint64_t x = (uint64_t{k.src_ip} << 32) ^ (uint64_t{k.src_port} << 16) ^ k.proto ^
               (uint64_t{k.dst_ip} * 0x9e3779b97f4a7c15ULL);
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 29;
  return static_cast<uint32_t>(x);
}

FlowKey MakeKey(uint16_t realm, uint8_t proto, uint32_t src, uint16_t sport, uint32_t dst,
                uint16_t dport, uint8_t flags = 0) {
  FlowKey k;
  k.src_ip = src;
  k.dst_ip = dst;
  k.src_port = sport;
  k.dst_port = dport;
  k.realm = realm;
  k.proto = proto;
  k.flags = flags;
  return k;
}

// Folded checksum deltas of the rewrite from `from` to (src = to.dst, dst = to.src).
void Deltas(const FlowKey& from, const FlowKey& to, uint16_t* ip_delta, uint16_t* l4_delta) {
  uint32_t ip = net::CsumDeltaAdd32(0, from.src_ip, to.dst_ip);
  ip = net::CsumDeltaAdd32(ip, from.dst_ip, to.src_ip);
  *ip_delta = net::CsumFold(ip);
  if (from.proto == net::kProtoIcmp) {
    // The identifier is the only ICMP field that changes; no pseudo header.
    *l4_delta = net::CsumFold(net::CsumDeltaAdd16(0, from.src_port, to.dst_port));
    return;
  }
  uint32_t l4 = net::CsumDeltaAdd16(ip, from.src_port, to.dst_port);
  l4 = net::CsumDeltaAdd16(l4, from.dst_port, to.src_port);
  *l4_delta = net::CsumFold(l4);
}

}  // namespace

void Worker::ReleaseResources(uint32_t pod_slot, uint16_t alloc_id, uint16_t port_be) {
  if (pod_slot != PodCounters::kNoSlot) engine_->pod_counters_.Release(pod_slot);
  if (alloc_id != kNoAllocator) {
    engine_->allocators_.Get(alloc_id)->Unref(id_, rte_be_to_cpu_16(port_be));
  }
}

uint32_t Worker::Publish(const FlowKey& in, const FlowKey& out, SessionKind kind,
                         bool outside_initiated, bool count_pod, uint16_t alloc_id,
                         TcpState tcp_state, DropReason* why) {
  uint32_t pod_slot = PodCounters::kNoSlot;
  const uint32_t limit = mt_->config().limits.max_sessions_per_pod;
  if (count_pod && limit != 0) {
    pod_slot = engine_->pod_counters_.Slot(in.realm, in.src_ip);
    if (pod_slot == PodCounters::kNoSlot) {
      ReleaseResources(pod_slot, alloc_id, out.dst_port);
      *why = DropReason::kPodTableFull;
      return kMiss;
    }
    if (!engine_->pod_counters_.TryAcquire(pod_slot, limit)) {
      if (events_ != nullptr) EmitAlarm(SessionEventType::kQuotaExceeded, in.realm, in.src_ip, 0);
      ReleaseResources(PodCounters::kNoSlot, alloc_id, out.dst_port);
      *why = DropReason::kPodSessionLimit;
      return kMiss;
    }
  }
  conntrack::SessionTable& table = *engine_->table_;
  const uint32_t index = table.Alloc(id_);
  if (index == conntrack::kNoSession) {
    ReleaseResources(pod_slot, alloc_id, out.dst_port);
    *why = DropReason::kSessionTableFull;
    return kMiss;
  }
  Session& s = table.session(index);
  s.in_key = in;
  s.out_key = out;
  Deltas(in, out, &s.in2out_ip_delta, &s.in2out_l4_delta);
  Deltas(out, in, &s.out2in_ip_delta, &s.out2in_l4_delta);
  s.last_seen_s.store(now_s_, std::memory_order_relaxed);
  s.tcp_state.store(static_cast<uint8_t>(tcp_state), std::memory_order_relaxed);
  uint8_t flags = outside_initiated ? conntrack::kSessionOutsideInitiated : 0;
  if (kind != SessionKind::kBinding && mt_->IsOwned(out.src_ip)) {
    flags |= conntrack::kSessionHairpin;
  }
  s.flags.store(flags, std::memory_order_relaxed);
  s.kind = kind;
  s.aux0 = pod_slot;
  s.aux1 = (uint32_t{mt_->generation()} << 16) | alloc_id;
  s.created_s = now_s_;
  if (traffic_ != nullptr) traffic_[index] = SessionTraffic{};

  uint32_t existing = kMiss;
  switch (table.Insert(index, outside_initiated, &existing)) {
    case conntrack::InsertResult::kOk:
      sessions_.Track(index, static_cast<uint8_t>(tcp_state));
      if (events_ != nullptr && kind != SessionKind::kBinding) EmitCreate(index, s);
      counters_.Count(Event::kSessionsCreated);
      switch (kind) {
        case SessionKind::kPodMapping: counters_.Count(Event::kPodMappingSessions); break;
        case SessionKind::kEgressPool: counters_.Count(Event::kEgressPoolSessions); break;
        case SessionKind::kService: counters_.Count(Event::kServiceSessions); break;
        case SessionKind::kBinding: counters_.Count(Event::kBindingsCreated); break;
      }
      return conntrack::MakeRef(index, outside_initiated);
    case conntrack::InsertResult::kFirstKeyExists:
      // Another worker created the same flow first: use its session.
      ReleaseResources(pod_slot, alloc_id, out.dst_port);
      table.Free(index);
      return existing;
    case conntrack::InsertResult::kSecondKeyExists:
      *why = DropReason::kInsertConflict;
      break;
    case conntrack::InsertResult::kFull:
      *why = DropReason::kSessionTableFull;
      break;
  }
  ReleaseResources(pod_slot, alloc_id, out.dst_port);
  table.Free(index);
  return kMiss;
}

Worker::Binding Worker::FindOrCreateBinding(Pkt& p, uint16_t alloc_id, uint32_t ext_ip,
                                            DropReason* why) {
  const FlowKey& k = p.key;
  conntrack::SessionTable& table = *engine_->table_;
  const FlowKey in = MakeKey(k.realm, k.proto, k.src_ip, k.src_port, 0, 0, conntrack::kBindingKey);
  uint32_t ref = table.Lookup(in);
  if (ref != kMiss) {
    Session& b = table.session(conntrack::RefSession(ref));
    const uint16_t port = rte_be_to_cpu_16(b.out_key.dst_port);
    const uint16_t b_alloc = SessionAllocatorId(b);
    if (Valid(b, *mt_)) {
      switch (engine_->allocators_.Get(b_alloc)->Ref(port)) {
        case PortAllocator::RefResult::kOk:
          b.last_seen_s.store(now_s_, std::memory_order_relaxed);
          return Binding{b.out_key.dst_ip, port, b_alloc};
        case PortAllocator::RefResult::kSaturated:
          // The socket's port carries kMaxRefs flows: no more, and the binding stays.
          *why = DropReason::kPortRefsFull;
          return Binding{0, 0, 0};
        case PortAllocator::RefResult::kNotHeld:
          break;
      }
    }
    Kill(conntrack::RefSession(ref));  // stale: its address left the pool, or it is being freed
  }
  PortAllocator* alloc = engine_->allocators_.Get(alloc_id);
  const uint16_t port = alloc->Allocate(id_, rte_be_to_cpu_16(k.src_port) < 1024);
  if (port == 0) {
    if (events_ != nullptr) EmitAlarm(SessionEventType::kPortsExhausted, k.realm, k.src_ip, ext_ip);
    *why = DropReason::kPoolPortsExhausted;
    return Binding{0, 0, 0};
  }
  const FlowKey out = MakeKey(conntrack::kOutsideRealm, k.proto, 0, 0, ext_ip,
                              rte_cpu_to_be_16(port), conntrack::kBindingKey);
  // The flow that asked for this binding will insert this key next: fetch its bucket now.
  table.PrefetchKey(MakeKey(conntrack::kOutsideRealm, k.proto, k.dst_ip, k.dst_port, ext_ip,
                            rte_cpu_to_be_16(port)));
  ref = Publish(in, out, SessionKind::kBinding, false, false, alloc_id, TcpState::kNone, why);
  if (ref == kMiss) return Binding{0, 0, 0};
  // Ours, or the binding another worker created a moment earlier.
  const Session& b = table.session(conntrack::RefSession(ref));
  const uint16_t b_port = rte_be_to_cpu_16(b.out_key.dst_port);
  const uint16_t b_alloc = SessionAllocatorId(b);
  switch (engine_->allocators_.Get(b_alloc)->Ref(b_port)) {
    case PortAllocator::RefResult::kOk:
      break;
    case PortAllocator::RefResult::kSaturated:
      *why = DropReason::kPortRefsFull;
      return Binding{0, 0, 0};
    case PortAllocator::RefResult::kNotHeld:
      *why = DropReason::kInsertConflict;
      return Binding{0, 0, 0};
  }
  return Binding{b.out_key.dst_ip, b_port, b_alloc};
}

uint32_t Worker::CreateEgress(Pkt& p, const IslandEntry& island, DropReason* why) {
  const PoolEntry* pool = mt_->pool(island.pool);
  if (pool == nullptr) {
    *why = DropReason::kNoMapping;
    return kMiss;
  }
  const FlowKey& k = p.key;
  const uint32_t a = mt_->PairedAddressIndex(*pool, k.realm, k.src_ip);
  uint32_t ext_ip = pool->addresses[a];
  uint16_t alloc_id = pool->allocator_ids[a];
  uint16_t ext_port;
  if (k.proto == net::kProtoIcmp) {
    ext_port = engine_->allocators_.Get(alloc_id)->Allocate(id_, false);
    if (ext_port == 0) {
      if (events_ != nullptr) {
        EmitAlarm(SessionEventType::kPortsExhausted, k.realm, k.src_ip, ext_ip);
      }
      *why = DropReason::kPoolPortsExhausted;
      return kMiss;
    }
  } else {
    Binding b = FindOrCreateBinding(p, alloc_id, ext_ip, why);
    if (b.ext_port == 0) return kMiss;
    ext_ip = b.ext_ip;
    ext_port = b.ext_port;
    alloc_id = b.alloc_id;
  }
  const uint16_t ext_port_be = rte_cpu_to_be_16(ext_port);
  const uint16_t remote_port = k.proto == net::kProtoIcmp ? ext_port_be : k.dst_port;
  const FlowKey out =
      MakeKey(conntrack::kOutsideRealm, k.proto, k.dst_ip, remote_port, ext_ip, ext_port_be);
  return Publish(k, out, SessionKind::kEgressPool, false, true, alloc_id, TcpState::kNone, why);
}

uint32_t Worker::CreateFromBinding(Pkt& p, uint32_t binding_ref, DropReason* why) {
  const Session& b = engine_->table_->session(conntrack::RefSession(binding_ref));
  int pool_index;
  uint32_t addr_index;
  if (!Valid(b, *mt_) || !mt_->FindPoolAddress(b.out_key.dst_ip, &pool_index, &addr_index)) {
    *why = DropReason::kNoSession;
    return kMiss;
  }
  if (mt_->pool(pool_index)->filtering != Filtering::kEndpointIndependent) {
    *why = DropReason::kFiltered;
    return kMiss;
  }
  const FlowKey& k = p.key;
  if (k.proto == net::kProtoTcp && !IsSyn(p.l4)) {
    *why = DropReason::kTcpNotSyn;
    return kMiss;
  }
  const uint16_t alloc_id = SessionAllocatorId(b);
  switch (engine_->allocators_.Get(alloc_id)->Ref(rte_be_to_cpu_16(b.out_key.dst_port))) {
    case PortAllocator::RefResult::kOk:
      break;
    case PortAllocator::RefResult::kSaturated:
      *why = DropReason::kPortRefsFull;
      return kMiss;
    case PortAllocator::RefResult::kNotHeld:
      *why = DropReason::kNoSession;
      return kMiss;
  }
  const FlowKey in =
      MakeKey(b.in_key.realm, k.proto, b.in_key.src_ip, b.in_key.src_port, k.src_ip, k.src_port);
  return Publish(in, k, SessionKind::kEgressPool, true, true, alloc_id, TcpState::kNone, why);
}

uint32_t Worker::CreatePodMapping(Pkt& p, uint16_t island, uint32_t pod_ip, uint32_t external_ip,
                                  bool outside_initiated, DropReason* why) {
  const FlowKey& k = p.key;
  // A 1:1 mapping translates any TCP segment: a flow that predates a restart is picked up.
  TcpState state = TcpState::kNone;
  if (k.proto == net::kProtoTcp && !IsSyn(p.l4)) state = TcpState::kMidStream;
  if (outside_initiated) {
    const FlowKey in = MakeKey(island, k.proto, pod_ip, k.dst_port, k.src_ip, k.src_port);
    return Publish(in, k, SessionKind::kPodMapping, true, false, kNoAllocator, state, why);
  }
  const FlowKey out =
      MakeKey(conntrack::kOutsideRealm, k.proto, k.dst_ip, k.dst_port, external_ip, k.src_port);
  return Publish(k, out, SessionKind::kPodMapping, false, true, kNoAllocator, state, why);
}

uint32_t Worker::CreateService(Pkt& p, const ServiceEntry& svc, DropReason* why) {
  const FlowKey& k = p.key;
  if (k.proto == net::kProtoTcp && !IsSyn(p.l4)) {
    *why = DropReason::kTcpNotSyn;
    return kMiss;
  }
  const int b = svc.maglev->Pick(FlowHash(k));
  if (b < 0) {
    *why = DropReason::kNoBackend;
    return kMiss;
  }
  const BackendConfig& be = svc.backends[b];
  const FlowKey in = MakeKey(be.island, k.proto, be.pod_ip, rte_cpu_to_be_16(be.port), k.src_ip,
                             k.src_port);
  return Publish(in, k, SessionKind::kService, true, false, kNoAllocator, TcpState::kNone, why);
}

void Worker::SlowPath(Pkt& p, PacketVerdict* v) {
  if (p.side.outside()) {
    SlowPathOutside(p, v);
  } else {
    SlowPathInside(p, v);
  }
}

void Worker::SlowPathInside(Pkt& p, PacketVerdict* v) {
  const FlowKey& k = p.key;
  const IslandEntry* island = mt_->island(k.realm);
  if (!mt_->IsPodSource(k.realm, k.src_ip)) return DropPacket(p, DropReason::kSpoofedSource, v);
  const bool icmp = k.proto == net::kProtoIcmp;
  if (icmp && p.l4[0] != net::kIcmpEchoRequest) return DropPacket(p, DropReason::kNoSession, v);
  if (k.dst_ip == island->gateway_ip) {
    if (icmp) return EchoReply(p, v);
    return DropPacket(p, DropReason::kNoMapping, v);
  }
  DropReason why = DropReason::kNoMapping;
  uint32_t ref;
  if (uint32_t ext = mt_->ExternalForPod(k.realm, k.src_ip); ext != 0) {
    ref = CreatePodMapping(p, k.realm, k.src_ip, ext, false, &why);
  } else {
    if (k.proto == net::kProtoTcp && !IsSyn(p.l4)) return DropPacket(p, DropReason::kTcpNotSyn, v);
    ref = CreateEgress(p, *island, &why);
  }
  if (ref == kMiss) return DropPacket(p, why, v);
  TranslateHit(p, ref, v);
}

void Worker::SlowPathOutside(Pkt& p, PacketVerdict* v) {
  const FlowKey& k = p.key;
  OwnedKind kind;
  if (!mt_->Owned(k.dst_ip, &kind)) return DropPacket(p, DropReason::kNoMapping, v);
  const bool icmp = k.proto == net::kProtoIcmp;
  if (icmp && p.l4[0] != net::kIcmpEchoRequest) return DropPacket(p, DropReason::kNoSession, v);
  DropReason why = DropReason::kNoMapping;
  uint32_t ref = kMiss;
  switch (kind) {
    case OwnedKind::kGateway:
      if (icmp) return EchoReply(p, v);
      return DropPacket(p, DropReason::kNoMapping, v);
    case OwnedKind::kPodAddress: {
      const MappingTable::PodRef* pod = mt_->PodForExternal(k.dst_ip);
      ref = CreatePodMapping(p, pod->island, pod->pod_ip, k.dst_ip, true, &why);
      break;
    }
    case OwnedKind::kVip: {
      const ServiceEntry* svc = icmp ? nullptr : mt_->FindService(k.dst_ip, k.proto, k.dst_port);
      if (svc == nullptr) return DropPacket(p, DropReason::kNoMapping, v);
      ref = CreateService(p, *svc, &why);
      break;
    }
    case OwnedKind::kPoolAddress: {
      if (icmp) return DropPacket(p, DropReason::kNoSession, v);
      const FlowKey bkey = MakeKey(conntrack::kOutsideRealm, k.proto, 0, 0, k.dst_ip, k.dst_port,
                                   conntrack::kBindingKey);
      const uint32_t bref = engine_->table_->Lookup(bkey);
      if (bref == kMiss) return DropPacket(p, DropReason::kNoSession, v);
      ref = CreateFromBinding(p, bref, &why);
      break;
    }
  }
  if (ref == kMiss) return DropPacket(p, why, v);
  TranslateHit(p, ref, v);
}

void Worker::Stateless(Pkt& p, PacketVerdict* v) {
  rte_ipv4_hdr* ip = p.ip;
  if (!p.side.outside()) {
    if (!mt_->IsPodSource(p.side.realm, ip->src_addr)) {
      return DropPacket(p, DropReason::kSpoofedSource, v);
    }
    const uint32_t ext = mt_->ExternalForPod(p.side.realm, ip->src_addr);
    if (ext == 0) return DropPacket(p, DropReason::kUnsupportedProtocol, v);
    ip->hdr_checksum = net::CsumUpdate32(ip->hdr_checksum, ip->src_addr, ext);
    ip->src_addr = ext;
    counters_.Count(Event::kStatelessIn2Out);
    if (!mt_->IsOwned(ip->dst_addr)) {
      DecrementTtl(p.ip);
      *v = PacketVerdict{p.m, Action::kToOutside, 0, DropReason::kCount};
      return;
    }
    counters_.Count(Event::kHairpin);
  }
  const MappingTable::PodRef* pod = mt_->PodForExternal(ip->dst_addr);
  if (pod == nullptr) return DropPacket(p, DropReason::kNoMapping, v);
  ip->hdr_checksum = net::CsumUpdate32(ip->hdr_checksum, ip->dst_addr, pod->pod_ip);
  ip->dst_addr = pod->pod_ip;
  DecrementTtl(p.ip);
  counters_.Count(Event::kStatelessOut2In);
  *v = PacketVerdict{p.m, Action::kToInside, pod->island, DropReason::kCount};
}

bool Worker::Valid(const Session& s, const MappingTable& mt) const {
  const uint16_t checked = SessionGeneration(s);
  // A newer table found it valid: this worker is still on an older one for a moment (a burst's
  // worth of reloads; a stamp far "ahead" is really far behind, and is checked).
  if (static_cast<uint16_t>(checked - mt.generation() - 1) < kReaderLag) return true;
  // The pod behind the session left (or its address went to another pod): a session that no
  // table knowing of it has found valid (or made) was the departed pod's.
  const MappingTable::Departure* departed = mt.FindDeparture(s.in_key.realm, s.in_key.src_ip);
  if (departed != nullptr && GenerationBefore(checked, departed->generation)) return false;
  switch (s.kind) {
    case SessionKind::kPodMapping:
      return mt.ExternalForPod(s.in_key.realm, s.in_key.src_ip) == s.out_key.dst_ip;
    case SessionKind::kEgressPool:
    case SessionKind::kBinding: {
      int pool;
      uint32_t addr;
      return mt.FindPoolAddress(s.out_key.dst_ip, &pool, &addr) &&
             mt.pool(pool)->island == s.in_key.realm;
    }
    case SessionKind::kService: {
      const ServiceEntry* svc =
          mt.FindService(s.out_key.dst_ip, s.out_key.proto, s.out_key.dst_port);
      if (svc == nullptr) return false;
      auto pinned = [&](const std::vector<BackendConfig>& list) {
        for (const BackendConfig& b : list) {
          if (b.island == s.in_key.realm && b.pod_ip == s.in_key.src_ip &&
              rte_cpu_to_be_16(b.port) == s.in_key.src_port) {
            return true;
          }
        }
        return false;
      };
      return pinned(svc->backends) || pinned(svc->draining);
    }
  }
  return false;
}

void Worker::Kill(uint32_t index) {
  Session& s = engine_->table_->session(index);
  engine_->table_->Unlink(index);
  // Its owner's sweep examines it without being told. Valid() said no: a table newer than the
  // session's stamp made it invalid, and the owner made the session under an older table than
  // that, so the owner's Maintain that first sees that table (its next, or one since) settles
  // every young session. Or the binding's port has no holder: its owner has unlinked it already.
  s.flags.fetch_or(conntrack::kSessionDead, std::memory_order_acq_rel);
}

void Worker::PrefetchForExpiry(const Session& s) const {
  // A binding's expiry reads its port's reference count: a random line of a 128 KiB array per
  // pool address, a miss in a big pool.
  if (s.kind != SessionKind::kBinding) return;
  if (const PortAllocator* alloc = engine_->allocators_.Get(SessionAllocatorId(s))) {
    alloc->PrefetchRefs(rte_be_to_cpu_16(s.out_key.dst_port));
  }
}

bool Worker::Expired(const Session& s, uint32_t now_s) const {
  if (s.flags.load(std::memory_order_acquire) & conntrack::kSessionDead) return true;
  const MappingTable* mt = engine_->mappings();
  if (SessionGeneration(s) != mt->generation()) {
    if (!Valid(s, *mt)) return true;
    // Checked: an idle session is not checked again at every visit, and its 16-bit generation
    // keeps up with the counter, which is compared within half its range. (So long as the sweep
    // visits every session within 32,767 reloads: a pass takes seconds, a reload milliseconds.)
    StampGeneration(s, mt->generation());
  }
  const conntrack::Timeouts& t = mt->config().timeouts;
  const int64_t idle =
      static_cast<int64_t>(now_s) - s.last_seen_s.load(std::memory_order_relaxed);
  uint32_t timeout;
  if (s.kind == SessionKind::kBinding) {
    // A binding lives while any flow uses its port, then for one idle timeout.
    const PortAllocator* alloc = engine_->allocators_.Get(SessionAllocatorId(s));
    if (alloc->refs(rte_be_to_cpu_16(s.out_key.dst_port)) > 1) {
      s.last_seen_s.store(now_s, std::memory_order_relaxed);
      return false;
    }
    timeout = s.in_key.proto == net::kProtoTcp ? t.tcp_transitory_s : t.udp_s;
    return idle >= timeout;
  }
  switch (s.in_key.proto) {
    case net::kProtoTcp:
      timeout = conntrack::TcpIsTransitory(
                    static_cast<TcpState>(s.tcp_state.load(std::memory_order_relaxed)))
                    ? t.tcp_transitory_s
                    : t.tcp_established_s;
      break;
    case net::kProtoIcmp: timeout = t.icmp_s; break;
    default: timeout = t.udp_s; break;
  }
  return idle >= timeout;
}

void Worker::Release(Session& s) {
  ReleaseResources(s.aux0, SessionAllocatorId(s), s.out_key.dst_port);
}

}  // namespace natgw::nat
