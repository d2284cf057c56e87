#!/usr/bin/env bash
# natgw-loadgen against the real thing, a few seconds each (root; memif sockets, no hugepages
# but for the last part): dpdk-testpmd io forwarding (the ceiling wiring; sources must arrive
# unchanged), natgw with UDP flows (every translation checked: in the egress pool, checksums
# valid, stable per flow; replies back at the right pod) and natgw with TCP connections; two
# queue pairs; natgw as memif client of a server that restarts, and as memif server; natgw and
# testpmd as zero-copy clients (hugepages).
# Usage: loadgen_smoke_test.sh BUILD_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
LG_DIR=$(mktemp -d /tmp/natgw-lg-smoke.XXXXXX)
LG_TAG=smoke$$
LG_NO_HUGE=--no-huge
source "$ROOT/scripts/lib/checks.sh"
source "$ROOT/scripts/lib/loadgen.sh"
trap 'lg_stop_all; rm -rf "$LG_DIR"' EXIT

no_invalid_both_ways() {
  local j=$1
  [ -f "$j" ] || { echo "  no result $j"; return 1; }
  local v
  v=$(lg_json "$j" 'r["invalid_total"] == 0 and r["in2out"]["delivered"] > 0 and r["out2in"]["delivered"] > 0 and r["error"] == ""')
  [ "$v" = True ] || { echo "  result: $(head -c 1500 "$j")"; return 1; }
}

echo "== testpmd io forwarding"
lg_start testpmd --noarp --expect_translation=false --flows=1000 --duration_s=2 --rate_pps=200000 \
  --warmup_pps=0 "${LG_FLOW_ARGS[@]}"
peer_testpmd
rc=0; lg_wait || rc=$?
peer_stop
check "testpmd: generator exit 0" equals "$rc" 0
check "testpmd: nothing invalid, delivered both ways" no_invalid_both_ways "$LG_DIR/testpmd.json"

echo "== natgw, UDP, 1000 flows"
lg_natgw_conf "$LG_DIR/natgw.toml" 65536 256
lg_start natgw-udp --expect_pool="$LG_POOL" --flows=1000 --duration_s=3 --rate_pps=200000 \
  --frame_size=imix "${LG_FLOW_ARGS[@]}"
peer_natgw "$LG_DIR/natgw.toml"
# At normal priority: at nice 19 (the benchmark's) beside the two busy-polling processes the
# sampler can go a whole run without a turn (it did once, the machine busy).
LG_LOAD_NICE=0 lg_load_start "$LG_DIR/natgw-udp.load" 0.1
rc=0; lg_wait || rc=$?
lg_load_stop
grep -v '^EAL\|^TELEMETRY' "$LG_DIR/natgw-udp.log" | tail -4 || true
check "natgw udp: generator exit 0" equals "$rc" 0
check "natgw udp: nothing invalid, delivered both ways" no_invalid_both_ways "$LG_DIR/natgw-udp.json"
# natgw's worker load over the measured seconds (what scripts/bench.sh reports): some loops
# received frames, but at 200 kpps most found none.
busy=$(python3 "$ROOT/perf/worker_load.py" busy "$LG_DIR/natgw-udp.load" \
  "$LG_DIR/natgw-udp.json") || busy=-
if [ "$busy" = - ]; then  # what the samples covered, against the generator's measured seconds
  echo "  load samples (count, first, last): $(awk 'NR == 1 {f = $1} END {print NR, f, $1}' \
    "$LG_DIR/natgw-udp.load" 2>/dev/null || echo none);" \
    "run (start, seconds): $(lg_json "$LG_DIR/natgw-udp.json" 'r["start_unix"], r["seconds"]')"
fi
check "natgw udp: worker load sampled over the measured seconds, busy ${busy} (0 < busy < 0.8)" \
  python3 -c "import sys; b = float(sys.argv[1]); sys.exit(not 0 < b < 0.8)" "$busy"
# Every pod (LG_FLOW_ARGS: 1024 of them) asked for the gateway's MAC before the first packet,
# and the gateway answered each: it learned the pods from their requests, so no reply had to
# wait for ARP.
check "natgw udp: every pod announced itself, the gateway answered each" test \
  "$(lg_json "$LG_DIR/natgw-udp.json" 'int(r["pods_announced"] == 1024 and r["arp_gateway_replies"] >= 1024)')" = 1

echo "== natgw, TCP connections (a fresh natgw)"
lg_stop_all
lg_start natgw-tcp --mode=tcp --expect_pool="$LG_POOL" --flows=20000 --duration_s=2 \
  --rate_pps=10000 "${LG_FLOW_ARGS[@]}"
peer_natgw "$LG_DIR/natgw.toml"
rc=0; lg_wait || rc=$?
peer_stop
grep -v '^EAL\|^TELEMETRY' "$LG_DIR/natgw-tcp.log" | tail -3 || true
check "natgw tcp: generator exit 0" equals "$rc" 0
check "natgw tcp: nothing invalid, delivered both ways" no_invalid_both_ways "$LG_DIR/natgw-tcp.json"
check "natgw tcp: connections completed" test "$(lg_json "$LG_DIR/natgw-tcp.json" 'r["tcp"]["completed"]')" -gt 1000

# Every packet a new flow, as fast as the generator goes: natgw's slow path is slower than the
# generator, so the inside ring fills and refused requests wait for the next burst. One pass
# sends each flow's request exactly once, none skipped, none twice.
echo "== natgw, every packet a new flow, unlimited rate (a fresh natgw)"
lg_stop_all
lg_start natgw-new --mode=udp_new --expect_pool="$LG_POOL" --flows=20000 "${LG_FLOW_ARGS[@]}"
peer_natgw "$LG_DIR/natgw.toml"
rc=0; lg_wait || rc=$?
peer_stop
grep '^natgw-loadgen:' "$LG_DIR/natgw-new.log" || true
check "natgw new flows: generator exit 0" equals "$rc" 0
check "natgw new flows: nothing invalid, delivered both ways" \
  no_invalid_both_ways "$LG_DIR/natgw-new.json"
refused=$(lg_json "$LG_DIR/natgw-new.json" 'r["in2out"]["tx_full"]' 2>/dev/null || echo 0)
check "natgw new flows: the inside ring was full at times (port refused $refused tries)" \
  test "$refused" -gt 0
check "natgw new flows: each of the 20000 requests offered once" \
  equals "$(lg_json "$LG_DIR/natgw-new.json" 'r["in2out"]["offered"]' 2>/dev/null)" 20000

# TCP at unlimited rate: natgw's connection setup is slower than the generator's SYNs, so the
# inside ring fills. Refused SYNs wait, and so do refused handshake answers, which go before new
# SYNs: each connection is opened once, the generator drops none of its answers, and (but for
# what natgw itself may drop when the generator falls behind) every connection completes. The
# generator used to free refused answers: half the connections never completed.
echo "== natgw, TCP connections, unlimited rate (a fresh natgw)"
lg_stop_all
lg_start natgw-tcp-max --mode=tcp --expect_pool="$LG_POOL" --flows=20000 "${LG_FLOW_ARGS[@]}"
peer_natgw "$LG_DIR/natgw.toml"
rc=0; lg_wait || rc=$?
peer_stop
grep '^natgw-loadgen:' "$LG_DIR/natgw-tcp-max.log" || true
j=$LG_DIR/natgw-tcp-max.json
check "natgw tcp unlimited: generator exit 0" equals "$rc" 0
check "natgw tcp unlimited: nothing invalid, delivered both ways" no_invalid_both_ways "$j"
refused=$(lg_json "$j" 'r["in2out"]["tx_full"]' 2>/dev/null || echo 0)
check "natgw tcp unlimited: the inside ring was full at times (port refused $refused tries)" \
  test "$refused" -gt 0
check "natgw tcp unlimited: each of the 20000 connections opened once" \
  equals "$(lg_json "$j" 'r["tcp"]["opened"]' 2>/dev/null)" 20000
check "natgw tcp unlimited: no answer dropped by the generator" \
  equals "$(lg_json "$j" 'r["in2out"]["tx_dropped"] + r["out2in"]["tx_dropped"]' 2>/dev/null)" 0
completed=$(lg_json "$j" 'r["tcp"]["completed"]' 2>/dev/null || echo 0)
check "natgw tcp unlimited: $completed of 20000 connections completed (at least 19000)" \
  test "$completed" -ge 19000

# Two queue pairs per port: the generator's two loops (one per queue, each with half the flows),
# natgw with two workers, testpmd with two forwarding cores (all on this machine's two CPUs:
# a wiring check, not a measurement).
each_loop_both_ways() {
  local v
  # Each loop's flows went out and came back, and only to that loop: its queue pair alone.
  v=$(lg_json "$1" 'int(len(r["loops"]) == 2 and all(l["in2out"]["delivered"] > 0 and l["out2in"]["delivered"] > 0 and l["other_loop_frames"] == 0 for l in r["loops"]) and r["other_loop_frames"] == 0)')
  [ "$v" = 1 ] || { echo "  loops: $(grep -o '"loops": .*"timeline"' "$1" | head -c 1500)"; return 1; }
}
echo "== two queue pairs: testpmd with two forwarding cores, natgw with two workers"
lg_stop_all
LG_QUEUES=2
lg_start testpmd-2q --noarp --expect_translation=false --flows=1000 --duration_s=2 \
  --rate_pps=100000 --warmup_pps=0 "${LG_FLOW_ARGS[@]}"
peer_testpmd
rc=0; lg_wait || rc=$?
check "testpmd, 2 queues: generator exit 0" equals "$rc" 0
check "testpmd, 2 queues: nothing invalid, delivered both ways" no_invalid_both_ways "$LG_DIR/testpmd-2q.json"
check "testpmd, 2 queues: each generator loop's flows went through and back" \
  each_loop_both_ways "$LG_DIR/testpmd-2q.json"
lg_natgw_conf "$LG_DIR/natgw-2w.toml" 65536 256
lg_start natgw-2q --expect_pool="$LG_POOL" --flows=1000 --duration_s=2 --rate_pps=100000 \
  "${LG_FLOW_ARGS[@]}"
peer_natgw "$LG_DIR/natgw-2w.toml"
rc=0; lg_wait || rc=$?
check "natgw, 2 workers: started with two workers" grep -q "running: 2 workers" "$LG_DIR/natgw.log"
check "natgw, 2 workers: generator exit 0" equals "$rc" 0
check "natgw, 2 workers: nothing invalid, delivered both ways" no_invalid_both_ways "$LG_DIR/natgw-2q.json"
# Loop k sends and receives on queue k only, which natgw's worker k alone serves.
check "natgw, 2 workers: each worker translated its queue's flows both ways" \
  each_loop_both_ways "$LG_DIR/natgw-2q.json"
# TCP on two loops: each loop counts its own open connections (at most 4,096), and completes
# them on its own queue pair.
lg_start natgw-2q-tcp --mode=tcp --expect_pool="$LG_POOL" --flows=20000 --rate_pps=40000 \
  "${LG_FLOW_ARGS[@]}"
peer_natgw "$LG_DIR/natgw-2w.toml"
rc=0; lg_wait || rc=$?
j=$LG_DIR/natgw-2q-tcp.json
check "natgw tcp, 2 workers: generator exit 0" equals "$rc" 0
check "natgw tcp, 2 workers: nothing invalid, delivered both ways" no_invalid_both_ways "$j"
check "natgw tcp, 2 workers: each loop's connections went through and back" \
  each_loop_both_ways "$j"
completed=$(lg_json "$j" 'r["tcp"]["completed"]' 2>/dev/null || echo 0)
check "natgw tcp, 2 workers: 20000 connections opened, $completed completed (at least 19000)" \
  test "$(lg_json "$j" 'r["tcp"]["opened"]' 2>/dev/null)" = 20000 -a "$completed" -ge 19000
LG_QUEUES=1
rc=0
out=$("$BUILD/perf/loadgen/natgw-loadgen" --queues=2 -- -l 0 --file-prefix="lgq-$LG_TAG" \
  --no-pci --no-huge -m 64 --vdev=net_null0 --vdev=net_null1 2>&1) || rc=$?
check "--queues=2 without the lcores for it: exit 2" equals "$rc" 2
check "--queues=2 without the lcores for it: says what to give" \
  grep -q "needs 2 worker lcores besides the main one" <<<"$out"

# A memif peer that leaves while natgw polls the shared rings can crash natgw (DPDK 22.11 unmaps
# them under the worker; README "Behaviour worth knowing"): in these two parts natgw sleeps when
# idle (idle_sleep_us), as it is when a peer leaves, so that it is seldom inside the driver then.
echo "== natgw as memif client: its server (the generator) gone, then another"
lg_stop_all
sed 's/^idle_sleep_us = 0$/idle_sleep_us = 200/' "$LG_DIR/natgw.toml" >"$LG_DIR/natgw-idle.toml"
lg_start server-1 --expect_pool="$LG_POOL" --flows=1000 --duration_s=1 --rate_pps=200000 \
  --linger_s=0 "${LG_FLOW_ARGS[@]}"
peer_natgw "$LG_DIR/natgw-idle.toml"
rc=0; lg_result; wait "$LG_PID" || rc=$?; LG_PID=""
check "natgw as client, generator 1 as server: exit 0" equals "$rc" 0
sleep 3  # natgw finds the link down and tries to connect again (no server: retried)
lg_start server-2 --expect_pool="$LG_POOL" --flows=1000 --duration_s=1 --rate_pps=200000 \
  --link_timeout_s=20 "${LG_FLOW_ARGS[@]}"
rc=0; lg_result; kill -0 "$PEER_PID" 2>/dev/null && natgw_alive=1 || natgw_alive=0
lg_wait || rc=$?
check "natgw as client, generator 2 (a new server): exit 0" equals "$rc" 0
check "natgw as client, generator 2: nothing invalid, delivered both ways" \
  no_invalid_both_ways "$LG_DIR/server-2.json"
check "natgw as client outlived its first server" equals "$natgw_alive" 1
check "natgw as client: logged the link down and its restart" \
  grep -q "inside (net_memif0): memif link down for .* port restarted to reconnect" \
  "$LG_DIR/natgw.log"
check "natgw as client: logged the link up again" \
  grep -q "inside (net_memif0): memif link up again after" "$LG_DIR/natgw.log"

# As the server, natgw takes a restarted client back.
echo "== natgw as memif server: one generator, gone, then another"
lg_stop_all
sed 's/role=client,/role=server,/' "$LG_DIR/natgw-idle.toml" >"$LG_DIR/natgw-server.toml"
peer_natgw "$LG_DIR/natgw-server.toml"
for _ in $(seq 1 100); do lg_sockets_listening "$LG_DIR" && break; sleep 0.1; done
for run in 1 2; do
  rc=0
  timeout 60 "$BUILD/perf/loadgen/natgw-loadgen" --json_out="$LG_DIR/client-$run.json" \
    --expect_pool="$LG_POOL" --flows=1000 --duration_s=1 --rate_pps=200000 --link_timeout_s=15 \
    "${LG_FLOW_ARGS[@]}" -- -l 0 --file-prefix="lgc-$LG_TAG" --no-pci --no-huge -m 256 \
    --vdev="net_memif0,role=client,socket=$LG_DIR/in.sock" \
    --vdev="net_memif1,role=client,socket=$LG_DIR/out.sock" >"$LG_DIR/client-$run.log" 2>&1 || rc=$?
  check "natgw as server, generator $run as client: exit 0" equals "$rc" 0
  check "natgw as server, generator $run: nothing invalid, delivered both ways" \
    no_invalid_both_ways "$LG_DIR/client-$run.json"
done
check "natgw as memif server outlived both clients" kill -0 "$PEER_PID"
peer_stop
# Zero-copy memif clients (hugepages): DPDK 22.11's client closes EAL's own memory file
# descriptor once it has connected (gateway/memseg_fd.cc), so before natgw carried its own
# rte_memseg_get_fd, the second port sent a stale one about one start in four and its link never
# came up (or the generator died of SIGBUS). Every start must come up now, and natgw must still
# hold its hugepage file after both links did; testpmd gets the same preloaded.
holds_hugepage_file() {  # holds_hugepage_file PID FILE_PREFIX
  ls -l "/proc/$1/fd" 2>/dev/null | grep -q "/dev/hugepages/$2map_" ||
    { echo "  open: $(ls -l "/proc/$1/fd" | awk '{print $NF}' | tr '\n' ' ')"; return 1; }
}
# (natgw or testpmd 256 MiB, the generator 256 MiB)
if [ "$("$ROOT/scripts/hugepages.sh" 512)" = ok ] &&
  [ "$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)" -ge 256 ]; then
  lg_stop_all
  LG_NO_HUGE=""
  LG_ZERO_COPY=1
  lg_natgw_conf "$LG_DIR/natgw-zc.toml" 65536 256
  # natgw gives EAL --single-file-segments for a zero-copy port itself (the conf need not).
  sed -i '/single-file-segments/d' "$LG_DIR/natgw-zc.toml"
  for run in 1 2 3; do
    echo "== zero-copy memif: natgw, start $run of 3"
    lg_start "natgw-zc-$run" --expect_pool="$LG_POOL" --flows=1000 --duration_s=1 \
      --rate_pps=200000 --link_timeout_s=10 "${LG_FLOW_ARGS[@]}"
    peer_natgw "$LG_DIR/natgw-zc.toml"
    lg_result
    check "zero-copy natgw, start $run: both links up, nothing invalid, delivered both ways" \
      no_invalid_both_ways "$LG_DIR/natgw-zc-$run.json"
    check "zero-copy natgw, start $run: natgw still holds its hugepage file" \
      holds_hugepage_file "$PEER_PID" "natgw-$LG_TAG"
    check "zero-copy natgw, start $run: EAL ran with --single-file-segments" \
      grep -q "EAL natgw .*--single-file-segments" "$LG_DIR/natgw.log"
    rc=0; lg_wait || rc=$?
    check "zero-copy natgw, start $run: generator exit 0" equals "$rc" 0
  done
  for run in 1 2 3; do
    echo "== zero-copy memif: testpmd (preloaded), start $run of 3"
    lg_start "testpmd-zc-$run" --noarp --expect_translation=false --flows=1000 --duration_s=1 \
      --rate_pps=200000 --warmup_pps=0 --link_timeout_s=10 "${LG_FLOW_ARGS[@]}"
    peer_testpmd
    rc=0; lg_wait || rc=$?
    check "zero-copy testpmd, start $run: generator exit 0" equals "$rc" 0
    check "zero-copy testpmd, start $run: both links up, delivered both ways" \
      no_invalid_both_ways "$LG_DIR/testpmd-zc-$run.json"
  done
  peer_stop
else
  echo "SKIP zero-copy memif: not 256 free 2 MiB hugepages (scripts/hugepages.sh)"
fi

# Each DPDK process of this test (generators, testpmd, natgw) is gone with its EAL runtime
# directory (DPDK leaves ~3 MiB of tmpfs behind per process otherwise).
left=$(ls /var/run/dpdk 2>/dev/null | grep -e "-$LG_TAG\$" || true)
check "no EAL runtime directory left in /var/run/dpdk (${left:-none})" test -z "$left"
checks_done
