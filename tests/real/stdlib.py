#!/usr/bin/python3
# python3 under elfuse: os, json, hashlib, zlib, sqlite3, tempfile and mmap,
# printing only deterministic results (no pids, times, random names, inode
# numbers or set orders).
import hashlib
import json
import mmap
import os
import sqlite3
import sys
import tempfile
import zlib

# os: files, directories, stat fields that do not vary between runs.
os.makedirs("d/e/f", exist_ok=True)
with open("d/e/f/data.txt", "w") as f:
    f.write("".join("row %d\n" % i for i in range(1000)))
os.symlink("e/f/data.txt", "d/link")
os.chmod("d/e/f/data.txt", 0o640)
st = os.stat("d/link")
print("stat:", st.st_size, oct(st.st_mode & 0o7777), os.path.islink("d/link"), os.readlink("d/link"))
print("walk:", [(os.path.relpath(r), sorted(ds), sorted(fs)) for r, ds, fs in os.walk("d")])
print("cwd ends with work:", os.path.basename(os.getcwd()) == "work", "env HOME:", os.environ.get("HOME"))
r, w = os.pipe()
os.write(w, b"through a pipe")
os.close(w)
print("pipe:", os.read(r, 100))
os.close(r)

# json: round trip, sorted keys.
doc = {"name": "elfuse", "list": [1, 2.5, None, True, "x\u00e9"], "nested": {"b": 2, "a": 1}}
text = json.dumps(doc, sort_keys=True)
print("json:", text)
print("json round trip:", json.loads(text) == doc)

# hashlib and zlib.
data = b"".join(b"%d," % i for i in range(100000))
print("sha256:", hashlib.sha256(data).hexdigest())
print("md5:", hashlib.md5(data).hexdigest())
print("blake2b:", hashlib.blake2b(data, digest_size=16).hexdigest())
packed = zlib.compress(data, 9)
print("zlib:", len(data), "->", len(packed), "crc32", zlib.crc32(data), "adler32", zlib.adler32(data),
      "round trip", zlib.decompress(packed) == data)

# tempfile and mmap: a temporary file mapped shared, written through the map,
# read back with read(2); an anonymous map; a private map does not reach the file.
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "m.bin")
    with open(path, "wb") as f:
        f.write(b"\0" * (3 * mmap.PAGESIZE))
    with open(path, "r+b") as f:
        m = mmap.mmap(f.fileno(), 0)
        for page in range(3):
            m[page * mmap.PAGESIZE:page * mmap.PAGESIZE + 6] = b"page%d!" % page
        m.flush()
        print("mmap find:", m.find(b"page2"), "len", len(m))
        m.close()
        f.seek(mmap.PAGESIZE)
        print("read after mmap:", f.read(6))
    with open(path, "rb") as f:
        p = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        p[0:6] = b"PRIVAT"
        print("private map:", p[0:6], "file:", open(path, "rb").read(6))
        p.close()
    a = mmap.mmap(-1, 1 << 20)
    a[-4:] = b"tail"
    print("anonymous:", a[-4:], a[:4])
    a.close()
    with tempfile.NamedTemporaryFile(dir=tmp, suffix=".txt") as t:
        t.write(b"named temp")
        t.flush()
        print("named temp:", os.path.getsize(t.name), t.name.endswith(".txt"), os.path.dirname(t.name) == tmp)

    # sqlite3: a file database in the temporary directory, and one in memory.
    db = sqlite3.connect(os.path.join(tmp, "t.db"))
    db.execute("create table fruit (name text primary key, price real, qty integer)")
    db.executemany("insert into fruit values (?, ?, ?)",
                   [("apple", 0.5, 10), ("banana", 0.25, 7), ("cherry", 3.0, 1), ("date", 1.5, 4)])
    db.commit()
    print("sqlite rows:", db.execute("select name, price * qty from fruit order by name").fetchall())
    print("sqlite sum:", db.execute("select sum(price * qty), count(*) from fruit").fetchone())
    db.close()
    db = sqlite3.connect(os.path.join(tmp, "t.db"))
    print("sqlite reopen:", db.execute("select group_concat(name, '+') from (select name from fruit order by qty desc)").fetchone()[0])
    db.close()
    print("tempdir entries:", sorted(os.listdir(tmp)))
mem = sqlite3.connect(":memory:")
print("sqlite memory:", mem.execute("with recursive n(i) as (select 1 union all select i + 1 from n where i < 100) select sum(i), max(i) from n").fetchone())
print("sqlite version tuple is", type(sqlite3.sqlite_version_info).__name__)
print("stderr next", flush=True)
print("to stderr", file=sys.stderr)
sys.exit(5)
