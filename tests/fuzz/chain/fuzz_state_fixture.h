/* A tiny chain for fuzzers: one in-memory state at genesis with a funded
 * account whose key is public (secret = 1), so fuzzed txs can be valid. */
#ifndef FUZZ_STATE_FIXTURE_H
#define FUZZ_STATE_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "core/bech32.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "state/state.h"

static state *fuzz_state(kv_store **kv) {
  static genesis g;
  static int init;
  if (!init) {
    core_init();
    uint8_t sec[32] = {0}, pub[32], id[20], vpub[32], vsec[64], seed[32] = {1};
    sec[31] = 1;
    core_schnorr_pubkey(pub, sec);
    core_account_id(id, pub);
    core_ed25519_from_seed(vsec, vpub, seed);
    char *text = genesis_devnet_json("fuzz-chain", 1000, vpub, id, NULL);
    core_errbuf eb;
    if (!text || genesis_parse(&g, text, strlen(text), &eb)) abort();
    free(text);
    init = 1;
  }
  state *st;
  core_errbuf eb;
  if (kv_open_mem(kv) || state_open(&st, *kv, &eb) || state_init_genesis(st, &g, &eb)) abort();
  return st;
}

#endif
