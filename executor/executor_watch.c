/* executor/executor_watch.c — the watcher: re-run a sample of the agreed
 * tasks this account has no seat in, and challenge (with a dispute bond)
 * those whose agreed final state differs from its own run; the game that
 * follows is played by executor_play.c like any other.
 *
 * The sample is the same on every poll and every restart: a task is
 * watched when the first two bytes of sha256(task id || address), mod
 * 10000, are below watch_bps. The re-run is the game's traced one
 * (ex_play_for), so a challenge starts with its trace ready; a task is
 * marked checked only once its run is ready. The last EX_WATCHED_MAX
 * checked tasks are remembered (a ring). Poll thread only. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/hex.h"
#include "executor/executor_int.h"

static int was_watched(executor *ex, const char *id) {
  for (size_t i = 0; i < EX_WATCHED_MAX && i < ex->nwatched; i++)
    if (!strcmp(ex->watched[i], id)) return 1;
  return 0;
}

static void mark_watched(executor *ex, const char *id) {
  snprintf(ex->watched[ex->nwatched++ % EX_WATCHED_MAX], 65, "%s", id);
}

void ex_watch_list(executor *ex, json_t *list) {
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(list, "tasks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "task_id"));
    if (!id || strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64 || was_watched(ex, id))
      continue;
    uint8_t h[32];
    char buf[64 + CORE_ADDR_STR_MAX];
    snprintf(buf, sizeof buf, "%s%s", id, ex->addr);
    crypto_hash_sha256(h, (const uint8_t *)buf, strlen(buf));
    if ((uint64_t)(h[0] << 8 | h[1]) % 10000 >= ex->watch_bps) {
      mark_watched(ex, id);
      continue;
    }
    size_t m;
    json_t *mem;
    int member = 0;
    json_array_foreach(json_object_get(t, "members"), m, mem) {
      const char *who = json_string_value(json_object_get(mem, "executor"));
      member |= who && !strcmp(who, ex->addr) && !json_is_true(json_object_get(mem, "replaced"));
    }
    uint8_t theirs[32], ours[32];
    if (member || ex_hex32(json_object_get(t, "result"), "final_state", theirs)) continue;
    json_t *full = NULL;
    if (ex_call(ex, "task_get", json_pack("{s:s}", "task_id", id), &full, 0)) continue;
    ex_play *p = ex_play_for(ex, full, id);
    json_decref(full);
    if (!p) continue; /* being re-run: checked at a later poll */
    mark_watched(ex, id);
    cohort_vm_info in;
    cohort_vm_get_info(p->vm, &in);
    if (ex_play_hash(p, in.step, ours)) continue;
    if (!memcmp(ours, theirs, 32)) {
      ex_log(ex, EXECUTOR_LOG_INFO, "task %.16s..: watched: the agreed result matches this "
             "watcher's run (%llu steps)", id, (unsigned long long)in.step);
      pthread_mutex_lock(&ex->mu);
      ex_play_drop_locked(p);
      pthread_mutex_unlock(&ex->mu);
      continue;
    }
    ex_log(ex, EXECUTOR_LOG_WARN, "task %.16s..: watched: the agreed result differs from this "
           "watcher's run: challenging", id);
    uint8_t tid[32];
    size_t nid;
    if (core_hex_decode(tid, 32, &nid, id, 64) || nid != 32) continue;
    Cohort__MsgChallenge mc = COHORT__MSG_CHALLENGE__INIT;
    mc.task_id = (ProtobufCBinaryData){32, tid};
    Cohort__TxBody b = COHORT__TX_BODY__INIT;
    b.msg_case = COHORT__TX_BODY__MSG_CHALLENGE;
    b.challenge = &mc;
    ex_sign_and_send(ex, &b, "challenge", id);
  }
}
