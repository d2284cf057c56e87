#!/bin/sh
# natgw-core-transfer: a figure in ns on two CPUs, exit 2 for what it cannot measure.
# usage: core_transfer_test.sh PATH/TO/natgw-core-transfer
set -u
tool=$1
fail() { echo "FAIL: $*"; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "one CPU: nothing to measure"; exit 77; }  # meson: skipped

# (a loaded machine slows the round trips down: a generous time limit, and no upper bound on
# the figure but 10 ms)
out=$("$tool" --cpus=0,1 --round_trips=2000 --batches=3 --timeout_s=60) ||
  fail "exit $? on CPUs 0,1"
echo "CPUs 0,1: $out ns"
echo "$out" | grep -Eq '^[0-9]+\.[0-9]$' || fail "not one number: '$out'"
awk -v v="$out" 'BEGIN { exit !(v > 0 && v < 10000000) }' || fail "implausible: $out ns"

for bad in --cpus=0,0 --cpus=0 --cpus=0,1,2 --cpus=a,b --round_trips=0 --batches=0 \
           --cpus=0,1023 stray; do
  err=$("$tool" --round_trips=10 "$bad" 2>&1 >/dev/null)
  rc=$?
  [ "$rc" -eq 2 ] || fail "$bad: exit $rc, expected 2"
  echo "$err" | grep -q '^natgw-core-transfer: ' || fail "$bad: no message ('$err')"
done
# A batch over its time limit (256 round trips cannot take under a nanosecond): exit 3, no figure.
out=$("$tool" --round_trips=100000 --timeout_s=0.000000001 2>/dev/null)
rc=$?
[ "$rc" -eq 3 ] || fail "time limit: exit $rc, expected 3"
[ -z "$out" ] || fail "time limit: printed '$out'"
"$tool" --help 2>&1 | grep -q -- '--timeout_s' || fail "--help lists no --timeout_s"
echo ok
