/* cli/cli.h — shared pieces of the `cohort` command line. */
#ifndef COHORT_CLI_H
#define COHORT_CLI_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "core/keys.h"

typedef struct {
  const char *node; /* RPC URL */
  const char *home;
  int json;         /* --json: machine output */
  uint64_t timeout_ms;
  const char *home_src; /* how home was chosen: "--home", "$COHORT_HOME", the default */
} cli_ctx;

#define COHORT_VERSION "0.1.0"

/* Usage texts (cli_help.c). cli_help prints the usage of a command path
 * ("task submit", or a group: "task") to f; -1 if there is no such path. */
void cli_help_top(FILE *f);
int cli_help(const char *path, FILE *f);
int cli_help_has(const char *path);
int cli_help_is_group(const char *cmd);
/* Print "cohort PATH: <message>" and where its usage is; returns 2. */
int cli_usage_error(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Tell, on stderr, which home was searched and how to choose another. */
void cli_home_hint(const cli_ctx *c);

/* Call the node; params (may be NULL) is stolen. On error prints
 * "cohort: <what>" and returns non-zero. */
int cli_call(const cli_ctx *c, const char *method, json_t *params, json_t **result);
/* An RPC client error message for people: without the URL prefix the
 * caller already printed, on one line, an HTML page's markup replaced by a
 * note. Returns out. */
const char *cli_clean_err(const char *url, const char *msg, char *out, size_t cap);
/* Print a JSON value (indented) to stdout. */
void cli_print_json(json_t *j);
/* Load key NAME from HOME/keys/NAME.json (or a path if NAME has a '/'). */
int cli_load_key(const cli_ctx *c, const char *name, core_key *k);
/* Resolve WHO — a coh1... address or the name of a key in HOME/keys — to
 * an account ID and its address. On failure prints why (typo in an
 * address, unknown key name) prefixed by `cmd` and returns non-zero. */
int cli_resolve_address(const cli_ctx *c, const char *cmd, const char *who, uint8_t id[20],
                        char addr[91]);
/* "123" (base units) -> "0.000123" style with 6 decimals. */
void cli_fmt_amount(char out[32], const char *base_units);
/* The one way amounts are shown to people: "0.250000 STK (250000 base units)". */
#define CLI_TOKENS_MAX 96
const char *cli_fmt_tokens(char out[CLI_TOKENS_MAX], const char *base_units, const char *token);
const char *cli_fmt_tokens_u64(char out[CLI_TOKENS_MAX], uint64_t base_units, const char *token);

/* Fill nonce (and fee, if 0: what the cost model asks for this tx, with
 * vm_kib KiB of program and input it will load into VMs) and sign body with
 * k, then broadcast (mode commit if wait). b->nonce and b->fee hold what was
 * sent. *result: the broadcast_tx result. Returns 0; 1 after printing why it
 * failed; 3 if it committed with a failing code (printed). */
#include "proto/cohort.pb-c.h"
int cli_send(const cli_ctx *c, const core_key *k, Cohort__TxBody *b, uint64_t vm_kib, int wait,
             json_t **result);
/* The chain parameters in a `status` result (all of genesis/params.h).
 * Returns 0, or 1 after printing why. */
int cli_status_params(const cli_ctx *c, json_t *status, Cohort__Params *p);
/* Sign b for chain; if b->fee is 0, set it to the fee due (proto/market.h)
 * for the signed size plus vm_kib. *raw is malloc'd. Returns 0 or 1. */
int cli_sign_with_fee(const char *chain, const Cohort__Params *p, const core_key *k,
                      Cohort__TxBody *b, uint64_t vm_kib, uint8_t **raw, size_t *len);

int cli_cmd_market(const cli_ctx *c, const char *cmd, int argc, char **argv);
/* `cohort watch`: the executor runner's watcher alone (no seats, no
 * registration): re-run agreed tasks, challenge wrong results, play. */
int cli_cmd_watch(const cli_ctx *c, int argc, char **argv);
int cli_cmd_executor_run(const cli_ctx *c, int argc, char **argv);

int cli_cmd_keys(const cli_ctx *c, int argc, char **argv);
/* `cohort stake SUBCOMMAND ...` (cli_stake.c). */
int cli_cmd_stake(const cli_ctx *c, int argc, char **argv);
int cli_cmd_transfer(const cli_ctx *c, int argc, char **argv);
int cli_cmd_query(const cli_ctx *c, const char *cmd, int argc, char **argv);
/* `cohort gov SUB ...` (argv[0] is SUB) and `cohort params [NAME]` (cli_gov.c). */
int cli_cmd_gov(const cli_ctx *c, int argc, char **argv);
int cli_cmd_params(const cli_ctx *c, int argc, char **argv);

#endif
