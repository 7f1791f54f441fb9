/* genesis/params.c — the parameter table of params.h, walked. */
#include "genesis/params.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parse.h"
#include "proto/cohort.pb-c.h"

const genesis_param_info genesis_param_table[] = {
#define X(name, kind, lo, hi, def, doc) \
  {#name, GENESIS_PARAM_##kind, (uint64_t)(lo), (uint64_t)(hi), (uint64_t)(def), doc, offsetof(genesis_params, name)},
    COHORT_PARAM_TABLE(X)
#undef X
};
const size_t genesis_param_count = sizeof genesis_param_table / sizeof genesis_param_table[0];

void genesis_params_default(genesis_params *p) {
  memset(p, 0, sizeof *p);
#define X(name, kind, lo, hi, def, doc) p->name = def;
  COHORT_PARAM_TABLE(X)
#undef X
}

uint64_t genesis_param_get(const genesis_params *p, const genesis_param_info *row) {
  const char *b = (const char *)p + row->offset;
  if (row->kind == GENESIS_PARAM_U32) {
    uint32_t v;
    memcpy(&v, b, 4);
    return v;
  }
  uint64_t v;
  memcpy(&v, b, 8);
  return v;
}

void genesis_param_set(genesis_params *p, const genesis_param_info *row, uint64_t v) {
  char *b = (char *)p + row->offset;
  if (row->kind == GENESIS_PARAM_U32) {
    uint32_t w = (uint32_t)v;
    memcpy(b, &w, 4);
  } else {
    memcpy(b, &v, 8);
  }
}

uint64_t genesis_param_max(const char *name) {
  for (size_t i = 0; i < genesis_param_count; i++)
    if (!strcmp(genesis_param_table[i].name, name)) return genesis_param_table[i].max;
  return 0;
}

/* Room a RevealResult needs besides its output: task ID, claim, salt, proof
 * (416 bytes), signature, key, nonce, fee, framing. Generous on purpose. */
#define REVEAL_OVERHEAD 4096

/* The liveness relations: a transaction of SMALL_TX bytes (a vote, a short
 * proposal) must fit a block's gas and bytes and cost at most FEE_CAP CRD
 * base units (1,000,000 CRD); a CommitSig takes at most COMMIT_SIG_BYTES. */
#define SMALL_TX 4096
#define FEE_CAP 1000000000000ull
#define COMMIT_SIG_BYTES 110

int genesis_params_check(const genesis_params *p, core_errbuf *eb) {
  if (p->max_tx_bytes > p->max_block_bytes)
    return core_errf(eb, COHORT_ERR_GENESIS,
                     "params.max_tx_bytes (%u) exceeds params.max_block_bytes (%u)",
                     p->max_tx_bytes, p->max_block_bytes);
  if ((uint64_t)p->max_inline_output + REVEAL_OVERHEAD > p->max_tx_bytes)
    return core_errf(eb, COHORT_ERR_GENESIS,
                     "params.max_inline_output (%u) + %u bytes of reveal overhead exceeds "
                     "params.max_tx_bytes (%u): a task's output could never be revealed",
                     p->max_inline_output, REVEAL_OVERHEAD, p->max_tx_bytes);
  if (p->max_inline_output > (64u << 20))
    return core_errf(eb, COHORT_ERR_GENESIS, "params.max_inline_output exceeds the VM's 64 MiB");
  if (p->reveal_blocks < 2)
    return core_errf(eb, COHORT_ERR_GENESIS, "params.reveal_blocks must be at least 2");
  /* staking (docs/staking.md §3 "Evidence age"): stake cannot leave before
   * its offence can be proven. Stake that left in block e-1 still signed at
   * e and is paid at the end of block e-1+unbonding_blocks; the last block
   * that may carry evidence of e is e+evidence_max_age, so the age must be
   * below the unbonding period (equal would let it go one block early). */
  if (p->evidence_max_age >= p->unbonding_blocks)
    return core_errf(eb, COHORT_ERR_GENESIS,
                     "params.evidence_max_age (%u) is not below params.unbonding_blocks (%u): "
                     "stake unbonded the block before a double sign would be paid out before "
                     "the last block that may carry its evidence",
                     p->evidence_max_age, p->unbonding_blocks);
  if (p->min_delegation > p->min_self_bond)
    return core_errf(eb, COHORT_ERR_GENESIS,
                     "params.min_delegation (%llu) exceeds params.min_self_bond (%llu)",
                     (unsigned long long)p->min_delegation, (unsigned long long)p->min_self_bond);
  if (((uint64_t)p->signed_blocks_window * p->min_signed_bps + 9999) / 10000 >=
      p->signed_blocks_window)
    return core_errf(eb, COHORT_ERR_GENESIS,
                     "params.min_signed_bps (%u) leaves no missed block in a window of "
                     "params.signed_blocks_window (%u): one missed block would jail",
                     p->min_signed_bps, p->signed_blocks_window);
  /* Liveness: parameters under which no transaction could ever be
   * included again (not even the proposal that would undo them) are
   * refused, at genesis and in a governance change (the same check). */
  unsigned __int128 small_gas = (unsigned __int128)p->gas_tx + (unsigned __int128)SMALL_TX * p->gas_tx_byte;
  if (small_gas > p->max_block_gas)
    return core_errf(eb, COHORT_ERR_GENESIS,
                     "params.max_block_gas (%llu) is below the gas of a %d-byte transaction "
                     "(params.gas_tx + %d x params.gas_tx_byte): no block could hold one",
                     (unsigned long long)p->max_block_gas, SMALL_TX, SMALL_TX);
  if (p->min_fee > FEE_CAP || small_gas * p->gas_price_milli / 1000 > FEE_CAP)
    return core_errf(eb, COHORT_ERR_GENESIS,
                     "params.min_fee (%llu) or the fee of a %d-byte transaction at "
                     "params.gas_price_milli exceeds %llu CRD base units: nobody could pay it",
                     (unsigned long long)p->min_fee, SMALL_TX, (unsigned long long)FEE_CAP);
  if ((uint64_t)p->max_block_bytes < (uint64_t)p->max_validators * COMMIT_SIG_BYTES + 2 * SMALL_TX)
    return core_errf(eb, COHORT_ERR_GENESIS,
                     "params.max_block_bytes (%u) cannot hold the last commit of "
                     "params.max_validators (%u) validators and a %d-byte transaction",
                     p->max_block_bytes, p->max_validators, SMALL_TX);
  return COHORT_OK;
}

char *genesis_params_markdown(void) {
  size_t cap = 65536, n = 0;
  char *s = malloc(cap);
  if (!s) return NULL;
  n += (size_t)snprintf(s + n, cap - n,
                        "| name | kind | default | range | meaning |\n|---|---|---|---|---|\n");
  for (size_t i = 0; i < genesis_param_count; i++) {
    const genesis_param_info *r = &genesis_param_table[i];
    char hi[24];
    if ((r->kind == GENESIS_PARAM_U64 && r->max == UINT64_MAX))
      snprintf(hi, sizeof hi, "2^64-1");
    else
      snprintf(hi, sizeof hi, "%llu", (unsigned long long)r->max);
    int w = snprintf(s + n, cap - n, "| `%s` | %s | %llu | %llu..%s | %s |\n", r->name,
                     r->kind == GENESIS_PARAM_U32 ? "u32" : "u64 (string)",
                     (unsigned long long)r->def, (unsigned long long)r->min, hi, r->doc);
    if (w < 0 || (size_t)w >= cap - n) {
      free(s);
      return NULL;
    }
    n += (size_t)w;
  }
  return s;
}

void genesis_params_to_proto(const genesis_params *g, Cohort__Params *p) {
#define X(name, kind, lo, hi, def, doc) p->name = g->name;
  COHORT_PARAM_TABLE(X)
#undef X
}

void genesis_params_from_proto(genesis_params *g, const Cohort__Params *p) {
#define X(name, kind, lo, hi, def, doc) g->name = p->name;
  COHORT_PARAM_TABLE(X)
#undef X
}

json_t *genesis_params_json(const genesis_params *g) {
  json_t *o = json_object();
  for (size_t i = 0; o && i < genesis_param_count; i++) {
    const genesis_param_info *r = &genesis_param_table[i];
    uint64_t v = genesis_param_get(g, r);
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    if (json_object_set_new(o, r->name, r->kind == GENESIS_PARAM_U32 ? json_integer((json_int_t)v)
                                                                      : json_string(num))) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

int genesis_params_from_json(genesis_params *g, json_t *p, core_errbuf *eb) {
  if (!json_is_object(p)) return core_errf(eb, COHORT_ERR_GENESIS, "params: must be an object");
  const char *k;
  json_t *v;
  json_object_foreach(p, k, v) {
    const genesis_param_info *row = NULL;
    for (size_t i = 0; i < genesis_param_count; i++)
      if (!strcmp(genesis_param_table[i].name, k)) row = &genesis_param_table[i];
    if (!row)
      return core_errf(eb, COHORT_ERR_GENESIS, "params: unknown parameter \"%.60s\" (the list is "
                       "in docs/protocol.md, or run: cohortd params)", k);
    uint64_t x;
    if (row->kind == GENESIS_PARAM_U32) {
      if (!json_is_integer(v) || json_integer_value(v) < 0)
        return core_errf(eb, COHORT_ERR_GENESIS, "params.%s: must be an integer in [%llu, %llu]",
                         row->name, (unsigned long long)row->min, (unsigned long long)row->max);
      x = (uint64_t)json_integer_value(v);
    } else if (!json_is_string(v) || core_parse_u64(json_string_value(v), &x)) {
      return core_errf(eb, COHORT_ERR_GENESIS,
                       "params.%s: must be a decimal string of a u64, e.g. \"%llu\"", row->name,
                       (unsigned long long)row->def);
    }
    if (x < row->min || x > row->max)
      return core_errf(eb, COHORT_ERR_GENESIS, "params.%s: %llu is outside [%llu, %llu]",
                       row->name, (unsigned long long)x, (unsigned long long)row->min,
                       (unsigned long long)row->max);
    genesis_param_set(g, row, x);
  }
  return COHORT_OK;
}
