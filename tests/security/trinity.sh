#!/usr/bin/env bash
# Debian's trinity, the kernel's system call fuzzer, as a hostile guest
# (docs/security.md, "Fuzzing"): run under elfuse as the unprivileged uid
# 65534 (setpriv inside the guest drops root), a fixed number of calls per
# seed. Passes when, for every seed, elfuse is alive at the end (trinity
# itself exits 0 after its calls; no "elfuse:" fatal message, no death by
# signal) and nothing owned by that uid was created or changed outside the
# run's own directory. Skipped (77) when not root or trinity is missing.
# trinity's pool of socket fds stays off (--disable-fds=sockets): building it
# crashes trinity itself natively too (SIGSEGV while it regenerates its
# socket cache); the socket calls are still among the ones it fuzzes.
#
# usage: trinity.sh ELFUSE [CALLS [SEED...]]
set -uo pipefail
elfuse=${1:?usage: trinity.sh ELFUSE [CALLS [SEED...]]}
calls=${2:-1500}
shift 2 2>/dev/null || shift $#
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2)
trinity=$(command -v trinity) || { echo "trinity.sh: trinity is not installed (make deps)"; exit 77; }
setpriv=$(command -v setpriv) || { echo "trinity.sh: setpriv is missing"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "trinity.sh: needs root (to drop to uid 65534 inside the guest)"; exit 77; }
elfuse=$(readlink -f "$elfuse")

status=0
for seed in "${seeds[@]}"; do
  dir=$(mktemp -d /tmp/elfuse-trinity.XXXXXX)
  chown 65534:65534 "$dir"
  marker="$dir.marker"
  touch "$marker"
  sleep 1  # -newer compares whole seconds on some file systems
  out="$dir.log"
  (cd "$dir" && timeout -k 10 300 "$elfuse" "$setpriv" --reuid=65534 --regid=65534 --clear-groups \
    "$trinity" -N "$calls" -q -C 2 -s "$seed" -a 64 -l off --disable-fds=sockets) >"$out" 2>&1
  rc=$?
  summary=$(grep -E "^\[main\] Ran [0-9]+ syscalls" "$out" | tail -1)
  if [ $rc -ne 0 ] || grep -q "^elfuse:" "$out" || [ -z "$summary" ]; then
    echo "trinity.sh: seed $seed: exit $rc${summary:+, $summary}"
    grep -E "^elfuse:" "$out" | head -5
    tail -5 "$out"
    status=1
  else
    echo "trinity.sh: seed $seed: elfuse alive, ${summary#\[main\] }"
  fi
  # What uid 65534 created or changed outside the run's directory (the
  # pseudo file systems left out: trinity's own processes live there).
  stray=$(find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path "$dir" \) -prune -o \
    -user 65534 -newer "$marker" -print 2>/dev/null | head -20)
  stray_shm=$(find /dev/shm /dev/mqueue -user 65534 -newer "$marker" -print 2>/dev/null | head -20)
  if [ -n "$stray$stray_shm" ]; then
    echo "trinity.sh: seed $seed: files written outside $dir:"
    echo "$stray$stray_shm"
    status=1
  fi
  rm -rf "$dir" "$marker" "$out"
done
exit $status
