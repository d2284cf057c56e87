#include "perf/loadgen/packets.h"

#include <rte_byteorder.h>

#include <cstring>

#include "lib/net/checksum.h"
#include "lib/net/headers.h"

namespace natgw::loadgen {
namespace {

// Byte offsets in an untagged frame.
constexpr size_t kIp = 14;
constexpr size_t kIpTotalLen = kIp + 2;
constexpr size_t kIpTtl = kIp + 8;
constexpr size_t kIpProto = kIp + 9;
constexpr size_t kIpCsum = kIp + 10;
constexpr size_t kIpSrc = kIp + 12;
constexpr size_t kIpDst = kIp + 16;
constexpr size_t kL4 = kIp + 20;
constexpr size_t kL4Ports = kL4;  // source then destination port, 2 bytes each
constexpr size_t kUdpLen = kL4 + 4;
constexpr size_t kUdpCsum = kL4 + 6;
constexpr size_t kPayload = kL4 + 8;
constexpr size_t kTcpSeq = kL4 + 4;
constexpr size_t kTcpAck = kL4 + 8;
constexpr size_t kTcpOff = kL4 + 12;
constexpr size_t kTcpFlags = kL4 + 13;
constexpr size_t kTcpWin = kL4 + 14;
constexpr size_t kTcpCsum = kL4 + 16;

uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
void Store32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void Store16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

uint16_t Fold64(uint64_t s) {
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffffffff) + (s >> 32);
  return net::CsumFold(static_cast<uint32_t>(s));
}

void WriteEthIp(uint8_t* f, const rte_ether_addr& src_mac, const rte_ether_addr& dst_mac,
                uint16_t ip_total_len, uint8_t proto) {
  std::memcpy(f, &dst_mac, 6);
  std::memcpy(f + 6, &src_mac, 6);
  Store16(f + 12, RTE_BE16(RTE_ETHER_TYPE_IPV4));
  f[kIp] = 0x45;
  f[kIp + 1] = 0;
  Store16(f + kIpTotalLen, rte_cpu_to_be_16(ip_total_len));
  Store16(f + kIp + 4, 0);                    // id
  Store16(f + kIp + 6, RTE_BE16(0x4000));     // DF
  f[kIpTtl] = 64;
  f[kIpProto] = proto;
  Store16(f + kIpCsum, 0);
}

// Header checks shared by UDP and TCP: Ethernet type, plain IPv4, protocol, IP checksum, total
// length within the frame and transport checksum. Returns the transport length in `l4_len`.
Invalid CheckIpAndL4(const uint8_t* f, uint32_t len, uint8_t proto, uint32_t min_l4,
                     uint32_t* l4_len) {
  if (len < kL4 + min_l4) return Invalid::k_truncated;
  if (Load16(f + 12) != RTE_BE16(RTE_ETHER_TYPE_IPV4) || f[kIp] != 0x45) return Invalid::k_not_ipv4;
  if (f[kIpProto] != proto) return Invalid::k_wrong_protocol;
  if (net::CsumFold(net::CsumPartial(f + kIp, 20)) != 0xffff) return Invalid::k_bad_ip_checksum;
  const uint32_t total = rte_be_to_cpu_16(Load16(f + kIpTotalLen));
  if (total < 20 + min_l4 || total > len - kIp) return Invalid::k_truncated;
  *l4_len = total - 20;
  if (proto == net::kProtoUdp && Load16(f + kUdpCsum) == 0) return Invalid::k_bad_l4_checksum;
  const uint32_t pseudo =
      net::CsumPseudoHeader(Load32(f + kIpSrc), Load32(f + kIpDst), proto,
                            static_cast<uint16_t>(*l4_len));
  if (net::CsumFold(net::CsumPartial(f + kL4, *l4_len, pseudo)) != 0xffff) {
    return Invalid::k_bad_l4_checksum;
  }
  return Invalid::kNone;
}

// UDP headers and checksums, then the payload: magic, `kind`, flow id below `num_flows`.
Invalid CheckUdpAndPayload(const uint8_t* f, uint32_t len, uint16_t kind, uint32_t num_flows,
                           Checked* out) {
  uint32_t l4_len;
  const Invalid r = CheckIpAndL4(f, len, net::kProtoUdp, 8 + sizeof(Payload), &l4_len);
  if (r != Invalid::kNone) return r;
  Payload p;
  std::memcpy(&p, f + kPayload, sizeof(p));
  if (p.magic != RTE_BE32(kMagic) || p.kind != rte_cpu_to_be_16(kind)) return Invalid::k_not_ours;
  out->flow_id = rte_be_to_cpu_32(p.flow_id);
  out->tsc = p.tsc;
  if (out->flow_id >= num_flows) return Invalid::k_bad_flow_id;
  return Invalid::kNone;
}

// Source of a frame leaving the gateway against what the flow's source may become.
Invalid CheckSource(const uint8_t* f, const FlowTuple& t, uint32_t id, const ExpectedSource& expect,
                    Translation* seen) {
  const uint32_t src = Load32(f + kIpSrc);
  const uint16_t sport = Load16(f + kL4Ports);
  if (!expect.translate) {
    if (src != t.pod_ip_be) return Invalid::k_source_not_in_pool;
    if (sport != t.sport_be) return Invalid::k_source_port_out_of_range;
  } else {
    if (!expect.AddressOk(rte_be_to_cpu_32(src))) return Invalid::k_source_not_in_pool;
    const uint16_t p = rte_be_to_cpu_16(sport);
    const bool privileged = rte_be_to_cpu_16(t.sport_be) < 1024;
    const bool port_ok =
        privileged ? (p >= 1 && p < 1024) : (p >= expect.port_min && p <= expect.port_max);
    if (!port_ok) return Invalid::k_source_port_out_of_range;
  }
  // First sight records the translation; two loops seeing a new flow at once agree on one
  // record (the loser compares against the winner's).
  Translation s;
  __atomic_load(&seen[id], &s, __ATOMIC_RELAXED);
  if (s.seen == 0) {
    Translation mine;
    mine.ip_be = src;
    mine.port_be = sport;
    mine.seen = 1;
    if (__atomic_compare_exchange(&seen[id], &s, &mine, false, __ATOMIC_RELAXED,
                                  __ATOMIC_RELAXED)) {
      return Invalid::kNone;
    }
  }
  if (s.ip_be != src || s.port_be != sport) return Invalid::k_translation_changed;
  return Invalid::kNone;
}

}  // namespace

const char* InvalidName(Invalid r) {
  switch (r) {
#define NATGW_LOADGEN_X(name, text) \
  case Invalid::k_##name:           \
    return #name;
    NATGW_LOADGEN_INVALID_LIST(NATGW_LOADGEN_X)
#undef NATGW_LOADGEN_X
    case Invalid::kNone:
      break;
  }
  return "none";
}

FrameTemplate FrameTemplate::Udp(uint16_t frame_len, const rte_ether_addr& src_mac,
                                 const rte_ether_addr& dst_mac) {
  FrameTemplate t;
  std::memset(t.bytes, 0, sizeof(t.bytes));
  t.len = frame_len;
  const uint16_t ip_len = static_cast<uint16_t>(frame_len - kIp);
  const uint16_t udp_len = static_cast<uint16_t>(ip_len - 20);
  WriteEthIp(t.bytes, src_mac, dst_mac, ip_len, net::kProtoUdp);
  Store16(t.bytes + kUdpLen, rte_cpu_to_be_16(udp_len));
  Payload p{};
  p.magic = rte_cpu_to_be_32(kMagic);
  p.kind = rte_cpu_to_be_16(kKindRequest);
  std::memcpy(t.bytes + kPayload, &p, sizeof(p));
  t.ip_sum = net::CsumPartial(t.bytes + kIp, 20);
  // Addresses are zero here: the pseudo header contributes only protocol and length.
  t.udp_sum = net::CsumPartial(t.bytes + kL4, udp_len,
                               net::CsumPseudoHeader(0, 0, net::kProtoUdp, udp_len));
  return t;
}

void WriteUdpRequest(const FrameTemplate& tpl, const FlowTuple& t, uint32_t id, uint64_t tsc,
                     uint8_t* dst) {
  std::memcpy(dst, tpl.bytes, tpl.len);
  Store32(dst + kIpSrc, t.pod_ip_be);
  Store32(dst + kIpDst, t.remote_ip_be);
  Store16(dst + kL4Ports, t.sport_be);
  Store16(dst + kL4Ports + 2, t.dport_be);
  const uint32_t id_be = rte_cpu_to_be_32(id);
  Store32(dst + kPayload + offsetof(Payload, flow_id), id_be);
  std::memcpy(dst + kPayload + offsetof(Payload, tsc), &tsc, 8);

  const uint64_t addrs = uint64_t{t.pod_ip_be} + t.remote_ip_be;
  Store16(dst + kIpCsum, static_cast<uint16_t>(~Fold64(tpl.ip_sum + addrs)));
  // Ports from the tuple, not reloaded from the frame: a 32-bit load over two fresh 16-bit
  // stores cannot be forwarded from the store buffer and stalls.
  const uint64_t udp = tpl.udp_sum + addrs + t.sport_be + t.dport_be + id_be +
                       static_cast<uint32_t>(tsc) + static_cast<uint32_t>(tsc >> 32);
  const uint16_t c = static_cast<uint16_t>(~Fold64(udp));
  Store16(dst + kUdpCsum, c == 0 ? 0xffff : c);
}

void RenewUdpTimestamp(uint8_t* f, uint64_t tsc) {
  uint64_t old;
  std::memcpy(&old, f + kPayload + offsetof(Payload, tsc), 8);
  std::memcpy(f + kPayload + offsetof(Payload, tsc), &tsc, 8);
  // RFC 1624: sum' = sum - old + new, where subtracting is adding the one's complement; the
  // timestamp went into the sum as two 32-bit words (WriteUdpRequest), so it comes out so.
  const uint64_t sum = static_cast<uint16_t>(~Load16(f + kUdpCsum)) +
                       uint64_t{static_cast<uint32_t>(~old)} +
                       uint64_t{static_cast<uint32_t>(~old >> 32)} + static_cast<uint32_t>(tsc) +
                       static_cast<uint32_t>(tsc >> 32);
  const uint16_t c = static_cast<uint16_t>(~Fold64(sum));
  Store16(f + kUdpCsum, c == 0 ? 0xffff : c);
}

uint16_t WriteTcpSegment(uint8_t* dst, const rte_ether_addr& src_mac, const rte_ether_addr& dst_mac,
                         uint32_t src_ip_be, uint32_t dst_ip_be, uint16_t sport_be,
                         uint16_t dport_be, uint8_t flags, uint32_t seq, uint32_t ack,
                         uint16_t data_len) {
  const uint16_t l4_len = static_cast<uint16_t>(20 + data_len);
  WriteEthIp(dst, src_mac, dst_mac, static_cast<uint16_t>(20 + l4_len), net::kProtoTcp);
  Store32(dst + kIpSrc, src_ip_be);
  Store32(dst + kIpDst, dst_ip_be);
  Store16(dst + kIpCsum, net::Csum(dst + kIp, 20));
  Store16(dst + kL4Ports, sport_be);
  Store16(dst + kL4Ports + 2, dport_be);
  Store32(dst + kTcpSeq, rte_cpu_to_be_32(seq));
  Store32(dst + kTcpAck, rte_cpu_to_be_32(ack));
  dst[kTcpOff] = 5 << 4;
  dst[kTcpFlags] = flags;
  Store16(dst + kTcpWin, RTE_BE16(65535));
  Store32(dst + kTcpCsum, 0);  // checksum and urgent pointer
  for (uint16_t i = 0; i < data_len; ++i) {
    dst[kTcpHeadersLen + i] = static_cast<uint8_t>('a' + i % 26);
  }
  const uint32_t pseudo = net::CsumPseudoHeader(src_ip_be, dst_ip_be, net::kProtoTcp, l4_len);
  Store16(dst + kTcpCsum,
          static_cast<uint16_t>(~net::CsumFold(net::CsumPartial(dst + kL4, l4_len, pseudo))));
  uint16_t len = static_cast<uint16_t>(kTcpHeadersLen + data_len);
  if (len < kMinFrameLen) {
    std::memset(dst + len, 0, kMinFrameLen - len);
    len = kMinFrameLen;
  }
  return len;
}

void TurnUdpAround(uint8_t* f, const rte_ether_addr& src_mac, const rte_ether_addr& dst_mac) {
  std::memcpy(f, &dst_mac, 6);
  std::memcpy(f + 6, &src_mac, 6);
  const uint32_t src = Load32(f + kIpSrc);
  Store32(f + kIpSrc, Load32(f + kIpDst));
  Store32(f + kIpDst, src);
  const uint16_t sport = Load16(f + kL4Ports);
  Store16(f + kL4Ports, Load16(f + kL4Ports + 2));
  Store16(f + kL4Ports + 2, sport);
  uint8_t* kind = f + kPayload + offsetof(Payload, kind);
  const uint16_t old_kind = Load16(kind);
  const uint16_t new_kind = RTE_BE16(kKindReply);
  Store16(kind, new_kind);
  const uint16_t delta = net::CsumFold(net::CsumDeltaAdd16(0, old_kind, new_kind));
  Store16(f + kUdpCsum, net::UdpCsumApplyDelta(Load16(f + kUdpCsum), delta));
}

Invalid CheckUdpOutside(const uint8_t* f, uint32_t len, const FlowSet& flows, uint32_t num_flows,
                        const ExpectedSource& expect, Translation* seen, Checked* out) {
  Invalid r = CheckUdpAndPayload(f, len, kKindRequest, num_flows, out);
  if (r != Invalid::kNone) return r;
  const uint32_t id = out->flow_id;
  const FlowTuple t = flows.Tuple(id);
  if (Load32(f + kIpDst) != t.remote_ip_be || Load16(f + kL4Ports + 2) != t.dport_be) {
    return Invalid::k_wrong_destination;
  }
  return CheckSource(f, t, id, expect, seen);
}

Invalid CheckUdpInside(const uint8_t* f, uint32_t len, const FlowSet& flows, uint32_t num_flows,
                       Checked* out) {
  const Invalid r = CheckUdpAndPayload(f, len, kKindReply, num_flows, out);
  if (r != Invalid::kNone) return r;
  const FlowTuple t = flows.Tuple(out->flow_id);
  if (Load32(f + kIpDst) != t.pod_ip_be || Load16(f + kL4Ports + 2) != t.sport_be) {
    return Invalid::k_wrong_destination;
  }
  if (Load32(f + kIpSrc) != t.remote_ip_be || Load16(f + kL4Ports) != t.dport_be) {
    return Invalid::k_wrong_source;
  }
  return Invalid::kNone;
}

Invalid CheckTcpHeaders(const uint8_t* f, uint32_t len, Checked* out) {
  uint32_t l4_len;
  const Invalid r = CheckIpAndL4(f, len, net::kProtoTcp, 20, &l4_len);
  if (r != Invalid::kNone) return r;
  if ((f[kTcpOff] >> 4) < 5 || (f[kTcpOff] >> 4) * 4u > l4_len) return Invalid::k_truncated;
  out->tcp_flags = f[kTcpFlags];
  out->seq = rte_be_to_cpu_32(Load32(f + kTcpSeq));
  out->ack = rte_be_to_cpu_32(Load32(f + kTcpAck));
  out->tsc = 0;
  out->flow_id = 0;
  return Invalid::kNone;
}

Invalid CheckTcpOutsideTuple(const uint8_t* f, const FlowTuple& t, uint32_t flow_id,
                             const ExpectedSource& expect, Translation* seen) {
  if (Load32(f + kIpDst) != t.remote_ip_be || Load16(f + kL4Ports + 2) != t.dport_be) {
    return Invalid::k_wrong_destination;
  }
  return CheckSource(f, t, flow_id, expect, seen);
}

Invalid CheckTcpInsideTuple(const uint8_t* f, const FlowTuple& t) {
  if (Load32(f + kIpDst) != t.pod_ip_be || Load16(f + kL4Ports + 2) != t.sport_be) {
    return Invalid::k_wrong_destination;
  }
  if (Load32(f + kIpSrc) != t.remote_ip_be || Load16(f + kL4Ports) != t.dport_be) {
    return Invalid::k_wrong_source;
  }
  return Invalid::kNone;
}

}  // namespace natgw::loadgen
