"""A fresh node joins a chain of a few thousand blocks by block sync, then
follows it (issue 8).

Four validators on loopback make --blocks blocks (an empty block every
5 ms when idle, a transfer now and then); a full node with only the
genesis and one peer's address starts, fetches every block from its peers,
verifies each commit against the validator set of its height and applies
it, reports `catching_up` while it does and logs its progress; then it
follows by consensus. Checked: it reaches the tip, stops catching up, holds
the same block and app hash as a validator at every 100th height and at the
tip, and commits the blocks made after it joined.

Review finding 5, on a chain of its own (one validator): a block of 4.6 MiB
is committed, then governance lowers max_block_bytes to 64 KiB; a fresh
node syncing from genesis still gets that block (its peer serves it, it
takes it: block sync sizes its messages by the largest max_block_bytes ever
in force, docs/p2p.md §9a) and reaches the tip with the same hashes; the
validator refuses a new transaction above the lowered limits. Without the
fix the validator cannot send the block (its limit was 64 KiB + 4 MiB) and
the fresh node stops below it."""
import argparse
import os
import time

import cohort_client as cc
from harness import Node, make_testnet, run_tests

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--blocks", type=int, default=2000)
ap.add_argument("--keep", action="store_true")
ap.add_argument("--only", default="", help="run only the tests whose names contain this")
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


BIG = 4600 * 1024          # the blob: above 64 KiB + 4 MiB, the old frame limit
LOW = 65536                # max_block_bytes after the change


def wait_for(what, cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            v = cond()
            if v:
                return v
        except (cc.RpcError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def test_sync_across_a_lowered_block_limit():
    gp = {"max_blob_bytes": 5 << 20, "max_tx_bytes": 6 << 20, "gov_deposit_blocks": 5,
          "gov_voting_blocks": 5}
    conf = {"block_interval_ms": 100, "empty_block_interval_ms": 100, "log_level": "info"}
    v = Node(args.bin, conf, keep=args.keep, genesis_params=gp)
    fresh.append(v)
    v.set_conf("rpc", "max_body_bytes", str(16 << 20))  # the blob in hex
    v.start()
    blob = os.path.join(v.home, "big.bin")
    open(blob, "wb").write(os.urandom(BIG))
    r = v.cli_json("program", "upload", blob, "--data")
    hb = wait_for("the blob's block", lambda: v.rpc("blob_get", {"hash": r["hash"]})["height"],
                  60)
    blk = v.rpc("block", {"height": hb, "txs_limit": 1})
    assert blk["size"] > LOW + (4 << 20), blk["size"]  # over the old frame limit
    # propose the lower limits (the relations ask for max_tx_bytes and the output too)
    p = v.cli_json("gov", "propose", "--param", "max_block_bytes=%d" % LOW, "--param",
                   "max_tx_bytes=%d" % LOW, "--param", "max_inline_output=32768",
                   "--title", "Smaller blocks")
    pid = p["proposal"]
    v.cli_json("gov", "vote", str(pid), "yes")
    applied = wait_for("the change", lambda: v.rpc("proposal_get", {"id": pid}).get(
        "applied_height", 0), 120)
    wait_for("the change in force", lambda: height(v) >= applied, 60)
    par = {x["name"]: x["value"] for x in v.rpc("params")["params"]}
    assert par["max_block_bytes"] == LOW, par["max_block_bytes"]
    # a new tx above the limit in force is refused (new blocks keep the lowered limit)
    st = v.rpc("status")
    nonce = int(v.rpc("account", {"address": v.dev_addr})["next_nonce"])
    to = cc.account_id(cc.schnorr_pubkey(bytes([9] * 32)))
    big_tx, _ = cc.signed_transfer(v.dev_sec, st["chain_id"], st["params"], nonce, to, 1, 1,
                                   memo=b"")
    refused = None
    try:
        v.rpc("broadcast_tx", {"tx": (big_tx + bytes(LOW)).hex(), "mode": "sync"}, timeout=10)
    except cc.RpcError as e:
        refused = e
    assert refused is not None, "a tx above max_tx_bytes was accepted"
    tip = height(v)
    # a fresh node syncs from genesis, through the big block
    f = Node(args.bin, conf, keep=args.keep)
    fresh.append(f)
    g = open(os.path.join(v.home, "config", "genesis.json")).read()
    open(os.path.join(f.home, "config", "genesis.json"), "w").write(g)
    f.set_conf("p2p", "persistent_peers", "%s@127.0.0.1:%d" % (v.node_id(), v.p2p_port))
    f.start()
    try:
        wait_for("the fresh node to pass height %d (the %d-byte block)" % (hb, BIG),
                 lambda: height(f) >= tip, 120)
    except AssertionError:
        print("  the fresh node stopped at %d; the validator's log:\n%s" % (height(f), v.tail(15)))
        raise
    for h in (hb, applied, tip):
        a = f.rpc("block", {"height": h, "txs_limit": 1})
        b = v.rpc("block", {"height": h, "txs_limit": 1})
        assert a["hash"] == b["hash"] and a["header"]["app_hash"] == b["header"]["app_hash"], h
    print("  block %d (%d bytes) synced after max_block_bytes went down to %d at %d" % (
        hb, blk["size"], LOW, applied))


if __name__ == "__main__":
    try:
        tests = [test_fresh_node_syncs_thousands_of_blocks_then_follows,
                 test_sync_across_a_lowered_block_limit]
        tests = [t for t in tests if args.only in t.__name__]
        if test_fresh_node_syncs_thousands_of_blocks_then_follows in tests:
            setup()
        run_tests(tests)
    finally:
        for n in nodes + fresh:
            n.cleanup()
