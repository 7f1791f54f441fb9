/* cli/cli_executor.c — `cohort executor run`: a worker that serves its
 * committee seats through one or more nodes' RPC.
 *
 * Loop (every --poll-ms, or at once on a WebSocket event): list the tasks
 * where this executor holds an active seat. For a task in its commit
 * window without our commitment: fetch program and input, check that they
 * hash to what the task names (a node is not trusted to serve the right
 * bytes), run the VM on a worker thread (never the polling thread), check
 * the initial state against the task's, write the claim, salt, output and
 * output proof to STATE_DIR/<task_id>.json (temp file, fsync, rename, fsync
 * of the directory) and only then send CommitResult. In the reveal window:
 * send RevealResult from that file. A restart therefore neither loses a
 * commitment's salt nor commits twice.
 *
 * Several nodes (--node repeated): calls go to the current node and fail
 * over to the next when it cannot be reached or serves wrong data; commits
 * and reveals are sent to every node, so one node whose RPC is saturated
 * cannot keep our reveal out. Every node must serve the same chain: its
 * genesis hash is checked before it is used, a node of another chain is
 * refused (at start: the runner stops). While no node answers the runner
 * backs off, up to 30 s between polls, logging once when that starts and
 * once when a node answers again. Up to --capacity tasks run at once
 * (default: the capacity registered on chain, 2 unless the registration
 * set it); there is no other limit on seats.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "core/bech32.h"
#include "core/file.h"
#include "core/hex.h"
#include "core/parse.h"
#include "proto/market.h"
#include "proto/tx.h"
#include "rpc/rpc.h"
#include "state/dispute/game.h"
#include "vm/vm.h"

#define MAX_NODES 8
/* A commit/reveal not yet on chain is sent again after this many seconds:
 * a tx lost after a node took it (evicted, or the node restarted) must not
 * cost a window. A copy sent while the first is still pending is refused by
 * the mempool (one commit/reveal per task and sender), at no cost. */
#define RESEND_S 3

enum { J_RUNNING = 1, J_READY, J_FAILED };

typedef struct {
  char task_id[65];
  int state;
  char err[200];
  uint8_t *elf, *input;
  size_t elf_len, input_len;
  cohort_vm_config cfg;
  uint8_t want_initial[32];
  char path[4200];
  time_t commit_sent, reveal_sent;
  time_t retry_at; /* after a failure, not before this */
  int listed;      /* seen in the latest listing */
} job;

static job **jobs; /* pointers stay valid while worker threads use them */
static size_t njobs, capjobs;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stop;
static int byzantine; /* fault injection for tests: run on a corrupted input */
static int watch_only;         /* `cohort watch`: no seats, no registration */
static uint64_t lie_from;      /* fault injection: the state after this step is wrong */
static int silent_games;       /* fault injection: never make a move of a game */
static uint64_t watch_bps;     /* share of agreed tasks the watcher re-runs */
static int wake;      /* a worker finished: poll now (under mu) */

static const char *nodes[MAX_NODES];
static int n_nodes, cur;
static uint64_t timeout_ms;

static void on_sig(int s) {
  (void)s;
  stop = 1;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%H:%M:%S", &tm);
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s executor: ", ts);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ---- nodes ----
 *
 * Every --node must serve the same chain: the first node reached names the
 * genesis hash, every other is checked against it before it is used (at
 * start for those that answer, later for those that come up later) and
 * refused for good if it differs. When no node answers, the runner backs
 * off (1, 2, 4 ... 30 s between polls) and logs once when that starts and
 * once when a node answers again. */

enum { N_UNKNOWN = 0, N_OK, N_REFUSED };
static int node_state[MAX_NODES];
static char genesis_ref[80], chain_ref[80];
static int all_down;       /* no node answered the last call */
static unsigned backoff_s; /* between polls while all_down */

static const char *clean(int i, const char *msg, char *out, size_t cap) {
  return cli_clean_err(nodes[i], msg, out, cap);
}

/* Check node i's genesis against the reference; 1 if usable now, 0 if
 * refused or not reachable (then eb says why). */
static int node_usable(int i, core_errbuf *eb) {
  if (node_state[i] == N_OK) return 1;
  if (node_state[i] == N_REFUSED) {
    snprintf(eb->msg, sizeof eb->msg, "refused: another chain");
    return 0;
  }
  json_t *st = NULL;
  if (rpc_client_call(nodes[i], "status", NULL, timeout_ms, &st, NULL, eb)) return 0;
  const char *g = json_string_value(json_object_get(st, "genesis_hash")),
             *ch = json_string_value(json_object_get(st, "chain_id"));
  int ok = 0;
  if (!g) {
    logf_("node %s: its status has no genesis_hash: refusing it", nodes[i]);
  } else if (!genesis_ref[0]) {
    snprintf(genesis_ref, sizeof genesis_ref, "%s", g);
    snprintf(chain_ref, sizeof chain_ref, "%s", ch ? ch : "?");
    ok = 1;
  } else if (strcmp(g, genesis_ref)) {
    logf_("node %s serves another chain (%s, genesis %.16s..) than the others (%s, genesis "
          "%.16s..): refusing it; every --node must be a node of the same chain", nodes[i],
          ch ? ch : "?", g, chain_ref, genesis_ref);
  } else {
    ok = 1;
  }
  json_decref(st);
  node_state[i] = ok ? N_OK : N_REFUSED;
  if (!ok) snprintf(eb->msg, sizeof eb->msg, "refused: another chain");
  return ok;
}

static int usable_count(void) {
  int k = 0;
  for (int i = 0; i < n_nodes; i++) k += node_state[i] != N_REFUSED;
  return k;
}

static void failover(const char *why) {
  if (usable_count() < 2) return;
  int from = cur;
  do cur = (cur + 1) % n_nodes; while (node_state[cur] == N_REFUSED);
  if (!all_down) {
    char w[300];
    logf_("node %s: %s; switching to %s", nodes[from], clean(from, why, w, sizeof w), nodes[cur]);
  }
}

static void node_up(void) {
  if (!all_down) return;
  all_down = 0;
  backoff_s = 0;
  logf_("node %s answers again: serving", nodes[cur]);
}

static void node_down(const char *why) {
  if (all_down) return;
  all_down = 1;
  backoff_s = 1;
  char w[300];
  logf_("no node answers (%s%s%s); retrying, backing off up to 30 s between tries", nodes[cur],
        why[0] ? ": " : "", clean(cur, why, w, sizeof w));
}

/* A call to the current node, failing over when it cannot be reached. An
 * answer with an RPC error is final (the node is up and says no). */
static int call(const char *m, json_t *p, json_t **r, int quiet) {
  core_errbuf eb = {{0}};
  int rc = -1;
  for (int tries = 0; tries < n_nodes; tries++) {
    if (!node_usable(cur, &eb)) {
      rc = -1;
      failover(eb.msg);
      continue;
    }
    rc = rpc_client_call(nodes[cur], m, p, timeout_ms, r, NULL, &eb);
    if (rc == 0 || (rc <= -32000 && rc >= -32768)) break;
    failover(eb.msg);
  }
  json_decref(p);
  if (rc == 0 || (rc <= -32000 && rc >= -32768)) node_up();
  else node_down(eb.msg);
  char w[300];
  if (rc && !quiet && !all_down) logf_("%s failed: %s", m, clean(cur, eb.msg, w, sizeof w));
  return rc;
}

/* Send raw tx bytes to every usable node; the number that took it (or
 * already had it), or -1 if none did. */
static int broadcast_all(const char *hex, const char *what, const char *task) {
  int ok = 0;
  char why[400] = ""; /* node URL + a core_errbuf message */
  for (int i = 0; i < n_nodes; i++) {
    core_errbuf eb = {{0}};
    char w[300];
    if (!node_usable(i, &eb)) {
      if (node_state[i] != N_REFUSED)
        snprintf(why, sizeof why, "%s: %s", nodes[i], clean(i, eb.msg, w, sizeof w));
      continue;
    }
    json_t *r = NULL, *p = json_pack("{s:s, s:s}", "tx", hex, "mode", "sync");
    int rc = rpc_client_call(nodes[i], "broadcast_tx", p, timeout_ms, &r, NULL, &eb);
    json_decref(p);
    json_decref(r);
    if (!rc || strstr(eb.msg, "already")) {
      ok++;
    } else {
      snprintf(why, sizeof why, "%s: %s", nodes[i], clean(i, eb.msg, w, sizeof w));
    }
  }
  if (!ok) logf_("task %.16s..: %s not accepted by any node (%s)", task, what, why);
  else if (why[0]) logf_("task %.16s..: %s: one node did not take it (%s)", task, what, why);
  return ok ? ok : -1;
}

/* Sign body (nonce, fee from the cost model) and send it to every node;
 * the number of nodes that took it, or -1. */
static int sign_and_send(const core_key *k, const char *addr, Cohort__TxBody *b, const char *what,
                         const char *task) {
  json_t *st = NULL, *acct = NULL;
  int ret = -1;
  if (call("status", NULL, &st, 0) ||
      call("account", json_pack("{s:s}", "address", addr), &acct, 0))
    goto out;
  const char *chain = json_string_value(json_object_get(st, "chain_id"));
  Cohort__Params par;
  cli_ctx c0 = {0};
  if (!chain || cli_status_params(&c0, st, &par)) goto out;
  b->nonce = (uint64_t)json_integer_value(json_object_get(acct, "next_nonce"));
  b->fee = 0;
  uint8_t *raw;
  size_t len;
  if (cli_sign_with_fee(chain, &par, k, b, 0, &raw, &len)) goto out;
  char *hex = malloc(2 * len + 1);
  if (hex) {
    core_hex_encode(hex, raw, len);
    ret = broadcast_all(hex, what, task);
    free(hex);
  }
  free(raw);
out:
  json_decref(st);
  json_decref(acct);
  return ret;
}

/* ---- jobs ---- */

static job *find_job(const char *id) {
  for (size_t i = 0; i < njobs; i++)
    if (!strcmp(jobs[i]->task_id, id)) return jobs[i];
  return NULL;
}

static job *new_job(const char *id, const char *dir) {
  if (njobs == capjobs) {
    size_t cap = capjobs ? capjobs * 2 : 16;
    job **p = realloc(jobs, cap * sizeof *p);
    if (!p) return NULL;
    jobs = p;
    capjobs = cap;
  }
  job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  snprintf(j->task_id, sizeof j->task_id, "%s", id);
  snprintf(j->path, sizeof j->path, "%.4000s/%.64s.json", dir, id);
  jobs[njobs++] = j;
  return j;
}

/* Drop finished jobs whose task no longer lists us (settled, expired,
 * replaced); their files stay as the record. */
static void forget_unlisted(void) {
  size_t w = 0;
  for (size_t i = 0; i < njobs; i++) {
    job *j = jobs[i];
    if (j->state != J_RUNNING && !j->listed) {
      free(j);
      continue;
    }
    jobs[w++] = j;
  }
  njobs = w;
}

/* Fault injection, --lie-from-step N: from the state after N steps, flip
 * bit 0 of the first register (x5, x6, ...) whose flip changes the final
 * state, and run on: a real but wrong run, whose every step but the
 * N-1 -> N one has a valid proof (the hardest liar for the game). vm is at
 * step N (not halted); on return *out is the run from the lie to its end,
 * *reg the register flipped (0: no flip changes the result: no lie). */
static int lie_at(cohort_vm *vm, cohort_vm **out, unsigned *reg) {
  uint8_t honest[32], h[32];
  cohort_vm *c;
  uint64_t done;
  *out = NULL;
  *reg = 0;
  if (cohort_vm_clone(&c, vm)) return -1;
  cohort_vm_run(c, UINT64_MAX, &done);
  cohort_vm_state_hash(c, honest);
  cohort_vm_del(c);
  for (unsigned r = 5; r < 32; r++) {
    if (cohort_vm_clone(&c, vm)) return -1;
    cohort_vm_debug_flip_reg(c, r, 1);
    cohort_vm *keep;
    if (cohort_vm_clone(&keep, c)) {
      cohort_vm_del(c);
      return -1;
    }
    cohort_vm_run(c, UINT64_MAX, &done);
    cohort_vm_state_hash(c, h);
    cohort_vm_del(c);
    if (memcmp(h, honest, 32)) {
      *out = keep; /* at step N, flipped, not run yet */
      *reg = r;
      return 0;
    }
    cohort_vm_del(keep);
  }
  return 0;
}

static void *run_job(void *arg) {
  job *j = arg;
  cohort_vm *vm;
  core_errbuf eb = {{0}};
  char err[200] = "";
  char *text = NULL;
  uint8_t init[32];
  if (cohort_vm_new(&vm, j->elf, j->elf_len, j->input, j->input_len, &j->cfg, &eb)) {
    snprintf(err, sizeof err, "VM cannot start: %.150s", eb.msg);
  } else if (cohort_vm_state_hash(vm, init) || (!byzantine && memcmp(init, j->want_initial, 32))) {
    snprintf(err, sizeof err, "the initial state of the program and input the node served is "
             "not the task's initial_state: not computing (will retry, possibly on another node)");
    cohort_vm_del(vm);
  } else {
    uint64_t done;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (lie_from) { /* fault injection: run to the lie, then on from a wrong state */
      cohort_vm_run(vm, lie_from, &done);
      cohort_vm_info li;
      cohort_vm_get_info(vm, &li);
      cohort_vm *wrong = NULL;
      unsigned reg = 0;
      if (li.status == COHORT_VM_RUNNING && !lie_at(vm, &wrong, &reg) && wrong) {
        cohort_vm_del(vm);
        vm = wrong;
        logf_("task %.16s..: LYING from step %llu (x%u flipped; fault injection)", j->task_id,
              (unsigned long long)lie_from, reg);
      }
    }
    cohort_vm_run(vm, j->cfg.max_steps, &done);
    cohort_vm_info info;
    cohort_vm_get_info(vm, &info);
    uint8_t final[32], oh[32], salt[32], *proof = NULL;
    size_t out_len, plen = 0;
    cohort_vm_state_hash(vm, final);
    const uint8_t *out = cohort_vm_output(vm, &out_len);
    crypto_hash_sha256(oh, out, out_len);
    randombytes_buf(salt, sizeof salt);
    if (cohort_vm_output_prove(vm, &proof, &plen)) {
      snprintf(err, sizeof err, "cannot build the output proof");
    } else {
      char fh[65], ohx[65], sx[65];
      core_hex_encode(fh, final, 32);
      core_hex_encode(ohx, oh, 32);
      core_hex_encode(sx, salt, 32);
      char *ob = core_base64_encode(out, out_len), *pb = core_base64_encode(proof, plen);
      json_t *rec = json_pack("{s:s, s:s, s:I, s:i, s:i, s:s, s:s, s:s, s:s}", "task_id", j->task_id,
                              "final_state", fh, "steps", (json_int_t)info.step, "status",
                              (int)info.status, "code", (int)info.code, "output_hash", ohx,
                              "salt", sx, "output_base64", ob ? ob : "", "proof_base64", pb ? pb : "");
      text = rec ? json_dumps(rec, JSON_SORT_KEYS) : NULL;
      json_decref(rec);
      free(ob);
      free(pb);
      sodium_memzero(sx, sizeof sx);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      logf_("task %.16s..: %s after %llu steps in %.3f s (run, state hash, output proof), "
            "%zu output bytes", j->task_id, cohort_vm_status_str(info.status),
            (unsigned long long)info.step,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, out_len);
    }
    free(proof);
    cohort_vm_del(vm);
  }
  core_errbuf feb = {{0}};
  if (!err[0] && (!text || core_file_write_durable(j->path, text, strlen(text), 0600, 0, &feb)))
    snprintf(err, sizeof err, "cannot write the claim record: %.150s", feb.msg);
  free(text);
  pthread_mutex_lock(&mu);
  free(j->elf);
  free(j->input);
  j->elf = j->input = NULL;
  j->state = err[0] ? J_FAILED : J_READY;
  snprintf(j->err, sizeof j->err, "%s", err);
  wake = 1;
  pthread_mutex_unlock(&mu);
  return NULL;
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint8_t *b64(json_t *o, const char *f, size_t *len) {
  uint8_t *out = NULL;
  const char *s = json_string_value(json_object_get(o, f));
  if (!s || core_base64_decode_alloc(&out, len, s, 256u << 20)) return NULL;
  return out;
}

static int hex_field(json_t *o, const char *f, uint8_t out[32]) {
  const char *s = json_string_value(json_object_get(o, f));
  size_t n;
  return !s || core_hex_decode(out, 32, &n, s, strlen(s)) || n != 32;
}

/* Fetch the task's program and input, check them against the task, and
 * start the VM on a worker thread. */
static int start_job(json_t *task, job *j, int *running) {
  json_t *blob = NULL, *in = NULL;
  uint8_t want_prog[32], want_in[32], got[32];
  if (hex_field(task, "program", want_prog) || hex_field(task, "input_hash", want_in) ||
      hex_field(task, "initial_state", j->want_initial)) {
    logf_("task %.16s..: the listing lacks program/input_hash/initial_state", j->task_id);
    return -1;
  }
  if (call("blob_get", json_pack("{s:s, s:b}", "hash",
                                 json_string_value(json_object_get(task, "program")), "data", 1),
           &blob, 0) ||
      call("task_input", json_pack("{s:s}", "task_id", j->task_id), &in, 0)) {
    json_decref(blob);
    return -1;
  }
  j->elf = b64(blob, "data_base64", &j->elf_len);
  j->input = b64(in, "input_base64", &j->input_len);
  json_decref(blob);
  json_decref(in);
  const char *bad = !j->elf || !j->input ? "program or input missing in the node's answer"
                    : (crypto_hash_sha256(got, j->elf, j->elf_len), memcmp(got, want_prog, 32))
                        ? "program bytes do not hash to the task's program"
                    : (crypto_hash_sha256(got, j->input, j->input_len), memcmp(got, want_in, 32))
                        ? "input bytes do not hash to the task's input_hash"
                        : NULL;
  if (bad) {
    logf_("task %.16s..: %s: not computing", j->task_id, bad);
    failover("served data that does not match the task");
    free(j->elf);
    free(j->input);
    j->elf = j->input = NULL;
    return -1;
  }
  if (byzantine) { /* lie: compute on different input */
    uint8_t *x = realloc(j->input, j->input_len + 1);
    if (x) {
      j->input = x;
      j->input[j->input_len++] = '!';
    }
  }
  j->cfg.max_steps = (uint64_t)json_integer_value(json_object_get(task, "max_steps"));
  j->cfg.mem_cap = (uint32_t)json_integer_value(json_object_get(task, "mem_mib")) << 20;
  j->cfg.out_cap = (uint32_t)json_integer_value(json_object_get(task, "max_output_bytes"));
  j->state = J_RUNNING;
  pthread_t th;
  if (pthread_create(&th, NULL, run_job, j)) {
    free(j->elf);
    free(j->input);
    j->elf = j->input = NULL;
    j->state = 0;
    return -1;
  }
  pthread_detach(th);
  (*running)++;
  logf_("task %.16s..: running (max %llu steps, %u MiB, output cap %u bytes)", j->task_id,
        (unsigned long long)j->cfg.max_steps, j->cfg.mem_cap >> 20, j->cfg.out_cap);
  return 0;
}

static int load_claim(const char *path, json_t **rec, Cohort__Claim *cl, uint8_t final[32],
                      uint8_t oh[32], uint8_t salt[32]) {
  json_error_t je;
  *rec = json_load_file(path, 0, &je);
  if (!*rec) return -1;
  if (hex_field(*rec, "final_state", final) || hex_field(*rec, "output_hash", oh) ||
      hex_field(*rec, "salt", salt)) {
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

static void send_commit(const core_key *k, const char *addr, const uint8_t me[20], job *j) {
  json_t *rec;
  Cohort__Claim cl;
  uint8_t final[32], oh[32], salt[32], tid[32], cm[32];
  size_t n;
  if (load_claim(j->path, &rec, &cl, final, oh, salt)) {
    logf_("task %.16s..: cannot read %s to commit", j->task_id, j->path);
    return;
  }
  core_hex_decode(tid, 32, &n, j->task_id, 64);
  market_commitment(cm, tid, me, &cl, salt);
  json_decref(rec);
  sodium_memzero(salt, sizeof salt);
  Cohort__MsgCommitResult m = COHORT__MSG_COMMIT_RESULT__INIT;
  m.task_id = (ProtobufCBinaryData){32, tid};
  m.commitment = (ProtobufCBinaryData){32, cm};
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_COMMIT_RESULT;
  b.commit_result = &m;
  j->commit_sent = time(NULL);
  int sent = sign_and_send(k, addr, &b, "commitment", j->task_id);
  if (sent > 0)
    logf_("task %.16s..: commitment sent to %d of %d node%s", j->task_id, sent, n_nodes,
          n_nodes > 1 ? "s" : "");
}

static void send_reveal(const core_key *k, const char *addr, job *j) {
  json_t *rec;
  Cohort__Claim cl;
  uint8_t final[32], oh[32], salt[32], tid[32];
  size_t n, ol = 0, pl = 0;
  if (load_claim(j->path, &rec, &cl, final, oh, salt)) {
    logf_("task %.16s..: cannot read %s to reveal", j->task_id, j->path);
    return;
  }
  uint8_t *out = b64(rec, "output_base64", &ol), *proof = b64(rec, "proof_base64", &pl);
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
  int sent = sign_and_send(k, addr, &b, "reveal", j->task_id);
  if (sent > 0)
    logf_("task %.16s..: reveal sent to %d of %d node%s", j->task_id, sent, n_nodes,
          n_nodes > 1 ? "s" : "");
  free(out);
  free(proof);
  json_decref(rec);
  sodium_memzero(salt, sizeof salt);
}

/* My seat in a task listing: 1 found (flags set). */
static int my_seat(json_t *task, const char *addr, int *committed, int *revealed) {
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(task, "members"), i, m) {
    if (json_is_true(json_object_get(m, "replaced"))) continue;
    const char *ex = json_string_value(json_object_get(m, "executor"));
    if (!ex || strcmp(ex, addr)) continue;
    *committed = json_is_true(json_object_get(m, "committed"));
    *revealed = json_is_true(json_object_get(m, "revealed"));
    return 1;
  }
  return 0;
}

/* One poll: handle the seats listed in `st` ("committing"/"revealing"). */
static void serve_list(json_t *list, int revealing, const char *addr, const uint8_t me[20],
                       const core_key *k, const char *dir, uint64_t capacity, int *running) {
  time_t now = time(NULL);
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(list, "tasks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "task_id"));
    int committed = 0, revealed = 0;
    /* the ID becomes a file name: exactly 64 hex digits, nothing else */
    if (!id || strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64 ||
        !my_seat(t, addr, &committed, &revealed))
      continue;
    pthread_mutex_lock(&mu);
    job *j = find_job(id);
    if (!j) {
      char path[4200];
      snprintf(path, sizeof path, "%.4000s/%.64s.json", dir, id);
      if (access(path, F_OK) == 0 && (j = new_job(id, dir))) j->state = J_READY; /* from before a restart */
    }
    if (j) j->listed = 1;
    int st = j ? j->state : 0;
    pthread_mutex_unlock(&mu);
    if (!revealing && !committed) {
      if (st == J_READY && now - j->commit_sent > RESEND_S) send_commit(k, addr, me, j);
      else if (!st && (uint64_t)*running < capacity && (!j || now >= j->retry_at)) {
        pthread_mutex_lock(&mu);
        if (!j) j = new_job(id, dir);
        if (j) j->listed = 1;
        pthread_mutex_unlock(&mu);
        if (j && start_job(t, j, running)) {
          pthread_mutex_lock(&mu);
          j->state = 0;
          j->retry_at = now + 5;
          pthread_mutex_unlock(&mu);
        }
      }
    } else if (revealing && committed && !revealed && st == J_READY &&
               now - j->reveal_sent > RESEND_S) {
      send_reveal(k, addr, j);
    }
  }
}

/* ---- the verification game: this executor plays its own moves ----
 * A disputed task whose game waits for our move (task_get's game.mover) is
 * re-run once with checkpoints (a VM trace), from the program and input the
 * node serves (checked against the task), and every query answered from
 * the trace: the hashes at the round's points, the first point where the
 * other party's hashes differ from ours, the one-step proof. A byzantine
 * runner plays from its corrupted input, as it computed. */
#define MAX_PLAYS 8
typedef struct {
  char task_id[65];
  cohort_vm *vm;
  cohort_vm_trace *tr;
  cohort_vm *vm2;          /* --lie-from-step: the run from the wrong state */
  cohort_vm_trace *tr2;
  uint64_t lie;            /* steps >= lie come from tr2 */
  int st;                  /* P_FREE, P_BUILDING, P_READY (under mu) */
  char sent_key[160];
  time_t sent_at;
  uint64_t used; /* for eviction */
} play;
static play plays[MAX_PLAYS];
static uint64_t play_clock;

/* The traced re-run happens on a thread of its own, so that the poll loop
 * keeps serving seats and other games meanwhile: a slot is FREE, BUILDING
 * (owned by its thread until it says READY) or READY (owned by the loop). */
enum { P_FREE = 0, P_BUILDING, P_READY };

typedef struct {
  play *p;
  char id[65];
  uint8_t *elf, *input;
  size_t elf_len, input_len;
  cohort_vm_config cfg;
} play_job;

static void play_drop(play *p) {
  if (p->tr) cohort_vm_trace_del(p->tr);
  if (p->vm) cohort_vm_del(p->vm);
  if (p->tr2) cohort_vm_trace_del(p->tr2);
  if (p->vm2) cohort_vm_del(p->vm2);
  memset(p, 0, sizeof *p);
}

static void *play_build(void *arg) {
  play_job *j = arg;
  play *p = j->p;
  core_errbuf eb = {{0}};
  /* at most ~256 checkpoints (each holds a page table of the task's
   * memory): a query replays at most one interval at full speed */
  uint64_t iv = j->cfg.max_steps / 256 > 65536 ? j->cfg.max_steps / 256 : 65536, done = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int failed = cohort_vm_new(&p->vm, j->elf, j->elf_len, j->input, j->input_len, &j->cfg, &eb) ||
               cohort_vm_trace_new(&p->tr, p->vm, iv);
  if (!failed && lie_from) { /* replay the same lie as run_job told */
    failed = cohort_vm_trace_run(p->tr, p->vm, lie_from, &done);
    cohort_vm_info li;
    cohort_vm_get_info(p->vm, &li);
    unsigned reg = 0;
    if (!failed && li.status == COHORT_VM_RUNNING && !lie_at(p->vm, &p->vm2, &reg) && p->vm2) {
      p->lie = lie_from;
      failed = cohort_vm_trace_new(&p->tr2, p->vm2, iv) ||
               cohort_vm_trace_run(p->tr2, p->vm2, UINT64_MAX, &done);
    }
  } else if (!failed) {
    failed = cohort_vm_trace_run(p->tr, p->vm, UINT64_MAX, &done);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  pthread_mutex_lock(&mu);
  if (failed) {
    logf_("task %.16s..: verification game: cannot re-run the task (%s); trying again at the "
          "next poll", j->id, eb.msg[0] ? eb.msg : "out of memory");
    play_drop(p);
  } else {
    logf_("task %.16s..: verification game: re-ran %llu steps with a checkpoint every %llu in "
          "%.2f s, to answer the game's queries", j->id, (unsigned long long)done,
          (unsigned long long)iv,
          (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    p->st = P_READY;
  }
  wake = 1;
  pthread_mutex_unlock(&mu);
  free(j->elf);
  free(j->input);
  free(j);
  return NULL;
}

/* The READY slot of task `id`, or NULL: then a re-run is started (fetching
 * the program and input, checked against the task) if none is under way
 * and a slot is free or a READY one can be evicted. */
static play *play_for(json_t *task, const char *id) {
  play *free_slot = NULL, *oldest = NULL, *found = NULL;
  pthread_mutex_lock(&mu);
  for (int i = 0; i < MAX_PLAYS; i++) {
    if (plays[i].st != P_FREE && !strcmp(plays[i].task_id, id)) found = &plays[i];
    if (plays[i].st == P_FREE && !free_slot) free_slot = &plays[i];
    if (plays[i].st == P_READY && (!oldest || plays[i].used < oldest->used)) oldest = &plays[i];
  }
  if (found) {
    int ready = found->st == P_READY;
    if (ready) found->used = ++play_clock;
    pthread_mutex_unlock(&mu);
    return ready ? found : NULL; /* still building */
  }
  play *p = free_slot ? free_slot : oldest;
  if (!p) { /* every slot is being built: next poll */
    pthread_mutex_unlock(&mu);
    return NULL;
  }
  play_drop(p);
  snprintf(p->task_id, sizeof p->task_id, "%s", id);
  p->st = P_BUILDING;
  p->used = ++play_clock;
  pthread_mutex_unlock(&mu);
  play_job *j = calloc(1, sizeof *j);
  json_t *blob = NULL, *in = NULL;
  uint8_t want_prog[32], want_in[32], got[32];
  int bad = !j || hex_field(task, "program", want_prog) || hex_field(task, "input_hash", want_in) ||
            call("blob_get", json_pack("{s:s, s:b}", "hash",
                                       json_string_value(json_object_get(task, "program")), "data", 1),
                 &blob, 0) ||
            call("task_input", json_pack("{s:s}", "task_id", id), &in, 0);
  if (!bad) {
    j->elf = b64(blob, "data_base64", &j->elf_len);
    j->input = b64(in, "input_base64", &j->input_len);
    bad = !j->elf || !j->input ||
          (crypto_hash_sha256(got, j->elf, j->elf_len), memcmp(got, want_prog, 32)) ||
          (crypto_hash_sha256(got, j->input, j->input_len), memcmp(got, want_in, 32));
    if (bad) logf_("task %.16s..: verification game: the program or input the node serves is not "
                   "the task's; trying again at the next poll", id);
  }
  json_decref(blob);
  json_decref(in);
  if (!bad && byzantine) {
    uint8_t *x = realloc(j->input, j->input_len + 1);
    if (x) {
      j->input = x;
      j->input[j->input_len++] = '!';
    }
  }
  pthread_t th;
  if (!bad) {
    j->p = p;
    snprintf(j->id, sizeof j->id, "%s", id);
    j->cfg = (cohort_vm_config){
        .max_steps = (uint64_t)json_integer_value(json_object_get(task, "max_steps")),
        .mem_cap = (uint32_t)json_integer_value(json_object_get(task, "mem_mib")) << 20,
        .out_cap = (uint32_t)json_integer_value(json_object_get(task, "max_output_bytes"))};
    if (pthread_create(&th, NULL, play_build, j) == 0) {
      pthread_detach(th);
      return NULL; /* READY at a later poll */
    }
  }
  if (j) {
    free(j->elf);
    free(j->input);
    free(j);
  }
  pthread_mutex_lock(&mu);
  play_drop(p);
  pthread_mutex_unlock(&mu);
  return NULL;
}

static cohort_vm_trace *play_trace(play *p, uint64_t step) {
  return p->tr2 && step >= p->lie ? p->tr2 : p->tr;
}

static int play_hash(play *p, uint64_t step, uint8_t out[32]) {
  cohort_vm *at;
  return cohort_vm_trace_seek(play_trace(p, step), step, &at) || cohort_vm_state_hash(at, out);
}

static uint64_t ju64(json_t *o, const char *f) {
  json_t *v = json_object_get(o, f);
  uint64_t u = 0;
  if (json_is_integer(v)) return (uint64_t)json_integer_value(v);
  if (json_is_string(v)) core_parse_u64(json_string_value(v), &u);
  return u;
}

static void play_list(json_t *list, const char *addr, const core_key *k) {
  if (silent_games) return; /* fault injection: a party that never answers */
  size_t i;
  json_t *t;
  time_t now = time(NULL);
  json_array_foreach(json_object_get(list, "tasks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "task_id"));
    json_t *g = json_object_get(t, "game");
    const char *mover = json_string_value(json_object_get(g, "mover"));
    const char *phase = json_string_value(json_object_get(g, "phase"));
    if (!id || strlen(id) != 64 || !g || !phase) continue;
    /* a party of this game (defender seat, challenger seat, or the outside
     * challenger) re-runs the task as soon as the game starts: the first
     * move of either side may need it */
    int party = mover && !strcmp(mover, addr);
    json_t *mem = json_object_get(t, "members");
    json_int_t dseat = json_integer_value(json_object_get(g, "defender")),
               cseat = json_integer_value(json_object_get(g, "challenger"));
    const char *dx = json_string_value(json_object_get(json_array_get(mem, (size_t)dseat), "executor"));
    const char *cx = cseat < 0 ? json_string_value(json_object_get(t, "challenger"))
                               : json_string_value(json_object_get(json_array_get(mem, (size_t)cseat),
                                                                   "executor"));
    party |= (dx && !strcmp(dx, addr)) || (cx && !strcmp(cx, addr));
    if (!party) continue;
    game gg;
    memset(&gg, 0, sizeof gg);
    gg.p.arity = (uint32_t)ju64(g, "arity");
    gg.lo = ju64(g, "lo");
    gg.hi = ju64(g, "hi");
    uint64_t round = ju64(g, "round"), games = ju64(t, "games");
    char key[160];
    snprintf(key, sizeof key, "%llu/%s/%llu/%llu/%llu", (unsigned long long)games, phase,
             (unsigned long long)round, (unsigned long long)gg.lo, (unsigned long long)gg.hi);
    if (gg.p.arity < GAME_ARITY_MIN || gg.p.arity > GAME_ARITY_MAX || gg.hi <= gg.lo) continue;
    /* the trace: ready, or being built on its thread (then: next poll) */
    json_t *full = NULL;
    if (call("task_get", json_pack("{s:s}", "task_id", id), &full, 0)) continue;
    play *p = play_for(full, id);
    json_decref(full);
    if (!p) continue;
    if (!mover || strcmp(mover, addr)) continue; /* ready for our turn */
    if (!strcmp(p->sent_key, key) && now - p->sent_at <= 4 * RESEND_S) continue;
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
      for (uint32_t q = 0; q < n && ok; q++) ok = !play_hash(p, pts[q], hs + 32 * q);
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
             !play_hash(p, pts[q], mine);
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
    if (ok && sign_and_send(k, addr, &b, what, id) >= 0) {
      if (strcmp(p->sent_key, key)) logf_("task %.16s..: verification game: sent %s", id, what);
      snprintf(p->sent_key, sizeof p->sent_key, "%s", key);
      p->sent_at = now;
    }
    free(proof);
  }
}

/* ---- the watcher: re-run agreed tasks, challenge wrong results ---- */
#define WATCHED_MAX 1024
static char watched[WATCHED_MAX][65]; /* tasks checked already (a ring) */
static size_t nwatched;

static int was_watched(const char *id) {
  for (size_t i = 0; i < WATCHED_MAX && i < nwatched; i++)
    if (!strcmp(watched[i], id)) return 1;
  return 0;
}

static void watch_list(json_t *list, const char *addr, const core_key *k) {
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(list, "tasks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "task_id"));
    if (!id || strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64 || was_watched(id)) continue;
    /* a sample, the same on every poll: sha256(task id || watcher) */
    uint8_t h[32];
    char buf[64 + CORE_ADDR_STR_MAX];
    snprintf(buf, sizeof buf, "%s%s", id, addr);
    crypto_hash_sha256(h, (const uint8_t *)buf, strlen(buf));
    if ((uint64_t)(h[0] << 8 | h[1]) % 10000 >= watch_bps) {
      snprintf(watched[nwatched++ % WATCHED_MAX], 65, "%s", id);
      continue;
    }
    size_t m;
    json_t *mem;
    int member = 0;
    json_array_foreach(json_object_get(t, "members"), m, mem) {
      const char *ex = json_string_value(json_object_get(mem, "executor"));
      member |= ex && !strcmp(ex, addr) && !json_is_true(json_object_get(mem, "replaced"));
    }
    uint8_t theirs[32], ours[32];
    if (member || hex_field(json_object_get(t, "result"), "final_state", theirs)) continue;
    json_t *full = NULL;
    if (call("task_get", json_pack("{s:s}", "task_id", id), &full, 0)) continue;
    play *p = play_for(full, id);
    json_decref(full);
    if (!p) continue; /* being re-run: checked at a later poll */
    snprintf(watched[nwatched++ % WATCHED_MAX], 65, "%s", id);
    cohort_vm_info in;
    cohort_vm_get_info(p->vm, &in);
    if (play_hash(p, in.step, ours)) continue;
    if (!memcmp(ours, theirs, 32)) {
      logf_("task %.16s..: watched: the agreed result matches this watcher's run (%llu steps)", id,
            (unsigned long long)in.step);
      pthread_mutex_lock(&mu);
      play_drop(p);
      pthread_mutex_unlock(&mu);
      continue;
    }
    logf_("task %.16s..: watched: the agreed result differs from this watcher's run: challenging",
          id);
    uint8_t tid[32];
    size_t nid;
    if (core_hex_decode(tid, 32, &nid, id, 64) || nid != 32) continue;
    Cohort__MsgChallenge mc = COHORT__MSG_CHALLENGE__INIT;
    mc.task_id = (ProtobufCBinaryData){32, tid};
    Cohort__TxBody b = COHORT__TX_BODY__INIT;
    b.msg_case = COHORT__TX_BODY__MSG_CHALLENGE;
    b.challenge = &mc;
    sign_and_send(k, addr, &b, "challenge", id);
  }
}

int cli_cmd_watch(const cli_ctx *c, int argc, char **argv) {
  char *args[64];
  int n = 0;
  uint64_t bps = 10000;
  for (int i = 0; i < argc && n < 60; i++) {
    if (!strcmp(argv[i], "--sample-bps") && i + 1 < argc) {
      if (core_parse_u64(argv[i + 1], &bps) || bps > 10000)
        return cli_usage_error("watch", "--sample-bps must be 0 to 10000, got \"%s\"", argv[i + 1]);
      i++;
      continue;
    }
    if (strcmp(argv[i], "--key") && strcmp(argv[i], "--node") && strcmp(argv[i], "--poll-ms"))
      return cli_usage_error("watch", "unknown option %s", argv[i]);
    args[n++] = argv[i];
    if (i + 1 < argc) args[n++] = argv[++i];
  }
  watch_only = 1;
  watch_bps = bps;
  return cli_cmd_executor_run(c, n, args);
}

int cli_cmd_executor_run(const cli_ctx *c, int argc, char **argv) {
  const char *key = "dev", *dir = NULL;
  uint64_t capacity = 0, poll_ms = 500;
  n_nodes = 0;
  timeout_ms = c->timeout_ms;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--byzantine")) {
      byzantine = 1;
      continue;
    }
    if (strcmp(a, "--key") && strcmp(a, "--state") && strcmp(a, "--node") &&
        strcmp(a, "--capacity") && strcmp(a, "--poll-ms") && strcmp(a, "--watch-bps") &&
        strcmp(a, "--lie-from-step") && strcmp(a, "--silent-in-games"))
      return cli_usage_error("executor run", "unknown option %s", a);
    if (!strcmp(a, "--silent-in-games")) {
      silent_games = 1;
      continue;
    }
    if (!v) return cli_usage_error("executor run", "%s needs a value", a);
    if (!strcmp(a, "--key")) key = v;
    else if (!strcmp(a, "--state")) dir = v;
    else if (!strcmp(a, "--node")) {
      if (n_nodes == MAX_NODES)
        return cli_usage_error("executor run", "at most %d --node", MAX_NODES);
      /* a bare HOST:PORT, as cohortd.conf writes it, means http:// */
      static char urls[MAX_NODES][512];
      if (strstr(v, "://")) snprintf(urls[n_nodes], sizeof urls[0], "%s", v);
      else snprintf(urls[n_nodes], sizeof urls[0], "http://%s", v);
      nodes[n_nodes] = urls[n_nodes];
      n_nodes++;
    } else if (!strcmp(a, "--lie-from-step")) {
      if (core_parse_u64(v, &lie_from) || lie_from < 1)
        return cli_usage_error("executor run", "--lie-from-step must be >= 1, got \"%s\"", v);
    } else if (!strcmp(a, "--watch-bps")) {
      if (core_parse_u64(v, &watch_bps) || watch_bps > 10000)
        return cli_usage_error("executor run", "--watch-bps must be 0 to 10000, got \"%s\"", v);
    } else if (!strcmp(a, "--capacity")) {
      if (core_parse_u64(v, &capacity) || capacity < 1 || capacity > 4096)
        return cli_usage_error("executor run", "--capacity must be 1 to 4096, got \"%s\"", v);
    } else if (core_parse_u64(v, &poll_ms) || poll_ms < 50) {
      return cli_usage_error("executor run", "--poll-ms must be an integer >= 50, got \"%s\"", v);
    }
    i++;
  }
  if (!n_nodes) nodes[n_nodes++] = c->node;
  cur = 0;
  core_key k;
  if (cli_load_key(c, key, &k)) return 1;
  uint8_t me[20];
  char addr[CORE_ADDR_STR_MAX], dbuf[4200];
  core_account_id(me, k.pub);
  core_addr_encode(addr, me);
  if (!dir) {
    snprintf(dbuf, sizeof dbuf, "%.4000s/executor", c->home);
    mkdir(dbuf, 0700);
    snprintf(dbuf, sizeof dbuf, "%.4000s/executor/%s", c->home, addr);
    dir = dbuf;
  }
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "cohort executor run: cannot create %s: %s\n", dir, strerror(errno));
    return 1;
  }
  json_t *e = NULL;
  int rc;
  signal(SIGINT, on_sig);
  signal(SIGTERM, on_sig);
  /* The nodes may still be starting: try each, backing off while none
   * answers. Every node that answers must serve the same chain. */
  for (unsigned wait_s = 1, logged = 0; !stop;) {
    core_errbuf eb = {{0}}, first = {{0}};
    int up = -1;
    for (int i = 0; i < n_nodes; i++) {
      if (node_usable(i, &eb)) {
        if (up < 0) up = i;
      } else if (node_state[i] != N_REFUSED && !first.msg[0]) {
        clean(i, eb.msg, first.msg, sizeof first.msg);
      }
    }
    for (int i = 0; i < n_nodes; i++)
      if (node_state[i] == N_REFUSED) {
        fprintf(stderr, "cohort executor run: %s does not serve the chain the other --node "
                "addresses serve (%s, genesis %.16s..): give only nodes of one chain\n",
                nodes[i], chain_ref, genesis_ref);
        core_key_wipe(&k);
        return 1;
      }
    if (up >= 0) {
      cur = up;
      if (logged) logf_("node %s answers: starting", nodes[cur]);
      break;
    }
    if (!logged++)
      logf_("cannot reach %s%s (%s); retrying, backing off up to 30 s between tries", nodes[0],
            n_nodes > 1 ? " or the other --node addresses" : "", first.msg);
    for (unsigned t = 0; t < wait_s * 10 && !stop; t++) usleep(100000);
    wait_s = wait_s * 2 > 30 ? 30 : wait_s * 2;
  }
  if (!stop && (byzantine || lie_from || silent_games) && strncmp(chain_ref, "cohort-devnet-", 14) &&
      strncmp(chain_ref, "cohort-testnet-", 15) && strncmp(chain_ref, "cohort-localnet-", 16)) {
    fprintf(stderr, "cohort executor run: --byzantine, --lie-from-step and --silent-in-games (fault "
            "injection: wrong results or no moves on purpose, "
            "which costs stake) is refused on chain %s: only devnet, testnet and localnet chains "
            "(cohort-devnet-*, cohort-testnet-*, cohort-localnet-*) allow it\n", chain_ref);
    core_key_wipe(&k);
    return 2;
  }
  rc = 1;
  if (!stop && watch_only) {
    logf_("%s watching via %s%s (chain %s): re-running %llu/10000 of agreed tasks, challenging "
          "wrong results", addr, nodes[cur], n_nodes > 1 ? " and failover nodes" : "", chain_ref,
          (unsigned long long)watch_bps);
    e = json_pack("{s:i, s:s, s:s}", "capacity", 0, "stake", "0", "price_per_msteps", "0");
    rc = 0;
  } else if (!stop) {
    core_errbuf eb = {{0}};
    json_t *p = json_pack("{s:s}", "address", addr);
    rc = rpc_client_call(nodes[cur], "executor_get", p, timeout_ms, &e, NULL, &eb);
    json_decref(p);
    char w[300];
    if (rc == RPC_NOT_FOUND)
      fprintf(stderr, "cohort executor run: %s is not a registered executor; register first:\n"
                      "  cohort executor register --stake N --price P --capacity C --from %s\n",
              addr, key);
    else if (rc)
      fprintf(stderr, "cohort executor run: %s: %s\n", nodes[cur], clean(cur, eb.msg, w, sizeof w));
  }
  if (rc) {
    core_key_wipe(&k);
    return stop ? 0 : 1;
  }
  uint64_t chain_cap = (uint64_t)json_integer_value(json_object_get(e, "capacity"));
  if (!capacity) capacity = chain_cap ? chain_cap : 2;
  if (byzantine) logf_("BYZANTINE MODE: results will be wrong on purpose (fault injection)");
  if (lie_from)
    logf_("LYING MODE: results wrong from step %llu on purpose (fault injection)",
          (unsigned long long)lie_from);
  if (silent_games) logf_("SILENT MODE: this executor never moves in a game (fault injection)");
  char stk[CLI_TOKENS_MAX];
  if (!watch_only)
    logf_("%s serving via %s%s (chain %s) with capacity %llu (registered %llu); state in %s "
        "(stake %s, price %s CRD base units per million steps)", addr, nodes[cur],
        n_nodes > 1 ? " and failover nodes" : "", chain_ref, (unsigned long long)capacity,
        (unsigned long long)chain_cap, dir,
        cli_fmt_tokens(stk, json_string_value(json_object_get(e, "stake")), "STK"),
        json_string_value(json_object_get(e, "price_per_msteps")));
  json_decref(e);
  /* Assignments arrive as WebSocket events (topic "task", filtered on our
   * address); polling every --poll-ms is the fallback and the truth. */
  rpc_ws_client *ws = NULL;
  time_t ws_retry = 0, last_check = 0;
  uint64_t last_poll = 0;
  int force = 1, ws_node = -1, ws_logged = 0;
  char last_warn[300] = "";
  while (!stop) {
    if (!force && mono_ms() - last_poll < poll_ms) goto wait;
    force = 0;
    last_poll = mono_ms();
    json_t *lists[2] = {NULL, NULL};
    const char *sts[2] = {"committing", "revealing"};
    int running = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < njobs; i++) {
      jobs[i]->listed = 0;
      running += jobs[i]->state == J_RUNNING;
      if (jobs[i]->state == J_FAILED) {
        logf_("task %.16s..: %s; retrying in 5 s", jobs[i]->task_id, jobs[i]->err);
        jobs[i]->state = 0;
        jobs[i]->retry_at = time(NULL) + 5;
      }
    }
    pthread_mutex_unlock(&mu);
    for (int s = 0; s < 2 && !watch_only; s++)
      call("task_list", json_pack("{s:s, s:s, s:i}", "executor", addr, "status", sts[s], "limit", 1000),
           &lists[s], 0);
    for (int s = 0; s < 2; s++)
      if (lists[s]) serve_list(lists[s], s, addr, me, &k, dir, capacity, &running);
    json_t *disputed = NULL; /* games waiting for our move */
    if (!watch_only && !call("task_list", json_pack("{s:s, s:s, s:i}", "executor", addr, "status",
                                                    "disputed", "limit", 1000), &disputed, 0))
      play_list(disputed, addr, &k);
    json_decref(disputed);
    if (watch_bps) { /* the watcher: agreed results, and the games it started */
      json_t *agreed = NULL, *all = NULL;
      if (!call("task_list", json_pack("{s:s, s:i}", "status", "agreed", "limit", 1000), &agreed, 0))
        watch_list(agreed, addr, &k);
      json_decref(agreed);
      if (!call("task_list", json_pack("{s:s, s:i}", "status", "disputed", "limit", 1000), &all, 0))
        play_list(all, addr, &k);
      json_decref(all);
    }
    /* Tell the operator when this executor cannot be drawn any more. */
    time_t now = time(NULL);
    if (!watch_only && now - last_check >= 5) {
      last_check = now;
      json_t *ex = NULL, *st = NULL;
      char warn[sizeof last_warn] = "";
      if (!call("executor_get", json_pack("{s:s}", "address", addr), &ex, 0) &&
          !call("status", NULL, &st, 0)) {
        uint64_t stake = 0, min = 0, jailed = 0, height = 0;
        core_parse_u64(json_string_value(json_object_get(ex, "stake")), &stake);
        core_parse_u64(json_string_value(json_object_get(json_object_get(st, "params"),
                                                         "min_executor_stake")), &min);
        jailed = (uint64_t)json_integer_value(json_object_get(ex, "jailed_until"));
        height = (uint64_t)json_integer_value(json_object_get(st, "latest_height"));
        if (jailed && jailed <= height) {
          /* We are running, so we are back: re-register to leave the jail. */
          /* the same prices as registered (capacity 0 keeps it): a jail
           * must not cost the operator its declared per-seat price */
          uint64_t price = 0, per_task = 0;
          core_parse_u64(json_string_value(json_object_get(ex, "price_per_msteps")), &price);
          core_parse_u64(json_string_value(json_object_get(ex, "price_per_task")), &per_task);
          Cohort__MsgRegisterExecutor m = COHORT__MSG_REGISTER_EXECUTOR__INIT;
          m.price_per_msteps = price;
          m.price_per_task = per_task;
          m.accepting = 1;
          Cohort__TxBody b = COHORT__TX_BODY__INIT;
          b.msg_case = COHORT__TX_BODY__MSG_REGISTER_EXECUTOR;
          b.register_executor = &m;
          logf_("jailed after a missed window until height %llu; that has passed: registering as "
                "accepting again", (unsigned long long)jailed);
          sign_and_send(&k, addr, &b, "re-registration", "(none)");
        } else if (jailed) {
          snprintf(warn, sizeof warn, "WARNING: jailed after a missed window until height %llu: "
                   "no new tasks until then; this runner re-registers itself afterwards",
                   (unsigned long long)jailed);
        } else if (!json_is_true(json_object_get(ex, "accepting")))
          snprintf(warn, sizeof warn, "WARNING: registered as not accepting work: no new tasks "
                   "will be drawn to us");
        else if (stake < min)
          snprintf(warn, sizeof warn, "WARNING: bonded stake %llu is below the minimum %llu: no "
                   "new tasks will be drawn to us; bond more with cohort executor register "
                   "--stake N", (unsigned long long)stake, (unsigned long long)min);
        /* once per change, not every 5 s */
        if (strcmp(warn, last_warn)) {
          if (warn[0]) logf_("%s", warn);
          else if (last_warn[0]) logf_("can be drawn for new tasks again");
          snprintf(last_warn, sizeof last_warn, "%s", warn);
        }
      }
      json_decref(ex);
      json_decref(st);
    }
    if (lists[0] && lists[1]) {
      pthread_mutex_lock(&mu);
      forget_unlisted();
      pthread_mutex_unlock(&mu);
    }
    json_decref(lists[0]);
    json_decref(lists[1]);
    if (all_down) { /* no node answers: wait longer each time, up to 30 s */
      rpc_ws_close(ws);
      ws = NULL;
      for (unsigned t = 0; t < backoff_s * 10 && !stop; t++) usleep(100000);
      backoff_s = backoff_s * 2 > 30 ? 30 : backoff_s * 2;
      force = 1;
      continue;
    }
  wait:
    pthread_mutex_lock(&mu);
    if (wake) force = 1; /* a claim is ready to commit */
    wake = 0;
    pthread_mutex_unlock(&mu);
    if (force) continue;
    if (ws && ws_node != cur) { /* follow the node we fail over to */
      rpc_ws_close(ws);
      ws = NULL;
    }
    if (!ws && time(NULL) >= ws_retry) {
      core_errbuf web = {{0}};
      json_t *f = json_pack("{s:s}", "executor", addr);
      if (rpc_ws_connect(&ws, nodes[cur], 3000, &web) == 0 && rpc_ws_subscribe(ws, "task", f, &web) == 0) {
        ws_node = cur;
        logf_("following assignments over WebSocket on %s (polling every %llu ms as fallback)",
              nodes[cur], (unsigned long long)poll_ms);
        ws_logged = 0;
      } else {
        rpc_ws_close(ws);
        ws = NULL;
        ws_retry = time(NULL) + 10;
        char w[300];
        if (!ws_logged++) /* once until it works again */
          logf_("no WebSocket (%.160s); polling every %llu ms, trying again every 10 s",
                clean(cur, web.msg, w, sizeof w), (unsigned long long)poll_ms);
      }
      json_decref(f);
    }
    if (ws) {
      json_t *ev = NULL;
      core_errbuf web = {{0}};
      /* short waits so a signal stops us promptly; an event polls at once */
      if (rpc_ws_next(ws, 500, &ev, NULL, 0, &web)) {
        char w[300];
        logf_("WebSocket dropped (%s); polling", clean(cur, web.msg, w, sizeof w));
        rpc_ws_close(ws);
        ws = NULL;
        ws_retry = time(NULL) + 5;
      }
      if (ev) force = 1;
      json_decref(ev);
    } else {
      usleep(50000);
    }
  }
  rpc_ws_close(ws);
  logf_("stopping");
  core_key_wipe(&k);
  return 0;
}
