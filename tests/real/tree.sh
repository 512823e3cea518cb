#!/bin/bash
# Fixture for tests/real/cases.txt: builds ./tree in the current (fresh, empty)
# directory with fixed names, contents, modes and times, then runs "$@" in its
# place (exec), so that the program under test is the one the case names:
#   bash tree.sh ls -la tree
#
# tree/                  0755
#   a.txt     0644  "alpha\nbeta\ngamma\n"
#   b.log     0600  100 lines "line N"
#   run.sh    0755  a two-line script
#   empty     0444  0 bytes
#   link   -> a.txt
#   sub/              0750
#     deep/           0700
#       c.txt 0640   "gamma delta\n"
#     d.dat   0644   4096 bytes of 'x'
# Every file and directory, tree itself and . included, has the time
# 2001-02-03 04:05:06 UTC (touch -d); symlinks 2002-03-04 05:06:07 UTC (touch -h).
set -eu
umask 022
mkdir -p tree/sub/deep
printf 'alpha\nbeta\ngamma\n' > tree/a.txt
for i in $(seq 1 100); do echo "line $i"; done > tree/b.log
printf '#!/bin/sh\necho run\n' > tree/run.sh
: > tree/empty
ln -s a.txt tree/link
printf 'gamma delta\n' > tree/sub/deep/c.txt
head -c 4096 /dev/zero | tr '\0' x > tree/sub/d.dat
chmod 0644 tree/a.txt tree/sub/d.dat
chmod 0600 tree/b.log
chmod 0755 tree/run.sh tree
chmod 0444 tree/empty
chmod 0640 tree/sub/deep/c.txt
chmod 0750 tree/sub
chmod 0700 tree/sub/deep
touch -h -d '2002-03-04 05:06:07 UTC' tree/link
# Deepest first, so that touching a file does not move its directory's time.
find tree -depth ! -type l -exec touch -d '2001-02-03 04:05:06 UTC' {} +
touch -d '2001-02-03 04:05:06 UTC' .
exec "$@"
