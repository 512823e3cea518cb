#!/bin/bash
# Processes and signals from bash (issue 4): pipelines, subshells, trap,
# background jobs and wait, kill -TERM of a child. Prints no pids or times.
set -u

echo "pipeline: $(printf '3\n1\n2\n' | sort | tr '\n' ' ')"
echo "long pipeline: $(seq 1 5000 | grep 7 | sed 's/7/x/' | sort -r | head -3 | tr '\n' ' ')"
yes | head -2 >/dev/null
echo "PIPESTATUS after yes|head: ${PIPESTATUS[*]}"
false | true
echo "pipefail off: $?"
(set -o pipefail; false | true; echo "pipefail on: $?")
echo "process substitution: $(diff <(printf 'a\nb\n') <(printf 'a\nc\n') | grep -c '^[<>]')"

# Subshells: their own pid, variables do not leak, exit status comes back.
(echo "subshell has its own pid: $([[ $BASHPID != $$ ]] && echo yes)"; exit 3)
echo "subshell status $?"
x=1
(x=2; echo "inside x=$x")
echo "outside x=$x"
echo "nested: $( (echo a; (echo b; (echo c))) | tr -d '\n')"
{ echo grouped; } | cat

# trap on a signal sent to the shell itself, and on EXIT.
trap 'echo "trapped USR1"' USR1
kill -USR1 $$
trap 'echo "trapped INT"' INT
kill -INT $$
trap - INT

# Background jobs and wait.
(sleep 0.3; exit 4) & p1=$!
(sleep 0.1; exit 5) & p2=$!
wait $p2
echo "p2 status $?"
wait $p1
echo "p1 status $?"
for i in 1 2 3 4; do (sleep 0.0$i; exit $i) & done
# A job that bash reaps in its SIGCHLD handler while `wait` waits for another
# stays in the job table, dead and unreported, and the `wait -n` below would
# return its status: natively too, whenever two of these exit close together
# (elfuse's slower fork makes that likely). `jobs` reports and removes it.
wait
status=$?
jobs >/dev/null
echo "wait for all: $status"
(sleep 0.2; exit 6) &
wait -n
echo "wait -n: $?"
echo "jobs left: $(jobs -p | wc -l)"

# kill -TERM of a child: default action, then a child that traps it.
sleep 30 & p=$!
kill -TERM $p
wait $p
echo "killed sleep: $?"
rm -f ready
bash -c 'trap "echo child trapped TERM; exit 9" TERM; : > ready; while :; do sleep 0.02; done' & p=$!
while [[ ! -e ready ]]; do sleep 0.01; done
kill -TERM $p
wait $p
echo "child with trap: $?"
rm -f ready
# (bash reports a job killed by SIGKILL on stderr, with its pid: not compared)
killed_by_kill() {
  sleep 30 & p=$!
  kill -KILL $p
  wait $p
  echo "killed by KILL: $?"
}
killed_by_kill 2>/dev/null
# A stopped and continued child (job control signals without a terminal).
sleep 0.5 & p=$!
kill -STOP $p
kill -CONT $p
wait $p
echo "stopped and continued: $?"

# Signals between processes of a pipeline: the reader goes first.
seq 1 100000 | head -1
echo "PIPESTATUS: ${PIPESTATUS[*]}"
trap 'echo "EXIT trap"' EXIT
exit 2
