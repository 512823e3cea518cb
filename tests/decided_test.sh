#!/usr/bin/env bash
# decided_test.sh ELFUSE: runs tests/decided/decided.c (built static here)
# under elfuse only and checks its stdout against decided.expected, with an
# empty stderr and exit status 0. These are elfuse's decided answers (calls
# left out answer as a Linux configured without them; privileged calls are
# refused even for root), which the host would not give natively.
# ELFUSE in the environment overrides the argument, as in compare.sh.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: decided_test.sh ELFUSE" >&2; exit 2; }
elfuse=${ELFUSE:-$1}
here=$(dirname "$(realpath "$0")")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/elfuse-decided.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
gcc -static -O1 -o "$tmp/decided" "$here/decided/decided.c"
status=0
(cd "$tmp" && exec timeout -k 5 60 env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp LANG=C \
  "$elfuse" "$tmp/decided" </dev/null >"$tmp/out" 2>"$tmp/err") || status=$?
fail=0
if [[ $status != 0 ]]; then
  echo "FAIL: exit status $status, want 0"
  fail=1
fi
if [[ -s $tmp/err ]]; then
  echo "FAIL: stderr is not empty:"
  cat "$tmp/err"
  fail=1
fi
if ! diff -u --label expected --label elfuse "$here/decided/decided.expected" "$tmp/out"; then
  echo "FAIL: stdout differs from decided.expected"
  fail=1
fi
[[ $fail == 0 ]] && echo "PASS: decided answers"
exit $fail
