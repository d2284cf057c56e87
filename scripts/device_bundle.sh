#!/usr/bin/env bash
# Builds natgw and natgw-loadgen (release) and packs them, with dpdk-testpmd and every shared
# library they need except glibc and the C++ runtime, into devbench/ (ignored), for a machine
# without DPDK, absl, glog or gflags (scripts/device_bench.sh runs there):
#   devbench/bin/   natgw, natgw-loadgen, natgw_table_bench, natgw-core-transfer, dpdk-testpmd
#                   (stripped copies)
#   devbench/lib/   the libraries (stripped copies, named by soname), DPDK PMDs included, and
#                   libnatgw-memseg-fd.so (preloaded into testpmd)
#   devbench/MANIFEST  what came from where; devbench/PMDS  the PMD files to load with -d
# DPDK loads its PMDs from a compiled-in plugin directory (/usr/lib/.../dpdk/pmds-XX). The
# bundled librte_eal has that path blanked, so the bundle behaves the same here and there: the
# PMDs listed in PMDS are loaded explicitly with -d (scripts/device_bench.sh does).
#
#   scripts/device_bundle.sh [BUILD_DIR]     (default build-devbench)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${1:-build-devbench}
B=devbench

# Link-time optimization as in scripts/bench.sh, but for the baseline CPU (no -Dnative): the
# device's CPU is not this one. Plus PREFETCHW (-mprfchw: Intel since Broadwell, AMD since
# K8), which the worker uses to fetch each received header for writing; without it the
# compiler emits a read prefetch, and the rewrite then needs a second transfer of the line
# (the native build of scripts/bench.sh has it; the device runs D1-D3 did not).
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" --buildtype=release -Db_lto=true -Dtests=false -Dbenchmarks=true \
    -Dcpp_args=-mprfchw >/dev/null
else
  # (a folder set up before LTO or PREFETCHW were the default)
  meson configure "$BUILD" -Db_lto=true -Dcpp_args=-mprfchw >/dev/null
fi
# (regenerated first, so that meson knows targets added since the folder was set up)
ninja -C "$BUILD" build.ninja >/dev/null
meson compile -C "$BUILD" natgw natgw-loadgen natgw_table_bench natgw-memseg-fd \
  natgw-core-transfer

TESTPMD=/usr/bin/dpdk-testpmd
PLUGIN_DIR=$(strings "$(ldconfig -p | awk '/librte_eal.so/ {print $NF; exit}')" |
  sed -n 's/^DPDK_PLUGIN_PATH=//p' | head -1)
[ -d "$PLUGIN_DIR" ] || { echo "device_bundle: DPDK plugin directory not found" >&2; exit 1; }
# The PMDs the benchmark needs: the vdev bus, memif, the ring mempool handler.
PMDS=(librte_bus_vdev librte_net_memif librte_mempool_ring)

rm -rf "$B"
mkdir -p "$B/bin" "$B/lib"
cp "$BUILD/gateway/natgw" "$BUILD/perf/loadgen/natgw-loadgen" "$BUILD/perf/natgw_table_bench" \
  "$BUILD/perf/natgw-core-transfer" "$TESTPMD" "$B/bin/"
: >"$B/PMDS"
objs=("$B"/bin/*)
for p in "${PMDS[@]}"; do
  f=$(ls "$PLUGIN_DIR/$p".so.* 2>/dev/null | sort | head -1)
  [ -n "$f" ] || { echo "device_bundle: $p not in $PLUGIN_DIR" >&2; exit 1; }
  objs+=("$f")
  echo "$(basename "$f")" >>"$B/PMDS"
done

# Not bundled: glibc and the C++ runtime (the target's are newer and backward compatible).
skip_re='^(linux-vdso|ld-linux|libc\.so|libm\.so|libpthread|libdl\.so|librt\.so|libresolv|libutil\.so|libstdc\+\+|libgcc_s|libmvec)'
declare -A seen=()
queue=("${objs[@]}")
: >"$B/MANIFEST"
while [ "${#queue[@]}" -gt 0 ]; do
  o=${queue[0]}; queue=("${queue[@]:1}")
  while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    [[ $name =~ $skip_re ]] && continue
    [ -n "${seen[$name]:-}" ] && continue
    [ -f "$path" ] || { echo "device_bundle: $name not found (needed by $o)" >&2; exit 1; }
    seen[$name]=1
    cp -L "$path" "$B/lib/$name"
    echo "$name <= $(readlink -f "$path")" >>"$B/MANIFEST"
    queue+=("$path")
  done < <(ldd "$o")
done
# The PMDs themselves (also when nothing links them), under the name they have in PMDS.
while read -r p; do
  [ -f "$B/lib/$p" ] || { cp -L "$PLUGIN_DIR/$p" "$B/lib/$p"; echo "$p <= $(readlink -f "$PLUGIN_DIR/$p")" >>"$B/MANIFEST"; }
done <"$B/PMDS"

# testpmd's copy of natgw's rte_memseg_get_fd (gateway/memseg_fd.cc), preloaded by
# scripts/device_bench.sh: without it a zero-copy port's link does not always come up.
cp "$BUILD/gateway/libnatgw-memseg-fd.so" "$B/lib/"
echo "libnatgw-memseg-fd.so <= $BUILD/gateway/libnatgw-memseg-fd.so" >>"$B/MANIFEST"

# Blank the compiled-in plugin directory of the bundled EAL (same length, NUL-padded), so that
# no system PMD directory is ever scanned: only what -d names is loaded.
eal=$(ls "$B"/lib/librte_eal.so.* | head -1)
/usr/bin/python3 - "$eal" "$PLUGIN_DIR" <<'PY'
import sys
path, old = sys.argv[1], sys.argv[2].encode()
data = open(path, 'rb').read()
new = b'/nonexistent'.ljust(len(old), b'\0')
n = data.count(old)
if n == 0:
    sys.exit('device_bundle: plugin path not found in ' + path)
open(path, 'wb').write(data.replace(old, new))
print(f'device_bundle: blanked {n} plugin path(s) in {path}')
PY

strip --strip-unneeded "$B"/bin/* "$B"/lib/* 2>/dev/null || true
git rev-parse HEAD >"$B/COMMIT" 2>/dev/null || true

# Every bundled object resolves inside the bundle or to the target's glibc / C++ runtime.
bad=0
for o in "$B"/bin/* "$B"/lib/*; do
  while read -r line; do
    case "$line" in
      *"=> $ROOT/$B/lib/"*|*"=> $B/lib/"*|linux-vdso*|*ld-linux*|statically*|"") ;;
      *"=>"*) n=${line%% *}; [[ $n =~ $skip_re ]] || { echo "device_bundle: $o: $line" >&2; bad=1; } ;;
    esac
  done < <(LD_LIBRARY_PATH="$ROOT/$B/lib" ldd "$o" 2>&1 | sed 's/^[[:space:]]*//')
done
[ "$bad" -eq 0 ] || { echo "device_bundle: libraries resolved outside the bundle" >&2; exit 1; }
echo "device_bundle: $(ls "$B/lib" | wc -l) libraries, $(du -sh "$B" | cut -f1) in $B/ (PMDs: $(tr '\n' ' ' <"$B/PMDS"))"
