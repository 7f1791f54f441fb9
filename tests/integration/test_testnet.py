#!/usr/bin/env python3
"""Integration: `cohortd testnet --validators 4` and the four nodes it makes.

The homes share one genesis (byte for byte); every persistent_peers entry is
another node's ID as `cohortd show-node-id` prints it and as computed here
from its node_key.json (first 20 bytes of sha256 of the ed25519 public key,
p2p_addr.h); ports are distinct; a second run into the same directory is
refused. Then each cohortd starts, serves `status` with the same chain_id
and genesis_hash (the sha256 of the genesis file) and its own moniker,
node ID and validator key; each connects to the other three (net_info, with
the node IDs of persistent_peers); a transfer sent to node3 commits, and
the block that holds it has one hash on all four; then each stops cleanly
on SIGTERM. (Faults are test_net.py's business.)

usage: test_testnet.py --bin BUILD/bin
"""
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cohort_client as cc  # noqa: E402
from harness import run_tests  # noqa: E402

BIN = sys.argv[sys.argv.index("--bin") + 1]
N = 4
TOP = tempfile.mkdtemp(prefix="cohort_tnet_")
OUT = os.path.join(TOP, "net")
CHAIN = "it-testnet-1"
state = {}


def cohortd(*args, check=True):
    out = subprocess.run([os.path.join(BIN, "cohortd")] + list(args), capture_output=True,
                         text=True, timeout=120)
    if check and out.returncode != 0:
        raise AssertionError("cohortd %s failed (%d): %s" % (" ".join(args), out.returncode,
                                                               out.stderr))
    return out


def port_free(p):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_base():
    """A base port whose 2N ports (base+10K, base+10K+1) are all free now."""
    for _ in range(200):
        b = random.randrange(20000, 60000)
        if all(port_free(b + 10 * k + d) for k in range(N) for d in (0, 1)):
            return b
    raise AssertionError("no free port range")


def conf_value(home, section, key):
    sec = None
    for ln in open(os.path.join(home, "cohortd.conf")):
        ln = ln.strip()
        if ln.startswith("["):
            sec = ln[1:-1]
        elif sec == section and "=" in ln and not ln.startswith("#"):
            k, v = ln.split("=", 1)
            if k.strip() == key:
                return v.strip()
    raise AssertionError("no [%s] %s in %s" % (section, key, home))


def node_id(home):
    k = json.load(open(os.path.join(home, "config", "node_key.json")))
    return hashlib.sha256(bytes.fromhex(k["public"])).hexdigest()[:40]


def test_generate():
    base = free_base()
    state["base"] = base
    out = cohortd("testnet", "--validators", str(N), "--out", OUT, "--chain-id", CHAIN,
                  "--base-port", str(base))
    print(out.stdout)
    for k in range(N):
        assert ("node%d" % k) in out.stdout, out.stdout
        assert os.path.isdir(os.path.join(OUT, "node%d" % k))
    assert "make localnet" in out.stdout
    again = cohortd("testnet", "--validators", str(N), "--out", OUT, check=False)
    assert again.returncode == 1 and "exists and is not empty" in again.stderr, again.stderr
    bad = cohortd("testnet", "--validators", "0", "--out", os.path.join(TOP, "x"), check=False)
    assert bad.returncode == 2 and "--validators" in bad.stderr, bad.stderr
    assert not os.path.exists(os.path.join(TOP, "x"))


def test_one_genesis_and_peers():
    homes = [os.path.join(OUT, "node%d" % k) for k in range(N)]
    texts = [open(os.path.join(h, "config", "genesis.json"), "rb").read() for h in homes]
    assert all(t == texts[0] for t in texts), "genesis.json differs between homes"
    g = json.loads(texts[0])
    assert g["chain_id"] == CHAIN
    assert len(g["validators"]) == N
    assert len({v["power"] for v in g["validators"]}) == 1, "powers differ"
    assert all("beacon_commit" in v for v in g["validators"])
    state["genesis_hash"] = hashlib.sha256(texts[0]).hexdigest()
    ids = [node_id(h) for h in homes]
    assert len(set(ids)) == N
    state["ids"] = ids
    ports = []
    for k, h in enumerate(homes):
        # show-node-id prints the ID and ID@listen, as peers write it
        lines = cohortd("show-node-id", "--home", h).stdout.split()
        p2p = conf_value(h, "p2p", "listen")
        assert lines == [ids[k], "%s@%s" % (ids[k], p2p)], lines
        rpc = conf_value(h, "rpc", "listen")
        ports += [int(p2p.rsplit(":", 1)[1]), int(rpc.rsplit(":", 1)[1])]
        assert conf_value(h, "node", "moniker") == "node%d" % k
        vk = json.load(open(os.path.join(h, "config", "priv_validator_key.json")))
        assert g["validators"][k]["pubkey"] == vk["public"]
        assert g["validators"][k]["moniker"] == "node%d" % k
        peers = conf_value(h, "p2p", "persistent_peers").split(",")
        want = sorted("%s@%s" % (ids[j], conf_value(homes[j], "p2p", "listen"))
                      for j in range(N) if j != k)
        assert sorted(peers) == want, (peers, want)
        # the dev (faucet) key only in node0
        assert os.path.exists(os.path.join(h, "keys", "dev.json")) == (k == 0)
    assert len(set(ports)) == 2 * N, ports
    tn = json.load(open(os.path.join(OUT, "testnet.json")))
    assert tn["genesis_hash"] == state["genesis_hash"]
    assert [n["node_id"] for n in tn["nodes"]] == ids


def test_bad_p2p_override_refused():
    h = os.path.join(OUT, "node0")
    out = subprocess.run([os.path.join(BIN, "cohortd"), "start", "--home", h, "--p2p-listen",
                          "nowhere"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "--p2p-listen: [p2p] listen" in out.stderr, out.stderr
    assert not os.path.exists(os.path.join(h, "data", "chain")), "started despite the error"


def test_all_start_serve_status_and_stop():
    procs = []
    try:
        for k in range(N):
            h = os.path.join(OUT, "node%d" % k)
            log = open(os.path.join(h, "cohortd.log"), "ab")
            procs.append((subprocess.Popen([os.path.join(BIN, "cohortd"), "start", "--home", h],
                                           stdout=log, stderr=subprocess.STDOUT), log, h))
        seen = []
        for k, (p, _, h) in enumerate(procs):
            url = "http://%s/" % conf_value(h, "rpc", "listen")
            deadline = time.time() + 30
            st = None
            while time.time() < deadline:
                assert p.poll() is None, "node%d exited:\n%s" % (
                    k, open(os.path.join(h, "cohortd.log")).read()[-3000:])
                try:
                    st = cc.rpc(url, "status", timeout=5)
                    break
                except Exception:
                    time.sleep(0.1)
            assert st, "node%d did not answer status" % k
            assert st["chain_id"] == CHAIN
            assert st["genesis_hash"] == state["genesis_hash"], (k, st["genesis_hash"])
            assert st["moniker"] == "node%d" % k
            assert st["node_id"] == state["ids"][k]
            assert st["validator"]["power"] != "0", "node%d is not in the validator set" % k
            seen.append(st["validator"]["pubkey"])
        assert len(set(seen)) == N
        urls = ["http://%s/" % conf_value(h, "rpc", "listen") for _, _, h in procs]
        # the persistent peers connect: every node sees the other three, by ID
        deadline = time.time() + 60
        while True:
            infos = [cc.rpc(u, "net_info", timeout=5) for u in urls]
            if all(i["n_peers"] == N - 1 for i in infos) or time.time() > deadline:
                break
            time.sleep(0.2)
        for k, i in enumerate(infos):
            got = sorted(p["id"] for p in i["peers"])
            assert got == sorted(x for j, x in enumerate(state["ids"]) if j != k), (k, i)
        # a transfer from the dev key (node0's home) sent to node3 commits on every node
        st = cc.rpc(urls[N - 1], "status")
        dev = cc.load_key(os.path.join(OUT, "node0", "keys", "dev.json"))
        addr = cc.address(cc.schnorr_pubkey(dev))
        acct = cc.rpc(urls[N - 1], "account", {"address": addr})
        to = cc.account_id(cc.schnorr_pubkey(bytes(range(1, 33))))
        tx, _ = cc.signed_transfer(dev, CHAIN, st["params"], int(acct["next_nonce"]), to, 1, 5000)
        r = cc.rpc(urls[N - 1], "broadcast_tx", {"tx": tx.hex(), "mode": "commit"}, timeout=90)
        assert r["code"] == 0, r
        h = r["height"]
        hashes = set()
        for u in urls:
            deadline = time.time() + 30
            while cc.rpc(u, "status")["latest_height"] < h:
                assert time.time() < deadline, "%s did not reach height %d" % (u, h)
                time.sleep(0.1)
            b = cc.rpc(u, "block", {"height": h, "full": False})
            hashes.add(b["hash"])
        assert len(hashes) == 1, hashes
        print("  transfer committed at height %d, block %s.. on all %d nodes" %
              (h, hashes.pop()[:16], N))
    finally:
        for p, log, h in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        rcs = []
        for p, log, h in procs:
            try:
                rcs.append(p.wait(timeout=30))
            except subprocess.TimeoutExpired:
                p.kill()
                rcs.append("hung")
            log.close()
    for k, (p, _, h) in enumerate(procs):
        text = open(os.path.join(h, "cohortd.log")).read()
        assert rcs[k] == 0, "node%d exit %s:\n%s" % (k, rcs[k], text[-2000:])
        assert "stopped cleanly" in text, text[-2000:]


def test_default_chain_ids_are_fresh():
    """Without --chain-id, `cohortd init` and `cohortd testnet` pick a fresh
    chain ID ("cohort-devnet-"/"cohort-testnet-" + 6 hex), printed at init:
    sign bytes bind the chain ID, so two default chains do not accept each
    other's transactions (docs/protocol.md "Replay across chains")."""
    import re
    ids = []
    for k in range(2):
        h = os.path.join(TOP, "init%d" % k)
        out = cohortd("init", "--home", h)
        cid = json.load(open(os.path.join(h, "config", "genesis.json")))["chain_id"]
        assert re.fullmatch(r"cohort-devnet-[0-9a-f]{6}", cid), cid
        assert ("for chain %s" % cid) in out.stdout, out.stdout
        ids.append(cid)
    t = os.path.join(TOP, "tnet-default")
    cohortd("testnet", "--validators", "1", "--out", t, "--base-port", str(free_base()))
    tid = json.load(open(os.path.join(t, "node0", "config", "genesis.json")))["chain_id"]
    assert re.fullmatch(r"cohort-testnet-[0-9a-f]{6}", tid), tid
    assert ids[0] != ids[1], ids


if __name__ == "__main__":
    try:
        run_tests([test_generate, test_one_genesis_and_peers, test_bad_p2p_override_refused,
                   test_all_start_serve_status_and_stop, test_default_chain_ids_are_fresh])
    finally:
        shutil.rmtree(TOP, ignore_errors=True)
