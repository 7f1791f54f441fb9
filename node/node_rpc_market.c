/* node/node_rpc_market.c — JSON-RPC methods of the compute market
 * (docs/rpc.md): executors, blobs, tasks, outputs, and compute_simulate,
 * which runs the VM on libuv's thread pool, never on an event loop.
 *
 * Every handler runs on the RPC thread (node_int.h): read the tip with
 * nr_height/nr_params and the mempool with nr_mempool_*; the state's cached
 * tip is poisoned below. compute_simulate runs in slices of SIM_SLICE
 * steps, checking between slices that its client is still connected, that
 * the node is not stopping, and that the client's address has steps left
 * in its per-minute quota; at most [rpc] simulate_max_concurrent run at
 * once, simulate_concurrent_per_ip per address. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bech32.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/parse.h"
#include "node/node_int.h"
#include "proto/market.h"
#include "vm/vm.h"

/* Not on the RPC thread (see the top of this file). */
#define state_height(st) use_nr_height_on_the_rpc_thread
#define state_params(st) use_nr_params_on_the_rpc_thread
#define state_validators(st) use_nr_view_on_the_rpc_thread
#define mempool_has(mp, h) use_nr_mempool_has_on_the_rpc_thread
#define mempool_has_task(mp, id) use_nr_mempool_has_task_on_the_rpc_thread

static const char *task_status(uint32_t s) { return market_status_name(s); }

static json_t *executor_json(const uint8_t id[20], const Cohort__Executor *e,
                             const Cohort__Params *p) {
  json_t *j = json_pack("{s:o, s:o, s:o, s:b, s:o, s:o, s:i, s:I}", "address", nr_addrj(id), "stake",
                        nr_amount(e->stake), "price_per_msteps", nr_amount(e->price_per_msteps),
                        "accepting", e->accepting, "unbonding", nr_amount(e->unbonding),
                        "slashed_total", nr_amount(e->slashed_total), "active_tasks",
                        (int)e->active_tasks, "tasks_done", (json_int_t)e->tasks_done);
  if (j) {
    json_object_set_new(j, "capacity", json_integer(e->capacity));
    json_object_set_new(j, "jailed_until", json_integer((json_int_t)e->jailed_until));
    json_object_set_new(j, "seat_lock", nr_amount(e->seat_lock));
    json_object_set_new(j, "price_per_task", nr_amount(e->price_per_task));
    /* its delegators' side (docs/staking.md §8) */
    json_object_set_new(j, "delegated", nr_amount(e->del_tokens));
    json_object_set_new(j, "draw_weight", nr_amount(state_exec_draw_weight(e, p)));
    json_object_set_new(j, "delegator_shares", nr_amount(e->del_shares));
    json_object_set_new(j, "delegated_unbonding", nr_amount(e->del_unbonding));
    json_object_set_new(j, "delegated_waiting", nr_amount(e->del_pending));
    json_object_set_new(j, "commission_bps", json_integer(e->commission_bps));
    if (e->commission_at) {
      json_object_set_new(j, "commission_next", json_integer(e->commission_next));
      json_object_set_new(j, "commission_at", json_integer((json_int_t)e->commission_at));
    }
  }
  return j;
}

static void m_executor_get(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"address", NULL};
  if (nr_check_names(c, params, names)) return;
  uint8_t id[20];
  if (nr_get_addr(c, nr_param(params, "address", 0), "address", id)) return;
  Cohort__Executor *e;
  if (state_get_executor(n->st, id, &e)) {
    rpc_call_error(c, RPC_NOT_FOUND, "not a registered executor", NULL);
    return;
  }
  rpc_call_reply(c, executor_json(id, e, nr_params(n)));
  cohort__executor__free_unpacked(e, NULL);
}

typedef struct {
  json_t *arr;
  const Cohort__Params *p;
} exec_list;

static int list_exec(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  exec_list *l = ctx;
  if (kl != 22) return 0;
  Cohort__Executor *e = cohort__executor__unpack(NULL, vl, v);
  if (!e) return 0;
  json_array_append_new(l->arr, executor_json(k + 2, e, l->p));
  cohort__executor__free_unpacked(e, NULL);
  return json_array_size(l->arr) >= 1000;
}

static void m_executor_list(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  (void)params;
  exec_list l = {json_array(), nr_params(n)};
  state_scan(n->st, "e/", list_exec, &l);
  json_t *arr = l.arr;
  rpc_call_reply(c, json_pack("{s:o, s:I}", "executors", arr, "height",
                              (json_int_t)nr_height(n)));
}

static void m_blob_get(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"hash", "data", NULL};
  if (nr_check_names(c, params, names)) return;
  uint8_t h[32];
  if (nr_get_hash(c, nr_param(params, "hash", 0), "hash", h)) return;
  json_t *dv = nr_param(params, "data", 1);
  Cohort__Blob *b;
  if (state_get_blob(n->st, h, &b)) {
    rpc_call_error(c, RPC_NOT_FOUND, "no blob with that hash", NULL);
    return;
  }
  json_t *r = json_pack("{s:o, s:I, s:b, s:I, s:o}", "hash", nr_hexj(h, 32), "size",
                        (json_int_t)b->data.len, "is_program", b->is_program, "height",
                        (json_int_t)b->height, "uploader", nr_addrj(b->uploader.data));
  if (dv && json_is_true(dv)) {
    char *b64 = core_base64_encode(b->data.data, b->data.len);
    json_object_set_new(r, "data_base64", json_string(b64 ? b64 : ""));
    free(b64);
  }
  cohort__blob__free_unpacked(b, NULL);
  rpc_call_reply(c, r);
}

static json_t *claim_json(const Cohort__Claim *cl) {
  if (!cl) return json_null();
  return json_pack("{s:o, s:I, s:s, s:i, s:o}", "final_state", nr_hexj(cl->final_state.data, 32),
                   "steps", (json_int_t)cl->steps, "status", cohort_vm_status_str(cl->status),
                   "code", (int)cl->code, "output_hash", nr_hexj(cl->output_hash.data, 32));
}

static json_t *task_json(const uint8_t id[32], const Cohort__Task *t, int full) {
  json_t *members = json_array();
  for (size_t i = 0; i < t->n_members; i++) {
    const Cohort__TaskMember *m = t->members[i];
    json_array_append_new(members, json_pack("{s:o, s:b, s:b, s:b, s:o, s:o, s:o, s:i}", "executor",
                                             nr_addrj(m->executor.data), "committed",
                                             m->commitment.len > 0, "revealed", m->claim != NULL,
                                             "replaced", m->replaced, "claim", claim_json(m->claim),
                                             "price_per_msteps", nr_amount(m->price_per_msteps),
                                             "stake", nr_amount(m->stake), "attempt",
                                             (int)m->attempt));
    json_object_set_new(json_array_get(members, i), "lost", json_boolean(m->lost));
    /* its draw weight's delegated part and its draw (docs/staking.md §8) */
    json_object_set_new(json_array_get(members, i), "delegated", nr_amount(m->delegated));
    json_object_set_new(json_array_get(members, i), "seated_height",
                        json_integer((json_int_t)m->seated_height));
  }
  json_t *j = json_pack(
      "{s:o, s:s, s:i, s:o, s:o, s:o, s:I, s:i, s:i, s:o, s:o, s:o, s:I, s:I, s:i, s:o, s:o}",
      "task_id", nr_hexj(id, 32), "status", task_status(t->status), "status_code", (int)t->status,
      "owner", nr_addrj(t->owner.data), "program", nr_hexj(t->program.data, 32), "input_hash",
      nr_hexj(t->input_hash.data, 32), "max_steps", (json_int_t)t->max_steps, "mem_mib",
      (int)t->mem_mib, "committee", (int)t->committee, "reward", nr_amount(t->reward), "paid",
      nr_amount(t->paid), "refunded", nr_amount(t->refunded), "submitted_height",
      (json_int_t)t->submitted_height, "deadline", (json_int_t)t->deadline, "attempt",
      (int)t->attempt, "members", members, "result", claim_json(t->result));
  json_object_set_new(j, "initial_state", nr_hexj(t->initial_state.data, t->initial_state.len));
  json_object_set_new(j, "max_output_bytes", json_integer(t->max_output_bytes));
  json_object_set_new(j, "quorum", json_integer(t->quorum));
  json_object_set_new(j, "fee_allowance", nr_amount(t->fee_allowance));
  json_object_set_new(j, "fees_repaid", nr_amount(t->fees_repaid));
  json_object_set_new(j, "draw_height", json_integer((json_int_t)t->draw_height));
  json_object_set_new(j, "commit_blocks", json_integer(t->commit_blocks));
  json_object_set_new(j, "reveal_blocks", json_integer(t->reveal_blocks));
  json_object_set_new(j, "pruned", json_boolean(t->pruned));
  if (t->input_blob.len == 32) json_object_set_new(j, "input_blob", nr_hexj(t->input_blob.data, 32));
  if (t->final_height) json_object_set_new(j, "final_height", json_integer((json_int_t)t->final_height));
  json_object_set_new(j, "games", json_integer(t->games));
  if (t->challenger.len == 20) {
    json_object_set_new(j, "challenger", nr_addrj(t->challenger.data));
    json_object_set_new(j, "bond", nr_amount(t->bond));
  }
  if (t->game) { /* the verification game being played (docs/tasks.md) */
    const Cohort__Game *g = t->game;
    static const char *ph[] = {"?", "bisect", "select", "prove"};
    uint32_t mover_seat = g->phase == 2 ? g->challenger : g->defender;
    json_t *gj = json_pack("{s:i, s:i, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:i, s:I, s:I, s:I, s:i}",
                           "defender", (int)g->defender, "challenger", (int)g->challenger, "phase",
                           g->phase < 4 ? ph[g->phase] : "?", "to_move",
                           g->phase == 2 ? "challenger" : "defender", "steps",
                           (json_int_t)g->steps, "lo", (json_int_t)g->lo, "hi", (json_int_t)g->hi,
                           "h_lo", nr_hexj(g->h_lo.data, g->h_lo.len), "h_hi",
                           nr_hexj(g->h_hi.data, g->h_hi.len), "round", (int)g->round,
                           "deadline", (json_int_t)g->deadline, "clock_defender",
                           (json_int_t)g->clock_defender, "clock_challenger",
                           (json_int_t)g->clock_challenger, "arity", (int)g->arity);
    if (gj && mover_seat < t->n_members)
      json_object_set_new(gj, "mover", nr_addrj(t->members[mover_seat]->executor.data));
    else if (gj && mover_seat == 4294967295u && t->challenger.len == 20)
      json_object_set_new(gj, "mover", nr_addrj(t->challenger.data));
    if (gj && g->challenger == 4294967295u) /* the outside challenger */
      json_object_set_new(gj, "challenger", json_integer(-1));
    if (gj && g->hashes.len) {
      json_t *hs = json_array();
      for (size_t i = 0; i + 32 <= g->hashes.len; i += 32)
        json_array_append_new(hs, nr_hexj(g->hashes.data + i, 32));
      json_object_set_new(gj, "hashes", hs);
    }
    if (gj) json_object_set_new(j, "game", gj);
  }
  if (full) {
    json_t *tl = json_array();
    for (size_t i = 0; i < t->n_timeline; i++) {
      const Cohort__TaskEvent *e = t->timeline[i];
      char detail[200];
      market_event_text(e, detail, sizeof detail);
      if (e->code == 2 && e->hash.len == 32) {
        /* drawn: the sentence names the whole beacon (market_event_text
         * abbreviates hashes), so a draw can be recomputed from the answer */
        char bh[65];
        core_hex_encode(bh, e->hash.data, 32);
        snprintf(detail, sizeof detail, "seat %llu, stake %llu (locked until the task settles); beacon %s",
                 (unsigned long long)e->a, (unsigned long long)e->b, bh);
      }
      json_t *ej = json_pack("{s:I, s:s, s:i, s:s, s:I, s:I}", "height", (json_int_t)e->height,
                             "event", market_event_name(e->code), "code", (int)e->code, "detail",
                             detail, "a", (json_int_t)e->a, "b", (json_int_t)e->b);
      if (e->hash.len == 32) json_object_set_new(ej, "hash", nr_hexj(e->hash.data, 32));
      if (e->code == 2 && e->hash.len == 32) json_object_set_new(ej, "beacon", nr_hexj(e->hash.data, 32));
      if (e->executor.len == 20) json_object_set_new(ej, "executor", nr_addrj(e->executor.data));
      json_array_append_new(tl, ej);
    }
    json_object_set_new(j, "timeline", tl);
  }
  return j;
}

static void m_task_get(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"task_id", NULL};
  if (nr_check_names(c, params, names)) return;
  uint8_t id[32];
  if (nr_get_hash(c, nr_param(params, "task_id", 0), "task_id", id)) return;
  Cohort__Task *t;
  if (state_get_task(n->st, id, &t)) {
    int pending = nr_mempool_has_task(n, id);
    rpc_call_error(c, RPC_NOT_FOUND,
                   pending ? "the task's submit tx is in the mempool, not yet committed"
                           : "no such task (a task ID is sha256(\"cohort/task/v1\" || sender || "
                             "nonce); see docs/tasks.md)",
                   json_pack("{s:b}", "pending", pending));
    return;
  }
  json_t *j = task_json(id, t, 1);
  json_object_set_new(j, "height", json_integer((json_int_t)nr_height(n)));
  cohort__task__free_unpacked(t, NULL);
  rpc_call_reply(c, j);
}

static void m_task_list(void *ctx, rpc_call *c, json_t *params);

/* dispute_get {task_id}: the verification game of a task, for a party or
 * a watcher: its status, the game being played (whose move, the range, the
 * deadline), the challenger and bond, each member's claim and whether it
 * lost, and the game's events. */
static void m_dispute_get(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"task_id", NULL};
  if (nr_check_names(c, params, names)) return;
  uint8_t id[32];
  if (nr_get_hash(c, nr_param(params, "task_id", 0), "task_id", id)) return;
  Cohort__Task *t;
  if (state_get_task(n->st, id, &t)) {
    rpc_call_error(c, RPC_NOT_FOUND, "no such task", NULL);
    return;
  }
  json_t *full = task_json(id, t, 1);
  int played = t->games > 0 || t->game != NULL;
  cohort__task__free_unpacked(t, NULL);
  if (!played) {
    json_decref(full);
    rpc_call_error(c, RPC_NOT_FOUND, "this task has no verification game (its members agree, "
                   "or it was never challenged)", NULL);
    return;
  }
  json_t *r = json_object();
  static const char *const keep[] = {"task_id", "status", "games", "game", "challenger", "bond",
                                     "result", "initial_state", NULL};
  for (size_t i = 0; keep[i]; i++) {
    json_t *v = json_object_get(full, keep[i]);
    if (v) json_object_set(r, keep[i], v);
  }
  json_t *parties = json_array(), *events = json_array(), *m, *e;
  size_t i;
  json_array_foreach(json_object_get(full, "members"), i, m) {
    if (json_is_true(json_object_get(m, "replaced")) || !json_is_object(json_object_get(m, "claim")))
      continue;
    json_array_append_new(parties, json_pack("{s:i, s:O, s:O, s:O}", "seat", (int)i, "executor",
                                             json_object_get(m, "executor"), "claim",
                                             json_object_get(m, "claim"), "lost",
                                             json_object_get(m, "lost")));
  }
  json_array_foreach(json_object_get(full, "timeline"), i, e) {
    json_int_t code = json_integer_value(json_object_get(e, "code"));
    if (code == 7 || code == 8 || code == 9 || code == 10 || code == 11 || (code >= 15 && code <= 18))
      json_array_append(events, e);
  }
  json_object_set_new(r, "members", parties);
  json_object_set_new(r, "events", events);
  json_object_set_new(r, "height", json_integer((json_int_t)nr_height(n)));
  json_decref(full);
  rpc_call_reply(c, r);
}

/* dispute_list {limit}: the tasks in a verification game now. */
static void m_dispute_list(void *ctx, rpc_call *c, json_t *params) {
  static const char *const names[] = {"limit", NULL};
  if (nr_check_names(c, params, names)) return;
  json_t *lv = nr_param(params, "limit", 0);
  json_t *p = json_pack("{s:s}", "status", "disputed");
  if (lv) json_object_set(p, "limit", lv);
  m_task_list(ctx, c, p);
  json_decref(p);
}

/* The task named by params.task_id, or NULL after answering the error. */
static Cohort__Task *task_param(node *n, rpc_call *c, json_t *params, uint8_t id[32]) {
  static const char *const names[] = {"task_id", NULL};
  if (nr_check_names(c, params, names)) return NULL;
  if (nr_get_hash(c, nr_param(params, "task_id", 0), "task_id", id)) return NULL;
  Cohort__Task *t;
  if (state_get_task(n->st, id, &t)) {
    rpc_call_error(c, RPC_NOT_FOUND, "no such task", NULL);
    return NULL;
  }
  return t;
}

static void m_task_output(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  uint8_t id[32];
  Cohort__Task *t = task_param(n, c, params, id);
  if (!t) return;
  if (!t->result) {
    char msg[160];
    snprintf(msg, sizeof msg, "task has no agreed output yet (status %s)", task_status(t->status));
    rpc_call_error(c, RPC_NOT_FOUND, msg, json_pack("{s:s}", "status", task_status(t->status)));
    cohort__task__free_unpacked(t, NULL);
    return;
  }
  uint8_t *out;
  size_t len;
  if (state_get_output(n->st, id, t->result->output_hash.data, &out, &len)) {
    cohort__task__free_unpacked(t, NULL);
    rpc_call_error(c, RPC_INTERNAL_ERROR, "agreed output missing from the store", NULL);
    return;
  }
  char *b64 = core_base64_encode(out, len);
  json_t *j = json_pack("{s:o, s:s, s:o, s:I, s:s, s:i, s:I, s:s}", "task_id", nr_hexj(id, 32),
                        "status", task_status(t->status), "output_hash",
                        nr_hexj(t->result->output_hash.data, 32), "size", (json_int_t)len,
                        "exit", cohort_vm_status_str(t->result->status), "code",
                        (int)t->result->code, "steps", (json_int_t)t->result->steps,
                        "output_base64", b64 ? b64 : "");
  free(b64);
  free(out);
  cohort__task__free_unpacked(t, NULL);
  rpc_call_reply(c, j);
}

static void m_task_input(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  uint8_t id[32];
  Cohort__Task *t = task_param(n, c, params, id);
  if (!t) return;
  uint8_t *in = NULL;
  size_t len = 0;
  int rc;
  if (t->input_blob.len == 32) {
    Cohort__Blob *b;
    rc = state_get_blob(n->st, t->input_blob.data, &b);
    if (!rc) {
      in = malloc(b->data.len ? b->data.len : 1);
      if (in) memcpy(in, b->data.data, b->data.len);
      len = b->data.len;
      cohort__blob__free_unpacked(b, NULL);
    }
  } else {
    rc = state_get_task_input(n->st, id, &in, &len);
  }
  cohort__task__free_unpacked(t, NULL);
  if (rc || !in) {
    free(in);
    rpc_call_error(c, RPC_INTERNAL_ERROR, "task input missing from the store", NULL);
    return;
  }
  char *b64 = core_base64_encode(in, len);
  rpc_call_reply(c, json_pack("{s:o, s:I, s:s}", "task_id", nr_hexj(id, 32), "size",
                              (json_int_t)len, "input_base64", b64 ? b64 : ""));
  free(b64);
  free(in);
}

typedef struct {
  node *n;
  json_t *arr;
  int has_owner, has_exec, status, by_deadline;
  uint8_t owner[20], exec[20];
  size_t limit;
} list_ctx;

static int list_task_visit(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  list_ctx *l = ctx;
  const uint8_t *id;
  Cohort__Task *t = NULL;
  if (l->has_owner || l->has_exec) { /* "y/" + owner + id or "w/" + executor + id */
    if (kl != 54) return 0;
    id = k + 22;
    if (state_get_task(l->n->st, id, &t)) return 0;
  } else if (l->by_deadline) { /* "d/" + u8(kind) + u64be(h) + id: a window closes */
    if (kl != 43) return 0;
    id = k + 11;
    if (state_get_task(l->n->st, id, &t)) return 0;
  } else {
    if (kl != 34) return 0;
    id = k + 2;
    t = cohort__task__unpack(NULL, vl, v);
    if (!t) return 0;
  }
  int ok = !l->status || (int)t->status == l->status;
  if (ok && l->has_exec) {
    ok = 0;
    for (size_t i = 0; i < t->n_members; i++)
      if (!t->members[i]->replaced && !memcmp(t->members[i]->executor.data, l->exec, 20)) ok = 1;
  }
  if (ok) json_array_append_new(l->arr, task_json(id, t, 0));
  cohort__task__free_unpacked(t, NULL);
  return json_array_size(l->arr) >= l->limit;
}

static void m_task_list(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"owner", "executor", "status", "limit", NULL};
  if (nr_check_names(c, params, names)) return;
  list_ctx l = {.n = n, .limit = 100};
  json_t *ov = nr_param(params, "owner", 0), *ev = nr_param(params, "executor", 1),
         *sv = nr_param(params, "status", 2), *lv = nr_param(params, "limit", 3);
  if (ov && !json_is_null(ov)) {
    if (nr_get_addr(c, ov, "owner", l.owner)) return;
    l.has_owner = 1;
  }
  if (ev && !json_is_null(ev)) {
    if (nr_get_addr(c, ev, "executor", l.exec)) return;
    l.has_exec = 1;
  }
  if (sv && !json_is_null(sv)) {
    const char *s = json_string_value(sv);
    /* every status task_get shows, "drawing" (7) included */
    for (int i = 1; s && i <= 7; i++)
      if (!strcmp(s, task_status((uint32_t)i))) l.status = i;
    if (!l.status) {
      rpc_call_error(c, RPC_INVALID_PARAMS, "params.status must be drawing, committing, revealing, "
                     "agreed, final, disputed or expired", NULL);
      return;
    }
  }
  if (lv && !json_is_null(lv)) {
    if (!json_is_integer(lv) || json_integer_value(lv) < 1 || json_integer_value(lv) > 1000) {
      rpc_call_error(c, RPC_INVALID_PARAMS, "params.limit must be an integer in [1, 1000]", NULL);
      return;
    }
    l.limit = (size_t)json_integer_value(lv);
  }
  l.arr = json_array();
  if (l.has_owner || l.has_exec) {
    /* tasks by owner ("y/"), or the seats an executor holds ("w/"); an ID
     * may contain zero bytes: scan with an explicit length */
    uint8_t pre[22] = {l.has_owner ? 'y' : 'w', '/'};
    memcpy(pre + 2, l.has_owner ? l.owner : l.exec, 20);
    state_scan_n(n->st, pre, 22, list_task_visit, &l);
  } else if ((l.status >= 1 && l.status <= 3) || l.status == 5) {
    /* committing, revealing, agreed and disputed tasks all have a window
     * (a disputed one: its game's deadline) closing at some height: the
     * "d/" schedule of kind 2 (WINDOW, state/market/market_int.h) indexes
     * them, O(open tasks) rather than O(all tasks). (Final and expired
     * have no complete index in state yet:
     * "d/" kind 3 holds final and expired ones only until they are pruned;
     * a scan of "t/" until `limit` match.) */
    static const uint8_t pre[3] = {'d', '/', 2};
    l.by_deadline = 1;
    state_scan_n(n->st, pre, sizeof pre, list_task_visit, &l);
  } else {
    state_scan(n->st, "t/", list_task_visit, &l);
  }
  rpc_call_reply(c, json_pack("{s:o, s:I}", "tasks", l.arr, "height", (json_int_t)nr_height(n)));
}

/* ---- compute_simulate on the thread pool ---- */

#define SIM_SLICE (1u << 20) /* steps between checks: a few ms */
#define SIM_CLIENTS 256      /* addresses whose quota is remembered */

/* Limits, set once from the config before the RPC server starts. */
static uint64_t sim_max_concurrent = 2, sim_per_ip = 1, sim_max_steps = 10000000000ull,
                sim_max_mem_mib = 256, sim_steps_per_min = 10000000000ull;

void node_rpc_market_config(const node_config *cfg) {
  sim_max_concurrent = cfg->sim_max_concurrent;
  sim_per_ip = cfg->sim_concurrent_per_ip;
  sim_max_steps = cfg->sim_max_steps;
  sim_max_mem_mib = cfg->sim_max_mem_mib;
  sim_steps_per_min = cfg->sim_steps_per_minute;
}

/* Per-address quota: simulations running and a bucket of steps refilled at
 * steps_per_minute / 60000 per ms, up to steps_per_minute. Under sim_mu:
 * the RPC thread admits, the pool's threads charge steps. */
typedef struct {
  char addr[64];
  unsigned running;
  int64_t tokens;
  uint64_t at_ms; /* last refill */
} sim_client;

static uv_once_t sim_once = UV_ONCE_INIT;
static uv_mutex_t sim_mu;
static sim_client sim_clients[SIM_CLIENTS];
static unsigned sim_inflight; /* under sim_mu */
static atomic_ullong sim_m_started, sim_m_done, sim_m_cancelled, sim_m_quota, sim_m_refused,
    sim_m_steps;

static void sim_init(void) { uv_mutex_init(&sim_mu); }

static uint64_t mono_ms(void) { return uv_hrtime() / 1000000; }

static void refill(sim_client *q, uint64_t now) {
  if (now <= q->at_ms) return;
  int64_t cap = sim_steps_per_min > INT64_MAX ? INT64_MAX : (int64_t)sim_steps_per_min;
  __int128 t = (__int128)q->tokens +
               (__int128)((unsigned __int128)sim_steps_per_min * (now - q->at_ms) / 60000);
  q->tokens = t > cap ? cap : (int64_t)t;
  q->at_ms = now;
}

/* The quota entry of addr (sim_mu held): found, or a free or idle one
 * reused (an idle entry's bucket is full again within a minute anyway). */
static sim_client *sim_client_get(const char *addr, uint64_t now) {
  sim_client *free_q = NULL, *oldest = NULL;
  for (size_t i = 0; i < SIM_CLIENTS; i++) {
    sim_client *q = &sim_clients[i];
    if (q->addr[0] && !strcmp(q->addr, addr)) return q;
    if (!q->addr[0] && !free_q) free_q = q;
    if (q->addr[0] && !q->running && (!oldest || q->at_ms < oldest->at_ms)) oldest = q;
  }
  sim_client *q = free_q ? free_q : oldest;
  if (!q) return NULL;
  snprintf(q->addr, sizeof q->addr, "%s", addr);
  q->running = 0;
  q->tokens = sim_steps_per_min > INT64_MAX ? INT64_MAX : (int64_t)sim_steps_per_min;
  q->at_ms = now;
  return q;
}

typedef struct {
  uv_work_t req;
  node *n;
  rpc_call *c;
  sim_client *q;
  uint8_t *elf, *input;
  size_t elf_len, input_len;
  cohort_vm_config cfg;
  uint32_t committee;
  /* results */
  int rc;
  int cancelled, quota_hit;
  core_errbuf eb;
  cohort_vm_info info;
  uint8_t final[32];
  uint8_t *out;
  size_t out_len;
  double secs;
} sim_job;

/* Charge steps to the job's address; 0 while its bucket is not empty. */
static int charge(sim_job *j, uint64_t steps) {
  atomic_fetch_add(&sim_m_steps, steps);
  uv_mutex_lock(&sim_mu);
  refill(j->q, mono_ms());
  j->q->tokens -= steps > INT64_MAX ? INT64_MAX : (int64_t)steps;
  int empty = j->q->tokens <= 0;
  uv_mutex_unlock(&sim_mu);
  return empty;
}

static void sim_work(uv_work_t *r) {
  sim_job *j = r->data;
  cohort_vm *vm;
  uint64_t t0 = uv_hrtime();
  j->rc = cohort_vm_new(&vm, j->elf, j->elf_len, j->input, j->input_len, &j->cfg, &j->eb);
  if (j->rc) return;
  /* In slices, so that a client that left, a stopping node or a spent quota
   * ends the run within a slice. */
  uint64_t total = 0, done;
  for (;;) {
    uint64_t slice = j->cfg.max_steps - total < SIM_SLICE ? j->cfg.max_steps - total : SIM_SLICE;
    cohort_vm_run(vm, slice, &done);
    total += done;
    int empty = charge(j, done);
    if (done < slice || total >= j->cfg.max_steps) break; /* halted, or out of steps */
    if (!rpc_call_client_alive(j->c) || atomic_load(&j->n->stopping)) {
      j->cancelled = 1;
      break;
    }
    if (empty) {
      j->quota_hit = 1;
      break;
    }
  }
  if (!j->cancelled && !j->quota_hit) {
    cohort_vm_get_info(vm, &j->info);
    cohort_vm_state_hash(vm, j->final);
    const uint8_t *o = cohort_vm_output(vm, &j->out_len);
    j->out = malloc(j->out_len ? j->out_len : 1);
    if (j->out) memcpy(j->out, o, j->out_len);
  } else {
    cohort_vm_get_info(vm, &j->info);
  }
  cohort_vm_del(vm);
  j->secs = (double)(uv_hrtime() - t0) / 1e9;
}

/* What each executor the draw could pick would charge for a seat of
 * `steps` (proto/market.h market_seat_cost: the per-seat price included),
 * with the draw's availability rule (state/market/market_draw.c) except
 * its per-task ones (owner, former members, capacity). */
typedef struct {
  uint64_t prices[1024];
  size_t n;
  uint64_t min_stake, steps;
} price_ctx;

static int price_visit(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  price_ctx *p = ctx;
  (void)k;
  if (kl != 22) return 0;
  Cohort__Executor *e = cohort__executor__unpack(NULL, vl, v);
  if (!e) return 0;
  if (e->accepting && e->stake >= p->min_stake && e->stake > 0 && !e->jailed_until && p->n < 1024)
    p->prices[p->n++] = market_seat_cost(e->price_per_msteps, e->price_per_task, p->steps);
  cohort__executor__free_unpacked(e, NULL);
  return 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void sim_done(uv_work_t *r, int status) {
  sim_job *j = r->data;
  node *n = j->n;
  uv_mutex_lock(&sim_mu);
  sim_inflight--;
  j->q->running--;
  uv_mutex_unlock(&sim_mu);
  if (j->cancelled || status) {
    atomic_fetch_add(&sim_m_cancelled, 1);
    rpc_call_error(j->c, RPC_UNAVAILABLE, "simulation cancelled: the client left or the node "
                   "is stopping", NULL);
  } else if (j->quota_hit) {
    atomic_fetch_add(&sim_m_quota, 1);
    char msg[300];
    snprintf(msg, sizeof msg, "simulation stopped after %llu steps: your address (%s) used its "
             "quota of %llu steps per minute ([rpc] simulate_steps_per_minute); retry later",
             (unsigned long long)j->info.step, rpc_call_client_addr(j->c),
             (unsigned long long)sim_steps_per_min);
    rpc_call_error(j->c, RPC_LIMIT_EXCEEDED, msg,
                   json_pack("{s:I}", "steps", (json_int_t)j->info.step));
  } else if (j->rc) {
    atomic_fetch_add(&sim_m_done, 1);
    char msg[300];
    snprintf(msg, sizeof msg, "the VM cannot run this program: %s", j->eb.msg);
    rpc_call_error(j->c, RPC_INVALID_PARAMS, msg, NULL);
  } else {
    atomic_fetch_add(&sim_m_done, 1);
    /* Reward needed at current prices: k members, each paid at most
     * reward/k, each eligible only if its seat cost (price_per_task +
     * price * max_steps / 10^6) fits in that: the k-th cheapest seat, k times. */
    uint64_t suggested = j->info.step + j->info.step / 10 + 1000;
    price_ctx pc = {.min_stake = nr_params(n)->min_executor_stake, .steps = suggested};
    state_scan(n->st, "e/", price_visit, &pc);
    qsort(pc.prices, pc.n, sizeof pc.prices[0], cmp_u64);
    json_t *need = json_null();
    if (pc.n >= j->committee && j->committee) {
      unsigned __int128 per = pc.prices[j->committee - 1];
      unsigned __int128 tot = per * j->committee;
      if (tot < j->committee) tot = j->committee;
      if (tot <= UINT64_MAX) {
        json_decref(need);
        need = nr_amount((uint64_t)tot);
      }
    }
    char *b64 = core_base64_encode(j->out ? j->out : (const uint8_t *)"", j->out ? j->out_len : 0);
    json_t *res = json_pack(
        "{s:I, s:s, s:i, s:o, s:I, s:s, s:I, s:o, s:i, s:i, s:f}", "steps", (json_int_t)j->info.step,
        "status", cohort_vm_status_str(j->info.status), "code", (int)j->info.code, "final_state",
        nr_hexj(j->final, 32), "output_size", (json_int_t)j->out_len, "output_base64",
        b64 ? b64 : "", "suggested_max_steps", (json_int_t)suggested, "reward_needed", need,
        "committee", (int)j->committee, "eligible_executors", (int)pc.n, "seconds", j->secs);
    free(b64);
    if (j->info.status == COHORT_VM_TRAPPED)
      json_object_set_new(res, "trap", json_string(cohort_vm_trap_str(j->info.code)));
    if (j->info.status == COHORT_VM_OUT_OF_STEPS) { /* no suggestion: it did not finish */
      json_object_set_new(res, "suggested_max_steps", json_null());
      json_object_set_new(res, "reward_needed", json_null());
    }
    rpc_call_reply(j->c, res);
  }
  free(j->elf);
  free(j->input);
  free(j->out);
  free(j);
}

char *node_rpc_market_metrics(void) {
  uv_once(&sim_once, sim_init);
  uv_mutex_lock(&sim_mu);
  unsigned running = sim_inflight;
  uv_mutex_unlock(&sim_mu);
  char *buf = malloc(2048);
  if (!buf) return NULL;
  snprintf(buf, 2048,
           "# HELP cohort_simulate_running compute_simulate runs in progress.\n"
           "# TYPE cohort_simulate_running gauge\ncohort_simulate_running %u\n"
           "# HELP cohort_simulate_total compute_simulate calls by outcome: done (answered), "
           "cancelled (client gone or node stopping, the run stopped), quota (the address's "
           "steps per minute ran out mid-run), refused (over a concurrency or quota limit).\n"
           "# TYPE cohort_simulate_total counter\n"
           "cohort_simulate_total{result=\"started\"} %llu\n"
           "cohort_simulate_total{result=\"done\"} %llu\n"
           "cohort_simulate_total{result=\"cancelled\"} %llu\n"
           "cohort_simulate_total{result=\"quota\"} %llu\n"
           "cohort_simulate_total{result=\"refused\"} %llu\n"
           "# HELP cohort_simulate_steps_total VM steps run by compute_simulate.\n"
           "# TYPE cohort_simulate_steps_total counter\ncohort_simulate_steps_total %llu\n",
           running, (unsigned long long)atomic_load(&sim_m_started),
           (unsigned long long)atomic_load(&sim_m_done),
           (unsigned long long)atomic_load(&sim_m_cancelled),
           (unsigned long long)atomic_load(&sim_m_quota),
           (unsigned long long)atomic_load(&sim_m_refused),
           (unsigned long long)atomic_load(&sim_m_steps));
  return buf;
}

static void m_compute_simulate(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"program", "program_base64", "input_base64", "input",
                                      "max_steps", "mem_mib", "committee", NULL};
  if (nr_check_names(c, params, names) || !json_is_object(params)) {
    if (!json_is_object(params))
      rpc_call_error(c, RPC_INVALID_PARAMS, "compute_simulate takes named params", NULL);
    return;
  }
  sim_job *j = calloc(1, sizeof *j);
  if (!j) {
    rpc_call_error(c, RPC_INTERNAL_ERROR, "out of memory", NULL);
    return;
  }
  j->n = n;
  j->c = c;
  const char *err = NULL;
  json_t *pv = json_object_get(params, "program"), *pb = json_object_get(params, "program_base64");
  size_t max_elf = nr_params(n)->max_blob_bytes;
  if (pv) {
    uint8_t h[32];
    size_t hl;
    const char *s = json_string_value(pv);
    Cohort__Blob *b;
    if (!s || core_hex_decode(h, 32, &hl, s, strlen(s)) || hl != 32) err = "params.program must be a 64-digit hex blob hash";
    else if (state_get_blob(n->st, h, &b)) err = "params.program: no such blob";
    else {
      j->elf = malloc(b->data.len);
      if (j->elf) memcpy(j->elf, b->data.data, b->data.len);
      j->elf_len = b->data.len;
      cohort__blob__free_unpacked(b, NULL);
    }
  } else if (pb && json_is_string(pb)) {
    if (core_base64_decode_alloc(&j->elf, &j->elf_len, json_string_value(pb), max_elf))
      err = "params.program_base64 is not base64 or is larger than params.max_blob_bytes";
  } else {
    err = "give params.program (hash of an uploaded program) or params.program_base64";
  }
  json_t *ib = json_object_get(params, "input_base64"), *it = json_object_get(params, "input");
  if (!err && ib) {
    if (!json_is_string(ib) || core_base64_decode_alloc(&j->input, &j->input_len,
                                                        json_string_value(ib), 16u << 20))
      err = "params.input_base64 is not base64 (or over 16 MiB)";
  } else if (!err && it) {
    if (!json_is_string(it)) err = "params.input must be a string";
    else {
      j->input_len = json_string_length(it);
      j->input = malloc(j->input_len + 1);
      if (j->input) memcpy(j->input, json_string_value(it), j->input_len);
    }
  }
  json_t *ms = json_object_get(params, "max_steps"), *mm = json_object_get(params, "mem_mib"),
         *cm = json_object_get(params, "committee");
  j->cfg.max_steps = ms ? (uint64_t)json_integer_value(ms) : 100000000ull;
  j->cfg.mem_cap = (mm ? (uint32_t)json_integer_value(mm) : 64u) << 20;
  j->committee = cm ? (uint32_t)json_integer_value(cm) : 3;
  char lim[200];
  if (!err && (j->cfg.max_steps == 0 || j->cfg.max_steps > sim_max_steps)) {
    snprintf(lim, sizeof lim, "params.max_steps must be in [1, %llu] ([rpc] simulate_max_steps)",
             (unsigned long long)sim_max_steps);
    err = lim;
  }
  if (!err && (ms && !json_is_integer(ms))) err = "params.max_steps must be an integer";
  if (!err && mm && (!json_is_integer(mm) || json_integer_value(mm) < 2 ||
                     (uint64_t)json_integer_value(mm) > sim_max_mem_mib)) {
    snprintf(lim, sizeof lim, "params.mem_mib must be in [2, %llu] ([rpc] simulate_max_mem_mib)",
             (unsigned long long)sim_max_mem_mib);
    err = lim;
  }
  if (!err && !mm && (64u > sim_max_mem_mib)) j->cfg.mem_cap = (uint32_t)sim_max_mem_mib << 20;
  if (!err && (j->committee < 1 || j->committee > 64)) err = "params.committee must be in [1, 64]";
  if (err) {
    rpc_call_error(c, RPC_INVALID_PARAMS, err, NULL);
    free(j->elf);
    free(j->input);
    free(j);
    return;
  }
  /* Admission: the node's and the address's share of simulations, and
   * steps left in the address's quota. */
  uv_once(&sim_once, sim_init);
  uint64_t now = mono_ms();
  const char *refusal = NULL;
  uv_mutex_lock(&sim_mu);
  sim_client *q = sim_client_get(rpc_call_client_addr(c), now);
  if (q) refill(q, now);
  if (sim_inflight >= sim_max_concurrent) {
    snprintf(lim, sizeof lim, "the node is already running its maximum of %llu simulations "
             "([rpc] simulate_max_concurrent); retry shortly",
             (unsigned long long)sim_max_concurrent);
    refusal = lim;
  } else if (!q || q->running >= sim_per_ip) {
    snprintf(lim, sizeof lim, "your address already runs %llu simulation(s) ([rpc] "
             "simulate_concurrent_per_ip); wait for it",
             (unsigned long long)sim_per_ip);
    refusal = lim;
  } else if (q->tokens <= 0) {
    snprintf(lim, sizeof lim, "your address used its quota of %llu simulated steps per minute "
             "([rpc] simulate_steps_per_minute); retry later",
             (unsigned long long)sim_steps_per_min);
    refusal = lim;
  } else {
    q->running++;
    sim_inflight++;
  }
  uv_mutex_unlock(&sim_mu);
  if (refusal) {
    atomic_fetch_add(&sim_m_refused, 1);
    rpc_call_error(c, RPC_LIMIT_EXCEEDED, refusal, NULL);
    free(j->elf);
    free(j->input);
    free(j);
    return;
  }
  j->q = q;
  j->req.data = j;
  atomic_fetch_add(&sim_m_started, 1);
  /* On the RPC thread's loop: sim_done runs there too. */
  if (uv_queue_work(rpc_call_loop(c), &j->req, sim_work, sim_done)) {
    uv_mutex_lock(&sim_mu);
    sim_inflight--;
    q->running--;
    uv_mutex_unlock(&sim_mu);
    rpc_call_error(c, RPC_UNAVAILABLE, "cannot schedule the simulation", NULL);
    free(j->elf);
    free(j->input);
    free(j);
  }
}

static void m_job_get(void *ctx, rpc_call *c, json_t *params) {
  node *n = ctx;
  static const char *const names[] = {"job_id", NULL};
  if (nr_check_names(c, params, names)) return;
  uint8_t id[32];
  if (nr_get_hash(c, nr_param(params, "job_id", 0), "job_id", id)) return;
  Cohort__Job *j;
  if (state_get_job(n->st, id, &j)) {
    /* as task_get: a job whose submit tx waits in the mempool is pending */
    int pending = nr_mempool_has_task(n, id);
    rpc_call_error(c, RPC_NOT_FOUND,
                   pending ? "the job's submit tx is in the mempool, not yet committed"
                           : "no such job (job_id is the ID `cohort job submit` printed, from "
                             "the sender and the nonce of the submit_job tx: not the tx hash)",
                   json_pack("{s:b}", "pending", pending));
    return;
  }
  static const char *sn[] = {"unknown", "running", "done", "incomplete"};
  json_t *chunks = json_array();
  for (uint32_t i = 0; i < j->chunks; i++) {
    uint8_t tid[32];
    market_chunk_id(tid, id, i);
    Cohort__Task *t;
    if (state_get_task(n->st, tid, &t)) continue;
    json_t *cj = json_pack("{s:i, s:o, s:s}", "chunk", (int)i, "task_id", nr_hexj(tid, 32),
                           "status", task_status(t->status));
    if (t->result) json_object_set_new(cj, "output_hash", nr_hexj(t->result->output_hash.data, 32));
    json_array_append_new(chunks, cj);
    cohort__task__free_unpacked(t, NULL);
  }
  json_t *r = json_pack("{s:o, s:s, s:o, s:o, s:i, s:i, s:i, s:o, s:I, s:o}", "job_id",
                        nr_hexj(id, 32), "status", sn[j->status <= 3 ? j->status : 0], "owner",
                        nr_addrj(j->owner.data), "program", nr_hexj(j->program.data, 32), "chunks",
                        (int)j->chunks, "done", (int)j->done, "failed", (int)j->failed,
                        "reward_per_chunk", nr_amount(j->reward_per_chunk), "submitted_height",
                        (json_int_t)j->submitted_height, "tasks", chunks);
  if (j->result_root.len == 32) json_object_set_new(r, "result_root", nr_hexj(j->result_root.data, 32));
  json_object_set_new(r, "height", json_integer((json_int_t)nr_height(n)));
  cohort__job__free_unpacked(j, NULL);
  rpc_call_reply(c, r);
}

/* Weights count against [rpc] max_batch_weight (docs/rpc.md). */
const rpc_method node_rpc_market_methods[] = {
    {"job_get", m_job_get, 5},
    {"executor_get", m_executor_get, 1}, {"executor_list", m_executor_list, 10},
    {"blob_get", m_blob_get, 5},         {"task_get", m_task_get, 2},
    {"task_output", m_task_output, 5},   {"task_list", m_task_list, 10},
    {"task_input", m_task_input, 5},
    {"dispute_get", m_dispute_get, 2},   {"dispute_list", m_dispute_list, 10},
    {"compute_simulate", m_compute_simulate, 50},
};
const size_t node_rpc_market_n_methods =
    sizeof node_rpc_market_methods / sizeof node_rpc_market_methods[0];
