#!/usr/bin/env bash
# Runs every benchmark once and prints ratios measured in this one run:
#   (a) getppid natively, under elfuse, and the bare user-mode MMIO exit
#   (b) start-to-exit of a static hello natively and under elfuse
#   (c) wall time of real dynamic programs natively and under elfuse (issue 3):
#       python3 -c pass and ls -la /usr/lib, median of 11 runs each, interleaved
#   (d) processes and threads (issue 4): fork+exit+wait, vfork+exec+wait of a
#       static program, pthread create+join, futex ping-pong (bench/procs.c)
#   (e) the JVM (issue 5): a SIGSEGV caught and returned from (bench/segv.c),
#       and java -version of OpenJDK 17, median of 7 runs, interleaved
#       (skipped without the JDK)
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

# The JVM (issue 5): the fault -> handler -> rt_sigreturn round trip, and
# java -version start to exit.
sn_us=$($B/bench/segv 2000); se_us=$($elfuse $B/bench/segv 500)
printf '%-28s native %8.1f us   elfuse %8.1f us   %.1fx\n' "SIGSEGV handled and returned" "$sn_us" "$se_us" \
  "$(awk -v a="$se_us" -v b="$sn_us" 'BEGIN { print a / b }')"
java=${ELFUSE_JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}/bin/java
if [[ -x $java ]]; then
  jn=(); je=()
  for i in $(seq 7); do
    jn+=("$(start_ns "$java" -version 2>/dev/null)")
    je+=("$(start_ns $elfuse "$java" -version 2>/dev/null)")
  done
  jvn=$(median "${jn[@]}"); jve=$(median "${je[@]}")
  awk -v n="$jvn" -v e="$jve" 'BEGIN {
    printf "java -version native        %8.2f ms\n", n / 1e6
    printf "java -version elfuse        %8.2f ms   %.1fx native\n", e / 1e6, e / n
  }'
else
  echo "java -version: no JDK at $java"
fi
