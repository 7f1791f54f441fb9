#!/usr/bin/env python3
"""Review: an executor whose commitment is lost after its node accepted it
(evicted from a full mempool by txs paying more per gas, or gone with a node
restart: the mempool is not persistent) sends it again only RESEND_S = 60 s
later (cli/cli_executor.c). Windows are counted in blocks, a block comes every
block_interval_ms (1 s by default) and the reveal window is 30 blocks by
default; a customer may also ask for a commit window as short as the run plus
window_margin_blocks. So one lost tx costs an honest executor a liveness slash
and a jail, and an attacker who can get its commit or reveal dropped once
(fill the mempool at a slightly higher fee per gas at the right moment) gets
it slashed. The runner should resend while its tx is neither pending nor
committed (ask the node by hash), well before its window closes.

Here a proxy in front of the node accepts the executor's first broadcast and
drops it, as an evicting mempool would; the commit window is 40 blocks of
150 ms (6 s). Today the executor misses it and is slashed.

usage: test_review_executor.py --bin BUILD/bin --guests BUILD/vm/guest
"""
import http.server
import json
import os
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Node, run_tests  # noqa: E402

BIN = sys.argv[sys.argv.index("--bin") + 1]
GUESTS = sys.argv[sys.argv.index("--guests") + 1]
node = None
procs = []


class DroppingNode:
    """JSON-RPC proxy to the real node that answers the first broadcast_tx
    with success and throws the tx away."""

    def __init__(self, upstream):
        outer = self
        self.upstream = upstream
        self.dropped = 0

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                out = None
                try:
                    req = json.loads(body)
                    if isinstance(req, dict) and req.get("method") == "broadcast_tx" and not outer.dropped:
                        outer.dropped += 1
                        out = json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "result": {
                            "hash": "00" * 32, "code": 0, "log": "accepted into the mempool"}}).encode()
                except Exception:
                    pass
                if out is None:
                    r = urllib.request.Request(outer.upstream, data=body,
                                               headers={"Content-Type": "application/json"})
                    out = urllib.request.urlopen(r, timeout=30).read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.srv = S(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def addr(name):
    return node.cli_json("keys", "show", name)["address"]


def setup():
    global node
    node = Node(BIN, {"block_interval_ms": 150},
                genesis_params={"window_margin_blocks": 2, "reveal_blocks": 4,
                                "liveness_jail_blocks": 5, "draw_wait_blocks": 200})
    node.start()
    node.cli("keys", "new", "exec1")
    a = addr("exec1")
    node.cli("transfer", "--to", a, "--amount", "5000000000", "--token", "STK")
    node.cli("transfer", "--to", a, "--amount", "100000000", "--wait")
    node.cli("executor", "register", "--stake", "2000000000", "--price", "1000", "--from", "exec1")


def test_lost_commit_is_sent_again_within_its_window():
    proxy = DroppingNode(node.url)
    try:
        log = open(os.path.join(node.home, "exec1.log"), "ab")
        procs.append(subprocess.Popen(
            [node.exe("cohort"), "--home", node.home, "executor", "run", "--key", "exec1",
             "--node", proxy.url, "--poll-ms", "100"], stdout=log, stderr=subprocess.STDOUT))
        out = node.cli("task", "submit", "--program", os.path.join(GUESTS, "sha256.elf"),
                       "--input-text", "lost in the mempool", "--reward", "2000000",
                       "--committee", "1", "--max-steps", "200000000", "--mem", "32",
                       "--commit-blocks", "40", "--reveal-blocks", "40", check=False)
        tid = None
        for line in out.stderr.splitlines():
            if line.startswith("task ") and "submitted" in line:
                tid = line.split()[1]
        assert tid, out.stderr
        deadline = time.time() + 90
        while time.time() < deadline:
            t = node.rpc("task_get", {"task_id": tid})
            if t["status"] in ("agreed", "final", "expired", "disputed") or \
                    any(e["event"] == "no_show" for e in t["timeline"]):
                break
            time.sleep(0.2)
        assert proxy.dropped == 1, "the proxy dropped nothing"
        e = node.rpc("executor_get", {"address": addr("exec1")})
        events = [ev["event"] for ev in t["timeline"]]
        assert "no_show" not in events and int(e["slashed_total"]) == 0, \
            "honest executor slashed after one lost commit: %s, slashed %s" % (events, e["slashed_total"])
        assert t["status"] in ("agreed", "final"), t
    finally:
        proxy.close()


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
        run_tests([test_lost_commit_is_sent_again_within_its_window])
    finally:
        teardown()
