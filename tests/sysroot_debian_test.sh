#!/usr/bin/env bash
# --sysroot against a real Debian root: the minbase bookworm root that
# scripts/debian-root.sh builds once (make check builds it when missing) and
# caches outside the source tree. Each case runs one command with the root's
# own programs (/bin/bash, coreutils, perl) natively under `chroot ROOT` and
# under `elfuse --sysroot ROOT`; stdout, stderr (minus elfuse's own
# "elfuse: ..." notes) and the exit status must agree. The escape cases try to
# leave the root (a symlink to /, more `..` than there are levels, an absolute
# symlink to /etc/hostname, a chdir to / and above); the root's /etc/hostname
# is a marker unlike the host's, so a path that escaped would show the host's.
#
# Skipped (exit 77) when not root (chroot needs it) or when the Debian root is
# not there (debootstrap failed, e.g. no network, or scripts/debian-root.sh was
# not run).
#
# usage: sysroot_debian_test.sh ELFUSE CASE      (CASE: see the case list below)
set -euo pipefail

elfuse=${ELFUSE:-$1}
case_name=$2
here=$(dirname "$(realpath "$0")")

if [[ $(id -u) != 0 ]] || ! command -v chroot >/dev/null; then
  echo "SKIP: chroot needs root"
  exit 77
fi
root=$("$here/../scripts/debian-root.sh" --path)
if ! "$here/../scripts/debian-root.sh" --check; then
  echo "SKIP: no Debian root at $root: build it with scripts/debian-root.sh (make check"
  echo "      does, as root, when debootstrap can reach the mirror)"
  exit 77
fi
if cmp -s "$root/etc/hostname" /etc/hostname; then
  echo "sysroot_debian_test.sh: $root/etc/hostname equals the host's; the escape cases need a marker" >&2
  exit 2
fi

# A scratch directory inside the root for this run (cases may run in parallel:
# each has its own), removed at the end. $s is its path inside the root.
scratch=$(mktemp -d "$root/tmp/elfuse-debian.XXXXXX")
chmod 755 "$scratch"
s=/tmp/${scratch##*/}
out=$(mktemp -d /tmp/elfuse-sysroot-debian-out.XXXXXX)
trap 'rm -rf "$scratch" "$out"' EXIT

mkdir -p "$scratch"/a/b/c "$scratch/work"
ln -s / "$scratch/rootlink"
ln -s /etc/hostname "$scratch/abs"
ln -s ../../../../../../../../../etc/hostname "$scratch/a/b/c/rel"
ln -s ../../../../.. "$scratch/a/b/up"
printf 'pear 3\napple 10\nfig 7\napple 2\n' >"$scratch/fruit.txt"
touch -d '2001-02-03 04:05:06 UTC' "$scratch/fruit.txt"
chmod 640 "$scratch/fruit.txt"
cat >"$scratch/script.sh" <<'EOF'
#!/bin/bash
# Run by the Debian root's /bin/bash.
set -u
trap 'echo "EXIT trap, status $?"' EXIT
count() { local n=0 line; while read -r line; do n=$((n + 1)); done; echo "$n $1"; }
echo "bash ${BASH_VERSINFO[0]}.${BASH_VERSINFO[1]} in $(pwd)"
cat /etc/hostname
grep -c . /etc/passwd | count "passwd counted"
sort -k2,2n "$(dirname "$0")/fruit.txt" | head -n 2
(cd /usr/bin && ls bash cat perl sort)
v=$(echo "inner $(echo nested)")
echo "[$v]"
cat <<END | tr a-z A-Z
here-doc from $(basename "$0")
END
for f in /etc/debian_version /etc/elfuse-root-marker; do
  [[ -r $f ]] && echo "readable: $f"
done
sed -n 's/^\(root\):x:\([0-9]*\):.*/\1 uid \2/p' /etc/passwd
exit 4
EOF
chmod 755 "$scratch/script.sh"

# ---------------------------------------------------------------- the cases
cmd=()
case $case_name in
  bash_script) cmd=(/bin/bash "$s/script.sh") ;;
  shebang) cmd=("$s/script.sh") ;;
  coreutils) cmd=(/bin/bash -c "ls -la $s/a $s/a/b; ls /; ls -1 /etc | head -n 20; cat /etc/hostname /etc/elfuse-root-marker /etc/debian_version; sort -t: -k3,3n /etc/passwd | cut -d: -f1,3,6; stat -c '%n|%F|%a|%U|%G|%s|%Y' $s/fruit.txt /etc/passwd /usr/bin /bin /usr/bin/bash; /usr/bin/stat -L -c '%n %F' /bin; wc -l /etc/group; md5sum /etc/elfuse-root-marker") ;;
  perl) cmd=(/usr/bin/perl -MList::Util=sum,max -MPOSIX=floor -e 'open my $h, "<", "/etc/hostname" or die "$!"; print "hostname: ", scalar <$h>; my %shell; open my $p, "<", "/etc/passwd" or die; while (<$p>) { my @f = split /:/; $shell{$f[0]} = $f[2] } printf "%s=%d\n", $_, $shell{$_} for sort keys %shell; printf "sum %d max %d floor %d\n", sum(values %shell), max(values %shell), floor(-0.5); opendir my $d, "/" or die; print join(" ", sort grep { !/^\./ } readdir $d), "\n"; print -e "/etc/elfuse-root-marker" ? "marker\n" : "no marker\n"; exit 6') ;;
  escape_root_link) cmd=(/bin/bash -c "cat $s/rootlink/etc/hostname; ls $s/rootlink/; ls $s/rootlink/tmp/.. | head -n 3; readlink $s/rootlink; cd $s/rootlink && pwd && /bin/pwd && cat etc/hostname; realpath $s/rootlink $s/rootlink/..") ;;
  escape_dotdot) cmd=(/bin/bash -c "cd $s/a/b/c; pwd; cd ../../../../../../..; pwd; ls; cat etc/hostname; cat $s/a/b/c/../../../../../../../etc/hostname; cat $s/a/b/c/rel; ls $s/a/b/up; realpath $s/a/b/up $s/a/b/c/rel; cd $s/a/b/up && /bin/pwd") ;;
  escape_abs_link) cmd=(/bin/bash -c "cat $s/abs; readlink $s/abs; readlink -f $s/abs; stat -L -c '%s %F' $s/abs; cat /etc/elfuse-root-marker; ls /etc/elfuse-root-marker") ;;
  escape_chdir) cmd=(/bin/bash -c "cd $s/work; pwd; cd /; cd ..; pwd; /bin/pwd; ls; cat etc/hostname; cd $s/work; cd ../../../../..; pwd; cd -; pwd; /bin/pwd; cd ../../../../../.. && ls -d etc && cat etc/hostname") ;;
  *) echo "sysroot_debian_test.sh: unknown case $case_name" >&2; exit 2 ;;
esac

run() {  # run LABEL PREFIX...
  local label=$1
  shift
  set +e
  env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C "$@" "${cmd[@]}" \
    >"$out/$label.out" 2>"$out/$label.err" </dev/null
  echo "exit $?" >>"$out/$label.out"
  set -e
  sed -i -E '/^elfuse: /d' "$out/$label.err"
}
# chroot(1) starts in the new root's / and so does elfuse --sysroot.
run native "$(command -v chroot)" "$root"
run elfuse "$elfuse" --sysroot "$root"

cat "$out/native.out" "$out/native.err"
if diff -u "$out/native.out" "$out/elfuse.out" && diff -u "$out/native.err" "$out/elfuse.err"; then
  echo "PASS: debian.$case_name"
  exit 0
fi
echo "FAIL: debian.$case_name: output under elfuse --sysroot differs from chroot"
exit 1
