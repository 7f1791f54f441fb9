/* The verification game (state/dispute/game.h), proven in a seeded
 * simulation on real programs: thousands of games between an honest party
 * and a liar, on guest examples and random instruction streams, with lies
 * of several kinds at random steps (forged hashes from step L; a real but
 * tampered run from step L, which can prove every step but one; other step
 * counts; silence), random roles, arities and move times, and bad moves
 * mixed in. Every game checks: the honest party wins; at most
 * ceil(log_k n) Selects; the game ends within both clocks; the invariants
 * after every move; every refused move changes nothing. Then tournaments
 * of 3..7 members with lying groups (the order of docs/tasks.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "state/dispute/game.h"
#include "vm/vm_int.h"
#include "../vm/vm_testlib.h"

static uint64_t rng_s;
static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng_s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

/* ---- a real run, traced to its halt ---- */
typedef struct {
  cohort_vm *vm;
  cohort_vm_trace *t;
  uint64_t start, halt; /* first and last step held */
} run_t;

static void run_open(run_t *r, cohort_vm *vm) {
  r->vm = vm;
  cohort_vm_set_tier(vm, COHORT_VM_TIER_INTERP);
  cohort_vm_info in;
  cohort_vm_get_info(vm, &in);
  r->start = in.step;
  uint64_t iv = 256 + below(4096), cap = in.max_steps;
  if (iv < cap / 512) iv = cap / 512; /* at most ~512 snapshots of a long run */
  assert_int_equal(cohort_vm_trace_new(&r->t, vm, iv), 0);
  uint64_t done;
  assert_int_equal(cohort_vm_trace_run(r->t, vm, UINT64_MAX, &done), 0);
  cohort_vm_get_info(vm, &in);
  assert_int_not_equal(in.status, COHORT_VM_RUNNING);
  r->halt = in.step;
}

static void run_close(run_t *r) {
  cohort_vm_trace_del(r->t);
  cohort_vm_del(r->vm);
}

static cohort_vm *run_at(run_t *r, uint64_t i) {
  cohort_vm *at;
  assert_int_equal(cohort_vm_trace_seek(r->t, i < r->halt ? i : r->halt, &at), 0);
  return at;
}

static void run_hash(run_t *r, uint64_t i, uint8_t out[32]) {
  assert_int_equal(cohort_vm_state_hash(run_at(r, i), out), 0);
}

/* ---- programs ---- */
static cohort_vm *guest(const char *name, const char *input, uint64_t max_steps) {
  size_t len;
  uint8_t *elf = t_guest(name, &len);
  assert_non_null(elf);
  cohort_vm_config c;
  cohort_vm_config_default(&c);
  c.max_steps = max_steps;
  c.mem_cap = 4u << 20;
  cohort_vm *vm;
  core_errbuf eb;
  int rc = cohort_vm_new(&vm, elf, len, (const uint8_t *)input, strlen(input), &c, &eb);
  if (rc) fail_msg("%s: %s", name, eb.msg);
  free(elf);
  return vm;
}

/* A random instruction stream: a loop of random ALU, M and memory ops on
 * registers x5..x15 over a data page, `iters` times, then exit(x5 & 0xff) —
 * or, sometimes, a stray load (a trap) or a run past max_steps. */
static cohort_vm *random_program(uint64_t *max_steps) {
  uint32_t code[400];
  size_t n = 0;
  for (uint32_t r = 5; r <= 15; r++) n += (size_t)emit_li(code + n, r, (uint32_t)rnd());
  n += (size_t)emit_li(code + n, 28, T_DATA);            /* x28: data base */
  n += (size_t)emit_li(code + n, 29, 20 + (uint32_t)below(400)); /* x29: iterations */
  size_t loop = n;
  size_t body = 8 + below(40);
  for (size_t i = 0; i < body; i++) {
    uint32_t rd = 5 + (uint32_t)below(11), a = 5 + (uint32_t)below(11), b = 5 + (uint32_t)below(11);
    switch (below(6)) {
      case 0: code[n++] = enc_r(0, b, a, (uint32_t)below(8), rd, 0x33); break;   /* add..and */
      case 1: code[n++] = enc_r(1, b, a, (uint32_t)below(8), rd, 0x33); break;   /* mul..remu */
      case 2: code[n++] = enc_i((int32_t)below(4096) - 2048, a, 0, rd, 0x13); break; /* addi */
      case 3: code[n++] = enc_i((int32_t)(below(256) * 4), 28, 2, rd, 0x03); break;  /* lw */
      case 4: code[n++] = enc_s((int32_t)(below(256) * 4), a, 28, 2); break;         /* sw */
      default: code[n++] = enc_r(0x20, b, a, 0, rd, 0x33); break;                /* sub */
    }
  }
  code[n++] = ADDI(29, 29, -1);
  code[n] = enc_b((int32_t)(loop - n) * 4, 0, 29, 1); /* bne x29, x0, loop */
  n++;
  if (below(8) == 0) {
    n += (size_t)emit_li(code + n, 6, 0x7000000); /* unmapped: a load fault */
    code[n++] = enc_i(0, 6, 2, 7, 0x03);
  }
  code[n++] = enc_i(0xff, 5, 7, 10, 0x13); /* andi a0, x5, 255 */
  code[n++] = ADDI(17, 0, 93);             /* exit */
  code[n++] = ECALL;
  uint8_t data[1024];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)rnd();
  t_elf e = t_make_elf(code, n, data, sizeof data, 4096);
  cohort_vm_config c;
  cohort_vm_config_default(&c);
  c.mem_cap = 2u << 20;
  c.max_steps = below(6) == 0 ? 50 + below(3000) : 1u << 24; /* sometimes OUT_OF_STEPS */
  *max_steps = c.max_steps;
  cohort_vm *vm;
  core_errbuf eb;
  int rc = cohort_vm_new(&vm, e.buf, e.len, NULL, 0, &c, &eb);
  if (rc) fail_msg("random program: %s", eb.msg);
  free(e.buf);
  return vm;
}

static cohort_vm *pick_program(void) {
  static const struct { const char *name, *input; } g[] = {
      {"sieve", "2000"}, {"sha256", "the verification game"}, {"matmul", "5 4"},
      {"mandel", "10 6 10"}, {"wc", "one two  three\nfour five\n"}, {"qsort", "300"},
      {"hashtab", "200"}, {"bignum", "8"}};
  uint64_t ms;
  if (below(2)) return random_program(&ms);
  size_t i = below(sizeof g / sizeof g[0]);
  return guest(g[i].name, g[i].input, below(5) == 0 ? 1000 + below(20000) : 1u << 21);
}

/* ---- parties ---- */
enum { HONEST, FAKE_FROM, TAMPER_FROM, SILENT };
typedef struct {
  int kind;
  run_t *truth;
  run_t alt; /* TAMPER_FROM: the run from a tampered state at step L */
  uint64_t L, steps;
  uint8_t final[32];
} party;

static void hash_at(party *p, uint64_t i, uint8_t out[32]) {
  if (p->kind == FAKE_FROM && i >= p->L) {
    uint8_t t[40];
    run_hash(p->truth, i, t);
    memcpy(t + 32, &i, 8);
    core_sha256(out, t, sizeof t);
  } else if (p->kind == TAMPER_FROM && i >= p->L) {
    run_hash(&p->alt, i, out);
  } else {
    run_hash(p->truth, i, out);
  }
}

static void party_init(party *p, int kind, run_t *truth) {
  memset(p, 0, sizeof *p);
  p->kind = kind;
  p->truth = truth;
  uint64_t h = truth->halt;
  p->steps = h;
  if (kind == FAKE_FROM) {
    p->L = 1 + below(h);
    uint64_t lo = p->L, hi = h + 50; /* a claim of another length, or the same */
    p->steps = below(2) ? h : lo + below(hi - lo + 1);
  } else if (kind == TAMPER_FROM) {
    p->L = 1 + below(h); /* the state after L steps is wrong: step L-1 -> L is the lie */
    cohort_vm *at = run_at(truth, p->L), *c;
    assert_int_equal(cohort_vm_clone(&c, at), 0);
    uint32_t r = 1 + (uint32_t)below(31);
    c->s.x[r] ^= 1u << below(32);
    if (below(4) == 0) c->s.x[r] = c->s.x[r]; /* some flips are in a dead register: same */
    run_open(&p->alt, c);
    p->steps = p->alt.halt;
  }
  hash_at(p, p->steps, p->final);
}

static int party_lies(party *p) {
  if (p->kind == HONEST || p->kind == SILENT) return p->kind == SILENT;
  uint8_t t[32];
  if (p->steps != p->truth->halt) return 1;
  run_hash(p->truth, p->steps, t);
  return memcmp(t, p->final, 32) != 0;
}

static void party_free(party *p) {
  if (p->kind == TAMPER_FROM) run_close(&p->alt);
}

/* ---- one game ---- */
static long games, rounds_total, refused_moves, liar_kinds[4], by_reason[5], one_step;

static void expect_refused(game *g, int rc) {
  (void)g;
  assert_true(rc < 0);
  refused_moves++;
}

/* Try a bad move of a random kind; it must be refused and change nothing. */
static void bad_move(game *g, uint64_t now) {
  game before = *g;
  core_errbuf eb;
  uint8_t junk[GAME_ARITY_MAX * 32];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rnd();
  uint64_t pts[GAME_ARITY_MAX - 1];
  uint32_t n;
  game_points(g, pts, &n);
  switch (below(5)) {
    case 0: /* out of phase */
      if (g->phase != GAME_BISECT) expect_refused(g, game_bisect(g, junk, n, now, &eb));
      else expect_refused(g, game_select(g, 1, now, &eb));
      break;
    case 1: /* wrong count */
      if (g->phase == GAME_BISECT) expect_refused(g, game_bisect(g, junk, n + 1 + below(3), now, &eb));
      break;
    case 2: /* no such sub-range */
      if (g->phase == GAME_SELECT)
        expect_refused(g, game_select(g, below(2) ? 0 : g->npoints + 2 + (uint32_t)below(9), now, &eb));
      break;
    case 3: /* a proof of garbage */
      if (g->phase == GAME_PROVE) expect_refused(g, game_prove(g, junk, below(300), now, &eb));
      break;
    default: /* late */
      if (g->phase == GAME_BISECT) expect_refused(g, game_bisect(g, junk, n, g->deadline + 1, &eb));
      break;
  }
  assert_memory_equal(&before, g, sizeof before);
}

/* Defender d and challenger c play; returns the winner. */
static game_party play(party *d, party *c, const uint8_t initial[32]) {
  game_params gp = {.arity = (uint32_t[]){2, 3, 4, 7, 16, 16, 64}[below(7)],
                    .move_blocks = 1 + below(6), .clock_blocks = 0, .steps_per_block = 1 + below(50000)};
  gp.clock_blocks = gp.move_blocks + below(gp.move_blocks * (2 * game_max_rounds(d->steps, gp.arity) + 2));
  game g;
  core_errbuf eb;
  uint64_t start = 1000 + below(1000), now = start;
  assert_int_equal(game_start(&g, &gp, initial, d->final, d->steps, now, &eb), 0);
  uint64_t budget = g.clock[0] + g.clock[1];
  int d_liar = d->kind != HONEST, c_liar = c->kind != HONEST; /* liars, or a saboteur of the true claim */
  while (g.phase != GAME_DONE) {
    if (game_check(&g, &eb)) fail_msg("invariant: %s", eb.msg);
    if (below(4) == 0) bad_move(&g, now);
    party *m = game_mover(&g) == GAME_DEFENDER ? d : c;
    int liar = m == d ? d_liar : c_liar;
    /* silent parties never move; liars sometimes stall past the deadline */
    if (m->kind == SILENT || (liar && below(40) == 0)) {
      now = g.deadline + 1 + below(3);
      assert_int_equal(game_timeout(&g, now), 1);
      break;
    }
    now += below(g.deadline - now + 1);
    assert_int_equal(game_timeout(&g, now), 0);
    int rc;
    if (g.phase == GAME_BISECT) {
      uint64_t pts[GAME_ARITY_MAX - 1];
      uint32_t n;
      game_points(&g, pts, &n);
      for (uint32_t i = 1; i < n; i++) assert_true(pts[i - 1] < pts[i]);
      assert_true(n >= 1 && pts[0] > g.lo && pts[n - 1] < g.hi);
      uint8_t hs[(GAME_ARITY_MAX - 1) * 32];
      for (uint32_t i = 0; i < n; i++) hash_at(d, pts[i], hs + 32 * i);
      rc = game_bisect(&g, hs, n, now, &eb);
      assert_int_equal(rc, 0);
    } else if (g.phase == GAME_SELECT) {
      uint32_t j = 0;
      if (!c_liar || below(3) == 0) { /* the honest choice: first wrong point */
        uint64_t pts[GAME_ARITY_MAX - 1];
        uint32_t n;
        game_points(&g, pts, &n);
        j = n + 1;
        for (uint32_t i = 0; i < n; i++) {
          uint8_t t[32];
          hash_at(c, pts[i], t);
          if (memcmp(t, g.hashes[i], 32)) {
            j = i + 1;
            break;
          }
        }
      }
      if (!j) j = 1 + (uint32_t)below(g.npoints + 1);
      rc = game_select(&g, j, now, &eb);
      assert_int_equal(rc, 0);
    } else {
      /* the defender proves from its own state at lo */
      one_step++; /* once per game: a refused proof ends it below */
      party *p = d;
      run_t *src = (p->kind == TAMPER_FROM && g.lo >= p->L) ? &p->alt : p->truth;
      uint8_t *proof;
      size_t plen;
      assert_int_equal(cohort_vm_prove(run_at(src, g.lo), &proof, &plen), 0);
      game before = g;
      rc = game_prove(&g, proof, plen, now, &eb);
      free(proof);
      if (rc) { /* refused: unchanged, and the defender can only wait out its time */
        assert_memory_equal(&before, &g, sizeof g);
        assert_true(d_liar);
        now = g.deadline + 1;
        assert_int_equal(game_timeout(&g, now), 1);
      }
    }
  }
  assert_int_equal(g.phase, GAME_DONE);
  if (game_check(&g, &eb)) fail_msg("invariant at the end: %s", eb.msg);
  assert_true(g.round <= game_max_rounds(d->steps, gp.arity));
  assert_true(now - start <= budget + 3);
  games++;
  rounds_total += g.round;
  by_reason[g.reason]++;
  return (game_party)g.winner;
}

static void test_points_and_rounds(void **s) {
  (void)s;
  game_params gp = {16, 5, 100, 1000};
  uint8_t a[32] = {1}, b[32] = {2};
  game g;
  core_errbuf eb;
  assert_int_equal(game_start(&g, &gp, a, b, 1000000000ull, 10, &eb), 0);
  assert_int_equal(g.deadline, 10 + 5 + 1000000); /* first move: re-execution allowance */
  uint64_t p[GAME_ARITY_MAX - 1];
  uint32_t n;
  game_points(&g, p, &n);
  assert_int_equal(n, 15);
  assert_int_equal(p[0], 62500000);
  assert_int_equal(p[14], 937500000);
  assert_int_equal(game_max_rounds(1000000000ull, 16), 8);
  assert_int_equal(game_max_rounds(1, 16), 0);
  assert_int_equal(game_max_rounds(2, 2), 1);
  assert_int_equal(game_max_rounds(17, 16), 2);
  assert_int_equal(game_max_rounds(16, 16), 1);
  /* a short range: one point per step */
  game_start(&g, &gp, a, b, 5, 10, &eb);
  game_points(&g, p, &n);
  assert_int_equal(n, 4);
  for (uint32_t i = 0; i < 4; i++) assert_int_equal(p[i], i + 1);
  /* zero steps: the challenger wins at once */
  game_start(&g, &gp, a, b, 0, 10, &eb);
  assert_int_equal(g.phase, GAME_DONE);
  assert_int_equal(g.winner, GAME_CHALLENGER);
  assert_int_equal(g.reason, GAME_END_INCONSISTENT);
  game_params bad = {1, 5, 100, 1};
  assert_int_equal(game_start(&g, &bad, a, b, 5, 10, &eb), COHORT_ERR_INVALID);
  bad = (game_params){16, 5, 4, 1};
  assert_int_equal(game_start(&g, &bad, a, b, 5, 10, &eb), COHORT_ERR_INVALID);
}

/* Both parties get the re-run allowance (the defender on its first Bisect,
 * the challenger on its first Select: it must re-run the claim to judge
 * the hashes), and the clocks cover every move of the longest game at
 * move_blocks each, so a party that moves within every deadline never runs
 * out. */
static void test_clocks_and_allowances(void **s) {
  (void)s;
  game_params gp = {2, 10, 12, 8};
  uint8_t a[32] = {1}, b[32] = {2}, h[32] = {3};
  game g;
  core_errbuf eb;
  assert_int_equal(game_start(&g, &gp, a, b, 64, 0, &eb), 0);
  /* 64 steps at 8 per block: 8 blocks of re-run; 6 rounds at arity 2 */
  assert_int_equal(g.clock[GAME_DEFENDER], 7 * 10 + 8);
  assert_int_equal(g.clock[GAME_CHALLENGER], 7 * 10 + 8);
  assert_int_equal(g.deadline, 10 + 8);
  assert_int_equal(game_bisect(&g, h, 1, 18, &eb), 0); /* at its deadline: on time */
  assert_int_equal(g.deadline, 18 + 10 + 8);           /* the challenger's re-run too */
  assert_int_equal(game_select(&g, 1, 36, &eb), 0);
  assert_int_equal(g.deadline, 36 + 10);               /* later moves: move_blocks */
  assert_int_equal(game_timeout(&g, 46), 0);
  assert_int_equal(game_timeout(&g, 47), 1);
  assert_int_equal(g.winner, GAME_CHALLENGER);
  assert_int_equal(g.reason, GAME_END_TIMEOUT);
  /* a large clock_blocks is kept as is */
  gp.clock_blocks = 1000;
  assert_int_equal(game_start(&g, &gp, a, b, 64, 0, &eb), 0);
  assert_int_equal(g.clock[GAME_CHALLENGER], 1000 + 8);
}

static void test_seeded_games(void **s) {
  (void)s;
  const char *env = getenv("GAME_SEEDS");
  long seeds = env ? atol(env) : 1500;
  long honest_wins = 0;
  for (long seed = 1; seed <= seeds; seed++) {
    rng_s = (uint64_t)seed * 0x2545F4914F6CDD1Dull;
    run_t truth;
    run_open(&truth, pick_program());
    if (getenv("GAME_VERBOSE"))
      fprintf(stderr, "seed %ld: %llu steps\n", seed, (unsigned long long)truth.halt);
    uint8_t initial[32];
    run_hash(&truth, truth.start, initial);
    int liar_kind = FAKE_FROM + (int)below(3);
    party honest, liar;
    party_init(&honest, HONEST, &truth);
    party_init(&liar, liar_kind, &truth);
    int liar_defends = (int)below(2);
    if (!party_lies(&liar) && liar_kind != SILENT) { /* a tamper that changed nothing */
      party_free(&liar);
      run_close(&truth);
      continue;
    }
    liar_kinds[liar_kind]++;
    game_party w = liar_defends ? play(&liar, &honest, initial) : play(&honest, &liar, initial);
    game_party want = liar_defends ? GAME_CHALLENGER : GAME_DEFENDER;
    if (w != want)
      fail_msg("seed %ld: the liar (kind %d, L=%llu, %llu steps vs %llu true, %s) won", seed,
               liar_kind, (unsigned long long)liar.L, (unsigned long long)liar.steps,
               (unsigned long long)truth.halt, liar_defends ? "defending" : "challenging");
    honest_wins++;
    party_free(&liar);
    run_close(&truth);
  }
  print_message("%ld games, honest won all %ld; %.2f Selects per game; liars: %ld forged, %ld "
                "tampered, %ld silent; %ld bad moves refused; ends: %ld proved, %ld timeout, "
                "%ld clock; %ld reached one step\n", games, honest_wins, games ? (double)rounds_total / games : 0.0,
                liar_kinds[FAKE_FROM], liar_kinds[TAMPER_FROM], liar_kinds[SILENT],
                refused_moves, by_reason[GAME_END_PROVED], by_reason[GAME_END_TIMEOUT],
                by_reason[GAME_END_CLOCK], one_step);
  assert_true(games >= seeds / 2);
}

/* Tournaments: members hold the true claim or one of a few lies; games in
 * the order of game_next_pair. An honest member (one holding the truth and
 * playing honestly) is never out; the result is the truth whenever one
 * plays; at most members - 1 games. */
static void test_tournaments(void **s) {
  (void)s;
  long tours = 0, with_honest = 0;
  for (long seed = 1; seed <= 150; seed++) {
    rng_s = (uint64_t)seed * 0x9E3779B97F4A7C15ull + 7;
    run_t truth;
    run_open(&truth, pick_program());
    uint8_t initial[32];
    run_hash(&truth, truth.start, initial);
    size_t n = 3 + below(5);
    party ps[8];
    uint32_t claim[8];
    uint8_t alive[8];
    int honest_count = 0;
    for (size_t i = 0; i < n; i++) {
      int kind = below(3) == 0 ? HONEST : FAKE_FROM + (int)below(3);
      party_init(&ps[i], kind, &truth);
      if (kind == SILENT) ps[i].kind = SILENT;
      honest_count += ps[i].kind == HONEST;
      alive[i] = 1;
    }
    /* distinct claims by (steps, final); two liars of one kind at one L agree */
    for (size_t i = 0; i < n; i++) {
      claim[i] = (uint32_t)i;
      for (size_t j = 0; j < i; j++)
        if (ps[j].steps == ps[i].steps && !memcmp(ps[j].final, ps[i].final, 32)) {
          claim[i] = claim[j];
          break;
        }
    }
    int d, c, played = 0;
    while (game_next_pair(claim, alive, n, &d, &c)) {
      game_party w = play(&ps[d], &ps[c], initial);
      alive[w == GAME_DEFENDER ? c : d] = 0;
      played++;
      assert_true(played <= (int)n - 1);
    }
    for (size_t i = 0; i < n; i++)
      if (ps[i].kind == HONEST) assert_true(alive[i]);
    if (honest_count) {
      assert_true(d >= 0);
      uint8_t t[32];
      run_hash(&truth, truth.halt, t);
      assert_memory_equal(ps[d].final, t, 32);
      with_honest++;
    }
    tours++;
    for (size_t i = 0; i < n; i++) party_free(&ps[i]);
    run_close(&truth);
  }
  print_message("%ld tournaments (%ld with an honest member): the truth always survived\n", tours,
                with_honest);
}

int main(void) {
  core_init();
  const struct CMUnitTest t[] = {
      cmocka_unit_test(test_points_and_rounds),
      cmocka_unit_test(test_clocks_and_allowances),
      cmocka_unit_test(test_seeded_games),
      cmocka_unit_test(test_tournaments),
  };
  return cmocka_run_group_tests(t, NULL, NULL);
}
