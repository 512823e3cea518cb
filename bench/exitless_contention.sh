#!/usr/bin/env bash
# Forwarded syscalls with the exitless worker on and off (ELFUSE_EXITLESS=0)
# while the host CPUs are contended (docs/internals.md, "Spinning, and no CPU
# burned while nothing happens"): ns per call (bench/syscalls.c, median of 5
# batches), the median of REPS runs, on and off interleaved, in 4 conditions:
#   free    no load of ours, run with `chrt -f 10` as bench/run.sh's "a CPU is free"
#   pinned1 one busy loop pinned to CPU 1
#   free1   one busy loop the host places
#   pinned2 one busy loop pinned to each of CPUs 0 and 1
# Usage: bench/exitless_contention.sh [BUILD [REPS [ELFUSE...]]]: more elfuse
# binaries (say, a copy from before a change) are measured in the same runs,
# interleaved, one column pair each. The host's other load shows in every
# number: compare only within one run.
set -euo pipefail
B=${1:-build}
REPS=${2:-3}
N=${N:-2000}
S=$(realpath "$B/bench/syscalls")
shift $(($# < 2 ? $# : 2))
bins=("$(realpath "$B/elfuse")" "$@")
loops=()
stop_loops() { for p in "${loops[@]}"; do kill "$p" 2>/dev/null || true; done; loops=(); }
trap stop_loops EXIT
loop() { "$@" sh -c 'while :; do :; done' & loops+=($!); }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-8s %-11s' condition call
for b in "${bins[@]}"; do printf ' | %-26s' "$(basename "$(dirname "$b")")/$(basename "$b") on/off"; done
echo
for cond in free pinned1 free1 pinned2; do
  pre=()
  case $cond in
    free) pre=(chrt -f 10) ;;
    pinned1) loop taskset -c 1 ;;
    free1) loop env ;;
    pinned2) loop taskset -c 0; loop taskset -c 1 ;;
  esac
  declare -A res=()
  for _ in $(seq "$REPS"); do
    for m in pread fstatat pipe open_close; do
      for i in "${!bins[@]}"; do
        for x in 1 0; do
          res[$m,$i,$x]+="$(ELFUSE_EXITLESS=$x "${pre[@]}" "${bins[$i]}" "$S" $m "$N") "
        done
      done
    done
  done
  stop_loops
  for m in pread fstatat pipe open_close; do
    printf '%-8s %-11s' $cond $m
    for i in "${!bins[@]}"; do
      # shellcheck disable=SC2086
      printf ' | %12.0f %12.0f ' "$(median ${res[$m,$i,1]})" "$(median ${res[$m,$i,0]})"
    done
    echo
  done
  unset res
done
