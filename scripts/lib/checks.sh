# Assertions for the integration tests (sourced). `check DESCRIPTION COMMAND...` passes if the
# command succeeds and counts passes and failures; `checks_done` prints the tally and returns
# non-zero if anything failed.
passed=0
failed=0
check() {
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "PASS $what"; else failed=$((failed + 1)); echo "FAIL $what"; fi
}
contains() { grep -q -- "$2" <<<"$1" || { echo "  expected '$2' in: $1"; return 1; }; }
lacks() { ! grep -q -- "$2" <<<"$1" || { echo "  did not expect '$2' in: $1"; return 1; }; }
equals() { [ "$1" = "$2" ] || { echo "  expected '$2', got '$1'"; return 1; }; }
checks_done() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
