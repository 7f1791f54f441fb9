#!/usr/bin/env python3
"""Integration: a real cohortd on a temp home and free port, driven through
the CLI and raw JSON-RPC. Transfers of both tokens, every kind of bad input
(the node must stay up and say what was wrong), kill -9 mid-stream and
restart (committed txs survive, heights continue, app_hash unchanged), and
graceful shutdown.

usage: test_chain.py --bin BUILD/bin
"""
import base64
import os
import stat
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cohort_client as cc  # noqa: E402
from harness import Node, run_tests  # noqa: E402

BIN = sys.argv[sys.argv.index("--bin") + 1]
FAST = {"block_interval_ms": 200}
FEE = 10000  # covers any transfer's gas at the default price (docs/protocol.md "Cost model")
node = None


def setup_node():
    global node
    node = Node(BIN, FAST)
    node.start()


def balances(addr):
    a = node.rpc("account", {"address": addr})
    return int(a["crd"]), int(a["stk"]), a["nonce"]


def test_init_writes_keys_0600():
    assert "dev account key:" in node.init_output, node.init_output
    for rel in ("keys/dev.json", "config/priv_validator_key.json", "config/node_key.json"):
        mode = stat.S_IMODE(os.stat(os.path.join(node.home, rel)).st_mode)
        assert mode == 0o600, "%s has mode %o" % (rel, mode)
    out = node.cli("keys", "new", "alice")
    assert "coh1" in out.stdout
    mode = stat.S_IMODE(os.stat(os.path.join(node.home, "keys/alice.json")).st_mode)
    assert mode == 0o600
    again = node.cli("keys", "new", "alice", check=False)
    assert again.returncode != 0 and "exists" in again.stderr, again.stderr


def test_cli_transfers_both_tokens():
    alice = node.cli_json("keys", "show", "alice")["address"]
    crd0, stk0, n0 = balances(node.dev_addr)
    r = node.cli_json("transfer", "--to", alice, "--amount", "2500000", "--wait")
    assert r["code"] == 0 and r["height"] >= 1, r
    r2 = node.cli_json("transfer", "--to", alice, "--amount", "42", "--token", "STK", "--wait")
    assert r2["code"] == 0, r2
    crd1, stk1, n1 = balances(node.dev_addr)
    # the fees go to the fee pool, and from there to the validator's
    # delegators as rewards (docs/staking.md §4), not to the proposer
    fees = sum(int(node.cli_json("tx", x["hash"])["fee_paid"]) for x in (r, r2))
    assert crd1 == crd0 - 2500000 - fees, (crd0, crd1, fees)
    assert stk1 == stk0 - 42
    assert n1 == n0 + 2
    a = node.cli_json("account", "alice")
    assert (a["crd"], a["stk"], a["nonce"]) == ("2500000", "42", 0), a
    t = node.cli_json("tx", r["hash"])
    assert t["height"] == r["height"] and t["code"] == 0 and t["tx"]["msg"]["amount"] == "2500000"
    # the CLI pays exactly what the cost model asks (computed here independently)
    params = node.rpc("status")["params"]
    tx_len = len(bytes.fromhex(t["tx"]["raw"]))
    assert t["fee_paid"] == str(cc.fee_due(cc.transfer_gas(tx_len, params), params)), t
    b = node.cli_json("block", str(r2["height"]))
    assert r2["hash"] in [x["hash"] for x in b["txs"]]
    # each proposal reveals the next link of the validator's beacon hash chain
    prev = node.cli_json("block", str(r2["height"] - 1))["header"]["beacon_reveal"]
    import hashlib
    assert hashlib.sha256(bytes.fromhex(b["header"]["beacon_reveal"])).hexdigest() == prev
    human = node.cli("account", "alice").stdout
    assert "2.500000" in human and "0.000042" in human, human


def test_raw_rpc_transfers():
    st = node.rpc("status")
    to = cc.account_id(cc.schnorr_pubkey(bytes([9] * 32)))
    nonce = node.rpc("account", {"address": node.dev_addr})["next_nonce"]
    tx1 = cc.make_tx(node.dev_sec, st["chain_id"], cc.transfer_body(nonce, FEE, to, 1, 777))
    tx2 = cc.make_tx(node.dev_sec, st["chain_id"], cc.transfer_body(nonce + 1, FEE, to, 2, 5))
    r1 = node.rpc("broadcast_tx", {"tx": tx1.hex(), "mode": "sync"})
    assert r1["hash"] == cc.tx_hash(tx1), r1
    r2 = node.rpc("broadcast_tx", {"tx_base64": base64.b64encode(tx2).decode(), "mode": "commit"})
    assert r2["code"] == 0 and r2["hash"] == cc.tx_hash(tx2)
    got = node.rpc("tx", {"hash": cc.tx_hash(tx1)})
    assert got["code"] == 0 and got["height"] <= r2["height"]
    acct = node.rpc("account", {"address": cc.bech32_encode("coh", to)})
    assert (acct["crd"], acct["stk"]) == ("777", "5"), acct
    # positional params work too
    assert node.rpc("account", [cc.bech32_encode("coh", to)])["crd"] == "777"


def test_websocket_tx_and_block_events():
    ws = cc.WebSocket(node.url)
    ws.call("subscribe", {"topic": "tx", "filter": {"sender": node.dev_addr}})
    ws.call("subscribe", {"topic": "new_block"})
    try:
        ws.call("subscribe", {"topic": "nope"})
        raise AssertionError("unknown topic accepted")
    except cc.RpcError as e:
        assert e.code == -32602
    # methods work over the socket too
    assert ws.call("status", None)["chain_id"] == node.rpc("status")["chain_id"]
    alice = node.cli_json("keys", "show", "alice")["address"]
    r = node.cli_json("transfer", "--to", alice, "--amount", "7", "--wait")
    got_tx = got_block = None
    deadline = time.time() + 20
    while (not got_tx or not got_block) and time.time() < deadline:
        m = ws.recv()
        if m.get("method") != "subscription":
            continue
        ev, topic = m["params"]["result"], m["params"]["topic"]
        if topic == "tx" and ev["hash"] == r["hash"]:
            got_tx = ev
        if topic == "new_block" and ev["height"] == r["height"]:
            got_block = ev
    ws.close()
    assert got_tx and got_tx["type"] == "transfer" and got_tx["code"] == 0, got_tx
    assert got_block and got_block["num_txs"] >= 1, got_block


def expect_rpc_error(method, params, code, reason=None, text=None):
    try:
        node.rpc(method, params)
    except cc.RpcError as e:
        assert e.code == code, "%s: code %s (%s), wanted %s" % (method, e.code, e, code)
        if reason:
            assert (e.data or {}).get("codespace") == reason, (str(e), e.data)
        if text:
            assert text in str(e), str(e)
        return str(e)
    raise AssertionError("%s %r was accepted" % (method, params))


def test_bad_input_gets_clear_errors_and_node_stays_up():
    url = node.url
    st = node.rpc("status")
    cid = st["chain_id"]
    h0 = st["latest_height"]
    # malformed JSON and wrong JSON-RPC shapes
    s, r = cc.raw_post(url, b'{"jsonrpc":"2.0","method":')
    assert r["error"]["code"] == -32700, r
    s, r = cc.raw_post(url, b"[]")
    assert r["error"]["code"] == -32600, r
    s, r = cc.raw_post(url, b'{"jsonrpc":"1.0","id":1,"method":"status"}')
    assert r["error"]["code"] == -32600, r
    s, r = cc.raw_post(url, b'{"jsonrpc":"2.0","id":1,"method":7}')
    assert r["error"]["code"] == -32600, r
    s, r = cc.raw_post(url, b'{"jsonrpc":"2.0","id":1,"method":"status","params":"x"}')
    assert r["error"]["code"] in (-32600, -32602), r
    s, r = cc.raw_post(url, b"[" + b"[" * 5000 + b"]" * 5000 + b"]")
    assert s in (200, 400) and "error" in str(r), r
    expect_rpc_error("nope", None, -32601)
    expect_rpc_error("account", {"address": "coh1notanaddress"}, -32602, text="address")
    expect_rpc_error("account", {"adress": node.dev_addr}, -32602, text="adress")
    expect_rpc_error("block", {"height": "abc"}, -32602, text="height")
    expect_rpc_error("block", {"height": 10 ** 9}, -32004)
    expect_rpc_error("tx", {"hash": "00" * 32}, -32004)
    expect_rpc_error("tx", {"hash": "xyz"}, -32602)
    # oversize body: refused with 413, not read into memory
    s, r = cc.raw_post(url, b'{"x":"' + b"a" * (6 << 20) + b'"}')
    assert s == 413, (s, str(r)[:200])
    # transaction encodings
    expect_rpc_error("broadcast_tx", {"tx": "zz"}, -32602, text="hex")
    expect_rpc_error("broadcast_tx", {"tx_base64": "!!!"}, -32602, text="base64")
    max_tx = st["params"]["max_tx_bytes"]
    expect_rpc_error("broadcast_tx", {"tx": "ab" * (max_tx + 1)}, -32602, text="max_tx_bytes")
    expect_rpc_error("broadcast_tx", {"tx": "00", "tx_base64": "AA=="}, -32602)
    expect_rpc_error("broadcast_tx", {"tx": "00", "mode": "later"}, -32602, text="mode")
    nonce = node.rpc("account", {"address": node.dev_addr})["next_nonce"]
    to = cc.account_id(cc.schnorr_pubkey(bytes([5] * 32)))

    def tx(body, chain=cid, sec=node.dev_sec):
        return cc.make_tx(sec, chain, body).hex()

    good = cc.make_tx(node.dev_sec, cid, cc.transfer_body(nonce, FEE, to, 1, 1))
    expect_rpc_error("broadcast_tx", {"tx": good[:-10].hex()}, -32001, "decode")
    expect_rpc_error("broadcast_tx", {"tx": os.urandom(200).hex()}, -32001)
    bad_sig = bytearray(good)
    bad_sig[-1] ^= 1
    expect_rpc_error("broadcast_tx", {"tx": bytes(bad_sig).hex()}, -32001, "signature")
    expect_rpc_error("broadcast_tx", {"tx": tx(cc.transfer_body(nonce, FEE, to, 1, 1), "other-chain")},
                     -32001, "signature")
    # text fields must be printable UTF-8 (a memo once vanished from block and tx views)
    expect_rpc_error("broadcast_tx", {"tx": tx(cc.transfer_body(nonce, FEE, to, 1, 1, memo=b"\xff\xfe"))},
                     -32001, "invalid", text="UTF-8")
    expect_rpc_error("broadcast_tx", {"tx": tx(cc.transfer_body(nonce, FEE, to, 1, 1, memo=b"\x1b[2J"))},
                     -32001, "invalid", text="UTF-8")
    # non-canonical encodings of a signed tx: the same signature under another hash
    body = cc.transfer_body(nonce, FEE, to, 1, 1)
    sig_tx = cc.make_tx(node.dev_sec, cid, body)
    twice = sig_tx + cc.pb_bytes(1, body)  # Tx.body written twice ("last wins")
    expect_rpc_error("broadcast_tx", {"tx": twice.hex()}, -32001, "decode", text="canonical")
    # the nonce written a second time (or, at 0, a default written out), signed as is
    dup_nonce = cc.make_tx(node.dev_sec, cid, body + b"\x08" + cc._varint(nonce) if nonce else
                           b"\x08\x00" + body)
    expect_rpc_error("broadcast_tx", {"tx": dup_nonce.hex()}, -32001, "decode", text="canonical")
    expect_rpc_error("broadcast_tx", {"tx": tx(cc.transfer_body(nonce + 5, FEE, to, 1, 1))},
                     -32001, "nonce_future")
    expect_rpc_error("broadcast_tx", {"tx": tx(cc.transfer_body(nonce, FEE, to, 3, 1))},
                     -32001, "token")
    expect_rpc_error("broadcast_tx", {"tx": tx(cc.transfer_body(nonce, FEE, to, 1, 0))},
                     -32001, "amount")
    expect_rpc_error("broadcast_tx", {"tx": tx(cc.transfer_body(nonce, 1, to, 1, 1))}, -32001, "fee")
    expect_rpc_error("broadcast_tx", {"tx": tx(cc.transfer_body(nonce, FEE, to, 1, 2 ** 64 - 1))},
                     -32001, "overflow")
    expect_rpc_error("broadcast_tx", {"tx": tx(cc.transfer_body(nonce, FEE, to[:5], 1, 1))},
                     -32001, "address")
    # insufficient balance of either token, from a fresh, lightly funded account
    poor = bytes([7] * 32)
    poor_addr = cc.address(cc.schnorr_pubkey(poor))
    r = node.rpc("broadcast_tx", {"tx": tx(cc.transfer_body(nonce, FEE, cc.bech32_decode("coh", poor_addr), 1, 20000)),
                                  "mode": "commit"})
    assert r["code"] == 0, r
    expect_rpc_error("broadcast_tx", {"tx": tx(cc.transfer_body(0, FEE, to, 1, 10001), sec=poor)},
                     -32001, "funds", text="CRD")
    expect_rpc_error("broadcast_tx", {"tx": tx(cc.transfer_body(0, FEE, to, 2, 1), sec=poor)},
                     -32001, "funds", text="STK")
    # replay of a committed tx, and reuse of its nonce
    first = cc.make_tx(node.dev_sec, cid, cc.transfer_body(nonce + 1, FEE, to, 1, 3))
    assert node.rpc("broadcast_tx", {"tx": first.hex(), "mode": "commit"})["code"] == 0
    expect_rpc_error("broadcast_tx", {"tx": first.hex()}, -32001, "duplicate")
    expect_rpc_error("broadcast_tx", {"tx": tx(cc.transfer_body(nonce + 1, 2000, to, 1, 3))},
                     -32001, "nonce_old")
    # the CLI fails loudly too
    out = node.cli("transfer", "--to", "coh1bad", "--amount", "1", check=False)
    assert out.returncode == 2 and "coh1" in out.stderr, out.stderr
    out = node.cli("transfer", "--to", node.dev_addr, "--amount", "1", "--token", "GOLD", check=False)
    assert out.returncode == 2 and "unknown token" in out.stderr, out.stderr
    out = node.cli("transfer", "--to", node.dev_addr, "--amount", "18446744073709551616", check=False)
    assert out.returncode == 2, out.stderr
    import subprocess
    out = subprocess.run([node.exe("cohort"), "--node", "http://127.0.0.1:1", "status"],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "cannot reach" in out.stderr, out.stderr
    # still up, still making blocks, nothing lost
    assert node.alive(), node.tail()
    assert node.rpc("health") == {}
    assert node.rpc("status")["latest_height"] > h0
    m = cc.raw_post(url.rstrip("/") + "/metrics", b"")  # POST to /metrics is refused
    assert m[0] in (404, 405), m


def test_key_files_are_durable():
    """A key file is fsynced, linked into place and its directory fsynced
    (an executor that loses its salt is slashed; a lost key is lost money).
    Checked with strace on the real CLI; skipped where strace is missing."""
    import shutil
    import subprocess
    if not shutil.which("strace"):
        print("  (skipped: strace is not installed)")
        return
    out = subprocess.run(["strace", "-f", "-e", "trace=openat,fsync,fdatasync,link,rename,renameat,renameat2",
                          node.exe("cohort"), "--home", node.home, "keys", "new", "durable"],
                         capture_output=True, text=True,
                         env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))  # LSan cannot run under ptrace
    assert out.returncode == 0, out.stderr
    trace = out.stderr
    keys_dir = os.path.join(node.home, "keys")
    # the directory itself is opened (O_DIRECTORY) and fsynced after the file lands
    lines = trace.splitlines()
    land = [i for i, ln in enumerate(lines) if ("link(" in ln or "rename" in ln) and "durable.json" in ln]
    assert land, trace
    dir_opens = [i for i, ln in enumerate(lines) if "O_DIRECTORY" in ln and keys_dir in ln and i > land[-1]]
    assert dir_opens, "the keys directory is never opened after the key lands:\n" + trace
    fd = lines[dir_opens[0]].rsplit("=", 1)[1].strip()
    assert any(("fsync(%s)" % fd) in ln for ln in lines[dir_opens[0]:]), trace
    file_syncs = [ln for ln in lines[:land[-1]] if "fsync(" in ln]
    assert file_syncs, "the key file is not fsynced before it is linked:\n" + trace


def test_kill9_mid_stream_then_restart():
    n2 = Node(BIN, FAST)
    try:
        n2.start()
        st = n2.rpc("status")
        cid = st["chain_id"]
        # three funded senders stream transfers concurrently
        secs = [bytes([40 + i] * 32) for i in range(3)]
        nonce = n2.rpc("account", {"address": n2.dev_addr})["next_nonce"]
        for i, s in enumerate(secs):
            body = cc.transfer_body(nonce + i, FEE, cc.account_id(cc.schnorr_pubkey(s)), 1, 10 ** 9)
            n2.rpc("broadcast_tx", {"tx": cc.make_tx(n2.dev_sec, cid, body).hex(),
                                    "mode": "commit" if i == 2 else "sync"})
        acked = []  # (hash, height) acknowledged as committed
        stop = threading.Event()

        def stream(sec):
            n = 0
            to = cc.account_id(cc.schnorr_pubkey(bytes([99] * 32)))
            while not stop.is_set():
                t = cc.make_tx(sec, cid, cc.transfer_body(n, FEE, to, 1, 1 + n))
                try:
                    r = cc.rpc(n2.url, "broadcast_tx", {"tx": t.hex(), "mode": "commit"}, timeout=10)
                except Exception:
                    return
                assert r["code"] == 0
                acked.append((r["hash"], r["height"]))
                n += 1

        threads = [threading.Thread(target=stream, args=(s,)) for s in secs]
        for t in threads:
            t.start()
        time.sleep(4)
        before = n2.rpc("status")
        n2.kill9()
        stop.set()
        for t in threads:
            t.join(timeout=15)
        assert len(acked) >= 6, "only %d txs committed before the kill" % len(acked)
        n2.start()
        after = n2.rpc("status")
        assert after["latest_height"] >= before["latest_height"]
        for h, height in acked:
            t = n2.rpc("tx", {"hash": h})
            assert t["height"] == height and t["code"] == 0, (h, t)
        hb = before["latest_height"]
        if after["latest_height"] > hb:
            nxt = n2.rpc("block", {"height": hb + 1})
            assert nxt["header"]["app_hash"] == before["latest_app_hash"]
        else:
            assert after["latest_app_hash"] == before["latest_app_hash"]
        # heights continue: a new tx lands in a later block
        nonce = n2.rpc("account", {"address": n2.dev_addr})["next_nonce"]
        t = cc.make_tx(n2.dev_sec, cid, cc.transfer_body(nonce, FEE, cc.account_id(bytes(32)), 1, 1))
        r = n2.rpc("broadcast_tx", {"tx": t.hex(), "mode": "commit"})
        assert r["height"] > after["latest_height"], (r, after)
        # the stored chain verifies: every block links to its parent
        prev = None
        for h in range(1, r["height"] + 1):
            b = n2.rpc("block", {"height": h, "full": False})
            if prev:
                assert b["header"]["prev_hash"] == prev
            prev = b["hash"]
        print("  kill -9 after %d acknowledged txs at height %d; resumed at %d"
              % (len(acked), hb, after["latest_height"]))
    finally:
        n2.cleanup()


def test_sigterm_is_graceful():
    rc = node.stop()
    assert rc == 0, "exit code %s\n%s" % (rc, node.tail())
    assert "stopped cleanly" in node.tail(5), node.tail(5)
    node.cleanup()


if __name__ == "__main__":
    setup_node()
    run_tests([test_init_writes_keys_0600, test_cli_transfers_both_tokens, test_raw_rpc_transfers,
               test_key_files_are_durable,
               test_websocket_tx_and_block_events,
               test_bad_input_gets_clear_errors_and_node_stays_up,
               test_kill9_mid_stream_then_restart, test_sigterm_is_graceful])
