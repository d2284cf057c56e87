#!/usr/bin/env bash
# The two-island demo: installs what is missing, builds natgw, and runs the two-island topology of
# DESIGN.md (islands c1 and c2 with the same pod CIDR and pod IPs, one natgw per island) through
# two real translation engines, printing every hop. Exits non-zero if any step misbehaves.
#
# The appliance version (network namespaces, net_af_packet ports, curl/ping/traceroute) replaces
# this walkthrough when the natgw daemon lands; see the README.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized
meson compile -C build natgw-walkthrough
exec ./build/gateway/natgw-walkthrough
