#!/usr/bin/env python3
"""review2: `cohort executor run` re-registers a jailed executor with its
per-seat price reset to 0.

ATTACK 4 — make an honest executor work seats below its declared price.
After a missed window (one outage: a crash, a network cut, or an attacker
keeping its RPC node busy) the executor is jailed; once the jail has passed
the runner re-registers it by itself (cli/cli_executor.c) with a
MsgRegisterExecutor that carries price_per_msteps and accepting but NOT
price_per_task. RegisterExecutor sets every price from the message
(state/market/market_executor.c), so the executor's per-seat price becomes 0
without its operator doing anything. A customer that watches the chain can
then submit tasks whose reward covers only the per-step price and get this
executor's seats for what docs/tasks.md rule 5 says they cannot ("a customer
cannot hold seats for nothing unless the executor asks for nothing").

The test registers exec1 with --price-per-task 5000, lets it miss a commit
window (no runner), starts the runner once the jail has passed, waits for its
automatic re-registration and checks that price_per_task is still 5000.

usage: test_review2_runner.py --bin BUILD/bin --guests BUILD/vm/guest
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Node, run_tests  # noqa: E402

BIN = sys.argv[sys.argv.index("--bin") + 1]
GUESTS = sys.argv[sys.argv.index("--guests") + 1]
node = None
procs = []


def addr(name):
    return node.cli_json("keys", "show", name)["address"]


def setup():
    global node
    node = Node(BIN, {"block_interval_ms": 150},
                genesis_params={"window_margin_blocks": 2, "reveal_blocks": 4,
                                "exec_steps_per_block": "100000000", "liveness_jail_blocks": 5,
                                "draw_wait_blocks": 200})
    node.start()
    node.cli("keys", "new", "exec1")
    a = addr("exec1")
    node.cli("transfer", "--to", a, "--amount", "5000000000", "--token", "STK")
    node.cli("transfer", "--to", a, "--amount", "100000000", "--wait")
    node.cli("executor", "register", "--stake", "2000000000", "--price", "1000",
             "--price-per-task", "5000", "--capacity", "2", "--from", "exec1")


def wait_for(pred, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def test_runner_reregistration_keeps_the_per_task_price():
    a = addr("exec1")
    e = wait_for(lambda: node.rpc("executor_get", {"address": a}), "the registration")
    assert e["price_per_task"] == "5000", e
    # a seat the executor misses (no runner yet): slashed and jailed
    out = node.cli("task", "submit", "--program", os.path.join(GUESTS, "sha256.elf"),
                   "--input-text", "missed", "--reward", "2000000", "--committee", "1",
                   "--max-steps", "200000000", "--mem", "32", "--commit-blocks", "5",
                   check=False)
    tid = None
    for line in out.stderr.splitlines():
        if line.startswith("task ") and "submitted" in line:
            tid = line.split()[1]
    assert tid, out.stderr
    wait_for(lambda: any(ev["event"] == "no_show"
                         for ev in node.rpc("task_get", {"task_id": tid})["timeline"]),
             "the no-show")
    e = node.rpc("executor_get", {"address": a})
    assert int(e["jailed_until"]) > 0, e
    # the operator brings the runner back; it leaves the jail by itself
    log = open(os.path.join(node.home, "exec1.log"), "ab")
    procs.append(subprocess.Popen(
        [node.exe("cohort"), "--home", node.home, "executor", "run", "--key", "exec1",
         "--node", node.url, "--poll-ms", "100"], stdout=log, stderr=subprocess.STDOUT))
    e = wait_for(lambda: (lambda x: x if int(x["jailed_until"]) == 0 and x["accepting"] else None)(
        node.rpc("executor_get", {"address": a})), "the runner's re-registration", 90)
    assert e["price_per_task"] == "5000", \
        "the runner's re-registration reset the per-seat price to %s: %s" % (e["price_per_task"], e)


def teardown():
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    node.cleanup()


if __name__ == "__main__":
    setup()
    try:
        run_tests([test_runner_reregistration_keeps_the_per_task_price])
    finally:
        teardown()
