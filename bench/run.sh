#!/usr/bin/env bash
# Runs every benchmark once and prints ratios measured in this one run:
#   (a) getppid natively, under elfuse, and the bare user-mode MMIO exit
#   (b) start-to-exit of a static hello natively and under elfuse
#   (c) wall time of real dynamic programs natively and under elfuse (issue 3):
#       python3 -c pass and ls -la /usr/lib, median of 11 runs each, interleaved
#   (d) processes and threads (issue 4): fork+exit+wait, vfork+exec+wait of a
#       static program, pthread create+join, futex ping-pong (bench/procs.c)
#   (e) syscalls without an exit (issue 6): forwarded calls (1-byte pread of
#       /dev/zero, newfstatat) with elfuse's exitless worker on and off
#       (ELFUSE_EXITLESS=0), and calls the guest entry answers itself
#       (getpid, a FUTEX_WAKE_PRIVATE nobody waits for) (bench/syscalls.c)
set -euo pipefail
B=${1:-build}
N=${N:-20000}
elfuse=$B/elfuse

native=$($B/bench/getppid $N)
guest=$($elfuse $B/bench/getppid $N)
bare=$($B/bench/bench_bare_exit $N)

# Start-to-exit: median of 21 runs each, interleaved.
start_ns() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo $((t1 - t0)); }
nat=(); elf=()
for i in $(seq 21); do
  nat+=("$(start_ns $B/bench/hello)")
  elf+=("$(start_ns $elfuse $B/bench/hello)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
hn=$(median "${nat[@]}"); he=$(median "${elf[@]}")

# Dynamic programs: median of 11 runs each, native and elfuse interleaved.
py=/usr/bin/python3; ls=/bin/ls  # Debian's, not whatever PATH finds first
pn=(); pe=(); ln=(); le=()
for i in $(seq 11); do
  pn+=("$(start_ns "$py" -c pass)")
  pe+=("$(start_ns $elfuse "$py" -c pass)")
  ln+=("$(start_ns "$ls" -la /usr/lib)")
  le+=("$(start_ns $elfuse "$ls" -la /usr/lib)")
done
pyn=$(median "${pn[@]}"); pye=$(median "${pe[@]}")
lsn=$(median "${ln[@]}"); lse=$(median "${le[@]}")

# Processes and threads (issue 4): bench/procs.c, microseconds per operation
# (median of 5 batches inside the program), native and elfuse back to back.
P=$B/bench/procs
ops=("fork 200" "vfork_exec 100 $(realpath $B/bench/true)" "pthread 500" "futex 5000")
labels=("fork+exit+wait" "vfork+exec+wait (static)" "pthread create+join" "futex ping-pong round trip")
procs_lines=""
for i in "${!ops[@]}"; do
  # shellcheck disable=SC2086
  pn_us=$($P ${ops[$i]}); pe_us=$($elfuse $P ${ops[$i]})
  procs_lines+=$(printf '%-28s native %8.1f us   elfuse %8.1f us   %.1fx' "${labels[$i]}" "$pn_us" "$pe_us" \
    "$(awk -v a="$pe_us" -v b="$pn_us" 'BEGIN { print a / b }')")$'\n'
done

# Syscalls (issue 6): nanoseconds per call, median of 11 batches inside the
# program, native, elfuse, elfuse without the exitless worker.
S=$B/bench/syscalls
sys_lines=""
for m in pread fstatat getpid futexwake; do
  sn=$($S $m); se=$($elfuse $S $m); so=$(ELFUSE_EXITLESS=0 $elfuse $S $m)
  sys_lines+=$(printf '%-10s native %8.1f ns   elfuse %9.1f ns   exitless off %9.1f ns' "$m" "$sn" "$se" "$so")$'\n'
done

awk -v n="$native" -v g="$guest" -v b="$bare" -v hn="$hn" -v he="$he" \
    -v pyn="$pyn" -v pye="$pye" -v lsn="$lsn" -v lse="$lse" 'BEGIN {
  printf "getppid native           %10.1f ns\n", n
  printf "getppid under elfuse     %10.1f ns   %.1fx native\n", g, g / n
  printf "bare user MMIO exit      %10.1f ns\n", b
  printf "getppid / bare exit      %10.2f       (aim: <= 1.15)\n", g / b
  printf "hello start-to-exit native  %8.2f ms\n", hn / 1e6
  printf "hello start-to-exit elfuse  %8.2f ms   %.1fx native\n", he / 1e6, he / hn
  printf "python3 -c pass native      %8.2f ms\n", pyn / 1e6
  printf "python3 -c pass elfuse      %8.2f ms   %.1fx native\n", pye / 1e6, pye / pyn
  printf "ls -la /usr/lib native      %8.2f ms\n", lsn / 1e6
  printf "ls -la /usr/lib elfuse      %8.2f ms   %.1fx native\n", lse / 1e6, lse / lsn
}'
printf '%s' "$procs_lines"
printf '%s' "$sys_lines"
