#!/usr/bin/env bash
# Runs every benchmark once and prints ratios measured in this one run:
#   (a) getppid natively, under elfuse, and the bare user-mode MMIO exit
#   (b) start-to-exit of a static hello natively and under elfuse
#   (c) wall time of real dynamic programs natively and under elfuse (issue 3):
#       python3 -c pass and ls -la /usr/lib, median of 11 runs each, interleaved
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
