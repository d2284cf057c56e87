#!/usr/bin/env bash
# The system benchmark on a machine without DPDK (no packages, no network): runs the binaries
# and libraries that scripts/device_bundle.sh packed into devbench/, and writes every run's JSON
# and log, results.json and report.md into $OUT (default ./devbench-out).
#
#   bash scripts/device_bench.sh [--quick] [--rounds N] [--only SCENARIO,...] [--queues N]
#
# On the device: carry devbench/ (scripts/device_bundle.sh, ~36 MiB) and run
#   bash scripts/device_bench.sh            (OUT set by the runner; about 250-350 s)
# Here: env -i PATH=/usr/bin:/bin HOME=/root bash scripts/device_bench.sh --quick  (~1 min).
#
# Scenarios (natgw-loadgen as memif server of two sockets; 64-byte UDP both directions):
#   ceiling-1k/-1m  dpdk-testpmd io forwarding in natgw's place   natgw-1k/-1m  natgw (1 worker)
#   touch-1m        dpdk-testpmd macswap: reads and writes every header, as a NAT must
#   natgw-new       every packet a new flow (new flows/s/worker)   natgw-tcp     TCP conn/s
#   natgw-churn     4x the flows against a 1 s UDP timeout (steady churn: creation and expiry)
#   natgw-half      natgw-1m at half of natgw-1m's median rate: latency
# Rounds alternate their order (natgw-1m and ceiling-1m always back to back); medians over
# rounds.
# Cores (16-core target; the n-th CPU of the allowed list): generator 2, testpmd 4 (main) + 5
# (forwarding), natgw 6 (control) + 7 (worker); with fewer than 8 CPUs everything shares lcores 0 and 1.
# --queues N (2..7, needs 2N + 2 CPUs): N memif queue pairs per port, natgw with N workers,
# testpmd with N forwarding cores, natgw-loadgen with N loops (--queues), each with its own
# flows, queue pair and CPU: multi-worker scaling. Generator loops on CPUs 2..N+1 (its main
# lcore on 1), natgw's workers and testpmd's forwarding cores on N+2..2N+1 (their main lcores
# on 0); figures per worker in the report are divided by N.
# Hugepages: reserves 2 MiB pages and mounts hugetlbfs at /dev/hugepages when it can (both undone
# at the end), else every process runs with --no-huge; report.md says which.
# DEVBENCH_NO_HUGE=1 forces --no-huge (to try that path on a machine with hugepages).
# DEVBENCH_NATGW=PATH runs that natgw binary (built here, linked against the bundle's libraries)
# instead of devbench/bin/natgw: calls with --rounds 1 alternating two builds compare them.
# DEVBENCH_TESTPMD_ARGS: more testpmd options (e.g. --burst=64), the same way.
# --quick: 2 rounds of 2 s, 1k and 64k flows (a check that everything runs, not figures).
# --only: the scenarios below by name, plus natgw-half (latency) and table (the table's
# lookups by 1-16 threads); --rounds N: N rounds (default 3 of 5 s).
# Every process is started here and stopped by its PID; the total run is capped at ~470 s (no run starts after 400 s).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
B=$ROOT/devbench
OUT=${OUT:-$ROOT/devbench-out}
T0=$(date +%s)
BUDGET_S=${DEVBENCH_BUDGET_S:-400}

rounds=3; dur=5; bigflows=1048576; half_rounds=3
quick=0; only=""; queues=1
usage="usage: scripts/device_bench.sh [--quick] [--rounds N] [--only SCENARIO,...] [--queues N]"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; rounds=2; dur=2; bigflows=65536; half_rounds=1 ;;
    --rounds) rounds=${2:?$usage}; shift ;;
    --only) only=${2:?$usage}; shift ;;
    --queues) queues=${2:?$usage}; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$B/bin/natgw" ] || { echo "device_bench: $B/bin/natgw missing (run scripts/device_bundle.sh)" >&2; exit 1; }
# DEVBENCH_NATGW: another natgw binary linked against the same bundle (to compare two builds).
NATGW_BIN=${DEVBENCH_NATGW:-$B/bin/natgw}
[ -x "$NATGW_BIN" ] || { echo "device_bench: $NATGW_BIN is not an executable" >&2; exit 1; }
PY=$(command -v python3 || true)
[ -n "$PY" ] || PY=/opt/torch/.venv/bin/python3
[ -x "$PY" ] || { echo "device_bench: no python3" >&2; exit 1; }

mkdir -p "$OUT/runs"
LOG=$OUT/device_bench.log
exec > >(tee -a "$LOG") 2>&1
say() { echo "[$(( $(date +%s) - T0 ))s] $*"; }

# Our binaries only see the bundle (python3 and the shell keep the system's libraries).
# (Started as `LD_LIBRARY_PATH=... binary &`, so that $! is the binary's own PID.)
PMD_ARGS=()
while read -r p; do [ -n "$p" ] && PMD_ARGS+=(-d "$B/lib/$p"); done <"$B/PMDS"

# The CPUs this process may run on (a container's cpuset need not start at 0). DEVBENCH_CPUS
# ("0 1 0 1 0 1"; repeats allowed) replaces the list: to try --queues on a small machine.
CPUS=()
IFS=, read -ra ranges <<<"$(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status)"
for r in "${ranges[@]}"; do
  if [[ $r == *-* ]]; then CPUS+=($(seq "${r%-*}" "${r#*-}")); else CPUS+=("$r"); fi
done
[ -n "${DEVBENCH_CPUS:-}" ] && read -ra CPUS <<<"$DEVBENCH_CPUS"
ncpu=${#CPUS[@]}
[[ $queues =~ ^[1-7]$ ]] || { echo "device_bench: --queues takes 1..7" >&2; exit 2; }
# XFER_NG / XFER_TP: the generator's (first) loop CPU and natgw's (first) worker CPU, or
# testpmd's (first) forwarding CPU, for natgw-core-transfer (core_transfer below).
if [ "$queues" -gt 1 ]; then  # EAL lcore maps: lcore k of each process on the CPU given
  [ "$ncpu" -ge $((2 * queues + 2)) ] ||
    { echo "device_bench: --queues $queues needs $((2 * queues + 2)) CPUs, $ncpu allowed" >&2; exit 2; }
  LG_L="0@${CPUS[1]}"; TP_L="0@${CPUS[0]}"; NG_L="0@${CPUS[0]}"
  for k in $(seq 1 "$queues"); do
    LG_L="$LG_L,$k@${CPUS[1 + k]}"
    TP_L="$TP_L,$k@${CPUS[1 + queues + k]}"
    NG_L="$NG_L,$k@${CPUS[1 + queues + k]}"
  done
  XFER_NG=${CPUS[2]},${CPUS[2 + queues]}; XFER_TP=$XFER_NG
elif [ "$ncpu" -ge 8 ]; then
  LG_L=${CPUS[2]}; TP_L=${CPUS[4]},${CPUS[5]}; NG_L=${CPUS[6]},${CPUS[7]}
  XFER_NG=${CPUS[2]},${CPUS[7]}; XFER_TP=${CPUS[2]},${CPUS[5]}
else
  LG_L=${CPUS[0]}; TP_L=${CPUS[0]},${CPUS[1]}; NG_L=${CPUS[0]},${CPUS[1]}
  XFER_NG=${CPUS[0]},${CPUS[1]}; XFER_TP=$XFER_NG
fi

RUN=$(mktemp -d /tmp/natgw-devbench.XXXXXX)
TAG=db$$
LG_PID=""; PEER_PID=""; LOAD_PID=""
HP_MOUNTED=""; HP_OLD=""
HP_F=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages

# stop_pid PID: SIGTERM, SIGKILL after 10 s, reap (lg_stop_pid of scripts/lib/loadgen.sh, sourced
# below before any process starts); nothing for an empty PID.
stop_pid() { [ -n "$1" ] || return 0; lg_stop_pid "$1" 100; }
# Processes of this run that are still alive: their command line names this run's directory.
leftovers() {
  local d
  for d in /proc/[0-9]*; do
    [ "${d#/proc/}" = "$$" ] && continue
    tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF -e "$RUN/" -e "-$TAG " && echo "${d#/proc/}"
  done
}
cleanup() {
  stop_pid "$LOAD_PID"; LOAD_PID=""
  stop_pid "$PEER_PID"; PEER_PID=""
  stop_pid "$LG_PID"; LG_PID=""
  local p
  for p in $(leftovers); do echo "device_bench: stopping leftover process $p"; stop_pid "$p"; done
  if [ -z "$NO_HUGE" ] && [ -d /dev/hugepages ]; then
    rm -f /dev/hugepages/*"$TAG"* 2>/dev/null || true
  fi
  if [ -n "$HP_MOUNTED" ]; then umount /dev/hugepages 2>/dev/null || true; fi
  if [ -n "$HP_OLD" ]; then echo "$HP_OLD" >"$HP_F" 2>/dev/null || true; fi
  rm -rf "$RUN" /var/run/dpdk/lg-"$TAG" /var/run/dpdk/tp-"$TAG" /var/run/dpdk/natgw-"$TAG"
}
NO_HUGE=--no-huge
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- hugepages --------------------------------------------------------------------------------
hp_mode="no hugepages (--no-huge): "
if [ -n "${DEVBENCH_NO_HUGE:-}" ]; then
  hp_mode+="DEVBENCH_NO_HUGE set"
elif [ "$(id -u)" -eq 0 ] && [ -w "$HP_F" ]; then
  HP_OLD=$(cat "$HP_F")
  want=2048   # 4 GiB: generator 256 MiB + testpmd 256 MiB or natgw 1 GiB, with room
  [ "$HP_OLD" -lt "$want" ] && { echo "$want" >"$HP_F" 2>/dev/null || true; }
  [ "$(cat "$HP_F")" = "$HP_OLD" ] && HP_OLD=""   # nothing changed, nothing to restore
  if ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
    mkdir -p /dev/hugepages 2>/dev/null &&
      mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null && HP_MOUNTED=1
  fi
  free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  if grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts && [ "${free:-0}" -ge 1024 ]; then
    NO_HUGE=""
    hp_mode="2 MiB hugepages ($free free at start, mounted here: ${HP_MOUNTED:-no})"
  else
    hp_mode+="reserving/mounting failed (HugePages_Free=${free:-0}, mounted: $(grep -c hugetlbfs /proc/mounts))"
  fi
else
  hp_mode+="not root or $HP_F not writable"
fi
say "memory: $hp_mode"
THP=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo "not in this kernel")
say "transparent huge pages: $THP"
mem_args() { if [ -n "$NO_HUGE" ]; then echo --no-huge; else echo --huge-unlink; fi; }

# --- the pieces -------------------------------------------------------------------------------
# The flows, pool and natgw conf of scripts/bench.sh (its lg_* process helpers are replaced below:
# here the binaries come from the bundle, the lcores differ and `ss` may be missing).
LG_DIR=$RUN LG_TAG=$TAG LG_PYTHON=$PY
source "$ROOT/scripts/lib/loadgen.sh"
FLOW_ARGS=("${LG_FLOW_ARGS[@]}")
POOL=$LG_POOL

# natgw_conf FILE MAX_SESSIONS MEMORY_MB: scripts/lib/loadgen.sh's conf with this run's lcores.
natgw_conf() {
  LG_NO_HUGE=$NO_HUGE lg_natgw_conf "$@"
  sed -i "s/^lcores = .*/lcores = \"$NG_L\"/" "$1"
}

# lg_start NAME ARGS...: the generator (memif server); waits for its two abstract sockets.
lg_start() {
  local name=$1 i; shift
  rm -f "$RUN/$name.json"
  LG_NAME=$name
  LD_LIBRARY_PATH=$B/lib "$B/bin/natgw-loadgen" --json_out="$RUN/$name.json" --progress=false --link_timeout_s=15 \
    --linger_s=10 --queues="$queues" "$@" -- \
    --lcores="$LG_L" --file-prefix="lg-$TAG" --no-pci $(mem_args) -m 256 "${PMD_ARGS[@]}" \
    --log-level=pmd.net.memif:error \
    --vdev="net_memif0,role=server,socket=$RUN/in.sock" \
    --vdev="net_memif1,role=server,socket=$RUN/out.sock" >"$RUN/$name.log" 2>&1 &
  LG_PID=$!
  for i in $(seq 1 150); do
    lg_sockets_listening "$RUN" && return 0
    kill -0 "$LG_PID" 2>/dev/null || { tail -5 "$RUN/$name.log"; wait "$LG_PID" 2>/dev/null; LG_PID=""; return 1; }
    sleep 0.1
  done
  echo "  natgw-loadgen did not create its memif sockets"; return 1
}

# lg_wait LIMIT_S: waits for the generator's result at most LIMIT_S seconds, stops the peer
# (the generator keeps its memif sockets until the client left, --linger_s: a DPDK 22.11 memif
# client can crash when its server vanishes), then waits for the generator (stopped if it
# does not end).
lg_wait() {
  local limit=$1 i
  for i in $(seq 1 $((limit * 10))); do
    kill -0 "$LG_PID" 2>/dev/null && [ ! -s "$RUN/$LG_NAME.json" ] || break
    sleep 0.1
  done
  if [ ! -s "$RUN/$LG_NAME.json" ] && kill -0 "$LG_PID" 2>/dev/null; then
    echo "  generator gave no result in ${limit}s: stopping the peer, then the generator"
  fi
  stop_pid "$PEER_PID"; PEER_PID=""
  for i in $(seq 1 120); do kill -0 "$LG_PID" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$LG_PID"; LG_PID=""
}

peer_natgw() {
  LD_LIBRARY_PATH=$B/lib "$NATGW_BIN" --config "$RUN/natgw.toml" -- "${PMD_ARGS[@]}" >"$RUN/natgw.log" 2>&1 &
  PEER_PID=$!
}
# natgw and testpmd attach as zero-copy memif clients when hugepages are there (see
# scripts/lib/loadgen.sh: LG_ZERO_COPY); a run whose link never came up is started again.
if [ -z "$NO_HUGE" ]; then LG_ZERO_COPY=1; ZC="zero-copy=yes,"; else LG_ZERO_COPY=""; ZC=""; fi
tp_mem_args() { if [ -n "$ZC" ]; then echo --single-file-segments --in-memory; else mem_args; fi; }
# A zero-copy testpmd gets natgw's rte_memseg_get_fd preloaded (scripts/lib/loadgen.sh).
TP_PRELOAD=$B/lib/libnatgw-memseg-fd.so
# (a bundle from before the module has none: testpmd then runs without it, said once)
tp_preload() { if [ -n "$ZC" ] && [ -f "$TP_PRELOAD" ]; then echo "$TP_PRELOAD"; fi; }
if [ -n "$ZC" ] && [ ! -f "$TP_PRELOAD" ]; then echo "device_bench: no $TP_PRELOAD in the bundle" >&2; fi
peer_testpmd() {  # peer_testpmd [MODE]: io (the ceiling) or macswap (touch-1m)
  LD_PRELOAD=$(tp_preload) LD_LIBRARY_PATH=$B/lib "$B/bin/dpdk-testpmd" --lcores="$TP_L" \
    --file-prefix="tp-$TAG" --no-pci \
    $(tp_mem_args) -m 256 \
    "${PMD_ARGS[@]}" \
    --vdev="net_memif0,role=client,${ZC}socket=$RUN/in.sock" \
    --vdev="net_memif1,role=client,${ZC}socket=$RUN/out.sock" -- \
    --forward-mode="${1:-io}" --auto-start --no-mlockall --stats-period=5 --total-num-mbufs="$(testpmd_mbufs "$queues")" \
    --rxq="$queues" --txq="$queues" --nb-cores="$queues" ${DEVBENCH_TESTPMD_ARGS:-} </dev/null \
    >"$RUN/testpmd.log" 2>&1 &
  PEER_PID=$!
}

keep() {  # keep NAME ROUND [PEERLOG]
  local name=$1 round=$2 peerlog=${3:-}
  if [ -f "$RUN/$name.json" ]; then
    cp "$RUN/$name.json" "$OUT/runs/$name-$round.json"
    say "  $name #$round: $("$PY" - "$RUN/$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
lat = r.get("latency_us", {})
print(f"in2out {r['in2out']['delivered_pps']/1e6:.3f} Mpps, out2in {r['out2in']['delivered_pps']/1e6:.3f} Mpps, "
      f"invalid {r.get('invalid_total')}, p99 {lat.get('p99')} us"
      + (f", tcp {r['tcp']['cps']:.0f} conn/s" if r.get('mode') == 'tcp' else "")
      + (f", error: {r['error']}" if r.get('error') else ""))
PY
)"
  else
    say "  $name #$round: no result"; tail -3 "$RUN/$name.log" | sed 's/^/    /'
  fi
  cp "$RUN/$name.log" "$OUT/runs/$name-$round.log" 2>/dev/null || true
  [ -n "$peerlog" ] && cp "$RUN/$peerlog" "$OUT/runs/$name-$round.$peerlog" 2>/dev/null || true
  cp "$RUN/$name.load" "$OUT/runs/$name-$round.load" 2>/dev/null || true
  rm -f "$RUN/$name.json" "$RUN/$name.load"
}

SKIPPED=()
time_left() { [ $(( $(date +%s) - T0 )) -lt "$BUDGET_S" ]; }
lim() { echo $((dur + 60)); }   # generator limit: warm-up of 1M flows + link-up + duration

# One attempt of each kind of run (lg_with_reruns, scripts/lib/loadgen.sh, starts a spoiled
# one again).
natgw_attempt() {  # natgw_attempt NAME [generator flags]
  local name=$1; shift
  # Each egress flow holds two sessions (the flow and its binding): 2.5 per flow. Churn:
  # 4x the flows against a 1 s UDP timeout, room for all of them.
  if [ "$name" = natgw-churn ]; then
    natgw_conf "$RUN/natgw.toml" $((bigflows * 5)) 1024
    printf '\n[timeouts]\nudp_s = 1\n' >>"$RUN/natgw.toml"
  else
    natgw_conf "$RUN/natgw.toml" $((bigflows * 5 / 2 > 65536 ? bigflows * 5 / 2 : 65536)) 1024
  fi
  if lg_start "$name" --expect_pool="$POOL" "${FLOW_ARGS[@]}" --duration_s="$dur" "$@"; then
    peer_natgw
    # natgw's worker load (the report's "natgw's worker load"); not beside the latency runs
    [ "$name" = natgw-half ] || lg_load_start "$RUN/$name.load"
    lg_wait "$(lim)"
  fi
  stop_pid "$PEER_PID"; PEER_PID=""
  lg_load_stop
}
ceiling_attempt() {  # ceiling_attempt NAME FLOWS
  if lg_start "$1" --noarp --expect_translation=false "${FLOW_ARGS[@]}" --flows="$2" \
       --duration_s="$dur"; then
    peer_testpmd "$(testpmd_mode "$1")"
    lg_wait "$(lim)"
  fi
  stop_pid "$PEER_PID"; PEER_PID=""
}

# How long a cache line takes between the generator's CPU and the forwarder's now
# (perf/core_transfer.cc), into runs/NAME-ROUND.xfer before and after each run, as
# scripts/bench.sh does; '-' where the bundle has no natgw-core-transfer or it failed. (The
# "before" starts the file afresh: $OUT may hold an earlier call's runs.)
core_transfer() {  # core_transfer NAME ROUND CPU,CPU [fresh]
  if [ -n "${4:-}" ]; then rm -f "$OUT/runs/$1-$2.xfer"; fi
  LD_LIBRARY_PATH=$B/lib lg_core_transfer "$B/bin/natgw-core-transfer" "$3" "$OUT/runs/$1-$2.xfer"
}

run_natgw() {  # run_natgw NAME ROUND [generator flags]
  local name=$1 round=$2; shift 2
  time_left || { SKIPPED+=("$name #$round (time budget)"); return; }
  core_transfer "$name" "$round" "$XFER_NG" fresh
  lg_with_reruns "$name" "$round" say natgw_attempt "$name" "$@"
  core_transfer "$name" "$round" "$XFER_NG"
  # What pages natgw's session table got, once (the first run that says).
  if [ -z "${TABLE_PAGES:-}" ]; then
    TABLE_PAGES=$(grep -ho 'session table: .*' "$RUN/natgw.log" 2>/dev/null | head -1)
    [ -n "$TABLE_PAGES" ] && say "  natgw's $TABLE_PAGES"
  fi
  keep "$name" "$round" natgw.log
}
run_ceiling() {  # run_ceiling NAME ROUND FLOWS
  time_left || { SKIPPED+=("$1 #$2 (time budget)"); return; }
  core_transfer "$1" "$2" "$XFER_TP" fresh
  lg_with_reruns "$1" "$2" say ceiling_attempt "$1" "$3"
  core_transfer "$1" "$2" "$XFER_TP"
  keep "$1" "$2" testpmd.log
}

say "$ncpu CPUs; generator lcore $LG_L, testpmd lcores $TP_L, natgw lcores $NG_L; $rounds rounds of ${dur}s; big = $bigflows flows"
siblings() {  # siblings CPU: the CPUs sharing CPU's core (SMT), as the kernel says
  cat "/sys/devices/system/cpu/cpu$1/topology/thread_siblings_list" 2>/dev/null || echo "?"
}
if [ "$queues" -eq 1 ]; then
  TOPO="core siblings: generator ${LG_L}: $(siblings "$LG_L"), natgw worker ${NG_L#*,}: $(siblings "${NG_L#*,}"), testpmd forwarding ${TP_L#*,}: $(siblings "${TP_L#*,}")"
else
  TOPO="core siblings:"
  for c in ${LG_L//,/ } ${NG_L//,/ }; do TOPO="$TOPO ${c#*@}: $(siblings "${c#*@}");"; done
fi
say "$TOPO"

# --- the shared session table: bulk lookups by 1-16 threads at once ---------------------------
# Every worker looks up in the same table, so lookups must scale with the threads doing them
# (the whole gateway with N workers: --queues N).
table_threads=""
if [ -x "$B/bin/natgw_table_bench" ] && { [ -z "$only" ] || [[ ",$only," == *",table,"* ]]; }; then
  say "session table: lookups by 1, 2, 4, 8, 16 threads"
  NATGW_BENCH_EAL_ARGS="--no-huge --no-shconf -m 4096 ${PMD_ARGS[*]}" LD_LIBRARY_PATH=$B/lib \
    timeout 120 "$B/bin/natgw_table_bench" \
    --benchmark_filter='BM_SessionTableLookupBulkThreads|BM_MemoryLatency/(1|8|256)$' \
    --benchmark_min_time=$([ $quick = 1 ] && echo 0.05 || echo 0.5) \
    --benchmark_format=json --benchmark_out="$OUT/table_threads.json" >"$OUT/table_threads.log" 2>&1 ||
    say "  natgw_table_bench failed: $(tail -2 "$OUT/table_threads.log" | tr '\n' ' ')"
  table_threads=$("$PY" - "$OUT/table_threads.json" <<'PY' 2>/dev/null
import json, re, sys
rows, lat = {}, {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    m = re.match(r"BM_SessionTableLookupBulkThreads/(\d+)/real_time/threads:(\d+)$", b["name"])
    if m:
        rows.setdefault(int(m.group(1)), {})[int(m.group(2))] = b["items_per_second"]
    m = re.match(r"BM_MemoryLatency/(\d+)$", b["name"])
    if m and "ns_per_load" in b:
        lat[int(m.group(1))] = b["ns_per_load"] * 1e9
threads = sorted({t for r in rows.values() for t in r})
print("| sessions | " + " | ".join(f"{t} thr" for t in threads) + " |")
print("|---|" + "---|" * len(threads))
for n, r in sorted(rows.items()):
    one = r.get(1)
    cells = [f"{r[t] / 1e6:.0f}M" + (f" ({r[t] / one:.1f}x)" if one and t > 1 else "")
             if t in r else "-" for t in threads]
    print(f"| {n} | " + " | ".join(cells) + " |")
if lat:
    print()
    print("memory latency: " + ", ".join(f"{v:.0f} ns at {k} MiB" for k, v in sorted(lat.items())))
PY
)
  [ -n "$table_threads" ] && echo "$table_threads"
fi
# One run by name.
run_scenario() {
  case "$1" in
    natgw-1k) run_natgw natgw-1k "$2" --flows=1000 ;;
    natgw-1m) run_natgw natgw-1m "$2" --flows="$bigflows" ;;
    natgw-new) run_natgw natgw-new "$2" --mode=udp_new --flows="$bigflows" ;;
    natgw-churn)
      run_natgw natgw-churn "$2" --mode=udp_new --flows=$((bigflows * 4)) --remote_ports=9-12 ;;
    natgw-tcp) run_natgw natgw-tcp "$2" --mode=tcp --flows="$bigflows" ;;
    ceiling-1k) run_ceiling ceiling-1k "$2" 1000 ;;
    ceiling-1m) run_ceiling ceiling-1m "$2" "$bigflows" ;;
    touch-1m) run_ceiling touch-1m "$2" "$bigflows" ;;
    *) echo "device_bench.sh: unknown scenario $1" >&2; exit 1 ;;
  esac
}

# The runs of odd rounds in order; even rounds run them backwards. Either way natgw-1m and
# ceiling-1m run back to back, so the ratio the target is about compares neighbours in time.
order=(natgw-new natgw-churn natgw-tcp natgw-1k natgw-1m ceiling-1m ceiling-1k touch-1m)
if [ -n "$only" ]; then  # --only: those of the list, in the list's order (natgw-half: the latency)
  picked=()
  for n in "${order[@]}"; do [[ ",$only," == *",$n,"* ]] && picked+=("$n"); done
  [[ ",$only," == *",natgw-half,"* ]] || half_rounds=0
  order=("${picked[@]}")
fi
for round in $(seq 1 "$rounds"); do
  say "round $round of $rounds"
  lg_in_round_order "$round" run_scenario "${order[@]}"
done

[ "$half_rounds" -gt 0 ] && half=$("$PY" perf/bench_report.py --half-rate "$OUT/runs" natgw-1m) &&
  say "latency at half of natgw's median 1M-flow rate: $half pps per direction"
for round in $(seq 1 "$half_rounds"); do
  run_natgw natgw-half "$round" --flows="$bigflows" --rate_pps="$half"
done

# --- report -----------------------------------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
"$PY" perf/bench_report.py "$OUT" --rounds "$rounds" --duration "$dur" --workers "$queues" \
  --note "$ncpu CPUs; $cpu; $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-?}"); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" \
  >/dev/null
{
  echo
  echo "## Device run (scripts/device_bench.sh$([ $quick = 1 ] && echo ' --quick'))"
  echo
  echo "- memory: $hp_mode; transparent huge pages: $THP"
  [ -n "${TABLE_PAGES:-}" ] && echo "- natgw's $TABLE_PAGES"
  echo "- lcores: generator $LG_L, testpmd $TP_L (main, forwarding), natgw $NG_L (control, workers); $queues memif queue pair(s) per port"
  echo "- $TOPO"
  echo "- flows: 1k = 1000, 1M = $bigflows; bundle commit $(cat "$B/COMMIT" 2>/dev/null || echo '?'); wall time $(( $(date +%s) - T0 )) s"
  [ "$queues" -eq 1 ] && echo "- one natgw worker; \`--queues N\` runs N workers against N generator loops and N testpmd forwarding cores"
  [ "${#SKIPPED[@]}" -gt 0 ] && echo "- skipped for the time budget: ${SKIPPED[*]}"
  if [ -n "$table_threads" ]; then
    echo
    echo "Session table, bulk lookups (32 keys) by N threads at once, lookups/s in all (speed-up over"
    echo "one thread); \`natgw_table_bench --benchmark_filter=BM_SessionTableLookupBulkThreads\`:"
    echo
    echo "$table_threads"
  fi
  echo
  "$PY" - "$OUT/results.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["scenarios"]
print("| ratio natgw/ceiling | in2out | out2in |")
print("|---|---|---|")
for n in ("1k", "1m"):
    a, c = s.get("natgw-" + n, {}), s.get("ceiling-" + n, {})
    def r(k):
        return f"{a[k] / c[k]:.2f}" if a.get(k) and c.get(k) else "-"
    print(f"| {n} flows | {r('in2out_mpps')} | {r('out2in_mpps')} |")
PY
} >>"$OUT/report.md"
say "report: $OUT/report.md"
cat "$OUT/report.md"
