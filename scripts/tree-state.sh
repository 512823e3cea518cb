#!/usr/bin/env bash
# The working tree's state as git sees it (changed and untracked files, the
# ignored build directories left out), for make check to compare before and
# after the tests: a test writes only into directories of its own, so a run
# that leaves the checkout different is a failure. The contents of the
# changed and untracked files are part of the state too, so a test that
# rewrites a file already changed before the run is seen as well. Prints
# nothing outside a git checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || exit 0
git status --porcelain --untracked-files=all | LC_ALL=C sort
git ls-files -z --modified --others --exclude-standard | LC_ALL=C sort -zu |
  while IFS= read -r -d '' f; do
    if [[ -f $f && ! -L $f ]]; then
      echo "$(git hash-object -- "$f") $f"
    fi
  done
