#!/usr/bin/env bash
# Integration test (root): the translation event log and IPFIX export of a running gateway, and
# `natgwctl lookup --at` after the flows have ended. natgw c1 of the two-island topology logs to
# a small rotating file and exports to an IPFIX collector (tests/integration/ipfix_collector.py,
# its own decoder) in its network namespace; pods fetch a page over TCP and ask a UDP echo server.
# Usage: tests/integration/event_log_test.sh BUILD_DIR
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
NG=nge$$
cd "$ROOT"
source tests/integration/harness.sh

now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
py() {  # py PYTHON_EXPR ARGS...: evaluates the expression; sys.argv[1:] are the arguments
  python3 -c "import json,sys; print($1)" "${@:2}"
}
LOG=$WORK/events.jsonl

EXTRA=""
[ "$(scripts/hugepages.sh 512)" = ok ] || EXTRA="--no-huge"
topo_up
cp conf/examples/two-islands/c1.toml "$WORK/c1.toml"
cat >>"$WORK/c1.toml" <<CONF

[timeouts]
udp_s = 2                      # UDP sessions end by idle timeout during the test

[event_log]
mode = "session"
path = "$LOG"
max_size_mb = 0.004            # about 4 KiB per file: the test's records rotate
keep_files = 50
ring_size = 1024

[ipfix]
collector = "127.0.0.1:4739"   # the collector below, in natgw's network namespace
observation_domain = 7
template_interval_s = 5
CONF
bg in_ns c1-gw python3 tests/integration/ipfix_collector.py 127.0.0.1 4739 "$WORK/ipfix.jsonl"
bg in_ns server python3 scripts/lib/whoami_server.py server 80
bg in_ns server python3 scripts/lib/udp_echo.py serve 7000
NATGW_EXTRA_EAL="$EXTRA" gw_start c1 "$WORK/c1.toml" || exit 1
fetch() {  # fetch POD: the server's page as POD sees it; retried, the host is shared and slow
  local out i
  for i in 1 2 3; do
    out=$(in_ns "$1" curl -s --max-time 5 http://192.0.2.200/) && [ -n "$out" ] && break
    sleep 1
  done
  echo "$out"
}
for i in $(seq 1 50); do in_ns server ss -ltn | grep -q ':80 ' && break; sleep 0.1; done

check "the log starts with pod A's unique address" \
  contains "$(head -n 1 "$LOG")" '"event":"mapping_add","island":"c1","namespace":"default","pod":"pod-a","uid":"","pod_ip":"10.0.0.5","external":"203.0.113.5"'

# ---- traffic ----
out_b=$(fetch c1-b)
check "pod B reaches the server through the egress pool" contains "$out_b" "server sees client 192.0.2."
ext_b=$(grep -o '192\.0\.2\.[0-9]*:[0-9]*' <<<"$out_b" | head -n 1)
out_a=$(fetch c1-a)
ext_a=$(grep -o '203\.0\.113\.5:[0-9]*' <<<"$out_a" | head -n 1)
check "pod A reaches the server by its unique address" test -n "$ext_a"
udp=$(in_ns c1-b python3 scripts/lib/udp_echo.py ask 192.0.2.200 7000 hello)
ext_u=$(grep -o '192\.0\.2\.[0-9]*:[0-9]*' <<<"$udp" | head -n 1)
check "pod B's UDP request is answered" test -n "$ext_u"
sleep 0.5
T_FLOW=$(now)  # the sessions live now; the TCP ones until the flush below
# More UDP flows, so that the log rotates.
in_ns c1-b bash -c 'for p in $(seq 30001 30040); do python3 - "$p" <<PY
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.0.9", int(sys.argv[1])))
s.sendto(b"x", ("192.0.2.200", 7000))
PY
done'
sleep 3.5  # UDP idle timeout (2 s) plus the sweep
gwctl c1 flush >/dev/null
sleep 1
T_AFTER=$(now)

# ---- the JSON log ----
records=$(cat $(ls -r "$LOG".* 2>/dev/null) "$LOG")
rec() {  # rec EVENT EXTERNAL: the record of that event for that external endpoint
  py '[r for r in map(json.loads, sys.argv[1].splitlines()) if r["event"]==sys.argv[2] and r["external"]==sys.argv[3]][0]' \
    "$records" "$1" "$2" 2>/dev/null
}
field() { python3 -c 'import ast,sys; print(ast.literal_eval(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
export -f field  # used in bash -c checks
create_b=$(rec session_create "$ext_b")
delete_b=$(rec session_delete "$ext_b")
check "pod B's TCP session has a create record" test -n "$create_b"
check "pod B's TCP session has a delete record" test -n "$delete_b"
if [ -n "$delete_b" ]; then
  check "delete: island c1, pod B inside, the server remote, tcp egress" bash -c \
    '[ "$(field "$1" island)" = c1 ] && [[ "$(field "$1" inside)" == 10.0.0.9:* ]] && [ "$(field "$1" remote)" = 192.0.2.200:80 ] && [ "$(field "$1" proto)" = tcp ] && [ "$(field "$1" kind)" = egress_pool ]' _ "$delete_b"
  check "delete: reason flushed (natgwctl flush)" equals "$(field "$delete_b" reason)" flushed
  check "delete: packets and bytes both ways" bash -c \
    '[ "$(field "$1" packets_in2out)" -ge 3 ] && [ "$(field "$1" packets_out2in)" -ge 3 ] && [ "$(field "$1" bytes_out2in)" -gt 100 ]' _ "$delete_b"
  check "delete: time in RFC 3339 with ms" bash -c '[[ "$(field "$1" time)" =~ ^20[0-9-]{8}T[0-9:]{8}\.[0-9]{3}Z$ ]]' _ "$delete_b"
fi
delete_a=$(rec session_delete "$ext_a")
check "pod A's session names the pod (default/pod-a)" bash -c \
  '[ "$(field "$1" namespace)" = default ] && [ "$(field "$1" pod)" = pod-a ] && [ "$(field "$1" inside)" = "10.0.0.5:${2#*:}" ]' _ "$delete_a" "$ext_a"
delete_u=$(rec session_delete "$ext_u")
check "pod B's UDP session ended by idle timeout" equals "$(field "$delete_u" reason 2>/dev/null)" idle_timeout
check "the log rotated (max_size_mb = 0.004)" test -f "$LOG.1"
big=$(for f in "$LOG" "$LOG".*; do [ "$(stat -c %s "$f")" -gt 4200 ] && echo "$f"; done)
check "no log file grew past max_size" test -z "$big"

# ---- IPFIX ----
ipfix=$(cat "$WORK/ipfix.jsonl" 2>/dev/null)
check "the collector decoded IPFIX records" test -n "$ipfix"
match=$(python3 - "$ipfix" "$delete_b" <<'PY'
import ast, json, sys
recs = [json.loads(l) for l in sys.argv[1].splitlines() if l.strip()]
d = ast.literal_eval(sys.argv[2])
ext_ip, ext_port = d["external"].split(":")
in_ip, in_port = d["inside"].split(":")
rem_ip, rem_port = d["remote"].split(":")
for r in recs:
    f = r["fields"]
    if f.get("230") == 2 and f.get("225") == ext_ip and f.get("227") == int(ext_port):
        ok = (r["domain"] == 7 and f["8"] == in_ip and f["7"] == int(in_port) and
              f["226"] == rem_ip and f["228"] == int(rem_port) and f["4"] == 6 and
              f["298"] == d["packets_in2out"] and f["299"] == d["packets_out2in"] and
              f["231"] == d["bytes_in2out"] and f["232"] == d["bytes_out2in"])
        print("ok" if ok else "mismatch: " + json.dumps(f))
        break
else:
    print("missing")
PY
)
check "IPFIX has pod B's session delete (natEvent 2) with the JSON log's fields" equals "$match" ok
check "IPFIX has session creates (natEvent 1)" contains "$ipfix" '"230": 1,'
check "IPFIX has pod A's address binding (natEvent 12)" contains "$ipfix" '"230": 12, "234": 1, "8": "10.0.0.5", "225": "203.0.113.5"'

# ---- lookup --at, after the sessions ended ----
out=$(gwctl c1 --json lookup "$ext_b" --at "$T_FLOW")
check "lookup $ext_b --at T names pod B's session (from the log)" python3 -c '
import json, sys
h = json.loads(sys.argv[1])["holders"]
sys.exit(0 if len(h) == 1 and h[0]["pod_ip"] == "10.0.0.9" and h[0]["island"] == "c1" and h[0]["source"] == "event_log" and h[0]["remote"] == "192.0.2.200:80" and h[0]["until"] else 1)' "$out" || echo "  $out"
out=$(gwctl c1 lookup "$ext_a" --at "$T_FLOW")
check "lookup of pod A's port names default/pod-a" contains "$out" "island c1 default/pod-a 10.0.0.5:"
out=$(gwctl c1 --json lookup "$ext_b" --at "$T_AFTER")
check "after the flush nobody holds pod B's port" equals "$(py 'len(json.loads(sys.argv[1])["holders"])' "$out")" 0
out=$(gwctl c1 lookup 203.0.113.5 --at "$T_AFTER")
check "lookup of the address alone: pod A holds 203.0.113.5 (mapping)" contains "$out" "default/pod-a 10.0.0.5 -> 203.0.113.5"
out=$(gwctl c1 lookup "$ext_b" --at "26-11-2026 10:15" 2>&1); rc=$?
check "a bad time is refused (exit 2) with a clear message" bash -c '[ "$1" = 2 ] && grep -q "RFC 3339" <<<"$2"' _ "$rc" "$out"
gwctl c1 lookup 192.0.2.999:80 --at "$T_FLOW" >/dev/null 2>&1; rc=$?
check "a bad address is refused (exit 2)" equals "$rc" 2
# A flow that is live right now is answered from the session table.
in_ns c1-b python3 scripts/lib/udp_echo.py ask 192.0.2.200 7000 again >"$WORK/live.txt"
ext_l=$(grep -o '192\.0\.2\.[0-9]*:[0-9]*' "$WORK/live.txt" | head -n 1)
out=$(gwctl c1 --json lookup "$ext_l" --at "$(now)")
check "lookup --at now of a live flow answers from the live table" contains "$out" '"source": "live"'

# ---- a reload's mapping changes are logged ----
cat >>"$WORK/c1.toml" <<CONF

[[mapping]]
name = "default/pod-b"
island = "c1"
pod = "10.0.0.9"
external = "203.0.113.9"
CONF
gwctl c1 reload >/dev/null
sleep 0.5
check "reload: pod B got 203.0.113.9 (mapping_add)" \
  contains "$(cat "$LOG")" '"event":"mapping_add","island":"c1","namespace":"default","pod":"pod-b","uid":"","pod_ip":"10.0.0.9","external":"203.0.113.9","reason":"apply"'
out=$(gwctl c1 --json lookup 203.0.113.9 --at "$(now)")
check "lookup of pod B's new address names default/pod-b" contains "$out" '"pod": "pod-b"'

# ---- a reload moves the log and the IPFIX export ----
LOG2=$WORK/moved/events.jsonl
bg in_ns c1-gw python3 tests/integration/ipfix_collector.py 127.0.0.1 4740 "$WORK/ipfix2.jsonl"
sleep 0.5
touch "$WORK/a-file"
sed -i "s#^path = .*#path = \"$WORK/a-file/events.jsonl\"#" "$WORK/c1.toml"
out=$(gwctl c1 reload 2>&1); rc=$?
check "reload to an event log path that cannot be opened is refused (exit 1)" equals "$rc" 1
check "the refusal names the path" contains "$out" "a-file/events.jsonl"
sed -i -e "s#^path = .*#path = \"$LOG2\"#" -e 's#^collector = .*#collector = "127.0.0.1:4740"#' \
  -e 's#^observation_domain = .*#observation_domain = 8#' -e 's#^mode = "session"#mode = "port-block"#' \
  -e 's#^listen = "127.0.0.1:9469"#listen = "127.0.0.1:9479"#' "$WORK/c1.toml"
out=$(gwctl c1 reload); rc=$?
T_RELOAD=$(now)
check "reload with a new event log path and collector succeeds" equals "$rc" 0
gwlog=$(cat "$RUN_DIR/c1.log")
check "natgw logs the new event log file" contains "$gwlog" "reload: now event log $LOG2"
check "natgw logs the new collector" contains "$gwlog" "reload: now IPFIX to 127.0.0.1:4740"
check "natgwctl names what needs a restart: the mode, [metrics]" \
  equals "$out" "reloaded; not applied until natgw restarts: [metrics], [event_log] mode"
check "natgw warns about them" \
  contains "$gwlog" "reload: not applied until natgw restarts (the running settings stay): \[met"
udp2=$(in_ns c1-b python3 scripts/lib/udp_echo.py ask 192.0.2.200 7000 moved)
ext_m=$(grep -o '203\.0\.113\.9:[0-9]*' <<<"$udp2" | head -n 1)  # pod B's address now
check "a UDP flow after the reload is answered" test -n "$ext_m"
sleep 1
check "its session_create is in the new file (session mode still)" \
  contains "$(cat "$LOG2" 2>/dev/null)" "\"event\":\"session_create\".*\"external\":\"$ext_m\""
late=$(py 'len([r for r in map(json.loads, open(sys.argv[1])) if r["time"] >= sys.argv[2]])' \
  "$LOG" "$T_RELOAD")
check "the old file got nothing after the reload" equals "$late" 0
m2=$(python3 - "$WORK/ipfix2.jsonl" "$ext_m" <<'PY'
import json, sys
ip, port = sys.argv[2].split(":")
try:
    recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
except OSError:
    recs = []
hit = [r for r in recs if r["fields"].get("230") == 1 and r["fields"].get("225") == ip
       and r["fields"].get("227") == int(port)]
print("ok" if hit and all(r["domain"] == 8 for r in recs) else f"{len(recs)} records, {len(hit)} hits")
PY
)
check "the new collector got its session create, every record in domain 8" equals "$m2" ok
check "the new file starts with the pod addresses held (reason reload)" \
  contains "$(head -n 1 "$LOG2")" '"event":"mapping_add",.*"reason":"reload"'
out=$(gwctl c1 --json lookup 203.0.113.5 --at "$(now)")
check "lookup in the moved log still names pod A's unique address" contains "$out" '"pod": "pod-a"'

# ---- metrics and stats (still at 127.0.0.1:9469: [metrics] needs a restart) ----
m=$(in_ns c1-gw curl -s --max-time 5 http://127.0.0.1:9469/metrics)
check "metrics: records written" contains "$m" '^natgw_event_log_records_total [1-9]'
check "metrics: nothing dropped" contains "$m" '^natgw_event_log_dropped_total{worker="0"} 0$'
check "metrics: IPFIX messages sent" contains "$m" '^natgw_ipfix_messages_total [1-9]'
check "metrics: rotations" contains "$m" '^natgw_event_log_rotations_total [1-9]'
out=$(gwctl c1 show stats)
check "show stats has the event log counters" contains "$out" "dropped"

# ---- offline lookup, without a gateway ----
# A flow live at the stop (the UDP timeout is 2 s: the earlier ones may have ended by now).
in_ns c1-b python3 scripts/lib/udp_echo.py ask 192.0.2.200 7000 last >/dev/null
gw_stop c1; rc=$?
check "natgw c1 exits 0 on SIGTERM" equals "$rc" 0
check "shutdown closes the live flow's span (reason shutdown)" contains "$(cat "$LOG2")" '"reason":"shutdown"'
out=$("$BUILD/gateway/natgwctl" --json lookup "$ext_b" --at "$T_FLOW" --event_log "$LOG")
check "offline lookup --event_log names pod B" python3 -c '
import json, sys
h = json.loads(sys.argv[1])["holders"]
sys.exit(0 if len(h) == 1 and h[0]["pod_ip"] == "10.0.0.9" else 1)' "$out" || echo "  $out"
"$BUILD/gateway/natgwctl" lookup "$ext_b" --at "$T_FLOW" --event_log "$WORK/nothing.jsonl" >/dev/null 2>&1; rc=$?
check "offline lookup of a missing log exits 1" equals "$rc" 1

checks_done
