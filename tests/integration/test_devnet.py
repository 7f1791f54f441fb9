#!/usr/bin/env python3
"""`make devnet` as a newcomer sees it: scripts/devnet.sh run by make (a
Makefile of one rule, as the real one runs it), on a home and ports of its
own, through its demo; then Ctrl-C (SIGINT to the whole process group, as a
terminal sends it). Checks that the demo names its executors and explains
the chunk outputs, that Ctrl-C stops the node and every executor and that
make reports no error ("make: *** ... Error 130" before).

usage: test_devnet.py --bin BUILD/bin --src SOURCE_DIR
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--src", required=True)
args = ap.parse_args()


def pids_using(home):
    """Processes whose command line names the devnet home (cohortd, executors)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % d, "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if home in cmd and ("cohortd" in cmd or "cohort " in cmd):
            found.append((int(d), cmd))
    return found


def guide_block(text, marker):
    lines = text.splitlines()
    i = lines.index(marker)
    assert lines[i + 1].strip() == "```sh", "the guide marker must be followed by a ```sh block"
    k = lines.index("```", i + 2)
    return "\n".join(lines[i + 2:k]) + "\n"


def guide_executor_delegation(work, env):
    """docs/staking.md §8's guide, pasted against the running devnet: carol
    delegates to exec1, a task pays exec1 and her share shows as a pending
    reward, withdrawn; her undelegation is listed."""
    script = guide_block(open(os.path.join(args.src, "docs", "staking.md")).read(),
                         "<!-- guide:delegating-executors -->")
    os.symlink(os.path.dirname(os.path.abspath(args.bin)), os.path.join(work, "build"))
    out = subprocess.run(["bash", "-e"], input=script, capture_output=True, text=True, cwd=work,
                         env=env, timeout=300)
    assert out.returncode == 0, (out.stdout[-3000:], out.stderr[-3000:])
    assert "to executors 1" in out.stdout, out.stdout
    m = re.search(r"to executors 1, worth .*\n\s+coh1\S+\s+\S+ STK \(\d+ base units\)\s+"
                  r"reward \S+ CRD \((\d+) base units\)", out.stdout)
    assert m and int(m.group(1)) > 0, out.stdout
    assert "from executor coh1" in out.stdout, out.stdout
    print("  staking.md §8 guide: carol's pending reward from exec1's pay was %s base units" %
          m.group(1))


def test_devnet_demo_and_ctrl_c():
    work = tempfile.mkdtemp(prefix="cohort_devnet_")
    home = os.path.join(work, "devnet")
    mk = os.path.join(work, "Makefile")
    open(mk, "w").write("devnet:\n\t@exec bash %s\n" % os.path.join(args.src, "scripts", "devnet.sh"))
    env = dict(os.environ, DEVNET_HOME=home, BIN=os.path.abspath(args.bin),
               DEVNET_RPC="127.0.0.1:%d" % harness.free_port(),
               DEVNET_P2P="127.0.0.1:%d" % harness.free_port())
    p = subprocess.Popen(["make", "-f", mk, "devnet"], cwd=work, env=env, start_new_session=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    try:
        deadline = time.time() + 400
        for line in p.stdout:
            out.append(line)
            if "Following the log" in line or time.time() > deadline:
                break
        text = "".join(out)
        assert "Following the log" in text, "the demo did not finish:\n" + text[-4000:]
        guide_executor_delegation(work, env)
        time.sleep(1)
        os.killpg(p.pid, signal.SIGINT)  # Ctrl-C
        rest, _ = p.communicate(timeout=60)
        text += rest
        assert "devnet stopped cleanly" in rest, rest
        assert "make:" not in rest, "make reported an error:\n" + rest
        for i in (1, 2, 3):
            assert ("exec%d (coh1" % i) in text, text[-4000:]
        assert "executor coh1" in text and "registered at height" in text, text[-4000:]
        assert "wc prints lines, words, bytes" in text, text[-4000:]
        assert "== readme-part-00" in text, text[-4000:]
        assert "drawing: 0/0" not in text, text
        # the governance demo: a passed change in force
        assert "applied      in force from height" in text, text[-4000:]
        assert re.search(r"min_fee\s+2000\s+\d+\s", text), text[-4000:]
        # the staking demo: alice's delegation earned a reward, then withdrew it
        m = re.search(r"rewards\s+\d+\.\d+ CRD \((\d+) base units\) to withdraw", text)
        assert m and int(m.group(1)) > 0, text[-4000:]
        m = re.search(r"rewards withdrawn \(\S+ CRD \((\d+) base units\) pending\): committed at "
                      r"height", text)
        assert m and int(m.group(1)) > 0, text[-4000:]
        time.sleep(1)
        left = pids_using(home)
        assert not left, "still running after Ctrl-C: %s" % left
        log = open(os.path.join(home, "cohortd.log")).read()
        assert "stopped cleanly" in log, log[-2000:]
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid, _ in pids_using(home):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(work, ignore_errors=True)


harness.run_tests([test_devnet_demo_and_ctrl_c])
