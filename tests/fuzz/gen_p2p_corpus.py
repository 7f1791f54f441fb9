#!/usr/bin/env python3
"""Write the seed corpora of the p2p fuzz targets (tests/fuzz/corpus/
fuzz_p2p_{handshake,frame,msg}/) with the independent reference
tests/vectors/p2p_ref.py, mirroring each harness's fixed keys. Seeds are
valid inputs that reach deep into each decoder; the fuzzer mutates from
there. Regenerate after a protocol change:  python3 tests/fuzz/gen_p2p_corpus.py
"""
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "vectors"))
import p2p_ref as p  # noqa: E402


def write(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def handshake_seeds():
    i = dict(identity_seed=bytes([1]) * 32, eph_secret=bytes([2]) * 32,
             listen_addr="127.0.0.1:26656", moniker="i")
    r = dict(identity_seed=bytes([3]) * 32, eph_secret=bytes([4]) * 32, listen_addr="",
             moniker="r")
    v = p.handshake("fuzz-chain", i, r)
    stream = v["hello_i"] + v["auth_frame_i"]
    write("fuzz_p2p_handshake", "stream_whole", bytes([0x00]) + stream)
    write("fuzz_p2p_handshake", "stream_by_7", bytes([0x07]) + stream)
    write("fuzz_p2p_handshake", "stream_hello_only", bytes([0x00]) + v["hello_i"])
    write("fuzz_p2p_handshake", "stream_http", bytes([0x00]) + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" +
          bytes(20))
    write("fuzz_p2p_handshake", "auth_valid", bytes([0x20]) + v["auth_plain_i"])
    write("fuzz_p2p_handshake", "auth_by_3", bytes([0x23]) + v["auth_plain_i"])
    info = p.node_info(v["id_i"], "", "fuzz-chain", 1, "")
    write("fuzz_p2p_handshake", "auth_badsig",
          bytes([0x20]) + p.auth_message(v["pub_i"], bytes(64), info))
    write("fuzz_p2p_handshake", "xor_zero", bytes([0x40]) + bytes(len(stream)))
    write("fuzz_p2p_handshake", "xor_one_bit", bytes([0x40]) + bytes(50) + b"\x01")


def frame_seeds():
    key = bytes([0x42]) * 32
    frames = [b"a", b"hello world", bytes(range(256)) * 4, bytes(1000)]
    stream, ctr = b"", 0
    for f in frames:
        stream += p.seal(key, ctr, f)
        ctr += 1
    write("fuzz_p2p_frame", "stream_whole", bytes([0x00]) + stream)
    write("fuzz_p2p_frame", "stream_by_5", bytes([0x05]) + stream)
    write("fuzz_p2p_frame", "stream_small_limit", bytes([0x20]) + stream)
    write("fuzz_p2p_frame", "oversize", bytes([0x00]) + struct.pack(">I", 16385) + bytes(40))
    big = p.seal(key, 0, bytes(p.MAX_PLAIN))
    write("fuzz_p2p_frame", "max_frame", bytes([0x1f]) + big)
    plains = b"".join(struct.pack(">H", len(f)) + f for f in frames)
    write("fuzz_p2p_frame", "roundtrip", bytes([0x80]) + plains)
    write("fuzz_p2p_frame", "roundtrip_by_3", bytes([0x83]) + plains)


def msg_seeds():
    ids = [p.node_id(p.ed25519_pub(bytes([k]) * 32)) for k in range(1, 4)]
    ctl = [p.control_ping(7), p.control_pong(2**64 - 1), p.control_pex_request(),
           p.control_pex_addrs([(ids[0], "127.0.0.1:26656"), (ids[1], "[::1]:1"),
                                (ids[2], "node.example.org:443")])]
    frames = []
    for c in ctl:
        frames += p.envelope_frames(0, c)
    frames += p.envelope_frames(1, b"vote")
    frames += p.envelope_frames(2, bytes(40000))
    frames += p.envelope_frames(3, b"")
    env = b"".join(struct.pack(">H", len(f)) + f for f in frames)
    write("fuzz_p2p_msg", "envelopes", bytes([0]) + env)
    for k, c in enumerate(ctl):
        write("fuzz_p2p_msg", "control_%d" % k, bytes([1]) + c)
    write("fuzz_p2p_msg", "peers", bytes([2]) + (
        "%s@127.0.0.1:26656, %s@[::1]:1,%s@a-b.example.org:65535" % tuple(ids)).encode())
    write("fuzz_p2p_msg", "hostport", bytes([2]) + b"tcp://10.0.0.1:0")


if __name__ == "__main__":
    handshake_seeds()
    frame_seeds()
    msg_seeds()
