// libFuzzer target for parse + translate: every input is a frame handed to a live engine (whose
// sessions persist across inputs), so parsing, the fast path, the slow path, ICMP error
// translation, fragments, "fragmentation needed" for frames too big for their port and expiry
// all see hostile bytes. Checks: no crash, no sanitizer report,
// every verdict is either a drop with a reason or a frame that still parses. Every input frame and
// every forwarded one is also split into IPv4 fragments (net::PlanIpv4Fragments, as the dataplane
// does for a port with a smaller MTU), and the fragments must put the datagram back together.
//
// Input: byte 0 picks the side and a template packet, byte 1 advances the clock, the rest is
// XORed over the template (and may extend or cut it), so mutations stay near valid packets.
#include <rte_eal.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "lib/dataplane/eal_runtime.h"
#include "lib/nat/engine.h"
#include "lib/nat/worker.h"
#include "lib/net/builder.h"
#include "lib/net/parse.h"
#include "tests/net/fragment_check.h"

namespace {

using natgw::net::PacketBuilder;
using natgw::net::ParseIp;
namespace nat = natgw::nat;

rte_mempool* g_pool = nullptr;
std::unique_ptr<nat::Engine> g_engine;
std::vector<std::vector<uint8_t>> g_templates;
uint32_t g_now = 100;

nat::NatConfig Config() {
  nat::NatConfig c;
  c.islands = {{1, "c1", {{ParseIp("10.0.0.0"), 16}}, ParseIp("10.0.0.1")},
               {2, "c2", {{ParseIp("10.0.0.0"), 16}}, ParseIp("10.0.0.1")}};
  c.pod_mappings = {{1, ParseIp("10.0.0.5"), ParseIp("203.0.113.5"), "a", ""},
                    {2, ParseIp("10.0.0.5"), ParseIp("198.51.100.7"), "g", ""}};
  nat::EgressPoolConfig p;
  p.island = 1;
  p.addresses = {ParseIp("192.0.2.16")};
  p.port_min = 1024;
  p.port_max = 1100;
  p.filtering = nat::Filtering::kEndpointIndependent;
  c.egress_pools = {p};
  nat::ServiceConfig s;
  s.name = "web";
  s.vip = ParseIp("198.51.100.80");
  s.proto = 6;
  s.port = 80;
  s.backends = {{2, ParseIp("10.0.0.7"), 8080}, {2, ParseIp("10.0.0.8"), 8080}};
  c.services = {s};
  c.outside_gateway_ip = ParseIp("192.0.2.1");
  c.limits.max_sessions_per_pod = 64;
  return c;
}

void Init() {
  std::vector<std::string> args = {"fuzz", "--no-huge", "--no-shconf", "--no-pci", "-m", "128",
                                   "--log-level=lib.eal:error", "--no-telemetry",
                                   "--file-prefix=natgw-fuzz-" + std::to_string(getpid())};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) std::abort();
  // libFuzzer ends the process with exit(): the EAL runtime directory goes then.
  static const std::string runtime_dir = rte_eal_get_runtime_dir();
  std::atexit([] { natgw::dataplane::RemoveEalRuntimeDir(runtime_dir); });
  g_pool = rte_pktmbuf_pool_create("fuzz", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  if (g_pool == nullptr) std::abort();
  nat::EngineConfig ec;
  ec.max_sessions = 512;
  ec.num_workers = 1;
  ec.fragment_states = 16;
  ec.fragment_hold = 8;
  auto e = nat::Engine::Create(ec, Config());
  if (!e.ok()) std::abort();
  g_engine = std::move(*e);
  auto out_udp = PacketBuilder().Ipv4("192.0.2.16", "198.51.100.9").Udp(1024, 53).BuildIp();
  g_templates = {
      PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").Udp(5000, 53).Payload("q").Build(),
      PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Tcp(4000, 80, 0x02).Build(),
      PacketBuilder().Ipv4("198.51.100.9", "203.0.113.5").Tcp(80, 4000, 0x12).Build(),
      PacketBuilder().Ipv4("198.51.100.50", "198.51.100.80").Tcp(999, 80, 0x02).Build(),
      PacketBuilder().Ipv4("198.51.100.1", "192.0.2.16").IcmpError(3, 4, out_udp, 1400).Build(),
      PacketBuilder().Ipv4("10.0.0.9", "198.51.100.9").IcmpEcho(true, 7, 1).Build(),
      PacketBuilder()
          .Ipv4("10.0.0.9", "198.51.100.9")
          .Id(9)
          .Fragment(64, true)
          .Udp(1, 2)
          .PayloadSize(64)
          .Build(),
      PacketBuilder().Ipv4("10.0.0.5", "203.0.113.5").Ttl(1).Udp(1, 2).Build(),
      // Hairpin (pod A of c1 to pod G of c2), a protocol without sessions, an error about it.
      PacketBuilder().Ipv4("10.0.0.5", "198.51.100.7").Udp(7, 9).Payload("h").Build(),
      PacketBuilder().Ipv4("10.0.0.5", "198.51.100.9").Proto(47).PayloadSize(24).Build(),
      PacketBuilder()
          .Ipv4("198.51.100.1", "203.0.113.5")
          .IcmpError(3, 4,
                     PacketBuilder()
                         .Ipv4("203.0.113.5", "198.51.100.9")
                         .Proto(47)
                         .PayloadSize(8)
                         .BuildIp(),
                     1400)
          .Build(),
      // IP options (Record Route, NOP, Router Alert), as fragmentation sorts them, in a datagram
      // that most of the MTUs tried split.
      PacketBuilder()
          .Ipv4("10.0.0.9", "198.51.100.9")
          .IpOptions({7, 7, 4, 0, 0, 0, 0, 1, 148, 4, 0, 0})
          .Udp(5001, 53)
          .PayloadSize(400)
          .Build(),
  };
}

// Splits the datagram at `ip` for `mtu` and checks the fragments, if it can be split.
void CheckFragments(const uint8_t* ip, uint32_t avail, uint32_t mtu) {
  const auto frags = natgw::testing::SplitIpv4(ip, avail, mtu);
  if (frags.empty()) return;
  const std::string wrong = natgw::testing::CheckIpv4Fragments(ip, mtu, frags);
  if (!wrong.empty()) {
    std::fprintf(stderr, "fragments for MTU %u: %s\n", mtu, wrong.c_str());
    std::abort();
  }
}

void CheckParses(const rte_mbuf* m, uint32_t mtu) {
  natgw::net::PacketInfo info;
  if (natgw::net::ParseFrame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, &info) !=
      natgw::net::ParseError::kOk) {
    std::fprintf(stderr, "forwarded a frame that does not parse\n");
    std::abort();
  }
  // Its options as fragmentation would sort them (exact-size copies, so ASan sees overreads).
  const auto* ip = rte_pktmbuf_mtod_offset(m, const uint8_t*, info.l3_offset);
  CheckFragments(ip, m->data_len - info.l3_offset, mtu);
  const uint32_t opt_len = (ip[0] & 0xfu) * 4 - 20;
  if (opt_len == 0) return;
  std::vector<uint8_t> opts(ip + 20, ip + 20 + opt_len);
  std::vector<uint8_t> copied(opt_len);
  const int n = natgw::net::CopiedIpv4Options(opts.data(), opt_len, copied.data());
  if (n > static_cast<int>(opt_len) || (n > 0 && (n % 4 != 0 || (copied[0] & 0x80) == 0))) {
    std::fprintf(stderr, "copied options out of bounds or without the copied flag\n");
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (g_engine == nullptr) Init();
  if (size < 2) return 0;
  const uint8_t sel = data[0];
  const std::vector<uint8_t>& t = g_templates[sel % g_templates.size()];
  const size_t body = size - 2;
  std::vector<uint8_t> frame(t);
  if (body > frame.size()) frame.resize(body);
  if (sel & 0x80) frame.resize(body);  // also try frames cut short
  for (size_t i = 0; i < body && i < frame.size(); ++i) frame[i] ^= data[2 + i];
  if (frame.size() > 1500) frame.resize(1500);
  // Byte 1: bits 0-3 the clock, bit 4 "fragmentation needed", bits 5-7 the MTU to split for.
  const uint32_t mtu = 28 + (data[1] >> 5) * 200u;
  if (frame.size() > 14) CheckFragments(frame.data() + 14, frame.size() - 14, mtu);

  const nat::Side side = (sel >> 3) % 3 == 0   ? nat::Side::Outside()
                         : (sel >> 3) % 3 == 1 ? nat::Side::Inside(1)
                                               : nat::Side::Inside(2);
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  if (m == nullptr) std::abort();
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  if (p == nullptr) std::abort();
  memcpy(p, frame.data(), frame.size());

  nat::Worker& w = g_engine->worker(0);
  g_now += data[1] & 0x0f;
  nat::BurstResult r;
  w.ProcessBurst(side, &m, 1, g_now, &r);
  for (uint16_t i = 0; i < r.count; ++i) {
    const nat::PacketVerdict& v = r.verdicts[i];
    if (v.action == nat::Action::kHeld) continue;
    if (v.action != nat::Action::kDrop) {
      CheckParses(v.mbuf, mtu);
      if (data[1] & 0x10) {
        // As if it did not fit its port: "fragmentation needed" back to where it came from.
        const nat::Side egress = v.action == nat::Action::kToOutside ? nat::Side::Outside()
                                                                      : nat::Side::Inside(v.island);
        const nat::PacketVerdict e = w.FragmentationNeeded(v.mbuf, egress, 576, g_now);
        if (e.action != nat::Action::kDrop) CheckParses(e.mbuf, mtu);
        rte_pktmbuf_free(e.mbuf);
        continue;
      }
    } else if (v.reason == nat::DropReason::kCount) {
      std::fprintf(stderr, "drop without a reason\n");
      std::abort();
    }
    rte_pktmbuf_free(v.mbuf);
  }
  w.Maintain(g_now);
  return 0;
}
