#!/usr/bin/env python3
"""Hand-made seeds for fuzz_market (tests/fuzz/chain/fuzz_market.c).

Writes tests/fuzz/corpus/fuzz_market/seed-*: action sequences, in the byte
format documented at the top of fuzz_market.c, that take tasks through every
status from the fuzzer's starting state, and delegations to executors through
every rule of docs/staking.md §8 (seed-exec_*). Rerun after changing the action
format:   python3 tests/fuzz/chain/fuzz_market_seeds.py
Replay one with the actions printed:
          FUZZ_MARKET_VERBOSE=1 build/tests/replay_fuzz_market FILE
"""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'corpus', 'fuzz_market')

# Known task indexes in the starting state (setup() in fuzz_market.c):
A, D, E, C0, C1, G, R, C, W = range(9)
NEW = 9  # the first task an input submits

BLOCK = [0]


def blocks(n):          # n blocks (1..8)
    return [1, n - 1]


def serve(t, mask=0):   # every active member commits or reveals; 2 bits each: 0 honest, 2 silent, 3 liar
    return [11, t, mask]


def caps(steps=0, mem=0, reward=0, out=1, commit=0, reveal=0, steps_arg=0, reward_arg=(), out_arg=0,
         commit_arg=0, reveal_arg=0):
    """The two menu bytes of read_caps() and the bytes each choice reads after them.
    steps: 0 1e6; 1 above params.max_task_steps; 2 20000; 3 5000 (out of steps); 4 one step;
           5 1+16*steps_arg; 6 3e6 (a longer commit window); 7 zero (refused at decode)
    mem: 0,2,3 2 MiB; 1 4; 4 16; 5 65 (too big); 6 1 (too small); 7 zero
    reward: 0 30e6; 1 150*k; 2 k - (reward_arg[0] & 1); 3 reward_arg[0] odd: 2e9; bit 1 set:
            so large the allowance overflows; else a u32 follows
    out: 0 the chain's max; 1,2 4096; 3 10 (traps); 4 65 (exact); 5 64 (traps); 6 8193 (too big);
         7 1 + out_arg % 9000
    commit: 0,1 default; 2 one block (too short); 3 2 + commit_arg % 16 (255: 1000001, too long)
    reveal: 2 one block (too short); 3 3 + reveal_arg % 8; 4 100001 (too long); else default"""
    b = [steps | mem << 3 | reward << 6]
    if steps == 5:
        b += [steps_arg >> 8, steps_arg & 255]
    if reward in (2, 3):
        b += list(reward_arg)
    b += [out | commit << 3 | reveal << 5]
    if out == 7:
        b += [out_arg >> 8, out_arg & 255]
    if commit == 3:
        b += [commit_arg]
    if reveal == 3:
        b += [reveal_arg]
    return b


def submit(user=0, k=2, inp=b'abc', prog=0, prog_arg=(), mode=0, blob=0, c=None):
    """SubmitTask by `user`, committee k (1..7; 8 asks for 9, above params.max_committee).
    prog: 0..4 the ELF, 5 known blob prog_arg[0], 6,7 an unknown hash (32 bytes of prog_arg);
    mode: 0 inline input, 1 the same (an 11-byte input becomes 1025 bytes, too large),
    2 blob `blob`, 3 both (refused at decode)."""
    f = (k - 1) | (mode << 3) | (prog << 5)
    b = [2, user, f] + list(prog_arg) + [len(inp)] + list(inp)
    if mode >= 2:
        b += [blob]
    return b + (c if c is not None else caps())


def misc(sub, bad=None):
    for f in range(256):
        if f % 5 == sub and (bad is None or 1 + (f >> 2) % 6 == bad):
            return [15, f]
    raise ValueError((sub, bad))


BAD = dict(fee_low=1, fee_base=2, fee_huge=3, nonce_gap=4, nonce_old=5, tip=6)


def register(user, f, extra=(), com=0, com_arg=0):
    """RegisterExecutor; com (bits 3-5 of the user byte): 0 commission 0, 1 500, 2 2000, 3 10000,
    4 10001 (refused at decode), 5 the one in force (restated), 6 the pending raise restated (or
    a raise by one), 7 com_arg % 10001."""
    return [5, user | com << 3, f] + list(extra) + ([com_arg >> 8, com_arg & 255] if com == 7 else [])


# Delegation to executors: op 6 with bit 7 of the user byte (docs/staking.md §8). The target byte
# names user t % 8 (1..5 are executors at the start), from 0xf0 an account nobody holds.
def delegate(user, t, amount):
    """amount: 0 below min_delegation, 1 min_delegation, 2 small (min + 16 bits), 3 exactly the
    room left under exec_delegation_max_x x own stake, 4 one above it, 5 the STK balance + 1,
    6 the whole balance, 7 fuzzed (1 + 32 bits)"""
    extra = [0, 100] if amount == 2 else [0, 0, 0x10, 0] if amount == 7 else []
    return [6, 0x80 | user, t, amount] + extra


def undelegate(user, t, amount, arg=0x1000):
    """amount: 0 one, 1 the full value, 2 one more than the value, 3 half, 4 1 + arg (24 bits)"""
    return [6, 0x80 | 1 << 3 | user, t, amount] + ([arg >> 16, arg >> 8 & 255, arg & 255]
                                                   if amount == 4 else [])


def withdraw(user, t):          # WithdrawRewards {executor: t}
    return [6, 0x80 | 2 << 3 | user, t, 0]


def withdraw_form(user, form, t=1):
    """form: 0 every delegation (both empty), 1 the validator's (user 0), 2 validator and executor
    (refused at decode), 3 a 19-byte executor (refused at decode)"""
    return [6, 0x80 | 3 << 3 | user, t, form]


def unbond(user, amount, arg=0x1000):
    """amount: 0 one, 1 what seat_lock allows, 2 one more, 3 the stake, 4 1 + arg (24 bits),
    5 stake + 1"""
    return [6, user, amount] + ([arg >> 16, arg >> 8 & 255, arg & 255] if amount == 4 else [])


# the open tasks of the starting state served, so no executor is jailed for them
SERVE_SETUP = sum([sum([serve(t) for t in range(9)], []) + BLOCK for _ in range(3)], [])


# commit variant bytes: 0..2 honest, 3 liar, 4 other caps, 5 altered steps, 6 garbage, 7 other task
def commit(task, member, variant_byte=0, salt=0):  # member < 0x80: an active member
    return [7, task, member, variant_byte, salt]


# reveal perturbation bytes: 0..4 exact, 5 salt, 6 output, 7 proof, 8 truncated, 9 output hash,
# 10 no proof, 11 the honest claim, 12 an output over the cap
def reveal(task, member, pert=0):
    return [9, task, member, pert]


SEEDS = {
    # serve every open task of the starting state, block after block; then
    # let the windows pass (C's silent member is slashed and replaced)
    'serve_all': sum([sum([serve(t) for t in range(9)], []) + BLOCK for _ in range(4)], []) + blocks(8),
    # a new task from submission to pruning
    'lifecycle': submit() + BLOCK + BLOCK + serve(NEW) + BLOCK + serve(NEW) + BLOCK + blocks(3) + blocks(6),
    # nobody serves a committee of 3: no-shows slashed and jailed, redraws, expiry
    'no_shows': submit(user=6, k=3, inp=b'no') + BLOCK + blocks(8) + blocks(8) + blocks(8),
    # a liar among two: disputed
    'dispute': submit() + BLOCK + BLOCK + serve(NEW, 0x0c) + BLOCK + serve(NEW) + BLOCK + blocks(2),
    # three commit, one reveals: no quorum at the deadline, seats refilled
    'no_quorum': submit(k=3, inp=b'q') + BLOCK + BLOCK + serve(NEW) + BLOCK + reveal(NEW, 0) + BLOCK
                 + blocks(4) + serve(NEW) + BLOCK + serve(NEW) + BLOCK + blocks(3),
    # reveals that must be refused, then the right ones
    'bad_reveals': submit(k=2, inp=b'r') + BLOCK + BLOCK + serve(NEW) + BLOCK
                   + sum([reveal(NEW, m, p) for m in (0, 1) for p in (5, 6, 7, 8, 9, 10, 12)], [])
                   + reveal(NEW, 0) + reveal(NEW, 1) + BLOCK + blocks(3),
    # commitments of every variant (liar, other caps, altered steps, garbage, other task) on two
    # tasks, then their reveals
    'bad_commits': serve(R) + serve(C) + submit(k=2, inp=b'v') + submit(k=2, inp=b'w') + BLOCK
                   + serve(R) + serve(C) + BLOCK + commit(NEW, 0, 3) + commit(NEW, 1, 5)
                   + commit(NEW + 1, 0, 4) + commit(NEW + 1, 1, 6) + BLOCK + reveal(NEW, 0) + reveal(NEW, 1)
                   + reveal(NEW + 1, 0) + reveal(NEW + 1, 1) + BLOCK + blocks(4) + blocks(4),
    # executors: more stake, lower capacity, a bond that would overflow, unbond what seat_lock
    # allows and one more; transfers; the poor account gets CRD and cannot pay a storage fee
    'executors': register(6, 0x03) + register(1, 0x43, [1]) + register(2, 0x06, [0xff, 0xff, 0xff])
                 + [6, 1, 1, 6, 1, 2, 6, 3, 0, 14, 0, 3, 0x04, 14, 2, 1, 0x05,
                    14, 0, 7, 0x08, 0, 0, 0x13, 0x88, 13, 7, 3, 199, 9] + BLOCK + blocks(8),
    # a job of three chunks, served
    'job': [4, 0, 0x09, 2, ord('x'), ord('y'), 1, ord('z'), 1, ord('w'), 0x00, 0x01] + BLOCK + BLOCK
           + serve(NEW) + serve(NEW + 1) + serve(NEW + 2) + BLOCK + serve(NEW) + serve(NEW + 1)
           + serve(NEW + 2) + BLOCK + blocks(3),
    # perturbed txs, a replayed tx, a withheld and a re-committed beacon, dry runs
    'bad_txs': misc(0, BAD['fee_low']) + [14, 0, 1, 0] + misc(0, BAD['fee_base']) + submit()
               + misc(0, BAD['fee_huge']) + [14, 0, 1, 0] + misc(0, BAD['nonce_gap']) + [14, 0, 1, 0]
               + misc(0, BAD['nonce_old']) + [14, 0, 1, 0] + misc(0, BAD['tip']) + [14, 0, 1, 0]
               + BLOCK + misc(4) + misc(1) + BLOCK + misc(2) + misc(3) + submit() + BLOCK + BLOCK,
    # uploads of every kind, then a task whose input is a data blob
    # (a mutated ELF as data, then the same bytes as a program: marked checked; random bytes
    # as data, as a "program"; one byte over params.max_blob_bytes)
    'uploads': [13, 6, 0, 13, 6, 1, 13, 6, 0x82, 0x10, 0x00, 3, 13, 1, 3, 40, 7, 13, 1, 4, 40, 7, 13, 2, 5]
               + BLOCK + [13, 6, 2, 0x10, 0x00, 3, 13, 1, 0x83, 40, 8] + BLOCK + submit(mode=2, inp=b'', blob=1) + BLOCK + BLOCK + serve(NEW) + BLOCK
               + serve(NEW) + BLOCK,
    # submissions the chain refuses, all in one block: committee above the executors, reward
    # short, memory too big or too small, output cap too big, windows too short or too long,
    # an unknown program, a data blob as program, inline input and a blob at once; then caps
    # that are fine but unusual (out of steps, one step, an output that traps, exact output)
    'refused_caps': submit(k=8) + submit(c=caps(steps=1)) + submit(mode=1, inp=b'elevenbytes')
                    + submit(c=caps(commit=3, commit_arg=255)) + submit(c=caps(reward=3, reward_arg=[2]))
                    + submit(c=caps(reward=2, reward_arg=[1])) + submit(c=caps(mem=5))
                    + submit(c=caps(mem=6)) + submit(c=caps(out=6)) + submit(c=caps(commit=2))
                    + submit(c=caps(reveal=2)) + submit(c=caps(reveal=4)) + submit(c=caps(steps=6, commit=2))
                    + submit(prog=6, prog_arg=bytes(range(32)), inp=b'')
                    + submit(prog=5, prog_arg=[1]) + submit(c=caps(reward=3, reward_arg=[1]))
                    + submit(mode=3, inp=b'x', blob=1) + BLOCK
                    + submit(k=1, c=caps(steps=3)) + submit(k=1, c=caps(steps=4)) + submit(k=1, c=caps(out=3))
                    + submit(k=1, c=caps(out=4)) + submit(k=1, c=caps(out=7, out_arg=30, commit=3,
                    commit_arg=5, reveal=3, reveal_arg=2)) + BLOCK + BLOCK
                    + sum([serve(NEW + i) for i in range(16, 21)], []) + BLOCK
                    + sum([serve(NEW + i) for i in range(16, 21)], []) + BLOCK + blocks(3),
    # an executor jailed for a no-show comes back after its jail and is drawn again
    'jail_rejoin': blocks(2) + register(1, 0x00) + register(2, 0x00) + blocks(8) + blocks(8)
                   + blocks(4) + register(1, 0x00) + register(2, 0x00) + register(3, 0x00)
                   + register(4, 0x00) + register(5, 0x00) + BLOCK + submit(k=4, inp=b'back') + BLOCK
                   + BLOCK + serve(NEW) + BLOCK + serve(NEW) + BLOCK + blocks(3),
    # delegations to executors (at the start: executors 1..5 with own stakes 2M, 1M, 3.3M, 0.5M,
    # 1.5M; a cap of twice that; user 6 delegates 700k to executor 1 and has 300k leaving it):
    # every amount of the menu, to a non-executor and to nobody, max_delegations (3); then
    # undelegations of every amount, two in one block (one entry), max_entries (3), withdrawals
    # of every form, and the releases
    'exec_delegations': delegate(0, 4, 0) + delegate(0, 4, 1) + delegate(7, 4, 1) + delegate(6, 0, 1)
                        + delegate(6, 0xf5, 1) + delegate(6, 2, 5) + BLOCK
                        + delegate(0, 4, 3) + BLOCK + delegate(0, 4, 4) + delegate(0, 4, 1)
                        + delegate(0, 2, 2) + delegate(0, 3, 7) + delegate(0, 5, 1) + BLOCK
                        + undelegate(0, 4, 0) + undelegate(0, 4, 3) + undelegate(0, 4, 2)
                        + undelegate(0, 6, 1) + undelegate(7, 4, 1) + BLOCK
                        + undelegate(0, 2, 4) + BLOCK + undelegate(0, 2, 0) + BLOCK + undelegate(0, 2, 0)
                        + BLOCK + undelegate(0, 2, 0) + BLOCK
                        + undelegate(0, 2, 0) + withdraw(0, 4) + withdraw(0, 1) + withdraw(6, 1) + withdraw(6, 0xf5)
                        + withdraw_form(0, 0) + withdraw_form(6, 0) + withdraw_form(0, 1)
                        + withdraw_form(6, 2) + withdraw_form(6, 3) + BLOCK
                        + undelegate(0, 4, 1) + undelegate(0, 3, 1) + undelegate(6, 1, 1) + BLOCK
                        + blocks(6) + delegate(0, 4, 6) + undelegate(0, 4, 1) + BLOCK + blocks(6),
    # delegated executors paid: the pay split (executor 1 keeps 10 %, then raises to 20 %, which
    # waits, restated; executor 3 cuts), rewards withdrawn one by one and all at once
    'exec_delegated_pay': SERVE_SETUP + delegate(0, 1, 2) + delegate(0, 2, 3) + delegate(0, 3, 2) + delegate(0, 5, 2)
                          + register(1, 0x00, com=2) + register(3, 0x00, com=1) + BLOCK
                          + register(1, 0x00, com=6) + submit(k=3, inp=b'paid') + BLOCK + BLOCK
                          + serve(NEW) + BLOCK + serve(NEW) + BLOCK + blocks(3)
                          + withdraw(0, 1) + withdraw(0, 2) + withdraw(6, 1) + BLOCK
                          + submit(k=2, inp=b'again') + BLOCK + BLOCK + serve(NEW + 1) + BLOCK
                          + serve(NEW + 1) + BLOCK + blocks(3) + withdraw_form(0, 0)
                          + withdraw_form(6, 0) + register(1, 0x20, com=5) + BLOCK + blocks(6),
    # no-shows slash delegated executors: their bonded delegations, and the unbonding entries
    # created at or after the seat's draw (user 0's second undelegations), not those made before
    # (user 6's, and user 0's first)
    'exec_delegated_slash': delegate(0, 1, 2) + delegate(0, 2, 2) + delegate(0, 5, 2)
                            + undelegate(6, 1, 0) + submit(k=3, inp=b'absent') + BLOCK
                            + undelegate(0, 1, 0) + undelegate(0, 2, 3) + undelegate(0, 5, 0) + BLOCK
                            + blocks(8) + undelegate(0, 1, 1) + undelegate(0, 5, 3) + BLOCK + blocks(8)
                            + blocks(8),
    # the cap binds: executor 4 (own stake 500k) takes a full delegation, unbonds 200k (its
    # weight counts at most twice its stake), takes no more, serves, then leaves entirely; its record stays while delegated and goes once the last entry
    # is paid; it registers again and takes a delegation
    'exec_cap': SERVE_SETUP + delegate(0, 4, 3) + BLOCK + blocks(3) + unbond(4, 4, 199999) + BLOCK + delegate(6, 4, 1)
                + submit(k=2, inp=b'cap') + BLOCK + BLOCK + serve(NEW) + BLOCK + serve(NEW) + BLOCK
                + blocks(3) + unbond(4, 3) + BLOCK + undelegate(0, 4, 3) + BLOCK + undelegate(0, 4, 1)
                + BLOCK + blocks(8) + register(4, 0x83) + delegate(6, 4, 1) + BLOCK + blocks(2),
    # a delegation left worth nothing: user 0 keeps 1 share of its 1000 at executors 1 and 2,
    # their no-shows (the setup's tasks, unserved) slash them, and the share is worth 0: no
    # UndelegateExecutor can take it (amount >= 1 > value: `funds`), so it stays, counted in
    # max_delegations (docs/staking.md §8 as written; the validator side behaves the same)
    'exec_worthless': delegate(0, 1, 1) + delegate(0, 2, 1) + delegate(0, 3, 1) + BLOCK
                      + undelegate(0, 1, 4, 998) + undelegate(0, 2, 4, 998) + undelegate(0, 3, 4, 998)
                      + BLOCK + blocks(8) + blocks(8) + undelegate(0, 1, 0) + undelegate(0, 2, 0)
                      + undelegate(0, 3, 0) + BLOCK + undelegate(0, 1, 1) + undelegate(0, 2, 1)
                      + undelegate(0, 3, 1) + BLOCK + delegate(0, 4, 1) + BLOCK,
}

if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    for name, ops in SEEDS.items():
        assert all(0 <= b < 256 for b in ops), name
        with open(os.path.join(OUT, 'seed-' + name), 'wb') as f:
            f.write(bytes(ops))
    print('wrote %d seeds to %s' % (len(SEEDS), os.path.normpath(OUT)))
