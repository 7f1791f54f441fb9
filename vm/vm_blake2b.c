/* vm/vm_blake2b.c — BLAKE2b-256 of exactly 64 or 128 bytes (RFC 7693), the
 * two hash shapes of the memory tree (a node = H(left || right), a leaf =
 * H(its 128 bytes)).
 *
 * Equal by definition to core_blake2b256(out, in, len) (unkeyed, 32-byte
 * digest; tests check it against libsodium), but about twice as fast for these
 * sizes: one compression, no streaming state, constant message length.
 */
#include "vm/vm_int.h"

static const uint64_t IV[8] = {0x6a09e667f3bcc908ull, 0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull,
                               0xa54ff53a5f1d36f1ull, 0x510e527fade682d1ull, 0x9b05688c2b3e6c1full,
                               0x1f83d9abfb41bd6bull, 0x5be0cd19137e2179ull};

static const uint8_t SIGMA[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

static inline uint64_t rotr(uint64_t x, unsigned n) { return (x >> n) | (x << (64 - n)); }

#define G(r, i, a, b, c, d)                   \
  do {                                        \
    a = a + b + m[SIGMA[r][2 * i]];           \
    d = rotr(d ^ a, 32);                      \
    c = c + d;                                \
    b = rotr(b ^ c, 24);                      \
    a = a + b + m[SIGMA[r][2 * i + 1]];       \
    d = rotr(d ^ a, 16);                      \
    c = c + d;                                \
    b = rotr(b ^ c, 63);                      \
  } while (0)

#define ROUND(r)                              \
  do {                                        \
    G(r, 0, v0, v4, v8, v12);                 \
    G(r, 1, v1, v5, v9, v13);                 \
    G(r, 2, v2, v6, v10, v14);                \
    G(r, 3, v3, v7, v11, v15);                \
    G(r, 4, v0, v5, v10, v15);                \
    G(r, 5, v1, v6, v11, v12);                \
    G(r, 6, v2, v7, v8, v13);                 \
    G(r, 7, v3, v4, v9, v14);                 \
  } while (0)

static void blake2b_n(uint8_t out[32], const uint8_t *in, unsigned len) {
  uint64_t m[16];
  for (unsigned i = 0; i < 16; i++) m[i] = i < len / 8 ? vm_le64(in + 8 * i) : 0;
  const uint64_t h0 = IV[0] ^ 0x01010020ull; /* digest 32, no key, fanout 1, depth 1 */
  uint64_t v0 = h0, v1 = IV[1], v2 = IV[2], v3 = IV[3], v4 = IV[4], v5 = IV[5], v6 = IV[6], v7 = IV[7];
  uint64_t v8 = IV[0], v9 = IV[1], v10 = IV[2], v11 = IV[3];
  uint64_t v12 = IV[4] ^ len, v13 = IV[5], v14 = ~IV[6], v15 = IV[7];
  ROUND(0); ROUND(1); ROUND(2); ROUND(3); ROUND(4); ROUND(5);
  ROUND(6); ROUND(7); ROUND(8); ROUND(9); ROUND(10); ROUND(11);
  vm_put64(out, h0 ^ v0 ^ v8);
  vm_put64(out + 8, IV[1] ^ v1 ^ v9);
  vm_put64(out + 16, IV[2] ^ v2 ^ v10);
  vm_put64(out + 24, IV[3] ^ v3 ^ v11);
}

/* ---- several at a time (x86-64: 8 with AVX-512F, 4 with AVX2; chosen at
 * run time) ----
 * The same computation on independent inputs in the lanes of 512/256-bit
 * vectors (GCC vector extensions). Results are identical by construction;
 * tests compare them with libsodium. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define VM_HAVE_X4 1
typedef uint64_t v4u64 __attribute__((vector_size(32)));
typedef uint64_t v8u64 __attribute__((vector_size(64)));
#define SPLAT_(VT, c) ((VT){0} + (uint64_t)(c))
#define ROTV(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define GV(r, i, a, b, c, d)                  \
  do {                                        \
    a = a + b + m[SIGMA[r][2 * i]];           \
    d = ROTV(d ^ a, 32);                      \
    c = c + d;                                \
    b = ROTV(b ^ c, 24);                      \
    a = a + b + m[SIGMA[r][2 * i + 1]];       \
    d = ROTV(d ^ a, 16);                      \
    c = c + d;                                \
    b = ROTV(b ^ c, 63);                      \
  } while (0)
#define ROUNDV(r)                             \
  do {                                        \
    GV(r, 0, v0, v4, v8, v12);                \
    GV(r, 1, v1, v5, v9, v13);                \
    GV(r, 2, v2, v6, v10, v14);               \
    GV(r, 3, v3, v7, v11, v15);               \
    GV(r, 4, v0, v5, v10, v15);               \
    GV(r, 5, v1, v6, v11, v12);               \
    GV(r, 6, v2, v7, v8, v13);                \
    GV(r, 7, v3, v4, v9, v14);                \
  } while (0)
#define XN_BODY(VT, W, LEN)                                                                         \
  VT m[16];                                                                               \
  const VT z = SPLAT_(VT, 0);                                                              \
  for (int i = 0; i < (LEN) / 8; i++)                                                        \
    for (int k = 0; k < W; k++) m[i][k] = vm_le64(in[k] + 8 * i);                            \
  for (int i = (LEN) / 8; i < 16; i++) m[i] = z;                                             \
  const VT h0 = SPLAT_(VT, IV[0] ^ 0x01010020ull);                                              \
  VT v0 = h0, v1 = SPLAT_(VT, IV[1]), v2 = SPLAT_(VT, IV[2]), v3 = SPLAT_(VT, IV[3]), v4 = SPLAT_(VT, IV[4]);             \
  VT v5 = SPLAT_(VT, IV[5]), v6 = SPLAT_(VT, IV[6]), v7 = SPLAT_(VT, IV[7]), v8 = SPLAT_(VT, IV[0]), v9 = SPLAT_(VT, IV[1]);      \
  VT v10 = SPLAT_(VT, IV[2]), v11 = SPLAT_(VT, IV[3]), v12 = SPLAT_(VT, IV[4] ^ (LEN)), v13 = SPLAT_(VT, IV[5]);           \
  VT v14 = SPLAT_(VT, ~IV[6]), v15 = SPLAT_(VT, IV[7]);                                                   \
  ROUNDV(0); ROUNDV(1); ROUNDV(2); ROUNDV(3); ROUNDV(4); ROUNDV(5);                          \
  ROUNDV(6); ROUNDV(7); ROUNDV(8); ROUNDV(9); ROUNDV(10); ROUNDV(11);                        \
  VT o0 = h0 ^ v0 ^ v8, o1 = (SPLAT_(VT, IV[1])) ^ v1 ^ v9, o2 = (SPLAT_(VT, IV[2])) ^ v2 ^ v10;          \
  VT o3 = (SPLAT_(VT, IV[3])) ^ v3 ^ v11;                                                         \
  for (int k = 0; k < W; k++) {                                                              \
    vm_put64(out[k], o0[k]);                                                                 \
    vm_put64(out[k] + 8, o1[k]);                                                             \
    vm_put64(out[k] + 16, o2[k]);                                                            \
    vm_put64(out[k] + 24, o3[k]);                                                            \
  }

__attribute__((target("avx2"))) static void x4_avx2(uint8_t *const out[4], const uint8_t *const in[4]) {
  XN_BODY(v4u64, 4, 64)
}
__attribute__((target("avx512f"))) static void x8_avx512(uint8_t *const out[8], const uint8_t *const in[8]) {
  XN_BODY(v8u64, 8, 64)
}
__attribute__((target("avx2"))) static void x4_avx2_128(uint8_t *const out[4], const uint8_t *const in[4]) {
  XN_BODY(v4u64, 4, 128)
}
__attribute__((target("avx512f"))) static void x8_avx512_128(uint8_t *const out[8], const uint8_t *const in[8]) {
  XN_BODY(v8u64, 8, 128)
}
#endif

void vm_hash64_batch(uint8_t *const *out, const uint8_t *const *in, size_t n) {
  size_t i = 0;
#ifdef VM_HAVE_X4
  if (n >= 4) {
    if (__builtin_cpu_supports("avx512f"))
      for (; i + 8 <= n; i += 8) x8_avx512(out + i, in + i);
    if (__builtin_cpu_supports("avx2"))
      for (; i + 4 <= n; i += 4) x4_avx2(out + i, in + i);
  }
#endif
  for (; i < n; i++) blake2b_n(out[i], in[i], 64);
}

void vm_hash128_batch(uint8_t *const *out, const uint8_t *const *in, size_t n) {
  size_t i = 0;
#ifdef VM_HAVE_X4
  if (n >= 4) {
    if (__builtin_cpu_supports("avx512f"))
      for (; i + 8 <= n; i += 8) x8_avx512_128(out + i, in + i);
    if (__builtin_cpu_supports("avx2"))
      for (; i + 4 <= n; i += 4) x4_avx2_128(out + i, in + i);
  }
#endif
  for (; i < n; i++) blake2b_n(out[i], in[i], 128);
}

void vm_hash2(uint8_t out[32], const uint8_t l[32], const uint8_t r[32]) {
  uint8_t buf[64];
  memcpy(buf, l, 32);
  memcpy(buf + 32, r, 32);
  blake2b_n(out, buf, 64);
}

void vm_hash64(uint8_t out[32], const uint8_t in[64]) { blake2b_n(out, in, 64); }
void vm_hash_leaf(uint8_t out[32], const uint8_t in[VM_LEAF]) { blake2b_n(out, in, VM_LEAF); }
