#!/usr/bin/env bash
# Checks run.sh's judgement without elfuse: a stand-in for elfuse runs python
# natively and turns one test case's "ok" into "ERROR", either in its first run
# only (run.sh runs the case again, it agrees: pass) or in every run (fail).
# Also checks that outcomes.py gives a FAIL's traceback and refuses a rerun
# that matched no test case. Needs only Debian's libpython3.11-testsuite.
set -euo pipefail
here=$(dirname "$(realpath "$0")")
[[ -f /usr/lib/python3.11/test/test_fcntl.py ]] || {
  echo "SKIP: libpython3.11-testsuite is not installed"
  exit 77
}
dir=$(mktemp -d "${TMPDIR:-/tmp}/elfuse-cpython-selftest.XXXXXX")
trap 'rm -rf "$dir"' EXIT
case_id='test.test_fcntl.TestFcntl.test_fcntl_64_bit'

# standin MODE: once = the first run only, always = every run.
standin() {
  cat >"$dir/standin-$1" <<STANDIN
#!/usr/bin/env bash
if [[ $1 == always || ! -e $dir/marker ]]; then
  touch "$dir/marker"
  "\$@" 2>&1 | sed -E 's/^(test_fcntl_64_bit \\($case_id\\)) \\.\\.\\. ok\$/\\1 ... ERROR/'
  exit 1
fi
exec "\$@"
STANDIN
  chmod +x "$dir/standin-$1"
}
standin once
standin always

fail() {
  echo "FAIL: $*"
  exit 1
}

out=$("$here/run.sh" "$dir/standin-once" test_fcntl) || fail "a difference that went away failed: $out"
grep -q "agreed when run again: $case_id" <<<"$out" || fail "the passing rerun did not name $case_id: $out"
rm -f "$dir/marker"
if out=$("$here/run.sh" "$dir/standin-always" test_fcntl); then
  fail "a difference that held every time passed: $out"
fi
[[ $(grep -c "running the differing test cases again" <<<"$out") == 2 ]] ||
  fail "expected two reruns: $out"

# outcomes.py alone: the traceback of an ERROR, and a rerun that ran nothing.
cat >"$dir/native.log" <<LOG
test_x (test.test_m.C.test_x) ... ok

----------------------------------------------------------------------
Ran 1 test in 0.001s

OK
LOG
cat >"$dir/elfuse.log" <<LOG
test_x (test.test_m.C.test_x) ... ERROR

======================================================================
ERROR: test_x (test.test_m.C.test_x)
----------------------------------------------------------------------
Traceback (most recent call last):
OSError: [Errno 98] Address already in use

----------------------------------------------------------------------
Ran 1 test in 0.001s

FAILED (errors=1)
LOG
if out=$(python3 "$here/outcomes.py" --compare "$dir/native.log" "$dir/elfuse.log" \
  --rerun-patterns "$dir/patterns"); then
  fail "outcomes.py found no difference: $out"
fi
grep -q 'elfuse | OSError: \[Errno 98\] Address already in use' <<<"$out" || fail "no traceback: $out"
[[ $(cat "$dir/patterns") == test.test_m.C.test_x ]] || fail "rerun patterns: $(cat "$dir/patterns")"
echo 'test.test_m.Other.*' >"$dir/patterns"
if out=$(python3 "$here/outcomes.py" --compare "$dir/native.log" "$dir/native.log" \
  --ran-patterns "$dir/patterns"); then
  fail "a rerun that ran none of its test cases passed: $out"
fi
echo "PASS: run.sh reruns a differing test case, passes when it agrees, fails when it holds"
