// The worker's fast path: parse a burst, look up all keys at once, apply precomputed rewrites.
#include "lib/nat/worker.h"

#include <algorithm>

#include "lib/nat/worker_internal.h"
#include "lib/net/checksum.h"

namespace natgw::nat {

using conntrack::FlowKey;
using conntrack::kMiss;
using conntrack::Session;

Worker::Worker(Engine* engine, uint32_t id)
    : engine_(engine),
      id_(id),
      sessions_(engine->table_.get(), engine->qsbr(), id, this),
      frag_states_(engine->config().fragment_states),
      held_(engine->config().fragment_hold) {
  if (engine->config().event_ring_size != 0) {
    events_ = std::make_unique<SessionEventRing>(engine->config().event_ring_size);
    traffic_ = engine->traffic_.get();
  }
}

Worker::~Worker() {
  for (HeldFragment& h : held_) {
    if (h.m != nullptr) rte_pktmbuf_free(h.m);
  }
}

void Worker::Online() { rte_rcu_qsbr_thread_online(engine_->qsbr(), id_); }
void Worker::Offline() { rte_rcu_qsbr_thread_offline(engine_->qsbr(), id_); }

void Worker::Maintain(uint32_t now_s) {
  rte_rcu_qsbr_quiescent(engine_->qsbr(), id_);
  now_s_ = now_s;
  mt_ = engine_->mappings();
  const uint32_t flush_epoch = engine_->flush_epoch_.load(std::memory_order_acquire);
  const uint16_t generation = mt_->generation();
  const bool changed = flush_epoch != flush_epoch_seen_ || generation != sweep_generation_;
  // A reload or a flush can end a session of any age (and a reload changes the timeouts): young
  // sessions are examined like the others from now on.
  if (changed) sessions_.SettleAll();
  if (sweeps_to_skip_ != 0 && now_s == sweep_backoff_s_ && !changed) {
    --sweeps_to_skip_;
  } else {
    const uint32_t hold_s = conntrack::ShortestTimeout(mt_->config().timeouts);
    sweeps_to_skip_ = 0;
    flush_epoch_seen_ = flush_epoch;
    sweep_generation_ = generation;
    const uint32_t budget = engine_->config().sweep_budget;
    uint32_t expired = 0;
    for (uint32_t round = 0; round < kSweepMaxRounds; ++round) {
      const uint32_t n = sessions_.Sweep(now_s, budget, hold_s);
      ++sweeps_run_;
      examined_since_expiry_ += sessions_.examined();
      expired += n;
      if (n * 4 < budget) break;  // mostly live: the rest can wait for the next call
    }
    if (expired != 0) {
      counters_.Count(Event::kSessionsExpired, expired);
      examined_since_expiry_ = 0;
    } else if (examined_since_expiry_ >= sessions_.settled() &&
               !sessions_.HasRipe(now_s, hold_s)) {
      sweeps_to_skip_ = kSweepBackoff;  // a whole pass found nothing to expire
      sweep_backoff_s_ = now_s;
    }
  }
  if (held_count_ != 0) ExpireHeld(now_s);
}

void Worker::DropPacket(Pkt& p, DropReason r, PacketVerdict* v) {
  counters_.Drop(r);
  *v = PacketVerdict{p.m, Action::kDrop, 0, r};
}

void Worker::ProcessBurst(Side side, rte_mbuf* const* pkts, uint16_t n, uint32_t now_s,
                          BurstResult* out) {
  now_s_ = now_s;
  mt_ = engine_->mappings();
  out->count = n;
  counters_.Count(Event::kRxPackets, n);
  const bool unknown_island = !side.outside() && mt_->island(side.realm) == nullptr;

  Pkt batch[kMaxBurst];
  const FlowKey* keys[kMaxBurst];
  uint16_t lookup_idx[kMaxBurst];
  uint32_t refs[kMaxBurst];
  uint32_t nk = 0;
  // Later fragments wait for the burst's first fragments (which are translated after the bulk
  // lookup), so a datagram that arrives whole in one burst needs no hold slot.
  uint16_t later_idx[kMaxBurst];
  uint32_t nl = 0;

  for (uint16_t i = 0; i < n; ++i) {
    Pkt& p = batch[i];
    PacketVerdict* v = &out->verdicts[i];
    p.m = pkts[i];
    p.side = side;
    p.first_fragment = false;
    if (ABSL_PREDICT_FALSE(p.m->nb_segs != 1)) {
      DropPacket(p, DropReason::kMultiSegment, v);
      continue;
    }
    p.data = rte_pktmbuf_mtod(p.m, uint8_t*);
    net::ParseError err = net::ParseFrame(p.data, p.m->data_len, &p.info);
    if (ABSL_PREDICT_FALSE(err != net::ParseError::kOk)) {
      DropPacket(p, FromParseError(err), v);
      continue;
    }
    if (ABSL_PREDICT_FALSE(unknown_island)) {
      DropPacket(p, DropReason::kUnknownIsland, v);
      continue;
    }
    p.ip = reinterpret_cast<rte_ipv4_hdr*>(p.data + p.info.l3_offset);
    p.l4 = p.info.is_later_fragment ? nullptr : p.data + p.info.l4_offset;
    if (ABSL_PREDICT_FALSE(p.ip->time_to_live <= 1) && !EchoToGateway(p)) {
      TimeExceeded(p, v);
      continue;
    }
    if (ABSL_PREDICT_FALSE(p.info.is_fragment)) {
      if (p.info.is_later_fragment) {
        later_idx[nl++] = i;
        continue;
      }
      p.first_fragment = true;
      p.orig_src = p.ip->src_addr;
      p.orig_dst = p.ip->dst_addr;
      p.orig_realm = side.realm;
    }
    FlowKey& k = p.key;
    k.src_ip = p.ip->src_addr;
    k.dst_ip = p.ip->dst_addr;
    k.realm = side.realm;
    k.proto = p.info.proto;
    k.flags = 0;
    switch (p.info.proto) {
      case net::kProtoTcp:
      case net::kProtoUdp:
        // TCP and UDP both start with the two ports.
        k.src_port = LoadU16(p.l4);
        k.dst_port = LoadU16(p.l4 + 2);
        break;
      case net::kProtoIcmp: {
        uint8_t type = p.l4[0];
        if (type == net::kIcmpEchoRequest || type == net::kIcmpEchoReply) {
          k.src_port = k.dst_port = *IcmpIdent(p.l4);
          break;
        }
        if (net::IsIcmpError(type)) {
          IcmpError(p, v);
        } else {
          DropPacket(p, DropReason::kUnsupportedIcmp, v);
        }
        continue;
      }
      default:
        Stateless(p, v);
        continue;
    }
    keys[nk] = &p.key;
    lookup_idx[nk] = i;
    ++nk;
  }

  static_assert(kMaxBurst <= 64, "SessionTable::LookupBulk takes at most 64 keys");
  if (nk != 0) engine_->table_->LookupBulk(keys, nk, refs);

  // New flows from the inside will look up their endpoint-independent binding: fetch those
  // buckets for the whole burst at once, so the slow path's cache misses overlap.
  if (!side.outside()) {
    for (uint32_t j = 0; j < nk; ++j) {
      if (refs[j] != kMiss) continue;
      FlowKey b = *keys[j];
      if (b.proto == net::kProtoIcmp) continue;
      b.dst_ip = 0;
      b.dst_port = 0;
      b.flags = conntrack::kBindingKey;
      engine_->table_->PrefetchKey(b);
    }
  }

  for (uint32_t j = 0; j < nk; ++j) {
    Pkt& p = batch[lookup_idx[j]];
    PacketVerdict* v = &out->verdicts[lookup_idx[j]];
    if (refs[j] != kMiss) {
      TranslateHit(p, refs[j], v);
    } else {
      SlowPath(p, v);
    }
    if (ABSL_PREDICT_FALSE(p.first_fragment) && v->action != Action::kDrop) {
      RememberFirstFragment(p, *v, out);
    }
  }
  for (uint32_t j = 0; j < nl; ++j) {
    LaterFragment(batch[later_idx[j]], &out->verdicts[later_idx[j]]);
  }
}

void Worker::TranslateHit(Pkt& p, uint32_t ref, PacketVerdict* v) {
  const uint32_t index = conntrack::RefSession(ref);
  Session& s = engine_->table_->session(index);
  if (ABSL_PREDICT_FALSE(SessionGeneration(s) != mt_->generation())) {
    if (!Valid(s, *mt_)) {
      Kill(index);
      SlowPath(p, v);
      return;
    }
    StampGeneration(s, mt_->generation());
  }
  if (s.last_seen_s.load(std::memory_order_relaxed) != now_s_) {
    s.last_seen_s.store(now_s_, std::memory_order_relaxed);
  }
  const bool out2in = conntrack::RefIsOutKey(ref);
  if (ABSL_PREDICT_FALSE(traffic_ != nullptr)) CountTraffic(index, out2in, p);
  if (p.info.proto == net::kProtoTcp) {
    // Established connections only change state on SYN, FIN or RST; the handshake also on ACK.
    const uint8_t flags = p.l4[13];
    uint8_t raw = s.tcp_state.load(std::memory_order_relaxed);
    const auto cur = static_cast<conntrack::TcpState>(raw);
    if (((flags & (net::kTcpSyn | net::kTcpFin | net::kTcpRst)) ||
         cur != conntrack::TcpState::kEstablished) &&
        raw != conntrack::kTcpStateGone) {
      const bool outside_initiated =
          (s.flags.load(std::memory_order_relaxed) & conntrack::kSessionOutsideInitiated) != 0;
      auto next = conntrack::TcpNextState(cur, flags, out2in == outside_initiated);
      // Compare-exchange, so that of two workers moving the same session (or its owner
      // unlinking it) exactly one counts the change.
      if (next != cur && s.tcp_state.compare_exchange_strong(raw, static_cast<uint8_t>(next),
                                                             std::memory_order_relaxed)) {
        sessions_.CountTcpTransition(cur, next);
      }
    }
  }
  Forward(p, s, out2in, v);
}

void Worker::Rewrite(Pkt& p, const Session& s, bool out2in) {
  const FlowKey& to = out2in ? s.in_key : s.out_key;  // new src = to.dst, new dst = to.src
  const uint16_t ip_delta = out2in ? s.out2in_ip_delta : s.in2out_ip_delta;
  const uint16_t l4_delta = out2in ? s.out2in_l4_delta : s.in2out_l4_delta;
  p.ip->src_addr = to.dst_ip;
  p.ip->dst_addr = to.src_ip;
  --p.ip->time_to_live;  // at least 2 before (ProcessBurst answered the others)
  p.ip->hdr_checksum = net::CsumApplyDelta(
      p.ip->hdr_checksum, net::CsumFold(uint32_t{ip_delta} + net::kTtlDecrementDelta));
  if (p.l4 == nullptr) return;  // later fragment: addresses only
  switch (p.info.proto) {
    case net::kProtoTcp: {
      auto* tcp = reinterpret_cast<rte_tcp_hdr*>(p.l4);
      tcp->src_port = to.dst_port;
      tcp->dst_port = to.src_port;
      tcp->cksum = net::CsumApplyDelta(tcp->cksum, l4_delta);
      break;
    }
    case net::kProtoUdp: {
      auto* udp = reinterpret_cast<rte_udp_hdr*>(p.l4);
      udp->src_port = to.dst_port;
      udp->dst_port = to.src_port;
      udp->dgram_cksum = net::UdpCsumApplyDelta(udp->dgram_cksum, l4_delta);
      break;
    }
    case net::kProtoIcmp: {
      auto* icmp = reinterpret_cast<rte_icmp_hdr*>(p.l4);
      icmp->icmp_ident = out2in ? s.in_key.src_port : s.out_key.dst_port;
      icmp->icmp_cksum = net::CsumApplyDelta(icmp->icmp_cksum, l4_delta);
      break;
    }
    default:
      break;
  }
}

void Worker::TurnAroundHairpin(Pkt& p) {
  counters_.Count(Event::kHairpin);
  ++p.ip->time_to_live;
  p.ip->hdr_checksum = 0;
  p.ip->hdr_checksum = rte_ipv4_cksum(p.ip);
  p.side = Side::Outside();
}

void Worker::Forward(Pkt& p, const Session& s, bool out2in, PacketVerdict* v) {
  Rewrite(p, s, out2in);
  if (out2in) {
    counters_.Count(Event::kOut2In);
    *v = PacketVerdict{p.m, Action::kToInside, s.in_key.realm, DropReason::kCount};
    return;
  }
  counters_.Count(Event::kIn2Out);
  if (ABSL_PREDICT_TRUE(
          (s.flags.load(std::memory_order_relaxed) & conntrack::kSessionHairpin) == 0)) {
    *v = PacketVerdict{p.m, Action::kToOutside, 0, DropReason::kCount};
    return;
  }
  // Hairpin: the destination is one of this gateway's external addresses. Translate again as if
  // the packet had come in from the outside. The TTL was decremented once already; give it back
  // so the second pass does not count a second hop.
  TurnAroundHairpin(p);
  FlowKey& k = p.key;
  k.src_ip = p.ip->src_addr;
  k.dst_ip = p.ip->dst_addr;
  k.realm = conntrack::kOutsideRealm;
  if (p.l4 != nullptr && p.info.proto != net::kProtoIcmp) {
    k.src_port = LoadU16(p.l4);
    k.dst_port = LoadU16(p.l4 + 2);
  } else if (p.l4 != nullptr) {
    k.src_port = k.dst_port = *IcmpIdent(p.l4);
  }
  uint32_t ref = engine_->table_->Lookup(k);
  if (ref != kMiss && conntrack::RefIsOutKey(ref)) {
    TranslateHit(p, ref, v);
  } else {
    SlowPath(p, v);
  }
}

}  // namespace natgw::nat
