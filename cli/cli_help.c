/* cli/cli_help.c — the usage text of every `cohort` command, in one table.
 *
 * `cohort --help` lists the table; `cohort CMD [SUB] --help` (or -h) prints
 * one entry: a usage line, what it does, one line per flag (required ones
 * marked, defaults shown) and an example. The parsers live with their
 * commands in the other cli_*.c files: a flag added there belongs here too.
 * tests/integration/test_help.py runs every entry and checks that each flag
 * listed is accepted and an unknown one refused. Amounts are base units
 * everywhere: 1 CRD = 1 STK = 1,000,000 base units. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
  const char *path;    /* "task submit" */
  const char *args;    /* positional arguments and required flags, for the usage line */
  const char *summary; /* one line, for the command list */
  const char *flags;   /* one line per flag, or NULL */
  const char *notes;   /* more about it, or NULL */
  const char *example;
} help_entry;

#define FROM "  --from KEY           the signing key, a name in HOME/keys (default: dev)\n"

static const help_entry entries[] = {
    {"keys", "new|list|show ...", "manage account keys (HOME/keys/NAME.json)", NULL, NULL,
     "cohort keys new bob"},
    {"keys new", "NAME", "create a key HOME/keys/NAME.json (mode 0600)",
     NULL, "Prints its address. NAME: 1 to 64 of A-Z a-z 0-9 _ -. An existing key is never\n"
     "overwritten.\n",
     "cohort keys new bob"},
    {"keys list", "", "list the keys in HOME/keys with their addresses", NULL, NULL,
     "cohort keys list"},
    {"keys show", "NAME", "print a key's address and public key",
     "  -a, --address        print only the address (for scripts: BOB=$(cohort keys show bob -a))\n",
     NULL, "cohort keys show bob"},
    {"transfer", "--to ADDR|KEY --amount N", "send CRD or STK to an address",
     "  --to ADDR|KEY        (required) a coh1... address or the name of a key in HOME/keys\n"
     "  --amount N           (required) base units to send (1 CRD = 1000000)\n"
     "  --token CRD|STK      which token (default: CRD)\n"
     FROM
     "  --fee N              fee in CRD base units (default: what the cost model asks)\n"
     "  --memo TEXT          up to 256 bytes stored with the tx (default: none)\n"
     "  --nonce N            the sender's nonce (default: the next free one, pending txs counted)\n"
     "  --wait               return once the tx is in a committed block, with its result\n"
     "  -q, --quiet          print only the tx hash (for scripts: TX=$(cohort transfer ... -q))\n",
     NULL, "cohort transfer --to bob --amount 250000 --token STK --wait"},
    {"account", "[ADDR|KEY]", "balances and nonce (default: the key dev)", NULL,
     "Amounts are shown as tokens and base units; --json gives base-unit strings.\n",
     "cohort account bob"},
    {"status", "", "chain and node status",
     "  --wait               wait (up to 60 s) until the node answers, e.g. right after a start\n",
     NULL, "cohort status"},
    {"block", "[HEIGHT]", "a block and its transactions (default: the latest)", NULL, NULL,
     "cohort block 1"},
    {"tx", "HASH", "a committed transaction and its result", NULL, NULL,
     "cohort tx $(cohort transfer --to bob --amount 1000 --wait -q)"},
    {"supply", "", "total CRD and STK in existence", NULL, NULL, "cohort supply"},
    {"program", "upload ...", "store programs and data on chain", NULL, NULL,
     "cohort program upload build/vm/guest/sha256.elf"},
    {"program upload", "FILE", "store a program (RV32IM ELF) or data on chain",
     "  --data               store FILE as data (a large task input), not as a program\n"
     FROM,
     "Blobs are content-addressed: the printed hash names it; uploading it again costs nothing.\n",
     "cohort program upload build/vm/guest/sha256.elf"},
    {"simulate", "--program FILE|HASH",
     "run a program off chain; the reward it needs",
     "  --program FILE|HASH  (required) an ELF file, or the hash of an uploaded program\n"
     "  --input FILE         the task input (default: empty)\n"
     "  --input-text TEXT    the task input, given inline (instead of --input)\n"
     "  --max-steps N        stop after N steps (default: 100000000)\n"
     "  --mem MiB            memory cap (default: 64)\n"
     "  --committee K        committee size the reward hint is for (default: 3)\n",
     "Prints how it ended (status, exit code, steps) on stderr and its output on stdout, then\n"
     "the --max-steps, --committee and --reward to run it on chain at current prices.\n",
     "cohort simulate --program build/vm/guest/sha256.elf --input-text hello --committee 1"},
    {"task", "submit|get|output|list|challenge ...", "compute tasks: one program run by a committee", NULL,
     NULL, "cohort task list"},
    {"task submit", "--program FILE|HASH --reward N",
     "have a committee of executors run a program",
     "  --program FILE|HASH  (required) an ELF file (uploaded if new) or an uploaded program's hash\n"
     "  --reward N           (required) CRD base units escrowed; each member earns at most N/K\n"
     "  --input FILE         the task input (default: empty)\n"
     "  --input-text TEXT    the task input, given inline (instead of --input)\n"
     "  --committee K        executors that run it (default: 3)\n"
     "  --max-steps N        step cap (default: 100000000)\n"
     "  --mem MiB            memory cap (default: 64)\n"
     "  --max-output BYTES   output cap (default: 65536)\n"
     "  --commit-blocks N    commit window (default 0: the chain's commit_blocks, longer for big\n"
     "                       step caps)\n"
     "  --reveal-blocks N    reveal window (default 0: the chain's reveal_blocks)\n"
     FROM
     "  --wait               follow the task until it ends; print its output on stdout\n"
     "  --output FILE        with --wait: write the output to FILE instead of stdout\n",
     "A committee of K staked executors, drawn by stake, runs it and commits the result on\n"
     "chain. Without --wait it prints the task ID. `cohort simulate` first tells what reward it needs.\n"
     "The exit code shown at the end is the program's own (what main returned): 0 usually\n"
     "means success, but some examples return a count (wc.elf: words mod 128; docs/vm.md).\n",
     "cohort task submit --program build/vm/guest/sha256.elf --input-text hello --reward 100000 "
     "--committee 1 --wait"},
    {"task get", "TASK_ID", "a task: status, committee, result, timeline", NULL,
     "TASK_ID is what `cohort task submit` printed (64 hex digits).\n",
     "ID=$(cohort task submit --program build/vm/guest/sha256.elf --reward 100000); "
     "cohort task get $ID"},
    {"task output", "TASK_ID", "write a task's agreed output to stdout",
     "  --output FILE        write it to FILE instead\n", NULL, "cohort task output TASK_ID > out.bin"},
    {"task challenge", "TASK_ID", "challenge an agreed result within its window (posts dispute_bond STK)",
     FROM, "You then play the verification game as challenger: run `cohort watch` with the same\n"
     "key to make the moves (it re-runs the task and answers each round).\n",
     "cohort task challenge TASK_ID --from watcher"},
    {"task list", "", "list tasks, filtered by owner, executor or status",
     "  --owner ADDR|KEY     tasks submitted by this account\n"
     "  --executor ADDR|KEY  tasks where this executor holds a seat now (a seat it lost to a\n"
     "                       replacement, after a missed window, is not listed)\n"
     "  --status S           drawing, committing, revealing, agreed, final, disputed or expired\n"
     "  --limit N            at most N tasks, 1 to 1000 (default: 100)\n",
     NULL, "cohort task list --status final"},
    {"dispute", "get|list ...", "verification games: who plays, whose move, the range, the deadline",
     NULL, NULL, "cohort dispute list"},
    {"dispute get", "TASK_ID", "a task's verification game: parties, claims, the move due, events",
     NULL, NULL, "cohort dispute get TASK_ID"},
    {"dispute list", "", "the tasks in a verification game now",
     "  --limit N            at most N tasks, 1 to 1000 (default: 100)\n", NULL,
     "cohort dispute list"},
    {"job", "submit|get ...", "jobs: one program over many inputs (chunks)",
     NULL, NULL, "cohort job get JOB_ID"},
    {"job submit", "--program FILE|HASH --chunks DIR --reward-per-chunk N",
     "run a program over each file in DIR",
     "  --program FILE|HASH  (required) an ELF file (uploaded if new) or an uploaded program's hash\n"
     "  --chunks DIR         (required) a directory; each regular file (sorted by name) is a chunk\n"
     "  --reward-per-chunk N (required) CRD base units escrowed per chunk\n"
     "  --committee K        executors per chunk (default: 3)\n"
     "  --max-steps N        step cap of each chunk (default: 100000000)\n"
     "  --mem MiB            memory cap (default: 64)\n"
     "  --max-output BYTES   output cap of each chunk (default: 65536)\n"
     FROM
     "  --wait               follow the job until it ends; print each chunk's output\n"
     "  --out DIR            with --wait: write chunk NAME's output to DIR/NAME.out\n",
     "Each regular file in DIR is one chunk's input, run by its own committee. Without --wait\n"
     "it prints the job ID. At most 256 chunks.\n",
     "cohort job submit --program build/vm/guest/wc.elf --chunks parts/ --reward-per-chunk "
     "100000 --committee 1 --wait"},
    {"job get", "JOB_ID", "a job: status, chunks done, each chunk's task", NULL,
     "JOB_ID is what `cohort job submit` printed.\n", "cohort job get JOB_ID"},
    {"executor", "register|unbond|show|list|run ...",
     "executors: stake STK, run seats for CRD", NULL, NULL, "cohort executor list"},
    {"executor register", "",
     "register, or change stake, prices or capacity",
     "  --stake N            STK base units to add to the bonded stake (default: 0); the chain\n"
     "                       draws only executors with at least min_executor_stake\n"
     "  --price P            CRD base units per million steps (default: as registered; 0 at first)\n"
     "  --price-per-task N   CRD base units per seat on top (default: as registered; 0 at first)\n"
     "  --capacity N         seats held at once, 1 to 4096 (default: as registered; 2 at first)\n"
     "  --commission BPS     your cut of the delegators' part of your pay, 0 to 10000 (default:\n"
     "                       as registered; 0 at first); a raise takes effect unbonding_blocks\n"
     "                       later, a cut at once\n"
     "  --not-accepting      stop being drawn for new tasks (a pause; seats held are served)\n"
     FROM,
     NULL, "cohort executor register --stake 2000000000 --price 1000 --from worker"},
    {"executor unbond", "--amount N", "start unbonding stake",
     "  --amount N           (required) STK base units to unbond\n" FROM,
     "The stake returns to the account after the chain's unbonding period.\n",
     "cohort executor unbond --amount 1000000 --from worker"},
    {"executor show", "[ADDR|KEY]", "an executor's stake, prices, capacity and record",
     "  --from KEY           the executor to show, when no ADDR|KEY is given (default: dev)\n",
     NULL, "cohort executor show worker"},
    {"executor list", "", "every registered executor", NULL, NULL, "cohort executor list"},
    {"executor run", "", "serve this executor's committee seats until Ctrl-C",
     "  --key NAME           the executor's account key (default: dev)\n"
     "  --node URL           a node's RPC; repeat for failover (commits and reveals go to every\n"
     "                       node; all must have the same genesis); default: the global --node\n"
     "  --state DIR          claims and salts (default: HOME/executor/ADDRESS)\n"
     "  --capacity N         tasks run at once (default: the capacity registered on chain, which\n"
     "                       is 2 unless `executor register --capacity` set it)\n"
     "  --poll-ms N          how often to list seats when no WebSocket event comes, >= 50\n"
     "                       (default: 500)\n"
     "  --watch-bps N        also watch: re-run this share (1/10000) of agreed tasks it is not\n"
     "                       on and challenge a wrong result (default: 0, off)\n"
     "  --byzantine          fault injection for tests: computes on a corrupted input\n"
     "  --lie-from-step N    fault injection: a register flipped after step N, then run on\n"
     "  --silent-in-games    fault injection: never moves in a verification game\n"
     "                       (the three are refused outside devnet/testnet/localnet chains)\n",
     "It logs to stderr. Register first (`cohort executor register`). A restart keeps its\n"
     "commitments: they are in --state. It plays the verification game of every disputed\n"
     "task it sits on by itself (docs/tasks.md): keep it running while one is open.\n"
     "The same engine can run inside a node instead: [executor] in cohortd.conf\n"
     "(docs/operator.md).\n",
     "cohort executor run --key worker --node http://127.0.0.1:27657"},
    {"watch", "", "re-run agreed tasks and challenge wrong results (a watcher) until Ctrl-C",
     "  --key NAME           the watcher's account (default: dev): it posts dispute_bond STK per\n"
     "                       challenge, back with a share of the liar's stake if it wins\n"
     "  --node URL           a node's RPC; repeat for failover (default: the global --node)\n"
     "  --sample-bps N       share of agreed tasks to re-run, 1/10000 (default: 10000, all)\n"
     "  --poll-ms N          how often to list tasks, >= 50 (default: 500)\n",
     "Any account can watch; it needs no executor registration. A task is re-run from the\n"
     "program and input the node serves (checked against the task); a result whose final\n"
     "state differs from the watcher's is challenged within its window and the game played.\n",
     "cohort watch --key watcher --node http://127.0.0.1:27657"},
    {"stake", "create-validator|edit-validator|delegate|undelegate|redelegate|withdraw-rewards|"
     "unjail|show ...", "validators, delegations and rewards (STK bonded to validators)", NULL,
     "Delegated STK is bonded to a validator: it earns a share of the fees its validator gets,\n"
     "and is slashed with it (docs/staking.md).\n",
     "cohort stake show"},
    {"stake create-validator", "--pubkey HEX --beacon-commit HEX --self-bond N",
     "make this account a validator, with a node's consensus key",
     "  --pubkey HEX         (required) the node's ed25519 consensus key (cohortd show-validator)\n"
     "  --beacon-commit HEX  (required) the node's beacon commitment (cohortd show-validator)\n"
     "  --self-bond N        (required) STK base units delegated to itself, >= min_self_bond\n"
     "  --moniker NAME       up to 64 bytes (default: none)\n"
     "  --commission BPS     share of its rewards the operator keeps, 1/10000 (default: 500)\n"
     "  --max-commission BPS the most it may ever charge, fixed (default: 2000)\n"
     "  --max-change BPS     the most one edit may move the commission, fixed (default: 100)\n"
     FROM
     "  --fee N              fee in CRD base units (default: what the cost model asks)\n"
     "  --no-wait            return once the node accepted it (default: wait for its block)\n"
     "  -q, --quiet          print only the tx hash\n",
     "The validator enters the set at the end of the block if its tokens rank in the top\n"
     "max_validators; it signs from two blocks later, so the node holding the key must run.\n",
     "cohort stake create-validator --pubkey $(cohortd show-validator --home NODE --pubkey) "
     "--beacon-commit $(cohortd show-validator --home NODE --beacon-commit) --self-bond 2000000 "
     "--from op"},
    {"stake edit-validator", "", "change the moniker or the commission of your validator",
     "  --moniker NAME       the new moniker\n"
     "  --commission BPS     announce a new commission (within max-change of the one in force);\n"
     "                       it applies commission_change_blocks later, one change at a time\n"
     FROM
     "  --fee N              fee in CRD base units (default: what the cost model asks)\n"
     "  --no-wait            return once the node accepted it (default: wait for its block)\n"
     "  -q, --quiet          print only the tx hash\n",
     NULL, "cohort stake edit-validator --commission 600 --from op"},
    {"stake delegate", "--amount N [--validator ADDR|KEY | --executor ADDR|KEY]",
     "bond STK to a validator or an executor",
     "  --validator ADDR|KEY the validator's operator account (this or --executor is required)\n"
     "  --executor ADDR|KEY  an executor: its draw weight grows, you share its pay and slashes\n"
     "  --amount N           (required) STK base units, >= min_delegation\n"
     FROM
     "  --fee N              fee in CRD base units (default: what the cost model asks)\n"
     "  --no-wait            return once the node accepted it (default: wait for its block)\n"
     "  -q, --quiet          print only the tx hash\n",
     "Pending rewards of that delegation are paid out first.\n",
     "cohort stake delegate --validator $(cohort keys show dev -a) --amount 100000"},
    {"stake undelegate", "--amount N [--validator ADDR|KEY | --executor ADDR|KEY]",
     "start unbonding STK from a validator or an executor",
     "  --validator ADDR|KEY the validator's operator account (this or --executor is required)\n"
     "  --executor ADDR|KEY  the executor\n"
     "  --amount N           (required) STK base units (at most what the delegation is worth)\n"
     FROM
     "  --fee N              fee in CRD base units (default: what the cost model asks)\n"
     "  --no-wait            return once the node accepted it (default: wait for its block)\n"
     "  -q, --quiet          print only the tx hash\n",
     "The STK comes back after unbonding_blocks and stays slashable until then.\n",
     "cohort stake undelegate --validator $(cohort keys show dev -a) --amount 50000"},
    {"stake redelegate", "--src ADDR|KEY --dst ADDR|KEY --amount N",
     "move bonded STK to another validator without the unbonding wait",
     "  --src ADDR|KEY       (required) the validator it leaves\n"
     "  --dst ADDR|KEY       (required) the validator it goes to\n"
     "  --amount N           (required) STK base units\n"
     FROM
     "  --fee N              fee in CRD base units (default: what the cost model asks)\n"
     "  --no-wait            return once the node accepted it (default: wait for its block)\n"
     "  -q, --quiet          print only the tx hash\n",
     "It stays slashable for the source's offences for unbonding_blocks, and cannot move on\n"
     "from the destination until then.\n",
     "cohort stake redelegate --src VAL1 --dst VAL2 --amount 50000"},
    {"stake withdraw-rewards", "", "collect rewards (and commission, for an operator)",
     "  --validator ADDR|KEY only the delegation to this validator (default: all of them)\n"
     "  --executor ADDR|KEY  only the delegation to this executor\n"
     FROM
     "  --fee N              fee in CRD base units (default: what the cost model asks)\n"
     "  --no-wait            return once the node accepted it (default: wait for its block)\n"
     "  -q, --quiet          print only the tx hash\n",
     NULL, "cohort stake withdraw-rewards"},
    {"stake unjail", "", "bring your jailed validator back (after its jail ends)",
     FROM
     "  --fee N              fee in CRD base units (default: what the cost model asks)\n"
     "  --no-wait            return once the node accepted it (default: wait for its block)\n"
     "  -q, --quiet          print only the tx hash\n",
     "Needs the self-bond worth at least min_self_bond. A double-signer never comes back.\n",
     "cohort stake unjail --from op"},
    {"stake show", "[ADDR|KEY]", "an account's validator, delegations, rewards and unbondings",
     "  --from KEY           the account to show, when no ADDR|KEY is given (default: dev)\n", NULL,
     "cohort stake show dev"},
    {"gov", "propose|deposit|vote|show|list ...",
     "governance: proposals, deposits and votes weighted by bonded STK", NULL, NULL,
     "cohort gov list"},
    {"gov propose", "--title TEXT --param NAME=VALUE|--text|--spend",
     "propose a parameter change, a text, or a community-pool spend",
     "  --title TEXT         (required) 1 to 140 bytes\n"
     "  --param NAME=VALUE   (required) one kind of the three: a parameter change; repeat for up\n"
     "                       to 16 changes (names and bounds: cohort params)\n"
     "  --text               (required) or a text proposal\n"
     "  --spend              (required) or a community-pool spend of CRD (with --to, --amount)\n"
     "  --to ADDR|KEY        with --spend: the recipient\n"
     "  --amount N           with --spend: CRD base units to pay\n"
     "  --apply-height H     with --param: the first block to run with the new values (default:\n"
     "                       the block after the tally; must be beyond the voting period)\n"
     "  --description TEXT   up to 10000 bytes (default: none)\n"
     "  --deposit N          STK base units deposited (default: gov_min_deposit, so voting starts\n"
     "                       at once; at least gov_min_initial_bps of it)\n"
     FROM,
     "Waits for the block and prints the proposal's ID. Voting starts once the deposits reach\n"
     "gov_min_deposit and lasts gov_voting_blocks; a passed change applies at its height\n"
     "(docs/staking.md \"Passing a parameter change\").\n",
     "cohort gov propose --param min_fee=2000 --title \"Raise the minimum fee\""},
    {"gov deposit", "ID AMOUNT", "add STK to a proposal's deposit (in its deposit period)", FROM,
     "Deposits come back after the vote, unless it ends vetoed or without a quorum (burned).\n",
     "cohort gov deposit 1 5000000"},
    {"gov vote", "ID yes|no|abstain|veto", "vote on a proposal in its voting period", FROM,
     "The voter needs a delegation; its weight is the STK it has bonded to validators of the\n"
     "set. A validator's operator votes for the validator: its delegators who do not vote\n"
     "themselves follow it. The last vote counts.\n",
     "cohort gov vote 1 yes"},
    {"gov show", "ID", "a proposal: status, deposits, changes, and its (running) tally", NULL,
     NULL, "cohort gov show 1"},
    {"gov list", "", "proposals, newest first",
     "  --status S           deposit, voting, passed, rejected, vetoed, no_quorum, expired or\n"
     "                       failed\n"
     "  --limit N            at most N, 1 to 1000 (default: 100)\n",
     NULL, "cohort gov list --status voting"},
    {"params", "[NAME]", "the chain parameters in force and the height each took effect", NULL,
     "With NAME: that parameter's documentation and default too.\n", "cohort params min_fee"},
    {"version", "", "print the version", NULL, NULL, "cohort version"},
};

#define N_ENTRIES (sizeof entries / sizeof entries[0])

static const help_entry *find(const char *path) {
  for (size_t i = 0; i < N_ENTRIES; i++)
    if (!strcmp(entries[i].path, path)) return &entries[i];
  return NULL;
}

static int is_group(const char *path) {
  size_t l = strlen(path);
  for (size_t i = 0; i < N_ENTRIES; i++)
    if (!strncmp(entries[i].path, path, l) && entries[i].path[l] == ' ') return 1;
  return 0;
}

int cli_help_is_group(const char *cmd) { return is_group(cmd); }

int cli_help_has(const char *path) { return find(path) != NULL; }

static const char globals[] =
    "Global flags (before or after the command):\n"
    "  --node URL           the node's RPC (default: $COHORT_NODE or http://127.0.0.1:27657)\n"
    "  --home DIR           where keys live (default: $COHORT_HOME or ~/.cohort)\n"
    "  --json               machine-readable output (amounts as base-unit strings)\n"
    "  -h, --help           this help\n";

void cli_help_top(FILE *f) {
  fprintf(f, "Usage: cohort [--node URL] [--home DIR] [--json] COMMAND [SUBCOMMAND] [flags]\n\n"
             "The Cohort client: keys, transfers and queries, and the compute market, through a\n"
             "node's JSON-RPC. Amounts are in base units: 1 CRD = 1 STK = 1000000.\n\n"
             "Commands:\n");
  for (size_t i = 0; i < N_ENTRIES; i++) {
    if (is_group(entries[i].path)) continue; /* its subcommands are listed */
    char head[64];
    snprintf(head, sizeof head, "%s%s%s", entries[i].path, entries[i].args[0] ? " " : "",
             entries[i].args);
    if (strlen(head) > 25)
      snprintf(head, sizeof head, strlen(entries[i].path) > 21 ? "%s" : "%s ...", entries[i].path);
    fprintf(f, "  %-26s %s\n", head, entries[i].summary);
  }
  fprintf(f, "\n%s  --version            print the version\n\n"
             "Run `cohort COMMAND [SUBCOMMAND] --help` for a command's flags and an example.\n\n"
             "Example:\n  cohort --node http://127.0.0.1:27657 status\n", globals);
}

/* A summary as a sentence: capitalised, with a full stop. */
static void sentence(FILE *f, const char *s) {
  fprintf(f, "%c%s.\n", s[0] >= 'a' && s[0] <= 'z' ? s[0] - 32 : s[0], s + 1);
}

int cli_help(const char *path, FILE *f) {
  const help_entry *e = find(path);
  if (!e) return -1;
  if (is_group(path)) {
    fprintf(f, "Usage: cohort %s %s\n\n", e->path, e->args);
    sentence(f, e->summary);
    fprintf(f, "\nSubcommands:\n");
    size_t l = strlen(path);
    for (size_t i = 0; i < N_ENTRIES; i++) {
      if (strncmp(entries[i].path, path, l) || entries[i].path[l] != ' ') continue;
      char head[64];
      snprintf(head, sizeof head, "%s%s%s", entries[i].path + l + 1, entries[i].args[0] ? " " : "",
               entries[i].args);
      if (strlen(head) > 25) snprintf(head, sizeof head, "%s ...", entries[i].path + l + 1);
      fprintf(f, "  %-26s %s\n", head, entries[i].summary);
    }
    fprintf(f, "\nRun `cohort %s SUBCOMMAND --help` for its flags.\n\nExample:\n  %s\n", path,
            e->example);
    return 0;
  }
  fprintf(f, "Usage: cohort %s%s%s%s\n\n", e->path, e->args[0] ? " " : "", e->args,
          e->flags ? " [flags]" : "");
  sentence(f, e->summary);
  if (e->notes) fprintf(f, "%s", e->notes);
  if (e->flags) fprintf(f, "\nFlags:\n%s", e->flags);
  fprintf(f, "\n%s\nExample:\n  %s\n", globals, e->example);
  return 0;
}

int cli_usage_error(const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "cohort %s: ", path);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n  (see: cohort %s --help)\n", path);
  return 2;
}
