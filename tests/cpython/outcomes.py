#!/usr/bin/python3
"""Per-test-case outcomes of a `python3 -m test -v MODULE` log, and a comparison.

usage: outcomes.py LOG                  print "TEST-ID OUTCOME" lines and the counts
       outcomes.py --compare NATIVE ELFUSE [--rerun-patterns FILE]
                                        print the test cases whose outcome differs
                                        (with the failure text of a FAIL or ERROR)
                                        and the counts of both; exit 1 if any differ.
                                        With --rerun-patterns, also write to FILE the
                                        regrtest -m patterns that run the differing
                                        test cases again, when both runs finished and
                                        every difference is a test case's own.
                                        With --ran-patterns FILE instead, a run that
                                        ran no test case matching one of FILE's
                                        patterns differs.

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
FIXTURES = ('setUpClass', 'tearDownClass', 'setUpModule', 'tearDownModule')


def outcome_word(status):
    """The outcome of a status text: skips compare by kind, not reason."""
    return 'skipped' if status.startswith('skipped') else status


def summary_key(m):
    """The outcome key of a summary line's match: the test id, with the
    subtest after it; "setUpClass (id)" and the like for fixtures."""
    _, name, test_id, extra = m.groups()
    key = test_id if name not in FIXTURES else f'{name} ({test_id})'
    if extra.strip():
        key += ' ' + extra.strip()
    return key


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
            outcomes[summary_key(m)] = m.group(1)
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


def failure_block(path, key):
    """The summary block ("ERROR: name (id)" and its traceback) of test case
    `key` in the log at `path`, at most 40 lines; [] when it has none."""
    with open(path, encoding='utf-8', errors='replace') as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        m = SUMMARY.match(line)
        if not m or summary_key(m) != key:
            continue
        block = [line]
        for follow in lines[i + 1:i + 40]:
            if follow.startswith('=' * 70) or SUMMARY.match(follow) or RAN.match(follow):
                break
            block.append(follow)
        while block and (not block[-1].strip() or block[-1].startswith('-' * 70)):
            block.pop()
        return block
    return []


def rerun_pattern(key):
    """The regrtest -m pattern that runs test case `key` again: the test id
    without a subtest suffix; a whole class for a setUpClass/tearDownClass
    key."""
    m = re.match(r'^(setUpClass|tearDownClass) \((\S+)\)$', key)
    if m:
        return m.group(2) + '.*'
    if key.startswith(('setUpModule', 'tearDownModule')):
        return None
    return key.split(' ', 1)[0]


def ran_every(outcomes, patterns_path):
    """Whether every -m pattern in the file matched a test case that ran."""
    import fnmatch
    with open(patterns_path, encoding='utf-8') as f:
        patterns = f.read().split()
    ran = [key.split(' ', 1)[0] for key, value in outcomes.items() if value != 'no status']
    return all(any(fnmatch.fnmatchcase(test_id, p) for test_id in ran) for p in patterns)


def compare(native_path, elfuse_path, patterns_out=None, patterns_in=None):
    native, native_counts = parse(native_path)
    elfuse, elfuse_counts = parse(elfuse_path)
    if patterns_in is not None:
        for side, outcomes in (('native', native), ('elfuse', elfuse)):
            if not ran_every(outcomes, patterns_in):
                print(f'DIFF the {side} run did not run every test case of {patterns_in}')
                return 1
    ended_early = {'native': 'no "Ran' in native_counts or 'no result' in native_counts,
                   'elfuse': 'no "Ran' in elfuse_counts or 'no result' in elfuse_counts}
    diffs = 0
    not_run = {'native': 0, 'elfuse': 0}
    patterns = set()
    rerunnable = not any(ended_early.values())
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
            for side, outcome, path in (('native', a, native_path), ('elfuse', b, elfuse_path)):
                if outcome in ('FAIL', 'ERROR'):
                    for line in failure_block(path, test_id):
                        print(f'  {side} | {line}')
        pattern = rerun_pattern(test_id)
        if pattern is None:
            rerunnable = False
        else:
            patterns.add(pattern)
    for side, path in (('native', native_path), ('elfuse', elfuse_path)):
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
        rerunnable = False
    if patterns_out is not None and diffs and rerunnable:
        with open(patterns_out, 'w', encoding='utf-8') as f:
            for pattern in sorted(patterns):
                f.write(pattern + '\n')
    return 1 if diffs else 0


def main(argv):
    if len(argv) == 2:
        outcomes, counts = parse(argv[1])
        for test_id in sorted(outcomes):
            print(test_id, outcomes[test_id])
        print(counts)
        return 0
    if len(argv) in (4, 6) and argv[1] == '--compare':
        if len(argv) == 4:
            return compare(argv[2], argv[3])
        if argv[4] == '--rerun-patterns':
            return compare(argv[2], argv[3], patterns_out=argv[5])
        if argv[4] == '--ran-patterns':
            return compare(argv[2], argv[3], patterns_in=argv[5])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
