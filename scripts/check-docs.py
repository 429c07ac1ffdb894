#!/usr/bin/env python3
"""Runs the worked examples of the README and docs/ and fails when one stops working.

An example is a fenced code block holding lines that start with "$ ": each such line (with its
continuation lines ending in a backslash) is a command as a user types it from the repository
root, and the lines after it, up to the next "$ " line or the end of the block, are its output as
shown. A command passes when it exits 0 and every shown output line appears in what it printed
(stdout, then stderr), in the same order; the shown output may leave lines out, and a line "..."
stands for lines left out. Seconds ("9.3 s") are not compared. Commands run one after another in
a scratch directory holding a copy of data/, so they may use what an earlier one wrote (out/).

A ```python block followed by a block of ">>> " lines is a Python session: the code runs, then
each ">>> expression" must print the line(s) shown under it (repr). It needs the exitplan module
(--python-path) and numpy; without them it is skipped with a message.

Usage: check-docs.py --exitplan BUILD/exitplan [--python-path BUILD/python] [--python PY]
                     [--source DIR] [FILE.md ...]   (default: README.md and docs/*.md)
Only the standard library is used.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

SECONDS = re.compile(r"\b\d+(\.\d+)? s\b")


def normalise(line):
    return SECONDS.sub("<seconds> s", line.rstrip())


def blocks(path):
    """(first line number, language, lines) of every fenced code block of a Markdown file."""
    out, cur, lang, start = [], None, "", 0
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.lstrip().startswith("```"):
                if cur is None:
                    cur, lang, start = [], line.strip()[3:].strip(), no + 1
                else:
                    out.append((start, lang, cur))
                    cur = None
            elif cur is not None:
                cur.append(line)
    return out


def commands(block_lines, start):
    """(line number, command, shown output lines) of the "$ " commands of a block."""
    out, i = [], 0
    while i < len(block_lines):
        line = block_lines[i]
        if not line.startswith("$ "):
            i += 1
            continue
        no, cmd = start + i, line[2:]
        while cmd.endswith("\\") and i + 1 < len(block_lines):
            i += 1
            cmd = cmd[:-1].rstrip() + " " + block_lines[i].strip()
        i += 1
        shown = []
        while i < len(block_lines) and not block_lines[i].startswith("$ "):
            shown.append(block_lines[i])
            i += 1
        out.append((no, cmd, shown))
    return out


def missing_line(shown, printed):
    """The first shown line not found, in order, in the printed lines; None when all are."""
    got = [normalise(l) for l in printed]
    pos = 0
    for line in shown:
        want = normalise(line)
        if want.strip() in ("", "..."):
            continue
        try:
            pos = got.index(want, pos) + 1
        except ValueError:
            return line
    return None


def passed(what, status, shown, printed):
    """True when the example exited 0 and printed every shown line; else says why."""
    miss = missing_line(shown, printed)
    if status == 0 and miss is None:
        return True
    why = f"exit status {status}" if status != 0 else f"no line {miss.strip()!r}"
    print(f"{what}\n  {why}; it printed:")
    print("\n".join("    " + l for l in printed[:60]))
    return False


def run_command(cmd, exitplan, scratch):
    # The command as typed, with its exitplan (build/exitplan or exitplan) the binary under test.
    cmd = re.sub(r"^(build/)?exitplan\b", lambda _: exitplan, cmd)
    r = subprocess.run(["bash", "-c", cmd], cwd=scratch, capture_output=True, text=True,
                       timeout=600)
    return r.returncode, (r.stdout + r.stderr).splitlines()


PY_SESSION = """
import sys
code, checks = sys.argv[1], sys.argv[2:]
ns = {}
exec(compile(open(code).read(), "example", "exec"), ns)
for expr in checks:
    print(">>> " + expr)
    print(repr(eval(expr, ns)))
"""


def run_session(code, exprs, args, scratch):
    """Runs the code then prints ">>> expr" and repr(value) per expression; None if no module."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.abspath(args.python_path) + os.pathsep + env.get("PYTHONPATH", "")
    probe = subprocess.run([args.python, "-c", "import numpy, exitplan"], env=env,
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return None
    with open(os.path.join(scratch, "example.py"), "w", encoding="utf-8") as f:
        f.write("\n".join(code) + "\n")
    r = subprocess.run([args.python, "-c", PY_SESSION, "example.py"] + exprs, cwd=scratch,
                       env=env, capture_output=True, text=True, timeout=600)
    return r.returncode, (r.stdout + r.stderr).splitlines()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--exitplan", required=True, help="the exitplan binary")
    p.add_argument("--python-path", default="", help="directory of the exitplan Python module")
    p.add_argument("--python", default="/usr/bin/python3", help="interpreter with numpy")
    p.add_argument("--source", default=os.path.dirname(here), help="the repository root")
    p.add_argument("files", nargs="*")
    args = p.parse_args()
    exitplan = os.path.abspath(args.exitplan)
    files = args.files or [os.path.join(args.source, "README.md")] + sorted(
        glob.glob(os.path.join(args.source, "docs", "*.md")))
    failures, ran, skipped = 0, 0, 0
    with tempfile.TemporaryDirectory(prefix="exitplan-docs-") as scratch:
        shutil.copytree(os.path.join(args.source, "data"), os.path.join(scratch, "data"))
        for path in files:
            name = os.path.relpath(path, args.source)
            found = blocks(path)
            for b, (start, lang, lines) in enumerate(found):
                for no, cmd, shown in commands(lines, start):
                    ran += 1
                    status, printed = run_command(cmd, exitplan, scratch)
                    failures += not passed(f"{name}:{no}: {cmd}", status, shown, printed)
                if lang == "python" and b + 1 < len(found):
                    nstart, _, nlines = found[b + 1]
                    if not any(l.startswith(">>> ") for l in nlines):
                        continue
                    exprs, shown = [], []
                    for l in nlines:
                        if l.startswith(">>> "):
                            exprs.append(l[4:])
                        shown.append(l)
                    ran += 1
                    res = run_session(lines, exprs, args, scratch)
                    if res is None:
                        skipped += 1
                        print(f"SKIP {name}:{start}: Python session (no numpy or exitplan module "
                              f"for {args.python} with PYTHONPATH={args.python_path})")
                        continue
                    status, printed = res
                    failures += not passed(f"{name}:{nstart}: Python session", status, shown, printed)
    print(f"docs examples: {ran - failures - skipped} passed, {failures} failed, {skipped} skipped")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
