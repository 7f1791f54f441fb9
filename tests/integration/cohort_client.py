"""An independent Cohort client in pure Python (standard library only).

It is written from docs/protocol.md, not from the C code: protobuf encoding
by hand, BIP-340 Schnorr signing from the BIP's reference algorithm,
BLAKE2b-256 account IDs, bech32 addresses, and JSON-RPC over HTTP. The tests
use it to drive a node the way a third-party wallet would, and to cross-check
the C implementation against the spec (tests/vectors/).
"""
import hashlib
import json
import urllib.request

# ---- BIP-340 Schnorr (reference algorithm from the BIP) ----
P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def _add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    if p1[0] == p2[0] and p1[1] != p2[1]:
        return None
    if p1 == p2:
        lam = (3 * p1[0] * p1[0] * pow(2 * p1[1], P - 2, P)) % P
    else:
        lam = ((p2[1] - p1[1]) * pow(p2[0] - p1[0], P - 2, P)) % P
    x3 = (lam * lam - p1[0] - p2[0]) % P
    return (x3, (lam * (p1[0] - x3) - p1[1]) % P)


def _jdouble(p):
    x, y, z = p
    if y == 0:
        return (0, 1, 0)
    s = (4 * x * y * y) % P
    m = (3 * x * x) % P
    x3 = (m * m - 2 * s) % P
    return (x3, (m * (s - x3) - 8 * pow(y, 4, P)) % P, (2 * y * z) % P)


def _jadd_affine(p, q):
    """Jacobian p plus affine q (mixed addition)."""
    x1, y1, z1 = p
    if z1 == 0:
        return (q[0], q[1], 1)
    z1z1 = (z1 * z1) % P
    u2 = (q[0] * z1z1) % P
    s2 = (q[1] * z1 * z1z1) % P
    if u2 == x1:
        return _jdouble(p) if s2 == y1 else (0, 1, 0)
    h = (u2 - x1) % P
    r = (s2 - y1) % P
    hh = (h * h) % P
    hhh = (h * hh) % P
    v = (x1 * hh) % P
    x3 = (r * r - hhh - 2 * v) % P
    return (x3, (r * (v - x3) - y1 * hhh) % P, (z1 * h) % P)


def _affine(p):
    if p[2] == 0:
        return None
    zi = pow(p[2], -1, P)
    zi2 = (zi * zi) % P
    return ((p[0] * zi2) % P, (p[1] * zi2 * zi) % P)


_GTABLE = []  # G * 2^i, affine, for fast fixed-base multiplication


def _mul(p, n):
    """Scalar multiplication (the math of the BIP's point_mul, in Jacobian
    coordinates so that it runs in milliseconds)."""
    if p == G:
        if not _GTABLE:
            q = (G[0], G[1], 1)
            for _ in range(256):
                _GTABLE.append(_affine(q))
                q = _jdouble(q)
        r = (0, 1, 0)
        for i in range(256):
            if (n >> i) & 1:
                r = _jadd_affine(r, _GTABLE[i])
        return _affine(r)
    r = (0, 1, 0)
    for i in reversed(range(256)):
        r = _jdouble(r)
        if (n >> i) & 1:
            r = _jadd_affine(r, p)
    return _affine(r)


def _tagged(tag, msg):
    t = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(t + t + msg).digest()


def _i(b):
    return int.from_bytes(b, "big")


def _b(x):
    return x.to_bytes(32, "big")


def schnorr_pubkey(sec: bytes) -> bytes:
    d = _i(sec)
    if not 1 <= d < N:
        raise ValueError("secret key out of range")
    return _b(_mul(G, d)[0])


def schnorr_sign(msg32: bytes, sec: bytes, aux: bytes = bytes(32)) -> bytes:
    d0 = _i(sec)
    if not 1 <= d0 < N:
        raise ValueError("secret key out of range")
    pt = _mul(G, d0)
    d = d0 if pt[1] % 2 == 0 else N - d0
    t = _b(d ^ _i(_tagged("BIP0340/aux", aux)))
    k0 = _i(_tagged("BIP0340/nonce", t + _b(pt[0]) + msg32)) % N
    r = _mul(G, k0)
    k = k0 if r[1] % 2 == 0 else N - k0
    e = _i(_tagged("BIP0340/challenge", _b(r[0]) + _b(pt[0]) + msg32)) % N
    return _b(r[0]) + _b((k + e * d) % N)


# ---- addresses ----
_CS = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(v):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    c = 1
    for x in v:
        b = c >> 25
        c = (c & 0x1FFFFFF) << 5 ^ x
        for i in range(5):
            c ^= gen[i] if (b >> i) & 1 else 0
    return c


def _hrp_expand(h):
    return [ord(x) >> 5 for x in h] + [0] + [ord(x) & 31 for x in h]


def bech32_encode(hrp: str, data: bytes) -> str:
    acc = bits = 0
    d = []
    for byte in data:
        acc = acc << 8 | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            d.append(acc >> bits & 31)
    if bits:
        d.append(acc << (5 - bits) & 31)
    p = _polymod(_hrp_expand(hrp) + d + [0] * 6) ^ 1
    return hrp + "1" + "".join(_CS[x] for x in d) + "".join(_CS[(p >> 5 * (5 - i)) & 31] for i in range(6))


def bech32_decode(hrp: str, s: str) -> bytes:
    s = s.lower()
    pos = s.rfind("1")
    if s[:pos] != hrp:
        raise ValueError("wrong hrp")
    d = [_CS.index(c) for c in s[pos + 1:]]
    if _polymod(_hrp_expand(hrp) + d) != 1:
        raise ValueError("bad checksum")
    acc = bits = 0
    out = bytearray()
    for x in d[:-6]:
        acc = acc << 5 | x
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append(acc >> bits & 255)
    return bytes(out)


def account_id(pub: bytes) -> bytes:
    return hashlib.blake2b(pub, digest_size=32).digest()[:20]


def address(pub: bytes) -> str:
    return bech32_encode("coh", account_id(pub))


# ---- protobuf, by hand ----
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


def pb_uint(field, v):
    return b"" if v == 0 else _varint(field << 3) + _varint(v)


def pb_bytes(field, v):
    return b"" if len(v) == 0 else _varint(field << 3 | 2) + _varint(len(v)) + v


def transfer_body(nonce, fee, to_id, token, amount, memo=b""):
    """TxBody{nonce=1, fee=2, memo=4, transfer=10{to=1, token=2, amount=3}}."""
    msg = pb_bytes(1, to_id) + pb_uint(2, token) + pb_uint(3, amount)
    return (pb_uint(1, nonce) + pb_uint(2, fee) + pb_bytes(4, memo) +
            _varint(10 << 3 | 2) + _varint(len(msg)) + msg)


def sign_digest(chain_id: str, body: bytes) -> bytes:
    c = chain_id.encode()
    return hashlib.sha256(b"cohort/tx/v1" + bytes([len(c)]) + c + body).digest()


def make_tx(sec: bytes, chain_id: str, body: bytes, aux=bytes(32)) -> bytes:
    pub = schnorr_pubkey(sec)
    sig = schnorr_sign(sign_digest(chain_id, body), sec, aux)
    return pb_bytes(1, body) + pb_bytes(2, pub) + pb_bytes(3, sig)


def tx_hash(tx: bytes) -> str:
    return hashlib.sha256(tx).hexdigest()


def fee_due(gas, params):
    """docs/protocol.md "Cost model": max(min_fee, ceil(gas * gas_price_milli / 1000))."""
    price = int(params["gas_price_milli"])
    return max(int(params["min_fee"]), (gas * price + 999) // 1000)


def transfer_gas(tx_len, params):
    """A transfer's gas: gas_tx + gas_tx_byte * len(tx bytes)."""
    return params["gas_tx"] + params["gas_tx_byte"] * tx_len


def signed_transfer(sec, chain_id, params, nonce, to_id, token, amount, memo=b""):
    """A transfer paying exactly the fee due; the fee is inside the signed
    bytes and changes their length, so grow it until it covers itself."""
    fee = 0
    while True:
        tx = make_tx(sec, chain_id, transfer_body(nonce, fee, to_id, token, amount, memo))
        due = fee_due(transfer_gas(len(tx), params), params)
        if fee >= due:
            return tx, fee
        fee = due


def load_key(path):
    with open(path) as f:
        k = json.load(f)
    return bytes.fromhex(k["secret"])


# ---- JSON-RPC ----
class RpcError(Exception):
    def __init__(self, err):
        super().__init__(err.get("message"))
        self.code = err.get("code")
        self.data = err.get("data")


def rpc(url, method, params=None, timeout=60):
    req = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        req["params"] = params
    r = urllib.request.Request(url, data=json.dumps(req).encode(),
                               headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=timeout) as resp:
        out = json.loads(resp.read())
    if "error" in out:
        raise RpcError(out["error"])
    return out["result"]


def post_from(url, body: bytes, source=None, timeout=10):
    """POST raw bytes from a chosen local address (e.g. "127.0.0.2", to act
    as another client address); returns (status, parsed-json-or-text)."""
    import http.client
    import urllib.parse
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout,
                                   source_address=(source, 0) if source else None)
    try:
        c.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        status, data = r.status, r.read()
    finally:
        c.close()
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data.decode(errors="replace")


def rpc_from(url, method, params=None, source=None, timeout=60):
    """rpc() from a chosen local address."""
    req = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        req["params"] = params
    status, out = post_from(url, json.dumps(req).encode(), source, timeout)
    if not isinstance(out, dict):
        raise IOError("HTTP %d: %s" % (status, out))
    if "error" in out:
        raise RpcError(out["error"])
    return out["result"]


def raw_post(url, body: bytes, timeout=10, headers=None):
    """POST raw bytes; returns (status, parsed-json-or-text)."""
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    r = urllib.request.Request(url, data=body, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            status, data = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, data = e.code, e.read()
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data.decode(errors="replace")


# ---- WebSocket (RFC 6455), minimal, for subscriptions ----
class WebSocket:
    def __init__(self, url, timeout=10, source=None):
        import base64
        import os
        import socket
        import urllib.parse
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /websocket HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % (u.hostname, u.port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise IOError("connection closed during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise IOError("upgrade refused: " + head.decode(errors="replace"))
        want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                             .encode()).digest()).decode()
        if ("sec-websocket-accept: " + want).lower() not in head.decode().lower():
            raise IOError("bad Sec-WebSocket-Accept")
        self.next_id = 1

    def send(self, obj):
        import os
        data = json.dumps(obj).encode()
        mask = os.urandom(4)
        n = len(data)
        hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise IOError("connection closed")
            buf += chunk
        return buf

    def recv(self):
        """The next text message as JSON (answers pings on the way)."""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._read(2), "big")
            elif n == 127:
                n = int.from_bytes(self._read(8), "big")
            payload = self._read(n)
            op = b0 & 0x0F
            if op == 0x9:  # ping -> pong (masked, as a client must)
                import os
                mask = os.urandom(4)
                self.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask +
                                  bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
                continue
            if op == 0x8:
                raise IOError("closed by the server")
            return json.loads(payload)

    def call(self, method, params):
        i = self.next_id
        self.next_id += 1
        req = {"jsonrpc": "2.0", "id": i, "method": method}
        if params is not None:
            req["params"] = params
        self.send(req)
        while True:
            m = self.recv()
            if m.get("id") == i:
                if "error" in m:
                    raise RpcError(m["error"])
                return m["result"]

    def close(self):
        self.sock.close()
