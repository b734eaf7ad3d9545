#!/usr/bin/env python3
"""The container build's context: the files under the repository root that .dockerignore lets
through, with Docker's rules (patterns anchored at the root, `*` and `?` within one path
segment, `**` across segments, a directory's exclusion covering what it holds, `!` re-including,
the last matching line deciding).

  deploy/context.py list          the context's files, one a line
  deploy/context.py copy DIR      copies them into DIR (an empty or missing directory)
  deploy/context.py verify DIR    copies them into DIR and checks what the build reads from
                                  files is there: every include_str!/include_bytes! of the
                                  workspace's sources and every sqlx::migrate! directory

Used by deploy/check to see that the workspace builds from what the image gets, without a
container engine.
"""

import os
import re
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def patterns():
    rules = []
    # DOCKERIGNORE: another file of patterns (deploy/check plants a mistake with it).
    path = os.environ.get("DOCKERIGNORE") or os.path.join(ROOT, ".dockerignore")
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pat = os.path.normpath(line[1:] if negate else line).lstrip("/")
            rules.append((negate, re.compile(translate(pat))))
    return rules


def translate(pat):
    out, i = "", 0
    while i < len(pat):
        if pat.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pat.startswith("**", i):
            out += ".*"
            i += 2
        elif pat[i] == "*":
            out += "[^/]*"
            i += 1
        elif pat[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pat[i])
            i += 1
    return "^" + out + "$"


def excluded(rel, rules):
    """Whether `rel` is left out: the last rule matching it or one of its parent directories."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for negate, rx in rules:
        if any(rx.match(p) for p in prefixes):
            verdict = not negate
    return verdict


def files():
    rules = patterns()
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel_dir = os.path.relpath(dirpath, ROOT)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames.sort()
        # A directory excluded with no `!` rule that could re-include something under it is
        # not walked (target/ is large).
        keep = []
        for d in dirnames:
            rel = rel_dir + d
            if excluded(rel, rules) and not any(
                neg and rx.pattern.startswith("^" + re.escape(rel + "/")) for neg, rx in rules
            ):
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = rel_dir + name
            if not excluded(rel, rules):
                yield rel


def copy(dest):
    os.makedirs(dest, exist_ok=True)
    if os.listdir(dest):
        raise SystemExit(f"{dest} is not empty")
    n = 0
    for rel in files():
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), target)
        n += 1
    return n


INCLUDE = re.compile(r'include_(?:str|bytes)!\(\s*"([^"]+)"\s*\)')
MIGRATE = re.compile(r'sqlx::migrate!\(\s*"([^"]+)"\s*\)')


def verify(dest):
    """Each file a source of the context reads at compile time, found in the context."""
    n, missing = copy(dest), []
    needed = 0
    for dirpath, _, names in os.walk(dest):
        for name in names:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            text = open(path, encoding="utf-8").read()
            for rel in INCLUDE.findall(text):
                needed += 1
                if not os.path.isfile(os.path.normpath(os.path.join(dirpath, rel))):
                    missing.append(f"{os.path.relpath(path, dest)}: include of {rel}")
            for rel in MIGRATE.findall(text):
                needed += 1
                # Relative to the crate's manifest directory.
                crate = dirpath
                while not os.path.isfile(os.path.join(crate, "Cargo.toml")):
                    crate = os.path.dirname(crate)
                if not os.path.isdir(os.path.join(crate, rel)):
                    missing.append(f"{os.path.relpath(path, dest)}: migrations {rel}")
    for m in missing:
        print(f"not in the build context: {m}", file=sys.stderr)
    print(f"{n} files; {needed - len(missing)} of {needed} compile-time file reads found")
    return 1 if missing else 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "list":
        for rel in files():
            print(rel)
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "copy":
        print(f"{copy(sys.argv[2])} files")
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "verify":
        return verify(sys.argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
