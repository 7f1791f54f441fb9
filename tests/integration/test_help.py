#!/usr/bin/env python3
"""Every command of `cohort` and `cohortd` has its own --help.

The commands are taken from the top-level help (`cohort --help`,
`cohortd --help`), so a command added there without its own usage fails
here. For each: `--help` and `-h` exit 0 with "Usage: <binary> <command>" on
stdout, nothing on stderr, a "Flags:" section when it takes flags, and an
example; every flag of the usage line is marked (required) in the flags
section; every flag listed is accepted by the command's parser (it may fail
for other reasons, never with "unknown option"); an unknown flag is refused
with exit 2 and a pointer to --help. No node is needed: the client talks to
a closed port, and every run gets a fresh empty home.

usage: test_help.py --bin BUILD/bin
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
args = ap.parse_args()
args.bin = os.path.abspath(args.bin)
TMP = tempfile.mkdtemp(prefix="cohort_help_")
_n = [0]


def run(binary, argv, timeout=20):
    """Run with a fresh home (never the user's) and a node nobody listens on."""
    _n[0] += 1
    home = os.path.join(TMP, "h%d" % _n[0])
    env = dict(os.environ, HOME=TMP, COHORT_HOME=home, COHORT_NODE="http://127.0.0.1:1")
    try:
        return subprocess.run([os.path.join(args.bin, binary)] + argv, capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=TMP)
    except subprocess.TimeoutExpired:
        return None  # still running (e.g. waiting for the node): it took the flag


def listed_commands(binary):
    """Command paths from the 'Commands:' section of the top-level help."""
    out = run(binary, ["--help"])
    assert out.returncode == 0 and out.stdout.startswith("Usage: %s" % binary), out
    lines = out.stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    paths = []
    for ln in lines:
        # "keys new NAME  create a key": the path is the words before the
        # arguments; the summary follows two or more spaces
        head = re.split(r"\s{2,}", ln.strip())[0].split()
        paths.append(" ".join(w for w in head if re.fullmatch(r"[a-z][a-z-]*", w)))
    assert len(paths) >= 6, lines
    return paths


def check_help(binary, path):
    for flag in ("--help", "-h"):
        out = run(binary, path.split() + [flag])
        assert out.returncode == 0, (binary, path, flag, out.returncode, out.stderr)
        assert out.stdout.startswith("Usage: %s %s" % (binary, path)), (path, out.stdout[:200])
        assert out.stderr == "", (path, flag, out.stderr)
        assert "\nExample:\n  " in out.stdout, (path, out.stdout)
    text = out.stdout
    usage = text.splitlines()[0]
    flags = {}
    if "\nFlags:\n" in text:
        for ln in text.split("\nFlags:\n", 1)[1].split("\n\n", 1)[0].splitlines():
            m = re.match(r"\s+(?:-[a-z], )?(--[a-z0-9-]+)( [A-Z])?", ln)
            if m:  # flag -> (its line, whether it takes a value)
                flags[m.group(1)] = (ln, m.group(2) is not None)
    for f in re.findall(r"(--[a-z0-9-]+)", usage.split("[")[0]):
        assert f in flags and "(required)" in flags[f][0], (path, f, "not marked required")
    return text, flags


def test_cohort_commands():
    paths = listed_commands("cohort")
    for p in ("transfer", "task submit", "executor run", "keys new", "job get"):
        assert p in paths, (p, paths)
    for path in paths:
        text, flags = check_help("cohort", path)
        if path == "version":
            continue
        for f, (_, value) in flags.items():
            if f in ("--help", "--node", "--home", "--json"):
                continue  # global flags
            out = run("cohort", path.split() + [f] + (["1"] if value else []), timeout=3)
            if out is not None:
                assert "unknown option" not in out.stderr, (path, f, out.stderr)
        out = run("cohort", path.split() + ["--no-such-flag"])
        assert out.returncode == 2 and "--help" in out.stderr, (path, out.returncode, out.stderr)
    # the groups, the top level, the version
    for g in ("keys", "task", "job", "executor", "program"):
        out = run("cohort", [g, "--help"])
        assert out.returncode == 0 and out.stdout.startswith("Usage: cohort %s" % g), out
        assert "Subcommands:" in out.stdout, out.stdout
        out = run("cohort", [g])
        assert out.returncode == 2 and "Usage: cohort %s" % g in out.stderr, out
    for v in (["--version"], ["version"]):
        out = run("cohort", v)
        assert out.returncode == 0 and re.match(r"cohort \d+\.\d+\.\d+\n$", out.stdout), out
    out = run("cohort", ["-h"])
    assert out.returncode == 0 and "Usage: cohort" in out.stdout, out
    out = run("cohort", ["executor", "run", "--help"])  # used to say "--help needs a value"
    assert out.returncode == 0 and "--capacity N" in out.stdout and "2 unless" in out.stdout, out
    out = run("cohort", ["task", "bogus", "--help"])
    assert out.returncode == 2 and "unknown subcommand" in out.stderr, out


def test_cohortd_commands():
    paths = listed_commands("cohortd")
    for p in ("init", "start", "testnet", "show-node-id", "params", "version"):
        assert p in paths, (p, paths)
    for path in paths:
        text, flags = check_help("cohortd", path)
        for f, (_, value) in flags.items():
            if f == "--help":
                continue
            out = run("cohortd", [path, f] + (["1"] if value else []), timeout=10)
            if out is not None:
                assert "unknown option" not in out.stderr, (path, f, out.stderr)
        out = run("cohortd", [path, "--no-such-flag", "1"])
        assert out.returncode == 2 and "--help" in out.stderr, (path, out.returncode, out.stderr)
    out = run("cohortd", ["--version"])
    assert out.returncode == 0 and out.stdout.startswith("cohortd "), out
    out = run("cohortd", ["start", "--validators", "4"])  # testnet's flag, not start's
    assert out.returncode == 2 and "unknown option --validators" in out.stderr, out.stderr


def cleanup_then(tests):
    try:
        harness.run_tests(tests)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


cleanup_then([test_cohort_commands, test_cohortd_commands])
