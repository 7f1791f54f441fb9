/* Known-answer vectors: the C implementation against tests/vectors/
 * protocol.json, which an independent Python client produced from the spec.
 * Keys and addresses, transfer bodies byte for byte, sign digests, whole
 * signed txs and their hashes, tx roots and vote sign bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/bech32.h"
#include "core/parse.h"
#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "genesis/genesis.h"
#include "proto/block.h"
#include "proto/tx.h"

static json_t *V;

static size_t unhex(uint8_t *out, size_t cap, const char *h) {
  size_t n;
  assert_int_equal(core_hex_decode(out, cap, &n, h, strlen(h)), 0);
  return n;
}

static const char *str(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  assert_non_null(s);
  return s;
}

static void test_keys(void **s) {
  (void)s;
  size_t i;
  json_t *k;
  json_array_foreach(json_object_get(V, "keys"), i, k) {
    uint8_t sec[32], pub[32], want[32], id[20], wid[20];
    unhex(sec, 32, str(k, "secret"));
    unhex(want, 32, str(k, "pubkey"));
    assert_int_equal(core_schnorr_pubkey(pub, sec), 0);
    assert_memory_equal(pub, want, 32);
    core_account_id(id, pub);
    unhex(wid, 20, str(k, "account_id"));
    assert_memory_equal(id, wid, 20);
    char a[CORE_ADDR_STR_MAX];
    core_addr_encode(a, id);
    assert_string_equal(a, str(k, "address"));
  }
}

static void test_transfers(void **s) {
  (void)s;
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(V, "transfers"), i, t) {
    uint8_t sec[32], aux[32], to[20], body[512], tx[1024], dig[32], wdig[32];
    unhex(sec, 32, str(t, "signer_secret"));
    unhex(aux, 32, str(t, "aux"));
    assert_int_equal(core_addr_decode(to, str(t, "to")), 0);
    size_t bl = unhex(body, sizeof body, str(t, "body"));
    size_t tl = unhex(tx, sizeof tx, str(t, "tx"));
    uint64_t nonce, fee, amount;
    assert_int_equal(core_parse_u64(str(t, "nonce"), &nonce), 0);
    assert_int_equal(core_parse_u64(str(t, "fee"), &fee), 0);
    assert_int_equal(core_parse_u64(str(t, "amount"), &amount), 0);
    Cohort__MsgTransfer m = COHORT__MSG_TRANSFER__INIT;
    m.to = (ProtobufCBinaryData){20, to};
    m.token = (Cohort__Token)json_integer_value(json_object_get(t, "token"));
    m.amount = amount;
    Cohort__TxBody b = COHORT__TX_BODY__INIT;
    b.nonce = nonce;
    b.fee = fee;
    b.memo = (char *)str(t, "memo");
    b.msg_case = COHORT__TX_BODY__MSG_TRANSFER;
    b.transfer = &m;
    uint8_t mine[512];
    assert_int_equal(cohort__tx_body__get_packed_size(&b), bl);
    cohort__tx_body__pack(&b, mine);
    assert_memory_equal(mine, body, bl);
    const char *chain = str(t, "chain_id");
    tx_sign_digest(dig, chain, body, bl);
    unhex(wdig, 32, str(t, "sign_digest"));
    assert_memory_equal(dig, wdig, 32);
    uint8_t *built;
    size_t built_len;
    assert_int_equal(tx_build(&built, &built_len, &b, chain, sec, aux), 0);
    assert_int_equal(built_len, tl);
    assert_memory_equal(built, tx, tl);
    free(built);
    tx_t d;
    core_errbuf eb;
    assert_int_equal(tx_decode(&d, tx, tl, 65536, &eb), 0);
    char h[65];
    core_hex_encode(h, d.hash, 32);
    assert_string_equal(h, str(t, "tx_hash"));
    assert_int_equal(tx_verify(&d, chain), 0);
    assert_int_equal(tx_verify(&d, "some-other-chain"), COHORT_ERR_SIGNATURE);
    tx_free(&d);
  }
}

static void test_tx_roots_and_votes(void **s) {
  (void)s;
  size_t i, j;
  json_t *r, *h;
  json_array_foreach(json_object_get(V, "tx_roots"), i, r) {
    json_t *hs = json_object_get(r, "tx_hashes");
    uint8_t(*arr)[32] = calloc(json_array_size(hs) + 1, 32), root[32], want[32];
    json_array_foreach(hs, j, h) unhex(arr[j], 32, json_string_value(h));
    block_tx_root(root, (const uint8_t(*)[32])arr, json_array_size(hs));
    unhex(want, 32, str(r, "root"));
    assert_memory_equal(root, want, 32);
    free(arr);
  }
  json_array_foreach(json_object_get(V, "votes"), i, r) {
    uint8_t bh[32], sb[VOTE_SIGN_BYTES_MAX], want[VOTE_SIGN_BYTES_MAX];
    size_t hl = strlen(str(r, "block_hash")) ? unhex(bh, 32, str(r, "block_hash")) : 0;
    uint64_t height;
    assert_int_equal(core_parse_u64(str(r, "height"), &height), 0);
    size_t n = vote_sign_bytes(sb, str(r, "chain_id"),
                               (uint32_t)json_integer_value(json_object_get(r, "type")), height,
                               (uint32_t)json_integer_value(json_object_get(r, "round")), bh, hl);
    size_t wl = unhex(want, sizeof want, str(r, "sign_bytes"));
    assert_int_equal(n, wl);
    assert_memory_equal(sb, want, n);
  }
}

int main(void) {
  if (core_init()) return 1;
  json_error_t je;
  V = json_load_file("tests/vectors/protocol.json", 0, &je);
  if (!V) {
    fprintf(stderr, "cannot load tests/vectors/protocol.json: %s\n", je.text);
    return 1;
  }
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_keys), cmocka_unit_test(test_transfers),
                                     cmocka_unit_test(test_tx_roots_and_votes)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  json_decref(V);
  return rc;
}
