/* cli/cli_market.c — `cohort program|executor|task|simulate`: the compute
 * market from the command line. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/bech32.h"
#include "core/hash.h"
#include "proto/market.h"
#include "core/hex.h"
#include "core/parse.h"
#include "proto/tx.h"
#include "rpc/rpc.h"

#define FILE_MAX (64u << 20)

/* Options as name/value pairs; flags have value "1". */
typedef struct {
  const char *name, *val;
} opt;

static int parse_opts(const char *cmd, int argc, char **argv, const char *const *with_value,
                      const char *const *flags, opt *o, int max, const char **pos) {
  int n = 0;
  *pos = NULL;
  for (int i = 0; i < argc; i++) {
    int known = 0;
    for (const char *const *f = flags; *f; f++)
      if (!strcmp(argv[i], *f)) {
        o[n++] = (opt){*f, "1"};
        known = 1;
      }
    for (const char *const *w = with_value; !known && *w; w++)
      if (!strcmp(argv[i], *w)) {
        if (i + 1 >= argc) {
          fprintf(stderr, "%s: %s needs a value\n", cmd, argv[i]);
          return -1;
        }
        o[n++] = (opt){*w, argv[++i]};
        known = 1;
      }
    if (!known && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
      fprintf(stderr, "%s: options:", cmd);
      for (const char *const *w = with_value; *w; w++) fprintf(stderr, " %s V", *w);
      for (const char *const *f = flags; *f; f++) fprintf(stderr, " %s", *f);
      fprintf(stderr, "\n  (amounts in base units; see docs/tasks.md)\n");
      return -1;
    }
    if (!known) {
      if (argv[i][0] != '-' && !*pos) {
        *pos = argv[i];
        continue;
      }
      fprintf(stderr, "%s: unknown option %s\n", cmd, argv[i]);
      return -1;
    }
    if (n >= max) return -1;
  }
  return n;
}

static const char *get(const opt *o, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(o[i].name, name)) return o[i].val;
  return NULL;
}

static int get_u64(const opt *o, int n, const char *name, uint64_t def, uint64_t *out,
                   const char *cmd) {
  const char *v = get(o, n, name);
  if (!v) {
    *out = def;
    return 0;
  }
  if (core_parse_u64(v, out)) {
    fprintf(stderr, "%s: %s \"%s\" must be a non-negative integer\n", cmd, name, v);
    return -1;
  }
  return 0;
}

static uint8_t *read_file(const char *path, size_t *len, const char *cmd) {
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
    fprintf(stderr, "%s: cannot read %s: %s\n", cmd, path,
            errno ? strerror(errno) : "not a regular file");
    return NULL;
  }
  if ((uint64_t)st.st_size > FILE_MAX) {
    fprintf(stderr, "%s: %s is larger than 64 MiB\n", cmd, path);
    return NULL;
  }
  FILE *f = fopen(path, "rb");
  uint8_t *b = malloc((size_t)st.st_size + 1);
  if (!f || !b || fread(b, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
    if (f) fclose(f);
    free(b);
    fprintf(stderr, "%s: cannot read %s\n", cmd, path);
    return NULL;
  }
  fclose(f);
  *len = (size_t)st.st_size;
  return b;
}

static int load_from(const cli_ctx *c, const opt *o, int n, core_key *k) {
  const char *from = get(o, n, "--from");
  return cli_load_key(c, from ? from : "dev", k);
}

static const char *hexs(const uint8_t *b, size_t n, char *out) {
  core_hex_encode(out, b, n);
  return out;
}

/* Upload bytes as a blob (once: an existing blob is reused). */
static int upload(const cli_ctx *c, const core_key *k, const uint8_t *data, size_t len,
                  int is_program, uint8_t hash[32], int quiet) {
  char hex[65];
  core_sha256(hash, data, len);
  json_t *r = NULL;
  json_t *p = json_pack("{s:s}", "hash", hexs(hash, 32, hex));
  /* blob_get answers "not found" for a new blob: ask quietly */
  core_errbuf eb;
  json_t *res = NULL;
  if (!rpc_client_call(c->node, "blob_get", p, c->timeout_ms, &res, NULL, &eb)) {
    json_decref(p);
    json_decref(res);
    if (!quiet) fprintf(stderr, "blob %s is already on chain\n", hex);
    return 0;
  }
  json_decref(p);
  Cohort__MsgUploadBlob m = COHORT__MSG_UPLOAD_BLOB__INIT;
  m.data = (ProtobufCBinaryData){len, (uint8_t *)data};
  m.is_program = is_program;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_UPLOAD_BLOB;
  b.upload_blob = &m;
  if (!quiet) fprintf(stderr, "uploading %zu bytes as blob %s...\n", len, hex);
  int rc = cli_send(c, k, &b, is_program ? market_kib(len) : 0, 1, &r);
  json_decref(r);
  return rc;
}

static int cmd_program_upload(const cli_ctx *c, int argc, char **argv) {
  static const char *const wv[] = {"--from", NULL}, *const fl[] = {"--data", NULL};
  opt o[8];
  const char *file;
  int n = parse_opts("cohort program upload", argc, argv, wv, fl, o, 8, &file);
  if (n < 0 || !file) {
    fprintf(stderr, "usage: cohort program upload FILE [--data] [--from KEY]\n");
    return 2;
  }
  size_t len;
  uint8_t *data = read_file(file, &len, "cohort program upload");
  if (!data) return 1;
  core_key k;
  if (load_from(c, o, n, &k)) {
    free(data);
    return 1;
  }
  uint8_t h[32];
  char hex[65];
  int rc = upload(c, &k, data, len, !get(o, n, "--data"), h, c->json);
  free(data);
  core_key_wipe(&k);
  if (rc) return rc;
  if (c->json) printf("{\"hash\": \"%s\", \"size\": %zu}\n", hexs(h, 32, hex), len);
  else printf("%s %s (%zu bytes)\n", get(o, n, "--data") ? "data" : "program", hexs(h, 32, hex), len);
  return 0;
}

static int cmd_executor(const cli_ctx *c, const char *sub, int argc, char **argv) {
  static const char *const wv[] = {"--from", "--stake", "--price", "--amount", "--capacity",
                                   "--price-per-task", NULL},
                           *const fl[] = {"--not-accepting", NULL};
  opt o[16];
  const char *pos;
  int n = parse_opts("cohort executor", argc, argv, wv, fl, o, 16, &pos);
  if (n < 0) return 2;
  if (!strcmp(sub, "list") || !strcmp(sub, "show")) {
    json_t *r;
    if (!strcmp(sub, "list")) {
      if (cli_call(c, "executor_list", NULL, &r)) return 1;
    } else {
      uint8_t id[20];
      char addr[CORE_ADDR_STR_MAX];
      if (cli_resolve_address(c, "cohort executor show", pos ? pos : (get(o, n, "--from") ? get(o, n, "--from") : "dev"), id, addr)) return 2;
      if (cli_call(c, "executor_get", json_pack("{s:s}", "address", addr), &r)) return 1;
    }
    cli_print_json(r);
    json_decref(r);
    return 0;
  }
  core_key k;
  if (load_from(c, o, n, &k)) return 1;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  Cohort__MsgRegisterExecutor reg = COHORT__MSG_REGISTER_EXECUTOR__INIT;
  Cohort__MsgUnbond ub = COHORT__MSG_UNBOND__INIT;
  int ret = 2;
  if (!strcmp(sub, "register")) {
    if (get_u64(o, n, "--stake", 0, &reg.add_stake, "cohort executor register") ||
        get_u64(o, n, "--price", 0, &reg.price_per_msteps, "cohort executor register") ||
        get_u64(o, n, "--price-per-task", 0, &reg.price_per_task, "cohort executor register"))
      goto out;
    reg.accepting = !get(o, n, "--not-accepting");
    /* Prices and capacity the command does not name keep their registered
     * values (a pause with --not-accepting must not reset the per-seat
     * price); on the first registration they are 0 and 2. */
    json_t *cur = NULL;
    {
      uint8_t me[20];
      char addr[CORE_ADDR_STR_MAX];
      core_account_id(me, k.pub);
      core_addr_encode(addr, me);
      json_t *p = json_pack("{s:s}", "address", addr);
      core_errbuf eb;
      if (rpc_client_call(c->node, "executor_get", p, c->timeout_ms, &cur, NULL, &eb)) cur = NULL;
      json_decref(p);
    }
    if (!get(o, n, "--price-per-task") && cur) {
      const char *ppt = json_string_value(json_object_get(cur, "price_per_task"));
      if (ppt) core_parse_u64(ppt, &reg.price_per_task);
    }
    if (!get(o, n, "--price") && cur) {
      const char *pp = json_string_value(json_object_get(cur, "price_per_msteps"));
      if (pp) core_parse_u64(pp, &reg.price_per_msteps);
    }
    uint64_t cap = 0;
    if (get(o, n, "--capacity")) {
      if (get_u64(o, n, "--capacity", 0, &cap, "cohort executor register") || cap == 0 || cap > 4096) {
        fprintf(stderr, "cohort executor register: --capacity is the number of seats you run at "
                "once, 1 or more\n");
        goto out;
      }
    } else if (!cur) { /* capacity 0 keeps the registered one; 2 on the first registration */
      cap = 2;
    }
    json_decref(cur);
    reg.capacity = (uint32_t)cap;
    b.msg_case = COHORT__TX_BODY__MSG_REGISTER_EXECUTOR;
    b.register_executor = &reg;
  } else if (!strcmp(sub, "unbond")) {
    ub.role = 1;
    if (get_u64(o, n, "--amount", 0, &ub.amount, "cohort executor unbond") || !ub.amount) {
      fprintf(stderr, "usage: cohort executor unbond --amount N [--from KEY]\n");
      goto out;
    }
    b.msg_case = COHORT__TX_BODY__MSG_UNBOND;
    b.unbond = &ub;
  } else {
    fprintf(stderr, "cohort executor: unknown subcommand \"%s\" (register, unbond, show, list, run)\n", sub);
    goto out;
  }
  json_t *r;
  ret = cli_send(c, &k, &b, 0, 1, &r);
  if (ret == 0) {
    if (c->json) cli_print_json(r);
    else printf("%s committed at height %lld\n", sub, (long long)json_integer_value(json_object_get(r, "height")));
  }
  json_decref(r);
out:
  core_key_wipe(&k);
  return ret;
}

/* --program FILE|HASH: the program hash and size, uploading a file if needed. */
static int resolve_program(const cli_ctx *c, const core_key *k, const char *prog, uint8_t h[32],
                           size_t *size, int upload_ok) {
  size_t hl;
  if (strlen(prog) == 64 && !core_hex_decode(h, 32, &hl, prog, 64) && access(prog, F_OK) != 0) {
    json_t *r;
    if (cli_call(c, "blob_get", json_pack("{s:s}", "hash", prog), &r)) return 1;
    *size = (size_t)json_integer_value(json_object_get(r, "size"));
    json_decref(r);
    return 0;
  }
  uint8_t *data = read_file(prog, size, "cohort");
  if (!data) return 1;
  int rc = upload_ok ? upload(c, k, data, *size, 1, h, c->json) : (core_sha256(h, data, *size), 0);
  free(data);
  return rc;
}

static int read_input(const opt *o, int n, uint8_t **in, size_t *len, const char *cmd) {
  const char *f = get(o, n, "--input"), *t = get(o, n, "--input-text");
  if (f && t) {
    fprintf(stderr, "%s: give --input FILE or --input-text TEXT, not both\n", cmd);
    return 1;
  }
  if (f) return (*in = read_file(f, len, cmd)) ? 0 : 1;
  t = t ? t : "";
  *len = strlen(t);
  *in = malloc(*len + 1);
  memcpy(*in, t, *len + 1);
  return 0;
}

static int write_output(const char *b64, const char *path) {
  uint8_t *out;
  size_t len;
  if (core_base64_decode_alloc(&out, &len, b64 ? b64 : "", FILE_MAX)) return 1;
  FILE *f = path ? fopen(path, "wb") : stdout;
  if (!f) {
    free(out);
    fprintf(stderr, "cohort: cannot write %s\n", path);
    return 1;
  }
  fwrite(out, 1, len, f);
  if (path) fclose(f);
  else fflush(stdout);
  free(out);
  return 0;
}

static int wait_task(const cli_ctx *c, const char *id, const char *out_path) {
  char last[200] = "";
  for (int i = 0;; i++) {
    json_t *t;
    if (cli_call(c, "task_get", json_pack("{s:s}", "task_id", id), &t)) return 1;
    char st[32];
    snprintf(st, sizeof st, "%s", json_string_value(json_object_get(t, "status")));
    json_t *mem = json_object_get(t, "members"), *m;
    size_t k, committed = 0, revealed = 0, active = 0;
    json_array_foreach(mem, k, m) {
      if (json_is_true(json_object_get(m, "replaced"))) continue;
      active++;
      committed += json_is_true(json_object_get(m, "committed"));
      revealed += json_is_true(json_object_get(m, "revealed"));
    }
    char now[200];
    snprintf(now, sizeof now, "%s: %zu/%zu committed, %zu/%zu revealed, attempt %lld", st,
             committed, active, revealed, active, (long long)json_integer_value(json_object_get(t, "attempt")));
    if (strcmp(now, last)) {
      fprintf(stderr, "  [height %lld] %s\n", (long long)json_integer_value(json_object_get(t, "height")), now);
      snprintf(last, sizeof last, "%s", now);
    }
    int done = !strcmp(st, "final") || !strcmp(st, "agreed") || !strcmp(st, "disputed") ||
               !strcmp(st, "expired");
    json_decref(t);
    if (done) {
      if (!strcmp(st, "disputed") || !strcmp(st, "expired")) {
        fprintf(stderr, "cohort: task %s is %s; see: cohort task get %s\n", id, st, id);
        return 4;
      }
      json_t *o;
      if (cli_call(c, "task_output", json_pack("{s:s}", "task_id", id), &o)) return 1;
      fprintf(stderr, "  result: %s (code %lld), %lld steps, %lld output bytes\n",
              json_string_value(json_object_get(o, "exit")),
              (long long)json_integer_value(json_object_get(o, "code")),
              (long long)json_integer_value(json_object_get(o, "steps")),
              (long long)json_integer_value(json_object_get(o, "size")));
      int rc = c->json ? (cli_print_json(o), 0)
                       : write_output(json_string_value(json_object_get(o, "output_base64")), out_path);
      json_decref(o);
      return rc;
    }
    usleep(300000);
  }
}

/* Send with --wait semantics; id is the task or job ID, which comes from
 * the sender and the nonce (proto/market.h), not from the tx bytes. */
static int send_for_id(const cli_ctx *c, const core_key *k, Cohort__TxBody *b, uint64_t vm_kib,
                       char id[65]) {
  json_t *r = NULL;
  int ret = cli_send(c, k, b, vm_kib, 1, &r);
  if (!ret) {
    uint8_t me[20], tid[32];
    core_account_id(me, k->pub);
    if (b->msg_case == COHORT__TX_BODY__MSG_SUBMIT_JOB) market_job_id(tid, me, b->nonce);
    else market_task_id(tid, me, b->nonce);
    core_hex_encode(id, tid, 32);
  }
  json_decref(r);
  return ret;
}

static int cmd_task(const cli_ctx *c, const char *sub, int argc, char **argv) {
  static const char *const wv[] = {"--from", "--program", "--input", "--input-text", "--reward",
                                   "--committee", "--max-steps", "--mem", "--output", "--owner",
                                   "--executor", "--status", "--commit-blocks", "--reveal-blocks",
                                   "--max-output", NULL},
                           *const fl[] = {"--wait", NULL};
  opt o[32];
  const char *pos;
  int n = parse_opts("cohort task", argc, argv, wv, fl, o, 32, &pos);
  if (n < 0) return 2;
  if (!strcmp(sub, "get") || !strcmp(sub, "output")) {
    if (!pos || strlen(pos) != 64 || strspn(pos, "0123456789abcdefABCDEF") != 64) {
      if (pos) fprintf(stderr, "cohort task %s: TASK_ID must be 64 hex digits, got \"%s\"\n", sub, pos);
      fprintf(stderr, "usage: cohort task %s TASK_ID%s\n", sub, !strcmp(sub, "output") ? " [--output FILE]" : "");
      return 2;
    }
    json_t *r;
    if (cli_call(c, !strcmp(sub, "get") ? "task_get" : "task_output", json_pack("{s:s}", "task_id", pos), &r)) return 1;
    int rc = 0;
    if (!strcmp(sub, "output") && !c->json)
      rc = write_output(json_string_value(json_object_get(r, "output_base64")), get(o, n, "--output"));
    else
      cli_print_json(r);
    json_decref(r);
    return rc;
  }
  if (!strcmp(sub, "list")) {
    json_t *p = json_object();
    uint8_t id[20];
    char addr[CORE_ADDR_STR_MAX];
    if (get(o, n, "--owner")) {
      if (cli_resolve_address(c, "cohort task list --owner", get(o, n, "--owner"), id, addr)) return 2;
      json_object_set_new(p, "owner", json_string(addr));
    }
    if (get(o, n, "--executor")) {
      if (cli_resolve_address(c, "cohort task list --executor", get(o, n, "--executor"), id, addr)) return 2;
      json_object_set_new(p, "executor", json_string(addr));
    }
    if (get(o, n, "--status")) json_object_set_new(p, "status", json_string(get(o, n, "--status")));
    json_t *r;
    if (cli_call(c, "task_list", p, &r)) return 1;
    if (c->json) cli_print_json(r);
    else {
      size_t i;
      json_t *t;
      json_array_foreach(json_object_get(r, "tasks"), i, t)
        printf("%s  %-10s  k=%lld  reward %s  submitted at %lld\n",
               json_string_value(json_object_get(t, "task_id")),
               json_string_value(json_object_get(t, "status")),
               (long long)json_integer_value(json_object_get(t, "committee")),
               json_string_value(json_object_get(t, "reward")),
               (long long)json_integer_value(json_object_get(t, "submitted_height")));
    }
    json_decref(r);
    return 0;
  }
  if (strcmp(sub, "submit")) {
    fprintf(stderr, "cohort task: unknown subcommand \"%s\" (submit, get, output, list)\n", sub);
    return 2;
  }
  const char *prog = get(o, n, "--program");
  uint64_t reward, k, steps, mem, cb, rb, mo;
  if (!prog || !get(o, n, "--reward")) {
    fprintf(stderr, "usage: cohort task submit --program FILE|HASH (--input FILE | --input-text T)\n"
                    "         --reward N [--committee K] [--max-steps N] [--mem MiB] [--from KEY]\n"
                    "         [--max-output BYTES] [--commit-blocks N] [--reveal-blocks N]\n"
                    "         [--wait] [--output FILE]\n");
    return 2;
  }
  if (get_u64(o, n, "--reward", 0, &reward, "cohort task submit") ||
      get_u64(o, n, "--committee", 3, &k, "cohort task submit") ||
      get_u64(o, n, "--max-steps", 100000000, &steps, "cohort task submit") ||
      get_u64(o, n, "--mem", 64, &mem, "cohort task submit") ||
      get_u64(o, n, "--commit-blocks", 0, &cb, "cohort task submit") ||
      get_u64(o, n, "--reveal-blocks", 0, &rb, "cohort task submit") ||
      get_u64(o, n, "--max-output", 65536, &mo, "cohort task submit"))
    return 2;
  if (mo == 0 || mo > UINT32_MAX) {
    fprintf(stderr, "cohort task submit: --max-output is the output size cap in bytes (>= 1)\n");
    return 2;
  }
  core_key key;
  if (load_from(c, o, n, &key)) return 1;
  uint8_t ph[32], *in = NULL;
  size_t in_len, prog_len = 0;
  int ret = 1;
  if (resolve_program(c, &key, prog, ph, &prog_len, 1) ||
      read_input(o, n, &in, &in_len, "cohort task submit"))
    goto out;
  Cohort__MsgSubmitTask m = COHORT__MSG_SUBMIT_TASK__INIT;
  m.program = (ProtobufCBinaryData){32, ph};
  uint8_t ih[32];
  if (in_len > 65536) { /* large inputs go as a data blob */
    if (upload(c, &key, in, in_len, 0, ih, c->json)) goto out;
    m.input_blob = (ProtobufCBinaryData){32, ih};
  } else {
    m.input = (ProtobufCBinaryData){in_len, in};
  }
  m.max_steps = steps;
  m.mem_mib = (uint32_t)mem;
  m.committee = (uint32_t)k;
  m.reward = reward;
  m.commit_blocks = (uint32_t)cb;
  m.reveal_blocks = (uint32_t)rb;
  m.max_output_bytes = (uint32_t)mo;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_SUBMIT_TASK;
  b.submit_task = &m;
  char id[65];
  if ((ret = send_for_id(c, &key, &b, market_kib((uint64_t)prog_len + in_len), id))) goto out;
  fprintf(stderr, "task %s submitted (committee %llu, reward %llu CRD base units escrowed)\n", id,
          (unsigned long long)k, (unsigned long long)reward);
  if (get(o, n, "--wait")) ret = wait_task(c, id, get(o, n, "--output"));
  else printf("%s\n", id);
out:
  free(in);
  core_key_wipe(&key);
  return ret;
}

static int cmd_simulate(const cli_ctx *c, int argc, char **argv) {
  static const char *const wv[] = {"--program", "--input", "--input-text", "--max-steps",
                                   "--mem", "--committee", NULL},
                           *const fl[] = {NULL};
  opt o[16];
  const char *pos;
  int n = parse_opts("cohort simulate", argc, argv, wv, fl, o, 16, &pos);
  const char *prog = get(o, n, "--program");
  if (n < 0 || !prog) {
    fprintf(stderr, "usage: cohort simulate --program FILE|HASH (--input FILE | --input-text T)\n"
                    "         [--max-steps N] [--mem MiB] [--committee K]\n");
    return 2;
  }
  uint64_t steps, mem, k;
  if (get_u64(o, n, "--max-steps", 100000000, &steps, "cohort simulate") ||
      get_u64(o, n, "--mem", 64, &mem, "cohort simulate") ||
      get_u64(o, n, "--committee", 3, &k, "cohort simulate"))
    return 2;
  uint8_t *in;
  size_t in_len;
  if (read_input(o, n, &in, &in_len, "cohort simulate")) return 1;
  json_t *p = json_pack("{s:I, s:I, s:I}", "max_steps", (json_int_t)steps, "mem_mib", (json_int_t)mem,
                        "committee", (json_int_t)k);
  char *ib = core_base64_encode(in, in_len);
  json_object_set_new(p, "input_base64", json_string(ib));
  free(ib);
  free(in);
  size_t hl;
  uint8_t h[32];
  if (strlen(prog) == 64 && !core_hex_decode(h, 32, &hl, prog, 64) && access(prog, F_OK) != 0) {
    json_object_set_new(p, "program", json_string(prog));
  } else {
    size_t len;
    uint8_t *data = read_file(prog, &len, "cohort simulate");
    if (!data) {
      json_decref(p);
      return 1;
    }
    char *pb = core_base64_encode(data, len);
    json_object_set_new(p, "program_base64", json_string(pb));
    free(pb);
    free(data);
  }
  json_t *r;
  if (cli_call(c, "compute_simulate", p, &r)) return 1;
  if (c->json) {
    cli_print_json(r);
  } else {
    const char *trap = json_string_value(json_object_get(r, "trap"));
    fprintf(stderr, "%s (%s%s%lld) after %lld steps in %.3f s; %lld output bytes\n",
            json_string_value(json_object_get(r, "status")), trap ? trap : "code",
            trap ? ", code " : " ", (long long)json_integer_value(json_object_get(r, "code")),
            (long long)json_integer_value(json_object_get(r, "steps")),
            json_real_value(json_object_get(r, "seconds")),
            (long long)json_integer_value(json_object_get(r, "output_size")));
    json_t *need = json_object_get(r, "reward_needed");
    if (!strcmp(json_string_value(json_object_get(r, "status")), "out_of_steps"))
      fprintf(stderr, "it did not finish within --max-steps %llu: raise --max-steps\n",
              (unsigned long long)steps);
    else if (json_is_string(need))
      fprintf(stderr, "to run it on chain: --max-steps %lld --committee %lld --reward %s "
              "(CRD base units, at current prices)\n",
              (long long)json_integer_value(json_object_get(r, "suggested_max_steps")), (long long)k,
              json_string_value(need));
    else
      fprintf(stderr, "fewer than %lld executors accept work right now\n", (long long)k);
    write_output(json_string_value(json_object_get(r, "output_base64")), NULL);
  }
  json_decref(r);
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_job(const cli_ctx *c, const char *sub, int argc, char **argv) {
  static const char *const wv[] = {"--from", "--program", "--chunks", "--reward-per-chunk",
                                   "--committee", "--max-steps", "--mem", "--out", "--max-output",
                                   NULL},
                           *const fl[] = {"--wait", NULL};
  opt o[16];
  const char *pos;
  int n = parse_opts("cohort job", argc, argv, wv, fl, o, 16, &pos);
  if (n < 0) return 2;
  if (!strcmp(sub, "get")) {
    if (!pos) {
      fprintf(stderr, "usage: cohort job get JOB_ID\n");
      return 2;
    }
    json_t *r;
    if (cli_call(c, "job_get", json_pack("{s:s}", "job_id", pos), &r)) return 1;
    cli_print_json(r);
    json_decref(r);
    return 0;
  }
  const char *prog = get(o, n, "--program"), *dir = get(o, n, "--chunks");
  uint64_t reward, k, steps, mem, mo;
  if (strcmp(sub, "submit") || !prog || !dir || !get(o, n, "--reward-per-chunk")) {
    fprintf(stderr, "usage: cohort job submit --program FILE|HASH --chunks DIR --reward-per-chunk N\n"
                    "         [--committee K] [--max-steps N] [--mem MiB] [--max-output BYTES]\n"
                    "         [--from KEY] [--wait] [--out DIR]\n"
                    "  each regular file in DIR (sorted by name) is one chunk's input\n");
    return 2;
  }
  if (get_u64(o, n, "--reward-per-chunk", 0, &reward, "cohort job submit") ||
      get_u64(o, n, "--committee", 3, &k, "cohort job submit") ||
      get_u64(o, n, "--max-steps", 100000000, &steps, "cohort job submit") ||
      get_u64(o, n, "--mem", 64, &mem, "cohort job submit") ||
      get_u64(o, n, "--max-output", 65536, &mo, "cohort job submit"))
    return 2;
  if (mo == 0 || mo > UINT32_MAX) {
    fprintf(stderr, "cohort job submit: --max-output is each chunk's output cap in bytes (>= 1)\n");
    return 2;
  }
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "cohort job submit: cannot open directory %s\n", dir);
    return 1;
  }
  char *names[TX_JOB_MAX_CHUNKS + 1];
  size_t nn = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%.4000s/%.190s", dir, e->d_name);
    if (stat(p, &st) || !S_ISREG(st.st_mode)) continue;
    if (nn == TX_JOB_MAX_CHUNKS) {
      fprintf(stderr, "cohort job submit: more than %d chunk files in %s\n", TX_JOB_MAX_CHUNKS, dir);
      closedir(d);
      for (size_t i = 0; i < nn; i++) free(names[i]);
      return 2;
    }
    names[nn++] = strdup(e->d_name);
  }
  closedir(d);
  if (!nn) {
    fprintf(stderr, "cohort job submit: no chunk files in %s\n", dir);
    return 2;
  }
  qsort(names, nn, sizeof names[0], cmp_str);
  core_key key;
  int ret = 1;
  uint8_t *data[TX_JOB_MAX_CHUNKS];
  ProtobufCBinaryData in[TX_JOB_MAX_CHUNKS];
  size_t loaded = 0;
  if (load_from(c, o, n, &key)) goto out_names;
  uint8_t ph[32];
  size_t prog_len = 0;
  uint64_t kib = 0;
  if (resolve_program(c, &key, prog, ph, &prog_len, 1)) goto out;
  for (; loaded < nn; loaded++) {
    char p[4200];
    snprintf(p, sizeof p, "%.4000s/%.190s", dir, names[loaded]);
    size_t len;
    if (!(data[loaded] = read_file(p, &len, "cohort job submit"))) goto out;
    in[loaded] = (ProtobufCBinaryData){len, data[loaded]};
    kib += market_kib((uint64_t)prog_len + len);
  }
  Cohort__MsgSubmitJob m = COHORT__MSG_SUBMIT_JOB__INIT;
  m.program = (ProtobufCBinaryData){32, ph};
  m.n_inputs = nn;
  m.inputs = in;
  m.max_steps = steps;
  m.mem_mib = (uint32_t)mem;
  m.committee = (uint32_t)k;
  m.reward_per_chunk = reward;
  m.max_output_bytes = (uint32_t)mo;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.msg_case = COHORT__TX_BODY__MSG_SUBMIT_JOB;
  b.submit_job = &m;
  char id[65];
  if ((ret = send_for_id(c, &key, &b, kib, id))) goto out;
  fprintf(stderr, "job %s submitted: %zu chunks, committee %llu each, %llu CRD base units "
          "escrowed per chunk\n",
          id, nn, (unsigned long long)k, (unsigned long long)reward);
  if (!get(o, n, "--wait")) {
    printf("%s\n", id);
    ret = 0;
    goto out;
  }
  int last = -1;
  for (;;) {
    json_t *j;
    if (cli_call(c, "job_get", json_pack("{s:s}", "job_id", id), &j)) goto out;
    int done = (int)json_integer_value(json_object_get(j, "done")),
        failed = (int)json_integer_value(json_object_get(j, "failed"));
    if (done + failed != last) {
      int w = 30, fill = (int)((done + failed) * w / (int)nn);
      fprintf(stderr, "  [%.*s%.*s] %d/%zu chunks done%s%.0d%s\n", fill,
              "##############################", w - fill, "..............................", done,
              nn, failed ? ", failed " : "", failed, "");
      last = done + failed;
    }
    char st[32];
    snprintf(st, sizeof st, "%s", json_string_value(json_object_get(j, "status")));
    if (strcmp(st, "running")) {
      const char *root = json_string_value(json_object_get(j, "result_root"));
      fprintf(stderr, "job %s: %s%s%s\n", st, root ? "result root " : "", root ? root : "",
              failed ? " (see: cohort job get ID)" : "");
      const char *outdir = get(o, n, "--out");
      size_t i;
      json_t *t;
      json_array_foreach(json_object_get(j, "tasks"), i, t) {
        json_t *ov;
        if (!json_object_get(t, "output_hash") ||
            cli_call(c, "task_output", json_pack("{s:s}", "task_id", json_string_value(json_object_get(t, "task_id"))), &ov))
          continue;
        if (outdir) {
          char p[4400];
          mkdir(outdir, 0755);
          snprintf(p, sizeof p, "%.4000s/%.190s.out", outdir, names[i]);
          write_output(json_string_value(json_object_get(ov, "output_base64")), p);
        } else {
          printf("== %s\n", names[i]);
          fflush(stdout);
          write_output(json_string_value(json_object_get(ov, "output_base64")), NULL);
        }
        json_decref(ov);
      }
      ret = strcmp(st, "done") ? 4 : 0;
      json_decref(j);
      break;
    }
    json_decref(j);
    usleep(300000);
  }
out:
  for (size_t i = 0; i < loaded; i++) free(data[i]);
  core_key_wipe(&key);
out_names:
  for (size_t i = 0; i < nn; i++) free(names[i]);
  return ret;
}

int cli_cmd_market(const cli_ctx *c, const char *cmd, int argc, char **argv) {
  if (!strcmp(cmd, "job")) {
    if (argc < 1) {
      fprintf(stderr, "usage: cohort job submit|get ...\n");
      return 2;
    }
    return cmd_job(c, argv[0], argc - 1, argv + 1);
  }
  if (!strcmp(cmd, "simulate")) return cmd_simulate(c, argc, argv);
  if (argc < 1) {
    fprintf(stderr, "usage: cohort %s SUBCOMMAND ... (see cohort --help)\n", cmd);
    return 2;
  }
  if (!strcmp(cmd, "program")) {
    if (strcmp(argv[0], "upload")) {
      fprintf(stderr, "cohort program: unknown subcommand \"%s\" (upload)\n", argv[0]);
      return 2;
    }
    return cmd_program_upload(c, argc - 1, argv + 1);
  }
  if (!strcmp(cmd, "executor")) {
    if (!strcmp(argv[0], "run")) return cli_cmd_executor_run(c, argc - 1, argv + 1);
    return cmd_executor(c, argv[0], argc - 1, argv + 1);
  }
  return cmd_task(c, argv[0], argc - 1, argv + 1);
}
