#!/bin/busybox sh
# /init of the SVM lane's initramfs (scripts/svm-lane/lane.sh builds it).
# Loads kvm_amd, checks that elfuse picks the hardware backend, then runs each
# test of /lane/tests natively and under elfuse and compares stdout, stderr
# and exit status, as tests/compare.sh does on the host. Ends with one line
# "N passed, N failed" and powers off.
#
# /lane/tests: one test a line, "NAME|STDIN|COMMAND" (COMMAND in shell word
# syntax).
/bin/busybox mkdir -p /proc /sys /dev /tmp /usr/bin /usr/sbin /sbin
/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/usr/bin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mkdir -p /dev/shm /dev/pts
mount -t tmpfs shm /dev/shm
mount -t devpts pts /dev/pts
ln -sf /proc/self/fd /dev/fd 2>/dev/null
hostname lane
# Transparent huge pages as on our development machines (madvise; Debian's
# kernel default is always). With "always" the host backs untouched guest
# pages next to touched ones with the same huge page, and /proc/PID/smaps
# Rss under elfuse counts them (a known difference, docs/internals.md /proc).
echo madvise >/sys/kernel/mm/transparent_hugepage/enabled
# Loopback, as every host has it (the socket tests use 127.0.0.1).
ip link set lo up

up() { cut -d' ' -f1 /proc/uptime; }
finish() {
  echo "LANE done uptime=$(up)"
  sync
  poweroff -f
}

# kvm_amd's module parameters come from the kernel command line
# (lane_kvm_amd="vgif=0 ..."), for trying what TCG's SVM does with each.
for m in $(cat /lib/modules/order); do
  params=
  [ "$m" = kvm-amd.ko ] && params=${lane_kvm_amd:-}
  insmod /lib/modules/$m $params 2>/tmp/err || echo "LANE insmod $m: $(cat /tmp/err)"
done
echo "LANE kvm_amd vgif=$(cat /sys/module/kvm_amd/parameters/vgif 2>/dev/null)"
if [ ! -e /dev/kvm ] || [ ! -d /sys/module/kvm_amd ]; then
  echo "LANE no /dev/kvm from kvm_amd"
  echo "0 passed, 1 failed, 0 skipped"
  finish
fi
# One vCPU without an in-kernel APIC for the whole run: KVM's
# kvm_has_noapic_vcpu static key then never flips between tests (each flip
# patches kernel text, which TCG sometimes never finishes: kvm_hold.c).
kvm_hold &
echo "LANE kvm_amd loaded uptime=$(up) npt=$(cat /sys/module/kvm_amd/parameters/npt) cpus=$(nproc) clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource) text=$(cat /sys/module/kvm_amd/sections/.text 2>/dev/null)"

# lane_trace=N: KVM's tracepoints (the kvm event group) record each elfuse
# run; a failed test shows the last N lines of the trace (what KVM did just
# before, e.g. the exits and injected exceptions before a triple fault).
trace=/sys/kernel/tracing
if [ -n "${lane_trace:-}" ]; then
  mount -t tracefs tracefs $trace 2>/dev/null
  echo "${lane_trace_kb:-8192}" >$trace/buffer_size_kb
  echo 1 >$trace/events/kvm/enable || echo "LANE no kvm tracepoints"
fi

passed=0
failed=0
skipped=0
pass() {
  passed=$((passed + 1))
  echo "PASS $1"
}
fail() {
  failed=$((failed + 1))
  echo "FAIL $1"
}

# elfuse reports the backend it picked.
v=$(elfuse --version 2>&1)
echo "LANE elfuse --version: $v"
case $v in
  *backend:\ hardware*) pass lane.version ;;
  *) fail lane.version ;;
esac

# run LABEL STDIN COMMAND...: in a fresh /tmp/w, the environment compare.sh
# gives, fds 0-2 only; writes /tmp/LABEL.{out,err,status}.
run() {
  label=$1
  stdin=$2
  shift 2
  rm -rf /tmp/w
  mkdir /tmp/w
  (
    cd /tmp/w
    ulimit -c 0
    # /lane/ulimits "NAME OPTIONS": the test's limits, for both runs.
    [ -n "$test_ulimit" ] && ulimit $test_ulimit
    exec timeout -k 10 120 env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp LANG=C "$@" \
      <"$stdin" >/tmp/$label.out 2>/tmp/$label.err
  )
  echo $? >/tmp/$label.status
  rm -rf /tmp/w
}

elfuse_args=$(cat /lane/elfuse_args)
# lane_from=K (lane.sh, after the emulated machine stalled): start at the
# K-th line of /lane/tests; the earlier ones ran in the previous boot.
idx=0
while IFS='|' read -r name stdin cmd; do
  [ -n "$name" ] || continue
  idx=$((idx + 1))
  [ "$idx" -lt "${lane_from:-1}" ] && continue
  if [ "$stdin" = SKIP ]; then
    skipped=$((skipped + 1))
    echo "SKIP $name: $cmd"
    continue
  fi
  # A script test (lane.sh): run once, judged by its exit status.
  if [ "$stdin" = SCRIPT ]; then
    echo "START $idx $name"
    t0=$(up)
    rm -rf /tmp/w && mkdir /tmp/w
    (cd /tmp/w && ulimit -c 0 && exec timeout -k 10 300 env -i PATH=/usr/local/bin:/usr/bin:/bin \
      HOME=/tmp LANG=C $cmd </dev/null >/tmp/script.out 2>&1)
    st=$?
    rm -rf /tmp/w
    if [ $st = 0 ]; then
      pass "$name ($(echo "$t0 $(up)" | awk '{ printf "%.1fs", $2 - $1 }'))"
    elif [ $st = 77 ]; then
      skipped=$((skipped + 1))
      echo "SKIP $name: $(tail -n 1 /tmp/script.out)"
    else
      fail "$name"
      echo "| exit status: $st"
      tail -n 40 /tmp/script.out | sed 's/^/| /'
    fi
    continue
  fi
  eval "set -- $cmd"
  test_ulimit=$(awk -v n="$name" '$1 == n { $1 = ""; print }' /lane/ulimits 2>/dev/null)
  # lane_repeat=N on the kernel command line (LANE_CMDLINE): each test N
  # times, for failures that come and go.
  for round in $(seq "${lane_repeat:-1}"); do
    tname=$name
    [ "${lane_repeat:-1}" -gt 1 ] && tname="$name#$round"
    echo "START $idx $tname" # in the serial log only (lane.sh shows PASS/FAIL)
    t0=$(up)
    run native "$stdin" "$@"
    [ -n "${lane_trace:-}" ] && echo >$trace/trace
    # per-test elfuse options (lane.sh: tests/security/NAME.elfuse-args)
    test_args=
    [ -f "/lane/eargs/$name" ] && test_args=$(cat "/lane/eargs/$name")
    run elfuse "$stdin" /bin/elfuse $elfuse_args $test_args "$@"
    # elfuse's own diagnostics, as compare.sh leaves them out
    grep -Ev '^elfuse: (guest killed by SIG[A-Z0-9]+: |(unknown )?syscall .*returns ENOSYS$)' \
      /tmp/elfuse.err >/tmp/elfuse.errf
    if cmp -s /tmp/native.out /tmp/elfuse.out && cmp -s /tmp/native.err /tmp/elfuse.errf &&
      cmp -s /tmp/native.status /tmp/elfuse.status; then
      pass "$tname ($(echo "$t0 $(up)" | awk '{ printf "%.1fs", $2 - $1 }'))"
    else
      fail "$tname"
      echo "| exit status: native $(cat /tmp/native.status), elfuse $(cat /tmp/elfuse.status)"
      diff -u /tmp/native.out /tmp/elfuse.out | head -40 | sed 's/^/| out /'
      diff -u /tmp/native.err /tmp/elfuse.errf | head -40 | sed 's/^/| err /'
      tail -n "${lane_err_lines:-5}" /tmp/elfuse.err | sed 's/^/| elfuse stderr: /'
      [ -n "${lane_trace:-}" ] && tail -n "$lane_trace" $trace/trace | sed 's/^/| trace: /'
    fi
  done
done </lane/tests

# LANE_BENCH: behaviour, not speed (docs/performance.md). Exits per syscall
# from KVM's own counter: two runs of N and 2N calls, the difference / N.
if [ -d /lane/bench ]; then
  mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
  # KVM's counters (every exit; the port I/O ones, which reach elfuse) are
  # per VM and go with it: sample the VM's directory while elfuse runs,
  # for N and 2N calls; the difference over N is per syscall.
  count() { # N: "exits io_exits ns-per-call" of one run
    elfuse /lane/bench/getppid "$1" >/tmp/bench.out &
    pid=$!
    last="0 0"
    while kill -0 $pid 2>/dev/null; do
      for d in /sys/kernel/debug/kvm/$pid-*; do
        [ -f "$d/exits" ] && last="$(cat "$d/exits") $(cat "$d/io_exits")"
      done
      usleep 20000
    done
    wait $pid
    echo "$last $(cat /tmp/bench.out)"
  }
  n=5000
  echo "RESULT getppid native: $(/lane/bench/getppid 20000) ns per call"
  a=$(count $n)
  b=$(count $((2 * n)))
  echo "$a $b $n" | awk '{ printf "RESULT getppid under elfuse: %s / %s ns per call; per syscall: %.2f KVM exits, %.2f port I/O exits\n", $3, $6, ($4 - $1) / $7, ($5 - $2) / $7 }'
  t0=$(up)
  for i in 1 2 3 4 5 6 7 8 9 10; do /lane/bench/hello >/dev/null; done
  t1=$(up)
  for i in 1 2 3 4 5 6 7 8 9 10; do elfuse /lane/bench/hello >/dev/null; done
  t2=$(up)
  echo "RESULT hello start-to-exit: native $(echo "$t0 $t1" | awk '{ printf "%.1f", ($2 - $1) * 100 }') ms, elfuse $(echo "$t1 $t2" | awk '{ printf "%.1f", ($2 - $1) * 100 }') ms (mean of 10)"
fi

echo "$passed passed, $failed failed, $skipped skipped"
finish
