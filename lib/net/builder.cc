#include "lib/net/builder.h"

#include <arpa/inet.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_format.h"
#include "lib/net/checksum.h"

namespace natgw::net {
namespace {

constexpr size_t kIpv4HdrLen = sizeof(rte_ipv4_hdr);
constexpr size_t kMaxIpOptionsLen = 40;
constexpr uint8_t kTrailerByte = 0xee;

// Aborts with a message: misuse of a test helper is a bug in the test.
void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "PacketBuilder: %s\n", what);
    std::abort();
  }
}

void Put16(std::vector<uint8_t>& v, size_t off, uint16_t host) {
  v[off] = static_cast<uint8_t>(host >> 8);
  v[off + 1] = static_cast<uint8_t>(host);
}

void Put32(std::vector<uint8_t>& v, size_t off, uint32_t host) {
  Put16(v, off, static_cast<uint16_t>(host >> 16));
  Put16(v, off + 2, static_cast<uint16_t>(host));
}

// Stores a checksum computed by Csum* (already network order as a memory word).
void PutCsum(std::vector<uint8_t>& v, size_t off, uint16_t csum) {
  std::memcpy(&v[off], &csum, sizeof(csum));
}

// A checksum guaranteed to be wrong: differs from `c` by a non-zero amount that is not a multiple
// of 0xffff, and is never 0 (which UDP would read as "no checksum").
uint16_t Mangle(uint16_t c) {
  const uint16_t bad = c ^ 0x00ff;
  return bad == 0 ? 0x01ff : bad;
}

}  // namespace

PacketBuilder& PacketBuilder::Eth(const MacAddr& src, const MacAddr& dst) {
  src_mac_ = src;
  dst_mac_ = dst;
  return *this;
}

PacketBuilder& PacketBuilder::Eth(const rte_ether_addr& src, const rte_ether_addr& dst) {
  std::copy(std::begin(src.addr_bytes), std::end(src.addr_bytes), src_mac_.begin());
  std::copy(std::begin(dst.addr_bytes), std::end(dst.addr_bytes), dst_mac_.begin());
  return *this;
}

PacketBuilder& PacketBuilder::Vlan(uint16_t tci) {
  vlan_tci_ = tci;
  return *this;
}

PacketBuilder& PacketBuilder::EtherType(uint16_t ether_type) {
  ether_type_ = ether_type;
  return *this;
}

PacketBuilder& PacketBuilder::Ipv4(uint32_t src_be, uint32_t dst_be) {
  src_ip_ = src_be;
  dst_ip_ = dst_be;
  return *this;
}

PacketBuilder& PacketBuilder::Ipv4(const char* src, const char* dst) {
  return Ipv4(ParseIp(src), ParseIp(dst));
}

PacketBuilder& PacketBuilder::Ttl(uint8_t ttl) {
  ttl_ = ttl;
  return *this;
}

PacketBuilder& PacketBuilder::Id(uint16_t id) {
  id_ = id;
  return *this;
}

PacketBuilder& PacketBuilder::Tos(uint8_t tos) {
  tos_ = tos;
  return *this;
}

PacketBuilder& PacketBuilder::DontFragment() {
  frag_ |= kIpFlagDf;
  return *this;
}

PacketBuilder& PacketBuilder::Fragment(uint16_t offset_bytes, bool more_fragments) {
  Require(offset_bytes % 8 == 0, "fragment offset must be a multiple of 8");
  frag_ = static_cast<uint16_t>((frag_ & kIpFlagDf) | (more_fragments ? kIpFlagMf : 0) |
                                (offset_bytes / 8));
  return *this;
}

PacketBuilder& PacketBuilder::IpOptions(std::vector<uint8_t> options) {
  options.resize((options.size() + 3) / 4 * 4, 0);  // pad with End of Option List
  Require(options.size() <= kMaxIpOptionsLen, "IP options longer than 40 bytes");
  ip_options_ = std::move(options);
  return *this;
}

PacketBuilder& PacketBuilder::Udp(uint16_t sport, uint16_t dport) {
  l4_ = L4::kUdp;
  proto_ = kProtoUdp;
  sport_ = sport;
  dport_ = dport;
  return *this;
}

PacketBuilder& PacketBuilder::Tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
                                  uint32_t ack) {
  l4_ = L4::kTcp;
  proto_ = kProtoTcp;
  sport_ = sport;
  dport_ = dport;
  tcp_flags_ = flags;
  seq_ = seq;
  ack_ = ack;
  return *this;
}

PacketBuilder& PacketBuilder::IcmpEcho(bool request, uint16_t id, uint16_t seq) {
  l4_ = L4::kIcmpEcho;
  proto_ = kProtoIcmp;
  icmp_type_ = request ? kIcmpEchoRequest : kIcmpEchoReply;
  icmp_code_ = 0;
  icmp_id_ = id;
  icmp_seq_ = seq;
  return *this;
}

PacketBuilder& PacketBuilder::IcmpError(uint8_t type, uint8_t code,
                                        std::vector<uint8_t> quoted_ip_packet, uint16_t mtu) {
  l4_ = L4::kIcmpError;
  proto_ = kProtoIcmp;
  icmp_type_ = type;
  icmp_code_ = code;
  quoted_ = std::move(quoted_ip_packet);
  mtu_ = mtu;
  return *this;
}

PacketBuilder& PacketBuilder::Proto(uint8_t proto) {
  l4_ = L4::kNone;
  proto_ = proto;
  return *this;
}

PacketBuilder& PacketBuilder::Payload(std::string_view data) {
  payload_.assign(data.begin(), data.end());
  return *this;
}

PacketBuilder& PacketBuilder::Payload(std::vector<uint8_t> data) {
  payload_ = std::move(data);
  return *this;
}

PacketBuilder& PacketBuilder::PayloadSize(size_t n) {
  payload_.resize(n);
  for (size_t i = 0; i < n; ++i) payload_[i] = static_cast<uint8_t>(i);
  return *this;
}

PacketBuilder& PacketBuilder::ZeroUdpChecksum() {
  zero_udp_csum_ = true;
  return *this;
}

PacketBuilder& PacketBuilder::BadIpChecksum() {
  bad_ip_csum_ = true;
  return *this;
}

PacketBuilder& PacketBuilder::BadL4Checksum() {
  bad_l4_csum_ = true;
  return *this;
}

PacketBuilder& PacketBuilder::Trailer(size_t n) {
  trailer_ = n;
  return *this;
}

PacketBuilder& PacketBuilder::TotalLengthOverride(uint16_t total_length) {
  total_length_override_ = total_length;
  return *this;
}

std::vector<uint8_t> PacketBuilder::BuildL4(bool later_fragment) const {
  size_t hdr_len = 0;
  switch (later_fragment ? L4::kNone : l4_) {
    case L4::kNone:
      return payload_;
    case L4::kUdp:
      hdr_len = sizeof(rte_udp_hdr);
      break;
    case L4::kTcp:
      hdr_len = sizeof(rte_tcp_hdr);
      break;
    case L4::kIcmpEcho:
      hdr_len = sizeof(rte_icmp_hdr);
      break;
    case L4::kIcmpError:
      hdr_len = sizeof(rte_icmp_hdr) + quoted_.size();
      break;
  }
  std::vector<uint8_t> l4(hdr_len, 0);
  l4.insert(l4.end(), payload_.begin(), payload_.end());
  const auto l4_len = static_cast<uint16_t>(l4.size());

  size_t csum_off = 0;
  uint32_t pseudo = 0;
  switch (l4_) {
    case L4::kUdp:
      Put16(l4, 0, sport_);
      Put16(l4, 2, dport_);
      Put16(l4, 4, l4_len);
      csum_off = offsetof(rte_udp_hdr, dgram_cksum);
      pseudo = CsumPseudoHeader(src_ip_, dst_ip_, kProtoUdp, l4_len);
      break;
    case L4::kTcp:
      Put16(l4, 0, sport_);
      Put16(l4, 2, dport_);
      Put32(l4, 4, seq_);
      Put32(l4, 8, ack_);
      l4[12] = (sizeof(rte_tcp_hdr) / 4) << 4;
      l4[13] = tcp_flags_;
      Put16(l4, 14, 0xffff);  // window
      csum_off = offsetof(rte_tcp_hdr, cksum);
      pseudo = CsumPseudoHeader(src_ip_, dst_ip_, kProtoTcp, l4_len);
      break;
    case L4::kIcmpEcho:
      l4[0] = icmp_type_;
      Put16(l4, 4, icmp_id_);
      Put16(l4, 6, icmp_seq_);
      csum_off = offsetof(rte_icmp_hdr, icmp_cksum);
      break;
    case L4::kIcmpError:
      l4[0] = icmp_type_;
      l4[1] = icmp_code_;
      Put16(l4, 6, mtu_);
      std::copy(quoted_.begin(), quoted_.end(), l4.begin() + sizeof(rte_icmp_hdr));
      csum_off = offsetof(rte_icmp_hdr, icmp_cksum);
      break;
    case L4::kNone:
      break;
  }

  uint16_t csum = static_cast<uint16_t>(~CsumFold(CsumPartial(l4.data(), l4.size(), pseudo)));
  if (l4_ == L4::kUdp) {
    if (csum == 0) csum = 0xffff;  // RFC 768: a computed zero is sent as all ones
    if (zero_udp_csum_) csum = 0;
  }
  if (bad_l4_csum_) csum = Mangle(csum);
  PutCsum(l4, csum_off, csum);
  return l4;
}

std::vector<uint8_t> PacketBuilder::BuildIpHeader(uint16_t total_length, uint16_t frag) const {
  // Sized once (header + options): inserting into a 20-byte vector trips GCC 12's
  // -Warray-bounds false positive at -O3.
  std::vector<uint8_t> h(kIpv4HdrLen + ip_options_.size(), 0);
  std::copy(ip_options_.begin(), ip_options_.end(), h.begin() + kIpv4HdrLen);
  h[0] = static_cast<uint8_t>(0x40 | (h.size() / 4));
  h[1] = tos_;
  Put16(h, 2, total_length);
  Put16(h, 4, id_);
  Put16(h, 6, frag);
  h[8] = ttl_;
  h[9] = proto_;
  std::memcpy(&h[12], &src_ip_, 4);
  std::memcpy(&h[16], &dst_ip_, 4);
  const uint16_t csum = Csum(h.data(), h.size());
  PutCsum(h, offsetof(rte_ipv4_hdr, hdr_checksum), bad_ip_csum_ ? Mangle(csum) : csum);
  return h;
}

std::vector<uint8_t> PacketBuilder::Frame(const std::vector<uint8_t>& ip) const {
  std::vector<uint8_t> f(dst_mac_.begin(), dst_mac_.end());
  f.insert(f.end(), src_mac_.begin(), src_mac_.end());
  if (vlan_tci_.has_value()) {
    f.resize(f.size() + 4);
    Put16(f, 12, RTE_ETHER_TYPE_VLAN);
    Put16(f, 14, *vlan_tci_);
  }
  f.resize(f.size() + 2);
  Put16(f, f.size() - 2, ether_type_);
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

std::vector<uint8_t> PacketBuilder::BuildIp() const {
  const std::vector<uint8_t> l4 = BuildL4((frag_ & kIpOffsetMask) != 0);
  const size_t total = kIpv4HdrLen + ip_options_.size() + l4.size();
  Require(total <= UINT16_MAX, "IPv4 packet longer than 65535 bytes");
  std::vector<uint8_t> ip =
      BuildIpHeader(total_length_override_.value_or(static_cast<uint16_t>(total)), frag_);
  ip.insert(ip.end(), l4.begin(), l4.end());
  ip.resize(ip.size() + trailer_, kTrailerByte);
  return ip;
}

std::vector<uint8_t> PacketBuilder::Build() const { return Frame(BuildIp()); }

rte_mbuf* PacketBuilder::BuildMbuf(rte_mempool* pool) const {
  const std::vector<uint8_t> frame = Build();
  if (frame.size() > UINT16_MAX) return nullptr;
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memcpy(p, frame.data(), frame.size());
  return m;
}

std::vector<std::vector<uint8_t>> PacketBuilder::BuildFragments(size_t max_fragment_payload) const {
  const size_t chunk = std::max<size_t>(8, max_fragment_payload / 8 * 8);
  const std::vector<uint8_t> l4 = BuildL4(/*later_fragment=*/false);
  const size_t hdr_len = kIpv4HdrLen + ip_options_.size();
  std::vector<std::vector<uint8_t>> frames;
  size_t off = 0;
  do {
    const size_t n = std::min(chunk, l4.size() - off);
    const bool more = off + n < l4.size();
    Require(hdr_len + n <= UINT16_MAX && off / 8 <= kIpOffsetMask, "datagram too long");
    const auto frag = static_cast<uint16_t>((more ? kIpFlagMf : 0) | (off / 8));
    std::vector<uint8_t> ip = BuildIpHeader(static_cast<uint16_t>(hdr_len + n), frag);
    ip.insert(ip.end(), l4.begin() + static_cast<ptrdiff_t>(off),
              l4.begin() + static_cast<ptrdiff_t>(off + n));
    frames.push_back(Frame(ip));
    off += n;
  } while (off < l4.size());
  return frames;
}

std::string FormatIp(uint32_t ip_be) {
  uint8_t b[4];
  std::memcpy(b, &ip_be, sizeof(b));
  return absl::StrFormat("%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

uint32_t ParseIp(const char* dotted) {
  in_addr addr{};
  if (dotted == nullptr || inet_pton(AF_INET, dotted, &addr) != 1) return 0;
  return addr.s_addr;
}

}  // namespace natgw::net
