#!/usr/bin/env bash
# Runs every benchmark once and prints ratios measured in this one run:
#   (a) getppid natively, under elfuse, and the bare user-mode MMIO exit
#   (b) start-to-exit of a static hello natively and under elfuse
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

awk -v n="$native" -v g="$guest" -v b="$bare" -v hn="$hn" -v he="$he" 'BEGIN {
  printf "getppid native           %10.1f ns\n", n
  printf "getppid under elfuse     %10.1f ns   %.1fx native\n", g, g / n
  printf "bare user MMIO exit      %10.1f ns\n", b
  printf "getppid / bare exit      %10.2f       (aim: <= 1.15)\n", g / b
  printf "hello start-to-exit native  %8.2f ms\n", hn / 1e6
  printf "hello start-to-exit elfuse  %8.2f ms   %.1fx native\n", he / 1e6, he / hn
}'
