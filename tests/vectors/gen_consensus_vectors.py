#!/usr/bin/env python3
"""Generate tests/vectors/consensus.json: consensus known answers written
from the text of docs/protocol.md ("Proposals", "Proposer selection",
"Consensus WAL") and consensus/proposer.h, independently of the C code:
  - proposer selection sequences (Python integers are exact: no clipping);
  - proposal sign bytes;
  - consensus WAL records, byte for byte (hand-rolled protobuf and CRC-32C).

Regenerate only when the protocol changes on purpose:
  python3 tests/vectors/gen_consensus_vectors.py > tests/vectors/consensus.json
"""
import hashlib
import json
import struct
import sys


def step(vals):
    for v in vals:
        v["prio"] += v["power"]
    total = sum(v["power"] for v in vals)
    best = None
    for i, v in enumerate(vals):
        if best is None or v["prio"] > vals[best]["prio"] or (
                v["prio"] == vals[best]["prio"] and v["key"] < vals[best]["key"]):
            best = i
    vals[best]["prio"] -= total
    return best


def trunc_div(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def rescale_center(vals):
    total = sum(v["power"] for v in vals)
    window = 2 * total
    diff = max(v["prio"] for v in vals) - min(v["prio"] for v in vals)
    if diff > window:
        ratio = -(-diff // window)  # ceil
        for v in vals:
            v["prio"] = trunc_div(v["prio"], ratio)
    avg = sum(v["prio"] for v in vals) // len(vals)  # floor
    for v in vals:
        v["prio"] -= avg


def increment(vals, times):
    rescale_center(vals)
    prop = None
    for _ in range(times):
        prop = step(vals)
    return prop


def copy(vals):
    return [dict(v) for v in vals]


def case(name, powers, heights, rounds):
    vals = [{"key": hashlib.sha256(b"cohort/vector/validator" + bytes([i])).digest(),
             "power": p, "prio": 0} for i, p in enumerate(powers)]
    prop = increment(vals, 1)  # S_1
    out = []
    for h in range(1, heights + 1):
        by_round = [prop]
        for r in range(1, rounds + 1):
            by_round.append(increment(copy(vals), r))
        out.append({"height": h, "proposer_by_round": by_round,
                    "priorities": [str(v["prio"]) for v in vals]})
        prop = increment(vals, 1)  # S_{h+1}
    return {"name": name,
            "validators": [{"pubkey": v["key"].hex(), "power": str(v["power"])} for v in vals],
            "heights": out}


def update(vals, new):
    """CometBFT updateWithChangeSet (docs/protocol.md "Proposer selection"):
    new = [(key, power)] in the new set's order. Returns the new list."""
    old = {v["key"]: v for v in vals}
    if len(new) == len(vals) and all(k in old and old[k]["power"] == p for k, p in new):
        return vals  # no change: nothing at all
    keys = {k for k, _ in new}
    removed = sum(v["power"] for v in vals if v["key"] not in keys)
    tp = sum(p for _, p in new) + removed  # after updates, before removals
    fresh = -(tp + tp // 8)
    out = [{"key": k, "power": p, "prio": old[k]["prio"] if k in old else fresh} for k, p in new]
    rescale_center(out)
    return out


def vkey(i):
    return hashlib.sha256(b"cohort/vector/validator" + bytes([i])).digest()


def update_case(name, nkeys, schedule, heights, rounds):
    """schedule: {height: [(key index, power), ...]} = V_height where it changes
    (height 1 = genesis). S_{h+1} = update(S_h, V_{h+1}) then increment(1)."""
    keys = [vkey(i) for i in range(nkeys)]
    index = {k: i for i, k in enumerate(keys)}
    vals = [{"key": keys[i], "power": p, "prio": 0} for i, p in schedule[1]]
    prop = increment(vals, 1)  # S_1
    out = []
    for h in range(1, heights + 1):
        by_round = [index[vals[prop]["key"]]]
        for r in range(1, rounds + 1):
            c = copy(vals)
            by_round.append(index[c[increment(c, r)]["key"]])
        out.append({"height": h, "set": [index[v["key"]] for v in vals],
                    "powers": [str(v["power"]) for v in vals],
                    "priorities": [str(v["prio"]) for v in vals],
                    "proposer_by_round": by_round})
        if h + 1 in schedule:
            vals = update(vals, [(keys[i], p) for i, p in schedule[h + 1]])
        prop = increment(vals, 1)  # S_{h+1}
    return {"name": name, "keys": [k.hex() for k in keys],
            "schedule": [{"height": h, "set": [[i, str(p)] for i, p in sched]}
                         for h, sched in sorted(schedule.items())],
            "heights": out}


def vote_bytes(vtype, height, rnd, block_hash, key, sig):
    return (field_varint(1, vtype) + field_varint(2, height) + field_varint(3, rnd) +
            field_bytes(4, block_hash) + field_bytes(5, key) + field_bytes(6, sig))


def evidence_vectors():
    """DuplicateVoteEvidence encodings (vote_a has the smaller block hash, nil
    first) and evidence hashes (docs/protocol.md 4b). Signatures are fixed
    bytes: these vectors check encoding and hashing, not ed25519."""
    key = vkey(0)
    h1, h2 = hashlib.sha256(b"block").digest(), hashlib.sha256(b"other").digest()
    lo, hi = sorted([h1, h2])
    sig_a, sig_b = bytes(range(64)), bytes(range(64, 128))
    items = []
    for (ha, hb, vtype) in ((lo, hi, 2), (b"", h1, 1)):
        va = vote_bytes(vtype, 12, 3, ha, key, sig_a)
        vb = vote_bytes(vtype, 12, 3, hb, key, sig_b)
        items.append({"vote_a": va.hex(), "vote_b": vb.hex(),
                      "evidence": (field_bytes(1, va) + field_bytes(2, vb)).hex()})

    def ehash(list_):
        m = hashlib.sha256()
        m.update(b"cohort/evidence/v1")
        for it in list_:
            b = bytes.fromhex(it["evidence"])
            m.update(struct.pack(">I", len(b)) + b)
        return m.hexdigest()
    return {"items": items,
            "hashes": [{"items": [0], "evidence_hash": ehash(items[:1])},
                       {"items": [0, 1], "evidence_hash": ehash(items)}]}


def proposal_sign_bytes(chain, height, rnd, pol_round, block_hash):
    c = chain.encode()
    return (b"cohort/proposal/v1" + bytes([len(c)]) + c + struct.pack(">QII", height, rnd, pol_round + 1)
            + block_hash)


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field_varint(num, v):
    return varint(num << 3) + varint(v) if v else b""


def field_bytes(num, b, always=False):
    return varint(num << 3 | 2) + varint(len(b)) + b if (b or always) else b""


def crc32c(data):
    c = 0xFFFFFFFF
    for byte in data:
        c ^= byte
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF


def wal_record(member, body):
    payload = field_bytes(member, body, always=True)
    return struct.pack(">II", len(payload), crc32c(payload)) + payload


def wal_vectors():
    key = hashlib.sha256(b"cohort/vector/validator" + bytes([0])).digest()
    bh = hashlib.sha256(b"block").digest()
    sig = bytes(range(64))
    vote = (field_varint(1, 2) + field_varint(2, 12) + field_varint(3, 1) + field_bytes(4, bh) +
            field_bytes(5, key) + field_bytes(6, sig))
    nil_vote = field_varint(1, 1) + field_varint(2, 3) + field_bytes(5, key) + field_bytes(6, sig)
    proposal = (field_varint(1, 7) + field_varint(2, 4) + field_varint(3, 2 + 1) + field_bytes(4, bh)
                + field_bytes(5, key) + field_bytes(6, sig))
    return [
        {"kind": "vote", "type": 2, "height": "12", "round": 1, "block_hash": bh.hex(),
         "validator": key.hex(), "signature": sig.hex(), "bytes": wal_record(1, vote).hex()},
        {"kind": "vote", "type": 1, "height": "3", "round": 0, "block_hash": "",
         "validator": key.hex(), "signature": sig.hex(), "bytes": wal_record(1, nil_vote).hex()},
        {"kind": "proposal", "height": "7", "round": 4, "pol_round": 2, "block_hash": bh.hex(),
         "proposer": key.hex(), "signature": sig.hex(), "bytes": wal_record(2, proposal).hex()},
        {"kind": "timeout", "height": "9", "round": 300, "step": 3,
         "bytes": wal_record(3, field_varint(1, 9) + field_varint(2, 300) + field_varint(3, 3)).hex()},
        {"kind": "timeout", "height": "1", "round": 0, "step": 0,
         "bytes": wal_record(3, field_varint(1, 1)).hex()},
        {"kind": "verdict", "height": "5", "block_hash": bh.hex(), "valid": True,
         "bytes": wal_record(4, field_varint(1, 5) + field_bytes(2, bh) + field_varint(3, 1)).hex()},
        {"kind": "verdict", "height": "5", "block_hash": bh.hex(), "valid": False,
         "bytes": wal_record(4, field_varint(1, 5) + field_bytes(2, bh)).hex()},
        {"kind": "block", "height": "2", "block": "0a0b0c",
         "bytes": wal_record(5, field_varint(1, 2) + field_bytes(2, bytes([10, 11, 12]))).hex()},
        {"kind": "end_height", "height": "18446744073709551615",
         "bytes": wal_record(6, field_varint(1, 18446744073709551615)).hex()},
    ]


def main():
    assert crc32c(b"123456789") == 0xE3069283
    bh = hashlib.sha256(b"block").digest()
    psb = [{"chain_id": "cohort-devnet-1", "height": "12", "round": 3, "pol_round": 1,
            "block_hash": bh.hex(), "sign_bytes": proposal_sign_bytes("cohort-devnet-1", 12, 3, 1, bh).hex()},
           {"chain_id": "c", "height": "1", "round": 0, "pol_round": -1, "block_hash": bh.hex(),
            "sign_bytes": proposal_sign_bytes("c", 1, 0, -1, bh).hex()},
           {"chain_id": "c", "height": "18446744073709551615", "round": 4294967295,
            "pol_round": 4294967294, "block_hash": bh.hex(),
            "sign_bytes": proposal_sign_bytes("c", 18446744073709551615, 4294967295, 4294967294, bh).hex()}]
    cases = [
        case("two equal (ties broken by key)", [1, 1], 8, 4),
        case("1 and 3 (spec example p2 p1 p2 p2)", [1, 3], 12, 4),
        case("4 2 2 2", [4, 2, 2, 2], 20, 6),
        case("one heavy among seven light", [3, 1, 1, 1, 1, 1, 1, 1], 20, 6),
        case("dominant validator", [100, 2, 3, 4], 109, 3),
        case("seven mixed", [5, 9, 2, 7, 7, 1, 13], 44, 8),
        case("large powers", [100000000000, 250000000000, 1, 18446744073709551615], 30, 5),
    ]
    updates = [
        update_case("one of four removed at 6", 4, {1: [(0, 5), (1, 9), (2, 2), (3, 7)],
                                                    6: [(0, 5), (2, 2), (3, 7)]}, 14, 3),
        update_case("heaviest removed, a new one, a power change", 5,
                    {1: [(0, 10), (1, 1), (2, 1), (3, 1)], 4: [(1, 1), (2, 1), (3, 1)],
                     8: [(1, 1), (2, 1), (3, 1), (4, 6)], 12: [(1, 1), (2, 5), (3, 1), (4, 6)]},
                    20, 4),
        update_case("the only validator slashed (power change)", 1, {1: [(0, 1000)], 3: [(0, 950)]},
                    6, 2),
        update_case("two of five removed at once", 5,
                    {1: [(i, 3) for i in range(5)], 4: [(0, 3), (2, 3), (4, 3)]}, 10, 3),
        update_case("large powers, the largest removed", 3,
                    {1: [(0, 2 ** 63), (1, 3), (2, 2 ** 62 + 1)], 5: [(1, 3), (2, 2 ** 62 + 1)]},
                    12, 3),
        update_case("removed and back (priority not reset)", 3,
                    {1: [(0, 4), (1, 2), (2, 1)], 3: [(1, 2), (2, 1)], 5: [(0, 4), (1, 2), (2, 1)]},
                    12, 2),
    ]
    json.dump({"about": "Cohort consensus known answers (docs/protocol.md). proposer_cases: for "
                        "each height h, proposer_by_round[r] is the index (in the listed order) of "
                        "proposer(h, r) and priorities are S_h's. update_cases: the same across "
                        "validator set changes: schedule lists V_h where it changes (key index, "
                        "power); per height, set/powers/priorities are S_h's in set order and "
                        "proposer_by_round holds key indices. evidence: DuplicateVoteEvidence "
                        "encodings and evidence hashes (fixed fake signatures). wal_records: one "
                        "encoded record each (header and payload, no file magic). Generated by "
                        "tests/vectors/gen_consensus_vectors.py.",
               "proposal_sign_bytes": psb, "wal_records": wal_vectors(),
               "proposer_cases": cases, "update_cases": updates,
               "evidence": evidence_vectors()}, sys.stdout, indent=1)
    print()


main()
