#!/usr/bin/env python3
"""Integration: governance on a real cohortd, a devnet-style chain of one
validator whose operator is the dev account (its genesis self-delegation
is all the bonded STK).

- a parameter change proposed through the CLI with half the minimum
  deposit waits in its deposit period (a vote is refused), a deposit starts
  the vote, the dev account votes yes; the RPC's running tally, votes and
  list agree; at the tally it passes, and the `params` RPC shows the new
  min_fee from the block after the tally (since = that height), the new
  minimum is enforced from then on (the unit tests check, block by block,
  that the block before still runs with the old one); WebSocket `proposal`
  events follow it (submitted, voting_started, finished, applied);
- docs/governance.md's guide block, verbatim, with bash -e, against a node
  of its own (as test_tour.py does with the README).

usage: test_gov.py --bin BUILD/bin --src SOURCE_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cohort_client as cc  # noqa: E402
from harness import Node, run_tests  # noqa: E402

BIN = sys.argv[sys.argv.index("--bin") + 1]
SRC = sys.argv[sys.argv.index("--src") + 1]
FAST = {"block_interval_ms": 200}


def wait_for(what, fn, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def param(node, name):
    (p,) = node.rpc("params", {"name": name})["params"]
    return p


def test_param_change_via_cli():
    node = Node(BIN, FAST)
    try:
        node.start()
        events = []
        ws = cc.WebSocket(node.url)
        ws.call("subscribe", {"topic": "proposal"})

        def listen():
            try:
                while True:
                    m = ws.recv()
                    if m.get("method") == "subscription":
                        events.append(m["params"]["result"])
            except Exception:
                pass
        threading.Thread(target=listen, daemon=True).start()

        p0 = param(node, "min_fee")
        assert p0["value"] == "1000" and p0["since"] == 0 and p0["kind"] == "u64", p0
        vb = param(node, "gov_voting_blocks")["value"]
        assert vb == 20, vb  # the devnet genesis' short period
        # half the minimum deposit (10 STK): the deposit period
        out = node.cli("gov", "propose", "--param", "min_fee=5000", "--title", "Raise min_fee",
                       "--description", "an integration test", "--deposit", "5000000").stdout
        assert "proposal 1 submitted" in out and "deposit period" in out, out
        p = node.rpc("proposal_get", {"id": 1})
        assert p["status"] == "deposit" and p["kind"] == "params", p
        assert p["changes"] == [{"name": "min_fee", "value": "5000"}], p
        assert p["deposits"] == [{"depositor": node.dev_addr, "amount": "5000000"}], p
        # no vote before the vote: the node's mempool refuses it (a dry run)
        v = node.cli("gov", "vote", "1", "yes", check=False)
        assert v.returncode == 1 and "deposit period" in v.stderr, (v.returncode, v.stderr)
        # refused by the CLI, then by the node
        bad = node.cli("gov", "vote", "1", "maybe", check=False)
        assert bad.returncode == 2 and "yes, no, abstain or veto" in bad.stderr, bad.stderr
        bad = node.cli("gov", "propose", "--param", "no_such=1", "--title", "x", check=False)
        assert bad.returncode == 1 and "no parameter" in bad.stderr, bad.stderr
        bad = node.cli("gov", "propose", "--param", "max_tx_bytes=99999999", "--title", "x",
                       check=False)
        assert bad.returncode == 1 and "bounds" in bad.stderr, bad.stderr
        out = node.cli("gov", "deposit", "1", "5000000").stdout
        assert "deposited 5.000000 STK" in out, out
        p = node.rpc("proposal_get", {"id": 1})
        assert p["status"] == "voting", p
        out = node.cli("gov", "vote", "1", "yes").stdout
        assert "voted yes on proposal 1" in out, out
        t = node.rpc("tally", {"id": 1})
        assert t["final"] is False and t["outcome_if_ended_now"] == "passed", t
        assert t["yes"] == t["bonded"] and int(t["bonded"]) > 0 and t["votes"] == 1, t
        vs = node.rpc("votes", {"id": 1})
        assert [x["voter"] for x in vs["votes"]] == [node.dev_addr], vs
        assert vs["votes"][0]["option"] == "yes", vs
        lst = node.rpc("proposal_list", {"status": "voting"})
        assert [x["id"] for x in lst["proposals"]] == [1], lst
        show = node.cli("gov", "show", "1").stdout
        assert "if it ended now: passed" in show and "min_fee = 5000" in show, show
        # the tally, then the change in force from the next block
        p = wait_for("the change to apply",
                     lambda: (lambda q: q if q["applied_height"] else None)(
                         node.rpc("proposal_get", {"id": 1})))
        a = p["applied_height"]
        assert p["status"] == "passed" and a == p["final_height"] + 1, p
        assert p["tally"]["yes"] == t["bonded"] and p["deposits"] == [], p
        pm = param(node, "min_fee")
        assert pm["value"] == "5000" and pm["since"] == a, pm
        assert node.rpc("status")["params"]["min_fee"] == "5000"
        st = node.rpc("tally", {"id": 1})
        assert st["final"] is True and st["outcome"] == "passed", st
        assert node.rpc("votes", {"id": 1})["votes"] == []
        out = node.cli("params", "min_fee").stdout
        assert re.search(r"min_fee\s+5000\s+%d\s" % a, out), out
        # the new minimum is enforced: an explicit fee of 4000 is refused at the door
        node.cli("keys", "new", "bob")
        r = node.cli("transfer", "--to", "bob", "--amount", "1", "--fee", "4000", check=False)
        assert r.returncode != 0 and "fee" in r.stderr, r.stderr
        r = node.cli("transfer", "--to", "bob", "--amount", "1", "--wait")  # the CLI's own fee
        assert "committed" in r.stdout, r.stdout
        # the log says what happened
        log = open(node.log_path).read()
        assert "gov: parameter min_fee = 5000 from height %d (proposal 1)" % a in log, node.tail()
        wait_for("the proposal events", lambda: len(events) >= 4, timeout=10)
        kinds = [e["event"] for e in events if e["id"] == 1]
        for k in ("submitted", "voting_started", "finished", "applied"):
            assert k in kinds, (k, events)
        fin = [e for e in events if e["event"] == "finished"][0]
        assert fin["status"] == "passed" and fin["height"] == a - 1, fin
        ws.close()
    finally:
        node.cleanup()


def guide_block(text):
    lines = text.splitlines()
    i = lines.index("<!-- gov-guide -->")
    j = i + 1
    while not lines[j].strip():
        j += 1
    assert lines[j].strip() == "```sh", "the <!-- gov-guide --> marker needs a ```sh block"
    k = lines.index("```", j + 1)
    return "\n".join(lines[j + 1:k]) + "\n"


def test_guide_runs():
    script = guide_block(open(os.path.join(SRC, "docs", "governance.md")).read())
    assert not re.findall(r"<[A-Za-z][^>\n]*>", script), "placeholders in the guide"
    node = Node(BIN, FAST)
    work = tempfile.mkdtemp(prefix="cohort_gov_guide_")
    try:
        node.start()
        os.symlink(os.path.dirname(os.path.abspath(BIN)), os.path.join(work, "build"))
        env = dict(os.environ, COHORT_HOME=node.home, COHORT_NODE=node.url)
        out = subprocess.run(["bash", "-e", "-c", script], cwd=work, env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, "the guide failed (%d):\n%s\n%s" % (
            out.returncode, out.stdout[-3000:], out.stderr[-3000:])
        o = out.stdout
        assert "voted yes on proposal 1" in o, o
        assert "applied      in force from height" in o, o
        assert re.search(r"min_fee\s+3000\s+\d+\s", o), o
        p2 = node.rpc("proposal_get", {"id": 2})
        assert p2["kind"] == "text" and p2["status"] in ("voting", "rejected"), p2
        assert param(node, "min_fee")["value"] == "3000"
    finally:
        node.cleanup()
        shutil.rmtree(work, ignore_errors=True)


run_tests([test_param_change_via_cli, test_guide_runs])
