"""Network partitions with real network namespaces (issue 8).

Four validators, each cohortd in its own network namespace (cohort_pN),
joined by veth pairs to one bridge in the test's namespace, which also
reaches every node's RPC. A partition is a set of blackhole routes inside
the namespaces: packets to the other side are dropped silently, as a real
network split drops them (TCP connections stall; nothing is refused).

  3|1       one validator cut off: the three go on, the one stalls; healed, it
            catches up
  2|2       no side has 2/3 of the power: nothing commits anywhere (safety,
            and the right kind of halt); healed, the chain goes on
  one-way   one validator's packets to the others are dropped, theirs reach
            it: the three go on; healed, it rejoins

After each: identical block and app hashes at every height on all four.
Needs root (CI runs as root) and `ip netns`; otherwise it says why and
skips."""
import argparse
import os
import subprocess
import sys
import time

import cohort_client as cc
from harness import make_testnet, run_tests

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--keep", action="store_true")
args = ap.parse_args()

PREFIX = "cohort_p%d_" % (os.getpid() % 10000)
NS = [PREFIX + str(i) for i in range(4)]
BR = ("cbr%d" % (os.getpid() % 10000))[:15]
NET = "10.%d.%d" % (100 + os.getpid() % 100, os.getpid() // 100 % 250)
IPS = ["%s.%d" % (NET, i + 1) for i in range(4)]
HUB = "%s.254" % NET
CONF = {"block_interval_ms": 100, "timeout_propose_ms": 1000, "timeout_vote_ms": 500}
nodes = []


def sh(*cmd, check=True):
    r = subprocess.run(list(cmd), capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    return r


def netns_available():
    if os.geteuid() != 0:
        return "not root"
    r = sh("ip", "netns", "add", PREFIX + "probe", check=False)
    if r.returncode:
        return "ip netns add failed: " + r.stderr.strip()
    sh("ip", "netns", "del", PREFIX + "probe", check=False)
    return None


def net_up():
    sh("ip", "link", "add", BR, "type", "bridge")
    sh("ip", "addr", "add", HUB + "/24", "dev", BR)
    sh("ip", "link", "set", BR, "up")
    for i, ns in enumerate(NS):
        sh("ip", "netns", "add", ns)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        host = ("%sh%d" % (BR, i))[:15]
        sh("ip", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", host, "master", BR)
        sh("ip", "link", "set", host, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", IPS[i] + "/24", "dev", "eth0")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")


def net_down():
    for ns in NS:
        sh("ip", "netns", "del", ns, check=False)
    sh("ip", "link", "del", BR, check=False)


def cut(a, b):
    """Drop packets from node a to node b."""
    sh("ip", "netns", "exec", NS[a], "ip", "route", "add", "blackhole", IPS[b] + "/32")


def heal():
    for i, ns in enumerate(NS):
        for j in range(4):
            if j != i:
                sh("ip", "netns", "exec", ns, "ip", "route", "del", "blackhole", IPS[j] + "/32",
                   check=False)


def partition(*groups):
    for g in groups:
        for h in groups:
            if g is h:
                continue
            for a in g:
                for b in h:
                    cut(a, b)


def height(n):
    return n.rpc("status", timeout=10)["latest_height"]


def heights():
    return [height(n) for n in nodes]


def wait_all(h, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if min(heights()) >= h:
            return
        time.sleep(0.2)
    raise AssertionError("not all nodes reached height %d within %d s: %s" % (h, timeout, heights()))


def load_tx(n, k):
    """Submit one transfer through node n (keeps proposers busy)."""
    st = n.rpc("status")
    nonce = int(n.rpc("account", {"address": n.dev_addr})["next_nonce"])
    to = cc.account_id(cc.schnorr_pubkey(bytes([k % 250 + 1] * 32)))
    tx, _ = cc.signed_transfer(n.dev_sec, st["chain_id"], st["params"], nonce, to, 1, 1)
    try:
        n.rpc("broadcast_tx", {"tx": tx.hex(), "mode": "sync"}, timeout=5)
    except cc.RpcError:
        pass


def check_agreement():
    h = min(heights())
    for i in range(1, h + 1):
        bs = [n.rpc("block", {"height": i, "txs_limit": 1}) for n in nodes]
        assert len(set(b["hash"] for b in bs)) == 1, ("fork at", i)
        assert len(set(b["header"]["app_hash"] for b in bs)) == 1, ("app_hash differs at", i)
    return h


def progress(ns, secs):
    """Heights gained by each node of ns over secs, with txs flowing."""
    h0 = [height(nodes[i]) for i in ns]
    t_end = time.time() + secs
    k = 0
    while time.time() < t_end:
        load_tx(nodes[ns[0]], k)
        k += 1
        time.sleep(0.3)
    return [height(nodes[i]) - h0[j] for j, i in enumerate(ns)]


def setup():
    global nodes
    net_up()
    nodes = make_testnet(args.bin, 4, CONF, keep=args.keep, hosts=IPS)
    for i, n in enumerate(nodes):
        n.prefix = ["ip", "netns", "exec", NS[i]]
        n.start()
    load_tx(nodes[0], 0)
    wait_all(1)


def test_three_one_partition():
    partition([0, 1, 2], [3])
    time.sleep(1)
    gained = progress([0, 1, 2], 6)
    stuck = height(nodes[3])
    time.sleep(1)
    print("  during 3|1: the three gained %s blocks; the one stays at %d" % (gained, stuck))
    assert min(gained) >= 3, gained
    assert height(nodes[3]) <= stuck + 1
    heal()
    wait_all(max(heights()))
    print("  healed: all at %s" % heights())
    check_agreement()


def test_two_two_partition_halts_then_resumes():
    partition([0, 1], [2, 3])
    time.sleep(2)  # let a height in flight settle
    before = heights()
    gained = progress([0, 2], 6)
    after = heights()
    print("  during 2|2: heights %s -> %s" % (before, after))
    assert all(a - b <= 1 for a, b in zip(after, before)), (before, after)
    heal()
    t0 = time.time()
    wait_all(max(after) + 2)
    print("  healed: the chain went on, 2 blocks in %.1f s" % (time.time() - t0))
    check_agreement()
    del gained


def test_one_way_partition():
    for b in (1, 2, 3):
        cut(0, b)  # node0 hears the others; they never hear it
    time.sleep(1)
    gained = progress([1, 2, 3], 6)
    print("  node0 mute: the others gained %s blocks" % gained)
    assert min(gained) >= 3, gained
    heal()
    wait_all(max(heights()))
    check_agreement()


if __name__ == "__main__":
    why = netns_available()
    if why:
        print("SKIP partition tests: network namespaces unavailable (%s); run as root with "
              "iproute2" % why)
        sys.exit(0)
    try:
        setup()
        run_tests([test_three_one_partition, test_two_two_partition_halts_then_resumes,
                   test_one_way_partition])
    finally:
        for n in nodes:
            n.cleanup()
        net_down()
