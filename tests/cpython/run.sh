#!/usr/bin/env bash
# Run one module of CPython's own regression tests (Debian's
# libpython3.11-testsuite) natively and under elfuse, and compare the outcome of
# every test case:
#
#   /usr/bin/python3 -m test -v MODULE
#   ELFUSE /usr/bin/python3 -m test -v MODULE
#
# usage: run.sh [--timeout SECONDS] ELFUSE MODULE [REGRTEST OPTIONS...]
#
# REGRTEST OPTIONS go to both runs (e.g. -i PATTERN to leave out test cases that
# cannot pass natively on this machine). Without any, the options written for
# MODULE in modules.txt beside this script are used.
#
# Prints the test cases whose outcome (ok, FAIL, ERROR, skipped, expected
# failure, unexpected success) differs, with the failure's traceback, and both
# runs' counts. Test cases that differ (at most 10, both runs complete) are run
# again alone, natively and under elfuse, up to twice: a difference that goes
# away is reported by name and passes (CPython's own tests race with the
# machine now and then: a port found free is taken a moment later). Exits 1 if
# any differ every time, 0 if all agree, 77 (skip) if the test suite is not
# installed. A module
# that fails natively is no evidence: that is reported, and the comparison of
# the outcomes still decides the exit status.
#
# Environment:
#   ELFUSE             if set, used instead of the ELFUSE argument
#   CPYTHON_KEEP=1     keep both logs and print where they are
#   CPYTHON_LOGS=DIR   write the logs (MODULE.native.log, MODULE.elfuse.log) to DIR
#
# Both runs get a fresh, empty working directory at the same absolute path, the
# same environment (env -i with PATH, HOME=/tmp, LANG=C.UTF-8), stdin /dev/null,
# only fds 0-2, and run one after the other (the tests bind ports and use /tmp).
set -euo pipefail

die() {
  echo "run.sh: $*" >&2
  exit 2
}

timeout_s=1800
reruns=2
if [[ ${1:-} == --timeout ]]; then
  timeout_s=$2
  shift 2
fi
[[ $# -ge 2 ]] || die "usage: run.sh [--timeout SECONDS] ELFUSE MODULE [REGRTEST OPTIONS...]"
elfuse=${ELFUSE:-$1}
module=$2
shift 2
options=("$@")
here=$(dirname "$(realpath "$0")")
if ((${#options[@]} == 0)); then
  line=$(awk -v m="$module" '$1 == m { sub(/^[[:space:]]*[^[:space:]]+[[:space:]]*/, ""); print; exit }' \
    "$here/modules.txt")
  eval "options=($line)" || die "cannot parse the options of $module in modules.txt"
fi
python=/usr/bin/python3

[[ -x $elfuse ]] || die "elfuse binary '$elfuse' is not executable"
elfuse=$(realpath "$elfuse")
if ! [[ -f /usr/lib/python3.11/test/$module.py || -d /usr/lib/python3.11/test/$module ]]; then
  echo "SKIP: /usr/lib/python3.11/test/$module not found (apt-get install libpython3.11-testsuite)"
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/elfuse-cpython.XXXXXX")
logs=${CPYTHON_LOGS:-$tmp}
mkdir -p "$logs"
if [[ ${CPYTHON_KEEP:-0} == 1 || -n ${CPYTHON_LOGS:-} ]]; then
  echo "run.sh: logs in $logs" >&2
  [[ -n ${CPYTHON_LOGS:-} ]] && trap 'rm -rf "$tmp"' EXIT
else
  trap 'rm -rf "$tmp"' EXIT
fi
work=$tmp/work

# run LABEL LOG COMMAND...: run in a fresh $work; $logs/LOG gets stdout and
# stderr.
run() {
  local label=$1
  local log=$logs/$2
  shift 2
  rm -rf "$work"
  mkdir "$work"
  local start status=0
  start=$(date +%s.%N)
  {
    (
      cd "$work"
      ulimit -c 0
      for f in "/proc/$BASHPID/fd"/*; do
        fd=${f##*/}
        if ((fd > 2)); then eval "exec $fd>&-"; fi
      done
      exec timeout -k 10 "$timeout_s" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp \
        LANG=C.UTF-8 "$@" </dev/null >"$log" 2>&1
    )
  } 2>/dev/null || status=$?
  rm -rf "$work"
  printf '%s: exit %s in %.1f s\n' "$label" "$status" "$(echo "$(date +%s.%N) - $start" | bc)"
  if ((status == 124)); then echo "$label: timed out after ${timeout_s}s"; fi
}

run native "$module.native.log" "$python" -m test -v "$module" "${options[@]}"
run elfuse "$module.elfuse.log" "$elfuse" "$python" -m test -v "$module" "${options[@]}"

if ! grep -q '^== Tests result: SUCCESS ==$' "$logs/$module.native.log"; then
  echo "note: $module does not pass natively; its failures are no evidence"
fi
patterns=$tmp/rerun.patterns
if "$python" "$here/outcomes.py" --compare "$logs/$module.native.log" "$logs/$module.elfuse.log" \
  --rerun-patterns "$patterns"; then
  echo "PASS: $module: every test case has the same outcome"
  exit 0
fi
# Test cases that differ are run again, alone, natively and under elfuse, up
# to $reruns times: some of CPython's tests race with the machine (a port
# found free and bound a moment later). A difference that holds every time
# fails; one that goes away is printed above and named below.
if [[ -s $patterns ]] && (($(wc -l <"$patterns") <= 10)); then
  mapfile -t rerun_ids <"$patterns"
  match=()
  for id in "${rerun_ids[@]}"; do match+=(-m "$id"); done
  for attempt in $(seq 1 "$reruns"); do
    echo "run.sh: running the differing test cases again ($attempt of $reruns): ${rerun_ids[*]}"
    again=$module.again$attempt
    run native "$again.native.log" "$python" -m test -v "$module" "${options[@]}" "${match[@]}"
    run elfuse "$again.elfuse.log" "$elfuse" "$python" -m test -v "$module" "${options[@]}" "${match[@]}"
    if "$python" "$here/outcomes.py" --compare "$logs/$again.native.log" "$logs/$again.elfuse.log" \
      --ran-patterns "$patterns"; then
      echo "PASS: $module: every test case has the same outcome; these differed once and agreed when run again: ${rerun_ids[*]}"
      exit 0
    fi
  done
fi
echo "FAIL: $module: outcomes under elfuse differ from native"
exit 1
