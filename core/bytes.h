/* core/bytes.h — fixed-endian integer packing, checked u64 arithmetic and a
 * growable byte buffer. Header-only helpers; all pure. */
#ifndef COHORT_CORE_BYTES_H
#define COHORT_CORE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static inline void core_put_u64be(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}
static inline uint64_t core_get_u64be(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}
static inline void core_put_u32be(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static inline uint32_t core_get_u32be(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checked arithmetic: return COHORT_ERR_OVERFLOW (or COHORT_ERR_FUNDS for a
 * subtraction below zero) and leave *out untouched on failure. */
static inline int core_add_u64(uint64_t *out, uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return COHORT_ERR_OVERFLOW;
  *out = r;
  return COHORT_OK;
}
static inline int core_sub_u64(uint64_t *out, uint64_t a, uint64_t b) {
  if (b > a) return COHORT_ERR_FUNDS;
  *out = a - b;
  return COHORT_OK;
}
static inline int core_mul_u64(uint64_t *out, uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return COHORT_ERR_OVERFLOW;
  *out = r;
  return COHORT_OK;
}

/* Growable buffer. core_buf_free releases; len/data readable directly. A
 * failed append leaves the buffer as it was and returns COHORT_ERR_NOMEM. */
typedef struct {
  uint8_t *data;
  size_t len, cap;
} core_buf;

static inline int core_buf_reserve(core_buf *b, size_t extra) {
  if (b->len + extra <= b->cap) return COHORT_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra) cap *= 2;
  uint8_t *p = (uint8_t *)realloc(b->data, cap);
  if (!p) return COHORT_ERR_NOMEM;
  b->data = p;
  b->cap = cap;
  return COHORT_OK;
}
static inline int core_buf_append(core_buf *b, const void *p, size_t n) {
  if (core_buf_reserve(b, n)) return COHORT_ERR_NOMEM;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return COHORT_OK;
}
static inline int core_buf_append_u64be(core_buf *b, uint64_t v) {
  uint8_t t[8];
  core_put_u64be(t, v);
  return core_buf_append(b, t, 8);
}
static inline int core_buf_append_u32be(core_buf *b, uint32_t v) {
  uint8_t t[4];
  core_put_u32be(t, v);
  return core_buf_append(b, t, 4);
}
static inline void core_buf_free(core_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

#endif
