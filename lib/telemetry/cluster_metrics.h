// Prometheus families of the cluster-state sync, appended to /metrics when the conf has
// [[cluster]] sections:
//   natgw_cluster_source_connected{island,source}        gauge 0/1
//   natgw_cluster_source_synced{island,source}           gauge 0/1 (every kind listed once)
//   natgw_cluster_source_last_event_age_seconds{...}     gauge (absent until the first event)
//   natgw_cluster_source_info{island,source,resource_version}  gauge 1
//   natgw_cluster_objects{island,source,kind}            gauge
//   natgw_cluster_applies_total, natgw_cluster_apply_failures_total
//   natgw_cluster_allocation_failures_total, natgw_cluster_refused_objects_total
//   natgw_cluster_without_address                        gauge: pods/services wanting one
//   natgw_pool_addresses{pool,state}                     gauge: in_use, quarantined, free
//   natgw_pool_exhausted_total{pool}                     allocations refused for want of one
//   natgw_apply_latency_seconds                          histogram: event arrival -> visible
#ifndef NATGW_LIB_TELEMETRY_CLUSTER_METRICS_H_
#define NATGW_LIB_TELEMETRY_CLUSTER_METRICS_H_

#include <string>

#include "lib/control/cluster_sync.h"

namespace natgw::telemetry {

std::string RenderClusterMetrics(const control::ClusterSync& cluster,
                                 const control::GatewayConfig& config);

}  // namespace natgw::telemetry

#endif  // NATGW_LIB_TELEMETRY_CLUSTER_METRICS_H_
