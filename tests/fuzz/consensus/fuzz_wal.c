/* libFuzzer: the consensus WAL decoder, then the engine replaying what it
 * decoded. Properties: decoding never crashes or over-reads; every record
 * it accepts re-encodes to exactly the bytes it came from (the canonical
 * form is the only form); a torn tail is only ever reported at the end of
 * the input; and an engine (four validators with the fixed keys 0x01..,
 * 0x02.., 0x03.., 0x04.., invariant checks on) fed the records through
 * cons_replay_* never crashes, never breaks an invariant and always ends
 * replay in a consistent state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"

static cons_prio prio;
static int ready;

static void setup(void) {
  Cohort__ValidatorSet vs = COHORT__VALIDATOR_SET__INIT;
  Cohort__Validator v[4], *pv[4];
  static uint8_t keys[4][32];
  for (int i = 0; i < 4; i++) {
    cohort__validator__init(&v[i]);
    memset(keys[i], i + 1, 32);
    v[i].pubkey = (ProtobufCBinaryData){32, keys[i]};
    v[i].power = (uint64_t)(10 + i);
    pv[i] = &v[i];
  }
  vs.n_validators = 4;
  vs.validators = pv;
  if (cons_prio_genesis(&prio, &vs)) abort();
  ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ready) setup();
  uint8_t me[32];
  memset(me, 1, 32);
  cons_config cfg = {.block_interval_ms = 10, .empty_block_interval_ms = 10};
  cons_engine *e = cons_new(&cfg, "fuzz-chain", me);
  if (!e) return 0;
  cons_set_check_invariants(e, 1);
  cons_start_height(e, 1, &prio, 0);
  cons_replay_begin(e);
  size_t off = 0;
  core_buf again = {0};
  for (;;) {
    size_t start = off;
    cons_wal_rec r;
    core_errbuf eb;
    int d = cons_wal_decode(data, size, &off, &r, &eb);
    if (d != CONS_WAL_RECORD) {
      if (d == CONS_WAL_TORN && off != start) abort();
      break;
    }
    if (off <= start || off > size) abort();
    again.len = 0;
    if (cons_wal_encode(&again, &r) || again.len != off - start ||
        memcmp(again.data, data + start, again.len))
      abort();
    cons_replay_record(e, &r, 0);
  }
  cons_replay_end(e, 0);
  cons_action a;
  while (cons_next_action(e, &a)) cons_action_free(&a);
  cons_on_tick(e, 1000000);
  while (cons_next_action(e, &a)) cons_action_free(&a);
  free(again.data);
  cons_del(e);
  return 0;
}
