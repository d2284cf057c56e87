// The worker side of the dataplane: the poll loop, ARP, forwarding (route, neighbor, hold
// queue) and buffered transmit. Runs on worker threads only: no allocation, lock, syscall or
// logging here (the optional idle sleep aside).
#include <rte_atomic.h>
#include <rte_cycles.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cstring>

#include "absl/base/optimization.h"
#include "lib/dataplane/arp.h"
#include "lib/dataplane/dataplane.h"
#include "lib/dataplane/worker_state.h"
#include "lib/net/checksum.h"
#include "lib/net/fragment.h"
#include "lib/net/headers.h"

namespace natgw::dataplane {
namespace {

const rte_ether_addr kBroadcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
const rte_ether_addr kZeroMac = {{0, 0, 0, 0, 0, 0}};

rte_ether_hdr* Eth(rte_mbuf* m) { return rte_pktmbuf_mtod(m, rte_ether_hdr*); }

// Cuts the quote of an ICMP error (untagged, one segment) so that the frame is no longer than
// `max_frame_len`, and fixes its lengths and checksums: as a router quotes no more than the
// route back allows. False (m untouched) when it is not an ICMP error or too little would be
// left of the quote (its whole IP header and 8 bytes, RFC 792). Called only for a frame longer
// than `max_frame_len`.
bool ShortenIcmpError(rte_mbuf* m, uint32_t max_frame_len) {
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, RTE_ETHER_HDR_LEN);
  const uint32_t hl = rte_ipv4_hdr_len(ip);
  const uint32_t ip_len = max_frame_len - RTE_ETHER_HDR_LEN;
  if (m->nb_segs != 1 || ip->next_proto_id != net::kProtoIcmp ||
      m->data_len < RTE_ETHER_HDR_LEN + hl + 8 + sizeof(rte_ipv4_hdr)) {
    return false;
  }
  uint8_t* icmp = reinterpret_cast<uint8_t*>(ip) + hl;
  const uint32_t quoted_hl = (icmp[8] & 0xfu) * 4;
  if (!net::IsIcmpError(icmp[0]) || ip_len < hl + 8 + quoted_hl + 8) return false;
  rte_pktmbuf_trim(m, static_cast<uint16_t>(m->data_len - max_frame_len));
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(ip_len));
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  std::memset(icmp + 2, 0, 2);
  const uint16_t sum = net::Csum(icmp, ip_len - hl);
  std::memcpy(icmp + 2, &sum, 2);
  return true;
}

}  // namespace

void Dataplane::Tx(WorkerState& ws, uint16_t pi, rte_mbuf* m) {
  if (ABSL_PREDICT_FALSE(port_paused_[pi].load(std::memory_order_acquire))) {
    ws.counters.Count(Drop::kLinkRestart);
    rte_pktmbuf_free(m);
    return;
  }
  ws.counters.Count(Event::kTxFrames);
  // The header line was rewritten on this core; on a zero-copy memif the peer's core reads it
  // next (a NIC's DMA would too): demoted to the shared cache, it is not fetched out of this
  // core's. A hint (CLDEMOTE; a no-op where the CPU lacks it, and on copying memif, whose
  // transmit copies the frame on this core, of little use). It halved the load generator's wait
  // for natgw's frames in the memif benchmark (README "Benchmarking"). The barrier keeps the
  // header stores before it.
  rte_compiler_barrier();
  rte_cldemote(rte_pktmbuf_mtod(m, const void*));
  rte_eth_tx_buffer(ports_[pi].port_id, static_cast<uint16_t>(ws.id), ws.tx[pi], m);
}

void Dataplane::RunWorker(uint32_t w) {
  WorkerState& ws = *workers_[w];
  nat::Worker& nw = *ws.engine_worker;
  const uint32_t idle_sleep_us = config_.idle_sleep_us;
  nw.Online();
  routes_->ReaderOnline(w);
  if (w == 0) worker0_running_.store(true, std::memory_order_relaxed);
  uint64_t now = Now();
  ws.last_drain_tsc = now;
  uint64_t loop_start = now;
  bool was_busy = false;
  while (!stop_.load(std::memory_order_relaxed)) {
    now = Now();
    // The previous loop, from its start to this one's (its idle sleep included).
    ws.load.total_cycles += now - loop_start;
    if (was_busy) ws.load.busy_cycles += now - loop_start;
    loop_start = now;
    const uint32_t received = Poll(ws, now);
    was_busy = received != 0;
    // Quiescent every loop (so RCU grace periods stay short); the expiry sweep, which chases
    // pointers through cold sessions, only with the drain: every drain interval or when idle.
    if (received == 0 || now - ws.last_drain_tsc >= drain_tsc_) {
      Drain(ws, now);
      nw.Maintain(static_cast<uint32_t>(now / hz_));
    } else {
      nw.Quiescent();
    }
    routes_->ReaderQuiescent(w);
    if (received == 0 && idle_sleep_us != 0) {
      nw.Offline();
      routes_->ReaderOffline(w);
      rte_delay_us_sleep(idle_sleep_us);
      routes_->ReaderOnline(w);
      nw.Online();
    }
  }
  if (w == 0) worker0_running_.store(false, std::memory_order_relaxed);
  Drain(ws, Now());
  DiscardHeld(ws);
  routes_->ReaderOffline(w);
  nw.Offline();
}

std::vector<WorkerLoad> Dataplane::WorkerLoads() const {
  std::vector<WorkerLoad> out;
  for (const auto& ws : workers_) {
    out.push_back({__atomic_load_n(&ws->load.busy_cycles, __ATOMIC_RELAXED),
                   __atomic_load_n(&ws->load.total_cycles, __ATOMIC_RELAXED)});
  }
  return out;
}

uint32_t Dataplane::PollOnceForTest(uint32_t w) {
  WorkerState& ws = *workers_[w];
  const uint64_t now = Now();
  const uint32_t received = Poll(ws, now);
  ws.engine_worker->Maintain(static_cast<uint32_t>(now / hz_));
  Drain(ws, now);
  return received;
}

uint32_t Dataplane::Poll(WorkerState& ws, uint64_t now) {
  const uint16_t queue = static_cast<uint16_t>(ws.id);
  const uint32_t now_s = static_cast<uint32_t>(now / hz_);
  const uint16_t num_ports = static_cast<uint16_t>(ports_.size());
  // Receive on every port first and start fetching every header (the frames were written by
  // another core): one port's frames arrive while the bursts before it are processed. Fetched
  // for writing (PREFETCHW where the build's target has it, -Dnative=true), since every header
  // is rewritten: one transfer of the line from the other core instead of a read and then an
  // ownership request.
  uint16_t received[kMaxInterfaces];
  uint32_t total = 0;
  for (uint16_t pi = 0; pi < num_ports; ++pi) {
    rte_mbuf** rx = ws.rx[pi];
    // (a port being restarted: see ServiceLinks; the load sees the flag at the latest after the
    // quiescent state the control thread waits for)
    if (ABSL_PREDICT_FALSE(port_paused_[pi].load(std::memory_order_acquire))) {
      received[pi] = 0;
      continue;
    }
    const uint16_t n = rte_eth_rx_burst(ports_[pi].port_id, queue, rx, nat::kMaxBurst);
    for (uint16_t i = 0; i < n; ++i) __builtin_prefetch(rte_pktmbuf_mtod(rx[i], void*), 1, 3);
    received[pi] = n;
    total += n;
  }
  if (total == 0) return 0;
  ws.counters.Count(Event::kRxFrames, total);
  for (uint16_t pi = 0; pi < num_ports; ++pi) {
    const uint16_t n = received[pi];
    if (n == 0) continue;
    const Port& port = ports_[pi];
    uint16_t nip = 0;
    for (uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = ws.rx[pi][i];
      // Short frames go to the engine, which counts them (truncated_ethernet).
      if (ABSL_PREDICT_TRUE(m->data_len >= sizeof(rte_ether_hdr))) {
        const rte_ether_hdr* eth = Eth(m);
        if (ABSL_PREDICT_FALSE(eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP))) {
          HandleArp(ws, pi, m, now);
          continue;
        }
        if (ABSL_PREDICT_FALSE(!rte_is_same_ether_addr(&eth->dst_addr, &port.mac))) {
          ws.counters.Count(Drop::kL2OtherHost);
          rte_pktmbuf_free(m);
          continue;
        }
      }
      ws.ip[nip++] = m;
    }
    if (nip == 0) continue;
    nat::BurstResult& r = ws.result;
    ws.engine_worker->ProcessBurst(nat::Side{port.realm}, ws.ip, nip, now_s, &r);
    // Two passes: route every translated frame and start fetching its next hop's neighbor-cache
    // line, then deliver. In a big table the lookups' misses evict those lines, and a pod's line
    // is wanted again only after a thousand other frames.
    for (uint16_t k = 0; k < r.count; ++k) {
      const nat::PacketVerdict& v = r.verdicts[k];
      if (v.action == nat::Action::kToOutside || v.action == nat::Action::kToInside) {
        const uint16_t realm =
            v.action == nat::Action::kToOutside ? conntrack::kOutsideRealm : v.island;
        FindNextHop(ws, v.mbuf, realm, v.own_icmp_error, &ws.hops[k]);
      }
    }
    for (uint16_t k = 0; k < r.count; ++k) {
      const nat::PacketVerdict& v = r.verdicts[k];
      switch (v.action) {
        case nat::Action::kToOutside:
        case nat::Action::kToInside:
          if (ws.hops[k].port_index != NextHop::kDropped) {
            SendToNextHop(ws, v.mbuf, ws.hops[k], now);
          }
          break;
        case nat::Action::kDrop:  // counted by the engine
          rte_pktmbuf_free(v.mbuf);
          break;
        case nat::Action::kHeld:  // the engine owns it now
          break;
      }
    }
    if (ABSL_PREDICT_FALSE(ws.num_too_big != 0)) HandleTooBig(ws, now);
  }
  return total;
}

void Dataplane::HandleTooBig(WorkerState& ws, uint64_t now) {
  const uint32_t now_s = static_cast<uint32_t>(now / hz_);
  ws.handling_too_big = true;  // an error that does not fit either is dropped, not queued
  for (uint32_t i = 0; i < ws.num_too_big; ++i) {
    const WorkerState::TooBig& t = ws.too_big[i];
    const Port& port = ports_[t.hop.port_index];
    const auto* ip = rte_pktmbuf_mtod_offset(t.m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    const bool df = (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) != 0;
    if (!df && Fragment(ws, t.m, t.hop, now)) continue;
    ws.counters.Count(Drop::kMtuExceeded);
    const uint16_t mtu = static_cast<uint16_t>(port.max_frame_len - RTE_ETHER_HDR_LEN);
    const nat::PacketVerdict v =
        ws.engine_worker->FragmentationNeeded(t.m, nat::Side{port.realm}, mtu, now_s);
    if (v.action != nat::Action::kToOutside && v.action != nat::Action::kToInside) {
      rte_pktmbuf_free(v.mbuf);
      continue;
    }
    NextHop hop;
    FindNextHop(ws, v.mbuf,
                v.action == nat::Action::kToOutside ? conntrack::kOutsideRealm : v.island,
                /*own_icmp_error=*/true, &hop);
    if (hop.port_index != NextHop::kDropped) SendToNextHop(ws, v.mbuf, hop, now);
  }
  ws.num_too_big = 0;
  ws.handling_too_big = false;
}

bool Dataplane::Fragment(WorkerState& ws, rte_mbuf* m, const NextHop& hop, uint64_t now) {
  const Port& port = ports_[hop.port_index];
  const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
  if (m->data_len < RTE_ETHER_HDR_LEN) return false;  // (the engine parsed it: not expected)
  const uint8_t* ip = frame + RTE_ETHER_HDR_LEN;
  net::Ipv4Fragments plan;
  if (!net::PlanIpv4Fragments(ip, m->data_len - RTE_ETHER_HDR_LEN,
                              port.max_frame_len - RTE_ETHER_HDR_LEN, kMaxFragments, &plan)) {
    return false;
  }
  rte_mbuf* frags[kMaxFragments];
  if (rte_pktmbuf_alloc_bulk(port.pool, frags, plan.count) != 0) return false;
  for (uint32_t i = 0; i < plan.count; ++i) {
    auto* d = reinterpret_cast<uint8_t*>(
        rte_pktmbuf_append(frags[i], static_cast<uint16_t>(RTE_ETHER_HDR_LEN + plan.Length(i))));
    if (ABSL_PREDICT_FALSE(d == nullptr)) {  // buffers smaller than the port's frames
      rte_pktmbuf_free_bulk(frags, plan.count);
      return false;
    }
    std::memcpy(d, frame, RTE_ETHER_HDR_LEN);
    net::WriteIpv4Fragment(ip, plan, i, d + RTE_ETHER_HDR_LEN);
  }
  rte_pktmbuf_free(m);
  ws.counters.Count(Event::kFramesFragmented);
  for (uint32_t i = 0; i < plan.count; ++i) SendToNextHop(ws, frags[i], hop, now);
  return true;
}

void Dataplane::HandleArp(WorkerState& ws, uint16_t pi, rte_mbuf* m, uint64_t now) {
  const Port& port = ports_[pi];
  ArpMessage a;
  if (!ParseArp(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, &a)) {
    ws.counters.Count(Drop::kArpMalformed);
    rte_pktmbuf_free(m);
    return;
  }
  if (ABSL_PREDICT_FALSE(rte_is_same_ether_addr(&a.sha, &port.mac))) {
    ws.counters.Count(Drop::kArpNotForUs);  // our own frame, looped back by the link
    rte_pktmbuf_free(m);
    return;
  }
  const bool for_us = a.tip == port.address || (port.outside && config_.answer_arp_for_external &&
                                                engine_->mappings()->IsOwned(a.tip));
  if (a.sip == a.tip) {  // gratuitous: an announcement
    if (for_us) {
      ws.counters.Count(Drop::kArpConflict);
    } else {
      if (neighbors_->Learn(pi, a.sip, a.sha, now, /*create=*/false)) {
        ws.counters.Count(Event::kNeighborsLearned);
      }
      ws.counters.Count(Event::kArpGratuitousReceived);
    }
    rte_pktmbuf_free(m);
    return;
  }
  if (!for_us) {
    // RFC 826: refresh what we know about the sender, but learn nothing new.
    if (a.sip != 0 && neighbors_->Learn(pi, a.sip, a.sha, now, /*create=*/false)) {
      ws.counters.Count(Event::kNeighborsLearned);
    }
    ws.counters.Count(Drop::kArpNotForUs);
    rte_pktmbuf_free(m);
    return;
  }
  if (a.sip != 0 && neighbors_->Learn(pi, a.sip, a.sha, now, /*create=*/true)) {
    ws.counters.Count(Event::kNeighborsLearned);
  }
  if (a.op == RTE_ARP_OP_REPLY) {
    ws.counters.Count(Event::kArpRepliesReceived);
    rte_pktmbuf_free(m);
    return;
  }
  // A request for one of our addresses: answer in place, padded to the Ethernet minimum.
  if (m->data_len < kMinFrameLen) {
    if (rte_pktmbuf_append(m, static_cast<uint16_t>(kMinFrameLen - m->data_len)) == nullptr) {
      ws.counters.Count(Drop::kArpMalformed);  // no tailroom: not a frame we can answer with
      rte_pktmbuf_free(m);
      return;
    }
  } else if (m->pkt_len > kMinFrameLen) {
    rte_pktmbuf_trim(m, static_cast<uint16_t>(m->pkt_len - kMinFrameLen));
  }
  WriteArp(rte_pktmbuf_mtod(m, uint8_t*), a.sha, RTE_ARP_OP_REPLY, port.mac, a.tip, a.sha, a.sip);
  ws.counters.Count(Event::kArpRequestsAnswered);
  Tx(ws, pi, m);
}

void Dataplane::FindNextHop(WorkerState& ws, rte_mbuf* m, uint16_t realm, bool own_icmp_error,
                            NextHop* hop) {
  hop->port_index = NextHop::kDropped;
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  if (reinterpret_cast<rte_ether_hdr*>(frame)->ether_type == RTE_BE16(RTE_ETHER_TYPE_VLAN)) {
    // Sent untagged: move the MACs over the tag.
    std::memmove(frame + sizeof(rte_vlan_hdr), frame, 2 * RTE_ETHER_ADDR_LEN);
    frame = reinterpret_cast<uint8_t*>(rte_pktmbuf_adj(m, sizeof(rte_vlan_hdr)));
  }
  uint32_t dst;
  std::memcpy(&dst, frame + sizeof(rte_ether_hdr) + offsetof(rte_ipv4_hdr, dst_addr), 4);
  const Route* route = routes_->Lookup(realm, dst);
  if (ABSL_PREDICT_FALSE(route == nullptr)) {
    ws.counters.Count(Drop::kNoRoute);
    rte_pktmbuf_free(m);
    return;
  }
  const uint16_t pi = route->port_index;
  if (ABSL_PREDICT_FALSE(m->pkt_len > ports_[pi].max_frame_len)) {
    // natgw's own ICMP errors (time exceeded; "fragmentation needed" from HandleTooBig) quote
    // up to 548 bytes: toward a port with a smaller MTU, less, as a router quotes what fits.
    if (!own_icmp_error || !ShortenIcmpError(m, ports_[pi].max_frame_len)) {
      if (!ws.handling_too_big && ws.num_too_big < std::size(ws.too_big)) {
        ws.too_big[ws.num_too_big++] = {m, NextHop{pi, route->via != 0 ? route->via : dst}};
        return;
      }
      ws.counters.Count(Drop::kMtuExceeded);
      rte_pktmbuf_free(m);
      return;
    }
  }
  hop->port_index = pi;
  hop->ip = route->via != 0 ? route->via : dst;
  ws.neighbor_cache.Prefetch(pi, hop->ip);
}

void Dataplane::SendToNextHop(WorkerState& ws, rte_mbuf* m, const NextHop& hop, uint64_t now) {
  const uint16_t pi = hop.port_index;
  const uint32_t next_hop = hop.ip;
  const Port& port = ports_[pi];
  rte_ether_hdr* eth = Eth(m);
  eth->src_addr = port.mac;
  rte_ether_addr mac;
  if (ABSL_PREDICT_TRUE(ws.neighbor_cache.Find(*neighbors_, pi, next_hop, now, &mac))) {
    if (ABSL_PREDICT_FALSE(ws.hold.num_pending() != 0)) ReleaseHeld(ws, pi, next_hop, mac);
    eth->dst_addr = mac;
    Tx(ws, pi, m);
    return;
  }
  const uint64_t version = neighbors_->version();
  const NeighborTable::Result n = neighbors_->FindOrCreate(pi, next_hop, now);
  switch (n.state) {
    case NeighborTable::State::kReachable:
      ws.neighbor_cache.Remember(pi, next_hop, n, version);
      [[fallthrough]];
    case NeighborTable::State::kStale:
      // Frames held for this hop go first, so a flow keeps its order.
      if (ABSL_PREDICT_FALSE(ws.hold.num_pending() != 0)) ReleaseHeld(ws, pi, next_hop, n.mac);
      eth->dst_addr = n.mac;
      Tx(ws, pi, m);
      if (ABSL_PREDICT_FALSE(n.state == NeighborTable::State::kStale)) {
        RequestIfDue(ws, pi, next_hop, n.slot, now);
      }
      return;
    case NeighborTable::State::kIncomplete:
      Hold(ws, pi, next_hop, m, now);
      RequestIfDue(ws, pi, next_hop, n.slot, now);
      return;
    case NeighborTable::State::kBusy:  // another worker is writing the entry right now
      Hold(ws, pi, next_hop, m, now);
      return;
    case NeighborTable::State::kAbsent:
      ws.counters.Count(Drop::kNeighborTableFull);
      rte_pktmbuf_free(m);
      return;
  }
}

void Dataplane::Hold(WorkerState& ws, uint16_t pi, uint32_t next_hop, rte_mbuf* m, uint64_t now) {
  if (!ws.hold.Add(pi, next_hop, m, now + hold_timeout_tsc_)) {
    ws.counters.Count(Drop::kNeighborHoldFull);
    rte_pktmbuf_free(m);
    return;
  }
  ws.counters.Count(Event::kHeld);
}

void Dataplane::ReleaseHeld(WorkerState& ws, uint16_t pi, uint32_t next_hop,
                            const rte_ether_addr& mac) {
  for (uint32_t i = 0; i < ws.hold.num_pending(); ++i) {
    HoldQueue::Pending& p = ws.hold.pending(i);
    if (p.next_hop != next_hop || p.port_index != pi) continue;
    for (uint32_t k = 0; k < p.count; ++k) {
      Eth(p.frames[k])->dst_addr = mac;
      Tx(ws, pi, p.frames[k]);
    }
    ws.counters.Count(Event::kHeldReleased, p.count);
    ws.hold.Remove(i);
    return;
  }
}

void Dataplane::RequestIfDue(WorkerState& ws, uint16_t pi, uint32_t ip, uint32_t slot,
                             uint64_t now) {
  if (slot == NeighborTable::kNoSlot || !neighbors_->ClaimRequest(slot, now)) return;
  const Port& port = ports_[pi];
  rte_mbuf* m =
      BuildArpMbuf(port.pool, kBroadcast, RTE_ARP_OP_REQUEST, port.mac, port.address, kZeroMac, ip);
  if (m == nullptr) {
    ws.counters.Count(Event::kArpRequestAllocFailed);
    return;
  }
  ws.counters.Count(Event::kArpRequestsSent);
  Tx(ws, pi, m);
}

void Dataplane::ServiceHold(WorkerState& ws, uint64_t now) {
  uint32_t i = 0;
  while (i < ws.hold.num_pending()) {
    HoldQueue::Pending& p = ws.hold.pending(i);
    NeighborTable::Result n = neighbors_->Find(p.port_index, p.next_hop, now);
    if (n.state == NeighborTable::State::kReachable || n.state == NeighborTable::State::kStale) {
      for (uint32_t k = 0; k < p.count; ++k) {
        Eth(p.frames[k])->dst_addr = n.mac;
        Tx(ws, p.port_index, p.frames[k]);
      }
      ws.counters.Count(Event::kHeldReleased, p.count);
      ws.hold.Remove(i);
      continue;
    }
    if (now >= p.deadline_tsc) {
      rte_pktmbuf_free_bulk(p.frames, p.count);
      ws.counters.Count(Drop::kNeighborUnresolved, p.count);
      ws.hold.Remove(i);
      continue;
    }
    if (n.state == NeighborTable::State::kAbsent) {  // evicted meanwhile: ask again
      n = neighbors_->FindOrCreate(p.port_index, p.next_hop, now);
    }
    if (n.state == NeighborTable::State::kIncomplete) {
      RequestIfDue(ws, p.port_index, p.next_hop, n.slot, now);
    }
    ++i;
  }
}

void Dataplane::DrainControlRing(WorkerState& ws) {
  rte_mbuf* frames[nat::kMaxBurst];
  const unsigned n = rte_ring_sc_dequeue_burst(control_ring_, reinterpret_cast<void**>(frames),
                                               nat::kMaxBurst, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    const uint16_t pi = frames[i]->port;
    frames[i]->port = RTE_MBUF_PORT_INVALID;
    ws.counters.Count(Event::kGratuitousArpSent);
    Tx(ws, pi, frames[i]);
  }
}

void Dataplane::Drain(WorkerState& ws, uint64_t now) {
  if (ws.hold.num_pending() != 0) ServiceHold(ws, now);
  if (ws.id == 0 && !rte_ring_empty(control_ring_)) DrainControlRing(ws);
  for (uint16_t pi = 0; pi < ports_.size(); ++pi) {
    rte_eth_dev_tx_buffer* b = ws.tx[pi];
    if (ABSL_PREDICT_FALSE(port_paused_[pi].load(std::memory_order_acquire))) {
      if (b->length != 0) {  // (buffered before the pause: dropped, not sent seconds late)
        rte_pktmbuf_free_bulk(b->pkts, b->length);
        ws.counters.Count(Drop::kLinkRestart, b->length);
        b->length = 0;
      }
      continue;
    }
    rte_eth_tx_buffer_flush(ports_[pi].port_id, static_cast<uint16_t>(ws.id), b);
  }
  ws.last_drain_tsc = now;
}

void Dataplane::DiscardHeld(WorkerState& ws) {
  while (ws.hold.num_pending() != 0) {
    HoldQueue::Pending& p = ws.hold.pending(0);
    rte_pktmbuf_free_bulk(p.frames, p.count);
    ws.counters.Count(Drop::kShutdown, p.count);
    ws.hold.Remove(0);
  }
}

}  // namespace natgw::dataplane
