#!/usr/bin/env python3
"""Issue 12, "a newcomer finds nothing to guess": what the CLI tells people.

One cohortd, one executor (`cohort executor run`), the CLI as a user types
it. Amounts are shown one way everywhere (tokens and base units), --json
keeps base-unit strings; task get, job get, executor show/list and supply
are formatted for people; a missing key names the home searched and how to
choose another; the node-down message names the URL once and an HTML answer
is not copied; the simulate hint counts price_per_task and says what to do
with too few executors; task list takes every status it shows; job get's
"not found" says what a job ID is; a program's non-zero exit code is
explained. The executor runner counts the nodes that took its commitment,
refuses a node of another chain, and logs one line (not one per poll) when
no node answers, backing off.

usage: test_newcomer.py --bin BUILD/bin --guests BUILD/vm/guest
"""
import http.server
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Node, run_tests  # noqa: E402

BIN = sys.argv[sys.argv.index("--bin") + 1]
GUESTS = sys.argv[sys.argv.index("--guests") + 1]
node = None
procs = {}


def start_exec(name, *nodes, log_name=None):
    log = open(os.path.join(node.home, (log_name or name) + ".log"), "ab")
    urls = []
    for u in nodes or (node.url,):
        urls += ["--node", u]
    procs[log_name or name] = subprocess.Popen(
        [node.exe("cohort"), "--home", node.home, "executor", "run", "--key", name,
         "--poll-ms", "100"] + urls, stdout=log, stderr=subprocess.STDOUT)


def stop_exec(name):
    p = procs.pop(name, None)
    if p and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)


def exec_log(name):
    return open(os.path.join(node.home, name + ".log"), errors="replace").read()


def wait_for(pred, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def setup():
    global node
    node = Node(BIN, {"block_interval_ms": 150},
                genesis_params={"window_margin_blocks": 2, "reveal_blocks": 4,
                                "exec_steps_per_block": "100000000", "challenge_blocks": 2})
    node.start()
    node.cli("keys", "new", "w1")
    a = node.cli("keys", "show", "w1", "-a").stdout.strip()
    assert a.startswith("coh1") and "\n" not in a, a
    node.cli("transfer", "--to", a, "--amount", "5000000000", "--token", "STK")
    node.cli("transfer", "--to", a, "--amount", "100000000", "--wait")
    out = node.cli("executor", "register", "--stake", "2000000000", "--price", "1000",
                   "--price-per-task", "5000", "--from", "w1")
    # the confirmation names the executor (devnet's "register committed at height 4" did not)
    assert ("executor %s registered at height" % a) in out.stdout, out.stdout
    node.w1 = a


def test_amounts_one_format():
    h = node.cli("transfer", "--to", node.w1, "--amount", "250000", "--token", "STK", "--wait",
                 "-q").stdout.strip()
    assert len(h) == 64, h  # -q: the hash alone
    tx = node.cli("tx", h).stdout
    assert "0.250000 STK (250000 base units)" in tx, tx
    assert "fee      0.00" in tx and "CRD (" in tx, tx
    height = node.cli_json("tx", h)["height"]
    blk = node.cli("block", str(height)).stdout
    assert "0.250000 STK (250000 base units) -> " + node.w1 in blk, blk
    acct = node.cli("account", "w1").stdout
    assert "STK (" in acct and "base units)" in acct, acct
    sup = node.cli("supply").stdout
    assert sup.startswith("CRD      ") and "CRD (" in sup and "STK (" in sup, sup
    js = node.cli_json("supply")
    assert isinstance(js["crd"], str) and js["crd"].isdigit(), js  # --json: base-unit strings
    js = node.cli_json("tx", h)
    assert js["tx"]["msg"]["amount"] == "250000", js


def test_executor_show_and_list_for_people():
    out = node.cli("executor", "show", "w1").stdout
    assert not out.lstrip().startswith("{"), out
    assert "capacity     2 seats at once" in out, out  # the default capacity, 2
    assert "2000.000000 STK (2000000000 base units)" in out, out
    assert "0.005000 CRD (5000 base units) per seat" in out, out
    out = node.cli("executor", "list").stdout
    assert not out.lstrip().startswith("{") and node.w1 in out and "1 executor" in out, out
    assert node.cli_json("executor", "show", "w1")["stake"] == "2000000000"


def test_simulate_hint():
    prog = os.path.join(GUESTS, "sha256.elf")
    r = node.cli_json("simulate", "--program", prog, "--input-text", "hello", "--committee", "1")
    steps = r["suggested_max_steps"]
    # the seat cost is price_per_task + ceil(price * steps / 10^6), k times
    assert r["reward_needed"] == str(5000 + math.ceil(1000 * steps / 1e6)), r
    out = node.cli("simulate", "--program", prog, "--input-text", "hello")  # committee 3
    assert "only 1 executor accepts work" in out.stderr and "--committee 1" in out.stderr, out.stderr


def test_missing_key_names_the_home():
    out = node.cli("--home", "/nonexistent/home", "account", check=False)
    assert out.returncode == 2, out
    e = out.stderr
    assert "/nonexistent/home" in e and "does not exist" in e and "--home" in e and \
        "COHORT_HOME" in e, e
    env = dict(os.environ, COHORT_HOME=node.home + "/nope")
    out = subprocess.run([node.exe("cohort"), "--node", node.url, "account", "bob"],
                         capture_output=True, text=True, env=env)
    assert "chosen by $COHORT_HOME" in out.stderr, out.stderr


def test_node_down_and_html():
    url = "http://127.0.0.1:%d" % harness.free_port()
    out = subprocess.run([node.exe("cohort"), "--node", url, "status"], capture_output=True,
                         text=True)
    assert out.returncode == 1 and out.stderr.count(url) == 1, out.stderr

    class Html(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
            self.send_response(502)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        out = subprocess.run([node.exe("cohort"), "--node", "127.0.0.1:%d" % srv.server_port,
                              "status"], capture_output=True, text=True)
        assert out.returncode == 1 and "<html" not in out.stderr and "HTML page" in out.stderr, \
            out.stderr
    finally:
        srv.shutdown()


def test_task_and_job_for_people():
    start_exec("w1")
    wc = os.path.join(GUESTS, "wc.elf")
    out = node.cli("task", "submit", "--program", wc, "--input-text", "one two three",
                   "--reward", "2000000", "--committee", "1", "--max-steps", "1000000",
                   "--mem", "16", "--wait")
    assert out.stdout.strip() == "0 3 13", out.stdout
    assert "result: exited (code 3)" in out.stderr, out.stderr
    assert "exit code 3 is the program's own return value" in out.stderr, out.stderr
    assert "drawing: 0/0" not in out.stderr, out.stderr
    tid = [ln.split()[1] for ln in out.stderr.splitlines() if ln.startswith("task ")][0]
    got = node.cli("task", "get", tid).stdout
    assert not got.lstrip().startswith("{") and "status       " in got, got
    assert "2.000000 CRD (2000000 base units) escrowed" in got and "timeline" in got, got
    assert node.cli_json("task", "get", tid)["reward"] == "2000000"
    for st in ("drawing", "committing", "revealing", "agreed", "final", "disputed", "expired"):
        node.cli("task", "list", "--status", st)  # every status a task shows is a filter
    out = node.cli("task", "list", "--status", "bogus", check=False)
    assert out.returncode != 0 and "drawing" in out.stderr, out.stderr
    # the executor logs how many nodes took its commitment
    log = wait_for(lambda: "commitment sent to" in exec_log("w1") and exec_log("w1"), "commit log")
    assert "commitment sent to 1 of 1 node" in log, log
    # a job, and job get for people
    d = os.path.join(node.home, "chunks")
    os.makedirs(d)
    for i, t in enumerate(("a b", "c d e")):
        open(os.path.join(d, "c%d" % i), "w").write(t)
    out = node.cli("job", "submit", "--program", wc, "--chunks", d, "--reward-per-chunk",
                   "2000000", "--committee", "1", "--max-steps", "1000000", "--mem", "16",
                   "--wait")
    assert "== c0" in out.stdout and "each chunk's output follows" in out.stderr, out
    jid = [ln.split()[1] for ln in out.stderr.splitlines() if ln.startswith("job ")][0]
    got = node.cli("job", "get", jid).stdout
    assert not got.lstrip().startswith("{") and "2: 2 done, 0 failed" in got, got
    out = node.cli("job", "get", "0" * 64, check=False)
    assert out.returncode == 1 and "cohort job submit" in out.stderr and \
        "tx's hash" not in out.stderr, out.stderr
    stop_exec("w1")


def test_runner_counts_nodes_and_checks_genesis():
    # a second --node that is down: the commitment goes to 1 of 2
    down = "http://127.0.0.1:%d" % harness.free_port()
    start_exec("w1", node.url, down, log_name="w1b")
    out = node.cli("task", "submit", "--program", os.path.join(GUESTS, "sha256.elf"),
                   "--input-text", "x", "--reward", "2000000", "--committee", "1",
                   "--max-steps", "1000000", "--mem", "16", "--wait")
    log = wait_for(lambda: "commitment sent to" in exec_log("w1b") and exec_log("w1b"), "commit")
    assert "commitment sent to 1 of 2 nodes" in log, log
    stop_exec("w1b")
    # a node of another chain is refused at start
    other = Node(BIN)
    try:
        g = os.path.join(other.home, "config", "genesis.json")
        gj = json.load(open(g))
        gj["chain_id"] = "another-chain-1"
        json.dump(gj, open(g, "w"))
        other.start()
        out = subprocess.run([node.exe("cohort"), "--home", node.home, "executor", "run", "--key",
                              "w1", "--node", node.url, "--node", other.url],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 1 and "does not serve the chain" in out.stderr, out.stderr
    finally:
        other.cleanup()


def test_runner_backs_off_when_nodes_are_down():
    # nobody answers at start: one line, not one per try
    down = "http://127.0.0.1:%d" % harness.free_port()
    p = subprocess.Popen([node.exe("cohort"), "--home", node.home, "executor", "run", "--key",
                          "w1", "--node", down], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    time.sleep(6)
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=20)
    assert out.count("cannot reach") == 1 and "backing off" in out, out
    # the node goes away while the runner serves: one line, then one when it is back
    start_exec("w1", log_name="w1c")
    wait_for(lambda: "serving via" in exec_log("w1c"), "runner start")
    node.stop()
    time.sleep(8)
    log = exec_log("w1c")
    assert log.count("no node answers") == 1, log
    assert log.count("failed:") == 0, log
    node.start()
    wait_for(lambda: "answers again" in exec_log("w1c"), "the runner to see the node", 60)
    stop_exec("w1c")


def main():
    setup()
    try:
        run_tests([test_amounts_one_format, test_executor_show_and_list_for_people,
                   test_simulate_hint, test_missing_key_names_the_home, test_node_down_and_html,
                   test_task_and_job_for_people, test_runner_counts_nodes_and_checks_genesis,
                   test_runner_backs_off_when_nodes_are_down])
    finally:
        for n in list(procs):
            try:
                stop_exec(n)
            except Exception:
                procs.pop(n, None)
        node.cleanup()


main()
