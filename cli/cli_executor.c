/* cli/cli_executor.c — `cohort executor run`: a worker that serves its
 * committee seats through any node's RPC.
 *
 * Loop (every --poll-ms): list the tasks where this executor holds an
 * active seat. For a task in its commit window without our commitment:
 * fetch program and input, run the VM on a worker thread (never the polling
 * thread), write the claim, salt, output and output proof to
 * STATE_DIR/<task_id>.json (temp file, fsync, rename) and only then send
 * CommitResult. In the reveal window: send RevealResult from that file.
 * A restart therefore neither loses a commitment's salt nor commits twice.
 * Up to --capacity tasks run at once.
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
#include "core/hex.h"
#include "core/parse.h"
#include "rpc/rpc.h"
#include "state/state.h"
#include "vm/vm.h"

#define MAX_JOBS 64

typedef struct {
  char task_id[65];
  int state; /* 0 free, 1 running, 2 done (record written), 3 failed */
  char err[200];
  uint8_t *elf, *input;
  size_t elf_len, input_len;
  cohort_vm_config cfg;
  char path[4200];
  time_t commit_sent, reveal_sent;
} job;

static job jobs[MAX_JOBS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stop;
static int byzantine; /* fault injection for tests: run on a corrupted input */
static int wake;      /* a worker finished: poll now (under mu) */

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

static int write_atomic(const char *path, const char *text) {
  char tmp[4300];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -1;
  size_t n = strlen(text);
  int bad = write(fd, text, n) != (ssize_t)n || fsync(fd) != 0;
  close(fd);
  if (bad || rename(tmp, path) != 0) return -1;
  return 0;
}

static void *run_job(void *arg) {
  job *j = arg;
  cohort_vm *vm;
  core_errbuf eb = {{0}};
  char err[200] = "";
  char *text = NULL;
  if (cohort_vm_new(&vm, j->elf, j->elf_len, j->input, j->input_len, &j->cfg, &eb)) {
    snprintf(err, sizeof err, "VM cannot start: %.150s", eb.msg);
  } else {
    uint64_t done;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
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
      clock_gettime(CLOCK_MONOTONIC, &t1);
      logf_("task %.16s..: %s after %llu steps in %.3f s (run, state hash, output proof), "
            "%zu output bytes", j->task_id, cohort_vm_status_str(info.status),
            (unsigned long long)info.step,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, out_len);
    }
    free(proof);
    cohort_vm_del(vm);
  }
  int rc = !err[0] && text ? write_atomic(j->path, text) : -1;
  if (!err[0] && rc) snprintf(err, sizeof err, "cannot write %.120s: %.60s", j->path, strerror(errno));
  free(text);
  pthread_mutex_lock(&mu);
  free(j->elf);
  free(j->input);
  j->elf = j->input = NULL;
  j->state = err[0] ? 3 : 2;
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

static job *find_job(const char *id, int create) {
  job *free_slot = NULL;
  for (int i = 0; i < MAX_JOBS; i++) {
    if (jobs[i].state != 0 && !strcmp(jobs[i].task_id, id)) return &jobs[i];
    if (jobs[i].state == 0 && !free_slot) free_slot = &jobs[i];
  }
  if (!create || !free_slot) return NULL;
  memset(free_slot, 0, sizeof *free_slot);
  snprintf(free_slot->task_id, sizeof free_slot->task_id, "%s", id);
  return free_slot;
}

static int quiet_call(const cli_ctx *c, const char *m, json_t *p, json_t **r) {
  core_errbuf eb;
  int rc = rpc_client_call(c->node, m, p, c->timeout_ms, r, NULL, &eb);
  json_decref(p);
  if (rc) logf_("%s failed: %s", m, eb.msg);
  return rc;
}

static uint8_t *b64(json_t *o, const char *f, size_t *len) {
  uint8_t *out = NULL;
  const char *s = json_string_value(json_object_get(o, f));
  if (!s || core_base64_decode_alloc(&out, len, s, 256u << 20)) return NULL;
  return out;
}

static int start_job(const cli_ctx *c, json_t *task, const char *dir, int *running) {
  const char *id = json_string_value(json_object_get(task, "task_id"));
  json_t *blob = NULL, *in = NULL;
  job *j = find_job(id, 1);
  if (!j) return -1;
  if (quiet_call(c, "blob_get", json_pack("{s:s, s:b}", "hash",
                                          json_string_value(json_object_get(task, "program")),
                                          "data", 1), &blob) ||
      quiet_call(c, "task_input", json_pack("{s:s}", "task_id", id), &in)) {
    json_decref(blob);
    j->state = 0;
    return -1;
  }
  j->elf = b64(blob, "data_base64", &j->elf_len);
  j->input = b64(in, "input_base64", &j->input_len);
  if (byzantine && j->input) { /* lie: compute on different input */
    uint8_t *x = realloc(j->input, j->input_len + 1);
    if (x) {
      j->input = x;
      j->input[j->input_len++] = '!';
    }
  }
  json_decref(blob);
  json_decref(in);
  if (!j->elf || !j->input) {
    free(j->elf);
    free(j->input);
    j->state = 0;
    return -1;
  }
  j->cfg.max_steps = (uint64_t)json_integer_value(json_object_get(task, "max_steps"));
  j->cfg.mem_cap = (uint32_t)json_integer_value(json_object_get(task, "mem_mib")) << 20;
  snprintf(j->path, sizeof j->path, "%.4000s/%.64s.json", dir, id);
  j->state = 1;
  pthread_t th;
  if (pthread_create(&th, NULL, run_job, j)) {
    free(j->elf);
    free(j->input);
    j->state = 0;
    return -1;
  }
  pthread_detach(th);
  (*running)++;
  logf_("task %.16s..: running (max %llu steps, %u MiB)", id,
        (unsigned long long)j->cfg.max_steps, j->cfg.mem_cap >> 20);
  return 0;
}

static int load_claim(const char *path, json_t **rec, Cohort__Claim *cl, uint8_t final[32],
                      uint8_t oh[32], uint8_t salt[32]) {
  json_error_t je;
  *rec = json_load_file(path, 0, &je);
  if (!*rec) return -1;
  size_t n1, n2, n3;
  const char *f = json_string_value(json_object_get(*rec, "final_state"));
  const char *o = json_string_value(json_object_get(*rec, "output_hash"));
  const char *s = json_string_value(json_object_get(*rec, "salt"));
  if (!f || !o || !s || core_hex_decode(final, 32, &n1, f, strlen(f)) ||
      core_hex_decode(oh, 32, &n2, o, strlen(o)) || core_hex_decode(salt, 32, &n3, s, strlen(s)) ||
      n1 != 32 || n2 != 32 || n3 != 32) {
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

static void send_commit(const cli_ctx *c, const core_key *k, const uint8_t me[20], job *j) {
  json_t *rec;
  Cohort__Claim cl;
  uint8_t final[32], oh[32], salt[32], tid[32], cm[32];
  size_t n;
  if (load_claim(j->path, &rec, &cl, final, oh, salt)) return;
  core_hex_decode(tid, 32, &n, j->task_id, 64);
  state_commitment(cm, tid, me, &cl, salt);
  json_decref(rec);
  Cohort__MsgCommitResult m = COHORT__MSG_COMMIT_RESULT__INIT;
  m.task_id = (ProtobufCBinaryData){32, tid};
  m.commitment = (ProtobufCBinaryData){32, cm};
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_COMMIT_RESULT;
  b.commit_result = &m;
  json_t *r = NULL;
  if (cli_send(c, k, &b, 0, &r) == 0) {
    j->commit_sent = time(NULL);
    logf_("task %.16s..: commitment sent", j->task_id);
  }
  json_decref(r);
}

static void send_reveal(const cli_ctx *c, const core_key *k, job *j) {
  json_t *rec;
  Cohort__Claim cl;
  uint8_t final[32], oh[32], salt[32], tid[32];
  size_t n, ol, pl;
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
  json_t *r = NULL;
  if (cli_send(c, k, &b, 0, &r) == 0) {
    j->reveal_sent = time(NULL);
    logf_("task %.16s..: reveal sent", j->task_id);
  }
  json_decref(r);
  free(out);
  free(proof);
  json_decref(rec);
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

int cli_cmd_executor_run(const cli_ctx *c, int argc, char **argv) {
  const char *key = "dev", *dir = NULL;
  uint64_t capacity = 2, poll_ms = 500;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--byzantine")) {
      byzantine = 1;
      continue;
    }
    if (!v) {
      fprintf(stderr, "cohort executor run: %s needs a value\n", a);
      return 2;
    }
    if (!strcmp(a, "--key")) key = v;
    else if (!strcmp(a, "--state")) dir = v;
    else if (!strcmp(a, "--capacity") && !core_parse_u64(v, &capacity) && capacity >= 1 && capacity <= 32) {
    } else if (!strcmp(a, "--poll-ms") && !core_parse_u64(v, &poll_ms) && poll_ms >= 50) {
    } else {
      fprintf(stderr, "usage: cohort executor run [--key NAME] [--state DIR] [--capacity 1-32] "
                      "[--poll-ms N>=50] [--byzantine]\n"
                      "  --byzantine: fault injection for tests; computes on a corrupted input\n");
      return 2;
    }
    i++;
  }
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
  json_t *e;
  core_errbuf eb;
  int rc;
  for (int tries = 0;; tries++) { /* the node may still be starting */
    json_t *p = json_pack("{s:s}", "address", addr);
    rc = rpc_client_call(c->node, "executor_get", p, c->timeout_ms, &e, NULL, &eb);
    json_decref(p);
    if (rc == 0 || rc <= -32000 || stop) break; /* an answer from the node, or a signal */
    if (tries == 0) logf_("cannot reach the node at %s (%s); retrying every 2 s", c->node, eb.msg);
    sleep(2);
  }
  if (rc) {
    if (rc == RPC_NOT_FOUND)
      fprintf(stderr, "cohort executor run: %s is not a registered executor; register first:\n"
                      "  cohort executor register --stake N --price P --from %s\n", addr, key);
    else
      fprintf(stderr, "cohort executor run: %s\n", eb.msg);
    core_key_wipe(&k);
    return 1;
  }
  if (byzantine) logf_("BYZANTINE MODE: results will be wrong on purpose (fault injection)");
  logf_("%s serving %s with capacity %llu; state in %s (stake %s STK base units, price %s CRD/Msteps)",
        addr, c->node, (unsigned long long)capacity, dir, json_string_value(json_object_get(e, "stake")),
        json_string_value(json_object_get(e, "price_per_msteps")));
  json_decref(e);
  signal(SIGINT, on_sig);
  signal(SIGTERM, on_sig);
  /* Assignments arrive as WebSocket events (topic "task", filtered on our
   * address); polling every --poll-ms is the fallback and the truth. */
  rpc_ws_client *ws = NULL;
  time_t ws_retry = 0;
  uint64_t last_poll = 0;
  int force = 1;
  while (!stop) {
    if (!force && mono_ms() - last_poll < poll_ms) goto wait;
    force = 0;
    last_poll = mono_ms();
    json_t *lists[2] = {NULL, NULL};
    const char *sts[2] = {"committing", "revealing"};
    int running = 0;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < MAX_JOBS; i++) {
      running += jobs[i].state == 1;
      if (jobs[i].state == 3) {
        logf_("task %.16s..: %s", jobs[i].task_id, jobs[i].err);
        jobs[i].state = 0;
      }
    }
    pthread_mutex_unlock(&mu);
    for (int s = 0; s < 2; s++)
      quiet_call(c, "task_list", json_pack("{s:s, s:s}", "executor", addr, "status", sts[s]), &lists[s]);
    time_t now = time(NULL);
    char seen[MAX_JOBS][65];
    int nseen = 0;
    for (int s = 0; s < 2; s++) {
      size_t i;
      json_t *t;
      json_array_foreach(json_object_get(lists[s], "tasks"), i, t) {
        const char *id = json_string_value(json_object_get(t, "task_id"));
        int committed = 0, revealed = 0;
        /* the ID becomes a file name: exactly 64 hex digits, nothing else */
        if (!id || strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64 ||
            !my_seat(t, addr, &committed, &revealed))
          continue;
        if (nseen < MAX_JOBS) memcpy(seen[nseen++], id, 65);
        pthread_mutex_lock(&mu);
        job *j = find_job(id, 0);
        char path[4200];
        snprintf(path, sizeof path, "%.4000s/%.64s.json", dir, id);
        int have_record = access(path, F_OK) == 0;
        if (!j && have_record) { /* from before a restart */
          j = find_job(id, 1);
          if (j) {
            snprintf(j->path, sizeof j->path, "%s", path);
            j->state = 2;
          }
        }
        int st = j ? j->state : 0;
        pthread_mutex_unlock(&mu);
        if (s == 0 && !committed) {
          if (st == 2 && now - j->commit_sent > 20) send_commit(c, &k, me, j);
          else if (!j && running < (int)capacity) start_job(c, t, dir, &running);
        } else if (s == 1 && committed && !revealed && st == 2 && now - j->reveal_sent > 20) {
          send_reveal(c, &k, j);
        }
      }
    }
    /* Tell the operator when this executor cannot be drawn any more. */
    static time_t last_check;
    if (now - last_check >= 30) {
      last_check = now;
      json_t *ex = NULL, *st = NULL;
      if (!quiet_call(c, "executor_get", json_pack("{s:s}", "address", addr), &ex) &&
          !quiet_call(c, "status", NULL, &st)) {
        uint64_t stake = 0, min = 0;
        core_parse_u64(json_string_value(json_object_get(ex, "stake")), &stake);
        core_parse_u64(json_string_value(json_object_get(json_object_get(st, "params"),
                                                         "min_executor_stake")), &min);
        if (!json_is_true(json_object_get(ex, "accepting")))
          logf_("WARNING: registered as not accepting work: no new tasks will be drawn to us");
        else if (stake < min)
          logf_("WARNING: bonded stake %llu is below the minimum %llu: no new tasks will be "
                "drawn to us; bond more with cohort executor register --stake N",
                (unsigned long long)stake, (unsigned long long)min);
      }
      json_decref(ex);
      json_decref(st);
    }
    /* Forget finished jobs whose task is no longer in our windows (settled,
     * expired, or we were replaced); the files stay for the record. */
    pthread_mutex_lock(&mu);
    for (int i = 0; i < MAX_JOBS && (lists[0] && lists[1]); i++) {
      if (jobs[i].state != 2) continue;
      int listed = 0;
      for (int k2 = 0; k2 < nseen; k2++) listed |= !strcmp(seen[k2], jobs[i].task_id);
      if (!listed) jobs[i].state = 0;
    }
    pthread_mutex_unlock(&mu);
    json_decref(lists[0]);
    json_decref(lists[1]);
  wait:
    pthread_mutex_lock(&mu);
    if (wake) force = 1; /* a claim is ready to commit */
    wake = 0;
    pthread_mutex_unlock(&mu);
    if (force) continue;
    if (!ws && time(NULL) >= ws_retry) {
      core_errbuf web = {{0}};
      json_t *f = json_pack("{s:s}", "executor", addr);
      if (rpc_ws_connect(&ws, c->node, 3000, &web) == 0 && rpc_ws_subscribe(ws, "task", f, &web) == 0) {
        logf_("following assignments over WebSocket (polling every %llu ms as fallback)",
              (unsigned long long)poll_ms);
      } else {
        rpc_ws_close(ws);
        ws = NULL;
        ws_retry = time(NULL) + 10;
        logf_("no WebSocket (%.120s); polling every %llu ms", web.msg, (unsigned long long)poll_ms);
      }
      json_decref(f);
    }
    if (ws) {
      json_t *ev = NULL;
      core_errbuf web = {{0}};
      /* short waits so a signal stops us promptly; an event polls at once */
      if (rpc_ws_next(ws, 500, &ev, NULL, 0, &web)) {
        logf_("WebSocket dropped (%s); polling", web.msg);
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
