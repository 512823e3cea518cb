#!/bin/bash
# git under elfuse (tests/apps/cases.txt, case git): init, add, commit, log,
# diff, branch, merge, tag, gc and fsck in the run's fresh directory. Fixed
# names, emails and dates make every object hash the same in each run; HOME
# is this directory, so no user or system configuration is read.
set -e
export HOME=$PWD GIT_CONFIG_NOSYSTEM=1 TZ=UTC
export GIT_AUTHOR_NAME='Ada Author' GIT_AUTHOR_EMAIL=ada@example.org
export GIT_COMMITTER_NAME='Carl Committer' GIT_COMMITTER_EMAIL=carl@example.org
at() { export GIT_AUTHOR_DATE="2024-01-0$1T12:00:00Z" GIT_COMMITTER_DATE="2024-01-0$1T12:30:00Z"; }

git -c init.defaultBranch=main init -q repo
cd repo
git config core.autocrlf false
printf 'line %d\n' $(seq 1 50) >numbers.txt
mkdir -p src
printf '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n' >src/hello.c
git add .
at 1
git commit -q -m 'First commit' -m 'With a body.'
echo "status after first: [$(git status --porcelain)]"

sed -i 's/^line 7$/line seven/; 20d' numbers.txt
echo 'extra' >>numbers.txt
git mv src/hello.c src/main.c
echo '*.o' >.gitignore
touch ignored.o
echo "status:"
git status --porcelain
echo "diff:"
git diff
git add -A
at 2
git commit -q -m 'Second: edit, rename, ignore'

git checkout -q -b feature
printf 'feature work\n' >feature.txt
git add feature.txt
at 3
git commit -q -m 'Feature file'
git checkout -q main
sed -i 's/^line 1$/line one/' numbers.txt
at 4
git commit -q -a -m 'Main edit'
at 5
git merge -q --no-edit feature
git tag -a v1.0 -m 'Release 1.0'

echo "log:"
git log --graph --format='%h %an <%ae> %ad %cn %s' --date=iso-strict
echo "log --stat:"
git log --stat --format='%H %s' -n 2
echo "diff v1.0~1 HEAD~3:"
git diff --stat HEAD~3 v1.0~1
git diff -M HEAD~3 HEAD~2 -- src
echo "show:"
git show --format='%T %P' HEAD~1:numbers.txt | head -3
git cat-file -p v1.0 | sed -n '1,4p'
echo "branches: $(git branch --format='%(refname:short)' | tr '\n' ' ')"
echo "describe: $(git describe)"
echo "blame:"
git blame -s -L 1,3 numbers.txt
git grep -n 'line 1[0-2]$'
git gc -q
echo "after gc: $(git count-objects -v | grep -E '^(count|in-pack|packs)' | tr '\n' ' ')"
git fsck --no-progress && echo fsck ok
git rev-parse HEAD v1.0 'HEAD^{tree}'
git archive --format=tar HEAD | tar -t | sort
cd ..
git clone -q repo copy
git -C copy log --oneline
