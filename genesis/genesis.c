/* genesis/genesis.c — strict genesis.json loading; the devnet and testnet
 * builders. */
#include "genesis/genesis.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bech32.h"
#include "core/parse.h"
#include "core/bytes.h"
#include "core/hash.h"
#include "core/hex.h"
#include "proto/tx.h"

static int days_from_civil(int y, unsigned m, unsigned d, int64_t *out) {
  y -= m <= 2;
  int era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  *out = (int64_t)era * 146097 + (int64_t)doe - 719468;
  return 0;
}

int genesis_time_parse(const char *s, uint64_t *ms) {
  int y, mo, d, h, mi, se, n = 0;
  if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 ||
      n != 19)
    return COHORT_ERR_DECODE;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
    return COHORT_ERR_DECODE;
  const char *p = s + 19;
  uint64_t frac = 0;
  if (*p == '.') {
    int digits = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, digits++)
      if (digits < 3) frac = frac * 10 + (uint64_t)(*p - '0');
    if (digits == 0) return COHORT_ERR_DECODE;
    for (; digits < 3; digits++) frac *= 10;
  }
  if (strcmp(p, "Z") != 0) return COHORT_ERR_DECODE;
  int64_t days;
  days_from_civil(y, (unsigned)mo, (unsigned)d, &days);
  *ms = (uint64_t)((days * 86400 + h * 3600 + mi * 60 + se)) * 1000 + frac;
  return COHORT_OK;
}

void genesis_time_format(char out[32], uint64_t ms) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}

static int only_keys(json_t *o, const char *const *allowed, const char *where,
                     core_errbuf *eb) {
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    int ok = 0;
    for (const char *const *a = allowed; *a; a++)
      if (!strcmp(k, *a)) ok = 1;
    if (!ok) return core_errf(eb, COHORT_ERR_GENESIS, "%s: unknown field \"%s\"", where, k);
  }
  return COHORT_OK;
}

static int get_amount(json_t *o, const char *f, uint64_t *out, const char *where,
                      int required, core_errbuf *eb) {
  json_t *v = json_object_get(o, f);
  if (!v) {
    if (!required) return COHORT_OK;
    return core_errf(eb, COHORT_ERR_GENESIS, "%s.%s: missing", where, f);
  }
  if (!json_is_string(v) || core_parse_u64(json_string_value(v), out))
    return core_errf(eb, COHORT_ERR_GENESIS,
                     "%s.%s: must be a decimal string of a u64 amount, e.g. \"1000\"",
                     where, f);
  return COHORT_OK;
}

static int parse_params(genesis *g, json_t *p, core_errbuf *eb) {
  genesis_params_default(&g->params);
  if (!p) return COHORT_OK;
  int rc = genesis_params_from_json(&g->params, p, eb);
  return rc ? rc : genesis_params_check(&g->params, eb);
}

static int parse_accounts(genesis *g, json_t *a, uint64_t sup[2], core_errbuf *eb) {
  static const char *const keys[] = {"address", "crd", "stk", NULL};
  if (!json_is_array(a)) return core_errf(eb, COHORT_ERR_GENESIS, "accounts: must be an array");
  size_t n = json_array_size(a);
  if (n > GENESIS_MAX_ACCOUNTS)
    return core_errf(eb, COHORT_ERR_GENESIS, "accounts: more than %d entries", GENESIS_MAX_ACCOUNTS);
  g->accounts = calloc(n ? n : 1, sizeof *g->accounts);
  if (!g->accounts) return COHORT_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    char where[48];
    snprintf(where, sizeof where, "accounts[%zu]", i);
    json_t *o = json_array_get(a, i);
    int rc;
    if (!json_is_object(o)) return core_errf(eb, COHORT_ERR_GENESIS, "%s: must be an object", where);
    if ((rc = only_keys(o, keys, where, eb))) return rc;
    genesis_account *ac = &g->accounts[i];
    if (core_addr_decode(ac->id, json_string_value(json_object_get(o, "address"))))
      return core_errf(eb, COHORT_ERR_GENESIS, "%s.address: must be a coh1... bech32 address", where);
    for (size_t j = 0; j < i; j++)
      if (!memcmp(g->accounts[j].id, ac->id, 20))
        return core_errf(eb, COHORT_ERR_GENESIS, "%s.address: duplicates accounts[%zu]", where, j);
    if ((rc = get_amount(o, "crd", &ac->crd, where, 0, eb))) return rc;
    if ((rc = get_amount(o, "stk", &ac->stk, where, 0, eb))) return rc;
    if (core_add_u64(&sup[0], sup[0], ac->crd) || core_add_u64(&sup[1], sup[1], ac->stk))
      return core_errf(eb, COHORT_ERR_GENESIS, "%s: total supply overflows u64", where);
    g->n_accounts = i + 1;
  }
  return COHORT_OK;
}

/* An optional bps field: a JSON integer 0..10000 (*out keeps its value
 * when absent; *has set when present). */
static int get_bps(json_t *o, const char *f, uint32_t *out, int *has, const char *where,
                   core_errbuf *eb) {
  json_t *v = json_object_get(o, f);
  if (!v) return COHORT_OK;
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10000)
    return core_errf(eb, COHORT_ERR_GENESIS, "%s.%s: must be an integer from 0 to 10000 (bps)",
                     where, f);
  *out = (uint32_t)json_integer_value(v);
  *has = 1;
  return COHORT_OK;
}

static int parse_validators(genesis *g, json_t *a, uint64_t sup[2], core_errbuf *eb) {
  static const char *const keys[] = {"pubkey", "operator", "power", "moniker", "beacon_commit",
                                     "commission_bps", "max_commission_bps", "max_change_bps",
                                     NULL};
  if (!json_is_array(a) || json_array_size(a) == 0)
    return core_errf(eb, COHORT_ERR_GENESIS, "validators: must be a non-empty array");
  size_t n = json_array_size(a);
  if (n > GENESIS_MAX_VALIDATORS)
    return core_errf(eb, COHORT_ERR_GENESIS, "validators: more than %d entries", GENESIS_MAX_VALIDATORS);
  g->validators = calloc(n, sizeof *g->validators);
  if (!g->validators) return COHORT_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    char where[48];
    snprintf(where, sizeof where, "validators[%zu]", i);
    json_t *o = json_array_get(a, i);
    int rc;
    if (!json_is_object(o)) return core_errf(eb, COHORT_ERR_GENESIS, "%s: must be an object", where);
    if ((rc = only_keys(o, keys, where, eb))) return rc;
    genesis_validator *v = &g->validators[i];
    const char *pk = json_string_value(json_object_get(o, "pubkey"));
    size_t got;
    if (!pk || core_hex_decode(v->pubkey, 32, &got, pk, strlen(pk)) || got != 32)
      return core_errf(eb, COHORT_ERR_GENESIS, "%s.pubkey: must be 64 hex digits (ed25519)", where);
    for (size_t j = 0; j < i; j++)
      if (!memcmp(g->validators[j].pubkey, v->pubkey, 32))
        return core_errf(eb, COHORT_ERR_GENESIS, "%s.pubkey: duplicates validators[%zu]", where, j);
    if (core_addr_decode(v->operator_id, json_string_value(json_object_get(o, "operator"))))
      return core_errf(eb, COHORT_ERR_GENESIS, "%s.operator: must be a coh1... address", where);
    for (size_t j = 0; j < i; j++) /* one validator per operator (docs/staking.md §1) */
      if (!memcmp(g->validators[j].operator_id, v->operator_id, 20))
        return core_errf(eb, COHORT_ERR_GENESIS, "%s.operator: operates validators[%zu] already",
                         where, j);
    if ((rc = get_amount(o, "power", &v->power, where, 1, eb))) return rc;
    if (v->power == 0) return core_errf(eb, COHORT_ERR_GENESIS, "%s.power: must be > 0", where);
    if (core_add_u64(&sup[1], sup[1], v->power))
      return core_errf(eb, COHORT_ERR_GENESIS, "%s.power: STK supply overflows u64", where);
    json_t *bc = json_object_get(o, "beacon_commit");
    if (bc) {
      const char *bs = json_string_value(bc);
      size_t bl;
      if (!bs || core_hex_decode(v->beacon_commit, 32, &bl, bs, strlen(bs)) || bl != 32)
        return core_errf(eb, COHORT_ERR_GENESIS, "%s.beacon_commit: must be 64 hex digits", where);
      v->has_beacon = 1;
    }
    json_t *m = json_object_get(o, "moniker");
    if (m) {
      if (!json_is_string(m) || strlen(json_string_value(m)) > GENESIS_MONIKER_MAX)
        return core_errf(eb, COHORT_ERR_GENESIS, "%s.moniker: must be a string of at most %d bytes",
                         where, GENESIS_MONIKER_MAX);
      strcpy(v->moniker, json_string_value(m));
    }
    /* commission limits: CreateValidator's relations (docs/staking.md §2) */
    v->commission_bps = GENESIS_COMMISSION_DEFAULT;
    v->max_commission_bps = GENESIS_MAX_COMMISSION_DEFAULT;
    v->max_change_bps = GENESIS_MAX_CHANGE_DEFAULT;
    if ((rc = get_bps(o, "commission_bps", &v->commission_bps, &v->has_commission, where, eb)) ||
        (rc = get_bps(o, "max_commission_bps", &v->max_commission_bps, &v->has_commission, where,
                      eb)) ||
        (rc = get_bps(o, "max_change_bps", &v->max_change_bps, &v->has_commission, where, eb)))
      return rc;
    if (v->commission_bps > v->max_commission_bps)
      return core_errf(eb, COHORT_ERR_GENESIS, "%s.commission_bps: %u exceeds max_commission_bps "
                       "%u", where, v->commission_bps, v->max_commission_bps);
    if (v->max_change_bps > v->max_commission_bps)
      return core_errf(eb, COHORT_ERR_GENESIS, "%s.max_change_bps: %u exceeds max_commission_bps "
                       "%u", where, v->max_change_bps, v->max_commission_bps);
    g->n_validators = i + 1;
  }
  return COHORT_OK;
}

int genesis_parse(genesis *g, const char *text, size_t len, core_errbuf *eb) {
  static const char *const keys[] = {"chain_id", "genesis_time", "params",
                                     "accounts", "validators", NULL};
  memset(g, 0, sizeof *g);
  if (len > GENESIS_MAX_BYTES)
    return core_errf(eb, COHORT_ERR_TOO_LARGE, "genesis is %zu bytes, limit %u", len,
                     GENESIS_MAX_BYTES);
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root)
    return core_errf(eb, COHORT_ERR_GENESIS, "genesis is not valid JSON: %s (line %d, column %d)",
                     je.text, je.line, je.column);
  int rc;
  uint64_t sup[2] = {0, 0};
  if (!json_is_object(root)) {
    rc = core_errf(eb, COHORT_ERR_GENESIS, "genesis must be a JSON object");
    goto out;
  }
  if ((rc = only_keys(root, keys, "genesis", eb))) goto out;
  const char *cid = json_string_value(json_object_get(root, "chain_id"));
  size_t cl = cid ? strlen(cid) : 0;
  int cid_ok = cl >= 1 && cl <= CHAIN_ID_MAX;
  for (size_t i = 0; cid_ok && i < cl; i++)
    if (!((cid[i] >= 'a' && cid[i] <= 'z') || (cid[i] >= '0' && cid[i] <= '9') ||
          cid[i] == '-' || cid[i] == '_' || cid[i] == '.'))
      cid_ok = 0;
  if (!cid_ok) {
    rc = core_errf(eb, COHORT_ERR_GENESIS,
                   "chain_id: must be 1-%d characters of [a-z0-9._-]", CHAIN_ID_MAX);
    goto out;
  }
  strcpy(g->chain_id, cid);
  if (genesis_time_parse(json_string_value(json_object_get(root, "genesis_time")), &g->time_ms)) {
    rc = core_errf(eb, COHORT_ERR_GENESIS,
                   "genesis_time: must be an RFC 3339 UTC time like \"2026-11-24T00:00:00Z\"");
    goto out;
  }
  if ((rc = parse_params(g, json_object_get(root, "params"), eb))) goto out;
  json_t *acc = json_object_get(root, "accounts");
  if (acc && (rc = parse_accounts(g, acc, sup, eb))) goto out;
  if ((rc = parse_validators(g, json_object_get(root, "validators"), sup, eb))) goto out;
  /* a set's total power stays below 2^63 (proposer priorities,
   * docs/staking.md §3) because every validator's tokens are STK supply */
  if (sup[1] >= UINT64_C(1) << 63) {
    rc = core_errf(eb, COHORT_ERR_GENESIS, "the STK supply (accounts' stk + validators' power) "
                   "must be below 2^63");
    goto out;
  }
  if (g->n_validators > g->params.max_validators) {
    rc = core_errf(eb, COHORT_ERR_GENESIS, "validators: %zu entries, more than "
                   "params.max_validators (%u)", g->n_validators, g->params.max_validators);
    goto out;
  }
  core_sha256(g->hash, text, len);
out:
  json_decref(root);
  if (rc) genesis_free(g);
  return rc;
}

int genesis_load(genesis *g, const char *path, core_errbuf *eb) {
  memset(g, 0, sizeof *g);
  FILE *f = fopen(path, "rb");
  if (!f) return core_errf(eb, COHORT_ERR_IO, "cannot open genesis %s", path);
  char *buf = malloc(GENESIS_MAX_BYTES + 1);
  if (!buf) {
    fclose(f);
    return COHORT_ERR_NOMEM;
  }
  size_t n = fread(buf, 1, GENESIS_MAX_BYTES + 1, f);
  fclose(f);
  int rc = genesis_parse(g, buf, n, eb);
  if (rc && eb) {
    char tmp[sizeof eb->msg];
    memcpy(tmp, eb->msg, sizeof tmp);
    snprintf(eb->msg, sizeof eb->msg, "%.100s: %.150s", path, tmp);
  }
  free(buf);
  return rc;
}

void genesis_free(genesis *g) {
  free(g->accounts);
  free(g->validators);
  memset(g, 0, sizeof *g);
}

static json_t *amount_json(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "%llu", (unsigned long long)v);
  return json_string(b);
}

/* obj[key] = val, consuming val; -1 on failure (val freed). */
static int put(json_t *obj, const char *key, json_t *val) {
  return val && json_object_set_new(obj, key, val) == 0 ? 0 : -1;
}

static char *chain_json(const char *chain_id, uint64_t time_ms, const genesis_params *par,
                        const genesis_validator *vals, size_t n_vals,
                        const genesis_account *accs, size_t n_accs) {
  if (n_vals == 0) return NULL;
  char t[32];
  genesis_time_format(t, time_ms);
  genesis_params def = *par;
  json_t *root = json_object(), *acc = json_array(), *va = json_array();
  /* Every parameter, at its default: the file shows the operator each knob. */
  int bad = !root || put(root, "chain_id", json_string(chain_id)) ||
            put(root, "genesis_time", json_string(t)) ||
            put(root, "params", genesis_params_json(&def));
  for (size_t i = 0; !bad && acc && i < n_accs; i++) {
    char addr[CORE_ADDR_STR_MAX];
    core_addr_encode(addr, accs[i].id);
    json_t *o = json_object();
    bad = !o || put(o, "address", json_string(addr)) || put(o, "crd", amount_json(accs[i].crd)) ||
          put(o, "stk", amount_json(accs[i].stk));
    if (!bad) bad = json_array_append_new(acc, o); /* consumes o, also on failure */
    else json_decref(o);
  }
  for (size_t i = 0; !bad && va && i < n_vals; i++) {
    const genesis_validator *v = &vals[i];
    char pk[65], addr[CORE_ADDR_STR_MAX], bc[65];
    core_hex_encode(pk, v->pubkey, 32);
    core_addr_encode(addr, v->operator_id);
    json_t *o = json_object();
    bad = !o || put(o, "pubkey", json_string(pk)) || put(o, "operator", json_string(addr)) ||
          put(o, "power", amount_json(v->power)) ||
          (v->moniker[0] && put(o, "moniker", json_string(v->moniker)));
    if (!bad && v->has_beacon) {
      core_hex_encode(bc, v->beacon_commit, 32);
      bad = put(o, "beacon_commit", json_string(bc));
    }
    if (!bad && v->has_commission)
      bad = put(o, "commission_bps", json_integer(v->commission_bps)) ||
            put(o, "max_commission_bps", json_integer(v->max_commission_bps)) ||
            put(o, "max_change_bps", json_integer(v->max_change_bps));
    if (!bad) bad = json_array_append_new(va, o); /* consumes o, also on failure */
    else json_decref(o);
  }
  char *s = NULL;
  if (!bad && acc && va) {
    bad = put(root, "accounts", acc) || put(root, "validators", va);
    acc = va = NULL; /* consumed */
    if (!bad) s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  }
  json_decref(acc);
  json_decref(va);
  json_decref(root);
  return s;
}

char *genesis_testnet_json(const char *chain_id, uint64_t time_ms,
                           const genesis_validator *vals, size_t n_vals,
                           const genesis_account *accs, size_t n_accs) {
  genesis_params def;
  genesis_params_default(&def);
  return chain_json(chain_id, time_ms, &def, vals, n_vals, accs, n_accs);
}

char *genesis_devnet_json(const char *chain_id, uint64_t time_ms,
                          const uint8_t val_pub[32], const uint8_t dev_id[20],
                          const uint8_t *beacon_commit) {
  genesis_account a = {.crd = 1000000000000000ull, .stk = 1000000000000ull};
  genesis_validator v = {.power = 100000000000ull, .moniker = "devnet-validator"};
  memcpy(a.id, dev_id, 20);
  memcpy(v.pubkey, val_pub, 32);
  memcpy(v.operator_id, dev_id, 20);
  if (beacon_commit) {
    v.has_beacon = 1;
    memcpy(v.beacon_commit, beacon_commit, 32);
  }
  /* a devnet shows a proposal's whole life in about a minute of blocks */
  genesis_params p;
  genesis_params_default(&p);
  p.gov_deposit_blocks = GENESIS_DEVNET_GOV_DEPOSIT_BLOCKS;
  p.gov_voting_blocks = GENESIS_DEVNET_GOV_VOTING_BLOCKS;
  return chain_json(chain_id, time_ms, &p, &v, 1, &a, 1);
}
