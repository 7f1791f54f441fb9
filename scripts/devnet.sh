#!/usr/bin/env bash
# make devnet: a one-validator Cohort chain on this machine, with a demo.
# Initialises $DEVNET_HOME once (reused on later runs; `make devnet-reset`
# starts over), starts cohortd, shows a transfer of each token committed in a
# block, then follows the node's log until Ctrl-C (which stops the node).
# DEVNET_DEMO_ONLY=1 stops the node after the demo instead.
set -euo pipefail
HOME_DIR=${DEVNET_HOME:?}
RPC=${DEVNET_RPC:-127.0.0.1:27657}
BIN=${BIN:?}
URL="http://$RPC"
REPO=$(cd "$(dirname "$0")/.." && pwd)
cohort() { "$BIN/cohort" --node "$URL" --home "$HOME_DIR" "$@"; }

if [ ! -f "$HOME_DIR/config/genesis.json" ]; then
  # p2p beside the RPC port, clear of a localnet's 26656..
  "$BIN/cohortd" init --home "$HOME_DIR" --moniker devnet --rpc-listen "$RPC" \
    --p2p-listen "${DEVNET_P2P:-127.0.0.1:27656}"
fi
if curl -s -m 1 "$URL/health" >/dev/null 2>&1; then
  echo "devnet: something already answers on $URL — stop it first (or set DEVNET_RPC=host:port)" >&2
  exit 1
fi

LOG="$HOME_DIR/cohortd.log"
"$BIN/cohortd" start --home "$HOME_DIR" --rpc-listen "$RPC" >>"$LOG" 2>&1 &
PID=$!
EXEC_PIDS=""
cleanup() {
  for p in $EXEC_PIDS; do kill -TERM "$p" 2>/dev/null || true; done
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
}
# Ctrl-C (or SIGTERM) is how the devnet is meant to stop: stop the node and
# the executors, wait for them, and exit 0 — so make reports no error.
stopped() {
  trap - EXIT INT TERM
  echo
  echo "== stopping the node and the executors"
  cleanup
  echo "== devnet stopped cleanly (the chain is kept in $HOME_DIR; make devnet resumes it)"
  exit 0
}
trap cleanup EXIT
trap stopped INT TERM

for _ in $(seq 1 100); do
  curl -s -m 1 "$URL/health" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { echo "devnet: cohortd exited; its log:" >&2; tail -20 "$LOG" >&2; exit 1; }
  sleep 0.1
done

echo
echo "== devnet is up: cohortd pid $PID, RPC $URL, home $HOME_DIR, log $LOG"
cohort status
[ -f "$HOME_DIR/keys/alice.json" ] || cohort keys new alice >/dev/null
ALICE=$(cohort keys show alice -a)
echo
echo "== demo: the dev account sends 25 CRD and 3 STK to alice ($ALICE)"
cohort transfer --to "$ALICE" --amount 25000000 --token CRD --wait
cohort transfer --to "$ALICE" --amount 3000000 --token STK --wait
echo
echo "== alice's account"
cohort account alice
echo
echo "== latest block"
cohort block
GUESTS="$(dirname "$BIN")/vm/guest"
echo "== executors: three staked workers (keys exec1..exec3), each a 'cohort executor run' process"
for i in 1 2 3; do
  [ -f "$HOME_DIR/keys/exec$i.json" ] || cohort keys new "exec$i" >/dev/null
  A=$(cohort keys show "exec$i" -a)
  if ! cohort executor show "exec$i" >/dev/null 2>&1; then
    echo "   exec$i ($A): funding it, then registering it with 2,000 STK of stake"
    cohort transfer --to "$A" --amount 5000000000 --token STK >/dev/null
    cohort transfer --to "$A" --amount 100000000 --wait >/dev/null
    cohort executor register --stake 2000000000 --price 1000 --from "exec$i" | sed 's/^/   /'
  else
    echo "   exec$i ($A): registered before"
  fi
  "$BIN/cohort" --node "$URL" --home "$HOME_DIR" executor run --key "exec$i" \
    >>"$HOME_DIR/executor$i.log" 2>&1 &
  EXEC_PIDS="$EXEC_PIDS $!"
  [ "$i" = 3 ] && EXEC3_PID=$!
  echo "   exec$i serving: pid $!, log $HOME_DIR/executor$i.log"
done
echo
echo "== demo: a compute task — SHA-256 of a text, run by a committee of 3, committed and revealed on chain"
printf 'Hello from the Cohort devnet' > "$HOME_DIR/demo-input.txt"
cohort task submit --program "$GUESTS/sha256.elf" --input "$HOME_DIR/demo-input.txt" \
  --reward 1000000 --committee 3 --max-steps 10000000 --mem 16 --wait
echo "   (check: $(sha256sum < "$HOME_DIR/demo-input.txt" | cut -d' ' -f1))"
echo
echo "== demo: primes up to 2,000,000 with the sieve example"
cohort task submit --program "$GUESTS/sieve.elf" --input-text 2000000 \
  --reward 1000000 --committee 3 --max-steps 100000000 --mem 32 --wait
echo
echo "== demo: a chunked job — word count over 8 chunks of the README, each chunk its own committee"
echo "   (below, each chunk's output follows its \"== FILE\" line: wc prints lines, words, bytes;"
echo "   its exit code is the word count mod 128, not an error: docs/vm.md §7)"
CH="$HOME_DIR/demo-chunks"
rm -rf "$CH" && mkdir -p "$CH"
split -n l/8 -d "$REPO/README.md" "$CH/readme-part-"
cohort job submit --program "$GUESTS/wc.elf" --chunks "$CH" --reward-per-chunk 1000000 \
  --committee 2 --max-steps 10000000 --mem 16 --wait
echo
echo "== demo: a liar loses its stake. exec3 is restarted with --byzantine (fault injection, refused"
echo "   outside devnet/testnet chains): it computes on a corrupted input. The committee of 3 disagrees;"
echo "   the executors play the verification game on chain by themselves (bisection down to one step,"
echo "   whose proof the validator checks); the liar loses and is slashed (docs/tasks.md)"
STAKE0=$(cohort --json executor show exec3 | sed -n 's/.*"stake": *"\([0-9]*\)".*/\1/p' | head -1)
stop_exec3() { # stop it and take it off the list cleanup() stops
  kill -TERM "$EXEC3_PID" 2>/dev/null || true
  wait "$EXEC3_PID" 2>/dev/null || true
  EXEC_PIDS=${EXEC_PIDS// $EXEC3_PID/}
}
stop_exec3
"$BIN/cohort" --node "$URL" --home "$HOME_DIR" executor run --key exec3 --byzantine \
  >>"$HOME_DIR/executor3.log" 2>&1 &
EXEC3_PID=$!
EXEC_PIDS="$EXEC_PIDS $EXEC3_PID"
OUT=$(cohort task submit --program "$GUESTS/sha256.elf" --input-text "who is lying?" \
  --reward 1000000 --committee 3 --max-steps 10000000 --mem 16 --wait 2>&1) || true
echo "$OUT" | sed 's/^/   /'
TID=$(echo "$OUT" | sed -n 's/^task \([0-9a-f]\{64\}\) submitted.*/\1/p' | head -1)
if [ -n "$TID" ]; then
  cohort dispute get "$TID" | sed 's/^/   /'
  STAKE1=$(cohort --json executor show exec3 | sed -n 's/.*"stake": *"\([0-9]*\)".*/\1/p' | head -1)
  echo "   exec3's stake: $STAKE0 -> $STAKE1 STK base units"
fi
stop_exec3
"$BIN/cohort" --node "$URL" --home "$HOME_DIR" executor run --key exec3 \
  >>"$HOME_DIR/executor3.log" 2>&1 &
EXEC3_PID=$!
EXEC_PIDS="$EXEC_PIDS $EXEC3_PID"
echo "   exec3 serving honestly again: pid $EXEC3_PID"
echo
echo "== demo: staking. dev sends alice 50,000 STK and she delegates them to the validator"
echo "   (operated by dev, 100,000 STK bonded): the fees of every block go to the validators by"
echo "   power and on to their delegators after commission (docs/staking.md), so a third of"
echo "   them (less the community tax) accrue to alice over the transactions below"
VAL=$(cohort keys show dev -a)
cohort transfer --to "$ALICE" --amount 50000000000 --token STK --wait >/dev/null
cohort stake delegate --validator "$VAL" --amount 50000000000 --from alice | sed 's/^/   /'
echo
echo "== demo: governance. The dev account (the validator's operator) proposes a higher min_fee"
echo "   and votes yes, which alice's delegation follows unless she votes herself; the tally comes"
echo "   at the end of the voting period"
echo "   (gov_voting_blocks: 20 blocks on a devnet) and the chain runs with the new value from the"
echo "   next block on (docs/governance.md)"
GOUT=$(cohort --json gov propose --param min_fee=2000 --title "Raise the minimum fee" \
  --description "make devnet's governance demo")
GID=$(echo "$GOUT" | sed -n 's/^ *"proposal": *\([0-9]*\).*/\1/p')
cohort gov vote "$GID" yes | sed 's/^/   /'
for _ in $(seq 1 120); do
  cohort --json gov show "$GID" | grep -q '"applied_height": [1-9]\|"status": "\(failed\|rejected\|no_quorum\|vetoed\)"' && break
  sleep 1
done
cohort gov show "$GID" | sed 's/^/   /'
cohort params min_fee | sed 's/^/   /'
echo
echo "== demo: alice's delegation after those blocks: its pending reward, then withdrawn"
cohort stake show alice | sed 's/^/   /'
cohort stake withdraw-rewards --from alice | sed 's/^/   /'
echo
if [ "${DEVNET_DEMO_ONLY:-0}" = 1 ]; then
  echo "== demo done; stopping the node (DEVNET_DEMO_ONLY=1)"
  exit 0
fi
cat <<MSG
== the chain keeps running. In another terminal try:
     export PATH=$BIN:\$PATH COHORT_HOME=$HOME_DIR COHORT_NODE=$URL
     cohort status
     cohort transfer --to $ALICE --amount 1000000 --wait
     cohort account alice
     cohort task submit --program $GUESTS/wc.elf --input $REPO/README.md --reward 1000000 --wait
     cohort task list
     cohort stake show alice    # a delegation and its rewards (docs/staking.md "Delegating STK")
     cohort gov list            # proposals; docs/governance.md passes a parameter change
     cohort params              # the parameters in force and since when
     cohort --help              # every command; cohort COMMAND --help for one
   Ctrl-C here stops the node and the executors. Following the log:
MSG
tail -n 0 -f "$LOG" &
TAILPID=$!
trap 'kill $TAILPID 2>/dev/null; cleanup' EXIT
trap 'kill $TAILPID 2>/dev/null; stopped' INT TERM
wait "$PID" || true
echo "devnet: cohortd exited by itself; the end of its log:" >&2
tail -20 "$LOG" >&2
exit 1
