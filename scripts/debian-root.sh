#!/usr/bin/env bash
# The Debian root the sysroot.debian.* tests run against: a minbase bookworm
# made once by debootstrap, from the mirror this machine's apt sources name,
# cached outside the source tree.
#
# usage: debian-root.sh            build the root unless it is there; print its path
#        debian-root.sh --path     print where the root is (or would be); build nothing
#        debian-root.sh --check    exit 0 if the root is there and complete, 1 if not
#
# Environment:
#   ELFUSE_CACHE    cache directory (default /var/cache/elfuse); the root is
#                   $ELFUSE_CACHE/debian-bookworm-minbase
#   DEBIAN_MIRROR   mirror to use instead of the one found in the apt sources
#
# The root is built in a temporary directory next to its final place and renamed
# into place only when debootstrap has succeeded, so a partial build (no network,
# interrupted) is never used; it is removed instead. A file .elfuse-debian-root
# in the root marks it complete. Needs root (debootstrap does) and debootstrap
# (`make deps`).
#
# After debootstrap, /etc/hostname (which debootstrap copies from the host) is
# replaced by a marker, and /etc/elfuse-root-marker is added, so that a path
# escaping the root would read the host's file and show up in a comparison.
set -euo pipefail

suite=bookworm
variant=minbase
cache=${ELFUSE_CACHE:-/var/cache/elfuse}
root=$cache/debian-$suite-$variant
stamp=.elfuse-debian-root

complete() { [[ -f $root/$stamp && -x $root/bin/bash ]]; }

case ${1:-} in
  --path) echo "$root"; exit 0 ;;
  --check) complete; exit ;;
  "") ;;
  *) echo "usage: debian-root.sh [--path|--check]" >&2; exit 2 ;;
esac

if complete; then
  echo "$root"
  exit 0
fi

die() { echo "debian-root.sh: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "debootstrap needs root; run as root to build $root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (make deps)"

# The mirror: the first apt source (one-line sources.list format or deb822
# .sources) that carries the suite itself (not -updates or -security).
find_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    # deb [options] URI SUITE COMPONENTS...
    awk -v s="$suite" '$1 == "deb" {
        i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i + 1) == s) { print $i; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    # Stanzas separated by blank lines; fields URIs: and Suites:, Types: deb.
    awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" }
      {
        uri = ""; ok = 0; deb = 0; enabled = 1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^#/) continue
          n = split($i, w, /[ \t]+/)
          if (w[1] == "Types:") for (j = 2; j <= n; j++) if (w[j] == "deb") deb = 1
          if (w[1] == "URIs:") uri = w[2]
          if (w[1] == "Suites:") for (j = 2; j <= n; j++) if (w[j] == s) ok = 1
          if (w[1] == "Enabled:" && w[2] == "no") enabled = 0
        }
        if (deb && ok && enabled && uri != "") { print uri; exit }
      }' "$f"
  done
}
mirror=${DEBIAN_MIRROR:-$(find_mirror | head -n1)}
[[ -n $mirror ]] || mirror=http://deb.debian.org/debian

mkdir -p "$cache"
# One builder at a time; a second one waits and then finds the root built.
exec 9>"$cache/.debian-root.lock"
flock 9
if complete; then
  echo "$root"
  exit 0
fi
rm -rf "$root" "$cache"/debian-"$suite"-"$variant".tmp.*

tmp=$(mktemp -d "$root.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log=$tmp.log
echo "debian-root.sh: debootstrap --variant=$variant $suite from $mirror into $root (log: $log)" >&2
start=$(date +%s)
if ! debootstrap --variant="$variant" --arch=amd64 "$suite" "$tmp" "$mirror" >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  die "debootstrap failed (no network?); see $log"
fi
chmod 755 "$tmp"
echo "elfuse-debian-root" >"$tmp/etc/hostname"
echo "marker: this file is inside the Debian root" >"$tmp/etc/elfuse-root-marker"
echo "debootstrap --variant=$variant $suite $mirror, $(date -u +%FT%TZ)" >"$tmp/$stamp"
mv -T "$tmp" "$root"
trap - EXIT
rm -f "$log"
echo "debian-root.sh: built $root in $(($(date +%s) - start)) s" >&2
echo "$root"
