#!/usr/bin/env python3
"""Four validators on this machine under load (issue 8's benchmark).

Starts a four-validator chain on loopback (tests/integration/harness.py),
drives it with bench_load (transfers carrying their submit time, sent to
all four nodes) for --duration seconds at --rate tx/s, and prints
bench_load's figures plus each node's peak RSS. Prints figures; never
fails on time.

usage: bench_net.py BUILD_DIR [--rate 1500] [--duration 60] [--block-interval 250]
"""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import harness  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("build")
ap.add_argument("--rate", type=float, default=1500)
ap.add_argument("--duration", type=float, default=60)
ap.add_argument("--senders", type=int, default=32)
ap.add_argument("--block-interval", type=int, default=250)
a = ap.parse_args()

conf = {"block_interval_ms": a.block_interval, "log_level": "warn", "max_txs": 200000}
nodes = harness.make_testnet(os.path.join(a.build, "bin"), 4, conf)
try:
    for n in nodes:
        n.start()
    time.sleep(1)
    urls = ",".join(n.url for n in nodes)
    out = subprocess.run([os.path.join(a.build, "bench", "net", "bench_load"), "--nodes", urls,
                          "--key", nodes[0].dev_key, "--senders", str(a.senders), "--rate",
                          str(a.rate), "--duration", str(a.duration)], capture_output=True,
                         text=True)
    print(out.stdout, end="")
    if out.returncode or not out.stdout:
        print("bench_load exited %d: %s" % (out.returncode, out.stderr), end="")
    rss = []
    for n in nodes:
        for line in open("/proc/%d/status" % n.proc.pid):
            if line.startswith("VmHWM:"):
                rss.append(int(line.split()[1]) // 1024)
    print("  peak RSS per node    %s MiB (4 validators on %d cores)" % (rss, os.cpu_count()))
finally:
    for n in nodes:
        n.cleanup()
