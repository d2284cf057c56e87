// TCP state tracking for NAT sessions (RFC 5382). The gateway only needs to tell a connection
// that is opening or closing (transitory idle timeout, REQ-5: >= 4 min) from one that is
// established (>= 2 h 4 min), so it follows flags, not sequence numbers.
//
// Each segment is classified into one event, by precedence RST > SYN > FIN > other:
//   SYN_I  SYN without ACK from the initiator
//   SYN_R  SYN, with or without ACK, from the responder
//   FIN_I  FIN from the initiator
//   FIN_R  FIN from the responder
//   ACK_I  any other segment from the initiator
//   ACK_R  any other segment from the responder
//   RST    RST from either side
// (A SYN+ACK from the initiator is not an opening and counts as ACK_I.)
//
// state \ event | SYN_I     SYN_R     FIN_I     FIN_R     ACK_I     ACK_R     RST
// --------------+-----------------------------------------------------------------
// None          | SynSent   None      None      None      None      None      Reset
// SynSent       | SynSent   SynRcvd   SynSent   SynSent   SynSent   SynSent   Reset
// SynReceived   | SynRcvd   SynRcvd   FinI      FinR      Estab     Estab     Reset
// Established   | Estab     Estab     FinI      FinR      Estab     Estab     Reset
// FinInitiator  | FinI      FinI      FinI      Closing   FinI      FinI      Reset
// FinResponder  | FinR      FinR      Closing   FinR      FinR      FinR      Reset
// Closing       | SynSent   Closing   Closing   Closing   Closing   Closing   Reset
// Reset         | SynSent   Reset     Reset     Reset     MidStr    Reset     Reset
// MidStream     | SynSent   MidStr    MidStr    FinR      MidStr    Estab     Reset
//
// Notes: after the SYN-ACK, data or an ACK from either side completes the handshake. A session
// picked up mid-stream (created by a non-SYN segment, e.g. after a restart) starts in MidStream,
// whose side is the initiator: it is established once the other side answers, and until then
// has the transitory timeout, so that stray or forged segments cannot fill the table with
// sessions that live for hours. A segment from the initiator after an RST leads there too: the
// flags alone cannot tell an RST the endpoints accepted from a stray one they ignored, but only
// a live connection goes on to answer from the other side (a reset one answers with another RST),
// and it then gets the established timeout back instead of dying after 4 idle minutes.
// SYN_I in Closing/Reset is the half-reopen of RFC 5382 section 5
// (TIME_WAIT assassination): a new connection on the same tuple. A SYN inside an established
// connection is ignored; the endpoints deal with it.
#include "lib/conntrack/tcp_state.h"

namespace natgw::conntrack {
namespace {

constexpr uint8_t kFin = 0x01;
constexpr uint8_t kSyn = 0x02;
constexpr uint8_t kRst = 0x04;
constexpr uint8_t kAck = 0x10;

enum Event : uint8_t { kSynI, kSynR, kFinI, kFinR, kAckI, kAckR, kRstAny, kNumEvents };

constexpr uint8_t kNumStates = static_cast<uint8_t>(TcpState::kMidStream) + 1;

constexpr TcpState N = TcpState::kNone, SS = TcpState::kSynSent, SR = TcpState::kSynReceived,
                   E = TcpState::kEstablished, FI = TcpState::kFinInitiator,
                   FR = TcpState::kFinResponder, C = TcpState::kClosing, R = TcpState::kReset,
                   M = TcpState::kMidStream;

// clang-format off
constexpr TcpState kNext[kNumStates][kNumEvents] = {
    //             SYN_I SYN_R FIN_I FIN_R ACK_I ACK_R RST
    /* None */        {SS,   N,    N,    N,    N,    N,    R},
    /* SynSent */     {SS,   SR,   SS,   SS,   SS,   SS,   R},
    /* SynReceived */ {SR,   SR,   FI,   FR,   E,    E,    R},
    /* Established */ {E,    E,    FI,   FR,   E,    E,    R},
    /* FinInitiator */{FI,   FI,   FI,   C,    FI,   FI,   R},
    /* FinResponder */{FR,   FR,   C,    FR,   FR,   FR,   R},
    /* Closing */     {SS,   C,    C,    C,    C,    C,    R},
    /* Reset */       {SS,   R,    R,    R,    M,    R,    R},
    /* MidStream */   {SS,   M,    M,    FR,   M,    E,    R},
};
// clang-format on

Event Classify(uint8_t flags, bool from_initiator) {
  if (flags & kRst) return kRstAny;
  if (flags & kSyn) {
    if (!from_initiator) return kSynR;
    return (flags & kAck) ? kAckI : kSynI;
  }
  if (flags & kFin) return from_initiator ? kFinI : kFinR;
  return from_initiator ? kAckI : kAckR;
}

}  // namespace

TcpState TcpNextState(TcpState cur, uint8_t tcp_flags, bool from_initiator) {
  const auto row = static_cast<uint8_t>(cur);
  if (row >= kNumStates) return cur;  // not a state this code wrote; leave it alone
  return kNext[row][Classify(tcp_flags, from_initiator)];
}

bool TcpIsTransitory(TcpState s) {
  switch (s) {
    case TcpState::kSynSent:
    case TcpState::kSynReceived:
    case TcpState::kClosing:
    case TcpState::kReset:
    case TcpState::kMidStream:
      return true;
    default:
      return false;
  }
}

const char* TcpStateName(TcpState s) {
  switch (s) {
    case TcpState::kNone:
      return "NONE";
    case TcpState::kSynSent:
      return "SYN_SENT";
    case TcpState::kSynReceived:
      return "SYN_RECEIVED";
    case TcpState::kEstablished:
      return "ESTABLISHED";
    case TcpState::kFinInitiator:
      return "FIN_INITIATOR";
    case TcpState::kFinResponder:
      return "FIN_RESPONDER";
    case TcpState::kClosing:
      return "CLOSING";
    case TcpState::kReset:
      return "RESET";
    case TcpState::kMidStream:
      return "MID_STREAM";
  }
  return "UNKNOWN";
}

}  // namespace natgw::conntrack
