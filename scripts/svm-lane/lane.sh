#!/usr/bin/env bash
# The SVM lane (make check-svm): elfuse on hardware KVM, emulated. QEMU's TCG
# with `-cpu max` offers AMD SVM with nested paging; Debian's own kernel boots
# under it, loads kvm_amd, and runs elfuse's tests inside, where /dev/kvm is
# hardware KVM (docs/internals.md, "The SVM lane").
#
# usage: scripts/svm-lane/lane.sh [BUILD_DIR]      (default: build)
#
# What it does:
#   1. installs what is missing (as root): qemu-system-x86 cpio xz-utils zstd
#      kmod busybox-static gcc;
#   2. downloads Debian's kernel package (what linux-image-amd64 depends on)
#      with apt-get download and unpacks it with dpkg-deb -x into the cache:
#      nothing is installed on the host;
#   3. takes the uncompressed kernel out of the bzImage (its ELF has a PVH
#      entry, which QEMU boots directly: no firmware, no decompression under
#      TCG) and the modules kvm_amd needs;
#   4. builds an initramfs: static busybox, BUILD_DIR/elfuse, the guest test
#      programs (tests/guest, stripped), the dynamic programs and libraries of
#      the real-program subset below, and init.sh as /init;
#   5. boots it (qemu -accel tcg -cpu max -M microvm), bounded by
#      LANE_TIMEOUT, and prints init.sh's results and summary line.
#
# Environment:
#   ELFUSE_CACHE   cache directory (default /var/cache/elfuse); the kernel
#                  package and its unpacked tree go to $ELFUSE_CACHE/svm-lane
#   LANE_TESTS     extended regex: run only the tests whose name matches
#                  (names as in ctest: guest.glibc.hello, real.ls_la...)
#
# Tests the lane cannot judge are skipped, each with its reason (SKIP lines;
# the list is `skips` below).
#   LANE_SMP       vCPUs of the emulated machine (default 1: with 2, TCG now
#                  and then runs an L2 guest with L1 state; docs/internals.md)
#   LANE_MEM       its memory (default 2G)
#   LANE_TIMEOUT   seconds for the whole boot (default 1500)
#   LANE_STALL     seconds without the lane's own serial lines after which
#                  a boot is stalled: the vCPUs' registers go to LOG.stall
#                  (default 300), and the lane boots again from the test it
#                  stalled in, at most LANE_RESUMES times (default 2)
#   LANE_LOG       where to keep the serial log (default BUILD_DIR/svm-lane.log)
#   LANE_VERBOSE=1 print every serial line, not only the lane's own
#   LANE_ELFUSE_ARGS  options for elfuse in every test (e.g. --trace)
#   LANE_ELFUSE    the elfuse binary to test (default BUILD_DIR/elfuse; e.g.
#                  an ELFUSE_SANITIZE build's, with BUILD_DIR's test programs)
#   LANE_BENCH=1   also time bench/getppid and bench/hello natively and under
#                  elfuse, and count KVM exits per syscall (RESULT lines; the
#                  lane's timings say nothing about hardware, see
#                  docs/performance.md)
#   LANE_CMDLINE   more kernel command line words (lane_err_lines=N: show
#                  the last N lines of elfuse's stderr of a failed test;
#                  lane_repeat=N: run each test N times)
#   LANE_KVM_AMD   kvm_amd's module parameters (default vgif=0: with TCG's
#                  virtual GIF, two of three full runs once stopped making
#                  progress silently; none has since without it)
#
# Exit status 0 only when the guest reports its summary with no failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(realpath "${1:-build}")
cache=${ELFUSE_CACHE:-/var/cache/elfuse}/svm-lane
smp=${LANE_SMP:-1}
mem=${LANE_MEM:-2G}
timeout_s=${LANE_TIMEOUT:-1500}
log=${LANE_LOG:-$build/svm-lane.log}
filter=${LANE_TESTS:-.}

say() { echo "svm-lane: $*" >&2; }
die() {
  say "$*"
  exit 1
}

elfuse_bin=$(realpath "${LANE_ELFUSE:-$build/elfuse}")
[[ -x $elfuse_bin ]] || die "no $elfuse_bin (make build first)"

# ------------------------------------------------------------------ 1. tools
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
command -v zstd >/dev/null || need+=(zstd)
command -v modinfo >/dev/null || need+=(kmod)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
dpkg -s busybox-static 2>/dev/null | grep -q '^Status: install ok' || need+=(busybox-static)
if ((${#need[@]})); then
  [[ $(id -u) == 0 ]] || die "missing Debian packages; as root: apt-get install -y ${need[*]}"
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# ------------------------------------------------------------- 2. the kernel
mkdir -p "$cache"
kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
kpkg=${LANE_KPKG:-$(kernel_package)}
if [[ -z $kpkg && $(id -u) == 0 ]]; then
  apt-get update -qq
  kpkg=$(kernel_package)
fi
[[ -n $kpkg ]] || die "apt-cache knows no linux-image-amd64 (apt-get update?)"
kdir=$cache/$kpkg
if [[ ! -f $kdir/.unpacked ]]; then
  say "downloading $kpkg (once)"
  # Kernels the archive no longer points at go (about 400 MB unpacked each).
  rm -rf "$cache"/linux-image-* "$cache"/*.deb
  (cd "$cache" && apt-get download "$kpkg" >/dev/null 2>&1) || die "apt-get download $kpkg failed"
  dpkg-deb -x "$cache"/"$kpkg"_*.deb "$kdir"
  rm -f "$cache"/"$kpkg"_*.deb
  touch "$kdir/.unpacked"
fi
kver=$(ls "$kdir/lib/modules")
moddir=$kdir/lib/modules/$kver

# 3. The bzImage carries the kernel as one compressed stream after a setup
# stub. Find the stream by its magic and decompress it; the result is the
# vmlinux ELF, whose Xen PVH note lets QEMU start it without firmware.
vmlinux=$kdir/vmlinux
has_pvh() { readelf -n "$1" 2>/dev/null | grep -q 'Xen'; }
if ! has_pvh "$vmlinux"; then
  bz=$kdir/boot/vmlinuz-$kver
  found=0
  for spec in 'fd377a585a00|xz -dc' '28b52ffd|zstd -qdc' '1f8b08|gzip -dc'; do
    pattern=$(sed 's/../\\x&/g' <<<"${spec%%|*}")
    tool=${spec#*|}
    for off in $(LC_ALL=C grep -obUaP "$pattern" "$bz" | cut -d: -f1); do
      tail -c +$((off + 1)) "$bz" | $tool >"$vmlinux.tmp" 2>/dev/null || true
      if has_pvh "$vmlinux.tmp"; then
        mv "$vmlinux.tmp" "$vmlinux"
        found=1
        break 2
      fi
    done
  done
  rm -f "$vmlinux.tmp"
  ((found)) || die "no PVH kernel found inside $bz"
fi

# kvm_amd and what it depends on, dependencies first, uncompressed (busybox
# insmod takes plain .ko files).
declare -A seen_mod=()
mod_order=()
add_module() {
  local name=$1 path dep
  [[ -n ${seen_mod[$name]:-} ]] && return
  seen_mod[$name]=1
  path=$(find "$moddir/kernel" -name "$name.ko*" -print -quit)
  [[ -n $path ]] || die "module $name not in $kpkg"
  for dep in $(modinfo -F depends "$path" | tr ',' ' '); do add_module "$dep"; done
  mod_order+=("$path")
}
add_module kvm-amd

# ------------------------------------------------------------ 4. initramfs
work=$(mktemp -d "${TMPDIR:-/tmp}/svm-lane.XXXXXX")
# The emulator goes with this script, however it ends.
trap '[[ -f $work/qemu.pid ]] && kill "$(cat "$work/qemu.pid")" 2>/dev/null; rm -rf "$work"' EXIT
root=$work/root
# The host's merged /usr layout (/bin -> usr/bin...), so that the real
# programs and libraries sit at the paths the test cases name; busybox's
# applets fill in what is not a real program.
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,lane,tmp,proc,sys,dev}
for d in bin sbin lib lib64; do
  if [[ -L /$d ]]; then ln -s "$(readlink "/$d")" "$root/$d"; else mkdir -p "$root/$d"; fi
done
mkdir -p "$root/lib/modules"
cp /bin/busybox "$root/bin/busybox"
install -m 755 "$here/init.sh" "$root/init"
cp "$elfuse_bin" "$root/bin/elfuse"
gcc -O2 -static -o "$root/bin/kvm_hold" "$here/kvm_hold.c"
for m in "${mod_order[@]}"; do
  b=$(basename "$m")
  b=${b%%.ko*}.ko
  case $m in
    *.xz) xz -dc "$m" >"$root/lib/modules/$b" ;;
    *.zst) zstd -qdc "$m" >"$root/lib/modules/$b" ;;
    *) cp "$m" "$root/lib/modules/$b" ;;
  esac
  echo "$b" >>"$root/lib/modules/order"
done

# The test list: one line per test, "NAME|STDIN|COMMAND" (COMMAND in shell
# word syntax, read by init.sh with eval).
list=$root/lane/tests
printf '%s\n' "${LANE_ELFUSE_ARGS:-}" >"$root/lane/elfuse_args"
: >"$root/lane/ulimits"
: >"$list"
dynamic_programs=()
# NAME-REGEX|REASON: the emulated machine differs from any real one there.
skips=(
  'glibc_ifunc$|prints XCR0: TCG -cpu max has MPX state (XCR0 bits 3-4) natively, which KVM never offers a guest, and no AMD CPU has'
  'mlock$|prints smaps VmFlags of an MLOCK_ONFAULT VMA: the lane kernel (6.1) shows no lf there, newer kernels and elfuse do'
  'pkeys$|the emulated CPU has protection keys (PKU); elfuse answers pkey_alloc as a kernel on a CPU without them (EINVAL)'
  'jobctl$|stops by SIGTSTP/SIGTTIN/SIGTTOU need a process group that is not orphaned; under the lane init it is, and the test hangs natively'
  'vdso(_maps)?(_threads)?$|the hardware backend gives guests no vDSO yet (Vm::map_host_readonly is ENOTSUP there; docs/internals.md, "Two backends")'
  'procfs$|its maps and smaps checks include the vDSO rows, which the hardware backend does not map yet (no vDSO)'
  'mseal$|the lane kernel (6.1) has no mseal (6.10): natively ENOSYS, nothing to compare elfuse with'
  'futex2$|the lane kernel (6.1) has no futex_wake/futex_wait/futex_requeue (6.7): nothing to compare elfuse with'
  'newer_syscalls$|the lane kernel (6.1) has none of the syscalls 451-469 (6.5-6.17): nothing to compare elfuse with'
  'exitless_idle$|a bound on CPU time while waiting (5% of a CPU), meaningless under TCG: with the host busy the native run exceeds it too (seen in a rehearsal); make check judges it on a KVM host'
)
add_test() { # NAME STDIN COMMAND
  [[ $1 =~ $filter ]] || return 0
  local s
  for s in "${skips[@]}"; do
    if [[ $1 =~ ${s%%|*} ]]; then
      echo "$1|SKIP|${s#*|}" >>"$list"
      return 0
    fi
  done
  echo "$1|$2|$3" >>"$list"
}
for libc in glibc musl dynamic; do
  dir=$build/guest/$libc
  [[ -d $dir ]] || continue
  mkdir -p "$root/lane/guest/$libc"
  for prog in "$dir"/*; do
    name=$(basename "$prog")
    [[ guest.$libc.$name =~ $filter ]] || continue
    strip -o "$root/lane/guest/$libc/$name" "$prog"
    args=
    [[ -f $top/tests/guest/$name.args ]] && args=" $(grep -v '^[[:space:]]*#' "$top/tests/guest/$name.args" | tr '\n' ' ')"
    stdin=/dev/null
    if [[ -f $top/tests/guest/$name.stdin ]]; then
      cp "$top/tests/guest/$name.stdin" "$root/lane/guest/$name.stdin"
      stdin=/lane/guest/$name.stdin
    fi
    add_test "guest.$libc.$name" "$stdin" "/lane/guest/$libc/$name$args"
    [[ $libc == dynamic ]] && dynamic_programs+=("$prog")
  done
done

# The security tests (tests/security): hostile guest programs, compared the
# same way.
if [[ -d $build/security ]]; then
  mkdir -p "$root/lane/security"
  for prog in "$build"/security/*; do
    name=$(basename "$prog")
    [[ security.$name =~ $filter ]] || continue
    strip -o "$root/lane/security/$name" "$prog"
    args=
    [[ -f $top/tests/security/$name.args ]] && args=" $(grep -v '^[[:space:]]*#' "$top/tests/security/$name.args" | tr '\n' ' ')"
    add_test "security.$name" /dev/null "/lane/security/$name$args"
    # NAME.elfuse-args: options for elfuse in this test only (init.sh reads
    # /lane/eargs/TEST). Such a test may run under --sysroot /lane/sysroot,
    # a root holding a copy of it and empty tmp, proc, sys and dev.
    if [[ -f $top/tests/security/$name.elfuse-args ]]; then
      mkdir -p "$root/lane/eargs" "$root/lane/sysroot"/{lane/security,tmp,proc,sys,dev}
      chmod 1777 "$root/lane/sysroot/tmp"
      grep -v '^[[:space:]]*#' "$top/tests/security/$name.elfuse-args" | tr '\n' ' ' \
        >"$root/lane/eargs/security.$name"
      cp "$root/lane/security/$name" "$root/lane/sysroot/lane/security/$name"
    fi
    # NAME.ulimit: ulimit options both runs start under (e.g. "-v 4194304").
    if [[ -f $top/tests/security/$name.ulimit ]]; then
      echo "security.$name $(grep -v '^[[:space:]]*#' "$top/tests/security/$name.ulimit" | tr '\n' ' ')" >>"$root/lane/ulimits"
    fi
  done
fi

# Script tests, run once inside the machine rather than natively and under
# elfuse (init.sh: STDIN "SCRIPT"; exit 0 passes, 77 skips): the sandbox
# options (tests/sandbox_test.sh, which compares with its native oracle
# itself), with their programs.
if [[ -d $build/sandbox ]]; then
  mkdir -p "$root/lane/sandbox"
  cp "$top/tests/sandbox_test.sh" "$root/lane/sandbox_test.sh"
  for prog in "$build"/sandbox/*; do strip -o "$root/lane/sandbox/$(basename "$prog")" "$prog"; done
  for c in env nofile cpu_time max_file_size timeout report; do
    add_test "sandbox.$c" SCRIPT "/lane/sandbox_test.sh /bin/elfuse /lane/sandbox $c"
  done
fi

# The real-program subset (tests/real/cases.txt): programs from coreutils,
# findutils, bash, grep, sed and gawk with their libraries; not python3 or
# perl (their libraries are tens of MB).
real_cases=(ls_la ls_variants stat_fields du_sb date_epoch date_formats sort_keys coreutils_misc
  mkdir_rm bash_script bash_c bash_jobs grep_e grep_r sed_subst sed_ere_script gawk_fields
  gawk_builtins)
real_programs=($(dpkg -L coreutils findutils 2>/dev/null | grep -E '^/(usr/)?s?bin/.' || true)
  /bin/bash /bin/grep /bin/sed /usr/bin/gawk)
mkdir -p "$root/lane/real"
cp "$top"/tests/real/* "$root/lane/real/"
for c in "${real_cases[@]}"; do
  line=$(awk -v n="$c" '$1 == n { sub(/^[[:space:]]*[^[:space:]]+[[:space:]]*/, ""); print; exit }' \
    "$top/tests/real/cases.txt")
  [[ -n $line ]] || die "no case $c in tests/real/cases.txt"
  add_test "real.$c" /dev/null "${line//\$CASE_DIR//lane/real}"
done
grep -q '^real\.' "$list" || real_programs=()
for p in "${real_programs[@]}"; do
  [[ -f $p && ! -e $root$p ]] || continue
  cp -L "$p" "$root$p"
  dynamic_programs+=("$p")
done

if [[ ${LANE_BENCH:-0} == 1 ]]; then
  mkdir -p "$root/lane/bench"
  for b in getppid hello; do cp "$build/bench/$b" "$root/lane/bench/$b"; done
fi

# Every dynamic program's libraries and interpreter, at their own paths.
copy_with_libs() {
  local f lib
  for f in "$@"; do
    for lib in $(ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'); do
      [[ -e $root$lib ]] && continue
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
  done
}
# A dynamic elfuse (an ELFUSE_SANITIZE build: the sanitizer runtimes cannot
# be linked statically) needs its libraries too.
if readelf -l "$elfuse_bin" 2>/dev/null | grep -q 'program interpreter'; then
  dynamic_programs+=("$elfuse_bin")
  say "elfuse is dynamic (a sanitizer build?): its libraries go into the initramfs"
fi
copy_with_libs "${dynamic_programs[@]}"

(cd "$root" && find . | cpio -o -H newc --quiet) >"$work/initramfs.cpio"
say "initramfs: $(($(stat -c %s "$work/initramfs.cpio") / 1048576)) MiB, $(wc -l <"$list") tests; kernel $kver"

# ---------------------------------------------------------------- 5. boot
# tsc_early_khz: the guest's TSC is the host's under TCG; without it the
# kernel calibrates against the PIT, which fails now and then under TCG and
# then hangs the boot on microvm (no HPET, no ACPI PM timer).
gcc -O2 -o "$work/tsc_khz" "$here/tsc_khz.c"
tsc_khz=$("$work/tsc_khz")
cmdline="console=ttyS0 panic=-1 quiet tsc_early_khz=$tsc_khz tsc=reliable"
cmdline+=" lane_kvm_amd=${LANE_KVM_AMD-vgif=0} ${LANE_CMDLINE:-}"
say "booting: qemu -accel tcg -cpu max -M microvm -smp $smp -m $mem (at most ${timeout_s}s)"
# The watchdog: when the lane's own lines (START, PASS, FAIL, SKIP, LANE)
# stop coming for LANE_STALL seconds (longer than init.sh's per-test bound,
# and kernel messages such as RCU stall reports do not count), the emulated
# machine has stopped making progress. Ask QEMU's monitor where each vCPU
# is, a few times, into LOG.stall, then end the boot.
stall_s=${LANE_STALL:-300}
monitor() { # monitor COMMAND...: HMP commands over the monitor socket
  python3 - "$work/monitor" "$@" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
def drain():
    out = b""
    try:
        while True:
            time.sleep(0.3)
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    return out.decode(errors="replace")
drain()
for cmd in sys.argv[2:]:
    s.sendall(cmd.encode() + b"\n")
    text = drain().replace("\r", "")
    print("\n".join(l for l in text.split("\n") if "\x1b" not in l))
PY
}
progress='^(START|PASS|FAIL|SKIP|LANE) '
watchdog() { # watchdog BOOT_LOG
  local last=-1 same=0 n
  while sleep 10; do
    n=$(grep -cE "$progress" "$1" 2>/dev/null || true)
    if [[ $n == "$last" ]]; then same=$((same + 10)); else same=0 last=$n; fi
    if ((same >= stall_s)); then
      {
        echo "LANE stalled: no progress for ${stall_s}s; vCPU state:"
        monitor "info cpus" "info registers -a" "info registers -a" | sed 's/^/| /'
      } >>"$log.stall"
      echo "stalled" >"$1.stalled"
      kill "$(cat "$work/qemu.pid")" 2>/dev/null
      return
    fi
  done
}
boot() { # boot FROM BOOT_LOG: one run of the emulated machine from test FROM
  local from=$1 blog=$2 wpid rc t0 secs
  t0=$(date +%s.%N)
  : >"$blog"
  watchdog "$blog" &
  wpid=$!
  set +e
  timeout -k 10 "$timeout_s" qemu-system-x86_64 -accel tcg -cpu max -M microvm \
    -smp "$smp" -m "$mem" -nographic -no-reboot -nodefaults -serial stdio -pidfile "$work/qemu.pid" \
    -monitor "unix:$work/monitor,server,nowait" \
    -kernel "$vmlinux" -initrd "$work/initramfs.cpio" -append "$cmdline lane_from=$from" \
    </dev/null 2>&1 |
    sed -u 's/\r$//' | tee "$blog" | if [[ ${LANE_VERBOSE:-0} == 1 ]]; then cat; else
      grep --line-buffered -E '^(LANE|PASS|FAIL|SKIP|RESULT|[|]|elfuse|[0-9]+ passed)'
    fi
  rc=${PIPESTATUS[0]}
  kill "$wpid" 2>/dev/null
  wait "$wpid" 2>/dev/null
  set -e
  cat "$blog" >>"$log"
  secs=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
  say "qemu exited with $rc after ${secs}s"
}

# A boot that stalls (the emulated kernel stops getting timer interrupts,
# or its vCPUs loop somewhere, which TCG does now and then: docs/internals.md,
# "The SVM lane") is booted again from the test it stalled in, at most
# LANE_RESUMES times (default 2). A test that stalls twice fails, and every
# stall is reported. elfuse hanging a guest is not a stall: init.sh's
# per-test timeout ends it and the test fails.
rm -f "$log.stall" "$log"
from=1 boots=0 stalled_in=
while :; do
  blog=$work/boot.$boots.log
  boot "$from" "$blog"
  boots=$((boots + 1))
  grep -q '^LANE done' "$blog" && break
  if [[ ! -f $blog.stalled ]]; then
    say "the guest did not finish (timed out or crashed; see $log)"
    break
  fi
  last=$(grep -E '^START [0-9]+ ' "$blog" | tail -1 || true)
  [[ -n $last ]] || die "the emulated machine stalled before the first test (see $log.stall)"
  read -r _ k tname <<<"$last"
  say "the emulated machine stalled in $tname (vCPU state in $log.stall)"
  if [[ $tname == "$stalled_in" ]]; then
    echo "FAIL $tname (the emulated machine stalled in it twice)" | tee -a "$log"
    break
  fi
  if ((boots > ${LANE_RESUMES:-2})); then
    say "no boots left (LANE_RESUMES)"
    break
  fi
  stalled_in=$tname
  echo "LANE stalled in $tname: booting again from it" | tee -a "$log"
  from=$k
done

# The summary over every boot: each test's last verdict (a test booted again
# after a stall has one).
summary=$(awk '
  /^(PASS|FAIL|SKIP) / { name = $2; sub(/:$/, "", name); v[name] = $1 }
  /^LANE done/ { done = 1 }
  END {
    for (n in v) c[v[n]]++
    printf "%d passed, %d failed, %d skipped%s\n", c["PASS"], c["FAIL"], c["SKIP"], done ? "" : ", unfinished"
  }' "$log")
echo "$summary (over $boots boot(s); serial log: $log)"
[[ $summary =~ ^[0-9]+\ passed,\ 0\ failed,\ [0-9]+\ skipped$ ]] && grep -q '^LANE done' "$log"
