#!/usr/bin/env python3
"""Integration (issue 9, "Executors play by themselves"): the executor
engine as a library, inside cohortd and twice in one process.

Two validators, each a cohortd with an [executor] section (enabled, its own
account key): the engine runs on a thread of each node and talks to that
node's RPC. Before the accounts are registered the engines wait (and say
so); once registered they serve. Two more executors run as one process,
`cohort-test-executor-pair` (two engines, one address space). A task with a
committee of four (both embedded executors and the pair) becomes FINAL with
the right output, every member committed and revealed from its own claim
file. Then an embedded executor plays the verification game against a
`cohort executor run --lie-from-step` liar and wins: the liar is slashed and
the honest claim is the result. cohortd refuses fault-injection keys in
[executor] and a key that does not exist, naming them; SIGTERM stops a node
with its engine cleanly.

usage: test_executor_embedded.py --bin BUILD/bin --guests BUILD/vm/guest
"""
import base64
import hashlib
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Node, make_testnet, run_tests  # noqa: E402

BIN = sys.argv[sys.argv.index("--bin") + 1]
GUESTS = sys.argv[sys.argv.index("--guests") + 1]
GENESIS = {"window_margin_blocks": 2, "reveal_blocks": 4, "exec_steps_per_block": "100000000",
           "challenge_blocks": 20, "dispute_bond": "1000000000", "dispute_move_blocks": 60,
           "liveness_jail_blocks": 5, "draw_wait_blocks": 200}
nodes = []
procs = {}


def addr(nd, name):
    return nd.cli_json("keys", "show", name)["address"]


def wait_for(pred, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def fund(name, home_node):
    a = addr(home_node, name)
    n0 = nodes[0]
    n0.cli("transfer", "--to", a, "--amount", "5000000000", "--token", "STK")
    n0.cli("transfer", "--to", a, "--amount", "100000000", "--wait")
    return a


def register(nd, name, accepting=True):
    args = ["executor", "register", "--stake", "2000000000", "--price", "1000", "--from", name]
    if not accepting:
        args = ["executor", "register", "--stake", "0", "--price", "1000", "--not-accepting",
                "--from", name]
    for _ in range(100):
        out = nd.cli(*args, check=False)
        if out.returncode == 0:
            return
        assert "jailed" in out.stderr or "pending tx" in out.stderr, out.stderr
        time.sleep(0.2)
    raise AssertionError("cannot register " + name)


def submit(text, k, windows=20):
    out = nodes[0].cli("task", "submit", "--program", os.path.join(GUESTS, "sha256.elf"),
                       "--input-text", text, "--reward", "2000000", "--committee", str(k),
                       "--max-steps", "200000000", "--mem", "32", "--commit-blocks",
                       str(windows), "--reveal-blocks", str(windows), check=False)
    for line in out.stderr.splitlines():
        if line.startswith("task ") and "submitted" in line:
            return line.split()[1]
    raise AssertionError("no task id in: %r (exit %d)" % (out.stderr, out.returncode))


def wait_status(tid, want, timeout=120):
    deadline = time.time() + timeout
    t = None
    while time.time() < deadline:
        t = nodes[0].rpc("task_get", {"task_id": tid})
        if t["status"] in want:
            return t
        time.sleep(0.2)
    raise AssertionError("task %s stuck in %s (wanted %s): %s\n--- node0:\n%s\n--- node1:\n%s" % (
        tid, t["status"], want, [(e["event"], e["detail"]) for e in t["timeline"]],
        nodes[0].tail(40), nodes[1].tail(40)))


def log_of(name):
    return open(os.path.join(nodes[0].home, name + ".log"), errors="replace").read()


def setup():
    global nodes
    nodes = make_testnet(BIN, 2, {"block_interval_ms": 150}, genesis_params=GENESIS)
    for i, nd in enumerate(nodes):
        conf = open(os.path.join(nd.home, "cohortd.conf")).read()
        # cohortd init writes the section, disabled
        assert "\n[executor]\n" in conf and "\nenabled = false\n" in conf, conf
        nd.cli("keys", "new", "emb%d" % i)
        nd.set_conf("executor", "enabled", "true")
        nd.set_conf("executor", "key", "emb%d" % i)
        nd.set_conf("executor", "poll_ms", "100")
    for nd in nodes:
        nd.start()


def test_engines_wait_for_registration_then_serve():
    for nd in nodes:
        wait_for(lambda: "waiting for its registration" in nd.since_start(),
                 "the engine of %s to wait for its registration" % nd.moniker, 30)
    for i, nd in enumerate(nodes):
        fund("emb%d" % i, nd)
        register(nd, "emb%d" % i)
    for i, nd in enumerate(nodes):
        a = addr(nd, "emb%d" % i)
        log = wait_for(lambda: "serving via" in nd.since_start() and nd.since_start(),
                       "the engine of %s to serve" % nd.moniker, 30)
        assert ("INFO  executor: %s serving via http://127.0.0.1:%d" % (a, nd.port)) in log, log
        assert "executor engine started for %s" % a in log, log


def test_embedded_and_a_pair_in_one_process_serve_to_final():
    n0 = nodes[0]
    for name in ("p0", "p1"):
        n0.cli("keys", "new", name)
        fund(name, n0)
        register(n0, name)
    state = os.path.join(n0.home, "pair-state")
    os.makedirs(state)
    log = open(os.path.join(n0.home, "pair.log"), "ab")
    procs["pair"] = subprocess.Popen(
        [os.path.join(BIN, "cohort-test-executor-pair"), "--node", n0.url, "--state", state,
         "--poll-ms", "100", os.path.join(n0.home, "keys", "p0.json"),
         os.path.join(n0.home, "keys", "p1.json")], stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: log_of("pair").count("serving via") == 2, "both engines of the pair", 30)
    text = "four seats, three processes"
    tid = submit(text, 4)
    t = wait_status(tid, ("final",))
    members = {m["executor"] for m in t["members"] if not m["replaced"]}
    want = {addr(nodes[0], "emb0"), addr(nodes[1], "emb1"), addr(n0, "p0"), addr(n0, "p1")}
    assert members == want, (members, want)
    assert all(m["committed"] and m["revealed"] for m in t["members"]), t["members"]
    assert len({m["claim"]["final_state"] for m in t["members"]}) == 1, t["members"]
    o = n0.rpc("task_output", {"task_id": tid})
    assert hashlib.sha256(text.encode()).hexdigest() in base64.b64decode(o["output_base64"]).decode()
    # each embedded engine wrote its claim where `cohort executor run` would
    for i, nd in enumerate(nodes):
        f = os.path.join(nd.home, "executor", addr(nd, "emb%d" % i), tid + ".json")
        assert os.path.exists(f), f
        assert "executor: task %s..: commitment sent to 1 of 1 node" % tid[:16] in nd.since_start()
    pl = log_of("pair")
    for i in (0, 1):
        assert os.path.exists(os.path.join(state, str(i), tid + ".json"))
        assert "pair %d: task %s..: reveal sent" % (i, tid[:16]) in pl, pl[-3000:]
    print("  task %s.. FINAL: two embedded executors (one per cohortd) and two engines of one "
          "process served its committee" % tid[:16])
    p = procs.pop("pair")
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 0, log_of("pair")[-2000:]
    assert "pair: stopped" in log_of("pair")


def test_embedded_executor_beats_a_cli_liar():
    n0 = nodes[0]
    for name in ("p0", "p1"):  # their process is gone: keep them out of the draw
        register(n0, name, accepting=False)
    n0.cli("keys", "new", "liar")
    liar = fund("liar", n0)
    register(n0, "liar")
    log = open(os.path.join(n0.home, "liar.log"), "ab")
    procs["liar"] = subprocess.Popen(
        [n0.exe("cohort"), "--node", n0.url, "--home", n0.home, "executor", "run", "--key",
         "liar", "--poll-ms", "100", "--lie-from-step", "5000"],
        stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: "serving via" in log_of("liar"), "the liar to serve", 30)
    text = "honest inside the node"
    tid = submit(text, 3)
    t = wait_status(tid, ("final",), timeout=240)
    lost = [m["executor"] for m in t["members"] if m["lost"]]
    assert lost == [liar], (t["members"], [(e["event"], e["detail"]) for e in t["timeline"]])
    ends = [e for e in t["timeline"] if e["event"] == "game_end"]
    assert ends and all(e["executor"] == liar for e in ends), ends
    honest = {addr(nodes[0], "emb0"), addr(nodes[1], "emb1")}
    winners = [m for m in t["members"] if not m["lost"] and not m["replaced"]]
    assert {m["executor"] for m in winners} == honest, t["members"]
    assert all(m["claim"]["final_state"] == t["result"]["final_state"] for m in winners)
    o = n0.rpc("task_output", {"task_id": tid})
    assert hashlib.sha256(text.encode()).hexdigest() in base64.b64decode(o["output_base64"]).decode()
    assert "LYING from step 5000" in log_of("liar")
    # the moves of the honest side came from inside a cohortd
    played = [nd for nd in nodes if "executor: task %s..: verification game: sent" % tid[:16]
              in nd.since_start()]
    assert played, (nodes[0].tail(60), nodes[1].tail(60))
    moves = [e for e in t["timeline"] if e["event"] == "move"]
    print("  the liar lost %d game(s) after %d moves, played by the engine inside %s" % (
        len(ends), len(moves), " and ".join(nd.moniker for nd in played)))
    p = procs.pop("liar")
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=20)


def test_cohortd_refuses_fault_injection_keys_and_a_missing_key():
    nd = Node(BIN)
    try:
        for key, value, needle in (("byzantine", "1", "unknown setting [executor] byzantine"),
                                   ("lie_from_step", "5000",
                                    "unknown setting [executor] lie_from_step"),
                                   ("silent_in_games", "true",
                                    "unknown setting [executor] silent_in_games")):
            conf = os.path.join(nd.home, "cohortd.conf")
            orig = open(conf).read()
            nd.set_conf("executor", key, value)
            out = subprocess.run([nd.exe("cohortd"), "start", "--home", nd.home],
                                 capture_output=True, text=True, timeout=30)
            assert out.returncode != 0 and needle in out.stderr and "line " in out.stderr, \
                out.stderr
            open(conf, "w").write(orig)
        nd.set_conf("executor", "enabled", "true")
        out = subprocess.run([nd.exe("cohortd"), "start", "--home", nd.home],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode != 0 and "[executor] enabled = true needs key" in out.stderr, \
            out.stderr
        nd.set_conf("executor", "key", "nobody")
        out = subprocess.run([nd.exe("cohortd"), "start", "--home", nd.home],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode != 0 and "[executor] key = nobody: there is no" in out.stderr, \
            out.stderr
    finally:
        nd.cleanup()


def test_sigterm_stops_node_and_engine_cleanly():
    for nd in nodes:
        t0 = time.time()
        rc = nd.stop()
        assert rc == 0, (rc, nd.tail(30))
        log = nd.since_start()
        assert "executor: stopping" in log and "executor engine stopped" in log, log[-3000:]
        assert "stopped cleanly at height" in log, log[-3000:]
        print("  %s stopped with its engine in %.1f s" % (nd.moniker, time.time() - t0))


def teardown():
    for p in procs.values():
        if p.poll() is None:
            p.kill()
            p.wait()
    for nd in nodes:
        nd.cleanup()


if __name__ == "__main__":
    setup()
    try:
        run_tests([test_engines_wait_for_registration_then_serve,
                   test_embedded_and_a_pair_in_one_process_serve_to_final,
                   test_embedded_executor_beats_a_cli_liar,
                   test_cohortd_refuses_fault_injection_keys_and_a_missing_key,
                   test_sigterm_stops_node_and_engine_cleanly])
    finally:
        teardown()
