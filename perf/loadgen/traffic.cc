#include "perf/loadgen/traffic.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/base/optimization.h"
#include "lib/dataplane/arp.h"
#include "lib/net/headers.h"
#include "perf/loadgen/backlog.h"
#include "perf/loadgen/tx_ring.h"

namespace natgw::loadgen {
namespace {

constexpr uint16_t kBurst = 32;
constexpr uint32_t kTcpDataLen = 16;
constexpr uint32_t kServerIsnKey = 0x5bd1e995;  // server ISN = connection number ^ key
const rte_ether_addr kBroadcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
const rte_ether_addr kZero = {{0, 0, 0, 0, 0, 0}};  // an ARP request's unknown target MAC

double UnixSeconds() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// TCP: connections a loop keeps open at once (SYN sent, last ACK not yet). Each has at most two
// frames waiting in a TxQueue (ACK with data and FIN, or the last ACK; the server's SYN-ACK or
// FIN-ACK on the other port), so its ring never overflows.
constexpr uint32_t kMaxOpenConnections = 4096;

// A TX buffer of one port: frames queue up during a loop pass and leave in bursts.
struct TxQueue {
  uint16_t port = 0;
  TxRing<4 * kMaxOpenConnections> ring;
};

// One loop's running totals, published for the main lcore's progress line and timeline when
// several loops run. Written by its loop only.
struct alignas(64) Published {
  std::atomic<uint64_t> in_offered{0}, in_delivered{0}, out_offered{0}, out_delivered{0};
  std::atomic<uint64_t> tcp_completed{0}, invalid{0};
};

// What the loops of one run share.
struct Shared {
  uint32_t loops = 0;
  std::atomic<uint32_t> ready{0};     // loops done with their warm-up
  std::atomic<uint32_t> measured{0};  // loops past their measured interval (now draining)
  std::unique_ptr<Published[]> published;
};

// Which flows and queues a loop owns: flow ids [first, end), TX queue `queue` of both ports,
// and the RX queues q with q mod `step` = queue.
struct Slice {
  uint16_t queue = 0;
  uint16_t step = 1;
  uint32_t first = 0;
  uint32_t end = 0;
};

SecondSample Sample(double t_s, double dt, const DirectionCounts& in, const DirectionCounts& out,
                    uint64_t completed, const DirectionCounts& last_in,
                    const DirectionCounts& last_out, uint64_t last_completed) {
  return SecondSample{t_s,
                      static_cast<double>(in.offered - last_in.offered) / dt,
                      static_cast<double>(in.delivered - last_in.delivered) / dt,
                      static_cast<double>(out.offered - last_out.offered) / dt,
                      static_cast<double>(out.delivered - last_out.delivered) / dt,
                      static_cast<double>(completed - last_completed) / dt};
}

// The progress line; `p99_ns` < 0: not shown.
void PrintProgress(const SecondSample& s, Mode mode, uint64_t invalid, double p99_ns) {
  std::printf("%5.1fs in2out %7.3f/%7.3f Mpps  out2in %7.3f/%7.3f Mpps (offered/delivered)",
              s.t_s, s.in2out_offered_pps / 1e6, s.in2out_delivered_pps / 1e6,
              s.out2in_offered_pps / 1e6, s.out2in_delivered_pps / 1e6);
  if (mode == Mode::kTcp) std::printf("  %8.0f conn/s", s.tcp_cps);
  std::printf("  invalid %llu", static_cast<unsigned long long>(invalid));
  if (p99_ns >= 0) std::printf("  p99 %.1f us", p99_ns / 1e3);
  std::printf("\n");
  std::fflush(stdout);
}

class Generator {
 public:
  // `seen`: one entry per flow id, shared by every loop of the run. `shared` is null when this
  // is the only loop.
  Generator(const TrafficConfig& c, const volatile bool* stop, const Slice& slice,
            Translation* seen, Shared* shared)
      : c_(c),
        stop_(stop),
        flows_(c.ranges),
        flows_mod_(c.num_flows),
        seen_(seen),
        slice_(slice),
        shared_(shared),
        pub_(shared != nullptr ? &shared->published[slice.queue] : nullptr) {
    hz_ = rte_get_tsc_hz();
    ns_per_tsc_ = 1e9 / static_cast<double>(hz_);
    rte_eth_macaddr_get(c.inside_port, &inside_mac_);
    rte_eth_macaddr_get(c.outside_port, &outside_mac_);
    in_tx_.port = c.inside_port;
    out_tx_.port = c.outside_port;
    inside_gw_mac_ = c.inside_gateway_mac;
    outside_gw_mac_ = c.outside_gateway_mac;
    const double loops = slice.step;
    rate_pps_ = c.rate_pps / loops;
    warmup_pps_ = c.warmup_pps / loops;
    rx_total_ = std::max(c.rx_queues, c.queues);
    in_rxq_ = out_rxq_ = slice.queue;
    next_id_ = slice.first;
  }
  // Frames still held (a run cut short, or the setup loop's ARP requests) go back to the pool.
  ~Generator() {
    FreeQueued(&in_tx_);
    FreeQueued(&out_tx_);
    DropUnsent();
  }
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // The whole run on this lcore: links, ARP, traffic.
  TrafficResult Go() {
    if (Setup()) Traffic();
    return std::move(r_);
  }

  // Waits for both links and, with ARP, resolves the gateway's MACs and announces the pods.
  bool Setup() {
    if (!WaitLinks() || (c_.arp && !ResolveGateways())) return false;
    if (c_.arp) AnnouncePods();
    return true;
  }

  // Warm-up (UDP), then the measured interval; with other loops, all start it together.
  void Traffic() {
    BuildTemplates();
    if (c_.mode == Mode::kUdp) Warmup();
    if (shared_ != nullptr) WaitForOtherLoops();
    Measure();
  }

  void UseGatewayMacs(const Generator& from) {
    inside_gw_mac_ = from.inside_gw_mac_;
    outside_gw_mac_ = from.outside_gw_mac_;
  }
  TrafficResult& result() { return r_; }

 private:
  bool WaitLinks() {
    const uint64_t deadline =
        rte_rdtsc() + static_cast<uint64_t>(c_.link_timeout_s * static_cast<double>(hz_));
    while (rte_rdtsc() < deadline && !*stop_) {
      rte_eth_link in{}, out{};
      rte_eth_link_get_nowait(c_.inside_port, &in);
      rte_eth_link_get_nowait(c_.outside_port, &out);
      if (in.link_status == RTE_ETH_LINK_UP && out.link_status == RTE_ETH_LINK_UP) return true;
      rte_delay_ms(50);
    }
    r_.error = "the link of the inside or outside port did not come up in time";
    return false;
  }

  // ARP requests for both gateway addresses every 200 ms until both answered (10 s at most).
  bool ResolveGateways() {
    const uint64_t deadline = rte_rdtsc() + 10 * hz_;
    uint64_t next = 0;
    while (!(have_inside_gw_ && have_outside_gw_)) {
      const uint64_t now = rte_rdtsc();
      if (now > deadline || *stop_) {
        r_.error = "the gateway did not answer ARP for its inside and outside addresses";
        return false;
      }
      if (now >= next) {
        next = now + hz_ / 5;
        if (!have_inside_gw_) {
          rte_mbuf* m = dataplane::BuildArpMbuf(
              c_.pool, kBroadcast, RTE_ARP_OP_REQUEST, inside_mac_,
              rte_cpu_to_be_32(c_.ranges.pod_ip_first), kZero, c_.inside_gateway_ip_be);
          if (m != nullptr) Queue(&in_tx_, m);
        }
        if (!have_outside_gw_) {
          rte_mbuf* m = dataplane::BuildArpMbuf(c_.pool, kBroadcast, RTE_ARP_OP_REQUEST,
                                                outside_mac_, c_.outside_ip_be, kZero,
                                                c_.outside_gateway_ip_be);
          if (m != nullptr) Queue(&out_tx_, m);
        }
      }
      PollOutside();
      PollInside();
      Flush(&in_tx_, nullptr);
      Flush(&out_tx_, nullptr);
    }
    return true;
  }

  // Every pod asks for its gateway's MAC once, as a pod's stack does before its first packet:
  // the gateway learns the pods' MACs from the requests, so replies to new flows do not wait
  // in its hold queue for ARP while the measurement runs. At most kMaxAnnounced pods.
  void AnnouncePods() {
    static constexpr uint32_t kMaxAnnounced = 4096;
    const uint32_t n = std::min(c_.ranges.pod_count, kMaxAnnounced);
    for (uint32_t i = 0; i < n && !*stop_; ++i) {
      rte_mbuf* m = dataplane::BuildArpMbuf(c_.pool, kBroadcast, RTE_ARP_OP_REQUEST, inside_mac_,
                                            rte_cpu_to_be_32(c_.ranges.pod_ip_first + i), kZero,
                                            c_.inside_gateway_ip_be);
      if (m != nullptr) {
        Queue(&in_tx_, m);
        ++r_.pods_announced;
      }
      if (in_tx_.ring.size() >= kBurst) {
        Flush(&in_tx_, nullptr);
        PollInside();
        PollOutside();
      }
    }
    Flush(&in_tx_, nullptr);
    Drain(hz_ / 10);
    r_.in2out = DirectionCounts{};  // ARP answers are not part of the measurement
    r_.out2in = DirectionCounts{};
  }

  void BuildTemplates() {
    for (uint16_t len : c_.frame_lens) {
      templates_.push_back(std::make_unique<FrameTemplate>(
          FrameTemplate::Udp(len, inside_mac_, inside_gw_mac_)));
    }
  }

  // kUdp: every flow once at warmup_pps, so the measured interval sees established flows only.
  void Warmup() {
    const uint64_t start = rte_rdtsc();
    const uint64_t flows = slice_.end - slice_.first;
    uint64_t sent = 0;
    while (sent < flows && !*stop_) {
      const uint64_t now = rte_rdtsc();
      uint64_t n = kBurst;
      if (warmup_pps_ > 0) {
        const uint64_t allowed = static_cast<uint64_t>(static_cast<double>(now - start) *
                                                       warmup_pps_ / static_cast<double>(hz_));
        n = allowed > sent ? std::min<uint64_t>(allowed - sent, kBurst) : 0;
      }
      n = std::min<uint64_t>(n, flows - sent);
      if (n > 0) sent += SendUdp(static_cast<uint16_t>(n), now);
      Service();
    }
    DropUnsent();
    Drain(hz_ / 2);
    r_.warmup_delivered = r_.in2out.delivered;
    // The measured interval starts clean. The translations seen so far stay (they must hold),
    // and so do the invalid counts: a bad frame during the warm-up is an error too.
    r_.in2out = DirectionCounts{};
    r_.out2in = DirectionCounts{};
    r_.latency.Reset();
    next_id_ = slice_.first;
  }

  // Keeps receiving and answering until every loop is through its warm-up; what arrives
  // meanwhile belongs to the warm-up.
  void WaitForOtherLoops() {
    shared_->ready.fetch_add(1, std::memory_order_acq_rel);
    while (shared_->ready.load(std::memory_order_acquire) < shared_->loops && !*stop_) {
      Service();
    }
    r_.warmup_delivered += r_.in2out.delivered;
    r_.in2out = DirectionCounts{};
    r_.out2in = DirectionCounts{};
    r_.latency.Reset();
  }

  void Publish() {
    if (pub_ == nullptr) return;
    pub_->in_offered.store(r_.in2out.offered, std::memory_order_relaxed);
    pub_->in_delivered.store(r_.in2out.delivered, std::memory_order_relaxed);
    pub_->out_offered.store(r_.out2in.offered, std::memory_order_relaxed);
    pub_->out_delivered.store(r_.out2in.delivered, std::memory_order_relaxed);
    pub_->tcp_completed.store(r_.tcp_completed, std::memory_order_relaxed);
    pub_->invalid.store(r_.invalid_total, std::memory_order_relaxed);
  }

  void Measure() {
    r_.start_unix = UnixSeconds();
    const uint64_t start = rte_rdtsc();
    const uint64_t end = start + static_cast<uint64_t>(c_.duration_s * static_cast<double>(hz_));
    uint64_t next_second = start + hz_;
    uint64_t sent = 0;
    DirectionCounts last_in = r_.in2out, last_out = r_.out2in;
    uint64_t last_completed = 0;
    uint64_t last_tsc = start;
    r_.timeline.reserve(static_cast<size_t>(c_.duration_s) + 2);
    bool pass_done = false;
    const uint64_t max_debt =
        std::max<uint64_t>(4 * kBurst, static_cast<uint64_t>(rate_pps_ / 100));
    for (;;) {
      const uint64_t now = rte_rdtsc();
      if (now >= end || *stop_ || pass_done) break;
      uint64_t n = kBurst;
      if (rate_pps_ > 0) {
        const uint64_t allowed = static_cast<uint64_t>(static_cast<double>(now - start) *
                                                       rate_pps_ / static_cast<double>(hz_));
        // A stall (the core taken away) is made up for at most 10 ms worth of packets, so that
        // it does not turn into one huge burst afterwards.
        if (allowed > sent + max_debt) sent = allowed - max_debt;
        n = allowed > sent ? std::min<uint64_t>(allowed - sent, kBurst) : 0;
      }
      if (c_.mode != Mode::kUdp) {
        // (kUdpNew: requests refused earlier still wait to be sent)
        const uint64_t left = (next_id_ < slice_.end ? slice_.end - next_id_ : 0) + unsent_.size();
        n = std::min(n, left);
        pass_done = left == 0;
      }
      // TCP: answers still waiting go before new connections (a client finishes its
      // handshakes before it opens more), and at most kMaxOpenConnections are open at once
      // (as this loop counts them: a connection can complete in another loop's queue).
      if (c_.mode == Mode::kTcp &&
          (in_tx_.ring.size() != 0 || out_tx_.ring.size() != 0 ||
           r_.tcp_opened >= r_.tcp_completed + kMaxOpenConnections)) {
        n = 0;
      }
      if (n > 0) {
        sent += c_.mode == Mode::kTcp ? SendSyns(static_cast<uint16_t>(n))
                                      : SendUdp(static_cast<uint16_t>(n), now);
      }
      Service();
      Publish();
      if (now >= next_second) {
        next_second += hz_;
        const double dt = static_cast<double>(now - last_tsc) / static_cast<double>(hz_);
        last_tsc = now;
        const SecondSample s =
            Sample(static_cast<double>(now - start) / static_cast<double>(hz_), dt, r_.in2out,
                   r_.out2in, r_.tcp_completed, last_in, last_out, last_completed);
        last_in = r_.in2out;
        last_out = r_.out2in;
        last_completed = r_.tcp_completed;
        r_.timeline.push_back(s);
        if (c_.progress && shared_ == nullptr) {
          PrintProgress(s, c_.mode, r_.invalid_total,
                        static_cast<double>(r_.latency.Percentile(0.99)));
        }
      }
    }
    r_.seconds = static_cast<double>(rte_rdtsc() - start) / static_cast<double>(hz_);
    DropUnsent();
    if (shared_ != nullptr) {
      Publish();
      shared_->measured.fetch_add(1, std::memory_order_acq_rel);
    }
    Drain(hz_ / 5);
    DropQueued();
  }

  // One pass of receiving, checking and answering on both ports, then sending what is queued.
  void Service() {
    // TCP: a full burst means natgw sends faster than one burst a pass (it forwards the kept
    // answers as fast as the inside ring takes them); up to three more bursts (from this loop's
    // next RX queues, where there are several) keep its rings from overflowing.
    uint16_t got = PollOutside();
    for (int i = 0; i < 3 && got == kBurst && c_.mode == Mode::kTcp; ++i) got = PollOutside();
    PollInside();
    Flush(&in_tx_, &r_.in2out);
    Flush(&out_tx_, &r_.out2in);
  }

  // Receives and answers without sending anything new for `ticks`.
  void Drain(uint64_t ticks) {
    const uint64_t end = rte_rdtsc() + ticks;
    while (rte_rdtsc() < end) {
      Service();
    }
  }

  // Sends `n` requests (n <= kBurst): first those the port refused before, with their
  // timestamps renewed, then new flows. What the port refuses now waits for the next call, so a
  // full ring costs a tx_burst call, not frames built, freed and built again.
  uint16_t SendUdp(uint16_t n, uint64_t tsc) {
    rte_mbuf* pkts[kBurst];
    const uint16_t waiting = TakeForOffer(&n, pkts);
    for (uint16_t i = 0; i < waiting; ++i) {
      RenewUdpTimestamp(rte_pktmbuf_mtod(pkts[i], uint8_t*), tsc);
    }
    const size_t nt = templates_.size();
    for (uint16_t i = waiting; i < n; ++i) {
      const FrameTemplate& tpl = *templates_[size_index_];
      if (++size_index_ == nt) size_index_ = 0;
      const uint32_t id = next_id_;
      if (++next_id_ == slice_.end && c_.mode == Mode::kUdp) next_id_ = slice_.first;
      rte_mbuf* m = pkts[i];
      WriteUdpRequest(tpl, flows_.Tuple(id), id, tsc, rte_pktmbuf_mtod(m, uint8_t*));
      m->data_len = tpl.len;
      m->pkt_len = tpl.len;
    }
    return OfferInside(pkts, n);
  }

  // The start of an offer of `*n` frames (n <= kBurst) to the inside port: the frames it
  // refused before, oldest first, then new buffers for the rest (*n shrinks to what waits when
  // the pool is empty). Returns how many waited; pkts[that..*n) are new, to be written.
  uint16_t TakeForOffer(uint16_t* n, rte_mbuf** pkts) {
    assert(*n <= kBurst);
    const uint16_t waiting = unsent_.Oldest(*n, pkts);
    if (*n > waiting && rte_pktmbuf_alloc_bulk(c_.pool, pkts + waiting, *n - waiting) != 0) {
      *n = waiting;  // no buffers: what waits goes alone
    }
    return waiting;
  }

  // The end of that offer: pkts[0..n) to the inside port; what it refuses waits for the next
  // (unsent_). Returns how many it took.
  uint16_t OfferInside(rte_mbuf** pkts, uint16_t n) {
    const uint16_t sent = n == 0 ? 0 : rte_eth_tx_burst(c_.inside_port, slice_.queue, pkts, n);
    r_.in2out.offered += sent;
    r_.in2out.tx_full += n - sent;
    unsent_.Offered(pkts + sent, static_cast<uint16_t>(n - sent));
    return sent;
  }

  // Frees the requests still waiting (end of the warm-up or of the measured interval).
  void DropUnsent() {
    rte_mbuf* pkts[kBurst];
    const uint16_t n = unsent_.TakeAll(pkts);
    if (n != 0) rte_pktmbuf_free_bulk(pkts, n);
  }

  // TCP: one SYN per new connection; the connection number is the SYN's sequence number. Like
  // SendUdp's requests, SYNs the port refused wait and go first next time (no timestamp to
  // renew), so each connection is opened once and none is skipped.
  uint16_t SendSyns(uint16_t n) {
    rte_mbuf* pkts[kBurst];
    const uint16_t waiting = TakeForOffer(&n, pkts);
    for (uint16_t i = waiting; i < n; ++i) {
      const uint32_t conn = next_id_++;
      const FlowTuple t = flows_.Tuple(flows_mod_.Mod(conn));
      SetLen(pkts[i], WriteTcpSegment(rte_pktmbuf_mtod(pkts[i], uint8_t*), inside_mac_,
                                      inside_gw_mac_, t.pod_ip_be, t.remote_ip_be, t.sport_be,
                                      t.dport_be, net::kTcpSyn, conn, 0, 0));
    }
    const uint16_t sent = OfferInside(pkts, n);
    r_.tcp_opened += sent;
    return sent;
  }

  static void SetLen(rte_mbuf* m, uint16_t len) {
    m->data_len = len;
    m->pkt_len = len;
  }

  void Queue(TxQueue* q, rte_mbuf* m) {
    DirectionCounts* counts = q == &in_tx_ ? &r_.in2out : &r_.out2in;
    if (q->ring.full()) Flush(q, counts);
    if (ABSL_PREDICT_FALSE(!q->ring.Push(m))) {
      // (TCP: the port refused every kept frame; not expected, see kMaxOpenConnections) lost,
      // and its connection with it
      ++counts->tx_dropped;
      rte_pktmbuf_free(m);
    }
  }

  // Sends what `q` holds. What the port refuses is freed (UDP: a reply lost, like on a full
  // link) or, in TCP mode, kept in order for the next Flush: a handshake frame dropped would be
  // a connection that never completes, counted against natgw's connection rate. TCP offers at
  // most kBurst kept frames a call, so a pass stays short and the other port is polled as
  // often as natgw sends to it.
  void Flush(TxQueue* q, DirectionCounts* counts) {
    const bool tcp = c_.mode == Mode::kTcp;
    const auto o = q->ring.Send(
        [&](rte_mbuf** pkts, uint16_t n) {
          return rte_eth_tx_burst(q->port, slice_.queue, pkts, n);
        },
        tcp ? kBurst : q->ring.size());
    if (counts != nullptr) {
      counts->offered += o.accepted;
      counts->tx_full += o.offered - o.accepted;
    }
    if (!tcp) {
      const uint32_t freed = FreeQueued(q);
      if (counts != nullptr) counts->tx_dropped += freed;
    }
  }

  static uint32_t FreeQueued(TxQueue* q) {
    return q->ring.TakeAll([](rte_mbuf** pkts, uint32_t n) { rte_pktmbuf_free_bulk(pkts, n); });
  }

  // Frees what the queues still hold at the end (TCP: answers natgw never took), counted as
  // never sent.
  void DropQueued() {
    r_.in2out.tx_dropped += FreeQueued(&in_tx_);
    r_.out2in.tx_dropped += FreeQueued(&out_tx_);
  }

  void CountInvalid(Invalid r) {
    ++r_.invalid[static_cast<size_t>(r)];
    ++r_.invalid_total;
  }

  // ARP on either side: answers requests for any address but the gateway's own (the generator
  // plays every pod, server and next hop), learns the gateway's MAC from its replies. Returns
  // true when `m` was consumed (queued as the answer).
  bool HandleArp(rte_mbuf* m, bool inside) {
    dataplane::ArpMessage a;
    uint8_t* f = rte_pktmbuf_mtod(m, uint8_t*);
    if (!dataplane::ParseArp(f, m->data_len, &a)) return false;
    const uint32_t gw = inside ? c_.inside_gateway_ip_be : c_.outside_gateway_ip_be;
    if (a.op == RTE_ARP_OP_REPLY && a.sip == gw) ++r_.arp_gateway_replies;
    if (a.op == RTE_ARP_OP_REPLY || a.sip == gw) {
      if (a.sip == gw && c_.arp) {
        if (inside) {
          inside_gw_mac_ = a.sha;
          have_inside_gw_ = true;
        } else {
          outside_gw_mac_ = a.sha;
          have_outside_gw_ = true;
        }
      }
    }
    if (a.op != RTE_ARP_OP_REQUEST || a.tip == gw) return false;
    if (m->buf_len - m->data_off < dataplane::kMinFrameLen) return false;
    const rte_ether_addr& mine = inside ? inside_mac_ : outside_mac_;
    dataplane::WriteArp(f, a.sha, RTE_ARP_OP_REPLY, mine, a.tip, a.sha, a.sip);
    SetLen(m, dataplane::kMinFrameLen);
    ++r_.arp_answered;
    Queue(inside ? &in_tx_ : &out_tx_, m);
    return true;
  }

  static bool IsArp(const rte_mbuf* m) {
    return m->data_len >= 14 &&
           rte_pktmbuf_mtod(m, const rte_ether_hdr*)->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP);
  }
  // Neither ARP nor IPv4 (IPv6 neighbour discovery, LLDP from a kernel peer): not part of the
  // test, counted apart and dropped.
  bool IsOther(const rte_mbuf* m) {
    if (m->data_len >= 14 &&
        rte_pktmbuf_mtod(m, const rte_ether_hdr*)->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
      return false;
    }
    ++r_.other_frames;
    return true;
  }

  // Receives, checks and answers one burst on the outside port; returns how many frames came.
  uint16_t PollOutside() {
    rte_mbuf* pkts[kBurst];
    rte_mbuf* done[kBurst];
    uint16_t nd = 0;
    const uint16_t n = rte_eth_rx_burst(c_.outside_port, out_rxq_, pkts, kBurst);
    out_rxq_ = NextRxQueue(out_rxq_);
    for (uint16_t i = 0; i < n; ++i) {
      if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
      rte_mbuf* m = pkts[i];
      if (ABSL_PREDICT_FALSE(IsArp(m))) {
        if (!HandleArp(m, false)) done[nd++] = m;
        continue;
      }
      if (ABSL_PREDICT_FALSE(IsOther(m))) {
        done[nd++] = m;
        continue;
      }
      uint8_t* f = rte_pktmbuf_mtod(m, uint8_t*);
      if (c_.mode == Mode::kTcp) {
        if (!OutsideTcp(m, f)) done[nd++] = m;
        continue;
      }
      Checked ck;
      const Invalid r =
          CheckUdpOutside(f, m->data_len, flows_, c_.num_flows, c_.expect, seen_, &ck);
      if (r != Invalid::kNone) {
        CountInvalid(r);
        done[nd++] = m;
        continue;
      }
      ++r_.in2out.delivered;
      NoteFlow(ck.flow_id);
      TurnUdpAround(f, outside_mac_, outside_gw_mac_);
      Queue(&out_tx_, m);
    }
    if (nd > 0) rte_pktmbuf_free_bulk(done, nd);
    return n;
  }

  // The server side of a connection. True when `m` was reused for an answer.
  bool OutsideTcp(rte_mbuf* m, uint8_t* f) {
    Checked ck;
    Invalid r = CheckTcpHeaders(f, m->data_len, &ck);
    if (r != Invalid::kNone) {
      CountInvalid(r);
      return false;
    }
    uint32_t conn;
    const uint8_t flags =
        ck.tcp_flags & (net::kTcpSyn | net::kTcpAck | net::kTcpFin | net::kTcpRst);
    if (flags == net::kTcpSyn) {
      conn = ck.seq;
    } else if (flags == (net::kTcpFin | net::kTcpAck)) {
      conn = ck.seq - 1 - kTcpDataLen;
    } else if (flags == net::kTcpAck && (ck.tcp_flags & net::kTcpPsh) != 0) {
      conn = ck.seq - 1;
    } else if (flags == net::kTcpAck) {
      conn = ck.seq - 2 - kTcpDataLen;
    } else {
      CountInvalid(Invalid::k_not_ours);
      return false;
    }
    const uint32_t flow = flows_mod_.Mod(conn);
    r = CheckTcpOutsideTuple(f, flows_.Tuple(flow), flow, c_.expect, seen_);
    if (r != Invalid::kNone) {
      CountInvalid(r);
      return false;
    }
    ++r_.in2out.delivered;
    NoteFlow(flow);
    uint8_t answer;
    uint32_t seq, ack;
    if (flags == net::kTcpSyn) {
      answer = net::kTcpSyn | net::kTcpAck;
      seq = conn ^ kServerIsnKey;
      ack = conn + 1;
    } else if (flags == (net::kTcpFin | net::kTcpAck)) {
      answer = net::kTcpFin | net::kTcpAck;
      seq = (conn ^ kServerIsnKey) + 1;
      ack = ck.seq + 1;
    } else {
      return false;  // data and the last ACK are only counted
    }
    uint32_t src, dst;
    uint16_t sport, dport;
    std::memcpy(&src, f + 26, 4);
    std::memcpy(&dst, f + 30, 4);
    std::memcpy(&sport, f + 34, 2);
    std::memcpy(&dport, f + 36, 2);
    SetLen(m, WriteTcpSegment(f, outside_mac_, outside_gw_mac_, dst, src, dport, sport, answer, seq,
                              ack, 0));
    Queue(&out_tx_, m);
    return true;
  }

  void PollInside() {
    rte_mbuf* pkts[kBurst];
    rte_mbuf* done[kBurst];
    uint16_t nd = 0;
    const uint16_t n = rte_eth_rx_burst(c_.inside_port, in_rxq_, pkts, kBurst);
    in_rxq_ = NextRxQueue(in_rxq_);
    if (n == 0) return;
    const uint64_t now = rte_rdtsc();
    for (uint16_t i = 0; i < n; ++i) {
      if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
      rte_mbuf* m = pkts[i];
      if (ABSL_PREDICT_FALSE(IsArp(m))) {
        if (!HandleArp(m, true)) done[nd++] = m;
        continue;
      }
      if (ABSL_PREDICT_FALSE(IsOther(m))) {
        done[nd++] = m;
        continue;
      }
      uint8_t* f = rte_pktmbuf_mtod(m, uint8_t*);
      if (c_.mode == Mode::kTcp) {
        if (!InsideTcp(m, f)) done[nd++] = m;
        continue;
      }
      Checked ck;
      const Invalid r = CheckUdpInside(f, m->data_len, flows_, c_.num_flows, &ck);
      if (r != Invalid::kNone) {
        CountInvalid(r);
      } else {
        ++r_.out2in.delivered;
        NoteFlow(ck.flow_id);
        if (now > ck.tsc) {
          r_.latency.Record(static_cast<uint64_t>(static_cast<double>(now - ck.tsc) * ns_per_tsc_));
        }
      }
      done[nd++] = m;
    }
    if (nd > 0) rte_pktmbuf_free_bulk(done, nd);
  }

  void NoteFlow(uint32_t id) {
    if (id < slice_.first || id >= slice_.end) ++r_.other_loop_frames;
  }

  uint16_t NextRxQueue(uint16_t q) const {
    q = static_cast<uint16_t>(q + slice_.step);
    return q < rx_total_ ? q : slice_.queue;
  }

  // The client side after the SYN. True when `m` was reused.
  bool InsideTcp(rte_mbuf* m, uint8_t* f) {
    Checked ck;
    Invalid r = CheckTcpHeaders(f, m->data_len, &ck);
    if (r != Invalid::kNone) {
      CountInvalid(r);
      return false;
    }
    const uint8_t flags =
        ck.tcp_flags & (net::kTcpSyn | net::kTcpAck | net::kTcpFin | net::kTcpRst);
    uint32_t conn;
    if (flags == (net::kTcpSyn | net::kTcpAck)) {
      conn = ck.ack - 1;
    } else if (flags == (net::kTcpFin | net::kTcpAck)) {
      conn = ck.ack - 2 - kTcpDataLen;
    } else {
      CountInvalid(Invalid::k_not_ours);
      return false;
    }
    const uint32_t flow = flows_mod_.Mod(conn);
    const FlowTuple t = flows_.Tuple(flow);
    r = CheckTcpInsideTuple(f, t);
    if (r != Invalid::kNone) {
      CountInvalid(r);
      return false;
    }
    ++r_.out2in.delivered;
    NoteFlow(flow);
    if (flags == (net::kTcpSyn | net::kTcpAck)) {
      ++r_.tcp_established;
      // ACK with data, then FIN; the received frame carries the first.
      SetLen(m, WriteTcpSegment(f, inside_mac_, inside_gw_mac_, t.pod_ip_be, t.remote_ip_be,
                                t.sport_be, t.dport_be, net::kTcpAck | net::kTcpPsh, conn + 1,
                                ck.seq + 1, kTcpDataLen));
      Queue(&in_tx_, m);
      rte_mbuf* fin = rte_pktmbuf_alloc(c_.pool);
      if (fin != nullptr) {
        SetLen(fin, WriteTcpSegment(rte_pktmbuf_mtod(fin, uint8_t*), inside_mac_, inside_gw_mac_,
                                    t.pod_ip_be, t.remote_ip_be, t.sport_be, t.dport_be,
                                    net::kTcpFin | net::kTcpAck, conn + 1 + kTcpDataLen,
                                    ck.seq + 1, 0));
        Queue(&in_tx_, fin);
      } else {
        ++r_.in2out.tx_dropped;  // no buffer: this connection will not complete
      }
      return true;
    }
    ++r_.tcp_completed;
    SetLen(m, WriteTcpSegment(f, inside_mac_, inside_gw_mac_, t.pod_ip_be, t.remote_ip_be,
                              t.sport_be, t.dport_be, net::kTcpAck, conn + 2 + kTcpDataLen,
                              ck.seq + 1, 0));
    Queue(&in_tx_, m);
    return true;
  }

  const TrafficConfig& c_;
  const volatile bool* stop_;
  FlowSet flows_;
  FastDivisor flows_mod_;
  Translation* seen_;
  Slice slice_;
  Shared* shared_;
  Published* pub_;
  double rate_pps_ = 0, warmup_pps_ = 0;  // this loop's share
  uint16_t rx_total_ = 1;                 // RX queues per port
  std::vector<std::unique_ptr<FrameTemplate>> templates_;
  size_t size_index_ = 0;
  uint32_t next_id_ = 0;
  // Requests and SYNs built for the inside port that its ring had no room for (SendUdp,
  // SendSyns).
  Backlog<kBurst> unsent_;
  uint64_t hz_ = 0;
  double ns_per_tsc_ = 0;
  rte_ether_addr inside_mac_{}, outside_mac_{};
  rte_ether_addr inside_gw_mac_{}, outside_gw_mac_{};
  bool have_inside_gw_ = false, have_outside_gw_ = false;
  TxQueue in_tx_, out_tx_;
  uint16_t in_rxq_ = 0, out_rxq_ = 0;  // the RX queue polled next
  TrafficResult r_;
};

int RunLoop(void* arg) {
  static_cast<Generator*>(arg)->Traffic();
  return 0;
}

void AddCounts(DirectionCounts* into, const DirectionCounts& d) {
  into->offered += d.offered;
  into->delivered += d.delivered;
  into->tx_full += d.tx_full;
  into->tx_dropped += d.tx_dropped;
}

// Adds loop result `r` to `into` (the timeline aside).
void AddResult(TrafficResult* into, const TrafficResult& r) {
  into->seconds = std::max(into->seconds, r.seconds);
  if (into->start_unix == 0 || (r.start_unix != 0 && r.start_unix < into->start_unix)) {
    into->start_unix = r.start_unix;
  }
  AddCounts(&into->in2out, r.in2out);
  AddCounts(&into->out2in, r.out2in);
  for (size_t i = 0; i < kNumInvalid; ++i) into->invalid[i] += r.invalid[i];
  into->invalid_total += r.invalid_total;
  into->warmup_delivered += r.warmup_delivered;
  into->tcp_opened += r.tcp_opened;
  into->tcp_established += r.tcp_established;
  into->tcp_completed += r.tcp_completed;
  into->arp_answered += r.arp_answered;
  into->pods_announced += r.pods_announced;
  into->arp_gateway_replies += r.arp_gateway_replies;
  into->other_frames += r.other_frames;
  into->other_loop_frames += r.other_loop_frames;
  into->latency.Merge(r.latency);
  if (into->error.empty()) into->error = r.error;
}

// The loops' published totals, summed.
void SumPublished(const Shared& sh, DirectionCounts* in, DirectionCounts* out,
                  uint64_t* completed, uint64_t* invalid) {
  *in = DirectionCounts{};
  *out = DirectionCounts{};
  *completed = *invalid = 0;
  for (uint32_t k = 0; k < sh.loops; ++k) {
    const Published& p = sh.published[k];
    in->offered += p.in_offered.load(std::memory_order_relaxed);
    in->delivered += p.in_delivered.load(std::memory_order_relaxed);
    out->offered += p.out_offered.load(std::memory_order_relaxed);
    out->delivered += p.out_delivered.load(std::memory_order_relaxed);
    *completed += p.tcp_completed.load(std::memory_order_relaxed);
    *invalid += p.invalid.load(std::memory_order_relaxed);
  }
}

// Several loops: set-up on this (the main) lcore, one loop per queue pair on the worker
// lcores; this lcore keeps the summed timeline and prints the progress line.
TrafficResult RunLoops(const TrafficConfig& c, const volatile bool* stop, Translation* seen) {
  const uint16_t n = c.queues;
  // Set-up polls every RX queue: a peer may answer ARP on any of them.
  auto setup = std::make_unique<Generator>(c, stop, Slice{0, 1, 0, c.num_flows}, seen, nullptr);
  if (!setup->Setup()) return std::move(setup->result());
  Shared shared;
  shared.loops = n;
  shared.published = std::make_unique<Published[]>(n);
  std::vector<std::unique_ptr<Generator>> loops;
  for (uint16_t k = 0; k < n; ++k) {
    const Slice s{k, n, static_cast<uint32_t>(uint64_t{c.num_flows} * k / n),
                  static_cast<uint32_t>(uint64_t{c.num_flows} * (k + 1) / n)};
    loops.push_back(std::make_unique<Generator>(c, stop, s, seen, &shared));
    loops.back()->UseGatewayMacs(*setup);
  }
  std::vector<unsigned> lcores;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (lcores.size() == n) break;
    if (rte_eal_remote_launch(RunLoop, loops[lcores.size()].get(), lcore) != 0) break;
    lcores.push_back(lcore);
  }
  TrafficResult r = std::move(setup->result());
  if (lcores.size() < n) {
    r.error = "not enough worker lcores for one loop per queue";
    shared.ready.store(n);  // the launched loops run alone (the result carries the error)
  }
  const uint64_t hz = rte_get_tsc_hz();
  auto all = [&](const std::atomic<uint32_t>& x) {
    return x.load(std::memory_order_acquire) >= lcores.size();
  };
  // Every loop counts itself ready, stopped or not (an unlaunched one was counted above).
  while (!all(shared.ready)) rte_delay_us_sleep(1000);
  const uint64_t start = rte_rdtsc();
  uint64_t next = start + hz, last_tsc = start;
  DirectionCounts last_in, last_out;
  uint64_t last_completed = 0;
  while (!all(shared.measured)) {
    const uint64_t now = rte_rdtsc();
    if (now < next) {
      rte_delay_us_sleep(1000);
      continue;
    }
    next += hz;
    DirectionCounts in, out;
    uint64_t completed, invalid;
    SumPublished(shared, &in, &out, &completed, &invalid);
    const SecondSample s = Sample(static_cast<double>(now - start) / static_cast<double>(hz),
                                  static_cast<double>(now - last_tsc) / static_cast<double>(hz),
                                  in, out, completed, last_in, last_out, last_completed);
    last_tsc = now;
    last_in = in;
    last_out = out;
    last_completed = completed;
    r.timeline.push_back(s);
    if (c.progress) PrintProgress(s, c.mode, invalid, -1);
  }
  for (size_t k = 0; k < lcores.size(); ++k) {
    rte_eal_wait_lcore(lcores[k]);
    AddResult(&r, loops[k]->result());
    const TrafficResult& lr = loops[k]->result();
    r.loops.push_back(LoopCounts{lr.in2out, lr.out2in, lr.other_loop_frames});
  }
  return r;
}

}  // namespace

TrafficResult Run(const TrafficConfig& c, const volatile bool* stop) {
  std::vector<Translation> seen(c.num_flows);
  if (c.queues > 1) return RunLoops(c, stop, seen.data());
  auto g = std::make_unique<Generator>(c, stop, Slice{0, 1, 0, c.num_flows}, seen.data(), nullptr);
  return g->Go();
}

}  // namespace natgw::loadgen
