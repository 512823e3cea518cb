#!/usr/bin/env bash
# Runs every benchmark once and prints ratios measured in this one run
# (docs/performance.md explains each line):
#   (a) the bare exit: a call forwarded through an exit (a 1-byte read with
#       the exitless worker off; getppid is answered inside the guest now)
#       against the cheapest user-mode MMIO exit this platform offers
#       (bench/bare_exit.cc)
#   (b) the issue 6 table: each benchmark natively, under elfuse and under
#       proot (ptrace), with elfuse/native and elfuse/proot ratios:
#       single syscalls (bench/syscalls.c, ns per call, median of 5 batches),
#       processes and threads (bench/procs.c, us per operation), a SIGSEGV
#       handled and returned (bench/segv.c, us per fault), and whole
#       programs (wall time, median of RUNS runs, the three interleaved)
#   (c) start-to-exit of a static hello and ls -la /usr/lib
#   (d) forwarded syscalls with elfuse's exitless worker off (ELFUSE_EXITLESS=0),
#       to compare with their rows in (b) (docs/internals.md, "Syscalls
#       without an exit")
# proot is optional: without it the proot column says "-".
set -euo pipefail
B=${1:-build}
N=${N:-20000}
RUNS=${RUNS:-11}
elfuse=$(realpath "$B/elfuse")
S=$(realpath "$B/bench/syscalls")
P=$(realpath "$B/bench/procs")
PROOT=$(command -v proot || true)

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Wall time of one run in microseconds, output discarded.
wall_us() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}

row() {  # label unit native elfuse proot
  awk -v l="$1" -v u="$2" -v n="$3" -v e="$4" -v p="$5" 'BEGIN {
    ps = (p == "-") ? "-" : sprintf("%.1f", p)
    pr = (p == "-") ? "-" : sprintf("%.2f", e / p)
    printf "%-30s %-3s %11.1f %11.1f %11s %8.2fx %8sx\n", l, u, n, e, ps, e / n, pr
  }'
}
under_proot() { if [ -n "$PROOT" ]; then "$PROOT" "$@"; else echo -; fi; }

# (a) the bare exit
ge=$(ELFUSE_EXITLESS=0 $elfuse $S read_zero $N)
bare=$($B/bench/bench_bare_exit $N)
printf 'read through an exit %.1f ns, bare user MMIO exit %.1f ns: %.2f (aim <= 1.15)\n\n' \
  "$ge" "$bare" "$(awk -v a="$ge" -v b="$bare" 'BEGIN { print a / b }')"

# (b) the table
printf '%-30s %-3s %11s %11s %11s %9s %9s\n' benchmark "" native elfuse proot elf/nat elf/proot
for m in getppid getpid futexwake read_zero pread fstatat pipe open_close clock_gettime; do
  n=$($S $m $N); e=$($elfuse $S $m $N); p=$(under_proot $S $m $((N / 10)))
  row "$m" ns "$n" "$e" "$p"
done
# clock_gettime without the vDSO: every call a syscall (as proot's always are).
row "clock_gettime --no-vdso" ns "$($S clock_gettime $N)" \
  "$($elfuse --no-vdso $S clock_gettime $((N / 10)))" -
for op in "fork 200" "futex 5000" "pthread 500"; do
  # shellcheck disable=SC2086
  n=$($P $op); e=$($elfuse $P $op); p=$(under_proot $P ${op% *} 50)
  row "${op% *}" us "$n" "$e" "$p"
done
# A SIGSEGV caught and returned from (bench/segv.c): each of HotSpot's
# implicit null checks that fires costs this.
G=$(realpath "$B/bench/segv")
row sigsegv_handled us "$($G 2000)" "$($elfuse $G 500)" "$(under_proot $G 100)"

# Whole programs, interleaved. The make -j2 build runs in a fresh copy of
# bench/cproj each time (make clean first).
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp -r "$(dirname "$0")/cproj" "$work/cproj"
mk() { "$@" /usr/bin/make -s -C "$work/cproj" clean >/dev/null; "$@" /usr/bin/make -s -j2 -C "$work/cproj"; }
progs=("busybox true|/bin/busybox true" "python3 -c pass|/usr/bin/python3 -c pass")
if command -v java >/dev/null; then progs+=("java -version|$(readlink -f "$(command -v java)") -version"); fi
progs+=("make -j2 (7 files)|mk")
for entry in "${progs[@]}"; do
  label=${entry%%|*}; cmd=${entry#*|}
  ns=(); es=(); ps=()
  for i in $(seq "$RUNS"); do
    if [ "$cmd" = mk ]; then
      ns+=("$(wall_us mk)"); es+=("$(wall_us mk "$elfuse")")
      [ -n "$PROOT" ] && ps+=("$(wall_us mk "$PROOT")")
    else
      # shellcheck disable=SC2086
      ns+=("$(wall_us $cmd)"); es+=("$(wall_us "$elfuse" $cmd)")
      # shellcheck disable=SC2086
      [ -n "$PROOT" ] && ps+=("$(wall_us "$PROOT" $cmd)")
    fi
  done
  p=-; [ -n "$PROOT" ] && p=$(median "${ps[@]}")
  row "$label" us "$(median "${ns[@]}")" "$(median "${es[@]}")" "$p"
done

# (c) start-to-exit of small programs, native and elfuse only
hn=(); he=(); ln=(); le=()
for i in $(seq "$RUNS"); do
  hn+=("$(wall_us $B/bench/hello)"); he+=("$(wall_us $elfuse $B/bench/hello)")
  ln+=("$(wall_us /bin/ls -la /usr/lib)"); le+=("$(wall_us $elfuse /bin/ls -la /usr/lib)")
done
row "hello (static) start-to-exit" us "$(median "${hn[@]}")" "$(median "${he[@]}")" -
row "ls -la /usr/lib" us "$(median "${ln[@]}")" "$(median "${le[@]}")" -

# (d) the exit path for the forwarded calls of (b)
for m in read_zero pread fstatat pipe open_close; do
  n=$($S $m $N); e=$(ELFUSE_EXITLESS=0 $elfuse $S $m $N)
  row "$m, exitless off" ns "$n" "$e" -
done
echo
echo "proot: ${PROOT:-not installed (apt-get install proot)}; runs per program: $RUNS"
