// ICMP on the worker: translation of ICMP errors and their quoted packet (RFC 5508), ICMP
// time-exceeded generation at TTL 1 (so traceroute works), and echo replies for the gateway's
// own addresses.
#include <rte_byteorder.h>

#include <algorithm>
#include <cstring>

#include "lib/nat/worker.h"
#include "lib/nat/worker_internal.h"
#include "lib/net/checksum.h"

namespace natgw::nat {

using conntrack::FlowKey;
using conntrack::kMiss;
using conntrack::Session;

namespace {

// RFC 1812 4.3.2.3: an ICMP error quotes as much of the original as fits in 576 bytes.
constexpr uint32_t kMaxIcmpErrorIpLen = 576;
constexpr uint32_t kIcmpErrorOverhead = sizeof(rte_ipv4_hdr) + 8;

void SwapMacs(uint8_t* frame) {
  auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
  rte_ether_addr tmp = eth->src_addr;
  eth->src_addr = eth->dst_addr;
  eth->dst_addr = tmp;
}

PacketVerdict BackToSender(rte_mbuf* m, Side side) {
  return side.outside() ? PacketVerdict{m, Action::kToOutside, 0, DropReason::kCount}
                        : PacketVerdict{m, Action::kToInside, side.realm, DropReason::kCount};
}

}  // namespace

void Worker::EchoReply(Pkt& p, PacketVerdict* v) {
  rte_ipv4_hdr* ip = p.ip;
  auto* icmp = reinterpret_cast<rte_icmp_hdr*>(p.l4);
  const uint16_t old_w = LoadU16(&icmp->icmp_type);
  icmp->icmp_type = net::kIcmpEchoReply;
  icmp->icmp_cksum = net::CsumUpdate16(icmp->icmp_cksum, old_w, LoadU16(&icmp->icmp_type));
  const uint32_t src = ip->src_addr;
  ip->src_addr = ip->dst_addr;
  ip->dst_addr = src;
  ip->time_to_live = 64;
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  SwapMacs(p.data);
  counters_.Count(Event::kIcmpEchoReplied);
  *v = BackToSender(p.m, p.side);
}

bool Worker::IcmpErrorAllowed() {
  if (now_s_ != icmp_error_second_) {
    icmp_error_second_ = now_s_;
    icmp_errors_this_second_ = 0;
  }
  if (icmp_errors_this_second_ >= kIcmpErrorsPerSecond) {
    counters_.Count(Event::kIcmpErrorsRateLimited);
    return false;
  }
  ++icmp_errors_this_second_;
  return true;
}

bool Worker::WrapInIcmpError(Pkt& p, uint32_t src, uint8_t type, uint8_t code, uint32_t rest) {
  if (rte_pktmbuf_headroom(p.m) < kIcmpErrorOverhead) return false;
  const uint32_t orig_src = p.ip->src_addr;
  const uint16_t l3 = p.info.l3_offset;
  const uint32_t quote = std::min<uint32_t>(p.info.ip_len, kMaxIcmpErrorIpLen - kIcmpErrorOverhead);
  auto* frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(p.m, kIcmpErrorOverhead));
  std::memmove(frame, frame + kIcmpErrorOverhead, l3);  // Ethernet (+VLAN) header
  const uint32_t total = l3 + kIcmpErrorOverhead + quote;
  if (p.m->data_len > total) rte_pktmbuf_trim(p.m, static_cast<uint16_t>(p.m->data_len - total));

  auto* nip = reinterpret_cast<rte_ipv4_hdr*>(frame + l3);
  nip->version_ihl = 0x45;
  nip->type_of_service = 0;
  nip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(kIcmpErrorOverhead + quote));
  nip->packet_id = 0;
  nip->fragment_offset = 0;
  nip->time_to_live = 64;
  nip->next_proto_id = net::kProtoIcmp;
  nip->src_addr = src;
  nip->dst_addr = orig_src;
  nip->hdr_checksum = 0;
  nip->hdr_checksum = rte_ipv4_cksum(nip);
  uint8_t* icmp = frame + l3 + sizeof(rte_ipv4_hdr);
  icmp[0] = type;
  icmp[1] = code;
  std::memset(icmp + 2, 0, 2);
  std::memcpy(icmp + 4, &rest, 4);
  StoreU16(icmp + 2, net::Csum(icmp, 8 + quote));
  p.data = frame;
  p.ip = nip;
  p.l4 = icmp;
  return true;
}

void Worker::TimeExceeded(Pkt& p, PacketVerdict* v) {
  // The original packet is dropped either way; its mbuf may carry the ICMP error back.
  counters_.Drop(DropReason::kTtlExceeded);
  *v = PacketVerdict{p.m, Action::kDrop, 0, DropReason::kTtlExceeded};
  if (!p.side.outside() && !mt_->IsPodSource(p.side.realm, p.ip->src_addr)) return;
  const uint32_t src = IcmpErrorSource(p, p.side);
  if (src == 0 || !WrapInIcmpError(p, src, net::kIcmpTimeExceeded, 0 /* in transit */, 0)) return;
  SwapMacs(p.data);
  counters_.Count(Event::kIcmpTimeExceededSent);
  *v = BackToSender(p.m, p.side);
  v->own_icmp_error = true;
}

uint32_t Worker::IcmpErrorSource(const Pkt& p, Side side) {
  // Never for a later fragment, and never an error about an ICMP error.
  if (p.l4 == nullptr) return 0;
  if (p.info.proto == net::kProtoIcmp && net::IsIcmpError(p.l4[0])) return 0;
  const uint32_t gateway_ip = GatewayAddress(side);
  return gateway_ip != 0 && IcmpErrorAllowed() ? gateway_ip : 0;
}

bool Worker::EchoToGateway(const Pkt& p) const {
  return p.info.proto == net::kProtoIcmp && !p.info.is_fragment &&
         p.l4[0] == net::kIcmpEchoRequest && p.ip->dst_addr == GatewayAddress(p.side);
}

uint32_t Worker::GatewayAddress(Side side) const {
  if (side.outside()) return mt_->config().outside_gateway_ip;
  const IslandEntry* island = mt_->island(side.realm);
  return island != nullptr ? island->gateway_ip : 0;
}

PacketVerdict Worker::FragmentationNeeded(rte_mbuf* m, Side egress, uint16_t mtu,
                                          uint32_t now_s) {
  now_s_ = now_s;
  mt_ = engine_->mappings();
  PacketVerdict v{m, Action::kDrop, 0, DropReason::kCount};
  Pkt p{};
  p.m = m;
  p.side = egress;
  p.data = rte_pktmbuf_mtod(m, uint8_t*);
  if (m->nb_segs != 1 || net::ParseFrame(p.data, m->data_len, &p.info) != net::ParseError::kOk) {
    return v;
  }
  p.ip = reinterpret_cast<rte_ipv4_hdr*>(p.data + p.info.l3_offset);
  if ((p.ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) == 0) return v;
  p.l4 = p.info.is_later_fragment ? nullptr : p.data + p.info.l4_offset;
  const uint32_t src = IcmpErrorSource(p, egress);
  // RFC 1191: the next-hop MTU in the low 16 bits of the header's last word.
  if (src == 0 || !WrapInIcmpError(p, src, net::kIcmpDestUnreachable, net::kIcmpFragNeeded,
                                   rte_cpu_to_be_32(mtu))) {
    return v;
  }
  // Now it is the error a router on the egress side would have sent about the translated
  // packet: translated back to the sender like one.
  if (net::ParseFrame(p.data, m->data_len, &p.info) != net::ParseError::kOk) return v;
  IcmpError(p, &v);
  if (v.action != Action::kDrop) counters_.Count(Event::kIcmpFragNeededSent);
  return v;
}

void Worker::IcmpError(Pkt& p, PacketVerdict* v) {
  uint8_t* icmp = p.l4;
  // (its checksum covers the whole message, which a first fragment does not hold)
  if (p.info.is_fragment) return DropPacket(p, DropReason::kIcmpErrorMalformed, v);
  // The message is rewritten and its checksum computed anew below: a corrupted error must not
  // leave with a valid one.
  if (ABSL_PREDICT_FALSE(net::Csum(icmp, p.info.l4_len) != 0)) {
    return DropPacket(p, DropReason::kBadIcmpChecksum, v);
  }
  uint8_t* inner = icmp + 8;
  const uint32_t inner_len = p.info.l4_len - 8u;
  net::PacketInfo qi;
  if (net::ParseQuotedIpv4(inner, inner_len, &qi) != net::ParseError::kOk ||
      qi.is_later_fragment) {
    return DropPacket(p, DropReason::kIcmpErrorMalformed, v);
  }
  auto* iip = reinterpret_cast<rte_ipv4_hdr*>(inner);
  uint8_t* il4 = inner + qi.l4_offset;
  // The key of the quoted packet's reply, which is what arrives on this side.
  FlowKey rk;
  rk.src_ip = iip->dst_addr;
  rk.dst_ip = iip->src_addr;
  rk.realm = p.side.realm;
  rk.proto = qi.proto;
  rk.flags = 0;
  if (qi.proto == net::kProtoTcp || qi.proto == net::kProtoUdp) {
    rk.src_port = LoadU16(il4 + 2);
    rk.dst_port = LoadU16(il4);
  } else if (qi.proto == net::kProtoIcmp &&
             (il4[0] == net::kIcmpEchoRequest || il4[0] == net::kIcmpEchoReply)) {
    rk.src_port = rk.dst_port = *IcmpIdent(il4);
  } else if (qi.proto != net::kProtoIcmp) {
    return StatelessIcmpError(p, iip, v);
  } else {
    return DropPacket(p, DropReason::kIcmpErrorNoSession, v);  // natgw forwards no such ICMP
  }
  const uint32_t ref = engine_->table_->Lookup(rk);
  if (ref == kMiss) return DropPacket(p, DropReason::kIcmpErrorNoSession, v);
  const Session& s = engine_->table_->session(conntrack::RefSession(ref));
  if (SessionGeneration(s) != mt_->generation() && !Valid(s, *mt_)) {
    return DropPacket(p, DropReason::kIcmpErrorNoSession, v);
  }
  const bool out2in = conntrack::RefIsOutKey(ref);
  // The quoted packet is restored to how the receiving side sent or saw it.
  const FlowKey& restore = out2in ? s.in_key : s.out_key;
  uint32_t outer_src = p.ip->src_addr;
  uint32_t outer_dst;
  if (out2in) {
    outer_dst = s.in_key.src_ip;
  } else {
    outer_dst = s.out_key.src_ip;
    // From the pod itself: its external address. From an inside router: the gateway's own.
    outer_src = outer_src == s.in_key.src_ip ? s.out_key.dst_ip : mt_->config().outside_gateway_ip;
    if (outer_src == 0) return DropPacket(p, DropReason::kIcmpErrorNoSession, v);
  }

  // Inner transport: ports (or identifier) and, when quoted, its checksum.
  const uint32_t quoted_l4 = inner_len - qi.l4_offset;
  uint32_t delta = 0;
  if (qi.proto != net::kProtoIcmp) {
    delta = net::CsumDeltaAdd32(delta, iip->src_addr, restore.src_ip);
    delta = net::CsumDeltaAdd32(delta, iip->dst_addr, restore.dst_ip);
    delta = net::CsumDeltaAdd16(delta, LoadU16(il4), restore.src_port);
    delta = net::CsumDeltaAdd16(delta, LoadU16(il4 + 2), restore.dst_port);
    StoreU16(il4, restore.src_port);
    StoreU16(il4 + 2, restore.dst_port);
    if (qi.proto == net::kProtoUdp) {
      StoreU16(il4 + 6, net::UdpCsumApplyDelta(LoadU16(il4 + 6), net::CsumFold(delta)));
    } else if (quoted_l4 >= 18) {
      StoreU16(il4 + 16, net::CsumApplyDelta(LoadU16(il4 + 16), net::CsumFold(delta)));
    }
  } else {
    delta = net::CsumDeltaAdd16(delta, *IcmpIdent(il4), restore.src_port);
    *IcmpIdent(il4) = restore.src_port;
    StoreU16(il4 + 2, net::CsumApplyDelta(LoadU16(il4 + 2), net::CsumFold(delta)));
  }
  iip->src_addr = restore.src_ip;
  iip->dst_addr = restore.dst_ip;
  iip->hdr_checksum = 0;
  iip->hdr_checksum = rte_ipv4_cksum(iip);
  RewriteIcmpErrorOuter(p, outer_src, outer_dst);
  if (out2in) {
    *v = PacketVerdict{p.m, Action::kToInside, s.in_key.realm, DropReason::kCount};
    return;
  }
  if (ABSL_PREDICT_TRUE(
          (s.flags.load(std::memory_order_relaxed) & conntrack::kSessionHairpin) == 0)) {
    *v = PacketVerdict{p.m, Action::kToOutside, 0, DropReason::kCount};
    return;
  }
  // Hairpin: the quoted packet came from a pod of this gateway through another session. The
  // error now looks as it would arriving from the outside: translate it once more, for that
  // pod (the TTL counts one hop, as for the packets of the flow).
  TurnAroundHairpin(p);
  IcmpError(p, v);
}

void Worker::RewriteIcmpErrorOuter(Pkt& p, uint32_t outer_src, uint32_t outer_dst) {
  p.ip->src_addr = outer_src;
  p.ip->dst_addr = outer_dst;
  --p.ip->time_to_live;
  p.ip->hdr_checksum = 0;
  p.ip->hdr_checksum = rte_ipv4_cksum(p.ip);
  StoreU16(p.l4 + 2, 0);
  StoreU16(p.l4 + 2, net::Csum(p.l4, p.info.l4_len));
  counters_.Count(Event::kIcmpErrorsTranslated);
}

void Worker::StatelessIcmpError(Pkt& p, rte_ipv4_hdr* iip, PacketVerdict* v) {
  // A protocol natgw keeps no session for (GRE, ESP, SCTP, ...): 1:1 mapped pods send and
  // receive it translated statelessly (Stateless), so errors about it are translated the same
  // way. Anything else has no session to go by.
  uint32_t outer_src = p.ip->src_addr, outer_dst;
  PacketVerdict to;
  if (p.side.outside()) {
    // About a packet a pod sent out: quoted source and outer destination its external address.
    const MappingTable::PodRef* pod = mt_->PodForExternal(iip->src_addr);
    if (pod == nullptr || p.ip->dst_addr != iip->src_addr) {
      return DropPacket(p, DropReason::kIcmpErrorNoSession, v);
    }
    iip->src_addr = pod->pod_ip;
    outer_dst = pod->pod_ip;
    to = PacketVerdict{p.m, Action::kToInside, pod->island, DropReason::kCount};
  } else {
    // About a packet delivered to a pod: its quoted destination is the pod.
    const uint32_t ext = mt_->ExternalForPod(p.side.realm, iip->dst_addr);
    if (ext == 0 || mt_->IsOwned(p.ip->dst_addr)) {
      return DropPacket(p, DropReason::kIcmpErrorNoSession, v);
    }
    outer_src = outer_src == iip->dst_addr ? ext : mt_->config().outside_gateway_ip;
    if (outer_src == 0) return DropPacket(p, DropReason::kIcmpErrorNoSession, v);
    iip->dst_addr = ext;
    outer_dst = p.ip->dst_addr;
    to = PacketVerdict{p.m, Action::kToOutside, 0, DropReason::kCount};
  }
  iip->hdr_checksum = 0;
  iip->hdr_checksum = rte_ipv4_cksum(iip);
  RewriteIcmpErrorOuter(p, outer_src, outer_dst);
  *v = to;
}

}  // namespace natgw::nat
