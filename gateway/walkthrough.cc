// natgw-walkthrough: the two-island demo topology of DESIGN.md section 1, run through two real
// translation engines in one process (natgw c1 and natgw c2), packet by packet. It prints every
// hop and exits non-zero if any translation differs from what the design promises.
//
// Until the natgw appliance (DPDK ports, conf files) lands, this is the demo the README runs.
#include <rte_byteorder.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "lib/dataplane/eal_runtime.h"
#include "lib/nat/engine.h"
#include "lib/nat/worker.h"
#include "lib/net/builder.h"
#include "lib/net/parse.h"
#include "lib/net/verify.h"

namespace natgw {
namespace {

using net::FormatIp;
using net::PacketBuilder;
using net::ParseIp;

rte_mempool* g_pool = nullptr;
int g_failures = 0;
uint32_t g_now = 1;

struct Gateway {
  std::string name;
  std::unique_ptr<nat::Engine> engine;
};

// Island c1: pods 10.0.0.0/16, unique addresses in 203.0.113.0/24, egress pool 192.0.2.16/28.
nat::NatConfig C1() {
  nat::NatConfig c;
  c.islands = {{1, "c1", {{ParseIp("10.0.0.0"), 16}}, ParseIp("10.0.0.1")}};
  c.pod_mappings = {{1, ParseIp("10.0.0.5"), ParseIp("203.0.113.5"), "default/pod-a", ""}};
  nat::EgressPoolConfig pool;
  pool.island = 1;
  for (int i = 16; i < 32; ++i) {
    pool.addresses.push_back(ParseIp(absl::StrFormat("192.0.2.%d", i).c_str()));
  }
  c.egress_pools = {pool};
  c.outside_gateway_ip = ParseIp("192.0.2.1");
  return c;
}

// Island c2: the same pod CIDR and pod IPs; unique addresses in 198.51.100.0/24, a web service.
nat::NatConfig C2() {
  nat::NatConfig c;
  c.islands = {{1, "c2", {{ParseIp("10.0.0.0"), 16}}, ParseIp("10.0.0.1")}};
  c.pod_mappings = {{1, ParseIp("10.0.0.5"), ParseIp("198.51.100.7"), "default/pod-g", ""}};
  nat::EgressPoolConfig pool;
  pool.island = 1;
  pool.addresses = {ParseIp("192.0.2.48")};
  c.egress_pools = {pool};
  nat::ServiceConfig web;
  web.name = "default/web";
  web.vip = ParseIp("198.51.100.80");
  web.proto = 6;
  web.port = 80;
  web.backends = {{1, ParseIp("10.0.0.7"), 8080}, {1, ParseIp("10.0.0.8"), 8080}};
  c.services = {web};
  c.outside_gateway_ip = ParseIp("192.0.2.2");
  return c;
}

std::string Describe(const std::vector<uint8_t>& f) {
  net::PacketInfo info;
  if (net::ParseFrame(f.data(), static_cast<uint32_t>(f.size()), &info) != net::ParseError::kOk) {
    return "(unparsable)";
  }
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(f.data() + info.l3_offset);
  const uint8_t* l4 = f.data() + info.l4_offset;
  uint16_t a, b;
  std::memcpy(&a, l4, 2);
  std::memcpy(&b, l4 + 2, 2);
  switch (info.proto) {
    case net::kProtoTcp:
    case net::kProtoUdp:
      return absl::StrFormat("%s %s:%u -> %s:%u ttl %u", info.proto == 6 ? "tcp" : "udp",
                             FormatIp(ip->src_addr), rte_be_to_cpu_16(a), FormatIp(ip->dst_addr),
                             rte_be_to_cpu_16(b), ip->time_to_live);
    case net::kProtoIcmp: {
      uint16_t id;
      std::memcpy(&id, l4 + 4, 2);
      return absl::StrFormat("icmp type %u id %u %s -> %s ttl %u", l4[0], rte_be_to_cpu_16(id),
                             FormatIp(ip->src_addr), FormatIp(ip->dst_addr), ip->time_to_live);
    }
  }
  return absl::StrFormat("proto %u %s -> %s", info.proto, FormatIp(ip->src_addr),
                         FormatIp(ip->dst_addr));
}

// Sends one frame through a gateway. Returns the frame as it left, or empty if it was dropped.
std::vector<uint8_t> Hop(Gateway& gw, nat::Side side, const std::vector<uint8_t>& in,
                         nat::Action expect) {
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(in.size())), in.data(), in.size());
  nat::BurstResult r;
  gw.engine->worker(0).ProcessBurst(side, &m, 1, g_now, &r);
  const nat::PacketVerdict& v = r.verdicts[0];
  std::vector<uint8_t> out;
  std::printf("    natgw %s  %-7s %s\n", gw.name.c_str(), side.outside() ? "outside" : "inside",
              Describe(in).c_str());
  if (v.action == nat::Action::kDrop) {
    std::printf("               dropped: %s\n", nat::DropReasonName(v.reason));
  } else {
    const uint8_t* d = rte_pktmbuf_mtod(v.mbuf, const uint8_t*);
    out.assign(d, d + v.mbuf->data_len);
    absl::Status cs = net::VerifyChecksums(out.data(), out.size());
    std::printf("            -> %-7s %s%s\n",
                v.action == nat::Action::kToOutside ? "outside" : "inside", Describe(out).c_str(),
                cs.ok() ? "" : "  BAD CHECKSUM");
    if (!cs.ok()) ++g_failures;
  }
  if (v.action != expect) {
    std::printf("    FAILED: expected %s\n",
                expect == nat::Action::kDrop ? "a drop" : "forwarding");
    ++g_failures;
  }
  rte_pktmbuf_free(v.mbuf);
  return out;
}

void Expect(bool ok, const std::string& what) {
  std::printf("    %s %s\n", ok ? "ok:" : "FAILED:", what.c_str());
  if (!ok) ++g_failures;
}

uint32_t Src(const std::vector<uint8_t>& f) {
  uint32_t v;
  std::memcpy(&v, f.data() + 26, 4);
  return v;
}
uint32_t Dst(const std::vector<uint8_t>& f) {
  uint32_t v;
  std::memcpy(&v, f.data() + 30, 4);
  return v;
}

int Run() {
  nat::EngineConfig ec;
  ec.max_sessions = 4096;
  Gateway c1{"c1", std::move(*nat::Engine::Create(ec, C1()))};
  Gateway c2{"c2", std::move(*nat::Engine::Create(ec, C2()))};
  const nat::Side in = nat::Side::Inside(1), out = nat::Side::Outside();
  using nat::Action;

  std::printf(
      "\n1. pod A (c1 10.0.0.5) opens TCP to pod G (c2 10.0.0.5) at G's unique address "
      "198.51.100.7\n");
  auto f =
      Hop(c1, in, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.7").Tcp(43000, 80, 0x02).Build(),
          Action::kToOutside);
  f = Hop(c2, out, f, Action::kToInside);
  Expect(!f.empty() && Src(f) == ParseIp("203.0.113.5") && Dst(f) == ParseIp("10.0.0.5"),
         "G sees A's unique address 203.0.113.5 as the client");
  std::printf("   G answers; the reply retraces the path:\n");
  f = Hop(c2, in, PacketBuilder().Ipv4("10.0.0.5", "203.0.113.5").Tcp(80, 43000, 0x12).Build(),
          Action::kToOutside);
  f = Hop(c1, out, f, Action::kToInside);
  Expect(!f.empty() && Src(f) == ParseIp("198.51.100.7") && Dst(f) == ParseIp("10.0.0.5"),
         "A gets the answer from 198.51.100.7");

  std::printf("\n2. the reverse direction: pod G (c2) to pod A's unique address 203.0.113.5\n");
  f = Hop(c2, in,
          PacketBuilder().Ipv4("10.0.0.5", "203.0.113.5").Udp(5353, 53).Payload("q").Build(),
          Action::kToOutside);
  f = Hop(c1, out, f, Action::kToInside);
  Expect(!f.empty() && Src(f) == ParseIp("198.51.100.7"),
         "A sees G's unique address as the client");

  std::printf(
      "\n3. pod B (c1 10.0.0.9, no unique address) reaches the external server 192.0.2.200 through "
      "the egress pool\n");
  f = Hop(c1, in, PacketBuilder().Ipv4("10.0.0.9", "192.0.2.200").Tcp(50000, 443, 0x02).Build(),
          Action::kToOutside);
  const uint32_t pool_ip = f.empty() ? 0 : Src(f);
  Expect(pool_ip >= ParseIp("192.0.2.16") &&
             rte_be_to_cpu_32(pool_ip) < rte_be_to_cpu_32(ParseIp("192.0.2.32")),
         "the server sees a pool address of c1 (192.0.2.16/28)");

  std::printf(
      "\n4. the external client 192.0.2.150 reaches the service VIP 198.51.100.80:80 of c2\n");
  int backends_seen[2] = {0, 0};
  for (uint16_t port = 40000; port < 40004; ++port) {
    f = Hop(c2, out,
            PacketBuilder().Ipv4("192.0.2.150", "198.51.100.80").Tcp(port, 80, 0x02).Build(),
            Action::kToInside);
    if (!f.empty()) ++backends_seen[Dst(f) == ParseIp("10.0.0.8")];
  }
  Expect(backends_seen[0] + backends_seen[1] == 4, "every connection reached a backend pod");

  std::printf("\n5. ping and traceroute from pod A to pod G\n");
  f = Hop(c1, in, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.7").IcmpEcho(true, 1, 1).Build(),
          Action::kToOutside);
  f = Hop(c2, out, f, Action::kToInside);
  f = Hop(c2, in, PacketBuilder().Ipv4("10.0.0.5", "203.0.113.5").IcmpEcho(false, 1, 1).Build(),
          Action::kToOutside);
  f = Hop(c1, out, f, Action::kToInside);
  Expect(!f.empty() && Src(f) == ParseIp("198.51.100.7"), "echo reply comes back");
  std::printf("   traceroute probe with TTL 1 stops at natgw c1:\n");
  f = Hop(c1, in, PacketBuilder().Ipv4("10.0.0.5", "198.51.100.7").Ttl(1).Udp(33434, 33434).Build(),
          Action::kToInside);
  Expect(!f.empty() && Src(f) == ParseIp("10.0.0.1") && f[14 + 20] == net::kIcmpTimeExceeded,
         "ICMP time exceeded from the gateway's inside address 10.0.0.1");

  std::printf("\n6. an outside packet to an address nothing maps is dropped and counted\n");
  Hop(c1, out, PacketBuilder().Ipv4("192.0.2.150", "203.0.113.99").Tcp(1, 22, 0x02).Build(),
      Action::kDrop);

  for (Gateway* gw : {&c1, &c2}) {
    nat::WorkerCounters c = gw->engine->SumCounters();
    std::printf("\nnatgw %s: %lu sessions;", gw->name.c_str(),
                static_cast<unsigned long>(gw->engine->table().InUse()));
    for (int i = 0; i < nat::kNumEvents; ++i) {
      if (c.events[i] != 0) {
        std::printf(" %s=%lu", nat::EventName(static_cast<nat::Event>(i)),
                    static_cast<unsigned long>(c.events[i]));
      }
    }
    for (int i = 0; i < nat::kNumDropReasons; ++i) {
      if (c.drops[i] != 0) {
        std::printf(" drop_%s=%lu", nat::DropReasonName(static_cast<nat::DropReason>(i)),
                    static_cast<unsigned long>(c.drops[i]));
      }
    }
    std::printf("\n");
  }
  std::printf("\n%s\n", g_failures == 0 ? "walkthrough: all steps behaved as designed"
                                        : "walkthrough: FAILED steps above");
  return g_failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace natgw

int main() {
  std::string prefix = "--file-prefix=natgw-walkthrough-" + std::to_string(getpid());
  std::vector<std::string> args = {
      "natgw-walkthrough",         "--no-huge",      "--no-shconf", "--no-pci", "-m", "64",
      "--log-level=lib.eal:error", "--no-telemetry", prefix};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    std::fprintf(stderr, "natgw-walkthrough: cannot start DPDK's EAL\n");
    return 2;
  }
  natgw::g_pool = rte_pktmbuf_pool_create("walk", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  int rc = natgw::g_pool == nullptr ? 2 : natgw::Run();
  natgw::dataplane::CleanupEal();
  return rc;
}
