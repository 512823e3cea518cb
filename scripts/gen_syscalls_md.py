#!/usr/bin/env python3
"""Writes docs/syscalls.md from src/syscalls/syscalls.def (the one list).

Rows:   SYSCALL(nr, name, status, restart, worker, trace, kinds...)
        TYPED(nr, name, status, restart, worker, trace, result, types...)
Notes:  // note NAME: text      (what a kPartial row lacks, what a kRefused or
                                 kAbsent row answers and why, or why kEnosys)
Usage:  gen_syscalls_md.py [--check]   (--check: fail if the file is stale)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEF = os.path.join(ROOT, "src", "syscalls", "syscalls.def")
OUT = os.path.join(ROOT, "docs", "syscalls.md")

STATUS = {"kFull": "implemented", "kPartial": "partial", "kRefused": "refused",
          "kAbsent": "absent", "kEnosys": "ENOSYS"}


def render():
    rows, notes = [], {}
    for line in open(DEF):
        m = re.match(r"(?:SYSCALL|TYPED)\((\d+),\s*(\w+),\s*(\w+)", line)
        if m:
            rows.append((int(m.group(1)), m.group(2), m.group(3)))
            continue
        m = re.match(r"//\s*note\s+(\w+):\s*(.*)", line)
        if m:
            notes[m.group(1)] = (notes.get(m.group(1), "") + " " + m.group(2)).strip()
    counts = {k: sum(1 for r in rows if r[2] == k) for k in STATUS}
    out = [
        "# Syscalls",
        "",
        "Generated from `src/syscalls/syscalls.def` by `scripts/gen_syscalls_md.py`;",
        "do not edit by hand. `implemented`: Linux semantics and errno. `partial`:",
        "implemented with the limits in the note. `refused`: Linux's argument checks,",
        "then the errno Linux gives a caller without the needed privilege or a kernel",
        "without the feature, as the note says; the host is never changed. `absent`:",
        "returns -ENOSYS without a word, as the Linux the note names (numbers x86_64",
        "Linux itself answers ENOSYS, features configured out). `ENOSYS`: not",
        "implemented: returns -ENOSYS (as a kernel built without the call would) and",
        "is reported once on stderr.",
        "",
        "Implemented: %d, partial: %d, refused: %d, absent: %d, ENOSYS: %d." % (
            counts["kFull"], counts["kPartial"], counts["kRefused"], counts["kAbsent"],
            counts["kEnosys"]),
        "",
        "| nr | name | status | note |",
        "|---:|---|---|---|",
    ]
    for nr, name, status in rows:
        if status == "kEnosys" and name not in notes:
            continue
        out.append("| %d | %s | %s | %s |" % (nr, name, STATUS[status], notes.get(name, "")))
    rest = [name for _, name, status in rows if status == "kEnosys" and name not in notes]
    if rest:
        out += ["", "Every other x86_64 syscall number returns ENOSYS:", ""]
        out.append(", ".join(rest) + ".")
    else:
        out += ["", "A number x86_64 Linux does not have returns ENOSYS and is reported "
                "once on stderr."]
    return "\n".join(out) + "\n"


def main():
    text = render()
    if "--check" in sys.argv:
        current = open(OUT).read() if os.path.exists(OUT) else ""
        if current != text:
            print("docs/syscalls.md is stale: run scripts/gen_syscalls_md.py")
            return 1
        return 0
    open(OUT, "w").write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
