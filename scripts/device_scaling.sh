#!/usr/bin/env bash
# Multi-worker scaling on a machine with many cores (the device; see scripts/device_bench.sh,
# whose bundle in devbench/ it runs): for each N of --queues, natgw with N workers against
# natgw-loadgen with N loops and testpmd io forwarding with N cores, one memif queue pair each
# (scripts/device_bench.sh --queues N). Writes into $OUT (default ./devbench-out):
#   scaling.md      natgw and ceiling Mpps per N (medians over rounds), natgw / ceiling, and each
#                   one's speed-up over N = 1
#   report-qN.md    device_bench.sh's report for N;  qN.tgz  its runs (JSON and logs)
#
#   bash scripts/device_scaling.sh [--queues 1,2,4] [--rounds 2] [--only natgw-1m,ceiling-1m]
#
# --queues N needs 2N + 2 CPUs (N = 1: 8). The whole call keeps under ~540 s (one device
# command may run 600 s): each N gets an equal share of what is left, and device_bench.sh
# starts no run past its share. Here, to try it: DEVBENCH_CPUS="0 1 0 1 0 1"
# env -i PATH=/usr/bin:/bin HOME=/root bash scripts/device_scaling.sh --queues 1,2 --rounds 1
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-$ROOT/devbench-out}
T0=$(date +%s)
LIMIT_S=${DEVBENCH_SCALING_LIMIT_S:-540}
queues=1,2,4; rounds=2; only=natgw-1m,ceiling-1m
usage="usage: scripts/device_scaling.sh [--queues 1,2,4] [--rounds N] [--only SCENARIO,...]"
while [ $# -gt 0 ]; do
  case "$1" in
    --queues) queues=${2:?$usage}; shift ;;
    --rounds) rounds=${2:?$usage}; shift ;;
    --only) only=${2:?$usage}; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
[[ $queues =~ ^[1-7](,[1-7])*$ ]] || { echo "device_scaling: --queues takes N,N,... (1..7)" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "device_scaling: --rounds takes a number" >&2; exit 2; }
PY=$(command -v python3 || true)
[ -n "$PY" ] || PY=/opt/torch/.venv/bin/python3
[ -x "$PY" ] || { echo "device_scaling: no python3" >&2; exit 1; }
mkdir -p "$OUT"

IFS=, read -ra NS <<<"$queues"
left=${#NS[@]}
for n in "${NS[@]}"; do
  elapsed=$(( $(date +%s) - T0 ))
  # device_bench.sh starts no run after its budget; a run takes up to ~70 s past it.
  share=$(( (LIMIT_S - elapsed) / left - 70 ))
  left=$((left - 1))
  if [ "$share" -lt 30 ]; then
    echo "device_scaling: no time left for --queues $n"
    continue
  fi
  echo "[$(( $(date +%s) - T0 ))s] --queues $n: device_bench.sh --rounds $rounds --only $only (budget ${share}s)"
  rm -rf "$OUT/q$n"
  OUT=$OUT/q$n DEVBENCH_BUDGET_S=$share bash scripts/device_bench.sh --queues "$n" \
    --rounds "$rounds" --only "$only" >"$OUT/q$n.log" 2>&1 ||
    echo "  device_bench.sh --queues $n failed: $(tail -2 "$OUT/q$n.log" | tr '\n' ' ')"
  grep -h -e ' #[0-9]*: ' "$OUT/q$n.log" | sed 's/^/  /'
  [ -f "$OUT/q$n/report.md" ] && cp "$OUT/q$n/report.md" "$OUT/report-q$n.md"
  mv "$OUT/q$n.log" "$OUT/q$n/" 2>/dev/null || true
  tar czf "$OUT/q$n.tgz" -C "$OUT" "q$n" && rm -rf "${OUT:?}/q$n"
done

"$PY" - "$OUT" "${NS[@]}" >"$OUT/scaling.md" <<'PY'
import json, os, sys, tarfile
out, ns = sys.argv[1], [int(n) for n in sys.argv[2:]]
rows = {}
for n in ns:
    path = os.path.join(out, f"q{n}.tgz")
    if not os.path.exists(path):
        continue
    with tarfile.open(path) as t:
        try:
            s = json.load(t.extractfile(f"q{n}/results.json"))["scenarios"]
        except (KeyError, ValueError):
            continue
    rows[n] = {k: s.get(k, {}).get("in2out_mpps") for k in ("natgw-1m", "ceiling-1m", "natgw-1k")}
def f(v):
    return "-" if v is None else f"{v:.2f}"
def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"
base = rows.get(1, {})
print("# natgw with N workers (scripts/device_scaling.sh)")
print()
print("N natgw workers, N natgw-loadgen loops, N testpmd io forwarding cores; one memif queue "
      "pair each; 1M = 1,048,576 established UDP flows, 64-byte frames, both directions. "
      "Mpps per direction, medians over rounds (in2out).")
print()
print("| N | natgw 1M | ceiling 1M | natgw / ceiling | natgw speed-up | ceiling speed-up | natgw 1k |")
print("|---|---|---|---|---|---|---|")
for n in ns:
    r = rows.get(n)
    if r is None:
        print(f"| {n} | no result | | | | | |")
        continue
    print(f"| {n} | {f(r['natgw-1m'])} | {f(r['ceiling-1m'])} | "
          f"{ratio(r['natgw-1m'], r['ceiling-1m'])} | {ratio(r['natgw-1m'], base.get('natgw-1m'))} | "
          f"{ratio(r['ceiling-1m'], base.get('ceiling-1m'))} | {f(r['natgw-1k'])} |")
PY
echo "[$(( $(date +%s) - T0 ))s] $OUT/scaling.md"
cat "$OUT/scaling.md"
