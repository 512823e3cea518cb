#!/usr/bin/env bash
# The working tree's state as git sees it (changed and untracked files, the
# ignored build directories left out), for make check to compare before and
# after the tests: a test writes only into directories of its own, so a run
# that leaves the checkout different is a failure. Prints nothing outside a
# git checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || exit 0
git status --porcelain --untracked-files=all | LC_ALL=C sort
