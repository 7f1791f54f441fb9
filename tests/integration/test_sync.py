"""A fresh node joins a chain of a few thousand blocks by block sync, then
follows it (issue 8).

Four validators on loopback make --blocks blocks (an empty block every
5 ms when idle, a transfer now and then); a full node with only the
genesis and one peer's address starts, fetches every block from its peers,
verifies each commit against the validator set of its height and applies
it, reports `catching_up` while it does and logs its progress; then it
follows by consensus. Checked: it reaches the tip, stops catching up, holds
the same block and app hash as a validator at every 100th height and at the
tip, and commits the blocks made after it joined."""
import argparse
import os
import time

import cohort_client as cc
from harness import Node, make_testnet, run_tests

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--blocks", type=int, default=2000)
ap.add_argument("--keep", action="store_true")
args = ap.parse_args()

CONF = {"block_interval_ms": 5, "empty_block_interval_ms": 5, "log_level": "warn"}
nodes = []
fresh = []


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


def setup():
    global nodes
    nodes = make_testnet(args.bin, 4, CONF, keep=args.keep)
    for n in nodes:
        n.start()


def test_fresh_node_syncs_thousands_of_blocks_then_follows():
    t0 = time.time()
    k = 0
    while height(nodes[0]) < args.blocks:
        transfer(nodes[k % 4], k)
        k += 1
        time.sleep(0.25)
        assert time.time() - t0 < 1200, "the validators stopped making blocks: %d" % height(nodes[0])
    tip = height(nodes[0])
    print("  four validators made %d blocks (%d transfers) in %.0f s" % (tip, k, time.time() - t0))
    f = Node(args.bin, {"log_level": "info"}, keep=args.keep)
    fresh.append(f)
    g = open(os.path.join(nodes[0].home, "config", "genesis.json")).read()
    open(os.path.join(f.home, "config", "genesis.json"), "w").write(g)
    f.set_conf("p2p", "persistent_peers", "%s@127.0.0.1:%d" % (nodes[2].node_id(), nodes[2].p2p_port))
    t1 = time.time()
    f.start()
    saw_catching_up = False
    while True:
        st = f.rpc("status", timeout=10)
        saw_catching_up |= st["catching_up"]
        if st["latest_height"] >= tip and not st["catching_up"]:
            break
        assert time.time() - t1 < 600, "stuck at %d of %d" % (st["latest_height"], tip)
        time.sleep(0.05)
    dt = time.time() - t1
    assert saw_catching_up, "status never said catching_up"
    log = open(f.log_path, errors="replace").read()
    progress = [ln for ln in log.splitlines() if "catching up: height" in ln]
    assert progress, "no progress lines in the log"
    assert "caught up at height" in log
    print("  the fresh node caught up %d blocks in %.1f s (%.0f blocks/s), %d progress lines"
          % (st["latest_height"], dt, st["latest_height"] / dt, len(progress)))
    for h in list(range(100, tip + 1, 100)) + [tip]:
        a = f.rpc("block", {"height": h, "txs_limit": 1})
        b = nodes[h % 4].rpc("block", {"height": h, "txs_limit": 1})
        assert a["hash"] == b["hash"] and a["header"]["app_hash"] == b["header"]["app_hash"], h
    # ... and then it follows: blocks made after it joined, and a transfer sent through it
    st = f.rpc("status")
    to = cc.account_id(cc.schnorr_pubkey(bytes([7] * 32)))
    nonce = int(f.rpc("account", {"address": nodes[0].dev_addr})["next_nonce"])
    tx, _ = cc.signed_transfer(nodes[0].dev_sec, st["chain_id"], st["params"], nonce, to, 1, 1)
    r = f.rpc("broadcast_tx", {"tx": tx.hex(), "mode": "commit"}, timeout=60)
    assert r["code"] == 0 and r["height"] > tip, r
    deadline = time.time() + 60  # the fresh node may be a block ahead of validator 1
    while height(nodes[1]) < r["height"] and time.time() < deadline:
        time.sleep(0.05)
    assert nodes[1].rpc("block", {"height": r["height"], "txs_limit": 1})["hash"] == \
        f.rpc("block", {"height": r["height"], "txs_limit": 1})["hash"]


if __name__ == "__main__":
    try:
        setup()
        run_tests([test_fresh_node_syncs_thousands_of_blocks_then_follows])
    finally:
        for n in nodes + fresh:
            n.cleanup()
