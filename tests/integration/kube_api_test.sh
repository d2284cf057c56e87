#!/usr/bin/env bash
# Integration test (root): natgw c1 follows a Kubernetes API server by list+watch ([[cluster]]
# kubeconfig, the kubernetes source). The API server is tests/control/fake_apiserver.py in live
# mode, run in natgw's namespace; the test adds, changes and deletes objects through it while natgw
# watches, and a client on the flat network checks what answers. Checks: a new pod becomes
# reachable at its unique address; its IP reused by a new pod (new uid) gets another address and
# the old one reaches nothing; with the API server killed natgw keeps translating and says it is
# disconnected (natgwctl, metrics); a pod behind a node namespace is reachable only through the
# node's route (pod CIDR via the node) that natgw installs in its dataplane; started again (with a pod added meanwhile) it reconnects and
# catches up; a deleted pod's address stops answering and its sessions are gone; after a restart
# of natgw the surviving pod keeps its address.
# Usage: tests/integration/kube_api_test.sh BUILD_DIR
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
NG=ngq$$
cd "$ROOT"
source tests/integration/harness.sh
source tests/integration/cluster_lib.sh

API_PID=""
cleanup_extra() { if [ -n "$API_PID" ]; then kill "$API_PID" 2>/dev/null || true; fi; }

API_PORT=18001
API="http://127.0.0.1:$API_PORT"
# The API server, in natgw's namespace (natgw reaches it on loopback), with its state in a file
# so that it holds the same objects when started again.
api_start() {
  # Not through in_ns (a function: $! would be a subshell's): ip netns exec execs the server.
  ip netns exec "$NG-c1-gw" python3 tests/control/fake_apiserver.py --live "$WORK/api-state.json" \
    "$WORK/api-requests.log" --port "$API_PORT" >/dev/null 2>"$WORK/api.err" &
  API_PID=$!
  eventually in_ns c1-gw curl -sf "$API/api/v1/nodes" >/dev/null
}
api_stop() { kill "$API_PID" && wait "$API_PID" 2>/dev/null; API_PID=""; }
api() { in_ns c1-gw curl -sf -X POST --data "$2" "$API/test/$1" >/dev/null; }  # apply|delete OBJ
metrics() { in_ns c1-gw curl -s --max-time 2 http://127.0.0.1:9469/metrics; }
# metric NAME VALUE_REGEX: the kubernetes:c1 source's sample of family NAME matches.
metric() {
  local line
  line=$(metrics | grep -F "$1{island=\"c1\",source=\"kubernetes:c1\"} ")
  grep -qx -- "$1{island=\"c1\",source=\"kubernetes:c1\"} $2" <<<"$line" || { echo "  got: $line"; return 1; }
}
source_json() {  # source_json FIELD: of the kubernetes:c1 source in show cluster --json
  gwctl c1 show cluster --json | python3 -c "import json,sys
s=next(s for s in json.load(sys.stdin)['sources'] if s['name']=='kubernetes:c1')
print(json.dumps(s[sys.argv[1]]))" "$1"
}

EXTRA=""
[ "$(scripts/hugepages.sh 512)" = ok ] || EXTRA="--no-huge"
topo_up
node_up
cat >"$WORK/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster:
    server: $API
contexts:
- name: c1
  context: {cluster: c1, user: natgw}
current-context: c1
users:
- name: natgw
  user: {token: natgw-test-token}
KC
cluster_conf "$WORK/c1.toml" "$WORK/alloc.json" "kubeconfig = \"$WORK/kubeconfig\""
check "the conf with a kubeconfig [[cluster]] is valid" "$BUILD/gateway/natgw" --config "$WORK/c1.toml" --check
api_start
NATGW_EXTRA_EAL="$EXTRA" gw_start c1 "$WORK/c1.toml" || exit 1
in_ns c1-a python3 scripts/lib/whoami_server.py pod-A 80 >/dev/null 2>&1 & PIDS+=($!)
in_ns c1-b python3 scripts/lib/whoami_server.py pod-B 80 >/dev/null 2>&1 & PIDS+=($!)
in_ns c1-np python3 scripts/lib/whoami_server.py pod-N 80 >/dev/null 2>&1 & PIDS+=($!)

check "show cluster: the kubernetes:c1 source is synced" \
  eventually cluster_shows "kubernetes:c1  synced  yes"
check "natgw watches with the kubeconfig's token" \
  grep -q '"path": "/api/v1/pods?watch=1.*"authorization": "Bearer natgw-test-token"' "$WORK/api-requests.log"
check "natgw lists endpointslices and nodes too" \
  bash -c "grep -q endpointslices '$WORK/api-requests.log' && grep -q /api/v1/nodes '$WORK/api-requests.log'"

# 1. A new pod appears: it gets a unique address and the client reaches it there.
api apply "$(pod b-1 uid-b1 10.0.0.9)"
check "new pod b-1 got a unique address" eventually has_ext 10.0.0.9
X=$(ext_of 10.0.0.9)
check "the client reaches pod b-1 at $X" eventually answers "$X" pod-B
check "the change is logged with the pod, uid and address" \
  grep -q "cluster: c1 pod shop/b-1 (uid uid-b1) at 10.0.0.9 got unique address $X" "$RUN_DIR/c1.log"
check "the pod resource version is shown" test "$(source_json resource_version)" != '""'

# 2. The IP is reused by a new pod (new uid): another address; the old one reaches nothing.
api delete "$(pod b-1 uid-b1 10.0.0.9)"
api apply "$(pod b-2 uid-b2 10.0.0.9)"
check "the new pod b-2 got another address" eventually ext_changed 10.0.0.9 "$X"
Y=$(ext_of 10.0.0.9)
check "the client reaches b-2 at $Y" eventually answers "$Y" pod-B
check "the old address $X no longer answers" silent "$X"
check "no session is left on the old address $X" eventually no_sessions_on "$X"

# 3. A pod behind a node (pod CIDR 10.0.200.0/24 via the node's InternalIP 10.0.0.20) is
# reachable only while the node's route is in natgw's dataplane.
api apply "$(pod n-1 uid-n1 10.0.200.5)"
check "pod n-1 behind the node got a unique address" eventually has_ext 10.0.200.5
N=$(ext_of 10.0.200.5)
check "without the node route, n-1 at $N does not answer" silent "$N"
api apply "$(node node-1 10.0.200.0/24 10.0.0.20)"
check "show routes: the node's pod CIDR, from the cluster" \
  eventually routes_show "10.0.200.0/24 *10.0.0.20 *cluster (node node-1)"
check "the route is logged" grep -q "cluster: route 10.0.200.0/24 via 10.0.0.20 (node node-1) added" "$RUN_DIR/c1.log"
check "through the node route the client reaches n-1 at $N" eventually answers "$N" pod-N
api apply "$(node node-2 10.0.0.0/16 10.0.0.21)"
check "a node route with a conf (connected) route's destination is refused and logged" \
  eventually grep -q "route 10.0.0.0/16 via 10.0.0.21 (node node-2) not installed: the conf has a route" "$RUN_DIR/c1.log"
api delete "$(node node-2 10.0.0.0/16 10.0.0.21)"
api delete "$(node node-1 10.0.200.0/24 10.0.0.20)"
check "the node is deleted: its route is gone" eventually routes_lack "cluster (node node-1)"
check "without the node route n-1 no longer answers" eventually silent "$N"

# 4. The API server goes away: natgw keeps translating with what it knows and says so.
api_stop
check "show cluster says the source is disconnected" \
  eventually cluster_shows "kubernetes:c1  disconnected  no"
out=$(gwctl c1 show cluster)
check "show cluster says it translates with the last known state" contains "$out" "last known state"
check "show cluster --json: connected false" equals "$(source_json connected)" false
check "show cluster --json: the error names the server" contains "$(source_json message)" "127.0.0.1:$API_PORT"
check "metrics: natgw_cluster_source_connected is 0" metric natgw_cluster_source_connected 0
check "metrics: one disconnection" metric natgw_cluster_source_disconnects_total 1
check "b-2 still answers at $Y while the API is down" answers "$Y" pod-B
age1=$(source_json last_event_age_s)
# Meanwhile pod a-1 appears in the cluster (written into the stopped server's state).
python3 - "$WORK/api-state.json" "$(pod a-1 uid-a1 10.0.0.5)" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["rv"] += 1
o = json.loads(sys.argv[2])
o["metadata"]["resourceVersion"] = str(s["rv"])
s["objects"].append(o)
json.dump(s, open(sys.argv[1], "w"))
PY
check "the last event ages while disconnected" python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 1.5 else 1)" "$age1"

# 5. The API server is back: natgw reconnects, lists again and catches up.
api_start
check "show cluster: connected again" eventually eventually cluster_shows "kubernetes:c1  synced  yes"
check "pod a-1, added while natgw was disconnected, got an address" eventually has_ext 10.0.0.5
A=$(ext_of 10.0.0.5)
check "the client reaches a-1 at $A" eventually answers "$A" pod-A
check "b-2 kept $Y across the reconnection" test "$(ext_of 10.0.0.9)" = "$Y"
check "metrics: connected again" metric natgw_cluster_source_connected 1
check "metrics: one reconnection" metric natgw_cluster_source_reconnects_total 1
check "metrics: the resource version" metric natgw_cluster_source_resource_version "[0-9]\+"
check "show cluster --json counts the reconnection" test "$(source_json reconnects)" = 1

# 6. The pod is deleted: its address stops answering, its sessions are gone.
api delete "$(pod b-2 uid-b2 10.0.0.9)"
check "b-2's address is withdrawn" eventually ext_is 10.0.0.9 ""
check "the deleted pod's address $Y no longer answers" silent "$Y"
check "no session of the deleted pod is left" eventually no_sessions_on "$Y"

# 7. natgw restarts: the surviving pod keeps its address; the API source threads stop cleanly.
metrics >"$WORK/metrics.txt"
check "promtool accepts the metrics" bash -c "promtool check metrics <'$WORK/metrics.txt'"
check "natgw stops cleanly (exit 0)" gw_stop c1
check "the kubernetes source stopped" grep -q "kubernetes source: stopped" "$RUN_DIR/c1.log"
NATGW_EXTRA_EAL="$EXTRA" gw_start c1 "$WORK/c1.toml" || exit 1
check "after the restart a-1 keeps $A" eventually ext_is 10.0.0.5 "$A"
check "the client reaches a-1 at $A after the restart" eventually answers "$A" pod-A

echo "kubernetes API source: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
