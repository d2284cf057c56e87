// TCP connection tracking for a NAT, following RFC 5382: a connection is "transitory" while it
// is opening or closing and "established" in between; each class has its own idle timeout.
#ifndef NATGW_LIB_CONNTRACK_TCP_STATE_H_
#define NATGW_LIB_CONNTRACK_TCP_STATE_H_

#include <cstdint>

namespace natgw::conntrack {

enum class TcpState : uint8_t {
  kNone = 0,         // not TCP
  kSynSent,          // SYN seen from the initiator only (transitory)
  kSynReceived,      // SYN seen from both sides, waiting for the final ACK (transitory)
  kEstablished,      // three-way handshake complete (established timeout)
  kFinInitiator,     // FIN seen from the initiator only (established timeout: half-close)
  kFinResponder,     // FIN seen from the responder only (established timeout: half-close)
  kClosing,          // FIN seen from both sides (transitory)
  kReset,            // RST seen (transitory)
  kMidStream,        // picked up by a non-SYN segment (no handshake seen), or the initiator
                     // went on after an RST; the other side not heard yet (transitory): its
                     // answer makes it established
};

// Returns the state after a segment with `tcp_flags` travelling from the initiator
// (`from_initiator`) or from the responder. Pure function.
// Half-reopen: a SYN from the initiator in kClosing or kReset starts a new connection on the
// same tuple (kSynSent), as RFC 5382 section 5 allows for TIME_WAIT assassination.
TcpState TcpNextState(TcpState cur, uint8_t tcp_flags, bool from_initiator);

// True for states that use the transitory idle timeout.
bool TcpIsTransitory(TcpState s);

const char* TcpStateName(TcpState s);

}  // namespace natgw::conntrack

#endif  // NATGW_LIB_CONNTRACK_TCP_STATE_H_
