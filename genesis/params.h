/* genesis/params.h — the one table of chain parameters.
 *
 * Every chain parameter is one row of COHORT_PARAM_TABLE: its name (the
 * genesis.json key, the Params protobuf field and the C struct field), its
 * kind (U32: a JSON integer; U64: a decimal string, as amounts are), its
 * bounds, its default and one line of documentation. Genesis parsing, the
 * genesis -> state conversion, `cohortd params` and the parameter tables in
 * docs/protocol.md are all produced from (or checked against) this table,
 * so a parameter is added in exactly one place; governance will change
 * rows of the same table.
 *
 * Every parameter is optional in genesis.json; a missing one takes its
 * default. Relations between parameters are checked by genesis_params_check.
 */
#ifndef COHORT_GENESIS_PARAMS_H
#define COHORT_GENESIS_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* X(name, kind, min, max, default, doc) */
#define COHORT_PARAM_TABLE(X)                                                                  \
  /* blocks and transactions */                                                                \
  X(max_block_bytes, U32, 1024, 64u << 20, 8u << 20, "largest block, in bytes")                \
  X(max_tx_bytes, U32, 256, 16u << 20, 2u << 20, "largest transaction, in bytes")              \
  X(max_block_txs, U32, 1, 100000, 10000, "most transactions in one block")                    \
  X(max_block_gas, U64, 1, UINT64_MAX, 200000000ull, "most gas (cost units) in one block")     \
  X(max_block_tasks, U32, 1, 1000000, 1024, "most tasks and job chunks created in one block")  \
  X(max_block_vm_kib, U32, 1, 1u << 30, 262144,                                                \
    "most KiB of program and input loaded into VMs (initial states) in one block")             \
  /* the cost model (docs/protocol.md "Cost model") */                                         \
  X(min_fee, U64, 0, UINT64_MAX, 1000, "lowest fee of any transaction, CRD base units")       \
  X(gas_price_milli, U64, 0, 1000000000000ull, 1000,                                           \
    "least CRD base units a transaction pays per 1000 gas")                                    \
  X(gas_tx, U32, 0, 100000000, 1000, "gas of every transaction (signature, account)")          \
  X(gas_tx_byte, U32, 0, 1000000, 10, "gas per byte of the transaction")                       \
  X(gas_state_byte, U32, 0, 1000000, 20,                                                       \
    "gas per byte a message leaves in the state (inline input, output)")                       \
  X(gas_task, U32, 0, 100000000, 20000, "gas per task or job chunk created (records, draw)")   \
  X(gas_vm_kib, U32, 0, 1000000, 20,                                                           \
    "gas per KiB of program and input loaded to compute a task's initial state")               \
  /* compute market */                                                                         \
  X(max_blob_bytes, U32, 1, 64u << 20, 1u << 20, "largest uploaded blob, in bytes")            \
  X(blob_byte_fee, U64, 0, UINT64_MAX, 10, "CRD base units burned per uploaded byte")          \
  X(min_executor_stake, U64, 0, UINT64_MAX, 1000000000ull, "STK base units to register")       \
  X(max_executor_capacity, U32, 1, 4096, 64, "most seats one executor may declare it can hold")\
  X(unbonding_blocks, U32, 1, 10000000, 100, "blocks before unbonded stake is released")       \
  X(max_committee, U32, 1, 64, 16, "largest committee k")                                      \
  X(quorum_bps, U32, 1, 10000, 6666,                                                           \
    "agreeing reveals needed, as a share of k: quorum = ceil(k * bps / 10000), at least 1")    \
  X(max_task_steps, U64, 1, UINT64_MAX, 100000000000ull, "largest step cap of a task")         \
  X(max_task_mem_mib, U32, 2, 1024, 256, "largest memory cap of a task, MiB")                  \
  X(max_inline_input, U32, 0, 16u << 20, 65536, "bytes of input a task may carry inline")      \
  X(max_inline_output, U32, 1, 16u << 20, 1u << 20,                                            \
    "largest output a task may declare (max_output_bytes); a reveal carries it")               \
  X(exec_steps_per_block, U64, 1, UINT64_MAX, 2000000ull,                                      \
    "documented executor speed: VM steps an executor must run per block, on any program "      \
    "(memory-bound ones included)")                                                            \
  X(window_margin_blocks, U32, 1, 100000, 10,                                                  \
    "blocks added to the run time to get the shortest commit window")                         \
  X(commit_blocks, U32, 1, 100000, 100, "default commit window, blocks")                       \
  X(reveal_blocks, U32, 1, 100000, 30, "reveal window, blocks")                                \
  X(challenge_blocks, U32, 0, 1000000, 10, "blocks from agreed to final (challenge window)")   \
  X(liveness_slash_bps, U32, 0, 10000, 100, "share of stake a no-show loses, 1/10000")          \
  X(dispute_arity, U32, 2, 64, 16,                                                             \
    "verification game: sub-ranges per bisection round (the defender posts arity - 1 hashes)") \
  X(dispute_move_blocks, U32, 1, 1000000, 20, "verification game: blocks for each move")       \
  X(dispute_clock_blocks, U32, 1, 100000000, 400,                                              \
    "verification game: each party's total clock, blocks (at least (rounds + 1) x "            \
    "dispute_move_blocks; both parties also get the run's re-execution time)")                 \
  X(dispute_slash_bps, U32, 0, 10000, 1000,                                                    \
    "share of stake (bond + unbonding) a member loses with a game, 1/10000")                   \
  X(dispute_winner_bps, U32, 0, 10000, 5000,                                                   \
    "share of a game's slash of the loser's own stake paid to the winner's account; the rest, " \
    "and all its delegators lose, is burned")                                                   \
  X(dispute_bond, U64, 1, UINT64_MAX, 1000000000ull,                                           \
    "STK base units an outside challenger posts; lost (winner's share to the member) if it "   \
    "loses a game")                                                                            \
  X(liveness_jail_blocks, U32, 1, 10000000, 100,                                               \
    "blocks before a jailed no-show may register as accepting again (one slash per outage)")  \
  X(max_attempts, U32, 1, 100, 3, "committee draws before a task expires")                     \
  X(draw_wait_blocks, U32, 0, 1000000, 600,                                                    \
    "blocks a task waits for executors with free capacity before it expires")                  \
  X(beacon_recommit_delay, U32, 1, 1000000, 256,                                               \
    "blocks from a beacon re-commitment to its use (so it cannot aim at a known draw)")         \
  X(retention_blocks, U32, 1, 100000000, 10000,                                                \
    "blocks a settled task keeps its inline input and output in the state")                   \
  /* validators: evidence of double signs (docs/protocol.md 4b) */                             \
  X(slash_double_sign_bps, U32, 0, 10000, 500,                                                 \
    "share of a double-signing validator's power burned, 1/10000; it also leaves the set")     \
  X(evidence_max_age, U32, 1, 100000000, 99,                                                   \
    "blocks after the double sign during which its evidence is accepted (< unbonding_blocks)")\
  X(max_block_evidence, U32, 1, 256, 32, "most evidence items in one block")                   \
  /* staking (docs/staking.md) */                                                              \
  X(max_validators, U32, 1, 1000, 100, "validators in the set: the top ones by bonded STK")     \
  X(min_self_bond, U64, 1, UINT64_MAX, 1000000ull,                                             \
    "STK base units a validator's operator must keep delegated to itself")                    \
  X(min_delegation, U64, 1, UINT64_MAX, 1000ull, "smallest delegation, STK base units")         \
  X(max_delegations, U32, 1, 256, 16, "most validators one account delegates to")              \
  X(max_entries, U32, 1, 100, 7,                                                               \
    "most pending unbondings (and redelegations) per delegator and validator")               \
  X(commission_change_blocks, U32, 0, 100000000, 100,                                          \
    "blocks from a commission change's announcement to its effect (one change in flight)")    \
  X(signed_blocks_window, U32, 2, 10000, 100, "blocks over which a validator's signing is counted")\
  X(min_signed_bps, U32, 0, 10000, 5000,                                                       \
    "share of the window a validator must sign, 1/10000; fewer: jailed")                      \
  X(downtime_jail_blocks, U32, 1, 100000000, 100, "blocks a validator jailed for downtime waits")\
  X(slash_downtime_bps, U32, 0, 10000, 1, "share of stake a validator jailed for downtime loses")\
  /* distribution */                                                                           \
  X(community_tax_bps, U32, 0, 10000, 200, "share of each block's fees for the community pool")  \
  X(protocol_fee_bps, U32, 0, 10000, 0,                                                        \
    "share of each executor payment that goes to the validators, 1/10000")                    \
  X(exec_delegation_max_x, U32, 0, 1000, 10,                                                   \
    "delegated STK an executor may take, as a multiple of its own stake (its draw weight)")   \
  /* governance (weight: STK bonded to validators) */                                          \
  X(gov_min_deposit, U64, 1, UINT64_MAX, 10000000ull, "STK a proposal needs to reach voting")   \
  X(gov_min_initial_bps, U32, 0, 10000, 2500,                                                  \
    "share of gov_min_deposit the proposer must deposit with the proposal")                   \
  X(gov_deposit_blocks, U32, 1, 100000000, 1000, "longest deposit period, blocks")              \
  X(gov_voting_blocks, U32, 1, 100000000, 1000, "voting period, blocks")                        \
  X(gov_quorum_bps, U32, 0, 10000, 3340, "share of bonded STK that must vote")                  \
  X(gov_threshold_bps, U32, 1, 10000, 5000,                                                    \
    "share of yes among yes + no + veto a proposal needs to pass (strictly more)")             \
  X(gov_veto_bps, U32, 1, 10000, 3340,                                                         \
    "share of no-with-veto among the votes that vetoes a proposal (strictly more)")            \
  X(gov_max_depositors, U32, 1, 1000, 100,                                                     \
    "most accounts with a deposit on one proposal; a new one deposits at least "               \
    "ceil(gov_min_deposit / gov_max_depositors)")                                              \
  X(gov_max_ends_per_block, U32, 1, 256, 16,                                                   \
    "most proposals whose deposit or voting period ends in one block")

typedef struct {
#define COHORT_PARAM_FIELD_U32 uint32_t
#define COHORT_PARAM_FIELD_U64 uint64_t
#define X(name, kind, lo, hi, def, doc) COHORT_PARAM_FIELD_##kind name;
  COHORT_PARAM_TABLE(X)
#undef X
} genesis_params;

typedef enum { GENESIS_PARAM_U32, GENESIS_PARAM_U64 } genesis_param_kind;

/* One row of the table, for code that walks it (parsing, docs, RPC). */
typedef struct {
  const char *name;
  genesis_param_kind kind;
  uint64_t min, max, def;
  const char *doc;
  size_t offset; /* of the field in genesis_params */
} genesis_param_info;

extern const genesis_param_info genesis_param_table[];
extern const size_t genesis_param_count;

/* Fill every parameter with its default. */
void genesis_params_default(genesis_params *p);

/* Read / write one parameter of p by table row. */
uint64_t genesis_param_get(const genesis_params *p, const genesis_param_info *row);
void genesis_param_set(genesis_params *p, const genesis_param_info *row, uint64_t v);

/* The table's upper bound of a parameter (0 if no such row): what any
 * value in force may reach, e.g. to decode a stored block whose limits
 * governance has lowered since. */
uint64_t genesis_param_max(const char *name);

/* Relations between parameters (bounds of each row are checked when it is
 * read). Returns 0 or COHORT_ERR_GENESIS with eb naming the rule. */
int genesis_params_check(const genesis_params *p, core_errbuf *eb);

/* Conversions: to and from the Params protobuf (same field names), and to
 * JSON as genesis.json and the `status` RPC write it (U32 as integers, U64
 * as decimal strings). genesis_params_from_json reads such an object
 * strictly (unknown names, wrong types, out-of-range values are errors
 * naming the parameter); missing parameters keep the value *p has.
 * genesis_params_json returns a new reference or NULL (no memory). */
struct Cohort__Params;
struct json_t;
void genesis_params_to_proto(const genesis_params *g, struct Cohort__Params *p);
void genesis_params_from_proto(genesis_params *g, const struct Cohort__Params *p);
struct json_t *genesis_params_json(const genesis_params *g);
int genesis_params_from_json(genesis_params *g, struct json_t *obj, core_errbuf *eb);

/* The parameter table as markdown (| name | kind | default | range | meaning |),
 * malloc'd; the docs embed exactly this text and a test compares them. */
char *genesis_params_markdown(void);

#endif
