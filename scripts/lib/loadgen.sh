# natgw-loadgen wiring shared by tests/integration and scripts/bench.sh (sourced). The generator
# is the memif *server* of two sockets in $LG_DIR (in.sock, out.sock) and starts first; natgw,
# dpdk-testpmd or ovs-vswitchd connect to them as clients with one queue pair each (memif pairs
# rings by queue: both ends must agree, DESIGN.md section 7). Every process is stopped by its PID.
#
# Needs: BUILD (the meson build dir), LG_DIR (an empty run directory), LG_TAG (unique per run:
# part of every --file-prefix), LG_NO_HUGE ("--no-huge" or "").
# LG_ZERO_COPY=1 (needs hugepages): natgw and testpmd attach as zero-copy memif clients
# (`zero-copy=yes`, EAL --single-file-segments): they read and send frames in the shared memory
# itself, and only the generator (the server) copies. DPDK 22.11's zero-copy client closes EAL's
# own memory file descriptor once connected, so its second port used to send a stale one now and
# then (the server's "mmap failed: No such device", or SIGBUS) and that link never came up:
# natgw carries its own rte_memseg_get_fd (gateway/memseg_fd.cc), and testpmd gets the same
# preloaded (lg_memseg_fd_preload). lg_link_failed still tells when a link did not come up, and
# the caller starts the run again.

# LG_QUEUES (default 1): queue pairs per port. With N > 1 the generator runs one loop per queue
# pair (--queues=N), natgw one worker per queue and testpmd one forwarding core per queue, all
# on CPUs 0 and 1 (EAL's lcore@cpu maps, lg_lcores_default): a functional wiring for a 2-CPU
# machine, not one to measure with (scripts/device_bench.sh --queues N spreads them out).
LG_QUEUES=${LG_QUEUES:-1}
# lg_lcores_default MAIN_CPU LOOP_CPU: lcore 0 on MAIN_CPU, lcores 1..LG_QUEUES on LOOP_CPU
# (one queue: "0" for the generator, which then has no loop lcore, "0,1" for its peers).
lg_lcores_default() {
  local map="0@$1" k
  if [ "$LG_QUEUES" -le 1 ]; then
    if [ "$1" = "$2" ]; then echo "$1"; else echo "$1,$2"; fi
    return
  fi
  for k in $(seq 1 "$LG_QUEUES"); do map="$map,$k@$2"; done
  echo "$map"
}

# lg_zero_copy: true when natgw and testpmd attach as zero-copy clients this time.
lg_zero_copy() { [ "${LG_ZERO_COPY:-}" = 1 ] && [ -z "${LG_NO_HUGE:-}" ]; }

LG_PID=""
LG_NAME=""  # the run lg_start started last (its result: $LG_DIR/$LG_NAME.json)
PEER_PID=""

# EAL memory arguments of the generator and testpmd: no hugepages, or hugepage files unlinked
# at once so that nothing is left in /dev/hugepages (EAL refuses the two together).
lg_mem_args() { if [ -n "$LG_NO_HUGE" ]; then echo --no-huge; else echo --huge-unlink; fi; }

# Inside: pods 10.0.1.0-10.0.4.255 (1024) x ports 1024-2047 = 1,048,576 flows; outside: remote
# server 198.51.100.10:9 behind next hop 192.0.2.2; natgw's egress pool 203.0.113.0/26.
LG_FLOW_ARGS=(--pod_ips=10.0.1.0-10.0.4.255 --pod_ports=1024-2047 --remote_ips=198.51.100.10
  --remote_ports=9)
LG_POOL=203.0.113.0/26

# lg_natgw_conf FILE MAX_SESSIONS MEMORY_MB: natgw with one worker (lcore 1; control on 0; or
# LG_QUEUES workers),
# inside/outside on the generator's memif sockets, one island, one egress pool.
lg_natgw_conf() {
  local f=$1 max=$2 mem=$3 nohuge=false
  [ -n "$LG_NO_HUGE" ] && nohuge=true
  local zc="" eal_args=""
  if lg_zero_copy; then
    zc="zero-copy=yes,"
    # (natgw adds it itself now (EalArgs in gateway/main.cc); said here for older natgw
    # binaries, which scripts/device_bench.sh can run with DEVBENCH_NATGW)
    eal_args='args = ["--single-file-segments"]'
  fi
  cat >"$f" <<CONF
# Written by scripts/lib/loadgen.sh: natgw between natgw-loadgen's memif sockets.
[gateway]
name = "bench-$LG_TAG"
control_socket = "$LG_DIR/natgw.sock"
idle_sleep_us = 0

[metrics]
enabled = false

[dpdk]
lcores = "$(lg_lcores_default 0 1)"
no_huge = $nohuge
memory_mb = $mem
file_prefix = "natgw-$LG_TAG"
$eal_args

[[interface]]
name = "inside"
device = "net_memif0"
args = "role=client,${zc}socket=$LG_DIR/in.sock"
role = "inside"
island = "c1"
address = "10.0.0.1/16"

[[interface]]
name = "outside"
device = "net_memif1"
args = "role=client,${zc}socket=$LG_DIR/out.sock"
role = "outside"
address = "192.0.2.1/24"

[[island]]
name = "c1"
id = 1
pod_cidrs = ["10.0.0.0/16"]

[[pool]]
name = "c1-egress"
kind = "egress"
island = "c1"
addresses = ["$LG_POOL"]

[[route]]
destination = "0.0.0.0/0"
via = "192.0.2.2"
interface = "outside"

[limits]
max_sessions = $max
CONF
}

# lg_sockets_listening DIR: true once the memif servers' two abstract sockets DIR/in.sock and
# DIR/out.sock exist (memif's default; /proc/net/unix lists them with an "@").
lg_sockets_listening() {
  [ "$(grep -c -e "@$1/in.sock\$" -e "@$1/out.sock\$" /proc/net/unix 2>/dev/null)" -ge 2 ]
}

# lg_start NAME ARGS...: the generator on lcore 0 (or with LG_QUEUES loops) as memif server;
# result in $LG_DIR/NAME.json,
# output in $LG_DIR/NAME.log.
lg_start() {
  local name=$1; shift
  LG_NAME=$name
  rm -f "$LG_DIR/$name.json"
  [ "$LG_QUEUES" -gt 1 ] && set -- --queues="$LG_QUEUES" "$@"
  "$BUILD/perf/loadgen/natgw-loadgen" --json_out="$LG_DIR/$name.json" \
    --linger_s="${LG_LINGER_S:-10}" "$@" -- \
    --lcores="$(lg_lcores_default 0 0)" --file-prefix="lg-$LG_TAG" --no-pci $(lg_mem_args) \
    -m "${LG_MEM_MB:-256}" \
    --log-level=pmd.net.memif:error \
    --vdev="net_memif0,role=server,socket=$LG_DIR/in.sock" \
    --vdev="net_memif1,role=server,socket=$LG_DIR/out.sock" >"$LG_DIR/$name.log" 2>&1 &
  LG_PID=$!
  local i
  for i in $(seq 1 100); do
    lg_sockets_listening "$LG_DIR" && return 0
    kill -0 "$LG_PID" 2>/dev/null || { cat "$LG_DIR/$name.log" >&2; return 1; }
    sleep 0.1
  done
  echo "natgw-loadgen did not create its memif sockets" >&2
  return 1
}

# lg_result: waits until the generator has written its result (or exited).
lg_result() {
  while kill -0 "$LG_PID" 2>/dev/null && [ ! -s "$LG_DIR/$LG_NAME.json" ]; do sleep 0.1; done
}

# lg_wait: waits for the generator's result; returns its exit code. The generator keeps its
# memif sockets open after the result (--linger_s) until its peer has gone: lg_wait stops the
# peer (peer_stop) first, then waits for the generator to exit. (A DPDK 22.11 memif client
# whose server vanishes while it polls can crash: natgw and testpmd both did.)
lg_wait() {
  local rc=0
  lg_result
  if kill -0 "$LG_PID" 2>/dev/null; then peer_stop; fi
  wait "$LG_PID" || rc=$?
  LG_PID=""
  return $rc
}

# peer_natgw CONF: natgw connecting to the generator.
peer_natgw() {
  "$BUILD/gateway/natgw" --config "$1" >"$LG_DIR/natgw.log" 2>&1 &
  PEER_PID=$!
}

# lg_load_start FILE [INTERVAL_S]: samples the worker load of the natgw of lg_natgw_conf (its DPDK
# telemetry socket) into FILE until natgw goes away (perf/worker_load.py), at the lowest CPU
# priority (the two cores are the benchmark's; LG_LOAD_NICE, default 19, sets another), with
# LG_PYTHON (default python3); lg_load_stop ends it.
LOAD_PID=""
lg_load_start() {
  rm -f "$1"
  nice -n "${LG_LOAD_NICE:-19}" "${LG_PYTHON:-python3}" "$ROOT/perf/worker_load.py" sample \
    "/var/run/dpdk/natgw-$LG_TAG/dpdk_telemetry.v2" "$1" --interval "${2:-0.25}" &
  LOAD_PID=$!
}
lg_load_stop() {
  [ -n "$LOAD_PID" ] || return 0
  lg_stop_pid "$LOAD_PID" 30
  LOAD_PID=""
}

# testpmd_mode SCENARIO: testpmd's --forward-mode for a run: touch-* swap the MACs of every
# frame, so testpmd reads and writes each header as natgw does; the ceiling's io forwarding
# never touches a frame.
testpmd_mode() { case "$1" in touch-*) echo macswap ;; *) echo io ;; esac; }

# testpmd_mbufs QUEUES: testpmd's --total-num-mbufs for QUEUES memif queue pairs. A zero-copy
# client fills each RX ring (1024 slots) with its own mbufs: 2 ports x N queues of them, plus
# what is in flight and in the lcore caches. 16384 starved 7 queue pairs (14336 in the rings
# alone: a few queues stalled, the ceiling read 2.6 Mpps against 17.6 with 4).
testpmd_mbufs() { echo $(($1 > 2 ? 4096 * $1 + 8192 : 16384)); }

# lg_memseg_fd_preload: the module that gives a zero-copy memif client its own copy of EAL's
# memory file descriptor (gateway/memseg_fd.cc; natgw has it built in), for LD_PRELOAD; fails,
# saying so, when it is not built.
lg_memseg_fd_preload() {
  local so=$BUILD/gateway/libnatgw-memseg-fd.so
  [ -f "$so" ] || { echo "$so not built (meson compile -C $BUILD natgw-memseg-fd)" >&2; return 1; }
  echo "$so"
}

# peer_testpmd [MODE]: dpdk-testpmd forwarding between the two sockets on lcore 1, in MODE
# (--forward-mode: io, the default, or macswap).
peer_testpmd() {
  local mode=${1:-io} zc="" mem preload=""
  mem=$(lg_mem_args)
  if lg_zero_copy; then
    zc="zero-copy=yes,"
    mem="--single-file-segments --in-memory"  # --huge-unlink cannot go with single-file segments
    preload=$(lg_memseg_fd_preload) || return 1
  fi
  # shellcheck disable=SC2086
  LD_PRELOAD=$preload dpdk-testpmd --lcores="$(lg_lcores_default 0 1)" --file-prefix="tp-$LG_TAG" \
    --no-pci $mem -m 256 \
    --vdev="net_memif0,role=client,${zc}socket=$LG_DIR/in.sock" \
    --vdev="net_memif1,role=client,${zc}socket=$LG_DIR/out.sock" -- \
    --forward-mode="$mode" --auto-start --no-mlockall --stats-period=5 \
    --total-num-mbufs="$(testpmd_mbufs "$LG_QUEUES")" \
    --rxq="$LG_QUEUES" --txq="$LG_QUEUES" --nb-cores="$LG_QUEUES" </dev/null \
    >"$LG_DIR/testpmd.log" 2>&1 &
  PEER_PID=$!
}

# lg_stop_pid PID TENTHS: SIGTERM to a child of this shell, SIGKILL if it is still there after
# TENTHS tenths of a second, then waits for it.
lg_stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  local i
  for i in $(seq 1 "$2"); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# peer_stop: SIGTERM to the peer by PID (SIGKILL after 10 s), then waits for it.
peer_stop() {
  [ -n "$PEER_PID" ] || return 0
  lg_stop_pid "$PEER_PID" 100
  PEER_PID=""
  # testpmd leaves its EAL runtime directory (~3 MiB of tmpfs); natgw and the generator remove
  # their own.
  rm -rf "/var/run/dpdk/tp-$LG_TAG"
}

lg_stop_all() {
  lg_load_stop
  peer_stop
  if [ -n "$LG_PID" ]; then
    kill -TERM "$LG_PID" 2>/dev/null || true
    wait "$LG_PID" 2>/dev/null || true
    LG_PID=""
  fi
}

# lg_link_failed NAME: true when run NAME ended because a memif link never came up.
lg_link_failed() { grep -qs 'did not come up in time' "$LG_DIR/$1.log"; }

# lg_rerun_reason NAME: why run NAME should be started again (prints it), or false. With
# zero-copy clients whose memory file descriptor went stale (see the top; fixed since, kept as a
# safety net), the server maps the wrong memory or none: the link stays down, or the generator
# dies of SIGBUS (no result).
lg_rerun_reason() {
  if lg_link_failed "$1"; then
    echo "memif link did not come up"
  elif [ ! -f "$LG_DIR/$1.json" ] && lg_zero_copy; then
    # (the shell, not the generator's log, says which signal: it is on the bench's output)
    echo "generator died without a result"
  else
    return 1
  fi
}

# lg_in_round_order ROUND CMD NAME...: runs `CMD NAME ROUND` for each NAME, in the given order in
# odd rounds and backwards in even ones, so that each run's place alternates and two runs side
# by side in the list (natgw-1m and ceiling-1m) stay side by side in time.
lg_in_round_order() {
  local round=$1 cmd=$2 i
  shift 2
  local names=("$@")
  if [ $((round % 2)) -eq 1 ]; then
    for ((i = 0; i < ${#names[@]}; i++)); do "$cmd" "${names[i]}" "$round"; done
  else
    for ((i = ${#names[@]} - 1; i >= 0; i--)); do "$cmd" "${names[i]}" "$round"; done
  fi
}

# lg_with_reruns NAME ROUND SAY CMD...: runs CMD (one attempt of run NAME) up to 5 times while
# lg_rerun_reason says the attempt was spoiled (about one zero-copy attempt in four was, before
# gateway/memseg_fd.cc);
# every restart is said with SAY (a command taking the line) and kept in LG_RESTARTS (the last,
# given-up attempt is said but is not a restart).
LG_RESTARTS=()
lg_with_reruns() {
  local name=$1 round=$2 say=$3 try why
  shift 3
  for try in 1 2 3 4 5; do
    "$@"
    why=$(lg_rerun_reason "$name") || return 0
    if [ "$try" -lt 5 ]; then
      LG_RESTARTS+=("$name #$round: $why")
      "$say" "  $name #$round: $why (attempt $try); again"
    else
      "$say" "  $name #$round: $why (attempt $try); giving up, the run counts as failed"
    fi
  done
}

# lg_core_transfer BIN CPU,CPU FILE: appends to FILE how long a cache line takes between the two
# CPUs now (BIN: natgw-core-transfer, perf/core_transfer.cc; ns one way), or '-' when it failed
# or took over 30 s. The benchmarks ask it before and after each natgw and testpmd run.
lg_core_transfer() {
  timeout 30 "$1" --cpus="$2" 2>/dev/null >>"$3" || echo - >>"$3"
}

# lg_json FILE EXPR: a value from a result (python3 expression over `r`).
lg_json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }
