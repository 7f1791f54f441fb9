#!/usr/bin/env python3
"""Integration: the RPC cannot be monopolised and never holds up consensus
(issue 7, items 2, 7 and 8), against real cohortd processes. Clients bind
127.0.0.x source addresses to act as distinct client addresses.

- a flood of 5 MiB request bodies: blocks keep being committed at their
  interval meanwhile (counted from the committed headers' times), and an
  honest client is answered;
- one address and then many addresses holding every connection and
  WebSocket they can: an honest client still submits a tx (commit mode) and
  receives WebSocket events;
- a batch of 100 `block` calls is refused by weight; a batch whose answers
  pass max_response_bytes is cut with errors; `block` pages its txs;
- thousands of idle filtered subscriptions cost no filter work per event;
- compute_simulate stops when its client goes (observable in /metrics),
  and its per-address concurrency and steps-per-minute quotas hold.

usage: test_rpc_limits.py --bin BUILD/bin [--legacy]
  --legacy: only use config keys an older cohortd knows (to show that the
  attacks succeed against it)
"""
import json
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cohort_client as cc  # noqa: E402
from harness import Node, run_tests  # noqa: E402

BIN = sys.argv[sys.argv.index("--bin") + 1]
LEGACY = "--legacy" in sys.argv
NEW_KEYS = ("max_conns_per_ip", "max_ws", "max_ws_per_ip", "max_response_bytes",
            "simulate_max_concurrent", "simulate_concurrent_per_ip",
            "simulate_steps_per_minute", "write_timeout_ms")


def make_node(conf):
    if LEGACY:
        conf = {k: v for (k, v) in conf.items() if k not in NEW_KEYS}
    n = Node(BIN, conf)
    n.start()
    return n


def finish(node):
    """Stop node: it must exit 0 (so it shut down with the RPC thread, and,
    in the sanitizer build, leak-free) and log no sanitizer report."""
    try:
        rc = node.stop()
        log = open(node.log_path, errors="replace").read()
        assert rc == 0, "cohortd exited %s\n%s" % (rc, node.tail(40))
        for bad in ("Sanitizer", "runtime error:"):
            assert bad not in log, "sanitizer report in the node's log:\n" + \
                log[log.index(bad) - 200:log.index(bad) + 3000]
    finally:
        node.cleanup()


def metric(node, name):
    """Sum of a Prometheus metric's samples whose name+labels start with name."""
    import urllib.request
    with urllib.request.urlopen(node.url + "metrics", timeout=10) as r:
        text = r.read().decode()
    total = None
    for ln in text.splitlines():
        if ln.startswith(name + " ") or ln.startswith(name + "{"):
            total = (total or 0) + float(ln.rsplit(" ", 1)[1])
    return total


_fees = {}


def transfer_tx(node, nonce, amount=1, source=None):
    """A signed CRD transfer from the dev account. The fee follows the cost
    model (docs/protocol.md): found once per node with cc.signed_transfer,
    then doubled so later nonces (longer varints) are covered too."""
    st = cc.rpc_from(node.url, "status", source=source)
    to = bytes([7] * 20)
    if node.url not in _fees:
        _, fee = cc.signed_transfer(node.dev_sec, st["chain_id"], st["params"], nonce, to, 1,
                                    amount)
        _fees[node.url] = 2 * fee
    body = cc.transfer_body(nonce, _fees[node.url], to, 1, amount)
    return cc.make_tx(node.dev_sec, st["chain_id"], body)


def blocks_between(node, t0_ms, t1_ms, h0, h1):
    """Committed blocks whose header time falls in [t0_ms, t1_ms]."""
    n = 0
    for h in range(h0, h1 + 1):
        b = node.rpc("block", {"height": h, "full": False})
        if t0_ms <= b["header"]["time_ms"] <= t1_ms:
            n += 1
    return n


# ---- item 7: big bodies -------------------------------------------------------


def test_flood_of_big_bodies_does_not_stall_consensus():
    """Sixteen clients send 5 MiB bodies (2.6 million JSON values each) for
    8 s. Before this change they were parsed on the consensus loop and block
    production nearly stopped; now blocks keep their interval."""
    node = make_node({"block_interval_ms": 200, "empty_block_interval_ms": 200})
    try:
        time.sleep(1.0)
        h0 = node.rpc("status")["latest_height"]
        body = b'{"jsonrpc":"2.0","id":1,"method":"health","params":[' + \
            b"1," * (5 * 1024 * 1024 // 2 - 40) + b'1]}'
        stop = threading.Event()
        sent = [0]
        answered = []

        def flood():
            while not stop.is_set():
                try:
                    s = socket.create_connection(("127.0.0.1", node.port), timeout=30)
                    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
                    s.sendall(body)
                    sent[0] += len(body)
                    s.recv(4096)
                    s.close()
                except OSError:
                    pass

        def honest():
            while not stop.is_set():
                try:
                    t = time.time()
                    cc.rpc_from(node.url, "status", source="127.0.0.2", timeout=20)
                    answered.append(time.time() - t)
                except Exception:
                    pass
                time.sleep(0.3)

        th = [threading.Thread(target=flood) for _ in range(16)] + [threading.Thread(target=honest)]
        t0 = int(time.time() * 1000)
        for t in th:
            t.start()
        time.sleep(8)
        t1 = int(time.time() * 1000)
        stop.set()
        for t in th:
            t.join(60)
        assert node.alive(), node.tail()
        h1 = node.rpc("status", timeout=60)["latest_height"]
        n = blocks_between(node, t0, t1, h0, h1)
        print("  flood: %.0f MiB sent in %.1f s; %d blocks committed meanwhile (interval 200 ms, "
              "%d expected); honest status answered %d times, slowest %.2f s"
              % (sent[0] / 2**20, (t1 - t0) / 1000, n, (t1 - t0) // 200, len(answered),
                 max(answered) if answered else -1), flush=True)
        assert sent[0] >= 100 * 2**20, "the flood did not happen: %d bytes" % sent[0]
        # 40 expected (37 seen here); at least half. The node before this
        # change made 7 and 14 in two runs of this test.
        assert n >= (t1 - t0) // 200 // 2, "only %d blocks in %d ms of flood" % (n, t1 - t0)
        assert answered, "the honest client was never answered"
    finally:
        finish(node)


# ---- item 2: holding connections ----------------------------------------------


def hold_http(port, source, n):
    """Open n keep-alive connections from source, each after one request;
    returns the sockets the server kept (the others were refused)."""
    held = []
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                         source_address=(source, 0))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            r = s.recv(4096)
            if b" 200 " in r.split(b"\r\n")[0]:
                held.append(s)
            else:
                s.close()
        except OSError:
            pass
    return held


def hold_ws(url, source, n):
    held = []
    for _ in range(n):
        try:
            held.append(cc.WebSocket(url, source=source))
        except (IOError, OSError):
            pass
    return held


def test_rpc_cannot_be_monopolised():
    """Item 2: an attacker holds every connection and WebSocket it can, from
    one address, then from eight; an honest executor's address still gets
    its tx committed and its WebSocket events."""
    node = make_node({"block_interval_ms": 200, "max_conns": 48, "max_conns_per_ip": 16,
                      "max_ws": 16, "max_ws_per_ip": 4})
    held = []
    try:
        held += hold_ws(node.url, "127.0.0.1", 16)
        held += hold_http(node.port, "127.0.0.1", 48)
        for i in range(3, 11):
            held += hold_http(node.port, "127.0.0.%d" % i, 16)
            held += hold_ws(node.url, "127.0.0.%d" % i, 4)
        print("  attacker was admitted %d times (the table holds 48: idle ones were evicted for "
              "newcomers)" % len(held), flush=True)
        # the honest client: a subscription, then a tx in commit mode
        ws = cc.WebSocket(node.url, source="127.0.0.2")
        ws.call("subscribe", {"topic": "new_block"})
        nonce = int(cc.rpc_from(node.url, "account", {"address": node.dev_addr},
                                source="127.0.0.2")["nonce"])
        tx = transfer_tx(node, nonce, 5, source="127.0.0.2")
        r = cc.rpc_from(node.url, "broadcast_tx", {"tx": tx.hex(), "mode": "commit"},
                        source="127.0.0.2", timeout=30)
        assert r["code"] == 0 and r["height"] >= 1, r
        deadline = time.time() + 10
        got = False
        while not got and time.time() < deadline:
            m = ws.recv()
            got = m.get("method") == "subscription" and m["params"]["result"]["height"] >= r["height"]
        assert got, "no new_block event"
        ws.close()
        if not LEGACY:
            assert metric(node, "cohort_rpc_connections_evicted_total") > 0
            assert metric(node, "cohort_rpc_connections_refused_total") > 0
    finally:
        for h in held:
            try:
                (h.sock if hasattr(h, "sock") else h).close()
            except OSError:
                pass
        finish(node)


# ---- item 7: big answers, pagination, idle subscriptions ----------------------


def test_big_answers_are_bounded():
    node = make_node({"block_interval_ms": 200, "max_response_bytes": 16384})
    try:
        # five txs in one request so they land in one block
        nonce = int(node.rpc("account", {"address": node.dev_addr})["nonce"])
        batch = [{"jsonrpc": "2.0", "id": i, "method": "broadcast_tx",
                  "params": {"tx": transfer_tx(node, nonce + i).hex()}} for i in range(5)]
        st, out = cc.raw_post(node.url, json.dumps(batch).encode())
        assert st == 200 and all("result" in x for x in out), out
        deadline = time.time() + 20
        while int(node.rpc("account", {"address": node.dev_addr})["nonce"]) < nonce + 5:
            assert time.time() < deadline, "txs not committed"
            time.sleep(0.1)
        tip = node.rpc("status")["latest_height"]
        big = None
        for h in range(1, tip + 1):
            b = node.rpc("block", {"height": h, "full": False})
            if b["header"]["num_txs"] >= 2:
                big = h
        assert big, "no block with 2 txs"
        # pagination
        p1 = node.rpc("block", {"height": big, "txs_limit": 1})
        assert len(p1["txs"]) == 1 and p1["txs_offset"] == 0 and p1["txs_next_offset"] == 1, p1
        p2 = node.rpc("block", {"height": big, "txs_offset": 1, "txs_limit": 1000})
        assert len(p2["txs"]) == p2["header"]["num_txs"] - 1 and p2["txs_next_offset"] is None
        # 100 block calls in a batch: refused by weight (10 each, limit 200)
        calls = [{"jsonrpc": "2.0", "id": i, "method": "block", "params": {"height": big}}
                 for i in range(100)]
        st, out = cc.raw_post(node.url, json.dumps(calls).encode())
        if not LEGACY:
            assert st == 400 and out["error"]["code"] == -32005, (st, out)
            assert "weighs 1000" in out["error"]["message"], out
        # 20 full blocks: the answers pass 16 KiB, the rest are cut
        st, out = cc.post_from(node.url, json.dumps(calls[:20]).encode())
        raw_len = len(json.dumps(out))
        print("  batch of 20 full blocks: %d bytes answered" % raw_len, flush=True)
        assert st == 200 and len(out) == 20
        cut = [x for x in out if "error" in x]
        assert cut and all(x["error"]["code"] == -32005 for x in cut), out[:3]
        assert raw_len < 16384 + 20 * 400, raw_len
    finally:
        finish(node)


def test_idle_subscriptions_cost_nothing_per_event():
    """4,096 idle subscriptions filtered on other senders (128 WebSockets
    from four addresses): committing txs does no filter work for them,
    while a matching subscriber gets every tx event."""
    node = make_node({"block_interval_ms": 200, "max_ws": 200})
    conns = []
    try:
        # signed first (Python's Schnorr is slow): the WebSockets below must
        # not sit unread for long (they answer pings only while reading)
        nonce = int(node.rpc("account", {"address": node.dev_addr})["nonce"])
        txs = [transfer_tx(node, nonce + i).hex() for i in range(50)]
        for a in range(4):
            for i in range(32):
                ws = cc.WebSocket(node.url, source="127.0.0.%d" % (3 + a))
                for k in range(32):
                    other = cc.address(bytes([a, i, k]) + bytes(29))  # nobody's
                    ws.call("subscribe", {"topic": "tx", "filter": {"sender": other}})
                conns.append(ws)
        me = cc.WebSocket(node.url, source="127.0.0.2")
        me.call("subscribe", {"topic": "tx", "filter": {"sender": node.dev_addr}})
        c0 = metric(node, "cohort_rpc_ws_filter_checks_total")
        hashes = set()
        for i in range(0, 50, 25):  # 25 x weight 5 = 125 <= max_batch_weight
            batch = [{"jsonrpc": "2.0", "id": k, "method": "broadcast_tx", "params": {"tx": t}}
                     for k, t in enumerate(txs[i:i + 25])]
            st, out = cc.raw_post(node.url, json.dumps(batch).encode())
            assert st == 200, out
            hashes |= {x["result"]["hash"] for x in out}
        seen = set()
        deadline = time.time() + 30
        while seen != hashes and time.time() < deadline:
            m = me.recv()
            if m.get("method") == "subscription":
                seen.add(m["params"]["result"]["hash"])
        assert seen == hashes, "missing %d tx events" % len(hashes - seen)
        c1 = metric(node, "cohort_rpc_ws_filter_checks_total")
        print("  %d subscriptions; filter checks for 50 tx events: %d" %
              (metric(node, "cohort_rpc_ws_subscriptions"), c1 - c0), flush=True)
        assert c1 - c0 == 50, (c0, c1)  # only the matching one, once per event
    finally:
        for w in conns:
            w.close()
        finish(node)


# ---- item 8: compute_simulate ---------------------------------------------------


def loop_elf():
    """A static RV32 ELF whose only instruction jumps to itself."""
    code = struct.pack("<I", 0x0000006F)  # jal x0, 0
    ehdr = b"\x7fELF" + bytes([1, 1, 1, 0]) + bytes(8)
    ehdr += struct.pack("<HHIIIIIHHHHHH", 2, 243, 1, 0x10000, 52, 0, 0, 52, 32, 1, 40, 0, 0)
    phdr = struct.pack("<IIIIIIII", 1, 0x1000, 0x10000, 0x10000, len(code), len(code), 5, 0x1000)
    img = ehdr + phdr
    return img + bytes(0x1000 - len(img)) + code


def page_toucher_elf(mem_mib):
    """Grows its heap up to the stack (brk), then stores to every 4 KiB page
    from 0x20000 up until a store faults past the stack at the end of the
    task's memory: the most memory a simulation can make the node hold."""
    mem_cap = mem_mib << 20
    stack_lo = mem_cap - min(8 << 20, mem_cap // 4)  # docs/vm.md memory map
    code = struct.pack("<8I",
                       (stack_lo & 0xFFFFF000) | (10 << 7) | 0x37,  # lui a0, stack_lo
                       0x0D600893,  # addi a7, x0, 214 (brk)
                       0x00000073,  # ecall
                       0x000202B7,  # lui t0, 0x20
                       0x000013B7,  # lui t2, 0x1
                       0x0052A023,  # sw t0, 0(t0)
                       0x007282B3,  # add t0, t0, t2
                       0xFF9FF06F)  # j -8
    ehdr = b"\x7fELF" + bytes([1, 1, 1, 0]) + bytes(8)
    ehdr += struct.pack("<HHIIIIIHHHHHH", 2, 243, 1, 0x10000, 52, 0, 0, 52, 32, 1, 40, 0, 0)
    phdr = struct.pack("<IIIIIIII", 1, 0x1000, 0x10000, 0x10000, len(code), len(code), 5, 0x1000)
    img = ehdr + phdr
    return img + bytes(0x1000 - len(img)) + code


def peak_rss_mib(node):
    for ln in open("/proc/%d/status" % node.proc.pid):
        if ln.startswith("VmHWM"):
            return int(ln.split()[1]) // 1024
    return -1


def simulate_raw(node, source, max_steps):
    """Start compute_simulate on a raw socket from source; the caller reads
    or closes it."""
    import base64
    req = {"jsonrpc": "2.0", "id": 1, "method": "compute_simulate",
           "params": {"program_base64": base64.b64encode(loop_elf()).decode(),
                      "max_steps": max_steps, "mem_mib": 4}}
    body = json.dumps(req).encode()
    s = socket.create_connection(("127.0.0.1", node.port), timeout=60, source_address=(source, 0))
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    return s


def read_json_answer(s):
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, rest = data.split(b"\r\n\r\n", 1)
    n = int([ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0])
    while len(rest) < n:
        rest += s.recv(65536)
    return json.loads(rest[:n])


def wait_metric(node, name, want, secs):
    deadline = time.time() + secs
    while time.time() < deadline:
        v = metric(node, name)
        if v == want:
            return True
        time.sleep(0.1)
    return False


def test_simulate_cancelled_on_disconnect_and_limited_per_address():
    node = make_node({"simulate_max_concurrent": 2, "simulate_concurrent_per_ip": 1})
    try:
        # memory: 1024 MiB is over the default cap (256); a program touching
        # all of its 256 MiB leaves the node's peak RSS well under 1 GiB
        # (before: 1024 MiB allowed, 2.1 GB peak for one call)
        b64 = __import__("base64").b64encode(page_toucher_elf(1024)).decode()
        try:
            node.rpc("compute_simulate", {"program_base64": b64, "mem_mib": 1024})
            raise AssertionError("mem_mib 1024 accepted")
        except cc.RpcError as e:
            assert e.code == -32602 and "simulate_max_mem_mib" in str(e), str(e)
        b64 = __import__("base64").b64encode(page_toucher_elf(256)).decode()
        r = node.rpc("compute_simulate", {"program_base64": b64, "mem_mib": 256}, timeout=120)
        assert r["status"] == "trapped" and r["trap"] == "store_fault", r
        assert r["steps"] > 3 * (250 << 20) // 4096, r  # it touched (almost) every page
        rss = peak_rss_mib(node)
        print("  a simulation touching all of its 256 MiB: peak RSS %d MiB" % rss, flush=True)
        assert 0 < rss < 1024, rss
        # a short run works and says it ran out of steps
        r = cc.rpc_from(node.url, "compute_simulate",
                        {"program_base64": __import__("base64").b64encode(loop_elf()).decode(),
                         "max_steps": 100000, "mem_mib": 4}, source="127.0.0.2")
        assert r["status"] == "out_of_steps" and r["steps"] == 100000, r
        a = simulate_raw(node, "127.0.0.2", 10**10)  # ~a minute of VM if left running
        time.sleep(0.5)
        # the same address may not start a second one; another may
        try:
            cc.rpc_from(node.url, "compute_simulate",
                        {"program_base64": __import__("base64").b64encode(loop_elf()).decode(),
                         "max_steps": 1000}, source="127.0.0.2")
            raise AssertionError("a second simulation from one address was accepted")
        except cc.RpcError as e:
            assert e.code == -32005 and "simulate_concurrent_per_ip" in str(e), str(e)
        b = simulate_raw(node, "127.0.0.3", 10**10)
        time.sleep(0.5)
        assert metric(node, "cohort_simulate_running") == 2
        try:
            cc.rpc_from(node.url, "compute_simulate",
                        {"program_base64": __import__("base64").b64encode(loop_elf()).decode(),
                         "max_steps": 1000}, source="127.0.0.4")
            raise AssertionError("a third simulation was accepted (limit 2)")
        except cc.RpcError as e:
            assert e.code == -32005 and "simulate_max_concurrent" in str(e), str(e)
        # both clients go away: both runs stop within moments
        t = time.time()
        a.close()
        b.close()
        assert wait_metric(node, "cohort_simulate_running", 0, 10), "simulations kept running"
        print("  two 10^10-step simulations stopped %.2f s after their clients left"
              % (time.time() - t), flush=True)
        assert metric(node, 'cohort_simulate_total{result="cancelled"}') == 2
    finally:
        finish(node)


def test_simulate_steps_per_minute_quota():
    node = make_node({"simulate_steps_per_minute": 200000000})
    try:
        s = simulate_raw(node, "127.0.0.5", 10**9)
        out = read_json_answer(s)
        s.close()
        assert out["error"]["code"] == -32005 and "simulate_steps_per_minute" in out["error"]["message"], out
        steps = out["error"]["data"]["steps"]
        assert 200000000 <= steps < 400000000, steps
        # spent: refused at once; another address is not
        try:
            cc.rpc_from(node.url, "compute_simulate",
                        {"program_base64": __import__("base64").b64encode(loop_elf()).decode(),
                         "max_steps": 1000}, source="127.0.0.5")
            raise AssertionError("a spent address may simulate")
        except cc.RpcError as e:
            assert e.code == -32005, str(e)
        r = cc.rpc_from(node.url, "compute_simulate",
                        {"program_base64": __import__("base64").b64encode(loop_elf()).decode(),
                         "max_steps": 1000}, source="127.0.0.6")
        assert r["steps"] == 1000
        assert metric(node, 'cohort_simulate_total{result="quota"}') == 1
    finally:
        finish(node)


if __name__ == "__main__":
    ALL = [test_flood_of_big_bodies_does_not_stall_consensus, test_rpc_cannot_be_monopolised,
               test_big_answers_are_bounded, test_idle_subscriptions_cost_nothing_per_event,
               test_simulate_cancelled_on_disconnect_and_limited_per_address,
               test_simulate_steps_per_minute_quota]
    only = os.environ.get("ONLY")
    run_tests([t for t in ALL if not only or only in t.__name__])
