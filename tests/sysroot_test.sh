#!/usr/bin/env bash
# --sysroot DIR against the kernel's own chroot: builds a small root from host
# pieces (busybox-static, a dynamic program with the libraries and
# interpreter ldd names, escape symlinks, files that differ from the host's)
# and runs one case natively under `chroot DIR` and under
# `elfuse --sysroot DIR`; stdout, stderr (minus elfuse's own "elfuse: ..."
# notes) and the exit status must agree. chroot needs root: without it the
# test is skipped (exit 77).
#
# usage: sysroot_test.sh ELFUSE CASE      (CASE: see the case list below)
set -euo pipefail

elfuse=${ELFUSE:-$1}
case_name=$2

if [[ $(id -u) != 0 ]] || ! command -v chroot >/dev/null; then
  echo "SKIP: chroot needs root"
  exit 77
fi
[[ -x /bin/busybox ]] || { echo "SKIP: no /bin/busybox"; exit 77; }

root=$(mktemp -d /tmp/elfuse-sysroot.XXXXXX)
trap 'rm -rf "$root"' EXIT

# ---------------------------------------------------------------- the root
mkdir -p "$root"/{bin,etc,tmp,work,a/b/c}
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/"
for applet in sh cat ls echo pwd readlink realpath stat mkdir rmdir rm ln mv touch chmod \
              env head wc sort printf test true false; do
  ln -s busybox "$root/bin/$applet"
done
# A dynamic program: coreutils ls, with what ldd says it loads (PT_INTERP
# included), at the same paths inside the root.
cp /bin/ls "$root/bin/gls"
for lib in $(ldd /bin/ls | grep -o '/[^ )]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
echo "marker: inside the sysroot" > "$root/etc/hostname"
echo "guest-motd" > "$root/etc/motd"
# Escape attempts: absolute links, more `..` than there are levels, a link
# to the root, a link to a host-only file.
ln -s /etc/hostname "$root/a/abs"
ln -s ../../../../../../../../etc/hostname "$root/a/b/c/rel"
ln -s / "$root/a/root"
ln -s /etc/passwd "$root/a/passwd"
ln -s ../../.. "$root/a/b/up"
ln -s /proc/self/root "$root/a/magic"
printf '#!/bin/sh\necho "script $0 [$1] $#"\n' > "$root/bin/hello.sh"
chmod +x "$root/bin/hello.sh"
printf '#!/bin/busybox sh -e\necho "with arg: $0"\n' > "$root/work/arg.sh"
chmod +x "$root/work/arg.sh"
# Guest test programs (static glibc) that have a mode for this root.
for prog in inotify openat2; do
  if [[ -n ${GUEST_BIN:-} && -x $GUEST_BIN/$prog ]]; then
    cp "$GUEST_BIN/$prog" "$root/bin/$prog"
  fi
done

# ---------------------------------------------------------------- the cases
cmd=()
case $case_name in
  static_cat) cmd=(/bin/cat /etc/hostname /etc/motd) ;;
  path_lookup) cmd=(cat /etc/hostname) ;;           # PATH=/bin, searched inside
  dynamic_ls) cmd=(/bin/gls -1 -a /a /a/b / /bin/hello.sh) ;;
  escape_links) cmd=(/bin/sh -c 'cat /a/abs /a/b/c/rel /a/root/etc/hostname /a/b/up/etc/motd; cat /a/passwd; echo "passwd: $?"; cat /etc/passwd; echo "host file: $?"; cat /a/magic/etc/hostname; echo "magic: $?"; readlink /a/abs; readlink /a/b/c/rel; realpath /a/b/c/rel /a/b/up /a/root') ;;
  escape_cwd) cmd=(/bin/sh -c 'cd /a/b/c; pwd; cd ../../../../../../..; pwd; ls; cd /a/b/up; pwd; /bin/pwd; cd /a/root/a; /bin/pwd; ls ../etc/hostname ../../../etc/motd; cat ../../../../etc/hostname') ;;
  fs_ops) cmd=(/bin/sh -c 'cd /tmp; mkdir -p d/e; echo one > d/f; mv d/f d/e/g; ln d/e/g h; ln -s ../../a/abs d/s; cat d/s; stat -c "%h %F" h d/e; chmod 600 h; stat -c "%a" d/e/g; touch -d "2001-02-03 04:05:06" h; stat -c "%Y" d/e/g; ls -R d; rm -r d h; ls -a; mkdir /tmp/x/; rmdir /tmp/x/; rm /a; echo "rm dir: $?"') ;;
  shebang) cmd=(/bin/sh -c 'hello.sh one two; /work/arg.sh; cd /work; ./arg.sh; env hello.sh three') ;;
  relative_start) cmd=(bin/cat etc/hostname) ;;
  inotify)
    [[ -x $root/bin/inotify ]] || { echo "SKIP: no GUEST_BIN/inotify"; exit 77; }
    cmd=(/bin/inotify sysroot) ;;
  openat2)
    [[ -x $root/bin/openat2 ]] || { echo "SKIP: no GUEST_BIN/openat2"; exit 77; }
    cmd=(/bin/openat2 sysroot) ;;
  *) echo "sysroot_test.sh: unknown case $case_name" >&2; exit 2 ;;
esac

out=$(mktemp -d /tmp/elfuse-sysroot-out.XXXXXX)
trap 'rm -rf "$root" "$out"' EXIT

run() {  # run LABEL PREFIX...
  local label=$1
  shift
  set +e
  env -i PATH=/bin HOME=/ LANG=C "$@" "${cmd[@]}" >"$out/$label.out" 2>"$out/$label.err" </dev/null
  echo "exit $?" >>"$out/$label.out"
  set -e
  sed -i -E '/^elfuse: /d' "$out/$label.err"
}
# chroot(1) starts in the new root's / and so does elfuse --sysroot.
run native "$(command -v chroot)" "$root"
run elfuse "$elfuse" --sysroot "$root"

cat "$out/native.out" "$out/native.err"
if diff -u "$out/native.out" "$out/elfuse.out" && diff -u "$out/native.err" "$out/elfuse.err"; then
  echo "PASS: $case_name"
  exit 0
fi
echo "FAIL: $case_name: output under elfuse --sysroot differs from chroot"
exit 1
