#!/usr/bin/env python3
"""Seeds of the staking messages for fuzz_tx (tests/fuzz/chain/fuzz_tx.c).

Writes one signed Tx per staking and distribution message (docs/staking.md
§2: create_validator 13, edit_validator 26, delegate 11, undelegate 27,
redelegate 28, withdraw_rewards 29, unjail 30; §8, delegation to executors:
delegate_executor 32, undelegate_executor 33, withdraw_rewards with its
executor field 2, and the forms decoding refuses) into
tests/fuzz/corpus/fuzz_tx/, named by the sha1 of their bytes as libFuzzer
names its corpus files. They are built here from the .proto field numbers
with an independent encoder (tests/integration/cohort_client.py), signed by
the fuzz chain's funded account (secret 1, chain "fuzz-chain",
fuzz_state_fixture.h), which also operates the chain's one validator, so
most of them execute (delegate, undelegate, withdraw, edit) and the rest
reach their state checks (the genesis has no executor: the executor
messages stop at `not_found`, past decoding and dispatch). Rerun when the messages change:
    python3 tests/fuzz/chain/gen_staking_seeds.py
"""
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'integration'))
import cohort_client as cc  # noqa: E402

OUT = os.path.join(HERE, '..', 'corpus', 'fuzz_tx')
CHAIN = "fuzz-chain"
SEC = bytes(31) + b"\x01"
ME = cc.account_id(cc.schnorr_pubkey(SEC))
OTHER = hashlib.sha256(b"another validator").digest()[:20]
# RFC 8032 test 1's public key: a valid ed25519 point nobody uses here
FRESH_KEY = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def msg(field, body):
    """A oneof member: always written, even when empty (MsgUnjail)."""
    return cc._varint(field << 3 | 2) + cc._varint(len(body)) + body


def pb_str(field, s):
    return cc.pb_bytes(field, s.encode())


def tx(field, body, nonce=0, fee=100000):
    b = cc.pb_uint(1, nonce) + cc.pb_uint(2, fee) + msg(field, body)
    return cc.make_tx(SEC, CHAIN, b)


SEEDS = [
    # MsgCreateValidator {pubkey, beacon_commit, moniker, commission_bps,
    #                     max_commission_bps, max_change_bps, self_bond}
    tx(13, cc.pb_bytes(1, FRESH_KEY) + cc.pb_bytes(2, bytes(range(32))) + pb_str(3, "seed") +
       cc.pb_uint(4, 500) + cc.pb_uint(5, 2000) + cc.pb_uint(6, 100) + cc.pb_uint(7, 5000000)),
    # MsgEditValidator {moniker, set_moniker, commission_bps, set_commission}
    tx(26, pb_str(1, "renamed") + cc.pb_uint(2, 1)),
    tx(26, cc.pb_uint(3, 100) + cc.pb_uint(4, 1)),
    # MsgDelegate {validator, amount}
    tx(11, cc.pb_bytes(1, ME) + cc.pb_uint(2, 1000000)),
    # MsgUndelegate {validator, amount}
    tx(27, cc.pb_bytes(1, ME) + cc.pb_uint(2, 1000)),
    # MsgRedelegate {src, dst, amount}
    tx(28, cc.pb_bytes(1, ME) + cc.pb_bytes(2, OTHER) + cc.pb_uint(3, 1000)),
    # MsgWithdrawRewards {validator}: one, or every delegation
    tx(29, cc.pb_bytes(1, ME)),
    tx(29, b""),
    # MsgUnjail {}
    tx(30, b""),
    # MsgDelegateExecutor {executor, amount}: to an account that is no executor, at and below
    # params.min_delegation; refused at decode: a 19-byte executor, amount 0
    tx(32, cc.pb_bytes(1, ME) + cc.pb_uint(2, 1000000)),
    tx(32, cc.pb_bytes(1, OTHER) + cc.pb_uint(2, 999)),
    tx(32, cc.pb_bytes(1, ME[:19]) + cc.pb_uint(2, 1000)),
    tx(32, cc.pb_bytes(1, ME)),
    # MsgUndelegateExecutor {executor, amount}
    tx(33, cc.pb_bytes(1, ME) + cc.pb_uint(2, 1000)),
    tx(33, cc.pb_bytes(1, OTHER) + cc.pb_uint(2, 2**64 - 1)),
    # MsgWithdrawRewards {validator, executor}: one executor delegation; both named (refused at
    # decode: a validator or an executor)
    tx(29, cc.pb_bytes(2, ME)),
    tx(29, cc.pb_bytes(1, ME) + cc.pb_bytes(2, OTHER)),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for s in SEEDS:
        name = hashlib.sha1(s).hexdigest()
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(s)
        print(name, len(s))


if __name__ == "__main__":
    main()
