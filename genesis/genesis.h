/* genesis/genesis.h — the genesis file: format, strict loading, the devnet
 * and testnet builders.
 *
 * genesis.json (docs/protocol.md has the full schema):
 * {
 *   "chain_id": "cohort-devnet-1",
 *   "genesis_time": "2026-11-24T00:00:00Z",
 *   "params": {"max_block_bytes": 8388608, "min_fee": "1000", ...},
 *             (every parameter optional; genesis/params.h is the table)
 *   "accounts": [{"address": "coh1...", "crd": "1000000", "stk": "0"}],
 *   "validators": [{"pubkey": "<64 hex ed25519>", "operator": "coh1...",
 *                   "power": "1000000", "moniker": "val0"}]
 *                  (optional per validator: "beacon_commit", and the
 *                   integers "commission_bps", "max_commission_bps",
 *                   "max_change_bps", defaults 0, 10000, 100)
 * }
 * Amounts are decimal strings (u64 base units; JSON numbers lose precision
 * above 2^53). Unknown fields, duplicate keys, duplicate accounts or
 * validators, zero power and supply overflow are errors naming the field.
 */
#ifndef COHORT_GENESIS_H
#define COHORT_GENESIS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "genesis/params.h"

#define GENESIS_MAX_BYTES (16u << 20)
#define GENESIS_MAX_ACCOUNTS 100000
#define GENESIS_MAX_VALIDATORS 150
#define GENESIS_MONIKER_MAX 64

typedef struct {
  uint8_t id[20];
  uint64_t crd, stk;
} genesis_account;

typedef struct {
  uint8_t pubkey[32];
  uint8_t operator_id[20];
  uint64_t power;
  char moniker[GENESIS_MONIKER_MAX + 1];
  int has_beacon;
  uint8_t beacon_commit[32]; /* tip of the validator's beacon hash chain */
  /* Commission limits (docs/staking.md §1 "Genesis"): genesis_parse fills
   * them (the GENESIS_*_DEFAULT values when the entry has none) and sets
   * has_commission when the entry names any; genesis_testnet_json writes
   * them only with has_commission. */
  int has_commission;
  uint32_t commission_bps, max_commission_bps, max_change_bps;
} genesis_validator;

#define GENESIS_COMMISSION_DEFAULT 0
#define GENESIS_MAX_COMMISSION_DEFAULT 10000
#define GENESIS_MAX_CHANGE_DEFAULT 100 /* 1% per change, as the CLI's create-validator */



typedef struct {
  char chain_id[49];
  uint64_t time_ms;
  genesis_params params;
  genesis_account *accounts; /* owned */
  size_t n_accounts;
  genesis_validator *validators; /* owned */
  size_t n_validators;
  uint8_t hash[32]; /* sha256 of the file bytes, reported by status */
} genesis;

/* Parse and validate JSON text. On failure *g is empty and eb names the
 * field ("accounts[3].crd: ..."). Errors: COHORT_ERR_GENESIS,
 * COHORT_ERR_TOO_LARGE, COHORT_ERR_NOMEM. */
int genesis_parse(genesis *g, const char *json, size_t len, core_errbuf *eb);
int genesis_load(genesis *g, const char *path, core_errbuf *eb);
void genesis_free(genesis *g);

/* Write a devnet genesis: one validator (val_pub, operated by and with its
 * power bonded for dev_id) and one funded dev account, every parameter at
 * its default but the governance periods, which are short
 * (GENESIS_DEVNET_GOV_*: a proposal's life fits a demo). Returns malloc'd
 * JSON text. */
#define GENESIS_DEVNET_GOV_DEPOSIT_BLOCKS 30
#define GENESIS_DEVNET_GOV_VOTING_BLOCKS 20
char *genesis_devnet_json(const char *chain_id, uint64_t time_ms,
                          const uint8_t val_pub[32], const uint8_t dev_id[20],
                          const uint8_t *beacon_commit /* 32 bytes or NULL */);

/* Write a genesis of several validators and funded accounts (what
 * `cohortd testnet` shares between its homes), every parameter at its
 * default. Each validator carries its pubkey, operator, power, moniker (if
 * not empty) and beacon_commit (if has_beacon); each account its address,
 * crd and stk. Returns malloc'd JSON text (the caller frees) or NULL (out of
 * memory, or n_vals == 0). The text parses with genesis_parse when the
 * inputs obey its rules (distinct pubkeys and accounts, power > 0, at most
 * GENESIS_MAX_VALIDATORS); nothing is checked here. genesis_devnet_json is
 * the case of one validator and one account (with short governance
 * periods). */
char *genesis_testnet_json(const char *chain_id, uint64_t time_ms,
                           const genesis_validator *vals, size_t n_vals,
                           const genesis_account *accs, size_t n_accs);

/* Parse / format RFC 3339 UTC times ("2026-11-24T00:00:00Z", optional
 * fractional seconds up to ms). */
int genesis_time_parse(const char *s, uint64_t *ms);
void genesis_time_format(char out[32], uint64_t ms);

#endif
