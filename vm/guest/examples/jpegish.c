/* jpegish — a JPEG-like decoder written for Cohort: it first encodes a
 * synthetic image (8x8 blocks, forward DCT, quantisation, zig-zag, run
 * lengths, a canonical Huffman code built from the symbol counts) and then
 * decodes it the way a baseline JPEG decoder does: bit reader, Huffman
 * decode, dequantisation, integer inverse DCT (separable, fixed point),
 * YCbCr -> RGB with clamping. Input: "width height rounds" (default
 * "64 64 1"); each round decodes the whole image again. Prints a checksum
 * of the RGB pixels. Integer arithmetic only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cohort.h"

static const uint8_t ZZ[64] = {0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
                               12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
                               35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
                               58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};
static const uint8_t QT[64] = {16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,
                               14, 13, 16, 24, 40,  57,  69,  56,  14, 17, 22, 29, 51,  87,  80,  62,
                               18, 22, 37, 56, 68,  109, 103, 77,  24, 35, 55, 64, 81,  104, 113, 92,
                               49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99};

/* cos((2x+1) u pi / 16) * 4096, x, u = 0..7 */
static const int16_t COS[8][8] = {
    {4096, 4017, 3784, 3406, 2896, 2276, 1567, 799},     {4096, 3406, 1567, -799, -2896, -4017, -3784, -2276},
    {4096, 2276, -1567, -4017, -2896, 799, 3784, 3406},  {4096, 799, -3784, -2276, 2896, 3406, -1567, -4017},
    {4096, -799, -3784, 2276, 2896, -3406, -1567, 4017}, {4096, -2276, -1567, 4017, -2896, -799, 3784, -3406},
    {4096, -3406, 1567, 799, -2896, 4017, -3784, 2276},  {4096, -4017, 3784, -3406, 2896, -2276, 1567, -799}};

static void fdct(const int16_t in[64], int32_t out[64]) {
  int32_t tmp[64];
  for (int y = 0; y < 8; y++)
    for (int u = 0; u < 8; u++) {
      int32_t s = 0;
      for (int x = 0; x < 8; x++) s += in[y * 8 + x] * COS[x][u];
      tmp[y * 8 + u] = s >> 12;
    }
  for (int u = 0; u < 8; u++)
    for (int v = 0; v < 8; v++) {
      int32_t s = 0;
      for (int y = 0; y < 8; y++) s += tmp[y * 8 + u] * COS[y][v];
      int32_t c = s >> 12;
      if (u == 0) c = c * 2896 >> 12;
      if (v == 0) c = c * 2896 >> 12;
      out[v * 8 + u] = c / 4;
    }
}

static void idct(const int32_t in[64], int16_t out[64]) {
  int32_t tmp[64];
  for (int v = 0; v < 8; v++) /* rows */
    for (int x = 0; x < 8; x++) {
      int32_t s = 0;
      for (int u = 0; u < 8; u++) {
        int32_t c = in[v * 8 + u];
        if (!c) continue;
        if (u == 0) c = c * 2896 >> 12;
        s += c * COS[x][u];
      }
      tmp[v * 8 + x] = s >> 11;
    }
  for (int x = 0; x < 8; x++) /* columns */
    for (int y = 0; y < 8; y++) {
      int32_t s = 0;
      for (int v = 0; v < 8; v++) {
        int32_t c = tmp[v * 8 + x];
        if (v == 0) c = c * 2896 >> 12;
        s += c * COS[y][v];
      }
      out[y * 8 + x] = (int16_t)(s >> 13);
    }
}

/* ---- bits and Huffman ---- */
typedef struct {
  uint8_t *buf;
  size_t len, cap;
  uint32_t acc;
  int nacc;
} bitw;
static void put_bits(bitw *w, uint32_t v, int n) {
  for (int i = n - 1; i >= 0; i--) {
    w->acc = w->acc << 1 | ((v >> i) & 1);
    if (++w->nacc == 8) {
      if (w->len < w->cap) w->buf[w->len++] = (uint8_t)w->acc;
      w->acc = 0;
      w->nacc = 0;
    }
  }
}
typedef struct {
  const uint8_t *buf;
  size_t len, pos;
  uint32_t acc;
  int nacc;
} bitr;
static inline int get_bit(bitr *r) {
  if (r->nacc == 0) {
    r->acc = r->pos < r->len ? r->buf[r->pos++] : 0;
    r->nacc = 8;
  }
  r->nacc--;
  return (r->acc >> r->nacc) & 1;
}
static inline uint32_t get_bits(bitr *r, int n) {
  uint32_t v = 0;
  while (n--) v = v << 1 | (uint32_t)get_bit(r);
  return v;
}

/* symbols: (run << 4 | size), 0x00 = end of block; canonical code lengths
 * from counts (a simple length-limited assignment: sort by count) */
typedef struct {
  uint16_t code[256];
  uint8_t len[256];
  uint8_t sym_by_rank[256];
  int nsym;
  int count_by_len[17];
} huff;

static void huff_build(huff *h, const uint32_t counts[256]) {
  int order[256], n = 0;
  for (int s = 0; s < 256; s++)
    if (counts[s]) order[n++] = s;
  for (int i = 1; i < n; i++) /* insertion sort, most frequent first */
    for (int j = i; j > 0 && counts[order[j]] > counts[order[j - 1]]; j--) {
      int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  memset(h, 0, sizeof *h);
  h->nsym = n;
  /* rank i gets length 1 + 2 floor(log2(i + 1)): 1, 3, 3, 5 x4, 7 x8, ...
   * (Kraft sum < 1, at most 15 bits for 255 symbols); canonical codes */
  int code = 0, prev = 0;
  for (int i = 0; i < n; i++) {
    int m = 0;
    while ((2 << m) <= i + 1) m++;
    int l = 1 + 2 * m;
    if (prev) code <<= (l - prev);
    prev = l;
    h->sym_by_rank[i] = (uint8_t)order[i];
    h->len[order[i]] = (uint8_t)l;
    h->code[order[i]] = (uint16_t)code++;
    h->count_by_len[l]++;
  }
}

static int huff_decode(const huff *h, bitr *r) {
  int code = 0, first = 0, index = 0;
  for (int l = 1; l <= 16; l++) {
    code |= get_bit(r);
    int cnt = h->count_by_len[l];
    if (code - first < cnt) return h->sym_by_rank[index + code - first];
    index += cnt;
    first = (first + cnt) << 1;
    code <<= 1;
  }
  return 0;
}

static int bits_of(int32_t v) {
  uint32_t a = (uint32_t)(v < 0 ? -v : v);
  int n = 0;
  while (a) n++, a >>= 1;
  return n;
}

static inline uint8_t clamp(int32_t v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

int main(void) {
  char txt[64] = {0};
  cohort_input_read(txt, sizeof txt - 1);
  char *e;
  long w = strtol(txt, &e, 10), h = strtol(e, &e, 10), rounds = strtol(e, NULL, 10);
  if (w <= 0 || w > 2048) w = 64;
  if (h <= 0 || h > 2048) h = 64;
  if (rounds <= 0) rounds = 1;
  w &= ~7L, h &= ~7L;
  long bw = w / 8, bh = h / 8, nblocks = bw * bh * 3; /* Y, Cb, Cr at full resolution */
  int32_t(*coef)[64] = malloc((size_t)nblocks * sizeof *coef);
  int16_t(*planes)[64] = malloc((size_t)nblocks * sizeof *planes);
  uint8_t *rgb = malloc((size_t)(w * h * 3));
  size_t cap = (size_t)nblocks * 160 + 64;
  uint8_t *stream = malloc(cap);
  if (!coef || !planes || !rgb || !stream) return 3;

  /* encode: a smooth synthetic image with edges */
  static uint32_t counts[256];
  for (long b = 0; b < nblocks; b++) {
    long c = b % 3, bi = b / 3, bx = bi % bw, by = bi / bw;
    int16_t px[64];
    for (int y = 0; y < 8; y++)
      for (int x = 0; x < 8; x++) {
        long X = bx * 8 + x, Y = by * 8 + y;
        int32_t v = (int32_t)((X * 3 + Y * 5 + c * 40) & 255);
        if (((X >> 4) ^ (Y >> 5)) & 1) v = 255 - v;
        v += (int32_t)((X * Y) % 17) - 8;
        px[y * 8 + x] = (int16_t)(v - 128);
      }
    int32_t f[64];
    fdct(px, f);
    for (int k = 0; k < 64; k++) coef[b][k] = f[ZZ[k]] / QT[ZZ[k]];
    int run = 0;
    for (int k = 0; k < 64; k++) {
      int32_t v = coef[b][k];
      if (v == 0) {
        run++;
        continue;
      }
      while (run > 15) counts[0xF0]++, run -= 16;
      counts[run << 4 | bits_of(v)]++;
      run = 0;
    }
    counts[0x00]++;
  }
  huff hf;
  huff_build(&hf, counts);
  bitw bwr = {stream, 0, cap, 0, 0};
  for (long b = 0; b < nblocks; b++) {
    int run = 0;
    for (int k = 0; k < 64; k++) {
      int32_t v = coef[b][k];
      if (v == 0) {
        run++;
        continue;
      }
      while (run > 15) put_bits(&bwr, hf.code[0xF0], hf.len[0xF0]), run -= 16;
      int n = bits_of(v);
      put_bits(&bwr, hf.code[run << 4 | n], hf.len[run << 4 | n]);
      put_bits(&bwr, v < 0 ? (uint32_t)(v + (1 << n) - 1) : (uint32_t)v, n);
      run = 0;
    }
    put_bits(&bwr, hf.code[0x00], hf.len[0x00]);
  }
  put_bits(&bwr, 0, 7);

  /* decode, `rounds` times */
  uint32_t sum = 0;
  for (long r = 0; r < rounds; r++) {
    bitr rd = {stream, bwr.len, 0, 0, 0};
    for (long b = 0; b < nblocks; b++) {
      int32_t zz[64] = {0}, deq[64];
      for (int k = 0; k < 64;) {
        int sym = huff_decode(&hf, &rd);
        if (sym == 0x00) break;
        int run = sym >> 4, n = sym & 15;
        k += run;
        if (n == 0) { /* 0xF0: sixteen zeros */
          k++;
          continue;
        }
        if (k >= 64) break;
        int32_t v = (int32_t)get_bits(&rd, n);
        if (v < (1 << (n - 1))) v -= (1 << n) - 1;
        zz[k++] = v;
      }
      for (int k = 0; k < 64; k++) deq[ZZ[k]] = zz[k] * QT[ZZ[k]] * 4;
      idct(deq, planes[b]);
    }
    for (long by = 0; by < bh; by++)
      for (long bx = 0; bx < bw; bx++) {
        long bi = (by * bw + bx) * 3;
        for (int k = 0; k < 64; k++) {
          int32_t Y = planes[bi][k] + 128, Cb = planes[bi + 1][k], Cr = planes[bi + 2][k];
          long X = bx * 8 + (k & 7), Yp = by * 8 + (k >> 3);
          uint8_t *o = rgb + (Yp * w + X) * 3;
          o[0] = clamp(Y + ((91881 * Cr) >> 16));
          o[1] = clamp(Y - ((22554 * Cb + 46802 * Cr) >> 16));
          o[2] = clamp(Y + ((116130 * Cb) >> 16));
        }
      }
    for (long i = 0; i < w * h * 3; i++) sum = sum * 31 + rgb[i];
  }
  printf("jpegish %ldx%ld, %ld rounds, %zu stream bytes, checksum %08lx\n", w, h, rounds, bwr.len,
         (unsigned long)sum);
  return 0;
}
