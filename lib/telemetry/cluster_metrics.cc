#include "lib/telemetry/cluster_metrics.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace natgw::telemetry {
namespace {

// Label values in the exposition format: backslash, quote and newline escaped.
std::string Esc(const std::string& v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\' || ch == '"') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (ch == '\n') {
      out += "\\n";
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

void Head(std::string* out, const char* name, const char* type, const char* help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

std::string Num(double v) { return absl::StrFormat("%.9g", v); }

}  // namespace

std::string RenderClusterMetrics(const control::ClusterSync& cluster,
                                 const control::GatewayConfig& config) {
  std::string o;
  const auto sources = cluster.SourceStatus();
  auto labels = [&](const control::ClusterSourceStatus& s) {
    return absl::StrCat("island=\"", Esc(control::IslandName(config, s.island)), "\",source=\"",
                        Esc(s.name), "\"");
  };
  Head(&o, "natgw_cluster_source_connected", "gauge", "1 while the cluster source is connected");
  for (const auto& s : sources) {
    absl::StrAppend(&o, "natgw_cluster_source_connected{", labels(s), "} ", s.connected ? 1 : 0,
                    "\n");
  }
  Head(&o, "natgw_cluster_source_synced", "gauge", "1 once the source has listed every kind");
  for (const auto& s : sources) {
    absl::StrAppend(&o, "natgw_cluster_source_synced{", labels(s), "} ", s.synced ? 1 : 0, "\n");
  }
  Head(&o, "natgw_cluster_source_last_event_age_seconds", "gauge",
       "seconds since the source's last update");
  for (const auto& s : sources) {
    if (s.last_event_age_s >= 0) {
      absl::StrAppend(&o, "natgw_cluster_source_last_event_age_seconds{", labels(s), "} ",
                      Num(s.last_event_age_s), "\n");
    }
  }
  Head(&o, "natgw_cluster_source_info", "gauge", "the source's pod resource version");
  for (const auto& s : sources) {
    absl::StrAppend(&o, "natgw_cluster_source_info{", labels(s), ",resource_version=\"",
                    Esc(s.resource_version), "\"} 1\n");
  }
  Head(&o, "natgw_cluster_source_resource_version", "gauge",
       "the source's pod resource version, where it is a number (etcd's are)");
  for (const auto& s : sources) {
    uint64_t rv = 0;
    if (absl::SimpleAtoi(s.resource_version, &rv)) {
      absl::StrAppend(&o, "natgw_cluster_source_resource_version{", labels(s), "} ", rv, "\n");
    }
  }
  Head(&o, "natgw_cluster_source_disconnects_total", "counter",
       "times the source lost its connection (natgw kept the last known state)");
  for (const auto& s : sources) {
    absl::StrAppend(&o, "natgw_cluster_source_disconnects_total{", labels(s), "} ", s.disconnects,
                    "\n");
  }
  Head(&o, "natgw_cluster_source_reconnects_total", "counter",
       "times the source came back after losing its connection");
  for (const auto& s : sources) {
    absl::StrAppend(&o, "natgw_cluster_source_reconnects_total{", labels(s), "} ", s.reconnects,
                    "\n");
  }
  Head(&o, "natgw_cluster_objects", "gauge", "objects the source reports, by kind");
  static constexpr const char* kKinds[] = {"pod", "service", "endpointslice", "node"};
  for (const auto& s : sources) {
    for (size_t k = 0; k < 4; ++k) {
      absl::StrAppend(&o, "natgw_cluster_objects{", labels(s), ",kind=\"", kKinds[k], "\"} ",
                      s.objects[k], "\n");
    }
  }
  const control::ClusterCounters& c = cluster.counters();
  Head(&o, "natgw_cluster_applies_total", "counter",
       "policies published because of cluster changes");
  absl::StrAppend(&o, "natgw_cluster_applies_total ", c.applies, "\n");
  Head(&o, "natgw_cluster_apply_failures_total", "counter",
       "cluster-derived policies the engine refused (the previous one stayed)");
  absl::StrAppend(&o, "natgw_cluster_apply_failures_total ", c.apply_failures, "\n");
  Head(&o, "natgw_cluster_allocation_failures_total", "counter",
       "pods or services that wanted an address and got none");
  absl::StrAppend(&o, "natgw_cluster_allocation_failures_total ", c.allocation_failures, "\n");
  Head(&o, "natgw_cluster_refused_objects_total", "counter",
       "cluster objects ignored (address outside the island, bad annotation, ...)");
  absl::StrAppend(&o, "natgw_cluster_refused_objects_total ", c.refused_objects, "\n");
  Head(&o, "natgw_cluster_without_address", "gauge", "pods and services waiting for an address");
  absl::StrAppend(&o, "natgw_cluster_without_address ", cluster.failures().size(), "\n");

  const auto usage = cluster.PoolUsage();
  Head(&o, "natgw_pool_addresses", "gauge", "addresses of unique and vip pools by state");
  for (const auto& u : usage) {
    const uint32_t free = u.size - u.in_use - u.quarantined;
    absl::StrAppend(&o, "natgw_pool_addresses{pool=\"", Esc(u.pool), "\",state=\"in_use\"} ",
                    u.in_use, "\n");
    absl::StrAppend(&o, "natgw_pool_addresses{pool=\"", Esc(u.pool), "\",state=\"quarantined\"} ",
                    u.quarantined, "\n");
    absl::StrAppend(&o, "natgw_pool_addresses{pool=\"", Esc(u.pool), "\",state=\"free\"} ", free,
                    "\n");
  }
  Head(&o, "natgw_pool_exhausted_total", "counter",
       "allocations refused because the pool was full");
  for (const auto& u : usage) {
    absl::StrAppend(&o, "natgw_pool_exhausted_total{pool=\"", Esc(u.pool), "\"} ", u.exhausted,
                    "\n");
  }

  const control::ApplyLatency& l = cluster.apply_latency();
  Head(&o, "natgw_apply_latency_seconds", "histogram",
       "from a cluster event's arrival to the new table being visible to workers");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < l.kBuckets.size(); ++i) {
    cumulative += l.counts[i];
    absl::StrAppend(&o, "natgw_apply_latency_seconds_bucket{le=\"", Num(l.kBuckets[i]), "\"} ",
                    cumulative, "\n");
  }
  absl::StrAppend(&o, "natgw_apply_latency_seconds_bucket{le=\"+Inf\"} ", l.count, "\n");
  absl::StrAppend(&o, "natgw_apply_latency_seconds_sum ", Num(l.sum_s), "\n");
  absl::StrAppend(&o, "natgw_apply_latency_seconds_count ", l.count, "\n");
  return o;
}

}  // namespace natgw::telemetry
