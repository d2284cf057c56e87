# Helpers of the cluster-state integration tests (sourced by cluster_sync_test.sh and
# kube_api_test.sh after scripts/lib/topology.sh, gateways.sh and checks.sh): natgw c1 of the
# two-island topology with a [[cluster]] section, pods of namespace shop as kubectl JSON, and
# what the client on the flat network sees.

# eventually COMMAND...: retries for up to 5 s (cluster changes apply within milliseconds, but
# the sweep that reclaims flushed sessions runs in the background).
eventually() { local i; for i in $(seq 1 50); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; "$@"; }
in_ns() { ip netns exec "$NG-$1" "${@:2}"; }
curl_from_client() { in_ns client curl -s --max-time 2 "http://$1/"; }
answers() { [[ "$(curl_from_client "$1")" == "$2 sees client "* ]]; }
silent() { ! curl_from_client "$1" >/dev/null; }
# Sessions whose external address is $1.
sessions_on() { gwctl c1 show sessions external="$1" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['matched'])"; }
# The unique address natgw gave pod IP $1 of island c1 ("" if none).
ext_of() {
  gwctl c1 show mappings --json | python3 -c "import json,sys
d=json.load(sys.stdin)
print(next((m['external'] for m in d['pod_addresses'] if m['pod']==sys.argv[1] and m['island']=='c1'), ''))" "$1"
}
# For `eventually`, which must run the query again each time: pod IP $1 has an external
# address / has address $2; no session is left on external address $1; show cluster has $1.
has_ext() { test -n "$(ext_of "$1")"; }
ext_is() { equals "$(ext_of "$1")" "$2"; }
ext_changed() { local e; e=$(ext_of "$1"); test -n "$e" -a "$e" != "$2"; }
no_sessions_on() { equals "$(sessions_on "$1")" 0; }
cluster_shows() { contains "$(gwctl c1 show cluster)" "$1"; }
pod() {  # pod NAME UID IP: a running pod of namespace shop that asks for a unique address
  printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","namespace":"shop","uid":"%s","resourceVersion":"1","labels":{"natgw-test":"unique"}},"spec":{"nodeName":"node-1"},"status":{"phase":"Running","podIP":"%s","podIPs":[{"ip":"%s"}]}}' "$1" "$2" "$3" "$3"
}
pods() { local IFS=,; printf '{"apiVersion":"v1","kind":"List","items":[%s]}' "$*"; }

# cluster_conf OUT ALLOC_FILE SOURCE_KEYS: c1's conf of the two-island example without its static
# mapping, plus a vip pool, a [[cluster]] of island c1 with SOURCE_KEYS (e.g. directory = "...")
# selecting shop's pods labelled natgw-test=unique, and [allocation] in ALLOC_FILE.
cluster_conf() {
  python3 - "$1" "$2" "$3" <<'PY'
import re, sys
text = open("conf/examples/two-islands/c1.toml").read()
text = re.sub(r"\[\[mapping\]\][^\[]*", "", text)
text += f'''
[[pool]]
name = "c1-vips"
kind = "vip"
addresses = ["203.0.113.192/28"]

[[cluster]]
island = "c1"
{sys.argv[3]}
unique_pods = [{{ namespace = "shop", labels = {{ natgw-test = "unique" }} }}]

[allocation]
state_file = "{sys.argv[2]}"
quarantine_s = 120
'''
open(sys.argv[1], "w").write(text)
PY
}

# node_up: a Kubernetes node of island c1 in the topology, $NG-c1-node (10.0.0.20 on c1's
# switch), routing its pod CIDR 10.0.200.0/24 to a pod namespace $NG-c1-np (10.0.200.5). natgw
# reaches that pod only through a route to 10.0.200.0/24 via 10.0.0.20 (its connected /16 alone
# would ask for 10.0.200.5 on the switch, where nobody answers).
node_up() {
  _host c1-node c1-sw eth0 10.0.0.20/16 10.0.0.1
  _ns c1-node sysctl -qw net.ipv4.ip_forward=1
  ip netns add "$NG-c1-np"
  ip link add eth0 netns "$NG-c1-np" type veth peer name pods netns "$NG-c1-node"
  _ns c1-node ip addr add 10.0.200.1/24 dev pods
  _ns c1-np ip addr add 10.0.200.5/24 dev eth0
  local ns
  for ns in c1-node:pods c1-np:eth0 c1-np:lo; do
    _ns "${ns%%:*}" ip link set "${ns#*:}" up
    [ "${ns#*:}" = lo ] || _ns "${ns%%:*}" ethtool -K "${ns#*:}" tx off >/dev/null
  done
  _ns c1-np ip route add default via 10.0.200.1
}
node() {  # node NAME POD_CIDR INTERNAL_IP
  printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s","uid":"uid-%s"},"spec":{"podCIDR":"%s","podCIDRs":["%s"]},"status":{"addresses":[{"type":"InternalIP","address":"%s"}]}}' "$1" "$1" "$2" "$2" "$3"
}
routes_show() { contains "$(gwctl c1 show routes)" "$1"; }
routes_lack() { lacks "$(gwctl c1 show routes)" "$1"; }
