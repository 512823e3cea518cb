#!/usr/bin/env bash
# expect_error.sh ELFUSE KIND: run elfuse on a program it cannot run and check its
# exit status and that stderr is exactly one line naming the reason.
#   missing   a path that does not exist         -> 127, "no such file" / "not found"
#   not_elf   an executable text file (no #!)    -> 126, "not an ELF" / "exec format"
#   empty     an empty executable file           -> 126, "truncated" / "exec format" / ...
#   aarch64   a valid aarch64 ELF executable     -> 126, "aarch64" / "arm64"
#   segv      a static program writing to NULL    -> 139, the signal, address, rip, mapping
#   enosys    a static program calling syscall 100000 twice -> 0, reported once
#   no_kvm    no KVM device (ELFUSE_KVM_DEVICE=/nonexistent) -> 1, what to do
#   not_kvm   a KVM device that is not KVM (/dev/null)        -> 1, says so
#   wrong_backend  --backend naming the backend this host's KVM is not -> 1, names both
#   bad_backend    --backend=bogus                            -> 2, lists the choices
# These are expected values, not native comparisons. ELFUSE in the environment
# overrides the ELFUSE argument, as in compare.sh.
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: expect_error.sh ELFUSE KIND" >&2; exit 2; }
elfuse=${ELFUSE:-$1}
kind=$2
here=$(dirname "$(realpath "$0")")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/elfuse-error.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prog=$tmp/program  # a neutral name: the message must name the reason, not echo ours
elfuse_args=()
case $kind in
  missing)
    want_status=127 want_re='no such file|not found|does not exist'
    ;;
  not_elf)
    printf 'this is a text file, not a program\n' >"$prog"
    chmod 755 "$prog"
    want_status=126 want_re='not an elf|bad magic|exec format'
    ;;
  empty)
    : >"$prog"
    chmod 755 "$prog"
    want_status=126 want_re='not an elf|exec format|empty|short|truncated'
    ;;
  aarch64)
    "$here/make_foreign_elf.sh" "$prog"
    want_status=126 want_re='aarch64|arm64'
    ;;
  segv)
    printf 'int main(void) { *(volatile int *)0 = 1; return 0; }\n' >"$tmp/p.c"
    gcc -static -O1 -o "$prog" "$tmp/p.c"
    want_status=139
    want_re='^guest killed by SIGSEGV: address 0x0 \(no mapping\), rip 0x[0-9a-f]+ \([0-9a-f]+-[0-9a-f]+ r-xp '
    ;;
  enosys)
    printf '#include <unistd.h>\nint main(void) { syscall(100000); syscall(100000); return 0; }\n' >"$tmp/p.c"
    gcc -static -O1 -o "$prog" "$tmp/p.c"
    want_status=0 want_re='unknown syscall 100000; it returns ENOSYS'
    ;;
  no_kvm)
    cp /bin/busybox "$prog"
    export ELFUSE_KVM_DEVICE=/nonexistent/kvm
    want_status=1
    want_re='/nonexistent/kvm does not exist: this host has no KVM; elfuse needs hardware virtualization \(kvm_intel or kvm_amd\) or the kvm_pvm module; (this CPU has|this CPU shows no)'
    ;;
  not_kvm)
    cp /bin/busybox "$prog"
    export ELFUSE_KVM_DEVICE=/dev/null
    want_status=1 want_re='is not KVM'
    ;;
  wrong_backend)
    cp /bin/busybox "$prog"
    if [[ -d /sys/module/kvm_pvm ]]; then
      elfuse_args=(--backend=hardware)
      want_re='backend=hardware: this host.s KVM is kvm_pvm, which is PVM'
    else
      elfuse_args=(--backend=pvm)
      want_re='backend=pvm: this host.s KVM is kvm_(amd|intel).*not PVM'
    fi
    want_status=1
    ;;
  bad_backend)
    cp /bin/busybox "$prog"
    elfuse_args=(--backend=bogus)
    want_status=2 want_re='backend needs pvm, hardware or auto'
    ;;
  *)
    echo "expect_error.sh: unknown kind $kind" >&2
    exit 2
    ;;
esac

status=0
(cd "$tmp" && ulimit -c 0 && exec timeout -k 5 60 env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp LANG=C \
  ${ELFUSE_KVM_DEVICE:+ELFUSE_KVM_DEVICE=$ELFUSE_KVM_DEVICE} \
  "$elfuse" ${elfuse_args[@]+"${elfuse_args[@]}"} "$prog" </dev/null >"$tmp/out" 2>"$tmp/err") || status=$?

fail=0
if [[ $status != "$want_status" ]]; then
  echo "FAIL: exit status $status, want $want_status"
  fail=1
fi
lines=$(wc -l <"$tmp/err")
if [[ $lines != 1 ]]; then
  echo "FAIL: stderr has $lines lines, want exactly one"
  fail=1
fi
# The reason must be in the message itself: not in the program's path, not in
# elfuse's name.
reason=$(sed -e "s|$prog||g" -e 's/^[^:]*elfuse[^:]*: *//' "$tmp/err")
if ! grep -qiE "$want_re" <<<"$reason"; then
  echo "FAIL: stderr (less the program path and elfuse's name) does not match /$want_re/ (case-insensitive)"
  fail=1
fi
if [[ -s $tmp/out ]]; then
  echo "FAIL: stdout is not empty"
  fail=1
fi
echo "--- $elfuse $prog ($kind): exit $status"
echo "--- stderr:"
cat "$tmp/err"
if [[ -s $tmp/out ]]; then
  echo "--- stdout:"
  cat "$tmp/out"
fi
exit $fail
