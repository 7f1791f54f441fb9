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

/* Parse argv against the flags that take a value (with_value) and those
 * that do not (flags); one positional argument goes to *pos. path names
 * the command in messages ("task submit"). Returns the options found, or
 * -1 after printing what is wrong. */
static int parse_opts(const char *path, int argc, char **argv, const char *const *with_value,
                      const char *const *flags, opt *o, int max, const char **pos) {
  int n = 0;
  *pos = NULL;
  for (int i = 0; i < argc; i++) {
    int known = 0;
    if (n >= max) {
      cli_usage_error(path, "too many options");
      return -1;
    }
    for (const char *const *f = flags; *f; f++)
      if (!strcmp(argv[i], *f)) {
        o[n++] = (opt){*f, "1"};
        known = 1;
      }
    for (const char *const *w = with_value; !known && *w; w++)
      if (!strcmp(argv[i], *w)) {
        if (i + 1 >= argc) {
          cli_usage_error(path, "%s needs a value", argv[i]);
          return -1;
        }
        o[n++] = (opt){*w, argv[++i]};
        known = 1;
      }
    if (!known) {
      if (argv[i][0] != '-' && !*pos) {
        *pos = argv[i];
        continue;
      }
      if (argv[i][0] != '-') cli_usage_error(path, "unexpected argument \"%s\"", argv[i]);
      else cli_usage_error(path, "unknown option %s", argv[i]);
      return -1;
    }
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
  int n = parse_opts("program upload", argc, argv, wv, fl, o, 8, &file);
  if (n < 0) return 2;
  if (!file) return cli_usage_error("program upload", "which FILE?");
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

static void print_executor(json_t *e) {
  char a[CLI_TOKENS_MAX], b[CLI_TOKENS_MAX];
  long long jailed = (long long)json_integer_value(json_object_get(e, "jailed_until"));
  printf("address      %s\n", json_string_value(json_object_get(e, "address")));
  printf("stake        %s\n", cli_fmt_tokens(a, json_string_value(json_object_get(e, "stake")), "STK"));
  printf("  locked     %s by the seats it holds\n",
         cli_fmt_tokens(a, json_string_value(json_object_get(e, "seat_lock")), "STK"));
  printf("unbonding    %s\n",
         cli_fmt_tokens(a, json_string_value(json_object_get(e, "unbonding")), "STK"));
  printf("draw weight  %s (own stake + delegations it may count)\n",
         cli_fmt_tokens(a, json_string_value(json_object_get(e, "draw_weight")), "STK"));
  printf("delegated    %s by others (%s unbonding); commission %lld bps",
         cli_fmt_tokens(a, json_string_value(json_object_get(e, "delegated")), "STK"),
         cli_fmt_tokens(b, json_string_value(json_object_get(e, "delegated_unbonding")), "STK"),
         (long long)json_integer_value(json_object_get(e, "commission_bps")));
  if (json_object_get(e, "commission_at"))
    printf(", %lld from height %lld",
           (long long)json_integer_value(json_object_get(e, "commission_next")),
           (long long)json_integer_value(json_object_get(e, "commission_at")));
  printf("\n");
  if (json_is_string(json_object_get(e, "delegated_waiting")) &&
      strcmp(json_string_value(json_object_get(e, "delegated_waiting")), "0"))
    printf("  waiting    %s delegated while it held seats: counted once it holds none\n",
           cli_fmt_tokens(b, json_string_value(json_object_get(e, "delegated_waiting")), "STK"));
  printf("slashed      %s (in all, with its delegators')\n",
         cli_fmt_tokens(a, json_string_value(json_object_get(e, "slashed_total")), "STK"));
  printf("price        %s per million steps\n             + %s per seat\n",
         cli_fmt_tokens(a, json_string_value(json_object_get(e, "price_per_msteps")), "CRD"),
         cli_fmt_tokens(b, json_string_value(json_object_get(e, "price_per_task")), "CRD"));
  printf("capacity     %lld seats at once; %lld held now, %lld tasks done\n",
         (long long)json_integer_value(json_object_get(e, "capacity")),
         (long long)json_integer_value(json_object_get(e, "active_tasks")),
         (long long)json_integer_value(json_object_get(e, "tasks_done")));
  printf("accepting    %s\n", json_is_true(json_object_get(e, "accepting"))
                                  ? "yes: new tasks may draw it"
                                  : "no: registered as not accepting work");
  if (jailed) printf("jailed       until height %lld (no new seats until then)\n", jailed);
  else printf("jailed       no\n");
}

static void print_executor_list(json_t *r) {
  size_t i;
  json_t *e;
  json_t *arr = json_object_get(r, "executors");
  if (!json_array_size(arr)) {
    printf("no executors registered (as of height %lld); register one with: cohort executor "
           "register --stake N --price P --from KEY\n",
           (long long)json_integer_value(json_object_get(r, "height")));
    return;
  }
  printf("%-44s %22s %12s %9s %5s %6s %s\n", "executor", "stake (STK)", "CRD/Msteps", "CRD/seat",
         "seats", "done", "state");
  json_array_foreach(arr, i, e) {
    char stk[32], pm[32], pt[32];
    cli_fmt_amount(stk, json_string_value(json_object_get(e, "stake")));
    cli_fmt_amount(pm, json_string_value(json_object_get(e, "price_per_msteps")));
    cli_fmt_amount(pt, json_string_value(json_object_get(e, "price_per_task")));
    char seats[32];
    snprintf(seats, sizeof seats, "%lld/%lld",
             (long long)json_integer_value(json_object_get(e, "active_tasks")),
             (long long)json_integer_value(json_object_get(e, "capacity")));
    printf("%-44s %22s %12s %9s %5s %6lld %s\n", json_string_value(json_object_get(e, "address")),
           stk, pm, pt, seats, (long long)json_integer_value(json_object_get(e, "tasks_done")),
           json_integer_value(json_object_get(e, "jailed_until"))     ? "jailed"
           : !json_is_true(json_object_get(e, "accepting"))            ? "not accepting"
                                                                       : "accepting");
  }
  printf("%zu executor%s, as of height %lld (seats: held now / capacity; prices in tokens, "
         "--json for base units)\n", json_array_size(arr), json_array_size(arr) == 1 ? "" : "s",
         (long long)json_integer_value(json_object_get(r, "height")));
}

static int cmd_executor(const cli_ctx *c, const char *sub, int argc, char **argv) {
  static const char *const reg_wv[] = {"--from", "--stake", "--price", "--capacity",
                                       "--price-per-task", "--commission", NULL},
                           *const reg_fl[] = {"--not-accepting", NULL},
                           *const from_wv[] = {"--from", NULL},
                           *const unbond_wv[] = {"--from", "--amount", NULL},
                           *const none[] = {NULL};
  int is_reg = !strcmp(sub, "register"), is_unbond = !strcmp(sub, "unbond"),
      is_show = !strcmp(sub, "show"), is_list = !strcmp(sub, "list");
  if (!is_reg && !is_unbond && !is_show && !is_list) {
    fprintf(stderr, "cohort executor: unknown subcommand \"%s\"\n", sub);
    cli_help("executor", stderr);
    return 2;
  }
  char path[32];
  snprintf(path, sizeof path, "executor %s", sub);
  opt o[16];
  const char *pos;
  int n = parse_opts(path, argc, argv, is_reg ? reg_wv : is_unbond ? unbond_wv : is_show ? from_wv : none,
                     is_reg ? reg_fl : none, o, 16, &pos);
  if (n < 0) return 2;
  if (pos && !is_show) return cli_usage_error(path, "unexpected argument \"%s\"", pos);
  if (is_list || is_show) {
    json_t *r;
    if (is_list) {
      if (cli_call(c, "executor_list", NULL, &r)) return 1;
    } else {
      uint8_t id[20];
      char addr[CORE_ADDR_STR_MAX];
      const char *who = pos ? pos : get(o, n, "--from") ? get(o, n, "--from") : "dev";
      if (cli_resolve_address(c, "cohort executor show", who, id, addr)) return 2;
      if (cli_call(c, "executor_get", json_pack("{s:s}", "address", addr), &r)) {
        fprintf(stderr, "  (register it with: cohort executor register --stake N --price P "
                "--from KEY)\n");
        return 1;
      }
    }
    if (c->json) cli_print_json(r);
    else if (is_list) print_executor_list(r);
    else print_executor(r);
    json_decref(r);
    return 0;
  }
  core_key k;
  if (load_from(c, o, n, &k)) return 1;
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  Cohort__MsgRegisterExecutor reg = COHORT__MSG_REGISTER_EXECUTOR__INIT;
  Cohort__MsgUnbond ub = COHORT__MSG_UNBOND__INIT;
  int ret = 2;
  uint8_t me[20];
  char addr[CORE_ADDR_STR_MAX];
  core_account_id(me, k.pub);
  core_addr_encode(addr, me);
  if (is_reg) {
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
      json_t *p = json_pack("{s:s}", "address", addr);
      core_errbuf eb;
      if (rpc_client_call(c->node, "executor_get", p, c->timeout_ms, &cur, NULL, &eb)) cur = NULL;
      json_decref(p);
    }
    if (!get(o, n, "--price-per-task") && cur) {
      const char *ppt = json_string_value(json_object_get(cur, "price_per_task"));
      if (ppt) core_parse_u64(ppt, &reg.price_per_task);
    }
    uint64_t comm = 0; /* the one in force, or the raise already waiting */
    if (get(o, n, "--commission")) {
      if (get_u64(o, n, "--commission", 0, &comm, "cohort executor register") || comm > 10000) {
        fprintf(stderr, "cohort executor register: --commission is in bps of the delegators' "
                "part of your pay, 0 to 10000\n");
        json_decref(cur);
        goto out;
      }
    } else if (cur) {
      json_t *cn = json_object_get(cur, "commission_next");
      comm = (uint64_t)json_integer_value(cn ? cn : json_object_get(cur, "commission_bps"));
    }
    reg.commission_bps = (uint32_t)comm;
    if (!get(o, n, "--price") && cur) {
      const char *pp = json_string_value(json_object_get(cur, "price_per_msteps"));
      if (pp) core_parse_u64(pp, &reg.price_per_msteps);
    }
    uint64_t cap = 0;
    if (get(o, n, "--capacity")) {
      if (get_u64(o, n, "--capacity", 0, &cap, "cohort executor register") || cap == 0 || cap > 4096) {
        fprintf(stderr, "cohort executor register: --capacity is the number of seats you run at "
                "once, 1 to 4096\n");
        json_decref(cur);
        goto out;
      }
    } else if (!cur) { /* capacity 0 keeps the registered one; 2 on the first registration */
      cap = 2;
    }
    json_decref(cur);
    reg.capacity = (uint32_t)cap;
    b.msg_case = COHORT__TX_BODY__MSG_REGISTER_EXECUTOR;
    b.register_executor = &reg;
  } else {
    ub.role = 1;
    if (!get(o, n, "--amount")) {
      ret = cli_usage_error("executor unbond", "missing --amount N");
      goto out;
    }
    if (get_u64(o, n, "--amount", 0, &ub.amount, "cohort executor unbond") || !ub.amount) {
      ret = cli_usage_error("executor unbond", "--amount must be a positive integer of STK base units");
      goto out;
    }
    b.msg_case = COHORT__TX_BODY__MSG_UNBOND;
    b.unbond = &ub;
  }
  json_t *r;
  ret = cli_send(c, &k, &b, 0, 1, &r);
  if (ret == 0) {
    long long h = (long long)json_integer_value(json_object_get(r, "height"));
    char x[CLI_TOKENS_MAX], y[CLI_TOKENS_MAX], z[CLI_TOKENS_MAX];
    if (c->json) cli_print_json(r);
    else if (is_reg) {
      char cap[16];
      snprintf(cap, sizeof cap, "%u", reg.capacity);
      printf("executor %s registered at height %lld: stake +%s; %s; capacity %s\n"
             "  price %s per million steps + %s per seat\n", addr, h,
             cli_fmt_tokens_u64(x, reg.add_stake, "STK"),
             reg.accepting ? "accepting work" : "not accepting work",
             reg.capacity ? cap : "as before",
             cli_fmt_tokens_u64(y, reg.price_per_msteps, "CRD"),
             cli_fmt_tokens_u64(z, reg.price_per_task, "CRD"));
    }
    else
      printf("executor %s: unbonding %s, committed at height %lld\n", addr,
             cli_fmt_tokens_u64(x, ub.amount, "STK"), h);
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

/* Say what a non-zero exit code of a program that exited means: the
 * program's own return value, not a failure of the task. */
static void explain_code(FILE *f, const char *status, long long code) {
  if (status && !strcmp(status, "exited") && code)
    fprintf(f, "  (exit code %lld is the program's own return value, not a failure of the task;\n"
            "   wc.elf, for one, returns its word count mod 128: see docs/vm.md §7)\n", code);
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
    long long attempt = (long long)json_integer_value(json_object_get(t, "attempt")),
              kk = (long long)json_integer_value(json_object_get(t, "committee"));
    json_t *g = json_object_get(t, "game");
    const char *tm = json_string_value(json_object_get(g, "to_move")),
               *ph = json_string_value(json_object_get(g, "phase"));
    if (!tm) tm = "defender";
    if (!ph) ph = "move";
    if (!strcmp(st, "disputed") && g)
      snprintf(now, sizeof now, "disputed: verification game %lld, round %lld, steps %lld..%lld, "
               "the %s (seat %lld) to %s by height %lld",
               (long long)json_integer_value(json_object_get(t, "games")) + 1,
               (long long)json_integer_value(json_object_get(g, "round")),
               (long long)json_integer_value(json_object_get(g, "lo")),
               (long long)json_integer_value(json_object_get(g, "hi")),
               tm, (long long)json_integer_value(json_object_get(g, strcmp(tm, "defender")
                                                                          ? "challenger"
                                                                          : "defender")),
               ph,
               (long long)json_integer_value(json_object_get(g, "deadline")));
    else if (!strcmp(st, "drawing") || !active)
      snprintf(now, sizeof now, "%s: waiting for %lld executor%s to be drawn (attempt %lld)", st, kk,
               kk == 1 ? "" : "s", attempt);
    else
      snprintf(now, sizeof now, "%s: %zu/%zu committed, %zu/%zu revealed, attempt %lld", st,
               committed, active, revealed, active, attempt);
    if (strcmp(now, last)) {
      fprintf(stderr, "  [height %lld] %s\n", (long long)json_integer_value(json_object_get(t, "height")), now);
      snprintf(last, sizeof last, "%s", now);
    }
    /* disputed: the verification game runs; the task ends agreed (the
     * surviving claim), redrawn or expired */
    int done = !strcmp(st, "final") || !strcmp(st, "agreed") || !strcmp(st, "expired");
    json_decref(t);
    if (done) {
      if (!strcmp(st, "expired")) {
        fprintf(stderr, "cohort: task %s is %s; see: cohort task get %s\n", id, st, id);
        return 4;
      }
      json_t *o;
      if (cli_call(c, "task_output", json_pack("{s:s}", "task_id", id), &o)) return 1;
      const char *ex = json_string_value(json_object_get(o, "exit"));
      long long code = (long long)json_integer_value(json_object_get(o, "code"));
      fprintf(stderr, "  result: %s (code %lld), %lld steps, %lld output bytes%s\n", ex ? ex : "?",
              code, (long long)json_integer_value(json_object_get(o, "steps")),
              (long long)json_integer_value(json_object_get(o, "size")),
              c->json || out_path ? "" : "; the output follows");
      explain_code(stderr, ex, code);
      int rc = c->json ? (cli_print_json(o), 0)
                       : write_output(json_string_value(json_object_get(o, "output_base64")), out_path);
      json_decref(o);
      return rc;
    }
    usleep(300000);
  }
}

static const char *js(json_t *o, const char *k) {
  const char *v = json_string_value(json_object_get(o, k));
  return v ? v : "";
}
static long long ji(json_t *o, const char *k) {
  return (long long)json_integer_value(json_object_get(o, k));
}

static void print_claim(const char *label, json_t *cl) {
  if (!json_is_object(cl)) return;
  printf("%s%s, code %lld, %lld steps, output %.16s.., final state %.16s..\n", label,
         js(cl, "status"), ji(cl, "code"), ji(cl, "steps"), js(cl, "output_hash"),
         js(cl, "final_state"));
}

static void print_task(json_t *t) {
  char a[CLI_TOKENS_MAX];
  printf("task         %s\n", js(t, "task_id"));
  printf("status       %s (as of height %lld)\n", js(t, "status"), ji(t, "height"));
  printf("owner        %s\n", js(t, "owner"));
  printf("program      %s\n", js(t, "program"));
  printf("input        %s%s\n", js(t, "input_hash"),
         json_object_get(t, "input_blob") ? " (a data blob)" : "");
  printf("limits       %lld steps, %lld MiB, %lld output bytes\n", ji(t, "max_steps"),
         ji(t, "mem_mib"), ji(t, "max_output_bytes"));
  printf("committee    %lld (quorum %lld), attempt %lld\n", ji(t, "committee"), ji(t, "quorum"),
         ji(t, "attempt"));
  printf("reward       %s escrowed\n", cli_fmt_tokens(a, js(t, "reward"), "CRD"));
  printf("paid         %s\n", cli_fmt_tokens(a, js(t, "paid"), "CRD"));
  printf("refunded     %s (unspent reward and fee allowance)\n",
         cli_fmt_tokens(a, js(t, "refunded"), "CRD"));
  /* a settled task's deadline is when its input and output are pruned */
  const char *st = js(t, "status");
  int settled = !strcmp(st, "final") || !strcmp(st, "expired");
  printf("heights      submitted %lld, drawn %lld, %s %lld (commit %lld blocks, reveal %lld)\n",
         ji(t, "submitted_height"), ji(t, "draw_height"),
         !settled ? "window closes"
         : json_is_true(json_object_get(t, "pruned")) ? "input/output pruned at"
                                                       : "input/output kept until",
         ji(t, "deadline"),
         ji(t, "commit_blocks"), ji(t, "reveal_blocks"));
  json_t *res = json_object_get(t, "result");
  if (json_is_object(res)) {
    print_claim("result       ", res);
    explain_code(stdout, js(res, "status"), ji(res, "code"));
  } else {
    printf("result       none yet\n");
  }
  size_t i;
  json_t *m;
  json_t *mem = json_object_get(t, "members");
  printf("members      %zu%s\n", json_array_size(mem), json_array_size(mem) ? ":" : "");
  json_array_foreach(mem, i, m) {
    printf("  %s  %-9s  attempt %lld, price %s CRD base units per million steps\n",
           js(m, "executor"),
           json_is_true(json_object_get(m, "replaced")) ? "replaced"
           : json_is_true(json_object_get(m, "revealed")) ? "revealed"
           : json_is_true(json_object_get(m, "committed")) ? "committed"
                                                           : "waiting",
           ji(m, "attempt"), js(m, "price_per_msteps"));
    print_claim("      claim: ", json_object_get(m, "claim"));
  }
  json_t *g = json_object_get(t, "game");
  if (json_is_object(g)) {
    printf("game         %lld of the verification game: seat %lld defends %lld steps against %s; "
           "round %lld, steps %lld..%lld\n", ji(t, "games") + 1, ji(g, "defender"), ji(g, "steps"),
           ji(g, "challenger") < 0 ? "the outside challenger" : "a member", ji(g, "round"),
           ji(g, "lo"), ji(g, "hi"));
    printf("             the %s (%s) to %s by height %lld; clocks: defender %lld, challenger "
           "%lld blocks\n", js(g, "to_move"), js(g, "mover"), js(g, "phase"), ji(g, "deadline"),
           ji(g, "clock_defender"), ji(g, "clock_challenger"));
  }
  if (*js(t, "challenger"))
    printf("challenger   %s, bond %s\n", js(t, "challenger"), cli_fmt_tokens(a, js(t, "bond"), "STK"));
  json_t *tl = json_object_get(t, "timeline");
  if (json_array_size(tl)) printf("timeline\n");
  json_array_foreach(tl, i, m) {
    const char *ex = js(m, "executor");
    printf("  height %-6lld %-10s %s%s%.16s%s\n", ji(m, "height"), js(m, "event"), js(m, "detail"),
           *ex ? " (" : "", ex, *ex ? "..)" : "");
  }
}

static void print_job(json_t *j) {
  char a[CLI_TOKENS_MAX];
  printf("job          %s\n", js(j, "job_id"));
  printf("status       %s (as of height %lld)\n", js(j, "status"), ji(j, "height"));
  printf("owner        %s\n", js(j, "owner"));
  printf("program      %s\n", js(j, "program"));
  printf("chunks       %lld: %lld done, %lld failed\n", ji(j, "chunks"), ji(j, "done"),
         ji(j, "failed"));
  printf("reward       %s per chunk\n", cli_fmt_tokens(a, js(j, "reward_per_chunk"), "CRD"));
  printf("submitted    at height %lld\n", ji(j, "submitted_height"));
  if (*js(j, "result_root")) printf("result root  %s\n", js(j, "result_root"));
  printf("chunk  task%-62s status      output hash\n", "");
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(j, "tasks"), i, t)
    printf("%5lld  %-66s %-11s %s\n", ji(t, "chunk"), js(t, "task_id"), js(t, "status"),
           *js(t, "output_hash") ? js(t, "output_hash") : "-");
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
  static const char *const submit_wv[] = {"--from", "--program", "--input", "--input-text",
                                          "--reward", "--committee", "--max-steps", "--mem",
                                          "--output", "--commit-blocks", "--reveal-blocks",
                                          "--max-output", NULL},
                           *const submit_fl[] = {"--wait", NULL},
                           *const output_wv[] = {"--output", NULL},
                           *const list_wv[] = {"--owner", "--executor", "--status", "--limit", NULL},
                           *const none[] = {NULL};
  int is_submit = !strcmp(sub, "submit"), is_get = !strcmp(sub, "get"),
      is_output = !strcmp(sub, "output"), is_list = !strcmp(sub, "list"),
      is_challenge = !strcmp(sub, "challenge");
  if (is_challenge) {
    static const char *const ch_wv[] = {"--from", NULL};
    opt co[4];
    const char *cpos;
    int cn = parse_opts("task challenge", argc, argv, ch_wv, none, co, 4, &cpos);
    if (cn < 0) return 2;
    if (!cpos || strlen(cpos) != 64 || strspn(cpos, "0123456789abcdefABCDEF") != 64)
      return cli_usage_error("task challenge", "which TASK_ID (64 hex digits)?");
    core_key k;
    if (cli_load_key(c, get(co, cn, "--from") ? get(co, cn, "--from") : "dev", &k)) return 1;
    uint8_t tid[32];
    size_t nid;
    core_hex_decode(tid, 32, &nid, cpos, 64);
    Cohort__MsgChallenge m = COHORT__MSG_CHALLENGE__INIT;
    m.task_id = (ProtobufCBinaryData){32, tid};
    Cohort__TxBody b = COHORT__TX_BODY__INIT;
    b.msg_case = COHORT__TX_BODY__MSG_CHALLENGE;
    b.challenge = &m;
    json_t *r = NULL;
    int ret = cli_send(c, &k, &b, 0, 1, &r);
    core_key_wipe(&k);
    json_decref(r);
    if (!ret)
      fprintf(stderr, "challenge committed: you play the verification game as challenger; keep "
              "`cohort watch --key ...` running to make its moves (cohort task get %.16s.. shows "
              "it)\n", cpos);
    return ret;
  }
  if (!is_submit && !is_get && !is_output && !is_list) {
    fprintf(stderr, "cohort task: unknown subcommand \"%s\"\n", sub);
    cli_help("task", stderr);
    return 2;
  }
  char path[32];
  snprintf(path, sizeof path, "task %s", sub);
  opt o[32];
  const char *pos;
  int n = parse_opts(path, argc, argv,
                     is_submit ? submit_wv : is_output ? output_wv : is_list ? list_wv : none,
                     is_submit ? submit_fl : none, o, 32, &pos);
  if (n < 0) return 2;
  if (pos && (is_submit || is_list)) return cli_usage_error(path, "unexpected argument \"%s\"", pos);
  if (is_get || is_output) {
    if (!pos) return cli_usage_error(path, "which TASK_ID?");
    if (strlen(pos) != 64 || strspn(pos, "0123456789abcdefABCDEF") != 64)
      return cli_usage_error(path, "TASK_ID must be 64 hex digits (what `cohort task submit` "
                             "printed), got \"%s\"", pos);
    json_t *r;
    if (cli_call(c, is_get ? "task_get" : "task_output", json_pack("{s:s}", "task_id", pos), &r)) return 1;
    int rc = 0;
    if (c->json) cli_print_json(r);
    else if (is_output)
      rc = write_output(json_string_value(json_object_get(r, "output_base64")), get(o, n, "--output"));
    else print_task(r);
    json_decref(r);
    return rc;
  }
  if (is_list) {
    json_t *p = json_object();
    uint8_t id[20];
    char addr[CORE_ADDR_STR_MAX];
    if (get(o, n, "--owner")) {
      if (cli_resolve_address(c, "cohort task list --owner", get(o, n, "--owner"), id, addr)) {
        json_decref(p);
        return 2;
      }
      json_object_set_new(p, "owner", json_string(addr));
    }
    if (get(o, n, "--executor")) {
      if (cli_resolve_address(c, "cohort task list --executor", get(o, n, "--executor"), id, addr)) {
        json_decref(p);
        return 2;
      }
      json_object_set_new(p, "executor", json_string(addr));
    }
    if (get(o, n, "--status")) json_object_set_new(p, "status", json_string(get(o, n, "--status")));
    uint64_t lim;
    if (get_u64(o, n, "--limit", 100, &lim, "cohort task list") || lim < 1 || lim > 1000) {
      json_decref(p);
      return cli_usage_error(path, "--limit must be 1 to 1000");
    }
    json_object_set_new(p, "limit", json_integer((json_int_t)lim));
    json_t *r;
    if (cli_call(c, "task_list", p, &r)) return 1;
    if (c->json) cli_print_json(r);
    else {
      size_t i;
      json_t *t;
      json_t *arr = json_object_get(r, "tasks");
      if (!json_array_size(arr))
        printf("no tasks match (as of height %lld)\n", ji(r, "height"));
      else
        printf("%-64s  %-10s  %2s  %16s  %s\n", "task", "status", "k", "reward (CRD)",
               "submitted");
      json_array_foreach(arr, i, t) {
        char rw[32];
        cli_fmt_amount(rw, js(t, "reward"));
        printf("%s  %-10s  %2lld  %16s  height %lld\n", js(t, "task_id"), js(t, "status"),
               ji(t, "committee"), rw, ji(t, "submitted_height"));
      }
      if (json_array_size(arr) == lim)
        printf("(the first %llu; --limit N for more)\n", (unsigned long long)lim);
    }
    json_decref(r);
    return 0;
  }
  const char *prog = get(o, n, "--program");
  uint64_t reward, k, steps, mem, cb, rb, mo;
  if (!prog || !get(o, n, "--reward"))
    return cli_usage_error("task submit", "missing %s",
                           !prog && !get(o, n, "--reward") ? "--program and --reward"
                           : !prog                         ? "--program"
                                                           : "--reward");
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
  char rw[CLI_TOKENS_MAX];
  fprintf(stderr, "task %s submitted (committee %llu, reward %s escrowed)\n", id,
          (unsigned long long)k, cli_fmt_tokens_u64(rw, reward, "CRD"));
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
  int n = parse_opts("simulate", argc, argv, wv, fl, o, 16, &pos);
  if (n < 0) return 2;
  if (pos) return cli_usage_error("simulate", "unexpected argument \"%s\"", pos);
  const char *prog = get(o, n, "--program");
  if (!prog) return cli_usage_error("simulate", "missing --program FILE|HASH");
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
    const char *trap = json_string_value(json_object_get(r, "trap")),
               *status = json_string_value(json_object_get(r, "status"));
    fprintf(stderr, "%s (%s%s%lld) after %lld steps in %.3f s; %lld output bytes\n", status,
            trap ? trap : "code", trap ? ", code " : " ",
            (long long)json_integer_value(json_object_get(r, "code")),
            (long long)json_integer_value(json_object_get(r, "steps")),
            json_real_value(json_object_get(r, "seconds")),
            (long long)json_integer_value(json_object_get(r, "output_size")));
    explain_code(stderr, status, (long long)json_integer_value(json_object_get(r, "code")));
    json_t *need = json_object_get(r, "reward_needed");
    long long elig = (long long)json_integer_value(json_object_get(r, "eligible_executors"));
    if (status && !strcmp(status, "out_of_steps"))
      fprintf(stderr, "it did not finish within --max-steps %llu: raise --max-steps\n",
              (unsigned long long)steps);
    else if (json_is_string(need))
      fprintf(stderr, "to run it on chain: --max-steps %lld --committee %lld --reward %s "
              "(CRD base units, at current prices)\n",
              (long long)json_integer_value(json_object_get(r, "suggested_max_steps")), (long long)k,
              json_string_value(need));
    else if (elig > 0)
      fprintf(stderr, "only %lld executor%s accept%s work right now, fewer than --committee %llu: "
              "run `cohort simulate ... --committee %lld` for a reward hint, or wait for more\n",
              elig, elig == 1 ? "" : "s", elig == 1 ? "s" : "", (unsigned long long)k, elig);
    else
      fprintf(stderr, "no executor accepts work right now: no task can be drawn until one "
              "registers (cohort executor register) with enough stake\n");
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
                           *const fl[] = {"--wait", NULL}, *const none[] = {NULL};
  int is_get = !strcmp(sub, "get");
  if (!is_get && strcmp(sub, "submit")) {
    fprintf(stderr, "cohort job: unknown subcommand \"%s\"\n", sub);
    cli_help("job", stderr);
    return 2;
  }
  opt o[16];
  const char *pos;
  int n = parse_opts(is_get ? "job get" : "job submit", argc, argv, is_get ? none : wv,
                     is_get ? none : fl, o, 16, &pos);
  if (n < 0) return 2;
  if (is_get) {
    if (!pos) return cli_usage_error("job get", "which JOB_ID?");
    if (strlen(pos) != 64 || strspn(pos, "0123456789abcdefABCDEF") != 64)
      return cli_usage_error("job get", "JOB_ID must be 64 hex digits (what `cohort job submit` "
                             "printed), got \"%s\"", pos);
    json_t *r;
    if (cli_call(c, "job_get", json_pack("{s:s}", "job_id", pos), &r)) return 1;
    if (c->json) cli_print_json(r);
    else print_job(r);
    json_decref(r);
    return 0;
  }
  if (pos) return cli_usage_error("job submit", "unexpected argument \"%s\"", pos);
  const char *prog = get(o, n, "--program"), *dir = get(o, n, "--chunks");
  uint64_t reward, k, steps, mem, mo;
  if (!prog || !dir || !get(o, n, "--reward-per-chunk"))
    return cli_usage_error("job submit", "missing %s", !prog ? "--program FILE|HASH"
                                                       : !dir ? "--chunks DIR"
                                                              : "--reward-per-chunk N");
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
  char rw[CLI_TOKENS_MAX];
  fprintf(stderr, "job %s submitted: %zu chunks, committee %llu each, %s escrowed per chunk\n",
          id, nn, (unsigned long long)k, cli_fmt_tokens_u64(rw, reward, "CRD"));
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
              failed ? " (see: cohort job get JOB_ID)" : "");
      const char *outdir = get(o, n, "--out");
      size_t i;
      json_t *t;
      if (!outdir)
        fprintf(stderr, "each chunk's output follows a line \"== CHUNK_FILE\" (what the program "
                "wrote for that input; per-chunk status: cohort job get %s)\n", id);
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

/* cohort dispute get ID | list */
static int cmd_dispute(const cli_ctx *c, const char *sub, int argc, char **argv) {
  static const char *const list_wv[] = {"--limit", NULL}, *const none[] = {NULL};
  int is_get = !strcmp(sub, "get"), is_list = !strcmp(sub, "list");
  if (!is_get && !is_list) {
    fprintf(stderr, "cohort dispute: unknown subcommand \"%s\"\n", sub);
    cli_help("dispute", stderr);
    return 2;
  }
  opt o[4];
  const char *pos;
  int n = parse_opts(is_get ? "dispute get" : "dispute list", argc, argv, is_list ? list_wv : none,
                     none, o, 4, &pos);
  if (n < 0) return 2;
  json_t *r;
  if (is_list) {
    uint64_t lim;
    if (pos) return cli_usage_error("dispute list", "unexpected argument \"%s\"", pos);
    if (get_u64(o, n, "--limit", 100, &lim, "cohort dispute list") || lim < 1 || lim > 1000)
      return cli_usage_error("dispute list", "--limit must be 1 to 1000");
    if (cli_call(c, "dispute_list", json_pack("{s:I}", "limit", (json_int_t)lim), &r)) return 1;
    if (c->json) {
      cli_print_json(r);
    } else {
      size_t i;
      json_t *t;
      printf("%-64s  game  phase   to move     steps             deadline\n", "task");
      json_array_foreach(json_object_get(r, "tasks"), i, t) {
        json_t *g = json_object_get(t, "game");
        printf("%-64s  %4lld  %-6s  %-10s  %lld..%lld  %lld\n", js(t, "task_id"), ji(t, "games") + 1,
               js(g, "phase"), js(g, "to_move"), ji(g, "lo"), ji(g, "hi"), ji(g, "deadline"));
      }
      if (!json_array_size(json_object_get(r, "tasks"))) printf("(no task is in a verification game)\n");
    }
    json_decref(r);
    return 0;
  }
  if (!pos || strlen(pos) != 64 || strspn(pos, "0123456789abcdefABCDEF") != 64)
    return cli_usage_error("dispute get", "which TASK_ID (64 hex digits)?");
  if (cli_call(c, "dispute_get", json_pack("{s:s}", "task_id", pos), &r)) return 1;
  if (c->json) {
    cli_print_json(r);
    json_decref(r);
    return 0;
  }
  char a[CLI_TOKENS_MAX];
  printf("task         %s\n", js(r, "task_id"));
  printf("status       %s (as of height %lld), %lld game(s) finished\n", js(r, "status"),
         ji(r, "height"), ji(r, "games"));
  json_t *g = json_object_get(r, "game");
  if (json_is_object(g)) {
    printf("game         seat %lld defends %lld steps against %s\n", ji(g, "defender"),
           ji(g, "steps"), ji(g, "challenger") < 0 ? "the outside challenger" : "a member");
    printf("range        steps %lld..%lld (round %lld, arity %lld)\n", ji(g, "lo"), ji(g, "hi"),
           ji(g, "round"), ji(g, "arity"));
    printf("to move      the %s (%s): %s, by height %lld\n", js(g, "to_move"), js(g, "mover"),
           js(g, "phase"), ji(g, "deadline"));
    printf("clocks       defender %lld, challenger %lld blocks left\n", ji(g, "clock_defender"),
           ji(g, "clock_challenger"));
  }
  if (*js(r, "challenger"))
    printf("challenger   %s, bond %s\n", js(r, "challenger"), cli_fmt_tokens(a, js(r, "bond"), "STK"));
  size_t i;
  json_t *m;
  printf("members\n");
  json_array_foreach(json_object_get(r, "members"), i, m) {
    json_t *cl = json_object_get(m, "claim");
    printf("  seat %lld  %s  %s  %lld steps, %s, final state %.16s..\n", ji(m, "seat"),
           js(m, "executor"), json_is_true(json_object_get(m, "lost")) ? "LOST " : "alive",
           ji(cl, "steps"), js(cl, "status"), js(cl, "final_state"));
  }
  printf("events\n");
  json_array_foreach(json_object_get(r, "events"), i, m) {
    const char *ex = js(m, "executor");
    printf("  height %-6lld %-10s %s%s%.16s%s\n", ji(m, "height"), js(m, "event"), js(m, "detail"),
           *ex ? " (" : "", ex, *ex ? "..)" : "");
  }
  json_decref(r);
  return 0;
}

int cli_cmd_market(const cli_ctx *c, const char *cmd, int argc, char **argv) {
  if (!strcmp(cmd, "simulate")) return cmd_simulate(c, argc, argv);
  if (argc < 1 || argv[0][0] == '-') { /* main.c catches this too */
    cli_help(cmd, stderr);
    return 2;
  }
  if (!strcmp(cmd, "job")) return cmd_job(c, argv[0], argc - 1, argv + 1);
  if (!strcmp(cmd, "dispute")) return cmd_dispute(c, argv[0], argc - 1, argv + 1);
  if (!strcmp(cmd, "program")) {
    if (strcmp(argv[0], "upload")) {
      fprintf(stderr, "cohort program: unknown subcommand \"%s\"\n", argv[0]);
      cli_help("program", stderr);
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
