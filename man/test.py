#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test-man: the man pages describe what the program and the library have.

faultless(1) (build/man/faultless.1, from man/faultless.1.scd):
  - every subcommand that `faultless --help` lists, as a section
    "faultless NAME" of its own;
  - in that section, every --flag that `faultless NAME --help` prints, and an
    exit status.
faultless(3) (build/man/faultless.3, from man/faultless.3.scd):
  - every option of the library's table, as the library itself lists them
    (FAULTLESS_VERBOSE=1 prints each "option NAME"), as an entry
    FAULTLESS_NAME under TUNING; and no entry there for an option that is gone;
  - every fl_ function declared in include/faultless.h.
The pages are read as man(1) renders them. Last, the same checks run once
more with an invented subcommand flag, option and function added to what the
program reports, and must report all three: so the check can fail.

usage: man/test.py BUILD_DIR   (BUILD_DIR holds faultless and libfaultless.so)
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B = os.path.join(ROOT, sys.argv[1] if len(sys.argv) > 1 else "build")
FL = os.path.join(B, "faultless")
LIB = os.path.join(B, "libfaultless.so")
HEADER = os.path.join(ROOT, "include", "faultless.h")
PAGE1 = os.path.join(ROOT, "build", "man", "faultless.1")
PAGE3 = os.path.join(ROOT, "build", "man", "faultless.3")
SRC1, SRC3 = "man/faultless.1.scd", "man/faultless.3.scd"

passed = failed = 0


def ok(what):
    global passed
    passed += 1
    print(f"ok   {what}")


def fail(what):
    global failed
    failed += 1
    print(f"FAIL {what}")


def render(page):
    """The page as man(1) shows it: plain text, no hyphenation, wide lines."""
    env = dict(os.environ, MANWIDTH="250", LC_ALL="C")
    env.pop("MAN_KEEP_FORMATTING", None)
    r = subprocess.run(["man", "--nh", "--nj", "-l", page], env=env,
                       capture_output=True, text=True, check=False)
    if r.returncode != 0 or not r.stdout.strip():
        raise SystemExit(f"FAIL man -l {page}: {r.stderr.strip()}\nman: 0 passed, 1 failed")
    return r.stdout


def mentions(text, word):
    """word in text, not as part of a longer name or flag."""
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def run_help(args):
    r = subprocess.run([FL] + args, capture_output=True, text=True, check=False)
    return r.returncode, r.stdout + r.stderr


def program_facts():
    """Subcommands and their flags, as the program prints them."""
    rc, top = run_help(["--help"])
    if rc != 0:
        raise SystemExit(f"FAIL {FL} --help exited with {rc}\nman: 0 passed, 1 failed")
    subs = []
    for line in top.splitlines()[1:]:
        m = re.match(r"^  ([a-z][a-z0-9-]*)\s", line)
        if m:
            subs.append(m.group(1))
    flags = {}
    for s in subs:
        if s == "version":
            flags[s] = []
            continue
        rc, text = run_help([s, "--help"])
        if rc != 0:
            fail(f"`faultless {s} --help` exited with {rc}")
        found = re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text)
        flags[s] = sorted(set(found) - {"--help"})
    return subs, flags


def library_options():
    """Option names from the library's own listing (FAULTLESS_VERBOSE=1)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAULTLESS_")}
    env.update(FAULTLESS_VERBOSE="1", LD_PRELOAD=LIB)
    r = subprocess.run(["/bin/true"], env=env, capture_output=True, text=True, check=False)
    return re.findall(r"^faultless: option (\w+)\s+=", r.stderr, re.M)


def header_functions():
    with open(HEADER, encoding="utf-8") as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    return sorted(set(re.findall(r"\b(fl_\w+)\s*\(", text)))


def sections(page_text):
    """{"bench": text, ...}: the "faultless NAME" subsections of COMMANDS."""
    out, name, buf = {}, None, []
    for line in page_text.splitlines():
        m = re.match(r"^   faultless ([a-z][a-z0-9-]*)", line)
        top = re.match(r"^[A-Z]", line)
        if m or top:
            if name:
                out[name] = "\n".join(buf)
            name, buf = (m.group(1) if m else None), []
        elif name:
            buf.append(line)
    if name:
        out[name] = "\n".join(buf)
    return out


def tuning_entries(page_text):
    m = re.search(r"^TUNING\n(.*?)^[A-Z]", page_text, re.M | re.S)
    return re.findall(r"^       (FAULTLESS_\w+)", m.group(1), re.M) if m else []


def check(page1, page3, subs, flags, options, functions, quiet=False):
    """Each problem as one line naming the page, what is missing and where
    it comes from."""
    problems = []
    secs = sections(page1)
    for s in subs:
        if s not in secs:
            problems.append(f"faultless(1) ({SRC1}) has no section `## faultless {s}` "
                            f"for the subcommand `{s}` (listed by `faultless --help`)")
            continue
        missing = [f for f in flags[s] if not mentions(secs[s], f)]
        for f in missing:
            problems.append(f"faultless(1) ({SRC1}), section `faultless {s}`, does not describe "
                            f"{f} (printed by `faultless {s} --help`)")
        if "status" not in secs[s]:
            problems.append(f"faultless(1) ({SRC1}), section `faultless {s}`, names no exit status")
    entries = tuning_entries(page3)
    for o in options:
        if "FAULTLESS_" + o not in entries:
            problems.append(f"faultless(3) ({SRC3}) does not describe the option FAULTLESS_{o}: "
                            f"no entry `*FAULTLESS_{o}* (values; default ...)` under TUNING "
                            f"(the option is in the library's table, listed by FAULTLESS_VERBOSE=1)")
    for e in entries:
        if e[len("FAULTLESS_"):] not in options:
            problems.append(f"faultless(3) ({SRC3}) describes {e} under TUNING, which is not "
                            f"an option of the library")
    for fn in functions:
        if not re.search(r"\b" + re.escape(fn) + r"\(", page3):
            problems.append(f"faultless(3) ({SRC3}) does not describe {fn}() "
                            f"(declared in include/faultless.h)")
    return problems


def main():
    page1, page3 = render(PAGE1), render(PAGE3)
    subs, flags = program_facts()
    options = library_options()
    functions = header_functions()
    # Each source must yield something, or the checks below would pass on nothing.
    for what, got in (("subcommands from `faultless --help`", subs),
                      ("options from FAULTLESS_VERBOSE=1", options),
                      ("fl_ functions in include/faultless.h", functions)):
        if got:
            ok(f"found {len(got)} {what}")
        else:
            fail(f"found no {what}")

    problems = check(page1, page3, subs, flags, options, functions)
    nflags = sum(len(v) for v in flags.values())
    for p in problems:
        fail(p)
    p1 = [p for p in problems if p.startswith("faultless(1)")]
    p3 = [p for p in problems if p.startswith("faultless(3)")]
    if not p1:
        ok(f"faultless(1) describes {len(subs)} subcommands ({', '.join(subs)}), "
           f"their {nflags} --help flags and exit statuses")
    if not p3:
        ok(f"faultless(3) describes {len(options)} options and {len(functions)} fl_ functions")

    # The same check with one invented item of each kind must report each.
    if subs and flags:
        s = next((x for x in subs if x != "version"), subs[0])
        fake_flags = {k: list(v) for k, v in flags.items()}
        fake_flags[s].append("--not-a-real-flag")
        fake = check(page1, page3, subs, fake_flags, options + ["NOT_AN_OPTION"],
                     functions + ["fl_not_a_function"])
        want = ["--not-a-real-flag", "FAULTLESS_NOT_AN_OPTION", "fl_not_a_function()"]
        caught = [w for w in want if any(w in p for p in fake)]
        if caught == want:
            ok("an undocumented flag, option and function are each reported (invented ones)")
        else:
            fail(f"invented items not reported: {sorted(set(want) - set(caught))}")

    print(f"man: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
