/* executor/executor_play.c — the verification game: this executor plays
 * its own moves.
 *
 * A disputed task whose game this account is a party of (defender seat,
 * challenger seat, or the outside challenger) is re-run once with
 * checkpoints (a VM trace), from the program and input the node serves
 * (checked against the task), as soon as the game starts: the first move
 * of either side may need it. Every query is then answered from the trace:
 * the hashes at the round's points (bisect), the first point where the
 * other party's hashes differ from ours (select), the one-step proof
 * (prove). A byzantine executor plays from its corrupted input, as it
 * computed; a lie_from_step one replays the same lie.
 *
 * Slots FREE -> BUILDING -> READY (executor.h): the traced re-run happens
 * on a worker thread, so that the poll loop keeps serving seats and other
 * games meanwhile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/hex.h"
#include "executor/executor_int.h"
#include "state/dispute/game.h"

typedef struct {
  executor *ex;
  ex_play *p;
  char id[65];
  uint8_t *elf, *input;
  size_t elf_len, input_len;
  cohort_vm_config cfg;
} play_job;

void ex_play_drop_locked(ex_play *p) {
  if (p->tr) cohort_vm_trace_del(p->tr);
  if (p->vm) cohort_vm_del(p->vm);
  if (p->tr2) cohort_vm_trace_del(p->tr2);
  if (p->vm2) cohort_vm_del(p->vm2);
  memset(p, 0, sizeof *p);
}

void ex_plays_free(executor *ex) {
  for (int i = 0; i < EXECUTOR_MAX_PLAYS; i++) ex_play_drop_locked(&ex->plays[i]);
}

static void *play_build(void *arg) {
  play_job *j = arg;
  executor *ex = j->ex;
  ex_play *p = j->p;
  core_errbuf eb = {{0}};
  /* at most ~256 checkpoints (each holds a page table of the task's
   * memory): a query replays at most one interval at full speed */
  uint64_t iv = j->cfg.max_steps / 256 > 65536 ? j->cfg.max_steps / 256 : 65536, done = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int failed = cohort_vm_new(&p->vm, j->elf, j->elf_len, j->input, j->input_len, &j->cfg, &eb) ||
               cohort_vm_trace_new(&p->tr, p->vm, iv);
  if (!failed && ex->lie_from) { /* replay the same lie as the seat's run told */
    failed = ex_run(ex, p->vm, p->tr, ex->lie_from, &done) != 0;
    cohort_vm_info li;
    cohort_vm_get_info(p->vm, &li);
    unsigned reg = 0;
    if (!failed && li.status == COHORT_VM_RUNNING && !ex_lie_at(ex, p->vm, &p->vm2, &reg) &&
        p->vm2) {
      p->lie = ex->lie_from;
      uint64_t more = 0;
      failed = cohort_vm_trace_new(&p->tr2, p->vm2, iv) ||
               ex_run(ex, p->vm2, p->tr2, UINT64_MAX, &more) != 0;
      done += more;
    }
  } else if (!failed) {
    failed = ex_run(ex, p->vm, p->tr, UINT64_MAX, &done) != 0;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  pthread_mutex_lock(&ex->mu);
  if (failed) {
    if (!ex_stopping(ex))
      ex_log(ex, EXECUTOR_LOG_WARN, "task %.16s..: verification game: cannot re-run the task "
             "(%s); trying again at the next poll", j->id, eb.msg[0] ? eb.msg : "out of memory");
    ex_play_drop_locked(p);
  } else {
    ex_log(ex, EXECUTOR_LOG_INFO, "task %.16s..: verification game: re-ran %llu steps with a "
           "checkpoint every %llu in %.2f s, to answer the game's queries", j->id,
           (unsigned long long)done, (unsigned long long)iv,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    p->st = EX_PLAY_READY;
  }
  free(j->elf);
  free(j->input);
  free(j);
  ex_thread_done_locked(ex);
  return NULL;
}

ex_play *ex_play_for(executor *ex, json_t *task, const char *id) {
  ex_play *free_slot = NULL, *oldest = NULL, *found = NULL;
  pthread_mutex_lock(&ex->mu);
  for (int i = 0; i < EXECUTOR_MAX_PLAYS; i++) {
    ex_play *q = &ex->plays[i];
    if (q->st != EX_PLAY_FREE && !strcmp(q->task_id, id)) found = q;
    if (q->st == EX_PLAY_FREE && !free_slot) free_slot = q;
    if (q->st == EX_PLAY_READY && (!oldest || q->used < oldest->used)) oldest = q;
  }
  if (found) {
    int ready = found->st == EX_PLAY_READY;
    if (ready) found->used = ++ex->play_clock;
    pthread_mutex_unlock(&ex->mu);
    return ready ? found : NULL; /* still building */
  }
  ex_play *p = free_slot ? free_slot : oldest;
  if (!p) { /* every slot is being built: next poll */
    pthread_mutex_unlock(&ex->mu);
    return NULL;
  }
  ex_play_drop_locked(p);
  snprintf(p->task_id, sizeof p->task_id, "%s", id);
  p->st = EX_PLAY_BUILDING;
  p->used = ++ex->play_clock;
  pthread_mutex_unlock(&ex->mu);
  play_job *j = calloc(1, sizeof *j);
  if (j && !ex_fetch_task(ex, task, id, "verification game", &j->elf, &j->elf_len, &j->input,
                          &j->input_len, &j->cfg)) {
    j->ex = ex;
    j->p = p;
    snprintf(j->id, sizeof j->id, "%s", id);
    if (ex_thread_start(ex, play_build, j) == 0) return NULL; /* READY at a later poll */
  }
  if (j) {
    free(j->elf);
    free(j->input);
    free(j);
  }
  pthread_mutex_lock(&ex->mu);
  ex_play_drop_locked(p);
  pthread_mutex_unlock(&ex->mu);
  return NULL;
}

static cohort_vm_trace *play_trace(ex_play *p, uint64_t step) {
  return p->tr2 && step >= p->lie ? p->tr2 : p->tr;
}

int ex_play_hash(ex_play *p, uint64_t step, uint8_t out[32]) {
  cohort_vm *at;
  return cohort_vm_trace_seek(play_trace(p, step), step, &at) || cohort_vm_state_hash(at, out);
}

/* 1 if this account is a party of the game of task t. */
static int is_party(executor *ex, json_t *t, json_t *g) {
  const char *mover = json_string_value(json_object_get(g, "mover"));
  if (mover && !strcmp(mover, ex->addr)) return 1;
  json_t *mem = json_object_get(t, "members");
  json_int_t dseat = json_integer_value(json_object_get(g, "defender")),
             cseat = json_integer_value(json_object_get(g, "challenger"));
  const char *dx =
      json_string_value(json_object_get(json_array_get(mem, (size_t)dseat), "executor"));
  const char *cx = cseat < 0 ? json_string_value(json_object_get(t, "challenger"))
                             : json_string_value(json_object_get(
                                   json_array_get(mem, (size_t)cseat), "executor"));
  return (dx && !strcmp(dx, ex->addr)) || (cx && !strcmp(cx, ex->addr));
}

void ex_play_list(executor *ex, json_t *list) {
  if (ex->silent_games) return; /* fault injection: a party that never answers */
  size_t i;
  json_t *t;
  time_t now = time(NULL);
  json_array_foreach(json_object_get(list, "tasks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "task_id"));
    json_t *g = json_object_get(t, "game");
    const char *mover = json_string_value(json_object_get(g, "mover"));
    const char *phase = json_string_value(json_object_get(g, "phase"));
    if (!id || strlen(id) != 64 || !g || !phase || !is_party(ex, t, g)) continue;
    game gg;
    memset(&gg, 0, sizeof gg);
    gg.p.arity = (uint32_t)ex_u64(g, "arity");
    gg.lo = ex_u64(g, "lo");
    gg.hi = ex_u64(g, "hi");
    uint64_t round = ex_u64(g, "round"), games = ex_u64(t, "games");
    char key[160];
    snprintf(key, sizeof key, "%llu/%s/%llu/%llu/%llu", (unsigned long long)games, phase,
             (unsigned long long)round, (unsigned long long)gg.lo, (unsigned long long)gg.hi);
    if (gg.p.arity < GAME_ARITY_MIN || gg.p.arity > GAME_ARITY_MAX || gg.hi <= gg.lo) continue;
    /* the trace: ready, or being built on its thread (then: next poll) */
    json_t *full = NULL;
    if (ex_call(ex, "task_get", json_pack("{s:s}", "task_id", id), &full, 0)) continue;
    ex_play *p = ex_play_for(ex, full, id);
    json_decref(full);
    if (!p) continue;
    if (!mover || strcmp(mover, ex->addr)) continue; /* ready for our turn */
    if (!strcmp(p->sent_key, key) && now - p->sent_at <= 4 * EX_RESEND_S) continue;
    uint64_t pts[GAME_ARITY_MAX - 1];
    uint32_t n;
    game_points(&gg, pts, &n);
    uint8_t tid[32], hs[32 * (GAME_ARITY_MAX - 1)], seen[32], *proof = NULL; /* live until sent */
    size_t plen = 0, nid;
    if (core_hex_decode(tid, 32, &nid, id, 64) || nid != 32) continue;
    Cohort__MsgDisputeBisect mb = COHORT__MSG_DISPUTE_BISECT__INIT;
    Cohort__MsgDisputeSelect ms = COHORT__MSG_DISPUTE_SELECT__INIT;
    Cohort__MsgDisputeProve mp = COHORT__MSG_DISPUTE_PROVE__INIT;
    Cohort__TxBody b = COHORT__TX_BODY__INIT;
    char what[160];
    int ok = 1;
    if (!strcmp(phase, "bisect")) {
      for (uint32_t q = 0; q < n && ok; q++) ok = !ex_play_hash(p, pts[q], hs + 32 * q);
      mb.task_id = (ProtobufCBinaryData){32, tid};
      mb.hashes = (ProtobufCBinaryData){32 * (size_t)n, hs};
      mb.game = (uint32_t)games, mb.round = (uint32_t)round, mb.lo = gg.lo, mb.hi = gg.hi;
      b.msg_case = COHORT__TX_BODY__MSG_DISPUTE_BISECT;
      b.dispute_bisect = &mb;
      snprintf(what, sizeof what, "game move (round %llu: hashes of %u points in steps %llu..%llu)",
               (unsigned long long)round, n, (unsigned long long)gg.lo, (unsigned long long)gg.hi);
    } else if (!strcmp(phase, "select")) {
      json_t *theirs = json_object_get(g, "hashes");
      uint32_t part = n + 1;
      uint8_t all[32 * (GAME_ARITY_MAX - 1)];
      for (uint32_t q = 0; q < n && ok; q++) {
        uint8_t mine[32], other[32];
        const char *h = json_string_value(json_array_get(theirs, q));
        size_t hn;
        ok = h && !core_hex_decode(other, 32, &hn, h, strlen(h)) && hn == 32 &&
             !ex_play_hash(p, pts[q], mine);
        if (ok) memcpy(all + 32 * q, other, 32);
        if (ok && memcmp(mine, other, 32) && part == n + 1) part = q + 1;
      }
      crypto_hash_sha256(seen, all, 32 * (size_t)n); /* the hashes we judged: the chain checks */
      ms.task_id = (ProtobufCBinaryData){32, tid};
      ms.part = part;
      ms.game = (uint32_t)games, ms.round = (uint32_t)round, ms.lo = gg.lo, ms.hi = gg.hi;
      ms.seen = (ProtobufCBinaryData){32, seen};
      b.msg_case = COHORT__TX_BODY__MSG_DISPUTE_SELECT;
      b.dispute_select = &ms;
      snprintf(what, sizeof what, "game move (round %llu: disputing part %u of steps %llu..%llu)",
               (unsigned long long)round, part, (unsigned long long)gg.lo,
               (unsigned long long)gg.hi);
    } else {
      cohort_vm *at;
      ok = !cohort_vm_trace_seek(play_trace(p, gg.lo), gg.lo, &at) &&
           !cohort_vm_prove(at, &proof, &plen);
      mp.task_id = (ProtobufCBinaryData){32, tid};
      mp.proof = (ProtobufCBinaryData){plen, proof};
      mp.game = (uint32_t)games, mp.round = (uint32_t)round, mp.lo = gg.lo, mp.hi = gg.hi;
      b.msg_case = COHORT__TX_BODY__MSG_DISPUTE_PROVE;
      b.dispute_prove = &mp;
      snprintf(what, sizeof what, "game move (the one-step proof of step %llu)",
               (unsigned long long)gg.lo);
    }
    if (ok && ex_sign_and_send(ex, &b, what, id) >= 0) {
      if (strcmp(p->sent_key, key))
        ex_log(ex, EXECUTOR_LOG_INFO, "task %.16s..: verification game: sent %s", id, what);
      snprintf(p->sent_key, sizeof p->sent_key, "%s", key);
      p->sent_at = now;
    }
    free(proof);
  }
}
