#!/bin/sh
# sandbox_test.sh ELFUSE BINDIR CASE: elfuse's sandbox options (issue 17)
# against their native oracle. BINDIR holds tests/sandbox/*.c built static
# (with_rlimit sets a limit natively as the option sets it for the guest).
# Each case runs a hostile program that tries to get past the control: a
# guest that ignores SIGTERM and hides forks in a new session (--timeout),
# one that catches SIGXCPU and spins on (--cpu-time), one that ignores
# SIGXFSZ and writes on (--max-file-size), one that raises its descriptor
# limit (--nofile). POSIX sh: the SVM lane runs it under busybox.
# Exit 0: pass; 1: fail; 77: skipped.
set -u
elfuse=$1
bin=$2
case=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/elfuse-sandbox.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
ulimit -c 0
fail=0
say() { echo "$*"; }
bad() {
  echo "FAIL: $*"
  fail=1
}

# same NAME NATIVE ELFUSE-CMD...: NATIVE (a shell command line, run in a
# subshell of this one: no new shell changes the environment) and the
# elfuse command give the same stdout, stderr and status.
same() {
  name=$1
  (eval "$2") >"$tmp/n.out" 2>"$tmp/n.err"
  ns=$?
  shift 2
  # In a subshell too, so that the shell's own line about a child killed by
  # a signal ("Killed") is printed alike, outside both outputs.
  (exec "$@") >"$tmp/e.out" 2>"$tmp/e.err"
  es=$?
  grep -v '^elfuse: guest killed by' "$tmp/e.err" >"$tmp/e.errf"
  if [ "$ns" != "$es" ] || ! cmp -s "$tmp/n.out" "$tmp/e.out" || ! cmp -s "$tmp/n.err" "$tmp/e.errf"
  then
    bad "$name: native status $ns, elfuse $es"
    diff "$tmp/n.out" "$tmp/e.out" | head -20
    diff "$tmp/n.err" "$tmp/e.errf" | head -10
  fi
}

# expect_status NAME WANT GOT
expect_status() {
  [ "$2" = "$3" ] || bad "$1: status $3, want $2"
}

# report_has FILE KEY VALUE: the report's line "KEY": VALUE
report_has() {
  grep -q "^  \"$2\": $3,\{0,1\}\$" "$1" || {
    bad "report $1: no \"$2\": $3"
    cat "$1"
  }
}

# report_ok FILE: parses as JSON (when python3 is there) and no temporary
# file is left beside it.
report_ok() {
  [ -f "$1" ] || {
    bad "no report $1"
    return
  }
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" || bad "report $1 is not JSON"
  fi
  ls "$1".tmp.* >/dev/null 2>&1 && bad "a temporary report file is left"
}

case $case in
env)
  # --clear-env and --env as env -i NAME=VALUE; --env alone as env
  # NAME=VALUE; --workdir as cd (without the PWD a shell's cd sets: the
  # working directory itself).
  mkdir -p "$tmp/work/sub" "$tmp/elsewhere"
  same clear_env "exec env -i A=1 B=two=2 PATH=/bin '$bin/probe' env" \
    "$elfuse" --clear-env --env A=1 --env=B=two=2 --env PATH=/bin "$bin/probe" env
  same add_env "exec env SANDBOX_X=1 HOME=/nowhere '$bin/probe' env" \
    "$elfuse" --env SANDBOX_X=1 --env HOME=/nowhere "$bin/probe" env
  cd "$tmp/elsewhere" || exit 1
  same workdir "cd '$tmp/work/sub' && exec '$bin/probe'" \
    "$elfuse" --workdir "$tmp/work/sub" "$bin/probe"
  same relative_workdir "cd ../work && exec '$bin/probe'" "$elfuse" --workdir ../work "$bin/probe"
  cd "$tmp" || exit 1
  # PATH lookup with the program's own PATH, as env -i PATH=... does.
  mkdir -p "$tmp/pbin"
  cp "$bin/probe" "$tmp/pbin/sbx_probe_in_path"
  same path_lookup "exec env -i PATH='$tmp/pbin' sbx_probe_in_path env" \
    "$elfuse" --clear-env --env PATH="$tmp/pbin" sbx_probe_in_path env
  "$elfuse" --workdir "$tmp/missing" "$bin/probe" >"$tmp/out" 2>"$tmp/err"
  expect_status workdir_missing 125 $?
  grep -q "^elfuse: --workdir $tmp/missing: No such file or directory\$" "$tmp/err" ||
    bad "workdir_missing: message $(cat "$tmp/err")"
  [ -s "$tmp/out" ] && bad "workdir_missing: the program ran"
  # With --sysroot, DIR is inside the root; `..` and a symlink out of the
  # root stay inside it (as under chroot).
  mkdir -p "$tmp/root/bin" "$tmp/root/sub/deeper" "$tmp/root/tmp"
  cp "$bin/probe" "$tmp/root/bin/probe"
  mkdir -p "$tmp/outside_only"
  ln -s "$tmp/outside_only" "$tmp/root/out"
  for w in /sub sub/deeper /sub/../../../.. /out; do
    "$elfuse" --sysroot "$tmp/root" --workdir "$w" /bin/probe >"$tmp/out" 2>"$tmp/err"
    echo "$w: $? $(grep '^cwd' "$tmp/out")$(cat "$tmp/err")"
  done >"$tmp/sysroot.out"
  printf '%s\n' "/sub: 0 cwd /sub" "sub/deeper: 0 cwd /sub/deeper" "/sub/../../../..: 0 cwd /" \
    "/out: 125 elfuse: --workdir /out (in the sysroot): No such file or directory" \
    >"$tmp/sysroot.want"
  cmp -s "$tmp/sysroot.want" "$tmp/sysroot.out" || {
    bad "sysroot workdir"
    diff "$tmp/sysroot.want" "$tmp/sysroot.out"
  }
  "$elfuse" --env NOVALUE "$bin/probe" >"$tmp/out" 2>"$tmp/err"
  expect_status bad_env 2 $?
  grep -q "^elfuse: --env needs NAME=VALUE, not 'NOVALUE'" "$tmp/err" || bad "bad_env: $(cat "$tmp/err")"
  ;;
nofile)
  same nofile "exec '$bin/with_rlimit' nofile 64 64 '$bin/probe' fds" \
    "$elfuse" --nofile 64 "$bin/probe" fds
  "$elfuse" --nofile 1000000000 "$bin/probe" >"$tmp/out" 2>"$tmp/err"
  expect_status nofile_too_many 125 $?
  grep -q "^elfuse: --nofile 1000000000: elfuse can give the program at most [0-9]* descriptors" \
    "$tmp/err" || bad "nofile_too_many: message $(cat "$tmp/err")"
  ;;
cpu_time)
  # SIGXCPU at 1 s of CPU time, caught; SIGKILL at 2 s.
  same cpu_catch "exec '$bin/with_rlimit' cpu 1 2 '$bin/spin' catch" \
    "$elfuse" --cpu-time 1 "$bin/spin" catch
  # SIGXCPU's default action.
  same cpu_default "exec '$bin/with_rlimit' cpu 1 2 '$bin/spin'" "$elfuse" --cpu-time 1 "$bin/spin"
  "$elfuse" --cpu-time 1 --report="$tmp/r.json" "$bin/spin" catch >/dev/null 2>&1
  expect_status cpu_report 137 $?
  report_ok "$tmp/r.json"
  report_has "$tmp/r.json" limit '"cpu-time"'
  report_has "$tmp/r.json" signal 9
  report_has "$tmp/r.json" exit_status null
  ;;
max_file_size)
  same fsize "exec '$bin/with_rlimit' fsize 2048 2048 '$bin/bigwrite'" \
    "$elfuse" --max-file-size 2K "$bin/bigwrite"
  ;;
timeout)
  t0=$(date +%s)
  "$elfuse" --timeout 8 --report="$tmp/r.json" "$bin/forkloop" "$tmp/pids" >"$tmp/out" 2>"$tmp/err"
  st=$?
  t1=$(date +%s)
  expect_status timeout 124 $st
  [ $((t1 - t0)) -lt 60 ] || bad "timeout: took $((t1 - t0)) s"
  grep -q '^elfuse: --timeout: 8.000 s passed; every process of the sandbox was killed$' \
    "$tmp/err" || bad "timeout: message $(cat "$tmp/err")"
  n=$(wc -l <"$tmp/pids")
  [ "$n" -eq 6 ] || bad "timeout: $n processes noted their pid, want 6"
  for pid in $(cat "$tmp/pids"); do
    if kill -0 "$pid" 2>/dev/null; then
      bad "timeout: process $pid is still alive"
      kill -9 "$pid"
    fi
  done
  report_ok "$tmp/r.json"
  report_has "$tmp/r.json" limit '"timeout"'
  report_has "$tmp/r.json" elfuse_status 124
  report_has "$tmp/r.json" signal 9
  report_has "$tmp/r.json" processes 7
  ;;
report)
  # The status, and the processes: the shell and the two of its pipeline.
  "$elfuse" --report="$tmp/r.json" /bin/busybox sh -c '/bin/busybox true | /bin/busybox true; exit 3'
  expect_status report 3 $?
  report_ok "$tmp/r.json"
  report_has "$tmp/r.json" exit_status 3
  report_has "$tmp/r.json" signal null
  report_has "$tmp/r.json" limit '"none"'
  report_has "$tmp/r.json" elfuse_status 3
  report_has "$tmp/r.json" processes 3
  grep -q '"peak_rss_kib": [1-9]' "$tmp/r.json" || bad "report: no peak RSS"
  # Killed by a signal: elfuse dies by it too, as without a supervisor.
  "$elfuse" --report="$tmp/r2.json" /bin/busybox sh -c 'kill -TERM $$'
  expect_status report_signal 143 $?
  report_has "$tmp/r2.json" signal 15
  report_has "$tmp/r2.json" exit_status null
  # The report's directory does not exist: refused before the run.
  "$elfuse" --report="$tmp/no/r.json" /bin/busybox echo ran >"$tmp/out" 2>"$tmp/err"
  expect_status report_unwritable 125 $?
  [ -s "$tmp/out" ] && bad "report_unwritable: the program ran"
  ;;
*)
  echo "unknown case $case"
  exit 1
  ;;
esac
exit $fail
