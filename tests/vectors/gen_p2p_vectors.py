#!/usr/bin/env python3
"""Generate tests/vectors/p2p.json with the independent reference
tests/vectors/p2p_ref.py (written from docs/p2p.md). tests/unit/p2p checks the
C implementation against this file; an implementation in any other language
can check itself against it too.

Every value is hex unless named otherwise. Regenerate only when the protocol
changes on purpose:
  python3 tests/vectors/gen_p2p_vectors.py > tests/vectors/p2p.json
"""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p2p_ref as p  # noqa: E402


def seeded(tag: str) -> bytes:
    return hashlib.sha256(tag.encode()).digest()


def hx(v):
    return v.hex() if isinstance(v, (bytes, bytearray)) else v


def main():
    cases = [
        ("cohort-devnet-1",
         dict(identity_seed=seeded("node-a"), eph_secret=seeded("eph-a"),
              listen_addr="127.0.0.1:26656", moniker="alpha"),
         dict(identity_seed=seeded("node-b"), eph_secret=seeded("eph-b"),
              listen_addr="[::1]:26657", moniker="")),
        ("x",
         dict(identity_seed=bytes(32), eph_secret=bytes([1]) * 32, listen_addr="",
              moniker="validator 7 (eu-west)"),
         dict(identity_seed=bytes([0xFF]) * 32, eph_secret=bytes([0xFE]) * 32,
              listen_addr="node-3.example.org:1", moniker="~")),
    ]
    hs = []
    for chain, i, r in cases:
        inputs = {"chain_id": chain,
                  "initiator": {k: hx(v) for k, v in i.items()},
                  "responder": {k: hx(v) for k, v in r.items()}}
        v = p.handshake(chain, dict(i), dict(r))
        hs.append({"input": inputs, "expect": {k: hx(x) for k, x in v.items()}})

    # What the initiator of case 0 sends after its Auth: four messages, the
    # last spanning three frames, each frame sealed under key_i2r from counter 1.
    v0 = p.handshake(cases[0][0], dict(cases[0][1]), dict(cases[0][2]))
    big = bytes((i * 7 + 3) & 0xFF for i in range(40000))
    msgs = [(1, b"a vote"), (0, p.control_ping(7)), (3, b""), (4, big)]
    stream, ctr, frames = b"", 1, []
    for ch, m in msgs:
        for pt in p.envelope_frames(ch, m):
            frames.append(len(pt))
            stream += p.seal(v0["key_i2r"], ctr, pt)
            ctr += 1
    assert [pt for pt in p.open_frames(v0["key_i2r"], 1, stream)] == \
        [pt for ch, m in msgs for pt in p.envelope_frames(ch, m)]
    session = {
        "key_i2r": v0["key_i2r"].hex(),
        "messages": [{"channel": ch, "len": len(m),
                      "sha256": hashlib.sha256(m).hexdigest()} for ch, m in msgs],
        "big_message_pattern": "byte i = (7*i + 3) mod 256",
        "frame_plain_lens": frames,
        "first_frames": stream[:sum(20 + n for n in frames[:3])].hex(),
        "stream_len": len(stream),
        "stream_sha256": hashlib.sha256(stream).hexdigest(),
    }

    frame_cases = []
    for key, ctr, pt in [(bytes([0x42]) * 32, 0, b"hello"),
                         (bytes([0x42]) * 32, 2**32 + 5, bytes(range(256)) + b"tail"),
                         (bytes(range(32)), 2**64 - 2, b"\x00"),
                         (seeded("k"), 1, bytes(p.MAX_PLAIN))]:
        f = p.seal(key, ctr, pt)
        frame_cases.append({"key": key.hex(), "counter": str(ctr), "plain_len": len(pt),
                            "plain": pt.hex() if len(pt) <= 300 else None,
                            "frame": f.hex() if len(f) <= 400 else None,
                            "frame_sha256": hashlib.sha256(f).hexdigest()})

    ids = [p.node_id(p.ed25519_pub(seeded("node-a"))), p.node_id(p.ed25519_pub(seeded("node-b")))]
    control = [
        {"kind": "ping", "nonce": "0", "bytes": p.control_ping(0).hex()},
        {"kind": "ping", "nonce": str(2**64 - 1), "bytes": p.control_ping(2**64 - 1).hex()},
        {"kind": "pong", "nonce": "300", "bytes": p.control_pong(300).hex()},
        {"kind": "pex_request", "bytes": p.control_pex_request().hex()},
        {"kind": "pex_addrs", "addrs": [[ids[0], "127.0.0.1:26656"], [ids[1], "[::1]:1"]],
         "bytes": p.control_pex_addrs([(ids[0], "127.0.0.1:26656"), (ids[1], "[::1]:1")]).hex()},
        {"kind": "pex_addrs", "addrs": [], "bytes": p.control_pex_addrs([]).hex()},
    ]
    out = {
        "about": "Cohort p2p known answers (docs/p2p.md); made by tests/vectors/gen_p2p_vectors.py",
        "handshakes": hs,
        "session": session,
        "frames": frame_cases,
        "control": control,
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
