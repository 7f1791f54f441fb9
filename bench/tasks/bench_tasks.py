#!/usr/bin/env python3
"""bench/tasks/bench_tasks.py — the compute market on a local devnet:
tasks finalized per minute with small programs, submit-to-agreed latency
p50/p99, and the executor's overhead against `cohort-vm run` on the same ELF
and input. Prints figures; never fails on time.

usage: bench_tasks.py BUILD_DIR [--tasks N] [--executors K]
"""
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
import cohort_client as cc  # noqa: E402
from harness import Node  # noqa: E402

BUILD = sys.argv[1]
N = int(sys.argv[sys.argv.index("--tasks") + 1]) if "--tasks" in sys.argv else 60
K = int(sys.argv[sys.argv.index("--executors") + 1]) if "--executors" in sys.argv else 3
GUESTS = os.path.join(BUILD, "vm", "guest")

node = Node(os.path.join(BUILD, "bin"), {"block_interval_ms": 250, "log_level": "warn"})
node.start()
procs = []
try:
    for i in range(K):
        name = "w%d" % i
        node.cli("keys", "new", name)
        a = node.cli_json("keys", "show", name)["address"]
        node.cli("transfer", "--to", a, "--amount", "5000000000", "--token", "STK")
        node.cli("transfer", "--to", a, "--amount", "100000000", "--wait")
        node.cli("executor", "register", "--stake", "2000000000", "--price", "1000", "--from", name)
        log = open(os.path.join(node.home, name + ".log"), "ab")
        procs.append(subprocess.Popen([node.exe("cohort"), "--node", node.url, "--home", node.home,
                                       "executor", "run", "--key", name, "--capacity", "4",
                                       "--poll-ms", "100"], stdout=log, stderr=subprocess.STDOUT))
    sha = os.path.join(GUESTS, "sha256.elf")
    prog = node.cli("program", "upload", sha).stdout.split()[1]
    st = node.rpc("status")
    # 1. throughput and latency: N small tasks submitted at once
    nonce = node.rpc("account", {"address": node.dev_addr})["next_nonce"]
    submits = []
    t_start = time.time()
    for i in range(N):
        msg = (cc.pb_bytes(1, bytes.fromhex(prog)) + cc.pb_bytes(2, b"bench input %d" % i) +
               cc.pb_uint(4, 10000000) + cc.pb_uint(5, 16) + cc.pb_uint(6, 3) + cc.pb_uint(7, 1000000))
        body = (cc.pb_uint(1, nonce + i) + cc.pb_uint(2, 1000) + cc._varint(16 << 3 | 2) +
                cc._varint(len(msg)) + msg)
        tx = cc.make_tx(node.dev_sec, st["chain_id"], body)
        node.rpc("broadcast_tx", {"tx": tx.hex()})
        submits.append((cc.tx_hash(tx), time.time()))
    done = {}
    deadline = time.time() + 600
    while len(done) < N and time.time() < deadline:
        for tid, t0 in submits:
            if tid in done:
                continue
            try:
                t = node.rpc("task_get", {"task_id": tid})
            except cc.RpcError:
                continue
            if t["status"] in ("agreed", "final", "disputed", "expired"):
                done[tid] = (time.time() - t0, t["status"])
        time.sleep(0.05)
    elapsed = time.time() - t_start
    lat = sorted(v[0] for v in done.values())
    agreed = sum(1 for v in done.values() if v[1] in ("agreed", "final"))
    print("bench_tasks: %d sha256 tasks (committee 3) on %d executors, block_interval_ms=250" % (N, K))
    print("  agreed               %d of %d in %.1f s -> %.0f tasks/minute" % (agreed, N, elapsed, agreed * 60 / elapsed))
    if lat:
        print("  submit->agreed       p50 %.2f s, p99 %.2f s" % (lat[len(lat) // 2], lat[min(len(lat) - 1, len(lat) * 99 // 100)]))
    # 2. executor overhead on a task of a few seconds
    sieve = os.path.join(GUESTS, "sieve.elf")
    n_in = os.environ.get("BENCH_SIEVE_N", "50000000")
    inp = os.path.join(node.home, "sieve.in")
    open(inp, "w").write(n_in)
    t0 = time.time()
    vm = subprocess.run([os.path.join(BUILD, "vm", "cohort-vm"), "run", sieve, "--input", inp,
                         "--max-steps", "100000000000", "--mem", "256"], capture_output=True, text=True)
    vm_secs = time.time() - t0
    steps = int(re.search(r"steps: (\d+)", vm.stdout + vm.stderr).group(1))
    out = node.cli("task", "submit", "--program", sieve, "--input", inp, "--reward", "100000000",
                   "--committee", "1", "--max-steps", str(steps + 1000), "--mem", "256", "--wait")
    logs = "".join(open(os.path.join(node.home, "w%d.log" % i)).read() for i in range(K))
    m = [float(x) for x in re.findall(r"after %d steps in ([0-9.]+) s" % steps, logs)]
    ex = min(m) if m else float("nan")
    print("  executor overhead    sieve(%s): %d steps; cohort-vm run %.2f s, executor %.2f s "
          "(run + state hash + output proof) -> %+.1f%%" % (n_in, steps, vm_secs, ex, 100 * (ex - vm_secs) / vm_secs))
finally:
    for p in procs:
        p.terminate()
        p.wait()
    node.cleanup()
