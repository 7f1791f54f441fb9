/* coremark — a CoreMark-like mix written for Cohort (not EEMBC's code):
 * each iteration runs linked-list work (find, reverse, merge sort), a small
 * integer matrix kernel, a state machine that scans a text for numbers, and
 * folds everything through CRC-16. Input: the iteration count in decimal
 * (default 20). Prints the final CRC. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cohort.h"

static uint16_t crc16_byte(uint8_t b, uint16_t crc) {
  for (int i = 0; i < 8; i++) {
    unsigned x = (b ^ crc) & 1;
    b >>= 1;
    crc = (uint16_t)(x ? (crc >> 1) ^ 0xA001 : crc >> 1);
  }
  return crc;
}
static uint16_t crc16_u32(uint32_t v, uint16_t crc) {
  for (int i = 0; i < 4; i++) crc = crc16_byte((uint8_t)(v >> (8 * i)), crc);
  return crc;
}

/* ---- lists ---- */
typedef struct node {
  struct node *next;
  int32_t key, val;
} node;

static node *list_reverse(node *l) {
  node *r = NULL;
  while (l) {
    node *n = l->next;
    l->next = r;
    r = l;
    l = n;
  }
  return r;
}

static node *list_find(node *l, int32_t key) {
  while (l && l->key != key) l = l->next;
  return l;
}

/* merge sort by val (ascending) or by key */
static node *list_sort(node *l, int by_key) {
  int insize = 1;
  if (!l) return l;
  for (;;) {
    node *p = l, *tail = NULL;
    l = NULL;
    int merges = 0;
    while (p) {
      merges++;
      node *q = p;
      int psize = 0;
      for (int i = 0; i < insize && q; i++) psize++, q = q->next;
      int qsize = insize;
      while (psize > 0 || (qsize > 0 && q)) {
        node *e;
        if (psize == 0) e = q, q = q->next, qsize--;
        else if (qsize == 0 || !q) e = p, p = p->next, psize--;
        else if ((by_key ? p->key - q->key : p->val - q->val) <= 0) e = p, p = p->next, psize--;
        else e = q, q = q->next, qsize--;
        if (tail) tail->next = e;
        else l = e;
        tail = e;
      }
      p = q;
    }
    tail->next = NULL;
    if (merges <= 1) return l;
    insize *= 2;
  }
}

static uint16_t bench_list(node *pool, int n, uint32_t seed, uint16_t crc) {
  node *head = NULL;
  for (int i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    pool[i].key = i;
    pool[i].val = (int32_t)((seed >> 8) & 0xFFFF) - 0x8000;
    pool[i].next = head;
    head = &pool[i];
  }
  for (int f = 0; f < 40; f++) {
    node *x = list_find(head, (int32_t)((seed >> (f % 16)) % (uint32_t)(n + n / 8)));
    crc = crc16_u32(x ? (uint32_t)x->val : 0xFFFFFFFFu, crc);
  }
  head = list_sort(head, 0);
  crc = crc16_u32((uint32_t)head->val, crc);
  head = list_reverse(head);
  head = list_sort(head, 1);
  for (node *p = head; p; p = p->next) crc = (uint16_t)(crc + (uint16_t)p->val);
  return crc;
}

/* ---- matrix ---- */
#define MN 24
static uint16_t bench_matrix(int16_t a[MN][MN], int16_t b[MN][MN], int32_t c[MN][MN], uint32_t seed,
                             uint16_t crc) {
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) {
      seed = seed * 1103515245u + 12345u;
      a[i][j] = (int16_t)(seed >> 20);
      b[i][j] = (int16_t)((seed >> 9) & 0x7FF);
    }
  for (int i = 0; i < MN; i++) /* a += constant, then a * b */
    for (int j = 0; j < MN; j++) a[i][j] = (int16_t)(a[i][j] + 7);
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) {
      int32_t acc = 0;
      for (int k = 0; k < MN; k++) acc += (int32_t)a[i][k] * b[k][j];
      c[i][j] = acc;
    }
  int32_t sum = 0;
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) {
      int32_t v = c[i][j] >> 2;
      sum += v > 1000 ? (v & 0xFF) : -v;
    }
  return crc16_u32((uint32_t)sum, crc);
}

/* ---- state machine: classify tokens of a text ---- */
enum { S_START, S_INT, S_FLOAT, S_EXP, S_SIGNED_EXP, S_HEX, S_INVALID, S_NSTATES };
static uint16_t bench_state(char *text, int len, uint32_t seed, uint16_t crc) {
  static const char *tokens[] = {"5012", "1234", "-874", "+122", "35.54", ".1234", "-110.7", "-.5", "5.5e+3",
                                 "-.123e-2", "0x1f", "0xAB", "T0.3e-1F", "-T.T++Tq", "1T3.4e4z", "34.0e-T^"};
  int o = 0;
  while (o < len - 12) {
    seed = seed * 1103515245u + 12345u;
    const char *t = tokens[(seed >> 16) % 16];
    while (*t) text[o++] = *t++;
    text[o++] = ',';
  }
  text[o] = 0;
  uint32_t counts[S_NSTATES] = {0};
  int state = S_START;
  for (char *p = text;; p++) {
    char ch = *p;
    if (ch == ',' || ch == 0) {
      counts[state]++;
      state = S_START;
      if (!ch) break;
      continue;
    }
    switch (state) {
      case S_START:
        if (ch >= '0' && ch <= '9') state = ch == '0' && p[1] == 'x' ? S_HEX : S_INT;
        else if (ch == '+' || ch == '-') state = S_INT;
        else if (ch == '.') state = S_FLOAT;
        else state = S_INVALID;
        if (state == S_HEX) p++;
        break;
      case S_INT:
        if (ch == '.') state = S_FLOAT;
        else if (ch < '0' || ch > '9') state = S_INVALID;
        break;
      case S_FLOAT:
        if (ch == 'e' || ch == 'E') state = S_EXP;
        else if (ch < '0' || ch > '9') state = S_INVALID;
        break;
      case S_EXP:
        state = (ch == '+' || ch == '-') ? S_SIGNED_EXP : (ch >= '0' && ch <= '9') ? S_SIGNED_EXP : S_INVALID;
        break;
      case S_SIGNED_EXP:
        if (ch < '0' || ch > '9') state = S_INVALID;
        break;
      case S_HEX:
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'))) state = S_INVALID;
        break;
      default:
        break;
    }
  }
  for (int i = 0; i < S_NSTATES; i++) crc = crc16_u32(counts[i], crc);
  return crc;
}

int main(void) {
  char txt[32] = {0};
  cohort_input_read(txt, sizeof txt - 1);
  long iters = strtol(txt, NULL, 10);
  if (iters <= 0) iters = 20;
  enum { NL = 600, TL = 2000 };
  node *pool = malloc(NL * sizeof *pool);
  char *text = malloc(TL + 16);
  static int16_t a[MN][MN], b[MN][MN];
  static int32_t c[MN][MN];
  if (!pool || !text) return 3;
  uint16_t crc = 0;
  for (long it = 0; it < iters; it++) {
    uint32_t seed = (uint32_t)it * 2654435761u + 1;
    crc = bench_list(pool, NL, seed, crc);
    crc = bench_matrix(a, b, c, seed, crc);
    crc = bench_state(text, TL, seed, crc);
  }
  printf("coremark-like: %ld iterations, crc %04x\n", iters, crc);
  return 0;
}
