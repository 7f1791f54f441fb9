#!/usr/bin/env python3
"""Follow a localnet's chain: one line per committed block, naming its proposer.

usage: localnet_watch.py DIR        (DIR holds testnet.json, from `cohortd testnet`)

Polls the nodes' JSON-RPC (`status`, then `block` for every new height) and
prints

    height 12  proposer node2  txs 3   2026-12-02T10:00:01.000Z

mapping the header's proposer key to the validator's moniker through
testnet.json. Every 20 blocks it prints how many each validator proposed.
While no block comes it prints, every 30 s, each node's consensus height,
round and step, and once an explanation of what the network is waiting for.
Run by scripts/localnet.sh; stops on SIGINT/SIGTERM.
"""
import json
import os
import signal
import sys
import time
import urllib.request

DIR = sys.argv[1]
TN = json.load(open(os.path.join(DIR, "testnet.json")))
NODES = TN["nodes"]
NAME = {n["validator_pubkey"]: n["moniker"] for n in NODES}
STALL_S = 30


def rpc(node, method, params=None, timeout=3):
    req = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        req["params"] = params
    r = urllib.request.Request("http://%s/" % node["rpc"], data=json.dumps(req).encode(),
                               headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=timeout) as resp:
        out = json.loads(resp.read())
    if "error" in out:
        raise RuntimeError(out["error"].get("message", "error"))
    return out["result"]


def say(msg):
    print(msg, flush=True)


def peer_up_lines(node):
    try:
        with open(os.path.join(DIR, node["home"], "cohortd.log"), errors="replace") as f:
            return sum(1 for ln in f if "peer up" in ln)
    except OSError:
        return 0


def consensus_line():
    parts = []
    for n in NODES:
        try:
            st = rpc(n, "status")
            c = st["consensus"]
            parts.append("%s h%d r%d %s" % (n["moniker"], c["height"], c["round"], c["step"]))
        except Exception:
            parts.append("%s down" % n["moniker"])
    return " | ".join(parts)


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    last = None       # last height printed
    tally = {n["moniker"]: 0 for n in NODES}
    since = time.time()
    explained = False
    src = 0           # the node we follow; the next one if it stops answering
    while True:
        node = NODES[src]
        try:
            top = rpc(node, "status")["latest_height"]
        except Exception:
            src = (src + 1) % len(NODES)
            time.sleep(0.5)
            continue
        if last is None:
            last = top
            if top:
                say("   (the chain is at height %d; new blocks follow)" % top)
        while last < top:
            h = last + 1
            try:
                b = rpc(node, "block", {"height": h, "full": False})
            except Exception:
                break
            hd = b["header"]
            who = NAME.get(hd["proposer"], hd["proposer"][:12] + "..")
            tally[who] = tally.get(who, 0) + 1
            say("height %-5d proposer %-6s txs %-4d %s" % (h, who, hd["num_txs"], hd["time"]))
            last = h
            since = time.time()
            if h % 20 == 0:
                say("   proposed so far: " + ", ".join("%s %d" % kv for kv in sorted(tally.items())))
        if time.time() - since >= STALL_S:
            since = time.time()
            say("   no new block for %d s: %s" % (STALL_S, consensus_line()))
            if not explained:
                explained = True
                ups = sum(peer_up_lines(n) for n in NODES)
                say("   Each validator holds 1/%d of the power and a block needs more than 2/3,\n"
                    "   so the nodes must hear each other's votes over p2p. 'peer up' lines in\n"
                    "   their logs so far: %d.%s\n"
                    "   Logs: %s/nodeK/cohortd.log" % (
                        len(NODES), ups,
                        "" if ups else
                        " With none, the nodes cannot reach each other: check\n"
                        "   that their p2p ports are free and reachable, and the 'p2p:' lines in\n"
                        "   the logs.", DIR))
        time.sleep(0.5)


if __name__ == "__main__":
    main()
