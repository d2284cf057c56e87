# Sourced by every integration test once it has set NG (its namespace prefix) and changed to the
# repository root: the topology, gateway and check libraries, a work folder ($WORK), background
# processes kept by PID (bg), a command in one of the test's namespaces (in_ns), and the cleanup
# on exit that stops those processes and the gateways and removes the namespaces and folders. A
# test with more to stop first defines cleanup_extra.
source scripts/lib/topology.sh
source scripts/lib/gateways.sh
source scripts/lib/checks.sh

PIDS=()
WORK=$(mktemp -d)
cleanup() {
  if declare -F cleanup_extra >/dev/null; then cleanup_extra; fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  gw_stop_all
  topo_down
  rm -rf "$RUN_DIR" "$WORK"
}
trap cleanup EXIT

bg() { "$@" >>"$WORK/servers.log" 2>&1 & PIDS+=($!); }
in_ns() { ip netns exec "$NG-$1" "${@:2}"; }
