#!/usr/bin/env bash
# Integration test (root): natgw c1 takes its pod mappings and service VIPs from a directory of
# `kubectl get ... -o json` files ([[cluster]] directory source) in the netns topology, and a
# client on the flat network reaches pods by the addresses natgw hands out. Checks: a new pod
# becomes reachable at its new unique address; its IP reused by a new pod (new uid) gets a new
# address and the old address stops answering; a deleted pod's address stops answering and its
# sessions are gone; a malformed file is refused and the running state kept; a service gets a VIP;
# after a restart the surviving pod keeps its address (allocation state file); a reload applies
# new selectors and names a new source as needing a restart.
# Usage: tests/integration/cluster_sync_test.sh BUILD_DIR
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
NG=ngk$$
cd "$ROOT"
source tests/integration/harness.sh
source tests/integration/cluster_lib.sh
# put FILE JSON: replaces a cluster-state file atomically (write, then rename), like a sync tool.
put() { printf '%s\n' "$2" >"$CLUSTER/.$1.tmp" && mv "$CLUSTER/.$1.tmp" "$CLUSTER/$1"; }

EXTRA=""
[ "$(scripts/hugepages.sh 512)" = ok ] || EXTRA="--no-huge"
topo_up
CLUSTER=$WORK/c1-cluster
mkdir -p "$CLUSTER"
cluster_conf "$WORK/c1.toml" "$WORK/alloc.json" "directory = \"$CLUSTER\""
check "the conf with a [[cluster]] section is valid" "$BUILD/gateway/natgw" --config "$WORK/c1.toml" --check
NATGW_EXTRA_EAL="$EXTRA" gw_start c1 "$WORK/c1.toml" || exit 1
in_ns c1-a python3 scripts/lib/whoami_server.py pod-A 80 >/dev/null 2>&1 & PIDS+=($!)
in_ns c1-b python3 scripts/lib/whoami_server.py pod-B 80 >/dev/null 2>&1 & PIDS+=($!)
wait_listening c1-a tcp 80; wait_listening c1-b tcp 80

out=$(gwctl c1 show cluster)
check "show cluster lists the directory source, synced" contains "$out" "dir:$CLUSTER  synced"
check "an empty directory maps no pod" test -z "$(ext_of 10.0.0.9)"

# 1. A new pod appears: it gets a unique address and the client reaches it there.
put pods.json "$(pods "$(pod b-1 uid-b1 10.0.0.9)")"
eventually has_ext 10.0.0.9
X=$(ext_of 10.0.0.9)
check "new pod b-1 got a unique address ($X) from c1-unique (not the range's network address)" \
  contains "$X" "203.0.113.\([1-9]\|[1-9][0-9]\|1[01][0-9]\|12[0-6]\)$"
check "the client reaches pod b-1 at $X" eventually answers "$X" pod-B
check "the change is logged at INFO with the pod, uid and address" \
  grep -q "cluster: c1 pod shop/b-1 (uid uid-b1) at 10.0.0.9 got unique address $X" "$RUN_DIR/c1.log"
check "the client's sessions to $X are in the table" test "$(sessions_on "$X")" -ge 1

# 2. A malformed file is refused with its name; the running mappings stay.
put broken.json '{"kind":"List","items":[{"kind":"Pod","metadata":{}}]}'
check "the malformed file is refused with its name in the log" \
  eventually grep -q "broken.json refused: items\[0\]: metadata.name missing" "$RUN_DIR/c1.log"
check "show cluster names the refused file" eventually cluster_shows "broken.json: items\[0\]"
check "pod b-1 still answers at $X" answers "$X" pod-B
rm -f "$CLUSTER/broken.json"

# 3. The IP is reused by a new pod (new uid): a new address; the old one reaches nothing.
put pods.json "$(pods "$(pod b-2 uid-b2 10.0.0.9)")"
eventually ext_changed 10.0.0.9 "$X"
Y=$(ext_of 10.0.0.9)
check "the new pod b-2 got another address ($Y, not $X)" test -n "$Y" -a "$Y" != "$X"
check "the client reaches b-2 at $Y" eventually answers "$Y" pod-B
check "the old address $X no longer answers" silent "$X"
check "no session is left on the old address $X" eventually no_sessions_on "$X"
out=$(gwctl c1 show mappings)
check "show mappings has b-2's address and not b-1's" bash -c "grep -q '$Y' <<<'$out' && ! grep -q '$X ' <<<'$out'"
check "the departure of uid-b1 is logged" grep -q "pod address 10.0.0.9 left by uid uid-b1" "$RUN_DIR/c1.log"

# 4. A service annotated natgw.io/vip gets a VIP; its ready endpoint (pod A) serves it.
put services.json '{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop","uid":"uid-svc","annotations":{"natgw.io/vip":"auto"}},"spec":{"type":"ClusterIP","ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":80}]}},
 {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-1","namespace":"shop","uid":"uid-es","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","ports":[{"name":"http","port":80,"protocol":"TCP"}],"endpoints":[{"addresses":["10.0.0.5"],"conditions":{"ready":true}}]}]}'
mappings_show() { contains "$(gwctl c1 show mappings)" "$1"; }
eventually mappings_show "shop/web"
VIP=$(gwctl c1 show mappings --json | python3 -c "import json,sys; print(next(s['vip'] for s in json.load(sys.stdin)['services'] if s['name']=='shop/web').split(':')[0])")
check "service shop/web got a VIP from c1-vips ($VIP)" contains "$VIP" "203.0.113.\(19[3-9]\|20[0-6]\)$"
check "the client reaches pod A through the VIP" eventually answers "$VIP" pod-A

# 5. The pod is deleted: its address stops answering, its sessions are gone.
put pods.json "$(pods)"
check "b-2's address is withdrawn" eventually ext_is 10.0.0.9 ""
check "the deleted pod's address $Y no longer answers" silent "$Y"
check "no session of the deleted pod is left" eventually no_sessions_on "$Y"
out=$(gwctl c1 show cluster)
check "show cluster counts the quarantined addresses" contains "$out" "c1-unique .* 2 "

# 6. Restart: a surviving pod keeps its address.
put pods.json "$(pods "$(pod b-3 uid-b3 10.0.0.9)")"
eventually has_ext 10.0.0.9
Z=$(ext_of 10.0.0.9)
check "b-3 got an address that was not in quarantine ($Z)" test "$Z" != "$X" -a "$Z" != "$Y"
metrics=$(in_ns c1-gw curl -s --max-time 2 http://127.0.0.1:9469/metrics)
check "metrics: the apply-latency histogram counts applies" python3 -c "
import re,sys
m=re.search(r'^natgw_apply_latency_seconds_count (\d+)', sys.argv[1], re.M)
sys.exit(0 if m and int(m.group(1)) >= 5 else 1)" "$metrics"
check "metrics: the directory source is connected" contains "$metrics" "natgw_cluster_source_connected{island=\"c1\",source=\"dir:$CLUSTER\"} 1"
printf '%s\n' "$metrics" >"$WORK/metrics.txt"
check "promtool accepts the metrics with the cluster families" bash -c "promtool check metrics <'$WORK/metrics.txt'"
check "natgw stops cleanly (exit 0)" gw_stop c1
check "the allocation state file holds b-3's address" grep -q "\"$Z\"" "$WORK/alloc.json"
NATGW_EXTRA_EAL="$EXTRA" gw_start c1 "$WORK/c1.toml" || exit 1
check "the restart restored the allocation state" grep -q "addresses restored" "$RUN_DIR/c1.log"
check "after the restart b-3 keeps $Z" eventually ext_is 10.0.0.9 "$Z"
check "the client reaches b-3 at $Z after the restart" eventually answers "$Z" pod-B
check "the service keeps its VIP after the restart" eventually answers "$VIP" pod-A

# 7. A reload applies new selectors to the pods natgw knows; a new source needs a restart.
sed -i 's/natgw-test = "unique"/natgw-test = "other"/' "$WORK/c1.toml"
out=$(gwctl c1 reload 2>&1)
check "a reload with new unique_pods selectors applies all of it" equals "$out" "reloaded"
check "b-3 is no longer selected: its address is withdrawn" eventually ext_is 10.0.0.9 ""
sed -i 's/natgw-test = "other"/natgw-test = "unique"/' "$WORK/c1.toml"
gwctl c1 reload >/dev/null
check "selected again, b-3 gets its address $Z back" eventually ext_is 10.0.0.9 "$Z"
sed -i "s#^directory = .*#directory = \"$WORK/elsewhere\"#" "$WORK/c1.toml"
out=$(gwctl c1 reload 2>&1)
check "a new cluster source needs a restart, and natgwctl says so" \
  equals "$out" "reloaded; not applied until natgw restarts: [[cluster]] c1"
check "show cluster still lists the running source" contains "$(gwctl c1 show cluster)" "dir:$CLUSTER"

echo "cluster sync: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
