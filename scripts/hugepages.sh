#!/usr/bin/env bash
# Reserves 2 MiB hugepages (default 512 = 1 GiB, or $1) and mounts hugetlbfs at /dev/hugepages if
# nothing is mounted there. Prints "ok" or "unavailable" (then run natgw with --no-huge).
set -u
want=${1:-512}
f=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
have=$(cat "$f" 2>/dev/null || echo 0)
if [ "$have" -lt "$want" ]; then echo "$want" >"$f" 2>/dev/null || true; fi
have=$(cat "$f" 2>/dev/null || echo 0)
if ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
  mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
fi
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts && [ "${free:-0}" -ge 128 ]; then
  echo ok
else
  echo unavailable
fi
