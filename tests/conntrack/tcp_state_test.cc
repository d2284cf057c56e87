#include "lib/conntrack/tcp_state.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace natgw::conntrack {
namespace {

constexpr uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;
constexpr bool I = true;   // from the initiator
constexpr bool R = false;  // from the responder

struct Segment {
  uint8_t flags;
  bool from_initiator;
  TcpState want;  // state after this segment
};

struct Case {
  const char* name;
  TcpState start;
  std::vector<Segment> segments;
};

using S = TcpState;

const Case kCases[] = {
    {"three_way_handshake",
     S::kNone,
     {{SYN, I, S::kSynSent}, {SYN | ACK, R, S::kSynReceived}, {ACK, I, S::kEstablished}}},
    {"syn_retransmit_stays_syn_sent",
     S::kNone,
     {{SYN, I, S::kSynSent}, {SYN, I, S::kSynSent}, {ACK, I, S::kSynSent}}},
    {"responder_data_completes_handshake",
     S::kNone,
     {{SYN, I, S::kSynSent}, {SYN | ACK, R, S::kSynReceived}, {PSH | ACK, R, S::kEstablished}}},
    {"simultaneous_open_bare_syn_from_responder", S::kSynSent, {{SYN, R, S::kSynReceived}}},
    {"initiator_closes_first",
     S::kEstablished,
     {{FIN | ACK, I, S::kFinInitiator},
      {ACK, R, S::kFinInitiator},
      {PSH | ACK, R, S::kFinInitiator},
      {FIN | ACK, R, S::kClosing},
      {ACK, I, S::kClosing}}},
    {"responder_closes_first",
     S::kEstablished,
     {{FIN | ACK, R, S::kFinResponder}, {ACK, I, S::kFinResponder}, {FIN | ACK, I, S::kClosing}}},
    {"fin_during_handshake_completion", S::kSynReceived, {{FIN | ACK, I, S::kFinInitiator}}},
    {"rst_from_responder_during_open", S::kSynSent, {{RST | ACK, R, S::kReset}}},
    {"rst_in_established", S::kEstablished, {{RST, I, S::kReset}, {ACK, R, S::kReset}}},
    {"stray_rst_then_both_sides_go_on",
     S::kEstablished,
     {{RST, R, S::kReset}, {PSH | ACK, I, S::kMidStream}, {ACK, R, S::kEstablished}}},
    {"reset_connection_answers_late_data_with_rst",
     S::kEstablished,
     {{RST, R, S::kReset}, {PSH | ACK, I, S::kMidStream}, {RST, R, S::kReset}}},
    {"rst_beats_syn", S::kEstablished, {{SYN | RST, I, S::kReset}}},
    {"half_reopen_after_close",
     S::kClosing,
     {{SYN, I, S::kSynSent}, {SYN | ACK, R, S::kSynReceived}, {ACK, I, S::kEstablished}}},
    {"half_reopen_after_reset", S::kReset, {{SYN, I, S::kSynSent}}},
    {"responder_syn_does_not_reopen", S::kReset, {{SYN, R, S::kReset}}},
    {"responder_syn_does_not_reopen_closing", S::kClosing, {{SYN | ACK, R, S::kClosing}}},
    {"mid_stream_pickup_is_established_by_the_answer",
     S::kMidStream,
     {{ACK, I, S::kMidStream}, {PSH | ACK, R, S::kEstablished}, {0, I, S::kEstablished}}},
    {"mid_stream_one_sided_segments_stay_transitory",
     S::kMidStream,
     {{ACK, I, S::kMidStream}, {FIN | ACK, I, S::kMidStream}, {SYN | ACK, R, S::kMidStream}}},
    {"mid_stream_fin_from_the_other_side_half_closes",
     S::kMidStream,
     {{FIN | ACK, R, S::kFinResponder}}},
    {"mid_stream_new_syn_opens", S::kMidStream, {{SYN, I, S::kSynSent}}},
    {"mid_stream_rst", S::kMidStream, {{RST, R, S::kReset}}},
    {"established_stays_established_on_acks",
     S::kEstablished,
     {{ACK, I, S::kEstablished}, {PSH | ACK, R, S::kEstablished}, {0, I, S::kEstablished}}},
    {"syn_inside_established_is_ignored",
     S::kEstablished,
     {{SYN, I, S::kEstablished}, {SYN | ACK, R, S::kEstablished}}},
    {"synack_from_initiator_does_not_open", S::kNone, {{SYN | ACK, I, S::kNone}}},
    {"synack_from_initiator_does_not_reopen", S::kReset, {{SYN | ACK, I, S::kMidStream}}},
    {"non_syn_leaves_none_alone", S::kNone, {{ACK, I, S::kNone}, {FIN, R, S::kNone}}},
};

TEST(TcpStateTest, Scenarios) {
  for (const Case& c : kCases) {
    TcpState s = c.start;
    int step = 0;
    for (const Segment& seg : c.segments) {
      s = TcpNextState(s, seg.flags, seg.from_initiator);
      EXPECT_EQ(s, seg.want) << c.name << " step " << step << ": got " << TcpStateName(s)
                             << ", want " << TcpStateName(seg.want);
      ++step;
    }
  }
}

TEST(TcpStateTest, TransitoryStates) {
  EXPECT_FALSE(TcpIsTransitory(S::kNone));
  EXPECT_TRUE(TcpIsTransitory(S::kSynSent));
  EXPECT_TRUE(TcpIsTransitory(S::kSynReceived));
  EXPECT_FALSE(TcpIsTransitory(S::kEstablished));
  EXPECT_FALSE(TcpIsTransitory(S::kFinInitiator));
  EXPECT_FALSE(TcpIsTransitory(S::kFinResponder));
  EXPECT_TRUE(TcpIsTransitory(S::kClosing));
  EXPECT_TRUE(TcpIsTransitory(S::kReset));
  EXPECT_TRUE(TcpIsTransitory(S::kMidStream));
}

TEST(TcpStateTest, EveryFlagCombinationGivesAValidState) {
  for (int st = 0; st <= static_cast<int>(S::kMidStream); ++st) {
    for (int flags = 0; flags < 256; ++flags) {
      for (bool dir : {true, false}) {
        const TcpState next = TcpNextState(static_cast<TcpState>(st), flags, dir);
        ASSERT_LE(static_cast<int>(next), static_cast<int>(S::kMidStream));
        if (flags & RST) {
          ASSERT_EQ(next, S::kReset) << st << " " << flags;
        }
      }
    }
  }
}

TEST(TcpStateTest, NamesAreDistinct) {
  std::set<std::string> names;
  for (int st = 0; st <= static_cast<int>(S::kMidStream); ++st) {
    names.insert(TcpStateName(static_cast<TcpState>(st)));
  }
  EXPECT_EQ(names.size(), 9u);
  EXPECT_STREQ(TcpStateName(S::kEstablished), "ESTABLISHED");
}

}  // namespace
}  // namespace natgw::conntrack
