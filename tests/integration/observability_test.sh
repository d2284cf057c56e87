#!/usr/bin/env bash
# Integration test (root): natgw's observability on a running gateway — Prometheus metrics and
# the Grafana dashboard's names, DPDK telemetry (/natgw/... through dpdk-telemetry.py), packet
# capture with dpdk-dumpcap (rte_pdump), and `natgwctl trace`. One gateway (natgw c1 of the
# two-island topology), real clients; checks that the values move with traffic.
# Usage: tests/integration/observability_test.sh BUILD_DIR
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
NG=ngo$$
cd "$ROOT"
source tests/integration/harness.sh

C="curl -s --max-time 5"

HUGE=1
EXTRA=""
[ "$(scripts/hugepages.sh 512)" = ok ] || { HUGE=0; EXTRA="--no-huge"; }
topo_up
cp conf/examples/two-islands/c1.toml "$WORK/c1.toml"
NATGW_EXTRA_EAL="$EXTRA" gw_start c1 "$WORK/c1.toml" || exit 1
PREFIX=$NG-c1
bg in_ns server python3 scripts/lib/whoami_server.py server 80
wait_listening server tcp 80

# ---- DPDK telemetry ----
tel() {  # tel COMMAND: the JSON answer of the running gateway's telemetry socket
  echo "$1" | in_ns c1-gw dpdk-telemetry.py -f "$PREFIX" 2>/dev/null | tail -n 1
}
jq_py() {  # jq_py JSON PYTHON_EXPR: prints the expression evaluated over the parsed JSON `d`
  python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$1"
}
out=$(tel /)
check "telemetry lists the /natgw commands" bash -c \
  'for c in stats sessions drops workers pools mappings; do grep -q "\"/natgw/$c\"" <<<"$1" || exit 1; done' _ "$out"
before=$(tel /natgw/stats)
in2out_before=$(jq_py "$before" 'd["/natgw/stats"]["in2out_packets"]')
check "telemetry /natgw/stats answers" test -n "$in2out_before"

out=$(in_ns c1-a $C http://192.0.2.200/)
check "pod A reaches the server" contains "$out" "server sees client 203.0.113.5:"
in_ns c1-b $C http://192.0.2.200/ >/dev/null
in_ns c1-a ping -c 2 -i 0.2 -W 2 192.0.2.200 >/dev/null
sleep 0.6  # the control thread publishes a new snapshot every 250 ms

after=$(tel /natgw/stats)
in2out_after=$(jq_py "$after" 'd["/natgw/stats"]["in2out_packets"]')
check "telemetry in2out_packets moved with traffic ($in2out_before -> $in2out_after)" \
  test "${in2out_after:-0}" -gt "${in2out_before:-0}"
check "telemetry counts interface bytes" test "$(jq_py "$after" 'd["/natgw/stats"]["c1_outside"]["tx_bytes"]')" -gt 0
out=$(tel /natgw/sessions)
check "telemetry /natgw/sessions counts pod A's and pod B's sessions" python3 -c \
  'import json,sys; d=json.loads(sys.argv[1])["/natgw/sessions"]; sys.exit(0 if d["by_kind"]["pod_address"] >= 2 and d["by_kind"]["egress_pool"] >= 1 and d["by_island"]["c1"] == d["total"] else 1)' "$out"
out=$(tel /natgw/workers)
check "telemetry /natgw/workers has worker 0's busy cycles" python3 -c \
  'import json,sys; d=json.loads(sys.argv[1])["/natgw/workers"]; w=d["0"]; sys.exit(0 if 0 < w["busy_cycles"] <= w["total_cycles"] else 1)' "$out"
out=$(tel /natgw/mappings)
check "telemetry /natgw/mappings lists pod A" contains "$out" "c1/10.0.0.5 203.0.113.5 default/pod-a"
out=$(tel /natgw/pools)
check "telemetry /natgw/pools shows an egress port in use" python3 -c \
  'import json,sys; d=json.loads(sys.argv[1])["/natgw/pools"]; sys.exit(0 if d["ports_in_use"] >= 1 else 1)' "$out"
out=$(tel /natgw/drops)
check "telemetry /natgw/drops lists every reason" python3 -c \
  'import json,sys; d=json.loads(sys.argv[1])["/natgw/drops"]; sys.exit(0 if "fragment_timeout" in d["engine"] and "no_route" in d["dataplane"] else 1)' "$out"

# ---- Prometheus metrics ----
metrics() { in_ns c1-gw curl -s --max-time 5 http://127.0.0.1:9469/metrics; }
sleep 1.1  # one busy-ratio window
m=$(metrics)
value() { awk -v k="$1" '$1 == k { print $2 }' <<<"$m"; }
check "metrics: pod A's live UDP/TCP sessions by island" contains "$m" 'natgw_sessions{protocol="tcp",kind="pod_address",island="c1"} [1-9]'
check "metrics: TCP sessions by state" contains "$m" 'natgw_tcp_sessions{state="established"}'
check "metrics: sessions created by kind" contains "$m" 'natgw_sessions_created_total{kind="egress_pool"} [1-9]'
check "metrics: c1's egress pool has an address in use" contains "$m" 'natgw_pool_addresses_in_use{pool="c1-egress",kind="egress"} 1$'
check "metrics: c1's unique pool has pod A's address in use" contains "$m" 'natgw_pool_addresses_in_use{pool="c1-unique",kind="unique"} 1$'
check "metrics: worker 0 busy cycles moved" test "$(value 'natgw_worker_busy_cycles_total{worker="0"}')" -gt 0
check "metrics: worker 0 busy ratio is a ratio" python3 -c "import sys; v=float(sys.argv[1]); sys.exit(0 if 0 <= v <= 1 else 1)" \
  "$(value 'natgw_worker_busy_ratio{worker="0"}')"
check "metrics: bytes per port and direction" test "$(value 'natgw_interface_rx_bytes_total{interface="c1-inside"}')" -gt 0
check "metrics: no receive-ring refill failed, no frame in error on c1-inside" test \
  "$(value 'natgw_interface_rx_nombuf_total{interface="c1-inside"}'):$(value 'natgw_interface_rx_errors_total{interface="c1-inside"}'):$(value 'natgw_interface_tx_errors_total{interface="c1-inside"}')" = 0:0:0
pool=$(awk -F'"' '/^natgw_dataplane_mbuf_pool_size\{/ {print $2; exit}' <<<"$m")
# (af_packet copies each frame into an mbuf as it arrives: at rest every mbuf can be free.)
check "metrics: the mbuf pool ($pool) has mbufs free, no more than its size" python3 -c \
  'import sys; f, n = int(sys.argv[1]), int(sys.argv[2]); sys.exit(0 if 0 < f <= n else 1)' \
  "$(value "natgw_dataplane_mbuf_pool_free{pool=\"$pool\"}")" "$(value "natgw_dataplane_mbuf_pool_size{pool=\"$pool\"}")"
if command -v promtool >/dev/null; then
  check "promtool check metrics passes" bash -c 'promtool check metrics <<<"$1"' _ "$m"
else
  echo "SKIP promtool check metrics (apt-get install prometheus)"
fi
# Live counts agree with a walk of the table (natgwctl show sessions).
live=$(python3 -c 'import re,sys; print(sum(int(v) for k,v in re.findall(r"^natgw_sessions\{([^}]*)\} (\d+)$", sys.argv[1], re.M) if "binding" not in k))' "$m")
walked=$(gwctl c1 --json show sessions | python3 -c 'import json,sys; print(json.load(sys.stdin)["matched"])')
check "metrics live sessions ($live) = sessions in the table ($walked)" test "$live" = "$walked"
# Every metric the Grafana dashboard queries is exported (but those of cluster-state sync and of
# the event log, which need a [[cluster]] source or [event_log]/[ipfix]:
# tests/telemetry/dashboard_test.cc finds them in their renderers).
out=$(python3 - "$m" conf/grafana/natgw.json <<'PY'
import json, re, sys
exported = set(re.findall(r"^# TYPE (\S+) ", sys.argv[1], re.M))
later = {"natgw_apply_latency_seconds", "natgw_cluster_source_connected", "natgw_pool_exhausted_total"}
used = set()
for p in json.load(open(sys.argv[2]))["panels"]:
    for t in p["targets"]:
        for n in re.findall(r"\bnatgw_[a-z0-9_]+", t["expr"]):
            used.add(re.sub(r"_(bucket|sum|count)$", "", n) if n.startswith("natgw_apply_latency") else n)
later |= {n for n in used if n.startswith(("natgw_cluster_", "natgw_event_log_", "natgw_ipfix_"))}
missing = sorted(used - exported - later)
print(" ".join(missing) if missing else "ok")
PY
)
check "the Grafana dashboard queries only exported metrics" test "$out" = ok || echo "  missing: $out"

# ---- natgwctl trace ----
out=$(gwctl c1 trace c1/10.0.0.5)
check "trace c1/10.0.0.5 names pod A and its unique address" bash -c \
  'grep -q "pod c1/10.0.0.5 (default/pod-a)" <<<"$1" && grep -q "unique address  203.0.113.5" <<<"$1"' _ "$out"
check "trace shows pod A's session to the server" contains "$out" "tcp 10.0.0.5:[0-9]* -> 203.0.113.5:[0-9]* <-> 192.0.2.200:80"
out2=$(gwctl c1 trace default/pod-a)
check "trace by namespace/name finds the same pod" contains "$out2" "pod c1/10.0.0.5 (default/pod-a)"
out=$(gwctl c1 --json trace c1/10.0.0.9)
check "trace --json of pod B: egress address from c1's pool, no unique address" python3 -c \
  'import json,sys; p=json.loads(sys.argv[1])["pods"][0]; sys.exit(0 if p["unique_address"] is None and p["egress_address"].startswith("192.0.2.") and any(s["remote"]=="192.0.2.200:80" for s in p["sessions"]) else 1)' "$out"
gwctl c1 trace nobody/nothing >/dev/null 2>&1; rc=$?
check "trace of an unknown pod exits 1" test "$rc" -eq 1

# ---- dpdk-dumpcap through rte_pdump ----
if [ "$HUGE" = 1 ] && command -v dpdk-dumpcap >/dev/null; then
  # dumpcap is a DPDK secondary process: it attaches to natgw's --file-prefix and asks natgw's
  # rte_pdump to copy the port's packets to it. One port per run (22.11 takes one -i).
  capture() {  # capture PORT FILE: captures 6 s of PORT while pod A pings and fetches a page
    in_ns c1-gw dpdk-dumpcap --file-prefix="$PREFIX" -i "$1" -w "$2" -a duration:6 -q \
      >>"$WORK/dumpcap.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 50); do [ -s "$2" ] && break; sleep 0.1; done
    sleep 1
    in_ns c1-a ping -c 3 -i 0.2 -W 2 192.0.2.200 >/dev/null
    in_ns c1-a $C http://192.0.2.200/ >/dev/null
    wait "$pid"
  }
  decode() {  # decode FILE: frame count and what pod A's packets looked like
    python3 - "$1" <<'PY'
import socket, struct, sys
# pcapng: blocks of (type, length, body, length); an enhanced packet block (6) holds a frame.
data = open(sys.argv[1], "rb").read()
frames = []
if data[:4] == b"\x0a\x0d\x0d\x0a":
    off = 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        if blen < 12:
            break
        if btype == 6:
            caplen = struct.unpack_from("<I", data, off + 20)[0]
            frames.append(data[off + 28: off + 28 + caplen])
        off += blen
seen = set()
for f in frames:
    if len(f) < 34 or f[12:14] != b"\x08\x00":
        continue
    ip = f[14:]
    src, dst, proto = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), ip[9]
    l4 = ip[(ip[0] & 15) * 4:]
    if proto == 1 and l4[0] == 8:
        seen.add(f"echo {src}>{dst}")
    if proto == 6 and struct.unpack_from("!H", l4, 2)[0] == 80:
        seen.add(f"http {src}>{dst}")
print(len(frames), " ".join(sorted(seen)))
PY
  }
  capture net_af_packet0 "$WORK/inside.pcapng"
  inside=$(decode "$WORK/inside.pcapng")
  capture net_af_packet1 "$WORK/outside.pcapng"
  outside=$(decode "$WORK/outside.pcapng")
  echo "  dumpcap inside: $inside"
  echo "  dumpcap outside: $outside"
  check "dumpcap captured pod A's echo requests on the inside port (untranslated)" contains "$inside" "echo 10.0.0.5>192.0.2.200"
  check "dumpcap captured pod A's HTTP request on the inside port" contains "$inside" "http 10.0.0.5>192.0.2.200"
  check "dumpcap captured them on the outside port, translated" contains "$outside" "echo 203.0.113.5>192.0.2.200"
  check "dumpcap captured pod A's HTTP request on the outside port, translated" contains "$outside" "http 203.0.113.5>192.0.2.200"
else
  echo "SKIP dpdk-dumpcap (needs hugepages and Debian's dpdk package)"
fi
out=$(in_ns c1-a $C http://192.0.2.200/)
check "the gateway still translates after the capture" contains "$out" "server sees client 203.0.113.5:"

gw_stop c1; rc=$?
check "natgw c1 exits 0 on SIGTERM" test "$rc" -eq 0
check "no hugepage files left behind" bash -c "! ls /dev/hugepages 2>/dev/null | grep -q '^$PREFIX'"
check "no DPDK runtime sockets left behind" bash -c "! ls /var/run/dpdk/$PREFIX/dpdk_telemetry.v2 2>/dev/null"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
