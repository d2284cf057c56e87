#!/usr/bin/env bash
# Integration test (root): the two-island topology with two real natgw processes on
# net_af_packet ports, real clients and servers in network namespaces. Checks what a user would
# check: what curl, ping, traceroute, iperf3 see, natgwctl's answers, counters, exit codes.
# Usage: tests/integration/two_islands_test.sh BUILD_DIR
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
NG=ngt$$
cd "$ROOT"
source tests/integration/harness.sh

C="curl -s --max-time 5"

EXTRA=""
[ "$(scripts/hugepages.sh 512)" = ok ] || EXTRA="--no-huge"
topo_up
# A router in the flat network with a small-MTU link to a server behind it (path MTU case).
ip netns add "$NG-rtr"
ip link add eth0 netns "$NG-rtr" type veth peer name rtr-p netns "$NG-flat"
ip netns exec "$NG-flat" ip link set rtr-p master br0 up
ip netns exec "$NG-flat" ethtool -K rtr-p tx off >/dev/null
ip netns add "$NG-far"
ip link add eth1 netns "$NG-rtr" type veth peer name eth0 netns "$NG-far"
in_ns rtr sysctl -qw net.ipv4.ip_forward=1
in_ns rtr ip addr add 192.0.2.254/24 dev eth0
in_ns rtr ip addr add 172.31.0.1/24 dev eth1
in_ns rtr ip link set eth0 up; in_ns rtr ip link set eth1 up mtu 1000
in_ns rtr ethtool -K eth0 tx off >/dev/null; in_ns rtr ethtool -K eth1 tx off >/dev/null
in_ns rtr ip route add 203.0.113.0/24 via 192.0.2.1
in_ns far ip addr add 172.31.0.10/24 dev eth0
in_ns far ip link set eth0 up mtu 1000; in_ns far ip link set lo up
in_ns far ethtool -K eth0 tx off >/dev/null
in_ns far ip route add default via 172.31.0.1

# c2 runs from a copy of its conf so the test can edit it for reloads; c1's copy adds a route
# to the network behind the small-MTU router.
# c2 takes its pods and service from its cluster directory (seeded from conf/examples/two-islands/
# c2-cluster/); the copy adds a static mapping for web-1 that the reload below removes.
gw_conf conf/examples/two-islands/c2.toml "$WORK/c2.toml"
printf '\n[[mapping]]\nname = "default/web-1"\nisland = "c2"\npod = "10.0.0.7"\nexternal = "198.51.100.9"\n' >>"$WORK/c2.toml"
# c2's inside link gets a smaller MTU than the rest: natgw c2 itself must send "fragmentation
# needed" (DF) or fragment (no DF) what comes in bigger.
sed -i 's#^address = "10.0.0.1/16"$#&\nmtu = 1200#' "$WORK/c2.toml"
cp conf/examples/two-islands/c1.toml "$WORK/c1.toml"
printf '\n[[route]]\ndestination = "172.31.0.0/24"\nvia = "192.0.2.254"\ninterface = "c1-outside"\n' >>"$WORK/c1.toml"
NATGW_EXTRA_EAL="$EXTRA" gw_start c1 "$WORK/c1.toml" || exit 1
NATGW_EXTRA_EAL="$EXTRA" gw_start c2 "$WORK/c2.toml" || exit 1
if [ -z "$EXTRA" ]; then
  # memory_mb is set, so the session table may take reserved hugepages beside EAL's memory.
  check "c1's session table lies wholly on reserved 2 MiB hugepages (its startup log says)" grep -qE \
    "session table: [0-9]+ sessions in ([0-9]+) MiB: \1 MiB on reserved 2 MiB hugepages, 0 MiB on transparent huge pages, 0 MiB on 4 KiB pages" \
    "$RUN_DIR/c1.log"
fi

bg in_ns c1-a python3 scripts/lib/whoami_server.py pod-A 80
bg in_ns c2-g python3 scripts/lib/whoami_server.py pod-G 80
bg in_ns c2-h python3 scripts/lib/whoami_server.py pod-H 80
bg in_ns c2-w1 python3 scripts/lib/whoami_server.py web-1 8080
bg in_ns c2-w2 python3 scripts/lib/whoami_server.py web-2 8080
bg in_ns server python3 scripts/lib/whoami_server.py server 80
bg in_ns server python3 scripts/lib/udp_echo.py serve 7000
bg in_ns c2-g iperf3 -s -p 5201
bg in_ns far iperf3 -s -p 5201
for n in c1-a c2-g c2-h server; do wait_listening $n tcp 80; done
wait_listening c2-w1 tcp 8080; wait_listening c2-w2 tcp 8080
wait_listening c2-g tcp 5201; wait_listening far tcp 5201; wait_listening server udp 7000

# Prometheus metrics (c1: 127.0.0.1:9469 in its gateway namespace), before any traffic.
metrics() { ip netns exec "$NG-c1-gw" curl -s --max-time 5 http://127.0.0.1:9469/metrics; }
in2out() { metrics | awk '$1 == "natgw_packets_total{direction=\"in2out\"}" { print $2 }'; }
in2out_before=$(in2out)
check "c1 serves /metrics with natgw_packets_total" test -n "$in2out_before"

# 1-2. pods with the same IP in two islands reach each other by unique addresses.
out=$(in_ns c1-a $C http://198.51.100.7/)
check "pod A reaches pod G; G sees A's unique address" contains "$out" "pod-G sees client 203.0.113.5:"
out=$(in_ns c2-g $C http://203.0.113.5/)
check "pod G reaches pod A; A sees G's unique address" contains "$out" "pod-A sees client 198.51.100.7:"
# 3. egress pool.
out=$(in_ns c1-b $C http://192.0.2.200/)
check "pod without unique address reaches the server from c1's pool" contains "$out" "server sees client 192.0.2.[123][0-9]:"
# 4. service VIP balances over two pods.
out=$(for i in $(seq 1 12); do in_ns client $C http://198.51.100.130/; done)
check "VIP reaches web-1" contains "$out" "web-1 sees client 192.0.2.150:"
check "VIP reaches web-2" contains "$out" "web-2 sees client 192.0.2.150:"
# 5. ping and traceroute.
check "ping across both gateways" in_ns c1-a ping -c 3 -i 0.2 -W 2 198.51.100.7
out=$(in_ns c1-a traceroute -n -q 1 -w 2 -m 5 198.51.100.7)
check "traceroute hop 1 is natgw c1 (inside)" contains "$out" " 1  10.0.0.1 "
check "traceroute hop 2 is natgw c2 (outside)" contains "$out" " 2  192.0.2.2 "
check "traceroute ends at pod G's unique address" contains "$out" " 3  198.51.100.7 "
# Metrics after traffic: valid exposition (promtool, when installed) and the counters moved.
in2out_after=$(in2out)
check "natgw_packets_total{direction=in2out} moved after traffic ($in2out_before -> $in2out_after)" \
  test "${in2out_after:-0}" -gt "${in2out_before:-0}"
out=$(metrics)
check "metrics list every drop reason" contains "$out" 'natgw_drops_total{reason="fragment_timeout"}'
check "metrics list interface counters" contains "$out" 'natgw_interface_rx_packets_total{interface="c1-outside"}'
if [ -z "$EXTRA" ]; then
  hp=$(awk '$1 == "natgw_session_table_bytes{pages=\"hugetlb\"}" {print $2}' <<<"$out")
  small=$(awk '$1 == "natgw_session_table_bytes{pages=\"4k\"}" {print $2}' <<<"$out")
  check "metrics: c1's session table on reserved hugepages ($hp bytes), none on 4 KiB pages" \
    test "${hp:-0}" -gt 0 -a "${small:-1}" -eq 0
fi
code=$(ip netns exec "$NG-c1-gw" curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:9469/other)
check "metrics: another path is 404" test "$code" = 404
if command -v promtool >/dev/null; then
  check "promtool check metrics passes" bash -c '[ -n "$1" ] && promtool check metrics <<<"$1"' _ "$out"
else
  echo "SKIP promtool check metrics (promtool not installed: apt-get install prometheus)"
fi

# 6. natgwctl views.
out=$(gwctl c1 show sessions)
check "c1 show sessions lists pod A's session to G" contains "$out" "10.0.0.5:.*203.0.113.5:.*198.51.100.7:80"
out=$(gwctl c2 show stats --json)
check "c2 show stats --json counts service sessions" python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['events']['service_sessions_created'] >= 2 else 1)" "$out"
out=$(gwctl c1 lookup 203.0.113.5)
check "c1 lookup names pod A" contains "$out" "pod 10.0.0.5 (default/pod-a) in island c1"
out=$("$BUILD/gateway/natgwctl" --socket "$RUN_DIR/none.sock" show stats 2>&1); rc=$?
check "natgwctl without a gateway exits 2 with a clear message" bash -c "[ $rc -eq 2 ] && grep -q 'natgw is not running' <<<'$out'"

# natgw's own smaller MTU (c2's inside link, 1200): DF gets "fragmentation needed" from c2, which
# c1 translates back to pod A; without DF, c2 sends fragments that G reassembles.
out=$(in_ns c1-a ping -M do -s 1300 -c 1 -W 2 198.51.100.7 2>&1)
# (ping reports the error itself, or, once the kernel has learnt the MTU from it, "mtu=1200")
check "ping with DF over c2's 1200-byte inside link: A is told the MTU" contains "$out" "mtu \?= \?1200"
out=$(in_ns c1-a ping -M dont -s 1300 -c 2 -i 0.3 -W 2 198.51.100.7 2>&1)
check "ping without DF over c2's 1200-byte inside link: fragmented, answered" contains "$out" " 0% packet loss"
out=$(gwctl c2 show stats --json)
check "c2 counted the fragmentation needed it sent and the frames it fragmented" python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['events']['icmp_frag_needed_sent'] >= 1 and d['dataplane']['frames_fragmented'] >= 2 else 1)" "$out"
# iperf3 TCP for 5 s through both gateways (its segments learn c2's inside MTU first).
out=$(in_ns c1-a iperf3 -c 198.51.100.7 -p 5201 -t 5 -J 2>&1)
check "iperf3 5 s A -> G completes without error" python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(1 if 'error' in d else 0 if d['end']['sum_received']['bytes'] > 0 else 1)" "$out"
# UDP request/response through the egress pool.
out=$(in_ns c1-b python3 scripts/lib/udp_echo.py ask 192.0.2.200 7000 hello)
check "UDP request/response through the egress pool" contains "$out" "echo:hello from 192.0.2.[123][0-9]:"
# Path MTU: the router's 1000-byte link sends "fragmentation needed"; natgw translates it.
# (Without the translated error the first full-size segment is black-holed and the upload stalls.)
out=$(in_ns c1-a iperf3 -c 172.31.0.10 -p 5201 -t 2 -J 2>&1)
check "over 1 MB uploaded over a smaller-MTU path (ICMP frag-needed translated)" python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(1 if 'error' in d else 0 if d['end']['sum_received']['bytes'] >= 1000000 else 1)" "$out"
out=$(gwctl c1 show stats --json)
check "c1 translated ICMP errors" python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['events']['icmp_errors_translated'] >= 1 else 1)" "$out"
# Hairpin: pod H reaches pod G (same island) by G's unique address.
out=$(in_ns c2-h $C http://198.51.100.7/)
check "hairpin: pod H reaches pod G by its unique address" contains "$out" "pod-G sees client 198.51.100.8:"
# Unmapped outside destination dropped and counted.
in_ns client ping -c 2 -i 0.2 -W 1 203.0.113.99 >/dev/null 2>&1
out=$(gwctl c1 show stats --json)
check "outside packet to an unmapped address is counted as no_mapping" python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d['drops']['no_mapping'] >= 2 else 1)" "$out"

# The rest of natgwctl's views, and flush.
out=$(gwctl c1 show interfaces)
check "show interfaces lists the outside port up" contains "$out" "c1-outside .*192.0.2.1/24 .* up "
out=$(gwctl c1 show neighbors)
check "show neighbors has natgw c2 resolved" contains "$out" "192.0.2.2 .*reachable"
out=$(gwctl c1 show routes)
check "show routes has the route to c2's addresses" contains "$out" "198.51.100.0/24 *192.0.2.2"
out=$(gwctl c1 --json show sessions pod=10.0.0.5 proto=tcp)
check "show sessions filters by pod and protocol (--json)" python3 -c "import json,sys; d=json.loads(sys.argv[1]); s=d['sessions']; sys.exit(0 if s and all(x['inside'].startswith('10.0.0.5:') and x['proto']=='tcp' for x in s) else 1)" "$out"
out=$(gwctl c1 flush)
check "flush drops sessions" contains "$out" "flushed [1-9][0-9]* sessions"
out=$(in_ns c1-a $C http://198.51.100.7/)
check "new flows work after a flush" contains "$out" "pod-G sees client 203.0.113.5:"

# A reload that removes web-1's static mapping cuts web-1's unique address off; pod H leaving
# the cluster state cuts off H's; A's open TCP connection to G survives both.
out=$(in_ns client $C http://198.51.100.9:8080/)
check "before the reload the client reaches web-1 at its static unique address" contains "$out" "web-1 sees client 192.0.2.150:"
out=$(in_ns client $C http://198.51.100.8/)
check "the client reaches pod H at the address its annotation asks for" contains "$out" "pod-H sees client 192.0.2.150:"
in_ns c1-a iperf3 -c 198.51.100.7 -p 5201 -t 6 -J >"$WORK/long.json" 2>&1 &
long=$!
sleep 1
python3 - "$WORK/c2.toml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r'\[\[mapping\]\][^\[]*10\.0\.0\.7[^\[]*', '', s)
open(p, 'w').write(s)
PY
out=$(gwctl c2 reload 2>&1)
check "natgwctl reload applies the new conf, all of it (a mapping removed)" equals "$out" "reloaded"
out=$(in_ns client $C http://198.51.100.9:8080/)
check "after the reload web-1's static unique address no longer answers" lacks "$out" "web-1"
cluster_drop_pod "$RUN_DIR/c2-cluster/pods.json" pod-h
for _ in $(seq 1 50); do gwctl c2 show mappings | grep -q 198.51.100.8 || break; sleep 0.1; done
out=$(in_ns client $C http://198.51.100.8/)
check "after pod H leaves c2's cluster state its address no longer answers" lacks "$out" "pod-H"
check "natgw c2 logged that pod H lost its address" grep -q "cluster: c2 pod address 10.0.0.6 left by uid 5d0c0e1a-0000-4000-8000-00000000c2a2, which loses unique address 198.51.100.8" "$RUN_DIR/c2.log"
wait $long
check "A's open TCP connection to G survived the reload" python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(1 if 'error' in d else 0)" "$WORK/long.json"
# A bad conf is refused with its line number; the gateway keeps running.
printf '\n[[mapping]]\nisland = "c2"\npod = "10.0.0.6"\nexternal = "not-an-address"\n' >>"$WORK/c2.toml"
out=$(gwctl c2 reload 2>&1); rc=$?
check "bad conf refused with exit 1" test "$rc" -eq 1
check "refusal names file and line" contains "$out" "c2.toml:[0-9][0-9]*:"
kill -HUP "${GW_PID[c2]}"
sleep 0.5
check "SIGHUP reloads too (and logs the refusal)" grep -q "reload refused, keeping the running configuration: .*c2.toml:[0-9]*:" "$RUN_DIR/c2.log"
out=$(in_ns c1-a $C http://198.51.100.7/)
check "gateway keeps translating after a refused reload" contains "$out" "pod-G sees client 203.0.113.5:"

# Clean stop: SIGTERM -> exit 0.
gw_stop c1; rc=$?
check "natgw c1 exits 0 on SIGTERM" test "$rc" -eq 0
gw_stop c2; rc=$?
check "natgw c2 exits 0 on SIGTERM" test "$rc" -eq 0
check "no hugepage files left behind" bash -c "! ls /dev/hugepages 2>/dev/null | grep -q '^$NG'"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
