#!/usr/bin/env bash
# Installs every Debian package natgw's build, tests and benchmarks need. Idempotent: packages
# already present are not fetched again. Run as root on Debian 12.
set -euo pipefail

PKGS=(
  build-essential pkg-config meson ninja-build
  libdpdk-dev dpdk-dev dpdk
  libabsl-dev libgflags-dev libgoogle-glog-dev
  libbenchmark-dev libgtest-dev libgmock-dev
  libtomlplusplus-dev nlohmann-json3-dev libsimdjson-dev
  libcurl4-openssl-dev libyaml-cpp-dev  # the Kubernetes API source: HTTPS, kubeconfig
  iputils-ping traceroute iperf3 curl python3
  clang libclang-rt-14-dev
  iproute2 ethtool
  openssl  # tests/control/kube_api_tls_test.cc makes a throwaway CA and certificates
  prometheus  # promtool: tests/integration checks /metrics with `promtool check metrics`
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
