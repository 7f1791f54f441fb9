#!/usr/bin/env python3
"""bench/dispute/bench_game_e2e.py — a verification game end to end on a
local devnet: for sieve tasks of about 10^6, 10^7 and 10^8 steps (10^9 with
--big), a committee of three where one executor lies from a step in the
middle of the run (`cohort executor run --lie-from-step N`, test chains
only), the time and blocks from the disagreement (the task becomes
DISPUTED) to the end of the game (the honest claim AGREED) and to FINAL
(after the challenge window), the moves played, and what the liar lost.
Prints figures; never fails on time.

usage: bench_game_e2e.py BUILD_DIR [--big] [--block-ms MS]
"""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
from harness import Node  # noqa: E402

BUILD = sys.argv[1]
BIG = "--big" in sys.argv
BLOCK_MS = int(sys.argv[sys.argv.index("--block-ms") + 1]) if "--block-ms" in sys.argv else 250
GUESTS = os.path.join(BUILD, "vm", "guest")
SIEVE = os.path.join(GUESTS, "sieve.elf")
VM = os.path.join(BUILD, "vm", "cohort-vm")

node = Node(os.path.join(BUILD, "bin"), {"block_interval_ms": BLOCK_MS, "log_level": "warn"},
            genesis_params={"challenge_blocks": 5, "reveal_blocks": 10})
node.start()
procs = {}


def start_exec(name, *extra):
    log = open(os.path.join(node.home, name + ".log"), "ab")
    procs[name] = subprocess.Popen([node.exe("cohort"), "--node", node.url, "--home", node.home,
                                    "executor", "run", "--key", name, "--poll-ms", "100"] + list(extra),
                                   stdout=log, stderr=subprocess.STDOUT)


def stop_exec(name):
    p = procs.pop(name, None)
    if p:
        p.terminate()
        p.wait(timeout=30)


def addr(name):
    return node.cli_json("keys", "show", name)["address"]


def steps_of(n):
    inp = os.path.join(node.home, "sieve-%d.in" % n)
    open(inp, "w").write(str(n))
    out = subprocess.run([VM, "run", SIEVE, "--input", inp, "--max-steps", "100000000000",
                          "--mem", "256"], capture_output=True, text=True)
    return inp, int(re.search(r"steps: (\d+)", out.stdout + out.stderr).group(1))


try:
    names = ("e1", "e2", "liar")
    for name in names:
        node.cli("keys", "new", name)
        a = addr(name)
        node.cli("transfer", "--to", a, "--amount", "5000000000", "--token", "STK")
        node.cli("transfer", "--to", a, "--amount", "1000000000", "--wait")
        node.cli("executor", "register", "--stake", "2000000000", "--price", "1", "--from", name)
    start_exec("e1")
    start_exec("e2")
    print("bench_game_e2e: sieve tasks, committee of 3 with one liar, block_interval_ms=%d, "
          "arity %s" % (BLOCK_MS, node.rpc("status").get("params", {}).get("dispute_arity", "?")))
    print("  %-12s %6s %6s %8s %8s %9s %9s %7s  %s" % ("task", "rounds", "moves", "dis->agr",
                                                        "blocks", "dis->fin", "lie step",
                                                        "slashed", "liar's stake"))
    sizes = [50000, 500000, 5000000] + ([50000000] if BIG else [])
    for n in sizes:
        inp, steps = steps_of(n)
        lie = steps // 3
        stop_exec("liar")
        start_exec("liar", "--lie-from-step", str(lie))
        liar = addr("liar")
        stake0 = int(node.rpc("executor_get", {"address": liar})["stake"])
        run_blocks = steps // 2000000 + 20
        out = node.cli("task", "submit", "--program", SIEVE, "--input", inp, "--reward", "100000000",
                       "--committee", "3", "--max-steps", str(steps + 1000), "--mem", "64",
                       "--commit-blocks", str(run_blocks), "--reveal-blocks", "10", check=False)
        ids = [ln.split()[1] for ln in out.stderr.splitlines()
               if ln.startswith("task ") and "submitted" in ln]
        if not ids:
            print("  submit failed: %s" % out.stderr.strip()[-500:])
            continue
        tid = ids[0]
        t_dis = h_dis = t_agr = h_agr = None
        deadline = time.time() + 1800
        t = None
        while time.time() < deadline:
            t = node.rpc("task_get", {"task_id": tid})
            if t_dis is None and t["status"] == "disputed":
                t_dis, h_dis = time.time(), node.rpc("status")["latest_height"]
            if t_dis is not None and t_agr is None and t["status"] in ("agreed", "final"):
                t_agr, h_agr = time.time(), node.rpc("status")["latest_height"]
            if t["status"] in ("final", "expired"):
                break
            time.sleep(0.05)
        t_fin = time.time()
        moves = sum(1 for e in t["timeline"] if e["event"] == "move")
        rounds = sum(1 for e in t["timeline"] if e["event"] == "move" and e["a"] == 1)  # bisects
        stake1 = int(node.rpc("executor_get", {"address": liar})["stake"])
        lost = [m["executor"] for m in t["members"] if m["lost"]]
        if t["status"] != "final" or t_dis is None or lost != [liar]:
            print("  %-12s did not end as expected: status %s, lost %s" % ("%.1e" % steps, t["status"], lost))
            continue
        print("  %-12s %6s %6d %7.1fs %8d %8.1fs %9d %7.1f%%  %d -> %d" % (
            "%.2e steps" % steps, rounds, moves, t_agr - t_dis, h_agr - h_dis, t_fin - t_dis,
            lie, 100.0 * (stake0 - stake1) / stake0, stake0, stake1))
finally:
    for p in list(procs):
        stop_exec(p)
    node.cleanup()
