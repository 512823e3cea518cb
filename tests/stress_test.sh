#!/usr/bin/env bash
# Bounded stress-ng runs natively and under elfuse (issue 4, item 7):
#   stress_test.sh ELFUSE STRESSOR [SECONDS]
# runs `stress-ng --STRESSOR 2 -t SECONDS --verify` both ways. Passes when both
# exit 0 and elfuse's run prints stress-ng's own "successful run completed";
# counts and timings are not compared. Exit 77 (skip) without stress-ng.
set -uo pipefail
elfuse=$(realpath "${ELFUSE:-$1}")
stressor=$2
secs=${3:-3}
stress=$(command -v stress-ng || true)
[[ -n $stress ]] || { echo "stress-ng not installed (make deps)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/elfuse-stress.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
args=(--"$stressor" 2 -t "${secs}s" --verify --temp-path "$tmp")
timeout -k 5 60 "$stress" "${args[@]}" >native.log 2>&1
native=$?
timeout -k 5 90 "$elfuse" "$stress" "${args[@]}" >elfuse.log 2>&1
status=$?
echo "stress-ng ${args[*]}: native exit $native, elfuse exit $status"
grep -E 'successful run|fail|error' elfuse.log | grep -v '^elfuse: syscall' | head -20
if ((native != 0)); then
  echo "FAIL: native run failed"
  cat native.log
  exit 1
fi
if ((status != 0)) || ! grep -q 'successful run completed' elfuse.log; then
  echo "FAIL: under elfuse"
  tail -40 elfuse.log
  exit 1
fi
echo "PASS"
