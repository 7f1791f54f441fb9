/* executor/executor_seat.c — committee seats: LISTED -> RUNNING -> READY
 * -> committed -> revealed (executor.h). The VM runs on a worker thread,
 * never the poll thread; the claim (final state, steps, status, code,
 * output hash), its salt, the output and the output proof are written to
 * STATE_DIR/<task_id>.json durably before anything is committed, and the
 * reveal is made from that file, so a restart neither loses a salt nor
 * commits twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/file.h"
#include "core/hex.h"
#include "executor/executor_int.h"
#include "proto/market.h"

/* ---- the seat table (ex->seats, under mu) ---- */

static ex_seat *find_seat(executor *ex, const char *id) {
  for (size_t i = 0; i < ex->nseats; i++)
    if (!strcmp(ex->seats[i]->task_id, id)) return ex->seats[i];
  return NULL;
}

static ex_seat *new_seat(executor *ex, const char *id) {
  if (ex->nseats == ex->capseats) {
    size_t cap = ex->capseats ? ex->capseats * 2 : 16;
    ex_seat **p = realloc(ex->seats, cap * sizeof *p);
    if (!p) return NULL;
    ex->seats = p;
    ex->capseats = cap;
  }
  ex_seat *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  snprintf(j->task_id, sizeof j->task_id, "%s", id);
  snprintf(j->path, sizeof j->path, "%.4000s/%.64s.json", ex->state_dir, id);
  ex->seats[ex->nseats++] = j;
  return j;
}

void ex_seats_unlist(executor *ex) {
  pthread_mutex_lock(&ex->mu);
  for (size_t i = 0; i < ex->nseats; i++) {
    ex_seat *j = ex->seats[i];
    j->listed = 0;
    if (j->state == EX_SEAT_FAILED) {
      ex_log(ex, EXECUTOR_LOG_WARN, "task %.16s..: %s; retrying in 5 s", j->task_id, j->err);
      j->state = EX_SEAT_LISTED;
      j->retry_at = time(NULL) + 5;
    }
  }
  pthread_mutex_unlock(&ex->mu);
}

/* Seats whose task no longer lists us (settled, expired, replaced) are
 * dropped once not running; their files stay as the record. */
void ex_seats_forget(executor *ex) {
  pthread_mutex_lock(&ex->mu);
  size_t w = 0;
  for (size_t i = 0; i < ex->nseats; i++) {
    ex_seat *j = ex->seats[i];
    if (j->state != EX_SEAT_RUNNING && !j->listed) {
      free(j);
      continue;
    }
    ex->seats[w++] = j;
  }
  ex->nseats = w;
  pthread_mutex_unlock(&ex->mu);
}

void ex_seats_free(executor *ex) {
  for (size_t i = 0; i < ex->nseats; i++) {
    free(ex->seats[i]->elf);
    free(ex->seats[i]->input);
    free(ex->seats[i]);
  }
  free(ex->seats);
  ex->seats = NULL;
  ex->nseats = ex->capseats = 0;
}

/* ---- RUNNING: the worker ---- */

typedef struct {
  executor *ex;
  ex_seat *j;
} seat_job;

/* The claim record of a finished run (malloc'd JSON text), or NULL with
 * err set. */
static char *claim_record(executor *ex, ex_seat *j, cohort_vm *vm, const struct timespec *t0,
                          char *err, size_t errcap) {
  cohort_vm_info info;
  cohort_vm_get_info(vm, &info);
  uint8_t final[32], oh[32], salt[32], *proof = NULL;
  size_t out_len, plen = 0;
  char *text = NULL;
  cohort_vm_state_hash(vm, final);
  const uint8_t *out = cohort_vm_output(vm, &out_len);
  crypto_hash_sha256(oh, out, out_len);
  randombytes_buf(salt, sizeof salt);
  if (cohort_vm_output_prove(vm, &proof, &plen)) {
    snprintf(err, errcap, "cannot build the output proof");
    sodium_memzero(salt, sizeof salt);
    return NULL;
  }
  char fh[65], ohx[65], sx[65];
  core_hex_encode(fh, final, 32);
  core_hex_encode(ohx, oh, 32);
  core_hex_encode(sx, salt, 32);
  sodium_memzero(salt, sizeof salt);
  char *ob = core_base64_encode(out, out_len), *pb = core_base64_encode(proof, plen);
  json_t *rec = json_pack("{s:s, s:s, s:I, s:i, s:i, s:s, s:s, s:s, s:s}", "task_id", j->task_id,
                          "final_state", fh, "steps", (json_int_t)info.step, "status",
                          (int)info.status, "code", (int)info.code, "output_hash", ohx, "salt", sx,
                          "output_base64", ob ? ob : "", "proof_base64", pb ? pb : "");
  text = rec ? json_dumps(rec, JSON_SORT_KEYS) : NULL;
  json_decref(rec);
  free(ob);
  free(pb);
  free(proof);
  sodium_memzero(sx, sizeof sx);
  if (!text) {
    snprintf(err, errcap, "out of memory writing the claim record");
    return NULL;
  }
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ex_log(ex, EXECUTOR_LOG_INFO,
         "task %.16s..: %s after %llu steps in %.3f s (run, state hash, output proof), %zu "
         "output bytes", j->task_id, cohort_vm_status_str(info.status),
         (unsigned long long)info.step,
         (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9, out_len);
  return text;
}

static void *run_seat(void *arg) {
  seat_job *sj = arg;
  executor *ex = sj->ex;
  ex_seat *j = sj->j;
  free(sj);
  cohort_vm *vm;
  core_errbuf eb = {{0}};
  char err[200] = "";
  char *text = NULL;
  uint8_t init[32];
  if (cohort_vm_new(&vm, j->elf, j->elf_len, j->input, j->input_len, &j->cfg, &eb)) {
    snprintf(err, sizeof err, "VM cannot start: %.150s", eb.msg);
  } else if (cohort_vm_state_hash(vm, init) ||
             (!ex->byzantine && memcmp(init, j->want_initial, 32))) {
    snprintf(err, sizeof err, "the initial state of the program and input the node served is "
             "not the task's initial_state: not computing (will retry, possibly on another node)");
    cohort_vm_del(vm);
  } else {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int stopped = 0;
    if (ex->lie_from) { /* fault injection: run to the lie, then on from a wrong state */
      stopped = ex_run(ex, vm, NULL, ex->lie_from, NULL);
      cohort_vm_info li;
      cohort_vm_get_info(vm, &li);
      cohort_vm *wrong = NULL;
      unsigned reg = 0;
      if (!stopped && li.status == COHORT_VM_RUNNING && !ex_lie_at(ex, vm, &wrong, &reg) &&
          wrong) {
        cohort_vm_del(vm);
        vm = wrong;
        ex_log(ex, EXECUTOR_LOG_WARN, "task %.16s..: LYING from step %llu (x%u flipped; fault "
               "injection)", j->task_id, (unsigned long long)ex->lie_from, reg);
      }
    }
    if (!stopped) stopped = ex_run(ex, vm, NULL, UINT64_MAX, NULL);
    if (stopped) snprintf(err, sizeof err, "stopped before the run ended");
    else text = claim_record(ex, j, vm, &t0, err, sizeof err);
    cohort_vm_del(vm);
  }
  core_errbuf feb = {{0}};
  if (!err[0] && core_file_write_durable(j->path, text, strlen(text), 0600, 0, &feb))
    snprintf(err, sizeof err, "cannot write the claim record: %.150s", feb.msg);
  if (text) sodium_memzero(text, strlen(text)); /* it holds the salt */
  free(text);
  pthread_mutex_lock(&ex->mu);
  free(j->elf);
  free(j->input);
  j->elf = j->input = NULL;
  j->state = err[0] ? EX_SEAT_FAILED : EX_SEAT_READY;
  snprintf(j->err, sizeof j->err, "%s", err);
  ex_thread_done_locked(ex);
  return NULL;
}

/* Fetch the task's program and input, check them against the task, and
 * start the VM on a worker thread. */
static int start_seat(executor *ex, json_t *task, ex_seat *j, int *running) {
  if (ex_hex32(task, "initial_state", j->want_initial)) {
    ex_log(ex, EXECUTOR_LOG_WARN, "task %.16s..: the listing lacks program/input_hash/"
           "initial_state", j->task_id);
    return -1;
  }
  if (ex_fetch_task(ex, task, j->task_id, "", &j->elf, &j->elf_len, &j->input, &j->input_len,
                    &j->cfg))
    return -1;
  seat_job *sj = malloc(sizeof *sj);
  pthread_mutex_lock(&ex->mu);
  j->state = EX_SEAT_RUNNING;
  pthread_mutex_unlock(&ex->mu);
  if (sj) *sj = (seat_job){ex, j};
  if (!sj || ex_thread_start(ex, run_seat, sj)) {
    free(sj);
    pthread_mutex_lock(&ex->mu);
    free(j->elf);
    free(j->input);
    j->elf = j->input = NULL;
    j->state = EX_SEAT_LISTED;
    pthread_mutex_unlock(&ex->mu);
    return -1;
  }
  (*running)++;
  ex_log(ex, EXECUTOR_LOG_INFO, "task %.16s..: running (max %llu steps, %u MiB, output cap %u "
         "bytes)", j->task_id, (unsigned long long)j->cfg.max_steps, j->cfg.mem_cap >> 20,
         j->cfg.out_cap);
  return 0;
}

/* ---- READY: commit and reveal from the claim file ---- */

static int load_claim(const char *path, json_t **rec, Cohort__Claim *cl, uint8_t final[32],
                      uint8_t oh[32], uint8_t salt[32]) {
  json_error_t je;
  *rec = json_load_file(path, 0, &je);
  if (!*rec) return -1;
  if (ex_hex32(*rec, "final_state", final) || ex_hex32(*rec, "output_hash", oh) ||
      ex_hex32(*rec, "salt", salt)) {
    json_decref(*rec);
    return -1;
  }
  cohort__claim__init(cl);
  cl->final_state = (ProtobufCBinaryData){32, final};
  cl->output_hash = (ProtobufCBinaryData){32, oh};
  cl->steps = (uint64_t)json_integer_value(json_object_get(*rec, "steps"));
  cl->status = (uint32_t)json_integer_value(json_object_get(*rec, "status"));
  cl->code = (uint32_t)json_integer_value(json_object_get(*rec, "code"));
  return 0;
}

static void send_commit(executor *ex, ex_seat *j) {
  json_t *rec;
  Cohort__Claim cl;
  uint8_t final[32], oh[32], salt[32], tid[32], cm[32];
  size_t n;
  if (load_claim(j->path, &rec, &cl, final, oh, salt)) {
    ex_log(ex, EXECUTOR_LOG_ERROR, "task %.16s..: cannot read %s to commit", j->task_id, j->path);
    return;
  }
  core_hex_decode(tid, 32, &n, j->task_id, 64);
  market_commitment(cm, tid, ex->me, &cl, salt);
  json_decref(rec);
  sodium_memzero(salt, sizeof salt);
  Cohort__MsgCommitResult m = COHORT__MSG_COMMIT_RESULT__INIT;
  m.task_id = (ProtobufCBinaryData){32, tid};
  m.commitment = (ProtobufCBinaryData){32, cm};
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_COMMIT_RESULT;
  b.commit_result = &m;
  j->commit_sent = time(NULL);
  int sent = ex_sign_and_send(ex, &b, "commitment", j->task_id);
  if (sent > 0)
    ex_log(ex, EXECUTOR_LOG_INFO, "task %.16s..: commitment sent to %d of %d node%s", j->task_id,
           sent, ex->n_nodes, ex->n_nodes > 1 ? "s" : "");
}

static void send_reveal(executor *ex, ex_seat *j) {
  json_t *rec;
  Cohort__Claim cl;
  uint8_t final[32], oh[32], salt[32], tid[32];
  size_t n, ol = 0, pl = 0;
  if (load_claim(j->path, &rec, &cl, final, oh, salt)) {
    ex_log(ex, EXECUTOR_LOG_ERROR, "task %.16s..: cannot read %s to reveal", j->task_id, j->path);
    return;
  }
  uint8_t *out = ex_b64(rec, "output_base64", &ol), *proof = ex_b64(rec, "proof_base64", &pl);
  core_hex_decode(tid, 32, &n, j->task_id, 64);
  Cohort__MsgRevealResult m = COHORT__MSG_REVEAL_RESULT__INIT;
  m.task_id = (ProtobufCBinaryData){32, tid};
  m.claim = &cl;
  m.salt = (ProtobufCBinaryData){32, salt};
  m.output = (ProtobufCBinaryData){out ? ol : 0, out};
  m.output_proof = (ProtobufCBinaryData){proof ? pl : 0, proof};
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_REVEAL_RESULT;
  b.reveal_result = &m;
  j->reveal_sent = time(NULL);
  int sent = ex_sign_and_send(ex, &b, "reveal", j->task_id);
  if (sent > 0)
    ex_log(ex, EXECUTOR_LOG_INFO, "task %.16s..: reveal sent to %d of %d node%s", j->task_id,
           sent, ex->n_nodes, ex->n_nodes > 1 ? "s" : "");
  free(out);
  free(proof);
  json_decref(rec);
  sodium_memzero(salt, sizeof salt);
}

/* Our seat in a task listing: 1 found (flags set). */
static int my_seat(executor *ex, json_t *task, int *committed, int *revealed) {
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(task, "members"), i, m) {
    if (json_is_true(json_object_get(m, "replaced"))) continue;
    const char *who = json_string_value(json_object_get(m, "executor"));
    if (!who || strcmp(who, ex->addr)) continue;
    *committed = json_is_true(json_object_get(m, "committed"));
    *revealed = json_is_true(json_object_get(m, "revealed"));
    return 1;
  }
  return 0;
}

void ex_seats_serve(executor *ex, json_t *list, int revealing, int *running) {
  time_t now = time(NULL);
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(list, "tasks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "task_id"));
    int committed = 0, revealed = 0;
    /* the ID becomes a file name: exactly 64 hex digits, nothing else */
    if (!id || strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64 ||
        !my_seat(ex, t, &committed, &revealed))
      continue;
    pthread_mutex_lock(&ex->mu);
    ex_seat *j = find_seat(ex, id);
    if (!j) {
      char path[EX_PATH_MAX];
      snprintf(path, sizeof path, "%.4000s/%.64s.json", ex->state_dir, id);
      if (access(path, F_OK) == 0 && (j = new_seat(ex, id)))
        j->state = EX_SEAT_READY; /* from before a restart */
    }
    if (j) j->listed = 1;
    int st = j ? j->state : EX_SEAT_LISTED;
    time_t retry_at = j ? j->retry_at : 0;
    pthread_mutex_unlock(&ex->mu);
    if (!revealing && !committed) {
      if (st == EX_SEAT_READY && now - j->commit_sent > EX_RESEND_S) {
        send_commit(ex, j);
      } else if (st == EX_SEAT_LISTED && (uint64_t)*running < ex->capacity && now >= retry_at) {
        pthread_mutex_lock(&ex->mu);
        if (!j) j = new_seat(ex, id);
        if (j) j->listed = 1;
        pthread_mutex_unlock(&ex->mu);
        if (j && start_seat(ex, t, j, running)) {
          pthread_mutex_lock(&ex->mu);
          j->state = EX_SEAT_LISTED;
          j->retry_at = now + 5;
          pthread_mutex_unlock(&ex->mu);
        }
      }
    } else if (revealing && committed && !revealed && st == EX_SEAT_READY &&
               now - j->reveal_sent > EX_RESEND_S) {
      send_reveal(ex, j);
    }
  }
}
