#include "perf/loadgen/options.h"

#include <arpa/inet.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace natgw::loadgen {
namespace {

absl::StatusOr<uint32_t> ParseAddr(absl::string_view s) {
  in_addr a{};
  const std::string z(s);
  if (inet_pton(AF_INET, z.c_str(), &a) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("'", s, "' is not an IPv4 address"));
  }
  return ntohl(a.s_addr);
}

}  // namespace

absl::StatusOr<IpRange> ParseIpRange(absl::string_view s) {
  IpRange r;
  if (const size_t slash = s.find('/'); slash != absl::string_view::npos) {
    auto base = ParseAddr(s.substr(0, slash));
    if (!base.ok()) return base.status();
    int len = 0;
    if (!absl::SimpleAtoi(s.substr(slash + 1), &len) || len < 1 || len > 32) {
      return absl::InvalidArgumentError(absl::StrCat("'", s, "': prefix length must be 1..32"));
    }
    const uint32_t mask = len == 32 ? ~0u : ~((1u << (32 - len)) - 1);
    if ((*base & ~mask) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("'", s, "': host bits set"));
    }
    r.first = *base;
    r.last = *base | ~mask;
    return r;
  }
  const std::vector<absl::string_view> p = absl::StrSplit(s, '-');
  if (p.size() > 2) return absl::InvalidArgumentError(absl::StrCat("'", s, "': want A or A-B"));
  auto a = ParseAddr(p[0]);
  if (!a.ok()) return a.status();
  auto b = p.size() == 2 ? ParseAddr(p[1]) : a;
  if (!b.ok()) return b.status();
  if (*b < *a) {
    return absl::InvalidArgumentError(absl::StrCat("'", s, "': range ends before it starts"));
  }
  r.first = *a;
  r.last = *b;
  return r;
}

absl::StatusOr<PortRange> ParsePortRange(absl::string_view s) {
  const std::vector<absl::string_view> p = absl::StrSplit(s, '-');
  uint32_t a = 0, b = 0;
  if (p.size() > 2 || !absl::SimpleAtoi(p[0], &a) ||
      !absl::SimpleAtoi(p.size() == 2 ? p[1] : p[0], &b) || a < 1 || b > 65535 || b < a) {
    return absl::InvalidArgumentError(absl::StrCat("'", s, "': want PORT or MIN-MAX in 1..65535"));
  }
  return PortRange{static_cast<uint16_t>(a), static_cast<uint16_t>(b)};
}

absl::Status ParsePool(absl::string_view s, ExpectedSource* expect) {
  expect->num_ranges = 0;
  if (s.empty()) return absl::OkStatus();
  for (absl::string_view part : absl::StrSplit(s, ',')) {
    if (expect->num_ranges == 8) return absl::InvalidArgumentError("at most 8 pool ranges");
    auto r = ParseIpRange(part);
    if (!r.ok()) return r.status();
    expect->first[expect->num_ranges] = r->first;
    expect->last[expect->num_ranges] = r->last;
    ++expect->num_ranges;
  }
  return absl::OkStatus();
}

absl::StatusOr<rte_ether_addr> ParseMac(absl::string_view s) {
  rte_ether_addr m{};
  const std::vector<absl::string_view> p = absl::StrSplit(s, ':');
  if (p.size() != 6) return absl::InvalidArgumentError(absl::StrCat("'", s, "' is not a MAC"));
  for (int i = 0; i < 6; ++i) {
    uint32_t v = 0;
    if (p[i].size() != 2 || !absl::SimpleHexAtoi(p[i], &v)) {
      return absl::InvalidArgumentError(absl::StrCat("'", s, "' is not a MAC"));
    }
    m.addr_bytes[i] = static_cast<uint8_t>(v);
  }
  return m;
}

absl::StatusOr<std::vector<uint16_t>> ParseFrameSizes(absl::string_view s) {
  if (s == "imix") {
    // Simple IMIX 7:4:1, interleaved so that every 12 frames hold the mix.
    return std::vector<uint16_t>{60, 590, 60, 60, 590, 60, 1514, 60, 590, 60, 590, 60};
  }
  std::vector<uint16_t> out;
  for (absl::string_view part : absl::StrSplit(s, ',')) {
    uint32_t v = 0;
    if (!absl::SimpleAtoi(part, &v) || v < 64 || v > 1518) {
      return absl::InvalidArgumentError(
          absl::StrCat("frame size '", part, "': want 64..1518 (wire size with FCS) or 'imix'"));
    }
    out.push_back(FrameLenFromWireSize(static_cast<uint16_t>(v)));
  }
  return out;
}

std::string ResultJson(const TrafficConfig& c, const std::string& mode_name,
                       const TrafficResult& r) {
  const double s = r.seconds > 0 ? r.seconds : 1;
  auto dir = [&](const DirectionCounts& d) {
    const uint64_t lost = d.offered > d.delivered ? d.offered - d.delivered : 0;
    return absl::StrFormat(
        R"({"offered": %u, "delivered": %u, "tx_full": %u, "tx_dropped": %u, "lost": %u, )"
        R"("loss_ratio": %.6f, "offered_pps": %.0f, "delivered_pps": %.0f})",
        d.offered, d.delivered, d.tx_full, d.tx_dropped, lost,
        d.offered > 0 ? static_cast<double>(lost) / static_cast<double>(d.offered) : 0.0,
        static_cast<double>(d.offered) / s, static_cast<double>(d.delivered) / s);
  };
  std::string invalid;
  for (size_t i = 0; i < kNumInvalid; ++i) {
    absl::StrAppend(&invalid, i ? ", " : "", "\"", InvalidName(static_cast<Invalid>(i)),
                    "\": ", r.invalid[i]);
  }
  std::string timeline;
  for (const SecondSample& t : r.timeline) {
    absl::StrAppendFormat(&timeline, R"(%s{"t_s": %.2f, "in2out_offered_pps": %.0f, )"
                          R"("in2out_delivered_pps": %.0f, "out2in_offered_pps": %.0f, )"
                          R"("out2in_delivered_pps": %.0f, "tcp_cps": %.0f})",
                          timeline.empty() ? "" : ", ", t.t_s, t.in2out_offered_pps,
                          t.in2out_delivered_pps, t.out2in_offered_pps, t.out2in_delivered_pps,
                          t.tcp_cps);
  }
  std::string loops;
  for (size_t k = 0; k < r.loops.size(); ++k) {
    absl::StrAppend(&loops, k == 0 ? "" : ", ", "{\"queue\": ", k, ", \"in2out\": ",
                    dir(r.loops[k].in2out), ", \"out2in\": ", dir(r.loops[k].out2in),
                    ", \"other_loop_frames\": ", r.loops[k].other_loop_frames, "}");
  }
  std::string sizes;
  for (uint16_t l : c.frame_lens) absl::StrAppend(&sizes, sizes.empty() ? "" : ", ", l + 4);
  auto us = [&](double q) { return static_cast<double>(r.latency.Percentile(q)) / 1e3; };
  return absl::StrFormat(
      R"({"mode": "%s", "flows": %u, "queues": %u, "frame_sizes": [%s], "rate_pps": %.0f, )"
      R"("seconds": %.3f, "start_unix": %.3f, )"
      R"("error": "%s", "in2out": %s, "out2in": %s, "invalid_total": %u, "invalid": {%s}, )"
      R"("warmup_delivered": %u, "tcp": {"opened": %u, "established": %u, "completed": %u, )"
      R"("cps": %.0f}, "latency_us": {"samples": %u, "p50": %.2f, "p99": %.2f, "p999": %.2f, )"
      R"("max": %.2f}, "arp_answered": %u, "pods_announced": %u, "arp_gateway_replies": %u, )"
      R"("other_frames": %u, "other_loop_frames": %u, "loops": [%s], "timeline": [%s]})"
      "\n",
      mode_name, c.num_flows, c.queues, sizes, c.rate_pps, r.seconds, r.start_unix, r.error,
      dir(r.in2out), dir(r.out2in), r.invalid_total, invalid, r.warmup_delivered, r.tcp_opened,
      r.tcp_established, r.tcp_completed, static_cast<double>(r.tcp_completed) / s,
      r.latency.count(), us(0.5), us(0.99), us(0.999),
      static_cast<double>(r.latency.max()) / 1e3, r.arp_answered, r.pods_announced,
      r.arp_gateway_replies, r.other_frames, r.other_loop_frames, loops, timeline);
}

}  // namespace natgw::loadgen
