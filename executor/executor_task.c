/* executor/executor_task.c — what seats, games and the watcher share about
 * a task: its fields in a listing, its program and input fetched from a
 * node and checked against the task (a node is not trusted to serve the
 * right bytes), VM runs cut into slices that notice executor_stop, and the
 * lie of --lie-from-step (fault injection). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/hex.h"
#include "core/parse.h"
#include "executor/executor_int.h"

/* Steps between two looks at the stop flag: well under a second of VM. */
#define EX_SLICE_STEPS (1ull << 24)

int ex_hex32(json_t *o, const char *f, uint8_t out[32]) {
  const char *s = json_string_value(json_object_get(o, f));
  size_t n;
  return !s || core_hex_decode(out, 32, &n, s, strlen(s)) || n != 32;
}

uint8_t *ex_b64(json_t *o, const char *f, size_t *len) {
  uint8_t *out = NULL;
  const char *s = json_string_value(json_object_get(o, f));
  if (!s || core_base64_decode_alloc(&out, len, s, 256u << 20)) return NULL;
  return out;
}

uint64_t ex_u64(json_t *o, const char *f) {
  json_t *v = json_object_get(o, f);
  uint64_t u = 0;
  if (json_is_integer(v)) return (uint64_t)json_integer_value(v);
  if (json_is_string(v)) core_parse_u64(json_string_value(v), &u);
  return u;
}

int ex_fetch_task(executor *ex, json_t *task, const char *id, const char *what, uint8_t **elf,
                  size_t *elf_len, uint8_t **input, size_t *input_len, cohort_vm_config *cfg) {
  json_t *blob = NULL, *in = NULL;
  uint8_t want_prog[32], want_in[32], got[32];
  *elf = *input = NULL;
  if (ex_hex32(task, "program", want_prog) || ex_hex32(task, "input_hash", want_in)) {
    ex_log(ex, EXECUTOR_LOG_WARN, "task %.16s..: the listing lacks program/input_hash", id);
    return -1;
  }
  if (ex_call(ex, "blob_get",
              json_pack("{s:s, s:b}", "hash", json_string_value(json_object_get(task, "program")),
                        "data", 1),
              &blob, 0) ||
      ex_call(ex, "task_input", json_pack("{s:s}", "task_id", id), &in, 0)) {
    json_decref(blob);
    return -1;
  }
  *elf = ex_b64(blob, "data_base64", elf_len);
  *input = ex_b64(in, "input_base64", input_len);
  json_decref(blob);
  json_decref(in);
  const char *bad = !*elf || !*input ? "program or input missing in the node's answer"
                    : (crypto_hash_sha256(got, *elf, *elf_len), memcmp(got, want_prog, 32))
                        ? "program bytes do not hash to the task's program"
                    : (crypto_hash_sha256(got, *input, *input_len), memcmp(got, want_in, 32))
                        ? "input bytes do not hash to the task's input_hash"
                        : NULL;
  if (bad) {
    if (what[0])
      ex_log(ex, EXECUTOR_LOG_WARN, "task %.16s..: %s: %s; trying again at the next poll", id,
             what, bad);
    else
      ex_log(ex, EXECUTOR_LOG_WARN, "task %.16s..: %s: not computing", id, bad);
    ex_failover(ex, "served data that does not match the task");
    free(*elf);
    free(*input);
    *elf = *input = NULL;
    return -1;
  }
  if (ex->byzantine) { /* fault injection: compute on different input */
    uint8_t *x = realloc(*input, *input_len + 1);
    if (x) {
      *input = x;
      (*input)[(*input_len)++] = '!';
    }
  }
  *cfg = (cohort_vm_config){
      .max_steps = (uint64_t)json_integer_value(json_object_get(task, "max_steps")),
      .mem_cap = (uint32_t)json_integer_value(json_object_get(task, "mem_mib")) << 20,
      .out_cap = (uint32_t)json_integer_value(json_object_get(task, "max_output_bytes"))};
  return 0;
}

int ex_run(executor *ex, cohort_vm *vm, cohort_vm_trace *tr, uint64_t n, uint64_t *done) {
  uint64_t total = 0;
  int rc = 0;
  for (;;) {
    cohort_vm_info info;
    cohort_vm_get_info(vm, &info);
    if (total >= n || info.status != COHORT_VM_RUNNING) break;
    if (ex_stopping(ex)) {
      rc = -1;
      break;
    }
    uint64_t k = n - total < EX_SLICE_STEPS ? n - total : EX_SLICE_STEPS, ran = 0;
    if (tr) {
      if (cohort_vm_trace_run(tr, vm, k, &ran)) rc = -2;
    } else {
      cohort_vm_run(vm, k, &ran);
    }
    total += ran;
    if (rc) break;
  }
  if (done) *done = total;
  return rc;
}

/* From the state after N steps, flip bit 0 of the first register (x5, x6,
 * ...) whose flip changes the final state, and run on: a real but wrong
 * run, whose every step but the N-1 -> N one has a valid proof (the hardest
 * liar for the game). */
int ex_lie_at(executor *ex, cohort_vm *vm, cohort_vm **out, unsigned *reg) {
  uint8_t honest[32], h[32];
  cohort_vm *c;
  *out = NULL;
  *reg = 0;
  if (cohort_vm_clone(&c, vm)) return -1;
  int stopped = ex_run(ex, c, NULL, UINT64_MAX, NULL);
  cohort_vm_state_hash(c, honest);
  cohort_vm_del(c);
  if (stopped) return -1;
  for (unsigned r = 5; r < 32; r++) {
    if (cohort_vm_clone(&c, vm)) return -1;
    cohort_vm_debug_flip_reg(c, r, 1);
    cohort_vm *keep;
    if (cohort_vm_clone(&keep, c)) {
      cohort_vm_del(c);
      return -1;
    }
    stopped = ex_run(ex, c, NULL, UINT64_MAX, NULL);
    cohort_vm_state_hash(c, h);
    cohort_vm_del(c);
    if (stopped) {
      cohort_vm_del(keep);
      return -1;
    }
    if (memcmp(h, honest, 32)) {
      *out = keep; /* at step N, flipped, not run yet */
      *reg = r;
      return 0;
    }
    cohort_vm_del(keep);
  }
  return 0;
}
