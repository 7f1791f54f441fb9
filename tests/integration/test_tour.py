#!/usr/bin/env python3
"""The README's five-minute tour, run as a newcomer would paste it.

Extracts every ```sh block that follows a `<!-- tour -->` line in README.md,
verbatim, and runs it with `bash -e` from a scratch directory that looks like
the top of the repository (`build` -> this build tree, a copy of README.md).
The tour keeps its home and RPC address in TOUR_HOME and TOUR_RPC (defaults
/tmp/tour and 127.0.0.1:27700): the test sets them to a temp directory and a
free port, so it never touches /tmp/tour and runs beside other tests. Any
step that fails, any placeholder left in the text (`<hash>`), or a step
whose output is wrong fails the test. Every process the tour starts is in
the test's own process group and is killed at the end.

usage: test_tour.py --bin BUILD/bin --src SOURCE_DIR
"""
import argparse
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--src", required=True)
args = ap.parse_args()
BUILD = os.path.dirname(os.path.abspath(args.bin))
README = os.path.join(args.src, "README.md")


def tour_blocks(text):
    """The ```sh blocks right after a <!-- tour --> marker, in order."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "<!-- tour -->":
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            assert j < len(lines) and lines[j].strip() == "```sh", \
                "README.md line %d: a <!-- tour --> marker must be followed by a ```sh block" % (i + 1)
            k = j + 1
            while k < len(lines) and lines[k].strip() != "```":
                k += 1
            assert k < len(lines), "README.md line %d: the tour block is not closed" % (j + 1)
            blocks.append("\n".join(lines[j + 1:k]) + "\n")
            i = k
        i += 1
    return blocks


def test_tour_is_pasteable_text():
    blocks = tour_blocks(open(README).read())
    assert blocks, "no <!-- tour --> block in README.md"
    script = "".join(blocks)
    # a placeholder like `cohort tx <hash printed by step 4>` is a shell syntax error
    bad = re.findall(r"<[A-Za-z][^>\n]*>", script)
    assert not bad, "placeholders in the tour (paste them and the shell fails): %s" % bad
    out = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert out.returncode == 0, "the tour is not valid shell:\n" + out.stderr


def test_tour_runs():
    script = "".join(tour_blocks(open(README).read()))
    work = tempfile.mkdtemp(prefix="cohort_tour_")
    home = os.path.join(work, "tourhome")
    try:
        os.symlink(BUILD, os.path.join(work, "build"))
        shutil.copy(README, os.path.join(work, "README.md"))
        env = dict(os.environ)
        for k in ("COHORT_HOME", "COHORT_NODE"):
            env.pop(k, None)
        env["TOUR_HOME"] = home
        env["TOUR_RPC"] = "127.0.0.1:%d" % harness.free_port()
        p = subprocess.Popen(["bash", "-e"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=work, env=env,
                             start_new_session=True)
        try:
            out, err = p.communicate(script, timeout=400)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            raise AssertionError("the tour did not finish within 400 s:\n%s\n%s" % (out[-3000:],
                                                                                  err[-3000:]))
        finally:
            try:  # whatever the tour left running (it should leave nothing)
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log = ""
        try:
            log = open(os.path.join(home, "cohortd.log")).read()
        except OSError:
            pass
        both = "--- stdout:\n%s\n--- stderr:\n%s\n--- cohortd.log (end):\n%s" % (
            out[-4000:], err[-4000:], log[-2000:])
        assert p.returncode == 0, "the tour failed (exit %d)\n%s" % (p.returncode, both)
        hello = hashlib.sha256(b"hello").hexdigest()
        assert out.count(hello) >= 2, "simulate and the task should print sha256(hello)\n" + both
        assert "0.250000 STK (250000 base units)" in out, "tx/account amounts\n" + both
        assert "5.000000 CRD (5000000 base units)" in out, "bob's CRD\n" + both
        assert "== part-00" in out and "== part-03" in out, "the job's chunks\n" + both
        assert "stopped cleanly" in log, "the node's last stop was not clean\n" + both
        assert "cohort_height" in out, both
    finally:
        shutil.rmtree(work, ignore_errors=True)


harness.run_tests([test_tour_is_pasteable_text, test_tour_runs])
