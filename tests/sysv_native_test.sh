#!/usr/bin/env bash
# A System V shared memory segment shared between native processes and
# elfuse ones: what one writes the other reads, and shm_nattch counts the
# attaches of both (tests/guest/sysv_ipc.c's helper modes).
#
# usage: sysv_native_test.sh ELFUSE SYSV_IPC_PROGRAM
set -euo pipefail
elfuse=$1
prog=$2

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
expect() {  # expect WHAT ACTUAL WANTED
  [[ $2 == "$3" ]] || fail "$1: got '$2', want '$3'"
}

id=$("$prog" create)
trap '"$prog" rm "$id" >/dev/null 2>&1 || true' EXIT

expect "elfuse writes" "$("$elfuse" "$prog" write "$id" from-elfuse)" "wrote, nattch 1"
expect "native reads" "$("$prog" read "$id")" "read 'from-elfuse', nattch 1"
expect "native writes" "$("$prog" write "$id" from-native)" "wrote, nattch 1"
expect "elfuse reads" "$("$elfuse" "$prog" read "$id")" "read 'from-native', nattch 1"

# elfuse holds an attach while native processes attach and count.
# (bash unsets a coprocess's variables when it ends: keep them at once.)
coproc HOLD { "$elfuse" "$prog" hold "$id"; }
hold_pid=$HOLD_PID hold_out=${HOLD[0]} hold_in=${HOLD[1]}
read -r line <&"$hold_out"
expect "elfuse holds" "$line" "held 'from-native', nattch 1"
expect "native sees both" "$("$prog" read "$id")" "read 'from-native', nattch 2"
expect "native writes while held" "$("$prog" write "$id" shared-now)" "wrote, nattch 2"
exec {hold_in}>&-
wait "$hold_pid" || fail "elfuse hold exited $?"
expect "after elfuse detached" "$("$prog" read "$id")" "read 'shared-now', nattch 1"

# And the other way round: a native holder, elfuse readers.
coproc NHOLD { "$prog" hold "$id"; }
hold_pid=$NHOLD_PID hold_out=${NHOLD[0]} hold_in=${NHOLD[1]}
read -r line <&"$hold_out"
expect "native holds" "$line" "held 'shared-now', nattch 1"
expect "elfuse sees both" "$("$elfuse" "$prog" read "$id")" "read 'shared-now', nattch 2"
exec {hold_in}>&-
wait "$hold_pid" || fail "native hold exited $?"
echo "sysv_native: ok"
