/* cli/cli.h — shared pieces of the `cohort` command line. */
#ifndef COHORT_CLI_H
#define COHORT_CLI_H

#include <jansson.h>
#include <stdint.h>

#include "core/keys.h"

typedef struct {
  const char *node; /* RPC URL */
  const char *home;
  int json;         /* --json: machine output */
  uint64_t timeout_ms;
} cli_ctx;

/* Call the node; params (may be NULL) is stolen. On error prints
 * "cohort: <what>" and returns non-zero. */
int cli_call(const cli_ctx *c, const char *method, json_t *params, json_t **result);
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
int cli_cmd_executor_run(const cli_ctx *c, int argc, char **argv);

int cli_cmd_keys(const cli_ctx *c, int argc, char **argv);
int cli_cmd_transfer(const cli_ctx *c, int argc, char **argv);
int cli_cmd_query(const cli_ctx *c, const char *cmd, int argc, char **argv);

#endif
