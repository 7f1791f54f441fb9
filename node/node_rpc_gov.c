/* node/node_rpc_gov.c — JSON-RPC methods of governance and the parameters
 * in force (docs/rpc.md "Governance"): params, proposal_get, proposal_list,
 * votes, tally.
 *
 * Every handler runs on the RPC thread (node_int.h): the tip's parameters
 * come from nr_params (the view published at the last commit), records from
 * the committed store. A running tally reads the store record by record
 * while the node thread may commit: it is the tally "as of about now", and
 * the stored one (final) is exact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bech32.h"
#include "core/parse.h"
#include "genesis/params.h"
#include "node/node_int.h"
#include "proto/gov.h"

/* Not on the RPC thread (see node_rpc.c). */
#define state_height(st) use_nr_height_on_the_rpc_thread
#define state_params(st) use_nr_params_on_the_rpc_thread
#define state_validators(st) use_nr_view_on_the_rpc_thread

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define LIST_SCAN_MAX 10000 /* proposals looked at per proposal_list call */
#define VOTES_MAX 10000

static const genesis_param_info *row_of(const char *name) {
  for (size_t i = 0; i < genesis_param_count; i++)
    if (!strcmp(genesis_param_table[i].name, name)) return &genesis_param_table[i];
  return NULL;
}

/* A parameter value as genesis.json writes it: u32 as an integer, u64 as a
 * decimal string. */
static json_t *param_value(const genesis_param_info *r, uint64_t v) {
  if (r && r->kind == GENESIS_PARAM_U32) return json_integer((json_int_t)v);
  return nr_amount(v);
}

static int get_u64(rpc_call *c, json_t *v, const char *name, int required, uint64_t *out) {
  if (!v || json_is_null(v)) {
    if (!required) return 0;
  } else if (json_is_integer(v) && json_integer_value(v) >= 0) {
    *out = (uint64_t)json_integer_value(v);
    return 0;
  } else if (json_is_string(v) && !core_parse_u64(json_string_value(v), out)) {
    return 0;
  }
  char msg[120];
  snprintf(msg, sizeof msg, "params.%s must be a non-negative integer%s", name,
           required ? " (required)" : "");
  rpc_call_error(c, RPC_INVALID_PARAMS, msg, NULL);
  return -1;
}

static int get_limit(rpc_call *c, json_t *v, size_t def, size_t max, size_t *out) {
  uint64_t l = def;
  if (get_u64(c, v, "limit", 0, &l)) return -1;
  if (l < 1 || l > max) {
    char msg[80];
    snprintf(msg, sizeof msg, "params.limit must be 1 to %zu", max);
    rpc_call_error(c, RPC_INVALID_PARAMS, msg, NULL);
    return -1;
  }
  *out = (size_t)l;
  return 0;
}

/* params {name?}: every parameter in force (or one), with its kind,
 * bounds, default, documentation and the height its value took effect. */
static void m_params(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"name", NULL};
  if (nr_check_names(c, params, names)) return;
  json_t *nv = nr_param(params, "name", 0);
  const char *want = nv && !json_is_null(nv) ? json_string_value(nv) : NULL;
  if (nv && !json_is_null(nv) && (!want || !row_of(want))) {
    rpc_call_error(c, RPC_NOT_FOUND, "no such parameter (the params method lists them)", NULL);
    return;
  }
  genesis_params g;
  genesis_params_from_proto(&g, nr_params(n));
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < genesis_param_count; i++) {
    const genesis_param_info *r = &genesis_param_table[i];
    if (want && strcmp(want, r->name)) continue;
    uint64_t since;
    if (state_param_since(n->st, r->name, &since)) {
      json_decref(arr);
      rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot read the parameters' heights", NULL);
      return;
    }
    json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:I}", "name", r->name, "kind",
                          r->kind == GENESIS_PARAM_U32 ? "u32" : "u64", "value",
                          param_value(r, genesis_param_get(&g, r)), "default",
                          param_value(r, r->def), "min", param_value(r, r->min), "max",
                          param_value(r, r->max), "doc", r->doc, "since", (json_int_t)since);
    if (o) json_array_append_new(arr, o);
  }
  json_t *res = json_pack("{s:I, s:o}", "height", (json_int_t)nr_height(n), "params", arr);
  if (!res) {
    rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot build the answer", NULL);
    return;
  }
  rpc_call_reply(c, res);
}

static json_t *proposal_json(const Cohort__GovProposal *p, int full) {
  json_t *j = json_pack("{s:I, s:s, s:s, s:o, s:s, s:I, s:I, s:o}", "id", (json_int_t)p->id,
                        "kind", gov_kind_name(p->kind), "status", gov_status_name(p->status),
                        "proposer", p->proposer.len == 20 ? nr_addrj(p->proposer.data) : json_null(),
                        "title", p->title ? p->title : "", "submit_height",
                        (json_int_t)p->submit_height, "deposit_end", (json_int_t)p->deposit_end,
                        "total_deposit", nr_amount(p->total_deposit));
  if (!j) return NULL;
  if (full) json_object_set_new(j, "description", json_string(p->description ? p->description : ""));
  json_object_set_new(j, "depositors", json_integer((json_int_t)p->depositors));
  if (p->voting_start || p->status == GOV_ST_VOTING) {
    json_object_set_new(j, "voting_start", json_integer((json_int_t)p->voting_start));
    json_object_set_new(j, "voting_end", json_integer((json_int_t)p->voting_end));
  }
  if (p->kind == GOV_KIND_PARAMS) {
    json_t *ch = json_array();
    for (size_t i = 0; ch && i < p->n_changes; i++) {
      const char *nm = p->changes[i]->name ? p->changes[i]->name : "";
      json_array_append_new(ch, json_pack("{s:s, s:o}", "name", nm, "value",
                                          param_value(row_of(nm), p->changes[i]->value)));
    }
    json_object_set_new(j, "changes", ch ? ch : json_null());
    json_object_set_new(j, "apply_height", json_integer((json_int_t)p->apply_height));
    json_object_set_new(j, "applied_height", json_integer((json_int_t)p->applied_height));
  }
  if (p->kind == GOV_KIND_SPEND) {
    json_object_set_new(j, "recipient",
                        p->recipient.len == 20 ? nr_addrj(p->recipient.data) : json_null());
    json_object_set_new(j, "amount", nr_amount(p->amount));
  }
  if (p->final_height) json_object_set_new(j, "final_height", json_integer((json_int_t)p->final_height));
  if (p->final_height && p->status != GOV_ST_EXPIRED)
    json_object_set_new(j, "tally", json_pack("{s:o, s:o, s:o, s:o, s:o}", "yes", nr_amount(p->yes),
                                              "no", nr_amount(p->no), "abstain",
                                              nr_amount(p->abstain), "veto", nr_amount(p->veto),
                                              "bonded", nr_amount(p->bonded)));
  if (p->failed_reason && *p->failed_reason)
    json_object_set_new(j, "failed_reason", json_string(p->failed_reason));
  return j;
}

static int get_id(rpc_call *c, json_t *params, uint64_t *id) {
  if (get_u64(c, nr_param(params, "id", 0), "id", 1, id)) return -1;
  return 0;
}

static int add_deposit(void *ctx, const uint8_t who[20], uint64_t stk) {
  json_array_append_new(ctx, json_pack("{s:o, s:o}", "depositor", nr_addrj(who), "amount",
                                       nr_amount(stk)));
  return json_array_size(ctx) >= LIST_MAX;
}

/* proposal_get {id}: a proposal with its description and current deposits. */
static void m_proposal_get(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"id", NULL};
  if (nr_check_names(c, params, names)) return;
  uint64_t id;
  if (get_id(c, params, &id)) return;
  Cohort__GovProposal *p;
  int rc = state_get_proposal(n->st, id, &p);
  if (rc == COHORT_ERR_NOT_FOUND) {
    rpc_call_error(c, RPC_NOT_FOUND, "no such proposal", NULL);
    return;
  }
  if (rc) {
    rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot read the proposal", NULL);
    return;
  }
  json_t *j = proposal_json(p, 1), *deps = json_array();
  cohort__gov_proposal__free_unpacked(p, NULL);
  if (!j || !deps || state_gov_deposits(n->st, id, add_deposit, deps) < 0) {
    json_decref(j);
    json_decref(deps);
    rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot build the answer", NULL);
    return;
  }
  json_object_set_new(j, "deposits", deps);
  json_object_set_new(j, "min_deposit", nr_amount(nr_params(n)->gov_min_deposit));
  json_object_set_new(j, "height", json_integer((json_int_t)nr_height(n)));
  rpc_call_reply(c, j);
}

/* proposal_list {status?, limit?, before?}: newest first. */
static void m_proposal_list(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"status", "limit", "before", NULL};
  if (nr_check_names(c, params, names)) return;
  json_t *sv = nr_param(params, "status", 0);
  uint32_t want = 0;
  if (sv && !json_is_null(sv)) {
    const char *s = json_string_value(sv);
    if (!s || !(want = gov_status_parse(s))) {
      rpc_call_error(c, RPC_INVALID_PARAMS, "params.status must be deposit, voting, passed, "
                     "rejected, vetoed, no_quorum, expired or failed", NULL);
      return;
    }
  }
  size_t lim;
  uint64_t next, before = 0;
  if (get_limit(c, nr_param(params, "limit", 1), LIST_DEFAULT, LIST_MAX, &lim) ||
      get_u64(c, nr_param(params, "before", 2), "before", 0, &before))
    return;
  if (state_gov_next_id(n->st, &next)) {
    rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot read the proposals", NULL);
    return;
  }
  uint64_t id = before && before < next ? before : next;
  json_t *arr = json_array();
  size_t scanned = 0;
  while (arr && id > 1 && json_array_size(arr) < lim && scanned < LIST_SCAN_MAX) {
    id--;
    scanned++;
    Cohort__GovProposal *p;
    if (state_get_proposal(n->st, id, &p)) continue;
    if (!want || p->status == want) json_array_append_new(arr, proposal_json(p, 0));
    cohort__gov_proposal__free_unpacked(p, NULL);
  }
  json_t *r = json_pack("{s:o, s:I, s:I}", "proposals", arr, "next_id", (json_int_t)next, "height",
                        (json_int_t)nr_height(n));
  /* more to see: ask again with before = the last ID looked at */
  if (r) json_object_set_new(r, "before", id > 1 ? json_integer((json_int_t)id) : json_null());
  rpc_call_reply(c, r);
}

typedef struct {
  json_t *arr;
  size_t lim;
  int more;
} votes_ctx;

static int add_vote(void *ctx, const uint8_t voter[20], uint32_t option, uint64_t height) {
  votes_ctx *v = ctx;
  if (json_array_size(v->arr) >= v->lim) {
    v->more = 1;
    return 1;
  }
  json_array_append_new(v->arr, json_pack("{s:o, s:s, s:I}", "voter", nr_addrj(voter), "option",
                                          gov_option_name(option), "height", (json_int_t)height));
  return 0;
}

/* votes {id, limit?}: the votes cast on a proposal in its voting period
 * (deleted at the tally, which keeps their sum). */
static void m_votes(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"id", "limit", NULL};
  if (nr_check_names(c, params, names)) return;
  uint64_t id;
  size_t lim;
  if (get_id(c, params, &id) || get_limit(c, nr_param(params, "limit", 1), 1000, VOTES_MAX, &lim))
    return;
  Cohort__GovProposal *p;
  if (state_get_proposal(n->st, id, &p)) {
    rpc_call_error(c, RPC_NOT_FOUND, "no such proposal", NULL);
    return;
  }
  uint32_t st = p->status;
  cohort__gov_proposal__free_unpacked(p, NULL);
  votes_ctx v = {json_array(), lim, 0};
  if (!v.arr || state_gov_votes(n->st, id, add_vote, &v) < 0) {
    json_decref(v.arr);
    rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot read the votes", NULL);
    return;
  }
  json_t *r = json_pack("{s:I, s:s, s:o, s:b, s:I}", "id", (json_int_t)id, "status",
                        gov_status_name(st), "votes", v.arr, "truncated", v.more, "height",
                        (json_int_t)nr_height(n));
  rpc_call_reply(c, r);
}

/* tally {id}: the running tally of a proposal in its voting period (over
 * the set that signs the next block, as if its period ended now), or the
 * final one of a tallied proposal. */
static void m_tally(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"id", NULL};
  if (nr_check_names(c, params, names)) return;
  uint64_t id;
  if (get_id(c, params, &id)) return;
  Cohort__GovProposal *p;
  if (state_get_proposal(n->st, id, &p)) {
    rpc_call_error(c, RPC_NOT_FOUND, "no such proposal", NULL);
    return;
  }
  const Cohort__Params *par = nr_params(n);
  uint64_t h = nr_height(n);
  state_tally t = {0};
  uint32_t outcome = 0;
  int final = 0, rc = 0;
  if (p->status == GOV_ST_VOTING) {
    Cohort__ValidatorSet *vs;
    rc = state_read_validators_at(n->st, h + 1, &vs);
    if (!rc) {
      rc = state_gov_tally(n->st, id, vs, par, &t, &outcome);
      cohort__validator_set__free_unpacked(vs, NULL);
    }
  } else if (p->final_height && p->status != GOV_ST_EXPIRED) {
    final = 1;
    t = (state_tally){p->yes, p->no, p->abstain, p->veto, p->bonded, 0};
    outcome = p->status;
  } else {
    char msg[160];
    snprintf(msg, sizeof msg, "proposal %llu has no tally: it is %s (it never reached voting)",
             (unsigned long long)id, gov_status_name(p->status));
    cohort__gov_proposal__free_unpacked(p, NULL);
    rpc_call_error(c, RPC_NOT_FOUND, msg, NULL);
    return;
  }
  uint64_t vend = p->voting_end;
  uint32_t status = p->status;
  cohort__gov_proposal__free_unpacked(p, NULL);
  if (rc) {
    rpc_call_error(c, RPC_INTERNAL_ERROR, "cannot compute the tally", NULL);
    return;
  }
  json_t *r = json_pack("{s:I, s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:s, s:I, s:I}", "id",
                        (json_int_t)id, "status", gov_status_name(status), "final", final, "yes",
                        nr_amount(t.yes), "no", nr_amount(t.no), "abstain", nr_amount(t.abstain),
                        "veto", nr_amount(t.veto), "bonded", nr_amount(t.bonded),
                        final ? "outcome" : "outcome_if_ended_now", gov_status_name(outcome),
                        "voting_end", (json_int_t)vend, "height", (json_int_t)h);
  if (r && !final) {
    json_object_set_new(r, "votes", json_integer((json_int_t)t.votes));
    json_object_set_new(r, "rules", json_pack("{s:i, s:i, s:i}", "quorum_bps",
                                              (int)par->gov_quorum_bps, "threshold_bps",
                                              (int)par->gov_threshold_bps, "veto_bps",
                                              (int)par->gov_veto_bps));
  }
  rpc_call_reply(c, r);
}

/* Weights count against [rpc] max_batch_weight (docs/rpc.md). */
const rpc_method node_rpc_gov_methods[] = {
    {"params", m_params, 2},          {"proposal_get", m_proposal_get, 2},
    {"proposal_list", m_proposal_list, 10}, {"votes", m_votes, 10},
    {"tally", m_tally, 20},
};
const size_t node_rpc_gov_n_methods = sizeof node_rpc_gov_methods / sizeof node_rpc_gov_methods[0];
