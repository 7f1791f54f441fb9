/* cli/cli_util.c — RPC calls, key loading and formatting for `cohort`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/bech32.h"
#include "core/parse.h"
#include "rpc/rpc.h"

int cli_call(const cli_ctx *c, const char *method, json_t *params, json_t **result) {
  core_errbuf eb = {{0}};
  json_t *data = NULL;
  int rc = rpc_client_call(c->node, method, params, c->timeout_ms, result, &data, &eb);
  json_decref(params);
  if (!rc) return 0;
  if (rc <= -32000 && rc >= -32768) {
    fprintf(stderr, "cohort: %s\n", eb.msg);
    const char *cs = json_string_value(json_object_get(data, "codespace"));
    if (cs) fprintf(stderr, "  reason: %s\n", cs);
  } else {
    char why[300];
    cli_clean_err(c->node, eb.msg[0] ? eb.msg : core_err_str(rc), why, sizeof why);
    fprintf(stderr, "cohort: cannot reach the node at %s: %s\n  (is cohortd running? "
            "choose the node with --node URL or COHORT_NODE=URL)\n", c->node, why);
  }
  json_decref(data);
  return 1;
}

void cli_print_json(json_t *j) {
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
  if (s) puts(s);
  free(s);
}

const char *cli_clean_err(const char *url, const char *msg, char *out, size_t cap) {
  return rpc_client_clean_err(url, msg, out, cap);
}

void cli_home_hint(const cli_ctx *c) {
  struct stat st;
  int exists = stat(c->home, &st) == 0;
  fprintf(stderr, "  the home searched is %s%s (chosen by %s);\n"
          "  choose another with --home DIR or COHORT_HOME=DIR (`make devnet` uses ./.devnet)\n",
          c->home, exists ? "" : ", which does not exist",
          c->home_src ? c->home_src : "the default");
}

int cli_load_key(const cli_ctx *c, const char *name, core_key *k) {
  char path[4096];
  if (strchr(name, '/')) snprintf(path, sizeof path, "%s", name);
  else snprintf(path, sizeof path, "%s/keys/%s.json", c->home, name);
  core_errbuf eb = {{0}};
  if (!strchr(name, '/') && access(path, F_OK) != 0) {
    fprintf(stderr, "cohort: no key \"%s\": %s does not exist (see: cohort keys list)\n", name,
            path);
    cli_home_hint(c);
    return 1;
  }
  if (core_keyfile_read(path, k, &eb)) {
    fprintf(stderr, "cohort: %s\n", eb.msg);
    return 1;
  }
  if (k->is_ed25519) {
    fprintf(stderr, "cohort: %s is an ed25519 key; accounts use secp256k1 keys\n", path);
    return 1;
  }
  return 0;
}

int cli_resolve_address(const cli_ctx *c, const char *cmd, const char *who, uint8_t id[20],
                        char addr[91]) {
  if (core_addr_decode(id, who) == 0) {
    snprintf(addr, 91, "%s", who);
    return 0;
  }
  if (!strncasecmp(who, "coh1", 4)) {
    fprintf(stderr, "%s: \"%s\" looks like an address but its checksum or characters are "
            "wrong; check it for a typo\n", cmd, who);
    return 1;
  }
  char path[4200];
  snprintf(path, sizeof path, "%.4000s/keys/%.64s.json", c->home, who);
  if (strchr(who, '/') || access(path, F_OK) != 0) {
    fprintf(stderr, "%s: \"%s\" is neither a coh1... address nor a key in %s/keys "
            "(see: cohort keys list)\n", cmd, who, c->home);
    cli_home_hint(c);
    return 1;
  }
  core_key k;
  if (cli_load_key(c, who, &k)) return 1;
  core_account_id(id, k.pub);
  core_key_wipe(&k);
  core_addr_encode(addr, id);
  return 0;
}

void cli_fmt_amount(char out[32], const char *s) { core_fmt_amount(out, s); }

const char *cli_fmt_tokens(char out[CLI_TOKENS_MAX], const char *base, const char *token) {
  return core_fmt_tokens(out, base, token);
}

const char *cli_fmt_tokens_u64(char out[CLI_TOKENS_MAX], uint64_t base, const char *token) {
  char b[24];
  snprintf(b, sizeof b, "%llu", (unsigned long long)base);
  return cli_fmt_tokens(out, b, token);
}
