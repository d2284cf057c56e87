#!/usr/bin/env bash
# The system benchmark (README "Benchmarking"): natgw with one worker on one core and
# natgw-loadgen on the other, connected by memif, through these scenarios, in alternating rounds:
#   natgw-1k / natgw-1m   established UDP flows, 64-byte frames, both directions, max rate
#   natgw-1m-copy         natgw-1m on copying memif (the wiring Open vSwitch gets)
#   natgw-new             every packet a new flow (1M flows, one pass): new flows/s per worker
#   natgw-churn           4M new flows against a 1 s UDP timeout: the table holds about a second
#                         of flows (~1M) while the sweep frees the oldest (steady churn)
#   natgw-tcp             TCP connections (SYN..FIN) on new flows: connections/s per worker
#   ceiling-1k / -1m      dpdk-testpmd io forwarding in natgw's place (same generator, wiring)
#   ceiling-1m-copy       ceiling-1m on copying memif (natgw-1m-copy's wiring)
#   touch-1m              dpdk-testpmd macswap, 1M flows: a forwarder that reads and writes
#                         every header, as any NAT must (reference, no target)
#   ovs-1k / ovs-1m       Open vSwitch DPDK (netdev datapath, one PMD) with ct(commit,nat(src=))
#   kernel-1k / -1m       Linux nftables SNAT in a namespace, fed through net_af_packet on veths
#   natgw-half            natgw-1m at half of natgw-1m's median rate: latency
# Writes bench-results/<date>/report.md, results.json, PNG plots and every run's JSON and log.
#
#   scripts/bench.sh [--quick] [--rounds N] [--only natgw,ceiling,ovs,kernel] [--ovs-zero-copy]
# --only also takes scenario names (e.g. --only natgw-1m,ceiling-1m: only those runs).
# --quick: 3 rounds of 3 s (default 5 rounds of 10 s). Needs root and 2 cores (uses lcores 0, 1).
# --ovs-zero-copy: Open vSwitch attaches as a zero-copy memif client too (as natgw-1m does; with
# the preload module of gateway/memseg_fd.cc, its link comes up), and the 3x target compares
# natgw-1m with it; without, Open vSwitch copies and natgw-1m-copy is compared.
# Everything it starts is stopped by PID, the namespace and OVS's private database removed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

rounds=5; dur=10; only="natgw,ceiling,ovs,kernel"; OVS_ZC=""
usage="usage: scripts/bench.sh [--quick] [--rounds N] [--only natgw,ceiling,ovs,kernel] [--ovs-zero-copy]"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) rounds=3; dur=3 ;;
    --rounds) rounds=$2; shift ;;
    --only) only=$2; shift ;;
    --ovs-zero-copy) OVS_ZC=1 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "bench.sh: run as root" >&2; exit 1; }
# The groups, each in the order of odd rounds: even rounds run the groups and the runs within
# each group backwards, so natgw-1m and ceiling-1m (the 0.8x target) always run one after the
# other, and every scenario's position alternates.
declare -A group=(
  [natgw]="natgw-1k natgw-new natgw-churn natgw-tcp natgw-1m-copy natgw-1m"
  [ceiling]="ceiling-1m touch-1m ceiling-1k ceiling-1m-copy"
  [ovs]="ovs-1k ovs-1m"
  [kernel]="kernel-1k kernel-1m"
)
want() { [[ ",$only," == *",$1,"* ]]; }
# runs_of GROUP: the group's scenarios that this run includes (all, or those named in --only).
runs_of() {
  local r
  for r in ${group[$1]}; do
    if want "$1" || want "$r"; then echo "$r"; fi
  done
}
for o in ${only//,/ }; do
  known=""
  for g in "${!group[@]}"; do
    if [ "$o" = "$g" ] || [[ " ${group[$g]} " == *" $o "* ]]; then known=1; fi
  done
  [ -n "$known" ] || { echo "bench.sh: --only: no group or scenario '$o'" >&2; echo "$usage" >&2; exit 2; }
done

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "dependencies (build and test ones, then the benchmark's own)"
scripts/install-deps.sh
bench_pkgs=(openvswitch-switch-dpdk nftables python3-matplotlib)
missing=()
for p in "${bench_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

step "release build (link-time optimization, -march=native)"
# Tuned for this machine's CPU, as DPDK builds itself by default; the binaries in build-bench/
# need this CPU. BENCH_BUILD=build reuses another build (a debugoptimized one is slower).
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" --buildtype=release -Db_lto=true -Dnative=true -Dwerror=true >/dev/null
elif [ -z "${BENCH_BUILD:-}" ]; then
  meson configure "$BUILD" -Db_lto=true -Dnative=true >/dev/null
fi
# (build.ninja first: a build directory set up before a target was added regenerates itself,
# where meson compile would refuse the new target's name)
ninja -C "$BUILD" build.ninja >&2
meson compile -C "$BUILD" natgw natgw-loadgen natgw_table_bench natgw-memseg-fd \
  natgw-core-transfer

step "hugepages"
LG_NO_HUGE=""
if [ "$(scripts/hugepages.sh 1024)" != ok ]; then
  echo "no hugepages: running everything with --no-huge (slower)"
  LG_NO_HUGE=--no-huge
  OVS_ZC=""  # (zero-copy needs hugepages)
fi

OUT=$ROOT/bench-results/$(date -u +%Y-%m-%d-%H%M%S)
mkdir -p "$OUT/runs"

step "memory latency"
# A random load within the caches, at 8 MiB and far beyond them: each session-table lookup of
# the 1M-flow runs misses twice (bucket, session). Only a figure for the report: a failure here
# says so there and stops nothing.
"$BUILD/perf/natgw_table_bench" --benchmark_filter='BM_MemoryLatency/(1|8|256)$' \
  --benchmark_format=json --benchmark_out="$OUT/memory_latency.json" >/dev/null || true
mem_latency=$(/usr/bin/python3 -c '
import json, sys
b = {x["name"]: x.get("ns_per_load") for x in json.load(open(sys.argv[1]))["benchmarks"]}
ns = [b.get("BM_MemoryLatency/%d" % m) for m in (1, 8, 256)]  # seconds per load
if None in ns:
    sys.exit(1)
print("%.0f ns within 1 MiB, %.0f ns at 8 MiB, %.0f ns over 256 MiB" % tuple(x * 1e9 for x in ns))
' "$OUT/memory_latency.json" 2>/dev/null) || mem_latency="not measured (natgw_table_bench failed)"
echo "$mem_latency"
LG_DIR=$(mktemp -d /tmp/natgw-bench.XXXXXX)
LG_TAG=bench$$
LG_MEM_MB=192
NS=natgw-bench-$$
OVS_DIR=$LG_DIR/ovs
OVSDB_PID=""
source scripts/lib/loadgen.sh
OVS_PRELOAD=""
if [ -n "$OVS_ZC" ]; then OVS_PRELOAD=$(lg_memseg_fd_preload); fi

cleanup() {
  lg_stop_all
  ovs_down
  kernel_down
  rm -rf "$LG_DIR"
  # EAL runtime directories of processes that did not end cleanly (each removes its own), and
  # Open vSwitch's, which it leaves behind like testpmd.
  rm -rf "/var/run/dpdk/lg-$LG_TAG" "/var/run/dpdk/tp-$LG_TAG" "/var/run/dpdk/natgw-$LG_TAG" \
    "/var/run/dpdk/ovs-$LG_TAG"
  # natgw removes its hugepage files when it exits; one that crashed (see perf/README: a memif
  # peer vanishing under traffic) leaves them.
  local mnt
  for mnt in $(awk '$3 == "hugetlbfs" {print $2}' /proc/mounts); do
    rm -f "$mnt/natgw-${LG_TAG}map_"* 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The result of one run is copied to $OUT/runs/SCENARIO-ROUND.json (and .log).
keep() {
  local name=$1 round=$2
  cp "$LG_DIR/$name.json" "$OUT/runs/$name-$round.json" 2>/dev/null || echo "  $name: no result"
  cp "$LG_DIR/$name.log" "$OUT/runs/$name-$round.log" 2>/dev/null || true
  cp "$LG_DIR/$name.load" "$OUT/runs/$name-$round.load" 2>/dev/null || true
  [ -f "$LG_DIR/$name.json" ] && grep '^natgw-loadgen:' "$LG_DIR/$name.log" | sed "s/^/  $name #$round /" || true
}

flows_of() { case "$1" in *-1k) echo 1000 ;; *) echo 1048576 ;; esac; }

# natgw and testpmd attach as zero-copy memif clients when hugepages are there (see
# scripts/lib/loadgen.sh); a run whose link never came up, or whose generator died of SIGBUS
# (a DPDK 22.11 memif bug with zero-copy clients: a quarter of the runs before
# gateway/memseg_fd.cc worked around it), is started again, at most 4 times, and the report
# lists every restart.
LG_ZERO_COPY=1
LINK_TIMEOUT=(--link_timeout_s=15)

# 1M egress flows hold 2M sessions (each flow and its endpoint-independent binding): room for
# both with a quarter to spare, so no run measures a full table.
NATGW_MAX_SESSIONS=2621440

# One attempt of each kind of run (lg_with_reruns starts a spoiled one again).
natgw_attempt() {  # natgw_attempt SCENARIO [generator flags]
  local name=$1; shift
  if [ "$name" = natgw-churn ]; then
    # 4M flows, each with a binding that outlives it by a timeout: room for all of them, so
    # the run measures creation and expiry, not a full table.
    lg_natgw_conf "$LG_DIR/natgw.toml" 5242880 512
    printf '\n[timeouts]\nudp_s = 1\n' >>"$LG_DIR/natgw.toml"
  else
    lg_natgw_conf "$LG_DIR/natgw.toml" "$NATGW_MAX_SESSIONS" 512
  fi
  lg_start "$name" --expect_pool="$LG_POOL" "${LG_FLOW_ARGS[@]}" --duration_s="$dur" \
    "${LINK_TIMEOUT[@]}" "$@" || true
  peer_natgw "$LG_DIR/natgw.toml"
  # natgw's worker load (the report's "natgw's worker load"); not beside the latency runs
  [ "$name" = natgw-half ] || lg_load_start "$LG_DIR/$name.load"
  lg_wait || true
  peer_stop
  lg_load_stop
}
ceiling_attempt() {  # ceiling_attempt SCENARIO
  lg_start "$1" --noarp --expect_translation=false "${LG_FLOW_ARGS[@]}" \
    --flows="$(flows_of "$1")" --duration_s="$dur" "${LINK_TIMEOUT[@]}" || true
  peer_testpmd "$(testpmd_mode "$1")"
  lg_wait || true
  peer_stop
}

# How long a cache line takes between lcores 0 and 1 now (perf/core_transfer.cc, ns one way),
# appended to runs/SCENARIO-ROUND.xfer: asked before and after each natgw and testpmd run, so
# the report can say whether the host ran the two vCPUs close together for it.
core_transfer() {  # core_transfer SCENARIO ROUND
  lg_core_transfer "$BUILD/perf/natgw-core-transfer" 0,1 "$OUT/runs/$1-$2.xfer"
}

run_natgw() {  # run_natgw SCENARIO ROUND [generator flags]
  local name=$1 round=$2; shift 2
  core_transfer "$name" "$round"
  # natgw-1m-copy: the 1M-flow run on copying memif, the wiring Open vSwitch gets (local: the
  # functions called from here see it, later runs do not).
  local LG_ZERO_COPY=1
  if [ "$name" = natgw-1m-copy ]; then LG_ZERO_COPY=""; fi
  lg_with_reruns "$name" "$round" echo natgw_attempt "$name" "$@"
  cp "$LG_DIR/natgw.log" "$OUT/runs/$name-$round.natgw.log" 2>/dev/null || true
  keep "$name" "$round"
  core_transfer "$name" "$round"
}

run_ceiling() {
  # ceiling-1m-copy: testpmd on copying memif, as natgw-1m-copy.
  local LG_ZERO_COPY=1
  if [[ "$1" == *-copy ]]; then LG_ZERO_COPY=""; fi
  core_transfer "$1" "$2"
  lg_with_reruns "$1" "$2" echo ceiling_attempt "$1"
  keep "$1" "$2"
  core_transfer "$1" "$2"
}

# Open vSwitch with DPDK, private database and run directory, one PMD thread on lcore 1.
ovs_up() {
  mkdir -p "$OVS_DIR"
  export OVS_RUNDIR=$OVS_DIR OVS_LOGDIR=$OVS_DIR OVS_DBDIR=$OVS_DIR
  ovsdb-tool create "$OVS_DIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server "$OVS_DIR/conf.db" --remote="punix:$OVS_DIR/db.sock" --unixctl="$OVS_DIR/ovsdb.ctl" \
    --log-file="$OVS_DIR/ovsdb.log" >/dev/null 2>&1 &
  OVSDB_PID=$!
  local i
  for i in $(seq 1 50); do [ -S "$OVS_DIR/db.sock" ] && break; sleep 0.1; done
  vsctl --no-wait init
  vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
    other_config:dpdk-lcore-mask=0x1 other_config:pmd-cpu-mask=0x2 other_config:dpdk-socket-mem=512 \
    "other_config:dpdk-extra=--no-pci --file-prefix=ovs-$LG_TAG${OVS_ZC:+ --single-file-segments}"
  # Conntrack timeouts of zone 1 as natgw's UDP timeout (300 s); OVS's default for UDP is 30 s.
  vsctl --no-wait -- --id=@dp create Datapath datapath_version=0 \
    -- set Open_vSwitch . datapaths:netdev=@dp
  vsctl --no-wait add-zone-tp netdev zone=1 udp_first=300 udp_single=300 udp_multiple=300 ||
    echo "  (OVS: zone timeout policy refused; default UDP timeouts apply)"
}
vsctl() { ovs-vsctl --db="unix:$OVS_DIR/db.sock" --timeout=30 "$@"; }
ofctl() { ovs-ofctl "$@"; }

# One run through OVS: ovs-vswitchd starts after the generator (memif client), adds both ports.
run_ovs() {
  local name=$1 round=$2
  lg_start "$name" --noarp --expect_pool="$LG_POOL" "${LG_FLOW_ARGS[@]}" \
    --flows="$(flows_of "$name")" --duration_s="$dur" --link_timeout_s=60 --rx_queues=2 || true
  LD_PRELOAD=$OVS_PRELOAD \
    /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk "unix:$OVS_DIR/db.sock" \
    --unixctl="$OVS_DIR/vswitchd.ctl" --log-file="$OVS_DIR/vswitchd.log" >/dev/null 2>&1 &
  PEER_PID=$!
  # The flows go in before the ports: with the ports first, the bridge's default NORMAL flow
  # would switch the first frames untranslated (the generator reports them as invalid).
  vsctl --if-exists del-br br0
  vsctl add-br br0 -- set bridge br0 datapath_type=netdev fail_mode=secure
  local sw="unix:$OVS_DIR/br0.mgmt"
  ofctl del-flows "$sw"
  ofctl add-flows "$sw" - <<FLOWS
table=0,priority=10,ip,in_port=1,actions=ct(table=1,zone=1,nat)
table=0,priority=10,ip,in_port=2,actions=ct(table=2,zone=1,nat)
table=0,priority=0,actions=drop
table=1,priority=10,ct_state=+new+trk,ip,actions=ct(commit,zone=1,nat(src=203.0.113.0-203.0.113.63:1024-65535)),output:2
table=1,priority=10,ct_state=+est+trk,ip,actions=output:2
table=1,priority=0,actions=drop
table=2,priority=10,ct_state=+est+trk,ip,actions=output:1
table=2,priority=0,actions=drop
FLOWS
  vsctl add-port br0 in -- set Interface in type=dpdk ofport_request=1 \
       "options:dpdk-devargs=net_memif0,role=client,${OVS_ZC:+zero-copy=yes,}socket=$LG_DIR/in.sock" options:n_rxq=1 \
    -- add-port br0 out -- set Interface out type=dpdk ofport_request=2 \
       "options:dpdk-devargs=net_memif1,role=client,${OVS_ZC:+zero-copy=yes,}socket=$LG_DIR/out.sock" options:n_rxq=1
  lg_result
  vsctl --if-exists del-br br0 || true  # the memif clients leave: the generator ends
  lg_wait || true
  peer_stop
  cp "$OVS_DIR/vswitchd.log" "$OUT/runs/$name-$round.vswitchd.log" 2>/dev/null || true
  rm -f "$OVS_DIR/vswitchd.log"
  keep "$name" "$round"
}
ovs_down() {
  [ -n "${PEER_PID:-}" ] && peer_stop
  if [ -n "$OVSDB_PID" ]; then
    kill -TERM "$OVSDB_PID" 2>/dev/null || true
    wait "$OVSDB_PID" 2>/dev/null || true
    OVSDB_PID=""
  fi
}

# The kernel: a namespace routing between two veths with nftables SNAT to the same pool natgw
# uses (masquerade would use the one interface address, whose 64k ports cannot hold 1M flows to
# one server). The generator attaches to the host ends with net_af_packet.
CT_MAX_OLD=""
kernel_up() {
  ip netns add "$NS"
  ip link add vb-in-$$ type veth peer name in netns "$NS"
  ip link add vb-out-$$ type veth peer name out netns "$NS"
  local i
  for i in vb-in-$$ vb-out-$$; do sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1" || true; ip link set "$i" up; ethtool -K "$i" tx off rx off >/dev/null 2>&1 || true; done
  ip netns exec "$NS" sh -e -c '
    for i in in out; do sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1" || true; ip link set "$i" up; ethtool -K "$i" tx off rx off >/dev/null 2>&1 || true; done
    ip link set lo up
    ip addr add 10.0.0.1/16 dev in
    ip addr add 192.0.2.1/24 dev out
    ip route add default via 192.0.2.2
    sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.in.rp_filter=0
    # natgw'"'"'s UDP timeout (300 s), so a slow warm-up of 1M flows does not expire the first ones
    sysctl -qw net.netfilter.nf_conntrack_udp_timeout=300 \
      net.netfilter.nf_conntrack_udp_timeout_stream=300 || true
    nft -f - <<NFT
table ip bench {
  chain post { type nat hook postrouting priority srcnat; oifname "out" snat to 203.0.113.0-203.0.113.63; }
}
NFT'
  CT_MAX_OLD=$(sysctl -n net.netfilter.nf_conntrack_max 2>/dev/null || echo "")
  sysctl -qw net.netfilter.nf_conntrack_max=2097152 2>/dev/null || true
}
kernel_down() {
  ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  ip link del vb-in-$$ 2>/dev/null || true
  ip link del vb-out-$$ 2>/dev/null || true
  [ -n "$CT_MAX_OLD" ] && sysctl -qw net.netfilter.nf_conntrack_max="$CT_MAX_OLD" 2>/dev/null || true
  CT_MAX_OLD=""
}
kernel_attempt() {
  local name=$1
  ip netns exec "$NS" conntrack -F >/dev/null 2>&1 || true
  LG_NAME=$name
  rm -f "$LG_DIR/$name.json"
  "$BUILD/perf/loadgen/natgw-loadgen" --json_out="$LG_DIR/$name.json" --expect_pool="$LG_POOL" \
    "${LG_FLOW_ARGS[@]}" --flows="$(flows_of "$name")" --duration_s="$dur" --warmup_pps=200000 -- \
    -l 0 --file-prefix="lg-$LG_TAG" --no-pci $(lg_mem_args) -m "$LG_MEM_MB" \
    --vdev="net_af_packet0,iface=vb-in-$$,qpairs=1" --vdev="net_af_packet1,iface=vb-out-$$,qpairs=1" \
    >"$LG_DIR/$name.log" 2>&1 &
  LG_PID=$!
  lg_wait || true
}
# A kernel run through which nothing at all passed, not even the warm-up (seen once on the
# development VM: the namespace had stopped forwarding) says nothing about the kernel's NAT: it
# runs again, at most twice, in a namespace made anew, and the report lists it with the
# restarts. A run that passed anything counts as it is.
run_kernel() {
  local name=$1 round=$2 try
  for try in 1 2 3; do
    kernel_attempt "$name"
    [ -f "$LG_DIR/$name.json" ] || break
    [ "$(lg_json "$LG_DIR/$name.json" 'r["warmup_delivered"] + r["in2out"]["delivered"]')" = 0 ] ||
      break
    if [ "$try" -eq 3 ]; then
      echo "  $name #$round: nothing passed the kernel's namespace (attempt $try); giving up"
      break
    fi
    LG_RESTARTS+=("$name #$round: nothing passed the kernel's namespace")
    echo "  $name #$round: nothing passed the kernel's namespace (attempt $try); new namespace, again"
    kernel_down
    kernel_up
  done
  keep "$name" "$round"
}

if [ -n "$(runs_of ovs)" ] && [ -n "$LG_NO_HUGE" ]; then
  echo "Open vSwitch DPDK runs --in-memory, which needs hugepages: OVS scenarios skipped"
  group[ovs]=""
fi
[ -n "$(runs_of ovs)" ] && ovs_up
[ -n "$(runs_of kernel)" ] && kernel_up

# One run of a scenario by name.
run_scenario() {  # run_scenario SCENARIO ROUND
  case "$1" in
    natgw-1k) run_natgw "$1" "$2" --flows=1000 ;;
    natgw-1m | natgw-1m-copy) run_natgw "$1" "$2" --flows=1048576 ;;
    natgw-new) run_natgw "$1" "$2" --mode=udp_new --flows=1048576 ;;
    natgw-churn) run_natgw "$1" "$2" --mode=udp_new --flows=4194304 --remote_ports=9-12 ;;
    natgw-tcp) run_natgw "$1" "$2" --mode=tcp --flows=1048576 ;;
    ceiling-* | touch-*) run_ceiling "$1" "$2" ;;
    ovs-*) run_ovs "$1" "$2" ;;
    kernel-*) run_kernel "$1" "$2" ;;
    *) echo "bench.sh: unknown scenario $1" >&2; exit 2 ;;
  esac
}
for round in $(seq 1 "$rounds"); do
  step "round $round of $rounds"
  order=(natgw ceiling ovs kernel)
  [ $((round % 2)) -eq 0 ] && order=(kernel ovs ceiling natgw)
  for what in "${order[@]}"; do
    mapfile -t runs < <(runs_of "$what")
    [ "${#runs[@]}" -gt 0 ] || continue
    lg_in_round_order "$round" run_scenario "${runs[@]}"
  done
done

if want natgw; then
  half=$(/usr/bin/python3 perf/bench_report.py --half-rate "$OUT/runs" natgw-1m)
  step "latency at half of natgw's median 1M-flow rate ($half pps per direction)"
  for round in $(seq 1 "$rounds"); do
    run_natgw natgw-half "$round" --flows=1048576 --rate_pps="$half"
  done
fi

step "report"
# Debian's python3 (python3-matplotlib), not one earlier in PATH
ovs_wiring="Open vSwitch copies"
if [ -n "$OVS_ZC" ]; then
  ovs_wiring="Open vSwitch attaches as a zero-copy client too (--ovs-zero-copy)"
fi
/usr/bin/python3 perf/bench_report.py "$OUT" --rounds "$rounds" --duration "$dur" \
  ${OVS_ZC:+--ovs-zero-copy} \
  --note "$(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); memory latency (random loads, \`natgw_table_bench --benchmark_filter=BM_MemoryLatency\`): $mem_latency. natgw and testpmd attach as zero-copy memif clients$([ -n "$LG_NO_HUGE" ] && echo ' (not this time: no hugepages)'), $ovs_wiring. Runs started again (a memif link that did not come up, a generator that died, or a kernel namespace that passed nothing): ${#LG_RESTARTS[@]}$([ "${#LG_RESTARTS[@]}" -gt 0 ] && printf ' (%s)' "$(IFS=';'; echo "${LG_RESTARTS[*]}")")"
echo
echo "report: $OUT/report.md"
