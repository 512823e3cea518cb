#!/bin/bash
# Bash features under elfuse: functions, local variables, arrays, pipes,
# subshells, command substitution, here-docs and here-strings, arithmetic,
# case, traps on EXIT and on a signal, redirections, exit status.
set -u

trap 'echo "EXIT trap: status $?"' EXIT
trap 'echo "got USR1"' USR1

greet() {
  local who=$1 n=${2:-1}
  local i
  for ((i = 0; i < n; i++)); do
    printf 'hello %s #%d\n' "$who" "$i"
  done
  return $((n % 4))
}

greet world 3
echo "greet returned $?"

# Pipes and pipeline status.
printf '%s\n' cherry apple banana apple | sort | uniq -c | sort -rn -k1,1 -k2
set -o pipefail
false | true
echo "pipefail status: $?"
set +o pipefail

# Subshells do not leak state.
x=outer
(x=inner; echo "in subshell: $x"; exit 4)
echo "after subshell: x=$x status=$?"

# Command substitution, nested.
count=$(seq 1 50 | grep -c 5)
echo "numbers with a 5: $count"
echo "nested: $(echo "a$(echo "b$(echo c)")")"

# Here-doc (expanded and literal) and here-string.
name=elfuse
cat <<END
here-doc for $name: $((6 * 7))
END
cat <<'END'
literal: $name $((1 + 1))
END
tr a-z A-Z <<<"here-string $name"
while read -r k v; do
  echo "key=$k value=$v"
done <<END
one 1
two 2
END

# Arrays and associative arrays.
arr=(zero one "two words" three)
echo "${#arr[@]} items, [2]=${arr[2]}, slice: ${arr[*]:1:2}"
declare -A color=([apple]=red [banana]=yellow [fig]=purple)
for k in $(printf '%s\n' "${!color[@]}" | sort); do echo "$k is ${color[$k]}"; done

# Parameter expansion.
path=/usr/lib/x86_64-linux-gnu/libc.so.6
echo "${path##*/} ${path%/*} ${path/lib/LIB} ${path//lib/L} ${#path}"

# case, [[ ]], regex.
for w in foo.txt BAR 123 ""; do
  case $w in
    *.txt) echo "$w: text" ;;
    [A-Z]*) echo "$w: upper" ;;
    "") echo "empty" ;;
    *) [[ $w =~ ^[0-9]+$ ]] && echo "$w: digits ${BASH_REMATCH[0]}" ;;
  esac
done

# Redirections and fds.
exec 3>out.txt
echo "to fd 3" >&3
exec 3>&-
cat out.txt
{ echo "stderr line" >&2; echo "stdout line"; } 2>&1 | sort

# A signal to ourselves runs the trap; a child killed by a signal.
kill -USR1 $$
bash -c 'kill -TERM $$'
echo "child killed: $?"

# Background job and wait.
(sleep 0.05; echo "background done") &
wait $!
echo "wait status: $?"

exit 3
