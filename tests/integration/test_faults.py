"""Crash points and a double-signer (issue 8), with `cohortd-faults`: the
same node built with the test-only hooks of node/faults.h (never in a
release build).

Crash points: one validator of four is killed (SIGKILL, from inside, at an
exact point) between each pair of durable steps of signing and committing —
after the WAL fsync before a signature, after the signer's state is durable,
after our own message is in the WAL, after our block is in the WAL, after
the commit batch, after END_HEIGHT — then restarted with the ordinary
cohortd. Each time: it rejoins, no node ever sees it sign two different
votes, and every height is identical on all four.

Double signer: a validator that signs two different prevotes in every
round is seen by the others (evidence), and the chain goes on."""
import argparse
import os
import random
import time

import cohort_client as cc
from harness import make_testnet, run_tests

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--keep", action="store_true")
args = ap.parse_args()

CONF = {"block_interval_ms": 100, "timeout_propose_ms": 1000, "timeout_vote_ms": 500}
POINTS = ["wal_sync", "signed", "wal_own", "propose", "commit", "end_height"]
nodes = []
rng = random.Random(9)
sent = [0]


def height(n):
    return n.rpc("status", timeout=10)["latest_height"]


def tx_through(n):
    st = n.rpc("status")
    nonce = int(n.rpc("account", {"address": n.dev_addr})["next_nonce"])
    to = cc.account_id(cc.schnorr_pubkey(bytes([sent[0] % 250 + 1] * 32)))
    tx, _ = cc.signed_transfer(n.dev_sec, st["chain_id"], st["params"], nonce, to, 1, 1)
    sent[0] += 1
    try:
        n.rpc("broadcast_tx", {"tx": tx.hex(), "mode": "sync"}, timeout=5)
    except cc.RpcError:
        pass


def wait_all(h, timeout=60):
    """Every node at h or above; a transfer every 0.5 s meanwhile (empty
    blocks are off: an idle chain stays where it is)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if all(height(n) >= h for n in nodes):
                return
            tx_through(nodes[0])
        except Exception:
            pass
        time.sleep(0.5)
    raise AssertionError("height %d not reached: %s" % (h, [height(n) for n in nodes if n.alive()]))


def check():
    h = min(height(n) for n in nodes)
    for i in range(1, h + 1):
        bs = [n.rpc("block", {"height": i, "txs_limit": 1}) for n in nodes]
        assert len(set(b["hash"] for b in bs)) == 1, ("fork at", i)
        assert len(set(b["header"]["app_hash"] for b in bs)) == 1, ("app_hash differs at", i)
    for n in nodes:
        log = open(n.log_path, errors="replace").read()
        assert "signed two different" not in log, (n.moniker, "saw a double sign")
        assert "diverges" not in log, n.moniker
    return h


def setup():
    global nodes
    nodes = make_testnet(args.bin, 4, CONF, keep=args.keep)
    for n in nodes:
        n.start()
    tx_through(nodes[0])
    wait_all(1)


def test_kill_at_every_durable_step_then_rejoin():
    victim = nodes[3]
    for point in POINTS:
        victim.stop()
        victim.binary = "cohortd-faults"
        nth = 1 if point == "propose" else rng.randint(1, 4)
        victim.env = {"COHORT_FAIL_AT": "%s:%d" % (point, nth)}
        victim.start(may_die=True)  # block sync may bring it to its point at once
        deadline = time.time() + 60
        while victim.alive() and time.time() < deadline:
            tx_through(nodes[rng.randrange(3)])
            time.sleep(0.15)
        assert not victim.alive(), "never reached %s" % point
        assert victim.proc.returncode == -9, victim.proc.returncode
        victim.log.close()
        victim.binary = "cohortd"
        victim.env = {}
        victim.start()
        tip = max(height(n) for n in nodes[:3])
        tx_through(nodes[0])
        wait_all(tip + 1)
        h = check()
        print("  killed at %-10s (#%d), restarted, rejoined at height %d" % (point, nth, h))


def test_double_signer_is_slashed_and_removed():
    bad = nodes[3]
    bad_key = bad.rpc("status")["validator"]["pubkey"]
    before = nodes[0].rpc("validators")
    assert bad_key in [v["pubkey"] for v in before["validators"]], before
    bad.stop()
    bad.binary = "cohortd-faults"
    bad.env = {"COHORT_EQUIVOCATE": "1"}
    bad.start()
    h0 = max(height(n) for n in nodes)
    ev_height = None
    deadline = time.time() + 90
    while ev_height is None and time.time() < deadline:
        tx_through(nodes[0])
        time.sleep(0.3)
        top = height(nodes[0])
        for i in range(h0 + 1, top + 1):
            if nodes[0].rpc("block", {"height": i, "txs_limit": 1}).get("evidence"):
                ev_height = i
                break
    seen = [n.moniker for n in nodes[:3]
            if "double-signed at height" in open(n.log_path, errors="replace").read()]
    print("  double-signing seen by %s; evidence in block %s" % (seen, ev_height))
    assert seen, "nobody noticed the double signer"
    assert ev_height, "no block carried the evidence"
    # V_{H+1} is fixed already; from H+2 the offender signs nothing.
    wait_all(ev_height + 3)
    for h in (ev_height + 2, ev_height + 3):
        vs = nodes[1].rpc("validators", {"height": h, "pubkey": bad_key})
        assert bad_key not in [v["pubkey"] for v in vs["validators"]], (h, vs)
        assert vs["count"] == 3, vs
    assert nodes[1].rpc("validators", {"height": ev_height + 1})["count"] == 4
    tomb = nodes[2].rpc("validators", {"pubkey": bad_key})["tombstone"]
    assert tomb and tomb["evidence_height"] == ev_height and int(tomb["slashed"]) > 0, tomb
    print("  tombstoned at %d: %s base units of STK burned, out of the set from %d" %
          (ev_height, tomb["slashed"], ev_height + 2))
    # The three go on, and the commits of later blocks carry no signature of it.
    h1 = height(nodes[0])
    for _ in range(3):
        tx_through(nodes[0])
        time.sleep(0.3)
    wait_all(h1 + 2)
    h = min(height(n) for n in nodes)
    for i in range(1, h + 1):
        bs = [n.rpc("block", {"height": i, "txs_limit": 1}) for n in nodes]
        assert len(set(b["hash"] for b in bs)) == 1, ("fork at", i)


if __name__ == "__main__":
    try:
        setup()
        run_tests([test_kill_at_every_durable_step_then_rejoin,
                   test_double_signer_is_slashed_and_removed])
    finally:
        for n in nodes:
            n.cleanup()
