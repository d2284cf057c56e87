#!/usr/bin/env bash
# The two-island demo (README command 1). Installs what is missing, builds natgw, reserves
# hugepages and builds the seed scenario in network namespaces: islands c1 and c2 with the same
# pod CIDR and the same pod IPs, a flat network with an external client and server, and one natgw
# per island on net_af_packet ports, configured from conf/examples/two-islands/. Then it shows,
# with real programs, pods of both islands talking, the egress pool, a service VIP, ping,
# traceroute, and both gateways' sessions and counters.
#
#   scripts/demo.sh           run the demo and clean up everything it created
#   scripts/demo.sh --keep    leave the topology and gateways running (scripts/demo.sh --down
#                             removes them later)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
NG=${NG:-ngdemo}
BUILD=$ROOT/build
source scripts/lib/topology.sh
source scripts/lib/gateways.sh

keep=0
case "${1:-}" in
  --keep) keep=1 ;;
  --down) topo_down; rm -rf "$RUN_DIR"; echo "demo topology removed"; exit 0 ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--keep|--down]" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (it creates network namespaces)" >&2; exit 1; }

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
  local rc=$?
  if [ "$keep" -eq 1 ] && [ "$rc" -eq 0 ]; then
    echo; echo "left running (namespaces $NG-*). natgwctl: $BUILD/gateway/natgwctl --socket $(gw_sock c1) show sessions"
    echo "remove with: NG=$NG scripts/demo.sh --down"
    return
  fi
  gw_stop_all
  topo_down
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "installing dependencies and building"
scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized
meson compile -C build natgw natgwctl

step "reserving hugepages"
EXTRA=""
if [ "$(scripts/hugepages.sh 512)" != ok ]; then
  echo "hugepages unavailable here: running the gateways with --no-huge"
  EXTRA="--no-huge"
fi

step "building the topology: islands c1 and c2 (both 10.0.0.0/16), flat network 192.0.2.0/24"
topo_down
topo_up
ip netns list | grep "^$NG-" | awk '{print "  namespace " $1}'

step "starting natgw c1 and natgw c2 (conf/examples/two-islands/)"
gw_conf conf/examples/two-islands/c1.toml "$RUN_DIR/c1.toml"
gw_conf conf/examples/two-islands/c2.toml "$RUN_DIR/c2.toml"  # seeds its cluster directory
NATGW_EXTRA_EAL="$EXTRA" gw_start c1 "$RUN_DIR/c1.toml"
NATGW_EXTRA_EAL="$EXTRA" gw_start c2 "$RUN_DIR/c2.toml"
echo "  natgw c1 pid ${GW_PID[c1]}, natgw c2 pid ${GW_PID[c2]}"

step "starting HTTP servers in pods and on the external server"
ip netns exec "$NG-c1-a" python3 scripts/lib/whoami_server.py "pod-A(c1)" 80 &
ip netns exec "$NG-c2-g" python3 scripts/lib/whoami_server.py "pod-G(c2)" 80 &
ip netns exec "$NG-c2-w1" python3 scripts/lib/whoami_server.py "web-1(c2)" 8080 &
ip netns exec "$NG-c2-w2" python3 scripts/lib/whoami_server.py "web-2(c2)" 8080 &
ip netns exec "$NG-server" python3 scripts/lib/whoami_server.py "external-server" 80 &
for n in c1-a c2-g server; do wait_listening $n tcp 80; done
wait_listening c2-w1 tcp 8080; wait_listening c2-w2 tcp 8080

C="curl -s --max-time 5"
step "1. pod A (c1 10.0.0.5) fetches a page from pod G (c2 10.0.0.5) at G's unique address 198.51.100.7"
run ip netns exec "$NG-c1-a" $C http://198.51.100.7/
step "2. the reverse: pod G (c2 10.0.0.5) fetches from pod A at A's unique address 203.0.113.5"
run ip netns exec "$NG-c2-g" $C http://203.0.113.5/
step "3. pod B (c1 10.0.0.9, no unique address) reaches the external server through c1's egress pool"
run ip netns exec "$NG-c1-b" $C http://192.0.2.200/
step "4. the external client reaches service default/web at VIP 198.51.100.130 (two pods in c2)"
for i in 1 2 3 4 5 6; do ip netns exec "$NG-client" $C http://198.51.100.130/; done
step "5. ping and traceroute from pod A to pod G"
run ip netns exec "$NG-c1-a" ping -c 3 -i 0.2 198.51.100.7
run ip netns exec "$NG-c1-a" traceroute -n -q 1 -w 2 198.51.100.7
step "6. natgw c1: show sessions, show stats"
gwctl c1 show sessions
gwctl c1 show stats
step "6. natgw c2: show sessions, show stats"
gwctl c2 show sessions
gwctl c2 show stats
step "7. natgw c2 follows island c2's cluster state (kubectl JSON files in $RUN_DIR/c2-cluster)"
gwctl c2 show cluster
step "   pod H is deleted: the pods file is replaced atomically without it"
cluster_drop_pod "$RUN_DIR/c2-cluster/pods.json" pod-h
sleep 0.5
run gwctl c2 show mappings
printf '$ curl http://198.51.100.8/   (pod H'"'"'s old unique address, from the external client)\n'
ip netns exec "$NG-client" $C http://198.51.100.8/ || echo "(no answer: the address went with the pod)"
step "which pod was behind 203.0.113.5? (natgwctl lookup on c1)"
gwctl c1 lookup 203.0.113.5
echo
echo "demo finished"
