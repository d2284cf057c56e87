# The two-island topology in network namespaces (sourced by scripts/demo.sh and the integration
# tests). Every namespace name starts with $NG (default "ng"), so `topo_down` removes exactly
# what `topo_up` made, and two runs with different prefixes do not collide.
#
#   island c1 (10.0.0.0/16)                 flat 192.0.2.0/24               island c2 (10.0.0.0/16)
#   $NG-c1-a 10.0.0.5 --+                                                 +-- $NG-c2-g  10.0.0.5
#   $NG-c1-b 10.0.0.9 --+- [$NG-c1-sw] - $NG-c1-gw - [$NG-flat] - $NG-c2-gw - [$NG-c2-sw] -+-- $NG-c2-h  10.0.0.6
#                                       (natgw c1)    |      |    (natgw c2)              +-- $NG-c2-w1 10.0.0.7
#                                     client 192.0.2.150   server 192.0.2.200             +-- $NG-c2-w2 10.0.0.8
#
# natgw c1 owns 192.0.2.1 (outside) and 10.0.0.1 (inside), c2 owns 192.0.2.2 and 10.0.0.1.
# The flat network routes c1's unique range 203.0.113.0/24 via 192.0.2.1 and c2's 198.51.100.0/24
# via 192.0.2.2; egress pools (192.0.2.16/28, 192.0.2.32/28) are on-link, answered by proxy ARP.

NG=${NG:-ng}

_ns() { ip netns exec "$NG-$1" "${@:2}"; }

# _host NS SWITCH_NS IFNAME ADDR/PREFIX GATEWAY: a host namespace attached to a bridge.
_host() {
  local ns=$1 sw=$2 ifn=$3 addr=$4 gw=$5 peer="p-$1"
  ip netns add "$NG-$ns"
  ip link add "$ifn" netns "$NG-$ns" type veth peer name "$peer" netns "$NG-$sw"
  _ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  _ns "$ns" ip link set lo up
  _ns "$ns" ip addr add "$addr" dev "$ifn"
  _ns "$ns" ip link set "$ifn" up
  # Senders into net_af_packet must put real checksums on the wire.
  _ns "$ns" ethtool -K "$ifn" tx off >/dev/null
  _ns "$sw" ip link set "$peer" master br0 up
  [ -n "$gw" ] && _ns "$ns" ip route add default via "$gw"
  return 0
}

_switch() {
  ip netns add "$NG-$1"
  _ns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  _ns "$1" ip link add br0 type bridge
  _ns "$1" ip link set br0 up
}

# _gateway NAME: the namespace natgw NAME runs in, with its inside and outside veths.
_gateway() {
  local n=$1
  ip netns add "$NG-$n-gw"
  _ns "$n-gw" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  _ns "$n-gw" ip link set lo up  # metrics listen on loopback
  ip link add "${n}gw-in" netns "$NG-$n-gw" type veth peer name "${n}sw-gw" netns "$NG-$n-sw"
  ip link add "${n}gw-out" netns "$NG-$n-gw" type veth peer name "flat-$n" netns "$NG-flat"
  for i in "${n}gw-in" "${n}gw-out"; do
    _ns "$n-gw" ip link set "$i" up
    _ns "$n-gw" ethtool -K "$i" tx off >/dev/null
  done
  _ns "$n-sw" ip link set "${n}sw-gw" master br0 up
  _ns "$n-sw" ethtool -K "${n}sw-gw" tx off >/dev/null
  _ns flat ip link set "flat-$n" master br0 up
  _ns flat ethtool -K "flat-$n" tx off >/dev/null
}

topo_up() {
  _switch flat
  _switch c1-sw
  _switch c2-sw
  _gateway c1
  _gateway c2
  _host c1-a c1-sw eth0 10.0.0.5/16 10.0.0.1
  _host c1-b c1-sw eth0 10.0.0.9/16 10.0.0.1
  _host c2-g c2-sw eth0 10.0.0.5/16 10.0.0.1
  _host c2-h c2-sw eth0 10.0.0.6/16 10.0.0.1
  _host c2-w1 c2-sw eth0 10.0.0.7/16 10.0.0.1
  _host c2-w2 c2-sw eth0 10.0.0.8/16 10.0.0.1
  _host client flat eth0 192.0.2.150/24 ""
  _host server flat eth0 192.0.2.200/24 ""
  for h in client server; do
    _ns "$h" ip route add 203.0.113.0/24 via 192.0.2.1
    _ns "$h" ip route add 198.51.100.0/24 via 192.0.2.2
  done
}

topo_down() {
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^$NG-" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}

# wait_listening NODE PROTO PORT...: waits (up to 10 s) until every PORT has a listening PROTO
# (tcp|udp) socket in $NG-NODE, so a test does not race a server that is still starting.
wait_listening() {
  local node=$1 proto=$2 port i
  shift 2
  for port in "$@"; do
    for i in $(seq 1 100); do
      if [ "$proto" = tcp ]; then
        _ns "$node" ss -Hltn "sport = :$port" | grep -q . && break
      else
        _ns "$node" ss -Hlun "sport = :$port" | grep -q . && break
      fi
      sleep 0.1
    done
    [ "$i" -lt 100 ] || { echo "nothing listens on $proto port $port in $NG-$node" >&2; return 1; }
  done
}
