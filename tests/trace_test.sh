#!/usr/bin/env bash
# trace_test.sh ELFUSE: --trace=FILE writes one strace-style line per syscall,
# with decoded arguments, results and errno names; --trace alone writes to
# stderr; without --trace nothing is written. Calls elfuse answers inside the
# guest without --trace are traced like any other; vDSO calls are not
# syscalls and are not traced (only under --no-vdso, where they are syscalls).
set -euo pipefail
elfuse=${ELFUSE:-$1}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/elfuse-trace.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# Start from fds 0-2 only (ctest may leak others), so fd numbers are fixed.
for f in /proc/$$/fd/*; do
  fd=${f##*/}
  if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
done
fail=0
expect() {  # expect FILE LINE: LINE must be a whole line of FILE
  if ! grep -qFx -- "$2" "$1"; then
    echo "FAIL: no line '$2' in $1"
    fail=1
  fi
}

status=0
"$elfuse" --trace="$tmp/t1" /bin/busybox cat /nonexistent 2>"$tmp/err1" || status=$?
[[ $status == 1 ]] || { echo "FAIL: exit status $status, want 1"; fail=1; }
expect "$tmp/t1" 'openat(AT_FDCWD, "/nonexistent", O_RDONLY) = -1 ENOENT (No such file or directory)'
expect "$tmp/t1" 'exit_group(1) = ?'
expect "$tmp/t1" 'set_robust_list(0x'"$(grep -o 'set_robust_list(0x[0-9a-f]*' "$tmp/t1" | cut -c19-)"', 24) = 0'
grep -q '^write(2, "cat: can'"'"'t open '"'"'/nonexistent'"'"': "\.\.\., 58) = 58$' "$tmp/t1" ||
  { echo "FAIL: no truncated write line"; fail=1; }

printf 'hi\n' >in
"$elfuse" --trace /bin/busybox cat in >"$tmp/out2" 2>"$tmp/err2"
expect "$tmp/err2" 'openat(AT_FDCWD, "in", O_RDONLY) = 3'
expect "$tmp/err2" 'sendfile(1, 3, NULL, 16777216) = 3'
expect "$tmp/out2" 'hi'

# Calls elfuse otherwise answers inside the guest (getpid, getppid) or hands
# to its exitless worker (stat, in a loop) are all traced: every one is seen.
"$elfuse" --trace="$tmp/t4" /bin/busybox sh -c \
  'echo $$ $PPID; i=0; while [ $i -lt 50 ]; do i=$((i+1)); [ -e / ]; done' >"$tmp/out4"
read -r pid4 ppid4 <"$tmp/out4"
expect "$tmp/t4" "getpid() = $pid4"
expect "$tmp/t4" "getppid() = $ppid4"
n4=$(grep -c '"/"' "$tmp/t4" || true)
((n4 >= 50)) || { echo "FAIL: $n4 traced stat calls of /, want 50"; fail=1; }

# Calls the vDSO answers are not syscalls and are not traced (as strace
# does not see them); --no-vdso makes them syscalls, which are.
"$elfuse" --trace="$tmp/t6" /bin/busybox date >/dev/null
if grep -qE '^(time|clock_gettime|gettimeofday)\(' "$tmp/t6"; then
  echo "FAIL: a vDSO call in the trace"
  fail=1
fi
"$elfuse" --no-vdso --trace="$tmp/t7" /bin/busybox date >/dev/null
grep -qE '^time\(0x[0-9a-f]+\) = [0-9]+$' "$tmp/t7" ||
  { echo "FAIL: no time() syscall in the --no-vdso trace"; fail=1; }

"$elfuse" /bin/busybox true 2>"$tmp/err3"
[[ ! -s $tmp/err3 ]] || { echo "FAIL: output on stderr without --trace"; fail=1; }

if ((fail)); then
  echo "--- trace:"
  cat "$tmp/t1"
  exit 1
fi
echo "PASS: --trace"
