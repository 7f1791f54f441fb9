/* gen_gov_seeds: write fuzz_tx seeds of the governance messages into a
 * directory (named by SHA-1 like libFuzzer's corpus files would be, here
 * by the first 20 bytes of SHA-256): MsgSubmitProposal of each kind (a
 * parameter change with two changes and an apply height, a text, a
 * spend), MsgDeposit and MsgVote, each signed by fuzz_state_fixture.h's
 * funded key (secret = 1, the devnet validator's operator, which has a
 * self-delegation at genesis and so may vote) for "fuzz-chain", nonce 0.
 *
 *   cmake --build build --target gen_gov_seeds
 *   build/tests/gen_gov_seeds tests/fuzz/corpus/fuzz_tx
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/hex.h"
#include "core/keys.h"
#include "proto/gov.h"
#include "proto/tx.h"

static int write_seed(const char *dir, const Cohort__TxBody *b) {
  uint8_t sec[32] = {0}, aux[32] = {0}, *raw, h[32];
  sec[31] = 1;
  size_t len;
  if (tx_build(&raw, &len, b, "fuzz-chain", sec, aux)) return 1;
  core_sha256(h, raw, len);
  char name[41], path[4096];
  core_hex_encode(name, h, 20);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  int rc = !f || fwrite(raw, 1, len, f) != len;
  if (f) rc |= fclose(f) != 0;
  if (!rc) printf("%s  %s\n", path, tx_msg_name(b));
  free(raw);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 2 || core_init()) {
    fprintf(stderr, "usage: gen_gov_seeds DIR\n");
    return 2;
  }
  const char *dir = argv[1];
  Cohort__TxBody b = COHORT__TX_BODY__INIT;
  b.fee = 1000000;
  Cohort__MsgSubmitProposal m = COHORT__MSG_SUBMIT_PROPOSAL__INIT;
  Cohort__ParamChange c1 = COHORT__PARAM_CHANGE__INIT, c2 = COHORT__PARAM_CHANGE__INIT;
  Cohort__ParamChange *cs[] = {&c1, &c2};
  c1.name = "min_fee";
  c1.value = 2000;
  c2.name = "dispute_arity";
  c2.value = 8;
  m.kind = GOV_KIND_PARAMS;
  m.title = "Raise the minimum fee";
  m.description = "why:\nspam";
  m.n_changes = 2;
  m.changes = cs;
  m.apply_height = 5000;
  m.deposit = 10000000;
  b.msg_case = COHORT__TX_BODY__MSG_SUBMIT_PROPOSAL;
  b.submit_proposal = &m;
  int rc = write_seed(dir, &b);
  Cohort__MsgSubmitProposal t = COHORT__MSG_SUBMIT_PROPOSAL__INIT;
  t.kind = GOV_KIND_TEXT;
  t.title = "A text";
  t.deposit = 2500000;
  b.submit_proposal = &t;
  rc |= write_seed(dir, &b);
  Cohort__MsgSubmitProposal s = COHORT__MSG_SUBMIT_PROPOSAL__INIT;
  uint8_t to[20];
  memset(to, 7, 20);
  s.kind = GOV_KIND_SPEND;
  s.title = "Pay for an audit";
  s.recipient = (ProtobufCBinaryData){20, to};
  s.amount = 5000000;
  s.deposit = 10000000;
  b.submit_proposal = &s;
  rc |= write_seed(dir, &b);
  Cohort__MsgDeposit d = COHORT__MSG_DEPOSIT__INIT;
  d.proposal = 1;
  d.amount = 7500000;
  b.msg_case = COHORT__TX_BODY__MSG_DEPOSIT;
  b.deposit = &d;
  rc |= write_seed(dir, &b);
  Cohort__MsgVote v = COHORT__MSG_VOTE__INIT;
  v.proposal = 1;
  v.option = GOV_VETO;
  b.msg_case = COHORT__TX_BODY__MSG_VOTE;
  b.vote = &v;
  rc |= write_seed(dir, &b);
  return rc;
}
