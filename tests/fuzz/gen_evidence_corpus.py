#!/usr/bin/env python3
"""Write the seed corpus of fuzz_evidence (tests/fuzz/corpus/fuzz_evidence/):
DuplicateVoteEvidence items (docs/protocol.md 4b) signed with the fuzz
chain's validator key (ed25519 seed 01 00.., chain "fuzz-chain"), written
from the spec with the pure-Python ed25519 of tests/vectors/p2p_ref.py.
valid_*: includable at the harness's height 3; bad_*: one rule broken each.
Regenerate after a protocol change:  python3 tests/fuzz/gen_evidence_corpus.py
"""
import hashlib
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "vectors"))
import p2p_ref as p  # noqa: E402

SEED = bytes([1]) + bytes(31)
CHAIN = "fuzz-chain"


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def fv(num, v):
    return varint(num << 3) + varint(v) if v else b""


def fb(num, b):
    return varint(num << 3 | 2) + varint(len(b)) + b if b else b""


def vote(vtype, height, rnd, block_hash, chain=CHAIN, seed=SEED):
    c = chain.encode()
    sb = (b"cohort/vote/v1" + bytes([len(c)]) + c + bytes([vtype]) + struct.pack(">QI", height, rnd)
          + bytes([len(block_hash)]) + block_hash)
    sig = p.ed25519_sign(seed, sb)
    return (fv(1, vtype) + fv(2, height) + fv(3, rnd) + fb(4, block_hash) +
            fb(5, p.ed25519_pub(seed)) + fb(6, sig))


def evidence(a, b):
    return fb(1, a) + fb(2, b)


def write(name, data):
    d = os.path.join(here, "corpus", "fuzz_evidence")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    x, y = sorted([hashlib.sha256(b"x").digest(), hashlib.sha256(b"y").digest()])
    write("valid_prevote_nil", evidence(vote(1, 2, 0, b""), vote(1, 2, 0, x)))
    write("valid_precommit", evidence(vote(2, 1, 5, x), vote(2, 1, 5, y)))
    write("bad_order", evidence(vote(2, 1, 5, y), vote(2, 1, 5, x)))
    write("bad_same_hash", evidence(vote(1, 2, 0, x), vote(1, 2, 0, x)))
    write("bad_rounds", evidence(vote(1, 2, 0, x), vote(1, 2, 1, y)))
    write("bad_chain", evidence(vote(1, 2, 0, b"", "other"), vote(1, 2, 0, x, "other")))
    write("bad_outsider", evidence(vote(1, 2, 0, b"", seed=bytes([9]) * 32),
                                   vote(1, 2, 0, x, seed=bytes([9]) * 32)))
    write("bad_future", evidence(vote(1, 3, 0, b""), vote(1, 3, 0, x)))
    write("bad_truncated", evidence(vote(1, 2, 0, b""), vote(1, 2, 0, x))[:-7])
    write("empty", b"")


main()
