#!/usr/bin/env bash
# Run PROGRAM natively and under elfuse; fail unless stdout, stderr and the exit
# status agree. The host kernel is the oracle.
#
# usage: compare.sh [OPTIONS] ELFUSE PROGRAM [ARGS...]
#        compare.sh [OPTIONS] --case FILE NAME ELFUSE
#                   (no PROGRAM: the first word of the case line is the program)
#
# Options:
#   --stdin FILE        feed FILE to both runs (default: /dev/null)
#   --args-file FILE    append the arguments written in FILE (shell word syntax)
#   --case FILE NAME    append the arguments of line NAME of FILE
#                       (a line is: NAME  WORDS..., in shell word syntax; # comments;
#                       $CASE_DIR in the words is the directory FILE is in)
#   --ignore-stderr     do not compare stderr (for programs whose messages
#                       legitimately differ, e.g. ones that name the interpreter)
#   --filter SED_EXPR   apply `sed -E SED_EXPR` to stdout and stderr of both runs
#                       (may be given more than once)
#   --timeout SECONDS   per-run limit (default 60)
#
# Environment:
#   ELFUSE              if set, used instead of the ELFUSE argument (run the suite
#                       against a stand-in: ELFUSE=/path/to/wrapper ctest ...)
#   COMPARE_IGNORE_STDERR=1   same as --ignore-stderr
#   COMPARE_KEEP=1      keep the temporary directory and print its path
#
# Both runs get a fresh, empty working directory at the same absolute path (created,
# used, removed, created again), the same environment (env -i with PATH, HOME=/tmp,
# LANG=C), the same stdin and no core dumps. A death by signal N shows as 128+N.
set -euo pipefail

die() {
  echo "compare.sh: $*" >&2
  exit 2
}

stdin_file=/dev/null
ignore_stderr=${COMPARE_IGNORE_STDERR:-0}
timeout_s=60
filters=()
extra_args=()

# Append the words of a shell-syntax string to extra_args.
add_words() {
  local -a words
  eval "words=($1)" || die "cannot parse arguments: $1"
  extra_args+=("${words[@]}")
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --stdin)
      [[ -r $2 ]] || die "no stdin file $2"
      stdin_file=$(realpath "$2")
      shift 2
      ;;
    --args-file)
      [[ -r $2 ]] || die "no args file $2"
      add_words "$(grep -v '^[[:space:]]*#' "$2" | tr '\n' ' ')"
      shift 2
      ;;
    --case)
      [[ -r $2 ]] || die "no case file $2"
      line=$(awk -v n="$3" '$1 == n { sub(/^[[:space:]]*[^[:space:]]+[[:space:]]*/, ""); print; found=1; exit }
                            END { exit !found }' "$2") || die "no case '$3' in $2"
      CASE_DIR=$(dirname "$(realpath "$2")") add_words "$line"
      shift 3
      ;;
    --ignore-stderr)
      ignore_stderr=1
      shift
      ;;
    --filter)
      filters+=(-e "$2")
      shift 2
      ;;
    --timeout)
      timeout_s=$2
      shift 2
      ;;
    --)
      shift
      break
      ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done

if [[ $# -eq 1 && ${#extra_args[@]} -gt 0 ]]; then
  # --case FILE NAME ELFUSE: the case line names the program.
  set -- "$1" "${extra_args[@]}"
  extra_args=()
fi
[[ $# -ge 2 ]] || die "usage: compare.sh [OPTIONS] ELFUSE PROGRAM [ARGS...]"
elfuse=${ELFUSE:-$1}
shift
program=$1
shift
args=("$@" "${extra_args[@]}")

[[ -x $elfuse ]] || die "elfuse binary '$elfuse' is not executable"
[[ -e $program ]] || die "program '$program' does not exist"

# Absolute paths: the runs happen in another directory.
elfuse=$(realpath "$elfuse")
[[ $program == */* ]] && program=$(realpath -s "$program")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/elfuse-compare.XXXXXX")
if [[ ${COMPARE_KEEP:-0} == 1 ]]; then
  echo "compare.sh: keeping $tmp" >&2
else
  trap 'rm -rf "$tmp"' EXIT
fi
work=$tmp/work

# run LABEL COMMAND...: run in a fresh $work, write $tmp/LABEL.{out,err,status}.
run() {
  local label=$1
  shift
  rm -rf "$work"
  mkdir "$work"
  local status=0
  # The braces send bash's own "Segmentation fault" notices to /dev/null; the
  # program's stderr is redirected inside them.
  {
    (
      cd "$work"
      ulimit -c 0
      # Close whatever the caller (ctest, make) leaked, so the program starts with
      # fds 0, 1 and 2 only, as from a shell.
      for f in "/proc/$BASHPID/fd"/*; do
        fd=${f##*/}
        if ((fd > 2)); then eval "exec $fd>&-"; fi
      done
      exec timeout -k 5 "$timeout_s" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp LANG=C \
        "$@" <"$stdin_file" >"$tmp/$label.out" 2>"$tmp/$label.err"
    )
  } 2>/dev/null || status=$?
  echo "$status" >"$tmp/$label.status"
  rm -rf "$work"
}

run native "$program" "${args[@]}"
run elfuse "$elfuse" "$program" "${args[@]}"

# One report per side: stdout, stderr and the exit status, so one diff shows all.
report() {
  local label=$1
  echo "=== exit status"
  local s
  s=$(cat "$tmp/$label.status")
  if ((s == 124)); then
    echo "124 (timed out after ${timeout_s}s)"
  elif ((s > 128 && s < 160)); then
    echo "$s (signal $((s - 128)): $(kill -l $((s - 128)) 2>/dev/null || echo '?'))"
  else
    echo "$s"
  fi
  for stream in out err; do
    [[ $stream == err && $ignore_stderr == 1 ]] && continue
    echo "=== std$stream"
    local file=$tmp/$label.$stream
    # elfuse's two diagnostics that the kernel has no counterpart for go
    # to stderr by design: the fatal-fault line and the once-per-syscall
    # ENOSYS report. They are checked by errors.* tests, not compared here.
    if [[ $label == elfuse && $stream == err ]]; then
      grep -Ev '^elfuse: (guest killed by SIG[A-Z0-9]+: |(unknown )?syscall .*returns ENOSYS$)' \
        "$file" >"$file.filtered" || true
      file=$file.filtered
    fi
    if ((${#filters[@]})); then
      sed -E "${filters[@]}" "$file"
    else
      cat "$file"
    fi
    # Make a missing final newline visible instead of letting diff hide it.
    if [[ -s $tmp/$label.$stream && $(tail -c1 "$tmp/$label.$stream" | od -An -c | tr -d ' ') != '\n' ]]; then
      echo
      echo "(no newline at end of std$stream)"
    fi
  done
}

report native >"$tmp/native.report"
report elfuse >"$tmp/elfuse.report"

cmdline="$program${args[*]:+ ${args[*]}}"
if diff -u --label "native: $cmdline" --label "elfuse: $cmdline" \
  "$tmp/native.report" "$tmp/elfuse.report" >"$tmp/diff"; then
  echo "PASS: $cmdline (exit $(cat "$tmp/native.status"))"
  exit 0
fi
echo "FAIL: output under elfuse differs from native"
echo "  elfuse:  $elfuse"
echo "  program: $cmdline"
cat "$tmp/diff"
exit 1
