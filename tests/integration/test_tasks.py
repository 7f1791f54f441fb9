#!/usr/bin/env python3
"""Integration: the compute market with real processes — a cohortd, staked
executors as `cohort executor run` processes, customers using the CLI.
Task outputs equal what qemu-riscv32 prints for the same ELF and input; a
dead executor is slashed and replaced and the task still finishes; an
executor killed after committing reveals correctly once restarted; a lying
member puts the task in DISPUTED; a task nobody serves expires with a full
refund. Every case also checks that the supply of both tokens adds up.

usage: test_tasks.py --bin BUILD/bin --guests BUILD/vm/guest
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cohort_client as cc  # noqa: E402
from harness import Node, run_tests  # noqa: E402

BIN = sys.argv[sys.argv.index("--bin") + 1]
GUESTS = sys.argv[sys.argv.index("--guests") + 1]
node = None
procs = {}


def addr(name):
    return node.cli_json("keys", "show", name)["address"]


def start_exec(name, *extra):
    log = open(os.path.join(node.home, name + ".log"), "ab")
    procs[name] = subprocess.Popen([node.exe("cohort"), "--node", node.url, "--home", node.home,
                                    "executor", "run", "--key", name, "--poll-ms", "100"] + list(extra),
                                   stdout=log, stderr=subprocess.STDOUT)


def stop_exec(name, sig=signal.SIGTERM):
    p = procs.pop(name, None)
    if p:
        p.send_signal(sig)
        p.wait(timeout=20)


def set_accepting(name, on):
    args = ["executor", "register", "--stake", "0", "--price", "1000", "--from", name]
    if not on:
        args.append("--not-accepting")
    for _ in range(100):  # a no-show is jailed for a few blocks before it may come back
        out = node.cli(*args, check=False)
        if out.returncode == 0:
            return
        # jailed for a few blocks, or the executor's own runner has a
        # registration pending with the same nonce (it re-registers after a
        # jail): try again
        assert "jailed" in out.stderr or "pending tx" in out.stderr, out.stderr
        time.sleep(0.2)
    raise AssertionError("%s stayed jailed" % name)


def wait_accepting(k, timeout=30):
    # runners re-register themselves once their jail is over (a few blocks)
    deadline = time.time() + timeout
    while time.time() < deadline:
        acc = [e for e in node.rpc("executor_list")["executors"] if e["accepting"]]
        if len(acc) >= k:
            return
        time.sleep(0.2)
    raise AssertionError("fewer than %d executors accept work after %d s" % (k, timeout))


def setup():
    global node
    # short windows for a fast test: the run-time margin and reveal window in blocks
    node = Node(BIN, {"block_interval_ms": 150},
                genesis_params={"window_margin_blocks": 2, "reveal_blocks": 4, "exec_steps_per_block": "100000000",
                                "challenge_blocks": 30, "dispute_bond": "1000000000",
                                "dispute_move_blocks": 60,
                                "liveness_jail_blocks": 5, "draw_wait_blocks": 200})
    node.start()
    for i in range(1, 5):
        name = "exec%d" % i
        node.cli("keys", "new", name)
        a = addr(name)
        node.cli("transfer", "--to", a, "--amount", "5000000000", "--token", "STK")
        node.cli("transfer", "--to", a, "--amount", "100000000", "--wait")
        node.cli("executor", "register", "--stake", "2000000000", "--price", "1000", "--from", name)


def submit(prog, input_text, k=3, wait=True, windows=None, extra=()):
    args = ["task", "submit", "--program", os.path.join(GUESTS, prog), "--input-text", input_text,
            "--reward", "2000000", "--committee", str(k), "--max-steps", "200000000", "--mem", "32"]
    if windows:
        args += ["--commit-blocks", str(windows), "--reveal-blocks", str(max(windows, 4))]
    if wait:
        args.append("--wait")
    out = node.cli(*(args + list(extra)), check=False)
    return out


def task_id_of(out):
    for line in out.stderr.splitlines():
        if line.startswith("task ") and "submitted" in line:
            return line.split()[1]
    raise AssertionError("no task id in: %r (exit %d)" % (out.stderr, out.returncode))


def drawn(tid, timeout=30):
    """The committee is drawn at the block after the submission."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        t = node.rpc("task_get", {"task_id": tid})
        if t["status"] != "drawing":
            return t
        time.sleep(0.05)
    raise AssertionError("task %s was never drawn" % tid)


def wait_status(tid, want, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        t = node.rpc("task_get", {"task_id": tid})
        if t["status"] in want:
            return t
        time.sleep(0.2)
    raise AssertionError("task %s stuck in %s (wanted %s): %s" % (tid, t["status"], want, t["timeline"]))


def conservation():
    # the reads below span several RPC calls: retry until no block landed
    # between the first and the last, so all of them saw the same state
    for _ in range(50):
        h0 = node.rpc("status")["latest_height"]
        got = conservation_once()
        if node.rpc("status")["latest_height"] == h0:
            break
    else:
        raise AssertionError("the chain never stood still for one conservation read")
    total_crd, escrow, sup, total_stk, power = got
    # fees go to the validators' delegators through the fee pool (held in
    # s/rewards until withdrawn) and the community pool (docs/staking.md §4)
    pools = int(sup["fees"]) + int(sup["rewards"]) + int(sup["community"])
    assert total_crd + escrow + pools == int(sup["crd"]), (total_crd, escrow, sup)
    # the devnet's validator holds its power as tokens; nothing else delegated
    assert int(sup["bonded"]) == power and int(sup["unbonding"]) == 0, sup
    assert total_stk + power == int(sup["stk"]), (total_stk, power, sup)


def conservation_once():
    sup = node.rpc("supply")
    total_crd = total_stk = 0
    # every account the tests know, executors' bonds, and escrow
    names = ["dev", "exec1", "exec2", "exec3", "exec4"]
    for extra in ("watcher", "carol", "dave"):
        if os.path.exists(os.path.join(node.home, "keys", extra + ".json")):
            names.append(extra)
    for n in names:
        a = node.rpc("account", {"address": addr(n)})
        total_crd += int(a["crd"])
        total_stk += int(a["stk"])
    for e in node.rpc("executor_list")["executors"]:
        total_stk += int(e["stake"]) + int(e["unbonding"])
        total_stk += int(e["delegated"]) + int(e["delegated_unbonding"])  # staking.md §8
        total_stk += int(e["delegated_waiting"])
    tasks = node.rpc("task_list", {"limit": 1000})["tasks"]
    total_stk += sum(int(t.get("bond", "0")) for t in tasks)  # outside challengers' bonds
    # a task escrows its reward and a fee allowance per seat (docs/tasks.md)
    escrow = sum(int(t["reward"]) + t["committee"] * int(t["fee_allowance"]) - int(t["paid"]) -
                 int(t["fees_repaid"]) - int(t["refunded"]) for t in tasks)
    check_status_index()
    power = int(node.rpc("status")["validator"]["power"])
    return total_crd, escrow, sup, total_stk, power


def check_status_index():
    """task_list by status alone is served from the schedule of open windows
    for committing/revealing/agreed: it must list exactly the tasks a scan
    finds in that status (compared at one height; blocks may come between)."""
    for status in ("committing", "revealing", "agreed", "final", "expired", "disputed"):
        for _ in range(20):
            every = node.rpc("task_list", {"limit": 1000})
            some = node.rpc("task_list", {"status": status, "limit": 1000})
            if every["height"] != some["height"]:
                continue
            want = sorted(t["task_id"] for t in every["tasks"] if t["status"] == status)
            got = sorted(t["task_id"] for t in some["tasks"])
            assert got == want, (status, got, want)
            break


def test_outputs_match_qemu():
    for n in ("exec1", "exec2", "exec3"):
        start_exec(n)
    set_accepting("exec4", False)
    for prog, inp in (("sha256.elf", "the quick brown fox"), ("sieve.elf", "300000"),
                      ("wc.elf", "one two  three\nfour\n"), ("matmul.elf", "24")):
        out = submit(prog, inp)
        assert out.returncode == 0, out.stderr
        q = subprocess.run(["qemu-riscv32", os.path.join(GUESTS, prog)], input=inp.encode(),
                           capture_output=True, timeout=120)
        assert out.stdout.encode() == q.stdout, (prog, out.stdout, q.stdout)
        tid = task_id_of(out)
        t = wait_status(tid, ("final",))  # members are paid when the challenge window ends
        assert t["result"]["code"] == q.returncode
        assert int(t["paid"]) == 3 * -(-t["result"]["steps"] * 1000 // 10 ** 6)  # rounded up
        assert int(t["paid"]) + int(t["refunded"]) + int(t["fees_repaid"]) == \
            2000000 + 3 * int(t["fee_allowance"])
    conservation()


def test_dead_executor_is_slashed_and_replaced():
    set_accepting("exec4", True)  # registered and drawable, but its process is down
    s4 = int(node.rpc("executor_get", {"address": addr("exec4")})["stake"])
    for attempt in range(12):
        out = submit("sha256.elf", "replace me %d" % attempt, windows=4, wait=False)
        tid = task_id_of(out)
        t = drawn(tid)
        if addr("exec4") in [m["executor"] for m in t["members"]]:
            break
        wait_status(tid, ("agreed", "final"))
    else:
        raise AssertionError("exec4 was never drawn")
    t = wait_status(tid, ("agreed", "final"))
    assert any(e["event"] == "no_show" for e in t["timeline"]), t["timeline"]
    assert len(t["members"]) == 4 and t["attempt"] == 1
    e4 = node.rpc("executor_get", {"address": addr("exec4")})
    assert int(e4["stake"]) < s4 and int(e4["slashed_total"]) > 0
    set_accepting("exec4", False)
    conservation()


def test_restarted_executor_reveals():
    stop_exec("exec3")
    out = submit("sieve.elf", "100000", windows=40, wait=False)
    tid = task_id_of(out)
    # exec1 and exec2 commit; the task waits for exec3
    deadline = time.time() + 30
    while time.time() < deadline:
        t = node.rpc("task_get", {"task_id": tid})
        c = {m["executor"]: m["committed"] for m in t["members"]}
        if c.get(addr("exec1")) and c.get(addr("exec2")):
            break
        time.sleep(0.1)
    assert t["status"] == "committing", t
    stop_exec("exec1", signal.SIGKILL)  # after committing, before revealing
    start_exec("exec3")
    t = wait_status(tid, ("revealing",))
    time.sleep(1)
    t = node.rpc("task_get", {"task_id": tid})
    revealed = {m["executor"]: m["revealed"] for m in t["members"]}
    assert not revealed[addr("exec1")], t
    start_exec("exec1")  # must reveal from its state file, without recomputing a salt
    t = wait_status(tid, ("agreed", "final"))
    log = open(os.path.join(node.home, "exec1.log")).read()
    assert log.count("task %s.." % tid[:16] + ": running") == 1, log
    conservation()


def test_liar_loses_the_verification_game():
    """A byzantine executor (it computes on a corrupted input and plays the
    game from that run) sits on a committee of 3 with honest ones, on a
    task of about 10^7 steps (the sieve up to 600,000): the claims differ,
    the executors play the verification game by themselves on chain, the
    liar loses and is slashed, the honest claim is the result, equal to
    qemu-riscv32's output, and the honest members are paid at FINAL
    (`task submit --wait` follows the game to the end)."""
    stop_exec("exec3")
    start_exec("exec3", "--byzantine")
    liar = addr("exec3")
    stake0 = int(node.rpc("executor_get", {"address": liar})["stake"])
    seen_game = None
    for attempt in range(6):  # the draw decides whether the liar is seated
        inp = str(600000 + attempt)
        out = submit("sieve.elf", inp, windows=20)
        tid = task_id_of(out)
        t = node.rpc("task_get", {"task_id": tid})
        if any(m["executor"] == liar and not m["replaced"] for m in t["members"]):
            seen_game = tid
            break
    assert seen_game, "the byzantine executor was never drawn"
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    assert "verification game" in out.stderr, out.stderr[-2000:]
    q = subprocess.run(["qemu-riscv32", os.path.join(GUESTS, "sieve.elf")], input=inp.encode(),
                       capture_output=True, timeout=120)
    assert out.stdout.encode() == q.stdout, (out.stdout[:200], q.stdout[:200])
    t = wait_status(seen_game, ("final",))
    assert t["games"] >= 1, t
    assert t["result"]["steps"] > 10 ** 7, t["result"]
    lost = [m for m in t["members"] if m["lost"]]
    assert [m["executor"] for m in lost] == [liar], t["members"]
    honest = [m for m in t["members"] if not m["lost"] and not m["replaced"]]
    assert all(m["claim"]["final_state"] == t["result"]["final_state"] for m in honest)
    assert int(t["paid"]) == len(honest) * -(-t["result"]["steps"] * 1000 // 10 ** 6), t["paid"]
    ends = [e for e in t["timeline"] if e["event"] == "game_end"]
    assert ends and all(e["executor"] == liar for e in ends), ends
    moves = [e for e in t["timeline"] if e["event"] == "move"]
    stake1 = int(node.rpc("executor_get", {"address": liar})["stake"])
    assert stake1 < stake0, (stake0, stake1)
    print("  %d steps: the liar lost %d game(s) after %d moves; slashed %d STK base units; the "
          "output equals qemu-riscv32's; the %d honest members were paid %s" %
          (t["result"]["steps"], len(ends), len(moves), stake0 - stake1, len(honest), t["paid"]))
    stop_exec("exec3")
    start_exec("exec3")
    conservation()


def test_two_agreeing_liars_lose_to_one_honest_member():
    """Two byzantine executors compute the same wrong output (a majority of
    the committee of 3, and a quorum); one honest member disagrees. The
    truth does not depend on the majority: the honest member plays each
    liar in turn and beats both; its claim is the result."""
    for n in list(procs):
        stop_exec(n)
    set_accepting("exec4", False)
    for n in ("exec1", "exec2", "exec3"):
        set_accepting(n, True)
    start_exec("exec1")
    start_exec("exec2", "--byzantine")
    start_exec("exec3", "--byzantine")
    liars = {addr("exec2"), addr("exec3")}
    out = submit("sha256.elf", "two against one", k=3, windows=20)
    assert out.returncode == 0, out.stderr[-2000:]
    tid = task_id_of(out)
    t = wait_status(tid, ("agreed", "final"))
    lost = {m["executor"] for m in t["members"] if m["lost"]}
    assert lost == liars, (lost, liars)
    winner = [m for m in t["members"] if not m["lost"]]
    assert [m["executor"] for m in winner] == [addr("exec1")]
    assert t["result"]["final_state"] == winner[0]["claim"]["final_state"]
    assert t["games"] == 2, t["games"]
    import base64
    import hashlib
    o = node.rpc("task_output", {"task_id": tid})
    assert hashlib.sha256(b"two against one").hexdigest() in base64.b64decode(o["output_base64"]).decode()
    print("  two agreeing liars lost %d games to one honest member; the true digest is the result" %
          t["games"])
    for n in list(procs):
        stop_exec(n)
    set_accepting("exec4", True)
    for n in ("exec1", "exec2", "exec3", "exec4"):
        start_exec(n)
    conservation()


def test_liar_from_a_step_and_a_silent_party_lose():
    """Fault injection as the issue names it: an executor whose run goes
    wrong at step 5000 (a flipped register, then a real run: every step has
    a valid proof but that one), and one that never answers in a game. Each
    loses its game (the first at that step, or when it cannot prove it; the
    second on time) and the honest claim is the result."""
    for mode, extra in (("lie", ["--lie-from-step", "5000"]),
                        ("silent", ["--byzantine", "--silent-in-games"])):
        stop_exec("exec3")
        for n in ("exec1", "exec2", "exec3"):
            set_accepting(n, True)
        set_accepting("exec4", False)
        start_exec("exec3", *extra)
        liar = addr("exec3")
        out = submit("sha256.elf", "faulty %s" % mode, k=3, windows=20)
        assert out.returncode == 0, out.stderr[-2000:]
        tid = task_id_of(out)
        t = wait_status(tid, ("agreed", "final"), timeout=120)
        assert [m["executor"] for m in t["members"] if m["lost"]] == [liar], t["members"]
        end = [e for e in t["timeline"] if e["event"] == "game_end"][-1]
        print("  %s: the faulty executor lost (%s)" % (mode, end["detail"]))
        if mode == "silent":
            assert "deadline" in end["detail"], end
        log = open(os.path.join(node.home, "exec3.log"), errors="replace").read()
        assert mode != "lie" or "LYING from step 5000" in log, log[-2000:]
    stop_exec("exec3")
    start_exec("exec3")
    set_accepting("exec4", True)
    conservation()


def test_watcher_catches_a_lying_committee():
    """A committee of one byzantine executor agrees on a wrong output
    (quorum 1): nothing in the committee can catch it. A watcher (`cohort
    watch`, any account with STK) re-runs the agreed task, challenges it in
    its window with a bond and beats the member in the verification game:
    the member is slashed, the result dropped, the task redrawn, and an
    honest executor computes the true output. The watcher's bond comes back
    with a share of the liar's stake."""
    for n in list(procs):
        stop_exec(n)
    for n in ("exec1", "exec2", "exec4"):
        set_accepting(n, False)
    set_accepting("exec3", True)
    start_exec("exec3", "--byzantine")
    node.cli("keys", "new", "watcher")
    w = addr("watcher")
    node.cli("transfer", "--to", w, "--amount", "5000000000", "--token", "STK")
    node.cli("transfer", "--to", w, "--amount", "100000000", "--wait")
    stk0 = int(node.rpc("account", {"address": w})["stk"])
    liar = addr("exec3")
    liar_stake0 = int(node.rpc("executor_get", {"address": liar})["stake"])
    log = open(os.path.join(node.home, "watcher.log"), "ab")
    procs["watcher"] = subprocess.Popen([node.exe("cohort"), "--node", node.url, "--home", node.home,
                                         "watch", "--key", "watcher", "--poll-ms", "100"],
                                        stdout=log, stderr=subprocess.STDOUT)
    text = "watch me"
    out = submit("sha256.elf", text, k=1, windows=20, wait=False)
    tid = task_id_of(out)
    deadline = time.time() + 90
    while time.time() < deadline:
        t = node.rpc("task_get", {"task_id": tid})
        if any(e["event"] == "challenged" for e in t["timeline"]):
            break
        time.sleep(0.1)
    events = [e["event"] for e in t["timeline"]]
    assert "challenged" in events, (events, open(os.path.join(
        node.home, "watcher.log"), errors="replace").read()[-3000:])
    # the redraw after the game will need an honest executor
    set_accepting("exec1", True)
    start_exec("exec1")
    t = wait_status(tid, ("final",), timeout=120)
    assert [m["executor"] for m in t["members"] if m["lost"]] == [liar], (
        [(e["height"], e["event"], e["detail"]) for e in t["timeline"]],
        open(os.path.join(node.home, "watcher.log"), errors="replace").read()[-3000:])
    o = node.rpc("task_output", {"task_id": tid})
    import base64
    import hashlib
    assert hashlib.sha256(text.encode()).hexdigest() in base64.b64decode(o["output_base64"]).decode()
    stk1 = int(node.rpc("account", {"address": w})["stk"])
    liar_stake1 = int(node.rpc("executor_get", {"address": liar})["stake"])
    assert liar_stake1 < liar_stake0, (liar_stake0, liar_stake1)
    assert stk1 > stk0, (stk0, stk1)  # the bond back, plus a share of the slash
    print("  the watcher challenged, won and got %d STK base units; the liar lost %d; the redrawn "
          "task's output is the true digest" % (stk1 - stk0, liar_stake0 - liar_stake1))
    stop_exec("watcher")
    for n in list(procs):
        stop_exec(n)
    for n in ("exec2", "exec3", "exec4"):
        set_accepting(n, True)
    for n in ("exec1", "exec2", "exec3", "exec4"):
        start_exec(n)
    conservation()


def test_unserved_task_expires_with_refund():
    for n in list(procs):
        stop_exec(n)
    set_accepting("exec4", True)
    before = int(node.rpc("account", {"address": node.dev_addr})["crd"])
    out = submit("sha256.elf", "nobody home", windows=5, wait=False)
    tid = task_id_of(out)
    t = wait_status(tid, ("expired",))
    assert int(t["refunded"]) == 2000000 + t["committee"] * int(t["fee_allowance"]), t
    assert t["paid"] == "0"
    after = int(node.rpc("account", {"address": node.dev_addr})["crd"])
    # the dev account paid only tx fees: the escrow came back in full (the
    # fees go to the fee pool now, and back to it only as withdrawn rewards)
    assert 0 < before - after < 100000, (before, after)
    conservation()


def test_sixteen_chunk_job_on_several_executors():
    for n in ("exec1", "exec2", "exec3", "exec4"):
        if n not in procs:
            start_exec(n)
    set_accepting("exec4", True)
    wait_accepting(4)
    d = os.path.join(node.home, "chunks")
    os.makedirs(d, exist_ok=True)
    texts = []
    for i in range(16):
        t = ("chunk %02d " % i) + "lorem ipsum dolor sit amet " * (i + 1)
        texts.append(t)
        open(os.path.join(d, "part%02d.txt" % i), "w").write(t)
    out = node.cli("job", "submit", "--program", os.path.join(GUESTS, "wc.elf"), "--chunks", d,
                   "--reward-per-chunk", "500000", "--committee", "2", "--max-steps", "50000000",
                   "--mem", "16", "--wait", "--out", os.path.join(node.home, "job-out"), check=False)
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr)
    assert "16/16 chunks done" in out.stderr, out.stderr
    job_id = [ln.split()[1] for ln in out.stderr.splitlines() if ln.startswith("job ") and "submitted" in ln][0]
    j = node.rpc("job_get", {"job_id": job_id})
    assert j["status"] == "done" and j["done"] == 16 and len(j["result_root"]) == 64, j
    workers = set()
    for i, t in enumerate(j["tasks"]):
        q = subprocess.run(["qemu-riscv32", os.path.join(GUESTS, "wc.elf")], input=texts[i].encode(),
                           capture_output=True, timeout=60)
        got = open(os.path.join(node.home, "job-out", "part%02d.txt.out" % i), "rb").read()
        assert got == q.stdout, (i, got, q.stdout)
        task = node.rpc("task_get", {"task_id": t["task_id"]})
        workers.update(m["executor"] for m in task["members"])
    assert len(workers) >= 3, workers  # the chunks ran on several machines
    conservation()


def test_executors_follow_websocket_events():
    # with polling every 60 s, only WebSocket events can move the task along
    for n in list(procs):
        stop_exec(n)
    set_accepting("exec4", False)
    for n in ("exec1", "exec2", "exec3"):
        log = open(os.path.join(node.home, n + ".log"), "ab")
        procs[n] = subprocess.Popen([node.exe("cohort"), "--node", node.url, "--home", node.home,
                                     "executor", "run", "--key", n, "--poll-ms", "60000"],
                                    stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30  # the runners re-register themselves once their jail is over
    while time.time() < deadline:
        acc = [e for e in node.rpc("executor_list")["executors"] if e["accepting"]]
        if len(acc) >= 3:
            break
        time.sleep(0.2)
    out = submit("sha256.elf", "pushed, not polled", wait=False)
    tid = task_id_of(out)
    wait_status(tid, ("agreed", "final"), timeout=30)
    log = open(os.path.join(node.home, "exec1.log")).read()
    assert "following assignments over WebSocket" in log, log


def test_bad_market_input_refused_at_the_door():
    st = node.rpc("status")
    h0 = st["latest_height"]

    def body(field, msg):
        nonce = node.rpc("account", {"address": node.dev_addr})["next_nonce"]
        return (cc.pb_uint(1, nonce) + cc.pb_uint(2, 1000000) +
                cc._varint(field << 3 | 2) + cc._varint(len(msg)) + msg)

    def send(field, msg):
        tx = cc.make_tx(node.dev_sec, st["chain_id"], body(field, msg))
        try:
            node.rpc("broadcast_tx", {"tx": tx.hex()})
        except cc.RpcError as e:
            return str(e), e.data["codespace"]
        raise AssertionError("accepted")

    # commit for an unknown task; from a non-member of a real task
    msg = cc.pb_bytes(1, bytes(32)) + cc.pb_bytes(2, bytes(32))
    text, why = send(18, msg)
    assert why == "not_found" and "no such task" in text, text
    tid = node.rpc("task_list", {"limit": 1})["tasks"][0]["task_id"]
    text, why = send(18, cc.pb_bytes(1, bytes.fromhex(tid)) + cc.pb_bytes(2, bytes(32)))
    assert "not a member" in text or "task is" in text, text
    # a program that is not an ELF; an absurd step cap; k above the executor set
    text, why = send(15, cc.pb_bytes(1, b"\x7fELF not really") + cc.pb_uint(2, 1))
    assert why == "invalid" and "not a valid program" in text, text
    out = submit("sha256.elf", "x", k=9, wait=False)
    assert out.returncode != 0 and "lower --committee" in out.stderr, out.stderr
    out = node.cli(
        "task", "submit", "--program", os.path.join(GUESTS, "sha256.elf"), "--input-text", "x",
        "--reward", "10", "--committee", "1", "--max-steps", "200000000", check=False)
    assert out.returncode != 0 and "reward at least" in out.stderr, out.stderr
    out = node.cli("task", "submit", "--program", os.path.join(GUESTS, "sha256.elf"), "--input-text",
                   "x", "--reward", "1000", "--max-steps", str(10 ** 15), check=False)
    assert out.returncode != 0 and "max_task_steps" in out.stderr, out.stderr
    # unbonding more than bonded, from the CLI
    out = node.cli("executor", "unbond", "--amount", "999999999999", "--from", "exec1", check=False)
    assert out.returncode != 0 and "bonded stake" in out.stderr, out.stderr
    # nothing of it reached a block
    assert node.rpc("account", {"address": node.dev_addr})["next_nonce"] == \
        node.rpc("account", {"address": node.dev_addr})["nonce"]
    assert node.alive()
    assert node.rpc("status")["latest_height"] >= h0


class LyingNode:
    """An HTTP JSON-RPC proxy to the real node that serves a different input
    for every task (task_input), as a compromised or buggy node might."""

    def __init__(self, upstream):
        import http.server
        import json
        import socketserver
        import threading
        import urllib.request
        outer = self
        self.upstream = upstream
        self.lies = 0

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req = urllib.request.Request(outer.upstream, data=body,
                                             headers={"Content-Type": "application/json"})
                out = urllib.request.urlopen(req, timeout=30).read()
                try:
                    j = json.loads(out)
                    if json.loads(body).get("method") == "task_input" and "result" in j:
                        import base64
                        j["result"]["input_base64"] = base64.b64encode(b"not your input").decode()
                        outer.lies += 1
                        out = json.dumps(j).encode()
                except Exception:
                    pass
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.srv = S(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/" % self.srv.server_address[1]
        self.th = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.th.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_executor_checks_what_its_node_serves_and_fails_over():
    """Item 12: an executor must not trust its node. exec1 is pointed first at
    a node that serves wrong task inputs, then at the real one: it refuses to
    compute on the lie, fails over, and the task still agrees."""
    for n in list(procs):
        stop_exec(n)
    set_accepting("exec4", False)
    liar = LyingNode(node.url)
    try:
        log = open(os.path.join(node.home, "exec1.log"), "ab")
        procs["exec1"] = subprocess.Popen(
            [node.exe("cohort"), "--home", node.home, "executor", "run", "--key", "exec1",
             "--node", liar.url, "--node", node.url, "--poll-ms", "100"],
            stdout=log, stderr=subprocess.STDOUT)
        start_exec("exec2")
        start_exec("exec3")
        out = submit("sha256.elf", "check your sources", wait=False)
        tid = task_id_of(out)
        t = wait_status(tid, ("agreed", "final"))
        assert addr("exec1") in [m["executor"] for m in t["members"] if not m["replaced"]], t
        text = open(os.path.join(node.home, "exec1.log")).read()
        assert liar.lies >= 1, "the proxy never lied:\n" + text[-3000:]
        assert "input bytes do not hash to the task's input_hash" in text, text
        assert "switching to " + node.url in text, text
    finally:
        liar.close()
    conservation()


def test_duplicate_commit_refused_at_the_door():
    """Item 14: a second commit (or reveal) for one task from one sender,
    while the first is pending, is refused at the mempool instead of failing
    (and being charged) in the block."""
    for n in list(procs):
        stop_exec(n)
    out = submit("sha256.elf", "once only", windows=30, wait=False)
    tid = task_id_of(out)
    t = drawn(tid)
    member = [m["executor"] for m in t["members"]][0]
    name = [n for n in ("exec1", "exec2", "exec3", "exec4") if addr(n) == member][0]
    sec = cc.load_key(os.path.join(node.home, "keys", name + ".json"))
    st = node.rpc("status")
    nonce = node.rpc("account", {"address": member})["next_nonce"]
    msg = cc.pb_bytes(1, bytes.fromhex(tid)) + cc.pb_bytes(2, bytes(range(32)))

    def commit_tx(n):
        body = cc.pb_uint(1, n) + cc.pb_uint(2, 1000000) + cc._varint(18 << 3 | 2) + \
            cc._varint(len(msg)) + msg
        return cc.make_tx(sec, st["chain_id"], body).hex()
    # both in one JSON-RPC batch: the second arrives while the first is pending
    import json
    import urllib.request
    batch = [{"jsonrpc": "2.0", "id": i, "method": "broadcast_tx", "params": {"tx": commit_tx(nonce + i)}}
             for i in range(2)]
    req = urllib.request.Request(node.url, data=json.dumps(batch).encode(),
                                 headers={"Content-Type": "application/json"})
    answers = sorted(json.loads(urllib.request.urlopen(req, timeout=30).read()), key=lambda a: a["id"])
    assert "result" in answers[0], answers
    err = answers[1].get("error")
    assert err and err["data"]["codespace"] == "duplicate" and "pending already" in err["message"], answers


def test_get_while_submit_pending_says_pending():
    """task_get and job_get answer -32004 with data.pending = true while the
    submit tx waits in the mempool (docs/rpc.md), false for an unknown ID;
    a drawn event names the whole beacon (data for recomputing the draw)."""
    import hashlib
    import struct
    st = node.rpc("status")
    me = cc.account_id(cc.schnorr_pubkey(node.dev_sec))
    prog = hashlib.sha256(open(os.path.join(GUESTS, "sha256.elf"), "rb").read()).digest()
    for unknown in ("task_get", "job_get"):
        key = "task_id" if unknown == "task_get" else "job_id"
        try:
            node.rpc(unknown, {key: "00" * 32})
            raise AssertionError("found")
        except cc.RpcError as e:
            assert e.code == -32004 and e.data["pending"] is False, (e.code, e.data)

    def attempt(field, msg, kind):
        nonce = node.rpc("account", {"address": node.dev_addr})["next_nonce"]
        body = (cc.pb_uint(1, nonce) + cc.pb_uint(2, 1000000) +
                cc._varint(field << 3 | 2) + cc._varint(len(msg)) + msg)
        tx = cc.make_tx(node.dev_sec, st["chain_id"], body)
        ident = hashlib.sha256(b"cohort/%s/v1" % kind + me + struct.pack(">Q", nonce)).digest().hex()
        method, key = ("task_get", "task_id") if kind == b"task" else ("job_get", "job_id")
        node.rpc("broadcast_tx", {"tx": tx.hex()})
        try:
            node.rpc(method, {key: ident})
            return None  # committed already (a block came between): try again
        except cc.RpcError as e:
            assert e.code == -32004, e
            return e.data["pending"]

    task = (cc.pb_bytes(1, prog) + cc.pb_bytes(2, b"pending") + cc.pb_uint(4, 10000000) +
            cc.pb_uint(5, 16) + cc.pb_uint(6, 1) + cc.pb_uint(7, 2000000))
    job = (cc.pb_bytes(1, prog) + cc.pb_bytes(2, b"a") + cc.pb_bytes(2, b"b") +
           cc.pb_uint(3, 10000000) + cc.pb_uint(4, 16) + cc.pb_uint(5, 1) + cc.pb_uint(6, 2000000))
    for field, msg, kind in ((16, task, b"task"), (17, job, b"job")):
        seen = [attempt(field, msg, kind) for _ in range(5)]
        assert True in seen, (kind, seen)
    # the drawn events of some task carry the whole beacon, in the sentence too
    tid = [t for t in node.rpc("task_list", {"limit": 1000})["tasks"] if t["members"]][0]["task_id"]
    ev = [e for e in node.rpc("task_get", {"task_id": tid})["timeline"] if e["event"] == "drawn"]
    assert ev, tid
    for e in ev:
        assert len(e["beacon"]) == 64 and e["beacon"] == e["hash"] and e["beacon"] in e["detail"], e


def test_delegation_to_an_executor_shares_its_pay():
    """docs/staking.md §8 through the CLI: carol delegates to exec1, whose
    draw weight grows; exec1's raise of its commission waits; exec1 is paid
    for a task and carol's share accrues, is withdrawn, and her undelegated
    STK comes back after the unbonding period."""
    node.cli("keys", "new", "carol")
    carol, ex = addr("carol"), addr("exec1")
    node.cli("transfer", "--to", carol, "--amount", "3000000000", "--token", "STK")
    node.cli("transfer", "--to", carol, "--amount", "10000000", "--wait")
    bad = node.cli("stake", "delegate", "--executor", addr("dev"), "--amount", "1000000",
                   "--from", "carol", check=False)
    assert bad.returncode != 0 and "not a registered executor" in bad.stderr, bad.stderr
    node.cli("stake", "delegate", "--executor", "exec1", "--amount", "2000000000", "--from", "carol")
    # exec1 may hold seats from the tests before (some it cannot serve, and
    # misses): the delegation waits until it holds none (docs/staking.md §8
    # "Waiting delegations")
    for _ in range(600):
        e = node.rpc("executor_get", {"address": ex})
        if e["delegated_waiting"] == "0":
            break
        time.sleep(0.2)
    else:
        held = node.rpc("task_list", {"executor": ex})["tasks"]
        raise AssertionError("carol's delegation still waits after 120 s: %r; exec1's seats: %r" %
                             (e, [(t["task_id"][:12], t["status"]) for t in held]))
    assert e["delegated"] == "2000000000", e
    for n in ("exec1", "exec2", "exec3"):  # (a missed seat jails for a few blocks)
        if n not in procs:
            start_exec(n)
        set_accepting(n, True)
    set_accepting("exec4", False)
    wait_accepting(3, timeout=60)
    for _ in range(100):  # exec1's own runner may be sending a tx with the same nonce
        out = node.cli("executor", "register", "--stake", "0", "--price", "1000",
                       "--commission", "1000", "--from", "exec1", check=False)
        if out.returncode == 0:
            break
        assert "nonce" in out.stderr, out.stderr
        time.sleep(0.2)
    else:
        raise AssertionError("exec1's registration kept colliding with its runner's txs")
    e = node.rpc("executor_get", {"address": ex})
    # a raise of commission waits unbonding_blocks: the delegator can leave first
    assert e["delegated"] == "2000000000" and e["commission_bps"] == 0, e
    assert e["commission_next"] == 1000 and e["commission_at"] > 0, e
    show = node.cli("stake", "show", "carol").stdout
    assert "to executors 1" in show, show
    out = submit("sha256.elf", "delegated")
    assert out.returncode == 0, (out.stderr, [(x["address"][:12], x["stake"], x["accepting"],
                                               x["jailed_until"], x["active_tasks"])
                                              for x in node.rpc("executor_list")["executors"]])
    tid = task_id_of(out)
    t = wait_status(tid, ("final",))
    m = [m for m in t["members"] if m["executor"] == ex]
    assert m, t["members"]  # k = 3 of the 3 accepting: exec1 sits
    assert m[0]["stake"] == str(int(e["stake"]) + 2000000000), m  # the draw weight
    rw = node.rpc("rewards", {"delegator": carol})
    mine = [r for r in rw["rewards"] if r.get("executor") == ex]
    assert mine and int(mine[0]["reward"]) > 0, rw
    crd0 = int(node.rpc("account", {"address": carol})["crd"])
    node.cli("stake", "withdraw-rewards", "--executor", "exec1", "--from", "carol")
    crd1 = int(node.rpc("account", {"address": carol})["crd"])
    assert crd1 > crd0 - 1000000, (crd0, crd1)  # the reward in, one fee out
    # all of it (less what a slash of exec1 took, if it missed a window meanwhile)
    d = node.rpc("delegations", {"delegator": carol})["executor_delegations"]
    assert len(d) == 1 and d[0]["executor"] == ex, d
    value = d[0]["value"]
    node.cli("stake", "undelegate", "--executor", "exec1", "--amount", value, "--from", "carol")
    assert node.rpc("delegations", {"delegator": carol})["executor_delegations"] == []
    u = node.rpc("unbondings", {"delegator": carol})["executor_unbondings"]
    assert len(u) == 1 and u[0]["amount"] == value, u
    stk0 = int(node.rpc("account", {"address": carol})["stk"])
    # paid at the end of block release_height (an idle chain makes no block after it)
    while node.rpc("status")["latest_height"] < u[0]["release_height"]:
        time.sleep(0.2)
    stk1 = int(node.rpc("account", {"address": carol})["stk"])
    assert stk1 == stk0 + int(u[0]["amount"]), (stk0, stk1)
    print("  carol's share of exec1's pay: %s CRD base units; %s STK base units back at %d" %
          (mine[0]["reward"], value, u[0]["release_height"]))
    conservation()


def test_delegation_made_while_seated_waits():
    """docs/staking.md §8 "Waiting delegations": dave delegates to exec1
    while it holds a seat drawn before; the delegation waits (not weighed,
    not paid from that seat, cannot be undelegated) and is bonded once the
    seat settles at FINAL; carol, bonded at the draw, gets the delegators'
    part of that seat alone."""
    carol, dave, ex = addr("carol"), None, addr("exec1")
    node.cli("keys", "new", "dave")
    dave = addr("dave")
    node.cli("transfer", "--to", dave, "--amount", "2000000000", "--token", "STK")
    node.cli("transfer", "--to", dave, "--amount", "10000000", "--wait")
    node.cli("stake", "delegate", "--executor", "exec1", "--amount", "1000000000", "--from", "carol")
    out = submit("sha256.elf", "waiting", wait=False)
    assert out.returncode == 0, out.stderr
    tid = task_id_of(out)
    for _ in range(300):  # until exec1 sits (the draw is the block after the submission)
        t = node.rpc("task_get", {"task_id": tid})
        if t["status"] not in ("drawing",) and any(m["executor"] == ex for m in t["members"]):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("exec1 was not drawn: %r" % t)
    assert t["status"] in ("committing", "revealing", "agreed"), t["status"]
    rw0 = [r for r in node.rpc("rewards", {"delegator": carol})["rewards"] if r.get("executor") == ex]
    weight0 = node.rpc("executor_get", {"address": ex})["draw_weight"]
    out = node.cli("stake", "delegate", "--executor", "exec1", "--amount", "1500000000",
                   "--from", "dave")
    assert "the delegation waits" in out.stdout, out.stdout  # the CLI says so
    e = node.rpc("executor_get", {"address": ex})
    assert e["delegated_waiting"] == "1500000000" and e["draw_weight"] == weight0, e
    d = node.rpc("delegations", {"delegator": dave})
    assert d["executor_delegations"] == [], d
    assert [w["amount"] for w in d["executor_waiting"]] == ["1500000000"], d
    show = node.cli("stake", "show", "dave").stdout
    assert ex in show and "waiting: made at height" in show, show
    assert "waiting" in node.cli("executor", "show", "exec1").stdout
    # a waiting amount comes back at once (it backed no seat): no unbonding entry
    stk0 = int(node.rpc("account", {"address": dave})["stk"])
    out = node.cli("stake", "undelegate", "--executor", "exec1", "--amount", "500000000",
                   "--from", "dave")
    assert "back in the balance now" in out.stdout, out.stdout
    assert int(node.rpc("account", {"address": dave})["stk"]) == stk0 + 500000000
    assert node.rpc("unbondings", {"delegator": dave})["executor_unbondings"] == []
    assert node.rpc("executor_get", {"address": ex})["delegated_waiting"] == "1000000000"
    t = wait_status(tid, ("final",), timeout=120)
    for _ in range(600):  # and every other seat of exec1: bonded once it holds none
        if node.rpc("executor_get", {"address": ex})["delegated_waiting"] == "0":
            break
        time.sleep(0.2)
    member = [m for m in t["members"] if m["executor"] == ex][0]
    assert int(member["delegated"]) > 0, member  # carol's, at the draw
    # bonded now, and nothing from the seat it did not back
    d = node.rpc("delegations", {"delegator": dave})
    assert d["executor_waiting"] == [], d
    mine = [x for x in d["executor_delegations"] if x["executor"] == ex]
    assert mine and mine[0]["pending_reward"] == "0", d
    assert int(mine[0]["value"]) >= 1000000000 - 1, mine
    rw1 = [r for r in node.rpc("rewards", {"delegator": carol})["rewards"] if r.get("executor") == ex]
    assert rw1 and int(rw1[0]["reward"]) > int(rw0[0]["reward"] if rw0 else 0), (rw0, rw1)
    assert node.rpc("executor_get", {"address": ex})["delegated_waiting"] == "0"
    print("  dave's 1,000 STK waited for %s.. and were bonded once exec1 held no seat, with no "
          "share of that seat's pay" % tid[:16])
    conservation()


def teardown():
    for n in list(procs):
        stop_exec(n)
    node.cleanup()


if __name__ == "__main__":
    setup()
    try:
        run_tests([test_outputs_match_qemu, test_dead_executor_is_slashed_and_replaced,
                   test_restarted_executor_reveals, test_liar_loses_the_verification_game,
                   test_two_agreeing_liars_lose_to_one_honest_member,
                   test_liar_from_a_step_and_a_silent_party_lose,
                   test_watcher_catches_a_lying_committee,
                   test_unserved_task_expires_with_refund, test_sixteen_chunk_job_on_several_executors,
                   test_executors_follow_websocket_events,
                   test_bad_market_input_refused_at_the_door,
                   test_executor_checks_what_its_node_serves_and_fails_over,
                   test_duplicate_commit_refused_at_the_door,
                   test_get_while_submit_pending_says_pending,
                   test_delegation_to_an_executor_shares_its_pay,
                   test_delegation_made_while_seated_waits])
    finally:
        teardown()
