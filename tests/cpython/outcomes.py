#!/usr/bin/python3
"""Per-test-case outcomes of a `python3 -m test -v MODULE` log, and a comparison.

usage: outcomes.py LOG                  print "TEST-ID OUTCOME" lines and the counts
       outcomes.py --compare NATIVE ELFUSE
                                        print the test cases whose outcome differs
                                        and the counts of both; exit 1 if any differ

The log is unittest's verbose stream (regrtest prints it on stdout; stderr is
merged into it by run.sh):

    test_x (test.test_mod.Class.test_x) ... ok
    test_y (test.test_mod.Class.test_y) ... skipped 'reason'
    test_z (test.test_mod.Class.test_z)
    First line of the docstring ... FAIL

A test that prints lets its output come between " ... " and the status, so the
status may stand alone on a later line. Failures and errors are taken from the
summary blocks at the end ("FAIL: test_x (test.test_mod.Class.test_x) (subtest)"),
which also name subtests and setUpClass errors; the stream gives the rest.
"""

import re
import sys

START = re.compile(r'^(\w+) \(([A-Za-z_][\w.]*)\)(.*)$')
STATUS = re.compile(r'^(ok|FAIL|ERROR|skipped .*|expected failure|unexpected success)$')
SUMMARY = re.compile(r'^(FAIL|ERROR): (\S+) \(([A-Za-z_][\w.]*)\)(.*)$')
COUNTS = re.compile(r'^(OK|FAILED)( \(.*\))?$')
RAN = re.compile(r'^Ran (\d+) tests? in ')


def outcome_word(status):
    """The outcome of a status text: skips compare by kind, not reason."""
    return 'skipped' if status.startswith('skipped') else status


def parse(path):
    """Returns (outcomes: dict id -> outcome, counts: str)."""
    with open(path, encoding='utf-8', errors='replace') as f:
        lines = f.read().splitlines()
    outcomes = {}
    pending = None  # id of the test whose status has not been seen yet
    ran = None
    counts = None
    in_summary = False
    for line in lines:
        if line.startswith('=' * 70):
            in_summary = True
            pending = None
            continue
        m = SUMMARY.match(line)
        if in_summary and m:
            kind, name, test_id, extra = m.groups()
            key = test_id if name != 'setUpClass' and name != 'tearDownClass' \
                and name != 'setUpModule' and name != 'tearDownModule' \
                else f'{name} ({test_id})'
            if extra.strip():
                key += ' ' + extra.strip()
            outcomes[key] = kind
            continue
        m = RAN.match(line)
        if m:
            ran = int(m.group(1))
            in_summary = False
            continue
        m = COUNTS.match(line)
        if m and ran is not None and counts is None:
            counts = f'ran {ran}: {line}'
            continue
        if in_summary:
            continue
        m = START.match(line)
        if m:
            test_id, rest = m.group(2), m.group(3)
            pending = test_id
            outcomes.setdefault(test_id, 'no status')
            if rest.startswith(' ... '):
                status = rest[len(' ... '):]
                if STATUS.match(status):
                    outcomes[test_id] = outcome_word(status)
                    pending = None
            continue
        if pending is None:
            continue
        # A docstring line ("Doc ... ok") or the status alone after test output.
        tail = line.rsplit(' ... ', 1)[-1]
        if STATUS.match(tail):
            outcomes[pending] = outcome_word(tail)
            pending = None
    if counts is None:
        counts = f'ran {ran}: no result line' if ran is not None else 'no "Ran N tests" line'
    return outcomes, counts


def main(argv):
    if len(argv) == 2:
        outcomes, counts = parse(argv[1])
        for test_id in sorted(outcomes):
            print(test_id, outcomes[test_id])
        print(counts)
        return 0
    if len(argv) == 4 and argv[1] == '--compare':
        native, native_counts = parse(argv[2])
        elfuse, elfuse_counts = parse(argv[3])
        ended_early = {'native': 'no "Ran' in native_counts or 'no result' in native_counts,
                       'elfuse': 'no "Ran' in elfuse_counts or 'no result' in elfuse_counts}
        diffs = 0
        not_run = {'native': 0, 'elfuse': 0}
        for test_id in sorted(set(native) | set(elfuse)):
            a = native.get(test_id, 'not run')
            b = elfuse.get(test_id, 'not run')
            if a == b:
                continue
            diffs += 1
            # A run that ended early (a crash): count what it never reached
            # instead of listing every test case.
            for side, other, value in (('native', a, b), ('elfuse', b, a)):
                if other == 'not run' and ended_early[side]:
                    not_run[side] += 1
                    break
            else:
                print(f'DIFF {test_id}: native {a}, elfuse {b}')
        for side, path in (('native', argv[2]), ('elfuse', argv[3])):
            if ended_early[side]:
                print(f'DIFF the {side} run ended early; {not_run[side]} test cases not run. '
                      f'From its last test on:')
                with open(path, encoding='utf-8', errors='replace') as f:
                    lines = f.read().splitlines()
                starts = [i for i, line in enumerate(lines) if START.match(line)]
                first = starts[-1] if starts else max(0, len(lines) - 25)
                for line in lines[first:first + 25]:
                    print(f'  | {line}')
        print(f'native: {native_counts}')
        print(f'elfuse: {elfuse_counts}')
        if native_counts != elfuse_counts and diffs == 0:
            print('DIFF counts')
            diffs += 1
        return 1 if diffs else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
