#!/usr/bin/env python3
"""An independent reference of Cohort's p2p wire format (docs/p2p.md), in pure
Python with the standard library only: X25519 (RFC 7748), Ed25519 (RFC 8032),
XChaCha20-Poly1305 (libsodium's IETF construction: HChaCha20 subkey, then
RFC 8439 ChaCha20-Poly1305), the hello, transcript, Auth, frames, the
envelope and the control messages. Written from docs/p2p.md, not from the C
code; tests/vectors/gen_p2p_vectors.py uses it to produce p2p.json, which
tests/unit/p2p checks the C implementation against. Slow, not constant-time:
for vectors and tests only.
"""
import hashlib
import struct

# ---- X25519 (RFC 7748) -------------------------------------------------------

P = 2**255 - 19


def x25519(k: bytes, u: bytes) -> bytes:
    k = bytearray(k)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    kn = int.from_bytes(k, "little")
    x1 = int.from_bytes(u, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        kt = (kn >> t) & 1
        swap ^= kt
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = kt
        a = x2 + z2
        aa = a * a
        b = x2 - z2
        bb = b * b
        e = aa - bb
        c = x3 + z3
        d = x3 - z3
        da = d * a
        cb = c * b
        x3 = (da + cb) ** 2 % P
        z3 = x1 * (da - cb) ** 2 % P
        x2 = aa * bb % P
        z2 = e * (aa + 121665 * e) % P
    if swap:
        x2, x3, z2, z3 = x3, x2, z3, z2
    return (x2 * pow(z2, P - 2, P) % P).to_bytes(32, "little")


def x25519_base(k: bytes) -> bytes:
    return x25519(k, (9).to_bytes(32, "little"))


# ---- Ed25519 (RFC 8032, section 6) ------------------------------------------

_D = -121665 * pow(121666, P - 2, P) % P
_Q = 2**252 + 27742317777372353535851937790883648493
_SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y, sign):
    x2 = (y * y - 1) * pow(_D * y * y + 1, P - 2, P)
    if x2 % P == 0:
        return 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * _SQRT_M1 % P
    if (x & 1) != sign:
        x = P - x
    return x


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
_G = (_GX, _GY, 1, _GX * _GY % P)


def _add(p1, p2):
    a = (p1[1] - p1[0]) * (p2[1] - p2[0]) % P
    b = (p1[1] + p1[0]) * (p2[1] + p2[0]) % P
    c = 2 * p1[3] * p2[3] * _D % P
    d = 2 * p1[2] * p2[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f, g * h, f * g, e * h)


def _mul(s, pt):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _compress(pt):
    zi = pow(pt[2], P - 2, P)
    x, y = pt[0] * zi % P, pt[1] * zi % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _expand(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed25519_pub(seed: bytes) -> bytes:
    return _compress(_mul(_expand(seed)[0], _G))


def ed25519_sign(seed: bytes, msg: bytes) -> bytes:
    a, prefix = _expand(seed)
    pub = _compress(_mul(a, _G))
    r = int.from_bytes(hashlib.sha512(prefix + msg).digest(), "little") % _Q
    rs = _compress(_mul(r, _G))
    h = int.from_bytes(hashlib.sha512(rs + pub + msg).digest(), "little") % _Q
    return rs + int.to_bytes((r + h * a) % _Q, 32, "little")


# ---- ChaCha20, Poly1305, XChaCha20-Poly1305 ---------------------------------

_M = 0xFFFFFFFF
_SIGMA = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]


def _rotl(v, c):
    return ((v << c) & _M) | (v >> (32 - c))


def _qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & _M
    s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & _M
    s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & _M
    s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & _M
    s[b] = _rotl(s[b] ^ s[c], 7)


def _rounds(s):
    for _ in range(10):
        _qr(s, 0, 4, 8, 12)
        _qr(s, 1, 5, 9, 13)
        _qr(s, 2, 6, 10, 14)
        _qr(s, 3, 7, 11, 15)
        _qr(s, 0, 5, 10, 15)
        _qr(s, 1, 6, 11, 12)
        _qr(s, 2, 7, 8, 13)
        _qr(s, 3, 4, 9, 14)


def _block(key, counter, nonce12):
    s = _SIGMA + list(struct.unpack("<8I", key)) + [counter] + list(struct.unpack("<3I", nonce12))
    w = s[:]
    _rounds(w)
    return struct.pack("<16I", *[(w[i] + s[i]) & _M for i in range(16)])


def _hchacha(key, n16):
    s = _SIGMA + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", n16))
    _rounds(s)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def _xor_stream(key, counter, nonce12, data):
    out = bytearray()
    for i in range(0, len(data), 64):
        ks = _block(key, counter + i // 64, nonce12)
        out += bytes(x ^ y for x, y in zip(data[i:i + 64], ks))
    return bytes(out)


def _poly1305(key, msg):
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    acc, p = 0, (1 << 130) - 5
    for i in range(0, len(msg), 16):
        acc = (acc + int.from_bytes(msg[i:i + 16] + b"\x01", "little")) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def _pad16(b):
    return b"\x00" * (-len(b) % 16)


def xchacha20poly1305_encrypt(key: bytes, nonce24: bytes, pt: bytes, ad: bytes) -> bytes:
    sub = _hchacha(key, nonce24[:16])
    n12 = b"\x00" * 4 + nonce24[16:]
    otk = _block(sub, 0, n12)[:32]
    ct = _xor_stream(sub, 1, n12, pt)
    mac = ad + _pad16(ad) + ct + _pad16(ct) + struct.pack("<QQ", len(ad), len(ct))
    return ct + _poly1305(otk, mac)


def xchacha20poly1305_decrypt(key: bytes, nonce24: bytes, ct: bytes, ad: bytes) -> bytes:
    sub = _hchacha(key, nonce24[:16])
    n12 = b"\x00" * 4 + nonce24[16:]
    otk = _block(sub, 0, n12)[:32]
    body, tag = ct[:-16], ct[-16:]
    mac = ad + _pad16(ad) + body + _pad16(body) + struct.pack("<QQ", len(ad), len(body))
    if _poly1305(otk, mac) != tag:
        raise ValueError("frame does not authenticate")
    return _xor_stream(sub, 1, n12, body)


# ---- protobuf (only what p2p.proto needs) -----------------------------------


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(field, b):
    return _varint(field << 3 | 2) + _varint(len(b)) + b


def _str(field, s):
    return _ld(field, s.encode()) if s else b""


def _uint(field, v):
    return _varint(field << 3) + _varint(v) if v else b""


def node_info(node_id, listen_addr, chain_id, version, moniker):
    return (_str(1, node_id) + _str(2, listen_addr) + _str(3, chain_id) + _uint(4, version) +
            _str(5, moniker))


def auth_message(pubkey, signature, info):
    return _ld(1, pubkey) + _ld(2, signature) + _ld(3, info)


def control_ping(nonce):
    return _ld(1, _uint(1, nonce))


def control_pong(nonce):
    return _ld(2, _uint(1, nonce))


def control_pex_request():
    return _ld(3, b"")


def control_pex_addrs(entries):
    body = b"".join(_ld(1, _str(1, i) + _str(2, a)) for i, a in entries)
    return _ld(4, body)


# ---- the protocol -------------------------------------------------------------

VERSION = 1
MAX_PLAIN = 16384
TRANSCRIPT_DOMAIN = b"cohort/p2p/v1/transcript"
LABEL_I = b"cohort/p2p/v1/auth/initiator"
LABEL_R = b"cohort/p2p/v1/auth/responder"


def node_id(pub: bytes) -> str:
    return hashlib.sha256(pub).digest()[:20].hex()


def hello(eph_pub: bytes, chain_id: str) -> bytes:
    c = chain_id.encode()
    return b"COHP" + struct.pack(">HH", VERSION, 0) + eph_pub + bytes([len(c)]) + c


def transcript_hash(hello_i: bytes, hello_r: bytes) -> bytes:
    return hashlib.sha256(TRANSCRIPT_DOMAIN + hello_i + hello_r).digest()


def session_keys(eph_sec_i, eph_pub_i, eph_sec_r, eph_pub_r):
    """(key for I->R frames, key for R->I frames), as crypto_kx derives them."""
    q = x25519(eph_sec_i, eph_pub_r)
    assert q == x25519(eph_sec_r, eph_pub_i)
    k = hashlib.blake2b(q + eph_pub_i + eph_pub_r, digest_size=64).digest()
    return k[32:], k[:32]


def frame_nonce(counter: int) -> bytes:
    return b"\x00" * 16 + struct.pack(">Q", counter)


def seal(key: bytes, counter: int, plain: bytes) -> bytes:
    assert 1 <= len(plain) <= MAX_PLAIN
    head = struct.pack(">I", len(plain))
    return head + xchacha20poly1305_encrypt(key, frame_nonce(counter), plain, head)


def open_frames(key: bytes, counter: int, stream: bytes):
    """Split and open a stream of frames; returns the plaintexts."""
    out, off = [], 0
    while off < len(stream):
        n = struct.unpack(">I", stream[off:off + 4])[0]
        assert 1 <= n <= MAX_PLAIN
        out.append(xchacha20poly1305_decrypt(key, frame_nonce(counter), stream[off + 4:off + 20 + n],
                                             stream[off:off + 4]))
        counter += 1
        off += 20 + n
    return out


def envelope_frames(channel: int, msg: bytes):
    """Frame plaintexts of one message: start frame, then continuations."""
    first = bytes([channel, 1]) + struct.pack(">I", len(msg)) + msg[:MAX_PLAIN - 6]
    frames, off = [first], MAX_PLAIN - 6
    while off < len(msg):
        frames.append(bytes([channel, 0]) + msg[off:off + MAX_PLAIN - 2])
        off += MAX_PLAIN - 2
    return frames


def handshake(chain_id, i, r):
    """i and r: dicts with identity_seed, eph_secret, listen_addr, moniker (bytes/str).
    Returns every intermediate value of one handshake."""
    v = {}
    for side, d in (("i", i), ("r", r)):
        d["pub"] = ed25519_pub(d["identity_seed"])
        d["id"] = node_id(d["pub"])
        d["eph_pub"] = x25519_base(d["eph_secret"])
        d["hello"] = hello(d["eph_pub"], chain_id)
    th = transcript_hash(i["hello"], r["hello"])
    k_ir, k_ri = session_keys(i["eph_secret"], i["eph_pub"], r["eph_secret"], r["eph_pub"])
    v.update(hello_i=i["hello"], hello_r=r["hello"], transcript_hash=th, key_i2r=k_ir,
             key_r2i=k_ri)
    for side, d, label, key in (("i", i, LABEL_I, k_ir), ("r", r, LABEL_R, k_ri)):
        sig = ed25519_sign(d["identity_seed"], label + th)
        info = node_info(d["id"], d["listen_addr"], chain_id, VERSION, d["moniker"])
        auth = auth_message(d["pub"], sig, info)
        v["pub_" + side] = d["pub"]
        v["id_" + side] = d["id"]
        v["eph_pub_" + side] = d["eph_pub"]
        v["sig_" + side] = sig
        v["auth_plain_" + side] = auth
        v["auth_frame_" + side] = seal(key, 0, auth)
    return v
