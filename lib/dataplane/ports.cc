// Port bring-up: finding each interface's DPDK port, the mbuf pools, and configuring and
// starting the ports. Control thread, from Dataplane::Init.
#include <glog/logging.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/dataplane/config_text.h"
#include "lib/dataplane/dataplane.h"
#include "lib/net/builder.h"

namespace natgw::dataplane {
namespace {
constexpr uint32_t kPoolCacheSize = 256;

// A memif port's role from its vdev arguments: client unless role= says server (or "master",
// which DPDK 22.11 still takes for it).
bool IsMemifClient(const std::string& args) {
  for (absl::string_view kv : absl::StrSplit(args, ',')) {
    if (absl::ConsumePrefix(&kv, "role=")) return kv != "server" && kv != "master";
  }
  return true;
}

}  // namespace

absl::Status Dataplane::FindPorts() {
  const auto& ifaces = config_.interfaces;
  if (ifaces.empty()) return absl::InvalidArgumentError("no interfaces configured");
  if (ifaces.size() > kMaxInterfaces) {
    return absl::InvalidArgumentError(
        absl::StrCat(ifaces.size(), " interfaces configured; at most ", kMaxInterfaces));
  }
  const uint32_t nq = engine_->num_workers();
  for (const control::InterfaceConfig& ic : ifaces) {
    const std::string where = absl::StrCat(Where(config_, ic.line), "interface ", ic.name, ": ");
    uint16_t port_id;
    if (rte_eth_dev_get_port_by_name(ic.device.c_str(), &port_id) != 0) {
      return absl::NotFoundError(absl::StrCat(
          where, "DPDK has no port \"", ic.device,
          "\"; give EAL a PCI device bound to a DPDK driver, or --vdev=", ic.device, ",ARGS"));
    }
    for (const Port& other : ports_) {
      if (other.port_id == port_id) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, "device ", ic.device, " is already used by interface ", other.config->name));
      }
    }
    if (ic.address == 0 || ic.prefix_len == 0 || ic.prefix_len > 32) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "needs an address with a prefix length of 1 to 32"));
    }
    if (ic.role == control::InterfaceRole::kInside && ic.island >= nat::kMaxIslands) {
      return absl::InvalidArgumentError(absl::StrCat(where, "bad island ", ic.island));
    }
    if (ic.mtu < RTE_ETHER_MIN_MTU) {
      return absl::InvalidArgumentError(absl::StrCat(where, "MTU ", ic.mtu, " is too small"));
    }
    rte_eth_dev_info info;
    int rc = rte_eth_dev_info_get(port_id, &info);
    if (rc != 0) {
      return absl::InternalError(absl::StrCat(where, "rte_eth_dev_info_get: ", rte_strerror(-rc)));
    }
    if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
      return absl::FailedPreconditionError(absl::StrCat(
          where, "port ", ic.device, " (", info.driver_name, ") has ", info.max_rx_queues,
          " RX and ", info.max_tx_queues, " TX queues; the gateway runs ", nq,
          " workers and needs one queue pair each (net_af_packet: qpairs=", nq, ")"));
    }
    Port p;
    p.port_id = port_id;
    p.outside = ic.role == control::InterfaceRole::kOutside;
    p.realm = p.outside ? conntrack::kOutsideRealm : ic.island;
    p.address = ic.address;
    p.max_frame_len = uint32_t{ic.mtu} + RTE_ETHER_HDR_LEN;
    rc = rte_eth_macaddr_get(port_id, &p.mac);
    if (rc != 0) {
      return absl::InternalError(absl::StrCat(where, "rte_eth_macaddr_get: ", rte_strerror(-rc)));
    }
    if (!rte_is_valid_assigned_ether_addr(&p.mac)) {
      // net_ring and net_null have none; a zero sender MAC in ARP would be ignored by hosts.
      rte_eth_random_addr(p.mac.addr_bytes);
      rc = rte_eth_dev_default_mac_addr_set(port_id, &p.mac);
      LOG(INFO) << where << "port has no MAC address; using " << MacString(p.mac)
                << (rc == 0 ? "" : " (the driver cannot be told; it does not filter)");
    }
    const int socket = rte_eth_dev_socket_id(port_id);
    p.socket_id = socket < 0 ? SOCKET_ID_ANY : socket;
    p.config = &ic;
    p.driver = info.driver_name == nullptr ? "" : info.driver_name;
    p.memif_client = p.driver == "net_memif" && IsMemifClient(ic.vdev_args);
    ports_.push_back(p);
  }
  return absl::OkStatus();
}

absl::Status Dataplane::CreatePools() {
  const uint32_t nq = engine_->num_workers();
  const uint32_t nports = static_cast<uint32_t>(ports_.size());
  // Frames a worker can have in flight: an RX burst and a TX buffer per port, the engine's
  // output, its hold queue and the engine's held fragments.
  const uint32_t per_worker =
      nat::kMaxBurst * (1 + 2 * nports) + options_.hold_frames + engine_->config().fragment_hold;
  for (Port& port : ports_) {
    auto it = std::find_if(pools_.begin(), pools_.end(),
                           [&](const auto& e) { return e.first == port.socket_id; });
    if (it != pools_.end()) {
      port.pool = it->second;
      continue;
    }
    uint64_t n = uint64_t{nq} * per_worker + options_.control_ring_size +
                 uint64_t{rte_lcore_count()} * kPoolCacheSize * 3 / 2 + 1024;
    uint32_t max_frame = 0;
    for (const Port& p : ports_) {
      if (p.socket_id != port.socket_id) continue;
      n += uint64_t{nq} * (QueueFrames(p.driver, p.config->vdev_args, options_.rx_descriptors) +
                           QueueFrames(p.driver, p.config->vdev_args, options_.tx_descriptors));
      max_frame = std::max(max_frame, p.max_frame_len);
    }
    uint64_t count = 1;
    while (count - 1 < n) count <<= 1;
    // Room for one tag and the CRC that some NICs leave in the buffer.
    const uint32_t room = std::max<uint32_t>(
        RTE_MBUF_DEFAULT_BUF_SIZE, RTE_PKTMBUF_HEADROOM + max_frame + 4 + RTE_ETHER_CRC_LEN);
    if (room > UINT16_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("MTU too large for one mbuf: ", max_frame));
    }
    const std::string name = absl::StrCat(
        "natgw_mb", instance_, "_",
        port.socket_id == SOCKET_ID_ANY ? std::string("any") : std::to_string(port.socket_id));
    rte_mempool* pool =
        rte_pktmbuf_pool_create(name.c_str(), static_cast<uint32_t>(count - 1), kPoolCacheSize, 0,
                                static_cast<uint16_t>(room), port.socket_id);
    if (pool == nullptr) {
      return absl::ResourceExhaustedError(absl::StrCat("cannot create mbuf pool ", name, " (",
                                                       count - 1, " mbufs of ", room,
                                                       " bytes): ", rte_strerror(rte_errno)));
    }
    LOG(INFO) << "mbuf pool " << name << ": " << count - 1 << " mbufs of " << room << " bytes";
    pools_.emplace_back(port.socket_id, pool);
    port.pool = pool;
  }
  return absl::OkStatus();
}

absl::Status Dataplane::StartPort(Port& port) {
  const control::InterfaceConfig& ic = *port.config;
  const std::string where = absl::StrCat("interface ", ic.name, " (", ic.device, "): ");
  const uint16_t nq = static_cast<uint16_t>(engine_->num_workers());
  rte_eth_dev_info info;
  int rc = rte_eth_dev_info_get(port.port_id, &info);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat(where, "rte_eth_dev_info_get: ", rte_strerror(-rc)));
  }
  rte_eth_conf conf{};
  conf.rxmode.mtu = ic.mtu;
  bool rss = false;
  if (nq > 1 && info.flow_type_rss_offloads != 0) {
    // Addresses only: every fragment of a datagram lands on the same queue (the engine keeps
    // fragment state per worker).
    uint64_t hf = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = hf != 0 ? hf : info.flow_type_rss_offloads;
    rss = true;
  }
  rc = rte_eth_dev_configure(port.port_id, nq, nq, &conf);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat(where, "rte_eth_dev_configure (", nq,
                                            " queue pairs, MTU ", ic.mtu,
                                            "): ", rte_strerror(-rc)));
  }
  port.configured = true;
  uint16_t rxd = options_.rx_descriptors;
  uint16_t txd = options_.tx_descriptors;
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(port.port_id, &rxd, &txd);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat(where, "rte_eth_dev_adjust_nb_rx_tx_desc: ", rte_strerror(-rc)));
  }
  const unsigned socket = static_cast<unsigned>(port.socket_id);
  for (uint16_t q = 0; q < nq; ++q) {
    rc = rte_eth_rx_queue_setup(port.port_id, q, rxd, socket, nullptr, port.pool);
    if (rc != 0) {
      return absl::InternalError(
          absl::StrCat(where, "rte_eth_rx_queue_setup ", q, ": ", rte_strerror(-rc)));
    }
    rc = rte_eth_tx_queue_setup(port.port_id, q, txd, socket, nullptr);
    if (rc != 0) {
      return absl::InternalError(
          absl::StrCat(where, "rte_eth_tx_queue_setup ", q, ": ", rte_strerror(-rc)));
    }
  }
  rc = rte_eth_dev_start(port.port_id);
  if (rc != 0) {
    // A memif client connects its socket when it starts; the usual cause is no server there.
    return absl::InternalError(
        absl::StrCat(where, "rte_eth_dev_start: ", rte_strerror(-rc),
                     port.memif_client ? " (a memif client: is its server listening on the socket?)"
                                       : ""));
  }
  port.started = true;
  if (port.driver == "net_af_packet") {
    rc = rte_eth_promiscuous_enable(port.port_id);
    if (rc != 0) LOG(WARNING) << where << "cannot enable promiscuous mode: " << rte_strerror(-rc);
  }
  LOG(INFO) << where << "port " << port.port_id << ", " << port.driver << ", "
            << MacString(port.mac) << ", " << net::FormatIp(ic.address) << "/" << int{ic.prefix_len}
            << ", MTU " << ic.mtu << ", " << nq << " queue pair(s)" << (rss ? ", RSS" : "");
  return absl::OkStatus();
}

std::vector<std::string> Dataplane::ServiceLinks(int64_t now_ms) {
  std::vector<std::string> out;
  for (uint16_t pi = 0; pi < ports_.size(); ++pi) {
    Port& p = ports_[pi];
    if (!p.memif_client || !p.started) continue;
    const std::string where =
        absl::StrCat("interface ", p.config->name, " (", p.config->device, "): ");
    rte_eth_link link{};
    if (rte_eth_link_get_nowait(p.port_id, &link) != 0) continue;
    if (link.link_status == RTE_ETH_LINK_UP) {
      if (!p.stopped) port_paused_[pi].store(false, std::memory_order_release);
      if (p.link_down_since_ms >= 0 && p.seen_up) {
        out.push_back(absl::StrCat(where, "memif link up again after ",
                                   (now_ms - p.link_down_since_ms) / 1000, " s (", p.restarts,
                                   " restart(s))"));
      }
      p.link_down_since_ms = -1;
      p.restarts = 0;
      p.restart_backoff_s = 1;
      p.seen_up = true;
      continue;
    }
    const bool zero_copy = p.config->ZeroCopyMemif();
    if (p.link_down_since_ms < 0) {
      p.link_down_since_ms = now_ms;
      // Not up yet since natgw started: its first handshake gets a few seconds, unsaid.
      p.next_restart_ms = now_ms + (p.seen_up ? 1000 : 5000);
      p.said_zero_copy = false;
      if (!p.seen_up) continue;
      out.push_back(absl::StrCat(
          where, "memif link down",
          zero_copy ? "; a zero-copy port is not reconnected (its driver would keep its ring's "
                      "mbufs): restart natgw once the server is back"
                    : "; reconnecting once it has been down for a second"));
      continue;
    }
    if (now_ms < p.next_restart_ms) continue;
    if (zero_copy) {
      if (!p.seen_up && !p.said_zero_copy) {
        out.push_back(absl::StrCat(where, "memif link not up ",
                                   (now_ms - p.link_down_since_ms) / 1000,
                                   " s after natgw started; a zero-copy port is not restarted"));
      }
      p.said_zero_copy = true;
      continue;
    }
    // Workers stop polling and sending to it; once each has passed a quiescent state none is
    // inside the driver for this port, and stop/start may free and remap its rings. A port that
    // did not start again (no server yet) stays paused: ethdev's burst functions for a stopped
    // port log an error at every call.
    port_paused_[pi].store(true, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // the flag before the readers' counters
    routes_->WaitForReaders();
    int rc = p.stopped ? 0 : rte_eth_dev_stop(p.port_id);
    if (rc == 0) {
      p.stopped = true;
      rc = rte_eth_dev_start(p.port_id);
      if (rc == 0) {
        p.stopped = false;
        port_paused_[pi].store(false, std::memory_order_release);
      }
    }
    ++p.restarts;
    const std::string result = rc == 0 ? "connecting" : "no server answered";
    out.push_back(absl::StrCat(where, "memif link down for ",
                               (now_ms - p.link_down_since_ms) / 1000,
                               " s: port restarted to reconnect (", result, "); next try in ",
                               p.restart_backoff_s, " s if still down"));
    p.next_restart_ms = now_ms + int64_t{p.restart_backoff_s} * 1000;
    p.restart_backoff_s = std::min<uint32_t>(p.restart_backoff_s * 2, 30);
  }
  return out;
}

}  // namespace natgw::dataplane
