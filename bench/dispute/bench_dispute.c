/* bench/dispute/bench_dispute.c — what a verification game costs, for runs
 * of 10^6, 10^7, 10^8 (and with --big 10^9) steps: rounds at arity 16, the
 * bytes each party puts on chain, the honest defender's time to build its
 * checkpoints and to answer one round (median and worst), the challenger's
 * time to judge one, the validators' time to check the step proof, and the
 * honest party's whole cost against one plain run of the task (the aim:
 * below 2x). A game is played between the honest defender and a liar
 * challenger that disputes a random sub-range each round; the honest
 * challenger's side is timed against a forged defender. Prints figures;
 * never fails on time.
 *
 * usage: bench_dispute [--big] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"
#include "state/dispute/game.h"
#include "tests/unit/vm/vm_testlib.h"
#include "vm/vm.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* A loop that keeps rewriting 64 KiB of memory: a[i & 16383] += i * 2654435761,
 * `iters` times, then exit(0). About 7 steps per iteration. */
static t_elf loop_program(uint32_t iters) {
  uint32_t code[64];
  size_t n = 0;
  n += (size_t)emit_li(code + n, 5, iters);      /* x5: left */
  n += (size_t)emit_li(code + n, 6, T_DATA);     /* x6: base */
  n += (size_t)emit_li(code + n, 7, 2654435761u); /* x7: K */
  code[n++] = ADDI(8, 0, 0);                     /* x8: i */
  size_t loop = n;
  code[n++] = enc_i(0x7ff, 8, 7, 9, 0x13);       /* andi x9, x8, 2047 */
  code[n++] = enc_i(2, 9, 1, 9, 0x13);           /* slli x9, x9, 2 */
  code[n++] = enc_r(0, 6, 9, 0, 9, 0x33);        /* add x9, x9, x6 */
  code[n++] = enc_i(0, 9, 2, 10, 0x03);          /* lw x10, 0(x9) */
  code[n++] = enc_r(1, 7, 8, 0, 11, 0x33);       /* mul x11, x8, x7 */
  code[n++] = enc_r(0, 11, 10, 0, 10, 0x33);     /* add x10, x10, x11 */
  code[n++] = enc_s(0, 10, 9, 2);                /* sw x10, 0(x9) */
  code[n++] = ADDI(8, 8, 1);
  code[n++] = ADDI(5, 5, -1);
  code[n] = enc_b((int32_t)(loop - n) * 4, 0, 5, 1); /* bne x5, x0, loop */
  n++;
  code[n++] = ADDI(10, 0, 0);
  code[n++] = ADDI(17, 0, 93);
  code[n++] = ECALL;
  return t_make_elf(code, n, NULL, 0, 65536);
}

static cohort_vm *load(const t_elf *e, uint64_t max_steps) {
  cohort_vm_config c;
  cohort_vm_config_default(&c);
  c.mem_cap = 4u << 20;
  c.max_steps = max_steps;
  cohort_vm *vm;
  core_errbuf eb;
  if (cohort_vm_new(&vm, e->buf, e->len, NULL, 0, &c, &eb)) {
    fprintf(stderr, "bench_dispute: %s\n", eb.msg);
    exit(1);
  }
  return vm;
}

static void bench(uint64_t target) {
  uint32_t iters = (uint32_t)(target / 10);
  t_elf e = loop_program(iters);
  /* one plain run (the fast tier), as an executor runs the task once */
  cohort_vm *plain = load(&e, target * 2);
  double t0 = now_s();
  uint64_t done;
  cohort_vm_run(plain, UINT64_MAX, &done);
  uint8_t final[32];
  double t_plain = now_s() - t0; /* the run; its final hash is part of a claim too: */
  t0 = now_s();
  cohort_vm_state_hash(plain, final);
  t_plain += now_s() - t0;
  cohort_vm_info info;
  cohort_vm_get_info(plain, &info);
  uint64_t steps = info.step;
  cohort_vm_del(plain);
  /* the honest defender: a run with checkpoints, as the runner keeps them */
  cohort_vm *vm = load(&e, target * 2);
  uint64_t iv = steps / 256 > 65536 ? steps / 256 : 65536;
  cohort_vm_trace *tr;
  t0 = now_s();
  cohort_vm_trace_new(&tr, vm, iv);
  cohort_vm_trace_run(tr, vm, UINT64_MAX, &done);
  double t_trace = now_s() - t0;
  uint8_t initial[32];
  cohort_vm *at;
  cohort_vm_trace_seek(tr, 0, &at);
  cohort_vm_state_hash(at, initial);
  game_params gp = {16, 20, 400, 2000000};
  game g;
  core_errbuf eb;
  game_start(&g, &gp, initial, final, steps, 1000, &eb);
  double rounds_t[64], judge_t[64], t_queries = 0;
  int nr = 0;
  uint64_t bytes_d = 0, bytes_c = 0, h = 1000;
  uint64_t rng = steps;
  while (g.phase != GAME_DONE) {
    h++;
    if (g.phase == GAME_BISECT) {
      uint64_t pts[GAME_ARITY_MAX - 1];
      uint32_t n;
      game_points(&g, pts, &n);
      uint8_t hs[32 * (GAME_ARITY_MAX - 1)];
      t0 = now_s();
      for (uint32_t i = 0; i < n; i++) {
        cohort_vm_trace_seek(tr, pts[i], &at);
        cohort_vm_state_hash(at, hs + 32 * i);
      }
      double dt = now_s() - t0;
      rounds_t[nr] = dt;
      judge_t[nr++] = dt; /* an honest challenger does the same seeks to compare */
      t_queries += dt;
      game_bisect(&g, hs, n, h, &eb);
      bytes_d += 32u * n + 200; /* hashes, plus a tx's envelope, signature, fee, nonce */
    } else if (g.phase == GAME_SELECT) {
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      game_select(&g, 1 + (uint32_t)((rng >> 33) % (g.npoints + 1)), h, &eb);
      bytes_c += 32 + 8 + 200;
    } else {
      t0 = now_s();
      cohort_vm_trace_seek(tr, g.lo, &at);
      uint8_t *proof;
      size_t plen;
      cohort_vm_prove(at, &proof, &plen);
      double t_proof = now_s() - t0;
      t_queries += t_proof;
      /* the validators' check, timed over many runs */
      uint8_t post[32];
      int reps = 2000;
      t0 = now_s();
      for (int i = 0; i < reps; i++) cohort_vm_verify(g.h_lo, proof, plen, post, NULL);
      double t_verify = (now_s() - t0) / reps;
      int rc = game_prove(&g, proof, plen, h, &eb);
      bytes_d += plen + 200;
      qsort(rounds_t, (size_t)nr, sizeof *rounds_t, cmp_d);
      qsort(judge_t, (size_t)nr, sizeof *judge_t, cmp_d);
      double honest = t_trace + t_queries;
      printf("%11llu steps: %u rounds (k=16), %s; on chain: defender %llu bytes, challenger %llu "
             "bytes; one step proof %zu bytes, checked by a validator in %.1f us\n",
             (unsigned long long)steps, g.round, rc == 0 ? "the honest defender won" : "LOST",
             (unsigned long long)bytes_d, (unsigned long long)bytes_c, plen, t_verify * 1e6);
      printf("%11s  run once %.3f s; defender: checkpoints (%llu every %llu steps) %.3f s, one "
             "round median %.1f ms, worst %.1f ms, proof %.1f ms; whole honest cost %.3f s = "
             "%.2fx one run\n", "", t_plain, (unsigned long long)cohort_vm_trace_count(tr),
             (unsigned long long)iv, t_trace, rounds_t[nr / 2] * 1e3, rounds_t[nr - 1] * 1e3,
             t_proof * 1e3, honest, honest / t_plain);
      printf("%11s  blocks from disagreement to a result: %u moves, one block each at best; "
             "first deadline %llu blocks (re-run at 2,000,000 steps per block)\n", "",
             2 * g.round + 1, (unsigned long long)(gp.move_blocks + steps / gp.steps_per_block + 1));
      free(proof);
      break;
    }
  }
  (void)judge_t;
  cohort_vm_trace_del(tr);
  cohort_vm_del(vm);
  free(e.buf);
}

int main(int argc, char **argv) {
  if (core_init()) return 1;
  int big = argc > 1 && !strcmp(argv[1], "--big");
  printf("verification game (state/dispute/game.h) on a memory-rewriting loop; the honest party's "
         "cost against one run of the task\n");
  uint64_t sizes[] = {1000000ull, 10000000ull, 100000000ull, 1000000000ull};
  for (int i = 0; i < (big ? 4 : 3); i++) bench(sizes[i]);
  return 0;
}
