#!/usr/bin/env python3
"""Block sync of a long chain (issue 8): four validators on loopback make
--blocks blocks as fast as their consensus goes (empty blocks every
--empty-ms, a transfer every so often so blocks are not all empty), then a
fresh full node given one peer joins and catches up. Prints how fast the
four made blocks, how fast the new node fetched, verified and applied them
(blocks/s), its catching-up progress lines, and whether it then follows the
chain. Prints figures; never fails on time.

usage: bench_sync.py BUILD_DIR [--blocks 3000] [--empty-ms 5]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import cohort_client as cc  # noqa: E402
import harness  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("build")
ap.add_argument("--blocks", type=int, default=3000)
ap.add_argument("--empty-ms", type=int, default=5)
a = ap.parse_args()
BIN = os.path.join(a.build, "bin")

conf = {"block_interval_ms": 5, "empty_block_interval_ms": a.empty_ms, "log_level": "warn"}
nodes = harness.make_testnet(BIN, 4, conf)
fresh = None


def height(n):
    return n.rpc("status", timeout=10)["latest_height"]


def transfer(n, k):
    st = n.rpc("status")
    nonce = int(n.rpc("account", {"address": n.dev_addr})["next_nonce"])
    to = cc.account_id(cc.schnorr_pubkey(bytes([k % 250 + 1] * 32)))
    tx, _ = cc.signed_transfer(n.dev_sec, st["chain_id"], st["params"], nonce, to, 1, 1)
    try:
        n.rpc("broadcast_tx", {"tx": tx.hex(), "mode": "sync"}, timeout=5)
    except cc.RpcError:
        pass


try:
    for n in nodes:
        n.start()
    t0 = time.time()
    k = 0
    last = 0
    while True:
        h = height(nodes[0])
        if h >= a.blocks:
            break
        if h // 500 != last // 500:
            print("  the four are at height %d (%.0f blocks/s)" % (h, h / (time.time() - t0)),
                  flush=True)
        last = h
        transfer(nodes[k % 4], k)
        k += 1
        time.sleep(0.2)
    made = time.time() - t0
    tip = height(nodes[0])
    print("four validators made %d blocks in %.1f s: %.0f blocks/s (%d transfers)" %
          (tip, made, tip / made, k))
    fresh = harness.Node(BIN, {"log_level": "info"})
    g = open(os.path.join(nodes[0].home, "config", "genesis.json")).read()
    open(os.path.join(fresh.home, "config", "genesis.json"), "w").write(g)
    fresh.set_conf("p2p", "persistent_peers", "%s@127.0.0.1:%d" % (nodes[1].node_id(),
                                                                  nodes[1].p2p_port))
    t1 = time.time()
    fresh.start()
    while True:
        st = fresh.rpc("status", timeout=10)
        if st["latest_height"] >= tip and not st["catching_up"]:
            break
        time.sleep(0.05)
    dt = time.time() - t1
    print("a fresh full node caught up %d blocks in %.1f s: %.0f blocks/s" %
          (st["latest_height"], dt, st["latest_height"] / dt))
    for ln in open(fresh.log_path, errors="replace"):
        if "catching up" in ln or "caught up" in ln:
            print("   ", ln.rstrip().split("  ", 1)[-1])
    h2 = height(nodes[0]) + 3
    deadline = time.time() + 60
    while time.time() < deadline and height(fresh) < h2:
        time.sleep(0.1)
    ok = height(fresh) >= h2
    b1 = fresh.rpc("block", {"height": tip, "txs_limit": 1})["hash"]
    b2 = nodes[2].rpc("block", {"height": tip, "txs_limit": 1})["hash"]
    print("then it follows the chain: %s; block %d identical: %s" % (ok, tip, b1 == b2))
finally:
    for n in nodes + ([fresh] if fresh else []):
        n.cleanup()
