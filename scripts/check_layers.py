#!/usr/bin/env python3
"""The layers of src/ and their one-way includes (docs/internals.md, "The shape").

Every file under src/ belongs to one layer; a file may include headers of its
own layer and of the layers below it, never of a layer above. A lower layer
that needs something done above it declares a function or a hook that the
upper layer defines or registers (kernel/syscall_entry.h, kernel/exec.h
register_exec_hook, kernel/peer.h answer_file).

  check_layers.py [SRC_DIR]    exit 1, naming each include that runs back up
  check_layers.py --self-test  checks that a back edge is caught

The ctest tests layers.includes and layers.self_test run both (make check).
"""

import os
import re
import sys
import tempfile

# Lowest first. A file's layer is the longest prefix of its path under src/
# that is listed here (fs/proc/ is above kernel/, the rest of fs/ below it).
LAYERS = [
    ("abi", ["abi/"]),  # the Linux ABI elfuse defines itself: system headers only
    ("shim", ["shim/"]),  # the guest shim and its ABI header: includes nothing
    ("base", ["base/"]),
    ("mm", ["mm/"]),
    ("hv", ["hv/"]),
    ("vdso", ["vdso/"]),
    ("loader", ["loader/"]),
    ("fs", ["fs/"]),
    ("cli", ["cli/"]),  # the command line, parsed (a pure function)
    ("kernel", ["kernel/"]),
    ("fs/proc", ["fs/proc/"]),
    ("syscalls", ["syscalls/"]),
    ("sandbox", ["sandbox/"]),  # the sandbox options applied, the supervisor
    ("main", ["main.cc", "sanitizer_options.cc"]),
]

# Headers of constants and layouts of an outside ABI only (system headers,
# no header of src/): any layer may include them. hv/kvm_abi.h: KVM's ioctl
# numbers, which base/self_confine.cc's filter lists.
ABI_HEADERS = {"hv/kvm_abi.h", "shim/shim_abi.h"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"(.*)$')
SOURCE_EXT = (".h", ".cc", ".S", ".def", ".inc")


def layer_of(rel):
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (rel == p or rel.startswith(p)) and len(p) > best_len:
                best, best_len = index, len(p)
    return best


def check(src):
    errors = []
    files = []
    for root, _, names in os.walk(src):
        for n in names:
            if n.endswith(SOURCE_EXT):
                files.append(os.path.relpath(os.path.join(root, n), src).replace(os.sep, "/"))
    files.sort()
    for rel in files:
        mine = layer_of(rel)
        if mine is None:
            errors.append(f"src/{rel}: in no layer (add its folder to LAYERS in {sys.argv[0]} "
                          "and to docs/internals.md)")
            continue
        with open(os.path.join(src, rel), encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                if not os.path.exists(os.path.join(src, target)):
                    continue  # not a header of src/
                if rel in ABI_HEADERS:
                    errors.append(f"src/{rel}:{lineno}: an ABI header includes src/{target}")
                    continue
                if target in ABI_HEADERS:
                    continue
                theirs = layer_of(target)
                if theirs is None or theirs <= mine:
                    continue
                errors.append(f"src/{rel}:{lineno}: includes src/{target}: layer "
                              f"{LAYERS[mine][0]} must not depend on {LAYERS[theirs][0]} "
                              "(above it)")
    return errors


def self_test():
    with tempfile.TemporaryDirectory() as d:
        def write(rel, text):
            os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as f:
                f.write(text)

        write("base/a.h", "#pragma once\n")
        write("kernel/k.h", '#include "base/a.h"\n')
        write("syscalls/s.h", '#include "kernel/k.h"\n')
        write("fs/proc/p.h", '#include "kernel/k.h"\n')
        if check(d):
            print("self-test: downward includes were refused:", check(d))
            return 1
        write("kernel/back.cc", '#include "syscalls/s.h"\n')
        write("fs/low.cc", '#include "fs/proc/p.h"\n')
        errors = check(d)
        want = ["src/fs/low.cc:1", "src/kernel/back.cc:1"]
        got = [e.split(": ")[0] for e in errors]
        if got != want:
            print("self-test: expected back edges", want, "got", errors)
            return 1
    print("self-test: back edges are caught")
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        return self_test()
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "src")
    errors = check(src)
    for e in errors:
        print(e)
    if errors:
        print(f"check_layers: {len(errors)} include(s) against the layer order "
              "(docs/internals.md, \"The shape\")")
        return 1
    print("check_layers: every include of src/ goes down the layers: " +
          " < ".join(name for name, _ in LAYERS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
