/* hashtab — a string-keyed hash table written for Cohort: open addressing
 * with linear probing, FNV-1a hashing, inserts, lookups (half of them
 * misses), deletions with tombstones, a resize. Memory access is random,
 * the opposite of a streaming kernel. Input: the number of keys in decimal
 * (default 20000). Prints counts and a checksum. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cohort.h"

typedef struct {
  char key[16]; /* empty: key[0] == 0; tombstone: key[0] == 1 */
  uint32_t val;
} slot;

typedef struct {
  slot *s;
  uint32_t cap, used;
} table;

static uint32_t fnv(const char *k) {
  uint32_t h = 2166136261u;
  while (*k) h = (h ^ (uint8_t)*k++) * 16777619u;
  return h;
}

static void make_key(char *k, uint32_t i) {
  static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
  int n = 0;
  k[n++] = 'k';
  uint32_t x = i * 2654435761u;
  do k[n++] = digits[x & 31], x >>= 5; while (x && n < 14);
  k[n] = 0;
}

static int put(table *t, const char *k, uint32_t v);
static void grow(table *t) {
  table n = {calloc(t->cap * 2, sizeof(slot)), t->cap * 2, 0};
  if (!n.s) exit(3);
  for (uint32_t i = 0; i < t->cap; i++)
    if (t->s[i].key[0] > 1) put(&n, t->s[i].key, t->s[i].val);
  free(t->s);
  *t = n;
}

static int put(table *t, const char *k, uint32_t v) {
  if ((t->used + 1) * 4 > t->cap * 3) grow(t);
  uint32_t i = fnv(k) & (t->cap - 1);
  while (t->s[i].key[0] > 1 && strcmp(t->s[i].key, k)) i = (i + 1) & (t->cap - 1);
  int fresh = t->s[i].key[0] <= 1;
  strcpy(t->s[i].key, k);
  t->s[i].val = v;
  t->used += (uint32_t)fresh;
  return fresh;
}

static slot *get(table *t, const char *k) {
  uint32_t i = fnv(k) & (t->cap - 1);
  while (t->s[i].key[0]) {
    if (t->s[i].key[0] > 1 && !strcmp(t->s[i].key, k)) return &t->s[i];
    i = (i + 1) & (t->cap - 1);
  }
  return NULL;
}

int main(void) {
  char txt[32] = {0};
  cohort_input_read(txt, sizeof txt - 1);
  long n = strtol(txt, NULL, 10);
  if (n <= 0 || n > 2000000) n = 20000;
  table t = {calloc(1024, sizeof(slot)), 1024, 0};
  if (!t.s) return 3;
  char k[16];
  for (long i = 0; i < n; i++) make_key(k, (uint32_t)i), put(&t, k, (uint32_t)i * 7);
  uint32_t hits = 0, sum = 0, dels = 0;
  for (long i = 0; i < 2 * n; i++) {
    make_key(k, (uint32_t)(i * 3 / 2));
    slot *s = get(&t, k);
    if (s) hits++, sum = sum * 31 + s->val;
  }
  for (long i = 0; i < n; i += 3) {
    make_key(k, (uint32_t)i);
    slot *s = get(&t, k);
    if (s) s->key[0] = 1, dels++;
  }
  for (long i = 0; i < n; i++) {
    make_key(k, (uint32_t)i);
    if (get(&t, k)) sum += 1;
  }
  printf("hashtab: %ld keys, %lu hits, %lu deleted, capacity %lu, checksum %08lx\n", n, (unsigned long)hits,
         (unsigned long)dels, (unsigned long)t.cap, (unsigned long)sum);
  return 0;
}
