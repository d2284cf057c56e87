// IPv4 fragments: the first fragment (which carries the transport header) decides the
// translation; later fragments of the same datagram, keyed by (realm, src, dst, protocol, IP id),
// get the same addresses. Later fragments that arrive before their first are held in a small
// bounded buffer. All state is per worker and fixed in size, so a fragment flood cannot exhaust
// memory: it can only fill the buffers, and every fragment that does not fit is counted.
#include "lib/nat/worker.h"
#include "lib/nat/worker_internal.h"
#include "lib/net/checksum.h"

namespace natgw::nat {
namespace {

constexpr uint32_t kProbes = 8;

uint32_t FragHash(uint32_t src, uint32_t dst, uint16_t id, uint16_t realm, uint8_t proto) {
  uint64_t x = (uint64_t{src} << 32 | dst) ^ (uint64_t{id} << 24 | uint64_t{realm} << 8 | proto) *
                                                 0x9e3779b97f4a7c15ULL;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 32;
  return static_cast<uint32_t>(x);
}

}  // namespace

void Worker::RememberFirstFragment(const Pkt& p, const PacketVerdict& v, BurstResult* out) {
  const uint16_t ip_id = p.ip->packet_id;
  const uint32_t new_src = p.ip->src_addr, new_dst = p.ip->dst_addr;
  const uint32_t size = static_cast<uint32_t>(frag_states_.size());
  FragState* slot = nullptr;
  if (size != 0) {
    const uint32_t h = FragHash(p.orig_src, p.orig_dst, ip_id, p.orig_realm, p.info.proto);
    for (uint32_t i = 0; i < kProbes && i < size; ++i) {
      FragState& f = frag_states_[(h + i) % size];
      const bool same = f.used && f.src == p.orig_src && f.dst == p.orig_dst && f.ip_id == ip_id &&
                        f.realm == p.orig_realm && f.proto == p.info.proto;
      if (same || !f.used || static_cast<int32_t>(now_s_ - f.expires_s) > 0) {
        slot = &f;
        break;
      }
    }
  }
  if (slot != nullptr) {
    *slot = FragState{p.orig_src, p.orig_dst, ip_id, p.orig_realm, p.info.proto, true,
                      v.action,   v.island,   new_src,   new_dst,
                      now_s_ + engine_->config().fragment_timeout_s};
  } else {
    // Later fragments still to come will find no state; those already held go out below.
    counters_.Count(Event::kFragmentStatesFull);
  }
  if (held_count_ == 0) return;

  // Release held fragments of this datagram.
  for (HeldFragment& h : held_) {
    if (h.m == nullptr || h.realm != p.orig_realm) continue;
    auto* ip = rte_pktmbuf_mtod_offset(h.m, rte_ipv4_hdr*, h.l3_offset);
    if (ip->src_addr != p.orig_src || ip->dst_addr != p.orig_dst || ip->packet_id != ip_id ||
        ip->next_proto_id != p.info.proto) {
      continue;
    }
    ip->hdr_checksum = net::CsumUpdate32(ip->hdr_checksum, ip->src_addr, new_src);
    ip->hdr_checksum = net::CsumUpdate32(ip->hdr_checksum, ip->dst_addr, new_dst);
    ip->src_addr = new_src;
    ip->dst_addr = new_dst;
    DecrementTtl(ip);
    out->verdicts[out->count++] = PacketVerdict{h.m, v.action, v.island, DropReason::kCount};
    counters_.Count(Event::kFragmentsTranslated);
    h.m = nullptr;
    --held_count_;
  }
}

void Worker::LaterFragment(Pkt& p, PacketVerdict* v) {
  const uint8_t proto = p.info.proto;
  if (proto != net::kProtoTcp && proto != net::kProtoUdp && proto != net::kProtoIcmp) {
    return Stateless(p, v);
  }
  const uint32_t size = static_cast<uint32_t>(frag_states_.size());
  const uint32_t src = p.ip->src_addr, dst = p.ip->dst_addr;
  const uint16_t ip_id = p.ip->packet_id;
  if (size != 0) {
    const uint32_t h = FragHash(src, dst, ip_id, p.side.realm, proto);
    for (uint32_t i = 0; i < kProbes && i < size; ++i) {
      const FragState& f = frag_states_[(h + i) % size];
      if (!f.used || f.src != src || f.dst != dst || f.ip_id != ip_id ||
          f.realm != p.side.realm || f.proto != proto) {
        continue;
      }
      if (static_cast<int32_t>(now_s_ - f.expires_s) > 0) break;  // stale datagram
      p.ip->hdr_checksum = net::CsumUpdate32(p.ip->hdr_checksum, src, f.new_src);
      p.ip->hdr_checksum = net::CsumUpdate32(p.ip->hdr_checksum, dst, f.new_dst);
      p.ip->src_addr = f.new_src;
      p.ip->dst_addr = f.new_dst;
      DecrementTtl(p.ip);
      counters_.Count(Event::kFragmentsTranslated);
      *v = PacketVerdict{p.m, f.action, f.island, DropReason::kCount};
      return;
    }
  }
  // Out of order: hold it until the first fragment arrives, or time it out.
  for (HeldFragment& h : held_) {
    if (h.m != nullptr) continue;
    h = HeldFragment{p.m, now_s_ + engine_->config().fragment_timeout_s, p.side.realm,
                     p.info.l3_offset};
    ++held_count_;
    counters_.Count(Event::kFragmentsHeld);
    *v = PacketVerdict{p.m, Action::kHeld, 0, DropReason::kCount};
    return;
  }
  DropPacket(p, DropReason::kFragmentHoldFull, v);
}

void Worker::ExpireHeld(uint32_t now_s) {
  for (HeldFragment& h : held_) {
    if (h.m == nullptr || static_cast<int32_t>(now_s - h.expires_s) <= 0) continue;
    rte_pktmbuf_free(h.m);
    h.m = nullptr;
    --held_count_;
    counters_.Drop(DropReason::kFragmentTimeout);
  }
}

}  // namespace natgw::nat
