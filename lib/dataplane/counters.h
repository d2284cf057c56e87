// Dataplane counters: what happens to frames between the ports and the translation engine
// (layer 2, ARP, routing, neighbor resolution, transmit). Declared once as X-macros that yield
// both the enums and the exported names, like lib/nat/counters.h. The engine counts its own
// drops; every frame the dataplane itself consumes increments exactly one counter here.
#ifndef NATGW_LIB_DATAPLANE_COUNTERS_H_
#define NATGW_LIB_DATAPLANE_COUNTERS_H_

#include <cstdint>

namespace natgw::dataplane {

// X(enumerator, name): frames freed by the dataplane, one reason each.
#define NATGW_DATAPLANE_DROPS(X)                                                             \
  X(kL2OtherHost, "l2_other_host")              /* non-ARP frame not sent to our MAC */      \
  X(kNoRoute, "no_route")                       /* no route on the egress side */            \
  X(kMtuExceeded, "mtu_exceeded")               /* too big for the egress MTU, not split */  \
  X(kNeighborTableFull, "neighbor_table_full")  /* next hop could not get a slot */          \
  X(kNeighborHoldFull, "neighbor_hold_full")    /* hold queue full (total/neighbor) */       \
  X(kNeighborUnresolved, "neighbor_unresolved") /* held, next hop never answered */          \
  X(kArpMalformed, "arp_malformed")             /* not Ethernet/IPv4 ARP, bad op/MAC */      \
  X(kArpNotForUs, "arp_not_for_us")             /* ARP about an address we don't own */      \
  X(kArpConflict, "arp_conflict")               /* someone announces one of our addresses */ \
  X(kTxFull, "tx_full")                         /* the TX queue refused the frame */         \
  X(kLinkRestart, "link_restart")               /* its port was being restarted */           \
  X(kShutdown, "shutdown")                      /* still held when the worker stopped */

enum class Drop : uint8_t {
#define NATGW_X(e, s) e,
  NATGW_DATAPLANE_DROPS(NATGW_X)
#undef NATGW_X
  kCount
};
inline constexpr int kNumDrops = static_cast<int>(Drop::kCount);
const char* DropName(Drop d);

// X(enumerator, name): frames and events that are not drops.
#define NATGW_DATAPLANE_EVENTS(X)                                                 \
  X(kRxFrames, "rx_frames") /* every frame received */                            \
  X(kTxFrames, "tx_frames") /* handed to a TX queue */                            \
  X(kArpRequestsAnswered, "arp_requests_answered")                                \
  X(kArpRepliesReceived, "arp_replies_received")                                  \
  X(kArpGratuitousReceived, "arp_gratuitous_received")                            \
  X(kArpRequestsSent, "arp_requests_sent")                                        \
  X(kArpRequestAllocFailed, "arp_request_alloc_failed")                           \
  X(kGratuitousArpSent, "gratuitous_arp_sent") /* from SendGratuitousArp */       \
  X(kHeld, "held_frames")                      /* queued for an unresolved hop */ \
  X(kHeldReleased, "held_frames_released")     /* sent after the hop resolved */  \
  X(kNeighborsLearned, "neighbors_learned")    /* ARP updates applied */          \
  X(kFramesFragmented, "frames_fragmented")    /* too big, sent as fragments */

enum class Event : uint8_t {
#define NATGW_X(e, s) e,
  NATGW_DATAPLANE_EVENTS(NATGW_X)
#undef NATGW_X
  kCount
};
inline constexpr int kNumEvents = static_cast<int>(Event::kCount);
const char* EventName(Event e);

// One worker's counters (written by that worker only), or a sum of them (control thread).
struct alignas(64) DataplaneCounters {
  uint64_t drops[kNumDrops] = {};
  uint64_t events[kNumEvents] = {};

  void Count(Drop d, uint64_t n = 1) { drops[static_cast<int>(d)] += n; }
  void Count(Event e, uint64_t n = 1) { events[static_cast<int>(e)] += n; }
  uint64_t drop(Drop d) const { return drops[static_cast<int>(d)]; }
  uint64_t event(Event e) const { return events[static_cast<int>(e)]; }
  uint64_t TotalDrops() const;
  // Adds a racy (relaxed) snapshot of `other`, which a worker may be writing.
  void AddSnapshot(const DataplaneCounters& other);
};

}  // namespace natgw::dataplane

#endif  // NATGW_LIB_DATAPLANE_COUNTERS_H_
