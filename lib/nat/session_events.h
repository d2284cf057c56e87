// Session events handed from a worker to the control thread (the translation event log and IPFIX
// export, lib/telemetry/event_log.h): fixed-size records in a bounded single-producer /
// single-consumer ring per worker. A worker never waits and never allocates: when the ring is
// full the record is dropped and counted.
#ifndef NATGW_LIB_NAT_SESSION_EVENTS_H_
#define NATGW_LIB_NAT_SESSION_EVENTS_H_

#include <atomic>
#include <cstdint>
#include <memory>

namespace natgw::nat {

enum class SessionEventType : uint8_t {
  kCreate = 1,          // a session was published
  kDelete = 2,          // its owner unlinked it (DeleteReason says why)
  kPortsExhausted = 3,  // an egress pool address had no port left for a new flow
  kQuotaExceeded = 4,   // a pod reached limits.max_sessions_per_pod
};

// X(enumerator, name)
#define NATGW_DELETE_REASONS(X)         \
  X(kNone, "none")                      \
  X(kIdleTimeout, "idle_timeout")       \
  X(kTcpClosed, "tcp_closed")           \
  X(kFlushed, "flushed")                \
  X(kMappingChanged, "mapping_changed") \
  X(kShutdown, "shutdown")

enum class DeleteReason : uint8_t {
#define NATGW_X(e, s) e,
  NATGW_DELETE_REASONS(NATGW_X)
#undef NATGW_X
  kCount
};
const char* DeleteReasonName(DeleteReason r);

// One event. Addresses and ports in network order, as in the session's keys:
//   inside   = in_key.src (the pod), remote_inside = in_key.dst (the remote as the pod sees it),
//   external = out_key.dst (the translated pod endpoint), remote = out_key.src.
// For kPortsExhausted and kQuotaExceeded: island/inside_ip are the pod, external_ip the pool
// address (ports exhausted only).
struct SessionEvent {
  uint64_t tsc;        // rte_rdtsc() when it happened (the control thread turns it into time)
  uint64_t packets[2];  // at delete: [0] in2out, [1] out2in
  uint64_t bytes[2];    // IP bytes, same order
  uint32_t inside_ip;
  uint32_t remote_inside_ip;
  uint32_t external_ip;
  uint32_t remote_ip;
  uint16_t inside_port;
  uint16_t remote_inside_port;
  uint16_t external_port;
  uint16_t remote_port;
  uint16_t island;
  SessionEventType type;
  DeleteReason reason;
  uint8_t proto;
  uint8_t kind;       // conntrack::SessionKind
  uint8_t outside_initiated;
  uint8_t pad = 0;
  uint32_t created_s;  // engine clock, for the session's age at delete
  uint32_t event_s;    // engine clock when it happened
};
static_assert(sizeof(SessionEvent) == 80, "SessionEvent: fixed size, no hidden padding");

// Bounded SPSC ring of SessionEvents. Push: the owning worker only. Pop: the control thread only.
// The capacity is a power of two fixed at construction; the storage is allocated once.
class SessionEventRing {
 public:
  explicit SessionEventRing(uint32_t capacity)
      : mask_(capacity - 1), slots_(std::make_unique<SessionEvent[]>(capacity)) {}

  // Worker: copies `e` in, or counts a drop if the ring is full. Never blocks.
  bool Push(const SessionEvent& e) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_cache_ > mask_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head - tail_cache_ > mask_) {
        dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return false;
      }
    }
    slots_[head & mask_] = e;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Control thread: takes the oldest event, or returns false when empty.
  bool Pop(SessionEvent* out) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_.load(std::memory_order_acquire)) return false;
    *out = slots_[tail & mask_];
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  uint32_t capacity() const { return mask_ + 1; }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t pushed() const { return head_.load(std::memory_order_relaxed); }

 private:
  const uint32_t mask_;
  std::unique_ptr<SessionEvent[]> slots_;
  alignas(64) std::atomic<uint64_t> head_{0};  // written by the producer
  uint64_t tail_cache_ = 0;                    // producer's last view of tail_
  std::atomic<uint64_t> dropped_{0};           // written by the producer
  alignas(64) std::atomic<uint64_t> tail_{0};  // written by the consumer
};

// Packets and bytes of one session, both directions, kept beside the session pool (the session
// itself is one full cache line). Exists only while the event log is on.
struct SessionTraffic {
  uint64_t packets[2];
  uint64_t bytes[2];
};

}  // namespace natgw::nat

#endif  // NATGW_LIB_NAT_SESSION_EVENTS_H_
