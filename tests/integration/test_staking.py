#!/usr/bin/env python3
"""Staking on a real localnet (docs/staking.md): three validators and a
fourth node that starts as a full node.

1. The fourth node's account turns it into a validator with `cohort stake
   create-validator` (key and beacon commitment from `cohortd
   show-validator`): it is in the set from H+2 of its tx, not H+1, and its
   signature is in the commits from then on.
2. An account delegates to it; fees flow; `rewards` and `cohort stake show`
   show the reward accrue; withdraw-rewards pays it.
3. The fourth node is stopped: after signed_blocks_window blocks it is
   jailed, slashed slash_downtime_bps with its delegator, and leaves the set.
   Restarted, it unjails after downtime_jail_blocks and signs again.
4. Its operator undelegates everything: jailed, out of the set at H+2; the
   delegator redelegates elsewhere; the unbonding is paid after
   unbonding_blocks. Every node has the same blocks and app_hash throughout,
   and the supply adds up (pools and bonded totals of the `supply` RPC).

usage: test_staking.py --bin BUILD/bin
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cohort_client as cc  # noqa: E402
from harness import Node, make_testnet, run_tests  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--keep", action="store_true")
args = ap.parse_args()

CONF = {"block_interval_ms": 100, "empty_block_interval_ms": 250, "timeout_propose_ms": 1000,
        "timeout_vote_ms": 500}
PARAMS = {"signed_blocks_window": 10, "min_signed_bps": 5000, "downtime_jail_blocks": 8,
          "slash_downtime_bps": 100, "unbonding_blocks": 20, "evidence_max_age": 19,
          "commission_change_blocks": 2, "min_self_bond": "1000000",
          "gov_min_deposit": "1000000", "gov_deposit_blocks": 10, "gov_voting_blocks": 12,
          "gov_quorum_bps": 2000}
SELF_BOND = 50000000000
DELEGATION = 10000000000
nodes = []
new = None
st = {}


def height(n):
    return n.rpc("status", timeout=10)["latest_height"]


def wait_height(h, timeout=90, among=None):
    deadline = time.time() + timeout
    among = among or [n for n in nodes if n.alive()]
    while time.time() < deadline:
        try:
            if all(height(n) >= h for n in among):
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise AssertionError("height %d not reached: %s" % (h, [height(n) for n in among]))


def in_set(n, h, pk):
    vs = n.rpc("validators", {"height": h})
    return pk in [v["pubkey"] for v in vs["validators"]]


def signers(n, h):
    """The keys in block h's last commit (the signatures for h - 1)."""
    b = n.rpc("block", {"height": h, "txs_limit": 1})
    return [s["validator"] for s in (b.get("last_commit") or {}).get("signatures", [])]


def same_chain():
    live = [n for n in nodes if n.alive()]
    h = min(height(n) for n in live)
    for i in range(max(1, h - 40), h + 1):
        bs = [n.rpc("block", {"height": i, "txs_limit": 1}) for n in live]
        assert len(set(b["hash"] for b in bs)) == 1, ("fork at", i)
        assert len(set(b["header"]["app_hash"] for b in bs)) == 1, ("app_hash differs at", i)


def conservation(n):
    sup = n.rpc("supply")
    # every account with a balance here: dev, alice, op, and the operators
    # of the genesis validators (whose keys the testnet threw away; they
    # hold nothing but their self-bond)
    addrs = [n.dev_addr, st["alice"], st["op"]]
    crd = stk = 0
    for a in addrs:
        acc = n.rpc("account", {"address": a})
        crd += int(acc["crd"])
        stk += int(acc["stk"])
    pools = int(sup["fees"]) + int(sup["rewards"]) + int(sup["community"])
    assert crd + pools == int(sup["crd"]), (crd, pools, sup)
    assert stk + int(sup["bonded"]) + int(sup["unbonding"]) == int(sup["stk"]), (stk, sup)


def setup():
    global nodes, new
    nodes = make_testnet(args.bin, 3, CONF, genesis_params=PARAMS, keep=args.keep)
    new = Node(args.bin, CONF, keep=args.keep)
    shutil.copy(os.path.join(nodes[0].home, "config", "genesis.json"),
                os.path.join(new.home, "config", "genesis.json"))
    shutil.copy(nodes[0].dev_key, new.dev_key)
    new.dev_sec, new.dev_addr = nodes[0].dev_sec, nodes[0].dev_addr
    new.set_conf("p2p", "persistent_peers", ",".join(
        "%s@127.0.0.1:%d" % (o.node_id(), o.p2p_port) for o in nodes))
    new.moniker = "newcomer"
    nodes.append(new)
    for n in nodes:
        n.start()
    wait_height(2)
    st["op"] = new.cli_json("keys", "new", "op")["address"]
    st["alice"] = nodes[0].cli_json("keys", "new", "alice")["address"]
    for who in (st["op"], st["alice"]):
        nodes[0].cli("transfer", "--to", who, "--amount", "60000000000", "--token", "STK", "--wait")
        nodes[0].cli("transfer", "--to", who, "--amount", "100000000", "--wait")


def test_new_node_becomes_a_validator_at_h_plus_2():
    out = subprocess.run([new.exe("cohortd"), "show-validator", "--home", new.home, "--json"],
                         capture_output=True, text=True, check=True)
    keys = json.loads(out.stdout)
    pk = st["pk"] = keys["pubkey"]
    assert pk == new.rpc("status")["validator"]["pubkey"], (keys, new.rpc("status")["validator"])
    assert not in_set(nodes[0], height(nodes[0]) + 1, pk)
    ws = cc.WebSocket(nodes[1].url)
    ws.call("subscribe", {"topic": "validators"})
    r = new.cli_json("stake", "create-validator", "--pubkey", pk, "--beacon-commit",
                     keys["beacon_commit"], "--self-bond", str(SELF_BOND), "--moniker", "newcomer",
                     "--commission", "1000", "--max-commission", "2000", "--max-change", "500",
                     "--from", "op")
    assert r["code"] == 0, r
    h = r["height"]
    wait_height(h)
    assert not in_set(nodes[1], h + 1, pk), "in the set at H+1"
    vs = nodes[1].rpc("validators", {"height": h + 2})
    mine = [v for v in vs["validators"] if v["pubkey"] == pk]
    assert mine and mine[0]["power"] == str(SELF_BOND), vs
    assert mine[0]["operator"] == st["op"] and mine[0]["commission_bps"] == 1000, mine
    # the "validators" WebSocket topic announced the change at block h
    ev = None
    deadline = time.time() + 20
    while ev is None and time.time() < deadline:
        m = ws.recv()
        if m.get("method") == "subscription" and m["params"]["topic"] == "validators":
            ev = m["params"]["result"]
    ws.close()
    assert ev and ev["height"] == h and ev["effective_height"] == h + 2, ev
    assert pk in [x["pubkey"] for x in ev["validators"]], ev
    v = nodes[2].rpc("validator_get", {"operator": st["op"]})
    assert v["status"] == "bonded" and v["self_bond"] == str(SELF_BOND), v
    # its node signs from H+2: the commit of H+2 is in block H+3
    wait_height(h + 6)
    assert pk not in signers(nodes[0], h + 2), "signed H+1 while outside V_{H+1}"
    # (a proposer adds precommits that came after its commit formed, so a
    # slower validator still counts; one may be later than even that)
    seen = [pk in signers(nodes[0], i) for i in (h + 3, h + 4, h + 5, h + 6)]
    assert sum(seen) >= 3, ("the new validator's signature is missing from the commits", seen)
    print("  created at %d; in V_%d, signing from %d; %d validators" % (h, h + 2, h + 2,
                                                                        vs["count"]))
    same_chain()
    conservation(nodes[0])


def test_delegation_earns_rewards():
    r = nodes[0].cli_json("stake", "delegate", "--validator", st["op"], "--amount",
                          str(DELEGATION), "--from", "alice")
    assert r["code"] == 0, r
    d = nodes[0].rpc("delegations", {"delegator": st["alice"]})
    assert d["delegations"][0]["value"] == str(DELEGATION), d
    r0 = int(nodes[0].rpc("rewards", {"delegator": st["alice"]})["total"])
    for i in range(12):  # fees for the validators
        nodes[i % 3].cli("transfer", "--to", st["op"], "--amount", "1000", "--wait")
    rw = nodes[1].rpc("rewards", {"delegator": st["alice"]})
    assert int(rw["total"]) > r0, rw
    show = nodes[0].cli("stake", "show", "alice").stdout
    assert "delegations  1" in show and "reward" in show, show
    comm = nodes[0].rpc("rewards", {"delegator": st["op"]})
    assert int(comm["commission"]) > 0, comm  # the operator's 10%
    acc0 = int(nodes[0].rpc("account", {"address": st["alice"]})["crd"])
    r = nodes[0].cli_json("stake", "withdraw-rewards", "--from", "alice")
    assert r["code"] == 0, r
    acc1 = int(nodes[0].rpc("account", {"address": st["alice"]})["crd"])
    fee = int(nodes[0].rpc("tx", {"hash": r["hash"]})["fee_paid"])
    assert acc1 - acc0 + fee >= int(rw["total"]), (acc0, acc1, fee, rw)
    print("  alice's 10,000 STK at the newcomer earned %s CRD base units over 12 transfers; "
          "withdrawn" % rw["total"])
    conservation(nodes[0])


def test_delegators_outvote_their_validator():
    """Governance on the localnet (docs/staking.md §5): the newcomer's
    operator votes no with its 50,000 STK self-bond; two of its delegators
    (alice's 10,000 and dev's 100,000 STK) vote yes themselves, so their
    stake leaves the validator's vote and the proposal passes by their
    votes. Every validator tallies the same (same app_hash)."""
    r = nodes[0].cli_json("stake", "delegate", "--validator", st["op"], "--amount",
                          "100000000000")
    assert r["code"] == 0, r
    g = nodes[0].cli_json("gov", "propose", "--text", "--title", "delegators decide")
    pid = g["proposal"]
    new.cli("gov", "vote", str(pid), "no", "--from", "op")
    nodes[0].cli("gov", "vote", str(pid), "yes", "--from", "alice")
    nodes[0].cli("gov", "vote", str(pid), "yes")
    deadline = time.time() + 90
    while time.time() < deadline:
        p = nodes[2].rpc("proposal_get", {"id": pid})
        if p["status"] not in ("deposit", "voting"):
            break
        time.sleep(0.3)
    assert p["status"] == "passed", p
    t = nodes[1].rpc("tally", {"id": pid})
    yes, no = int(t["yes"]), int(t["no"])
    assert yes >= 110000000000 and no <= SELF_BOND and no > 0, t
    print("  proposal %d passed: yes %d (the delegators), no %d (their validator's operator)" %
          (pid, yes, no))
    r = nodes[0].cli_json("stake", "undelegate", "--validator", st["op"], "--amount",
                          "100000000000")
    assert r["code"] == 0, r
    # the newcomer holds 210,000 of 510,000 power until the undelegation is in
    # force at H+2: the next test stops it, which must not take 2/3 away
    wait_height(r["height"] + 3)
    vs = nodes[0].rpc("validators", {"height": r["height"] + 2})
    mine = [v for v in vs["validators"] if v["pubkey"] == st["pk"]]
    assert mine and mine[0]["power"] == str(SELF_BOND + DELEGATION), mine
    same_chain()
    conservation(nodes[0])


def test_stopped_validator_is_jailed_and_slashed():
    pk = st["pk"]
    new.stop()
    h0 = height(nodes[0])
    deadline = time.time() + 120
    v = None
    while time.time() < deadline:
        v = nodes[0].rpc("validator_get", {"operator": st["op"]})
        if v["jailed"]:
            break
        time.sleep(0.3)
    assert v and v["jailed"], v
    jailed_at = v["jailed_until"] - PARAMS["downtime_jail_blocks"]
    expect = (SELF_BOND + DELEGATION) - (SELF_BOND + DELEGATION) * 100 // 10000
    assert int(v["tokens"]) == expect, (v["tokens"], expect)
    d = nodes[0].rpc("delegations", {"delegator": st["alice"]})["delegations"][0]
    assert int(d["value"]) == DELEGATION - DELEGATION // 100, d
    wait_height(jailed_at + 2, among=nodes[:3])
    assert not in_set(nodes[0], jailed_at + 2, pk) and in_set(nodes[0], jailed_at + 1, pk)
    print("  stopped at %d, jailed at %d (window %d), 1%% slashed: alice's delegation is worth %s"
          % (h0, jailed_at, PARAMS["signed_blocks_window"], d["value"]))
    # back: Unjail is refused until jailed_until, then it signs again
    new.start()
    if height(nodes[0]) + 2 < v["jailed_until"]:  # too early: refused at the door
        early = new.cli("stake", "unjail", "--from", "op", check=False)
        assert early.returncode != 0 and "jailed until" in early.stderr, early.stderr
    wait_height(v["jailed_until"], among=nodes[:3])
    r = new.cli_json("stake", "unjail", "--from", "op")
    assert r["code"] == 0, r
    wait_height(r["height"] + 6, among=nodes[:3])
    assert in_set(nodes[0], r["height"] + 2, pk)
    assert any(pk in signers(nodes[0], r["height"] + i) for i in (3, 4, 5, 6)), \
        "not signing after Unjail"
    same_chain()
    conservation(nodes[0])


def test_validator_that_undelegates_everything_leaves():
    pk = st["pk"]
    self_bond = nodes[0].rpc("validator_get", {"operator": st["op"]})["self_bond"]
    r = new.cli_json("stake", "undelegate", "--validator", st["op"], "--amount", self_bond,
                     "--from", "op")
    assert r["code"] == 0, r
    h = r["height"]
    wait_height(h)  # the tx was committed on `new`; nodes[0] may be a block behind
    v = nodes[0].rpc("validator_get", {"operator": st["op"]})
    assert v["jailed"] and v["self_bond"] == "0", v
    wait_height(h + 2)
    assert in_set(nodes[0], h + 1, pk) and not in_set(nodes[0], h + 2, pk)
    # the delegator moves on, without waiting
    alice_val = nodes[0].rpc("delegations", {"delegator": st["alice"]})["delegations"][0]["value"]
    r2 = nodes[0].cli_json("stake", "redelegate", "--src", st["op"], "--dst", nodes[0].dev_addr,
                           "--amount", alice_val, "--from", "alice")
    assert r2["code"] == 0, r2
    u = nodes[0].rpc("unbondings", {"delegator": st["op"]})
    assert u["unbondings"] and u["unbondings"][0]["amount"] == self_bond, u
    assert u["next"] is None, u
    # the unbondings RPC pages one list, unbondings then redelegations, by
    # the cursor "next" (docs/rpc.md): alice has one of each now
    r3 = nodes[0].cli_json("stake", "undelegate", "--validator", nodes[0].dev_addr, "--amount",
                           "1000", "--from", "alice")
    assert r3["code"] == 0, r3
    p1 = nodes[0].rpc("unbondings", {"delegator": st["alice"], "limit": 1})
    assert len(p1["unbondings"]) == 1 and p1["redelegations"] == [] and p1["next"], p1
    p2 = nodes[0].rpc("unbondings", {"delegator": st["alice"], "limit": 1, "after": p1["next"]})
    assert p2["unbondings"] == [] and len(p2["redelegations"]) == 1, p2
    assert p2["next"] is None, p2
    whole = nodes[0].rpc("unbondings", {"delegator": st["alice"]})
    assert len(whole["unbondings"]) == 1 and len(whole["redelegations"]) == 1, whole
    try:
        nodes[0].rpc("unbondings", {"delegator": st["alice"], "after": "u00"})
        raise AssertionError("a malformed cursor was accepted")
    except cc.RpcError as e:
        assert e.code == -32602, (e.code, str(e))
    rel = u["unbondings"][0]["release_height"]
    assert rel == h + PARAMS["unbonding_blocks"], (rel, h)
    stk0 = int(nodes[0].rpc("account", {"address": st["op"]})["stk"])
    wait_height(rel + 1)
    stk1 = int(nodes[0].rpc("account", {"address": st["op"]})["stk"])
    assert stk1 == stk0 + int(self_bond), (stk0, stk1, self_bond)
    print("  undelegated at %d, out of the set from %d, its %s STK base units paid at %d" %
          (h, h + 2, self_bond, rel))
    same_chain()
    conservation(nodes[0])


def guide_block(text, marker):
    lines = text.splitlines()
    i = lines.index(marker)
    assert lines[i + 1].strip() == "```sh", "the guide marker must be followed by a ```sh block"
    k = lines.index("```", i + 2)
    return "\n".join(lines[i + 2:k]) + "\n"


def test_the_delegating_guide_runs_on_a_devnet():
    """docs/staking.md "Delegating STK", pasted against a devnet of its own."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    script = guide_block(open(os.path.join(src, "docs", "staking.md")).read(),
                         "<!-- guide:delegating -->")
    dev = Node(args.bin, keep=args.keep)
    dev.start()
    work = dev.home + "-guide"
    os.makedirs(work)
    try:
        os.symlink(os.path.dirname(os.path.abspath(args.bin)), os.path.join(work, "build"))
        env = dict(os.environ, DEVNET_HOME=dev.home, DEVNET_RPC="127.0.0.1:%d" % dev.port)
        out = subprocess.run(["bash", "-e"], input=script, capture_output=True, text=True,
                             cwd=work, env=env, timeout=300)
        assert out.returncode == 0, (out.stdout[-3000:], out.stderr[-3000:])
        assert "delegations  1" in out.stdout and "unbonding    1 entry" in out.stdout, out.stdout
        assert '"total"' in out.stdout, out.stdout  # the rewards RPC answered
    finally:
        dev.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    try:
        setup()
        run_tests([test_new_node_becomes_a_validator_at_h_plus_2, test_delegation_earns_rewards,
                   test_delegators_outvote_their_validator,
                   test_stopped_validator_is_jailed_and_slashed,
                   test_validator_that_undelegates_everything_leaves,
                   test_the_delegating_guide_runs_on_a_devnet])
    finally:
        for n in nodes:
            n.cleanup()
