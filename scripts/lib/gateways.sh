# Starting and stopping natgw processes inside the topology (sourced after topology.sh).
# gw_start NAME CONF: runs natgw in $NG-NAME-gw with its own control socket and log, waits until
# it answers natgwctl. gw_stop NAME: SIGTERM by PID, waits, reports the exit code.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-$ROOT/build}
RUN_DIR=${RUN_DIR:-/run/natgw-$NG}
declare -A GW_PID

gw_sock() { echo "$RUN_DIR/$1.sock"; }
gwctl() { local n=$1; shift; "$BUILD/gateway/natgwctl" --socket "$(gw_sock "$n")" "$@"; }

gw_start() {
  local n=$1 conf=$2
  mkdir -p "$RUN_DIR"
  ip netns exec "$NG-$n-gw" "$BUILD/gateway/natgw" --config "$conf" \
    --control_socket "$(gw_sock "$n")" --eal_args "--file-prefix=$NG-$n ${NATGW_EXTRA_EAL:-}" \
    >"$RUN_DIR/$n.log" 2>&1 &
  GW_PID[$n]=$!
  local i
  for i in $(seq 1 100); do
    if gwctl "$n" help >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "${GW_PID[$n]}" 2>/dev/null; then
      echo "natgw $n exited during start-up:" >&2
      cat "$RUN_DIR/$n.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "natgw $n did not open its control socket in 10 s:" >&2
  cat "$RUN_DIR/$n.log" >&2
  return 1
}

gw_stop() {
  local n=$1 pid=${GW_PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local rc=0
  wait "$pid" || rc=$?
  unset "GW_PID[$n]"
  return $rc
}

gw_stop_all() {
  local n
  for n in "${!GW_PID[@]}"; do gw_stop "$n" || true; done
}

# gw_conf SRC DST: copies the conf SRC to DST with its /run/natgw/ paths moved into $RUN_DIR, so
# that several copies of a topology can run side by side; a cluster directory
# `directory = "/run/natgw/X"` is seeded with the JSON files of the directory X next to SRC
# (conf/examples/two-islands/c2-cluster/ for c2.toml).
gw_conf() {
  local src=$1 dst=$2 d
  mkdir -p "$RUN_DIR"
  sed "s#\"/run/natgw/#\"$RUN_DIR/#g" "$src" >"$dst"
  for d in $(sed -n 's#^directory *= *"/run/natgw/\([^"/]*\)".*#\1#p' "$src"); do
    mkdir -p "$RUN_DIR/$d"
    cp "$(dirname "$src")/$d"/*.json "$RUN_DIR/$d/"
  done
}

# cluster_drop_pod FILE NAME: removes pod NAME from the `kubectl -o json` List in FILE the way a
# sync tool would, by writing a new file and renaming it over the old one (one atomic change).
cluster_drop_pod() {
  python3 - "$1" "$2" <<'PY'
import json, os, sys
path, name = sys.argv[1], sys.argv[2]
doc = json.load(open(path))
doc["items"] = [i for i in doc["items"] if i["metadata"]["name"] != name]
with open(path + ".tmp", "w") as f:
    json.dump(doc, f)
os.rename(path + ".tmp", path)
PY
}
