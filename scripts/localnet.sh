#!/usr/bin/env bash
# make localnet: four validators of one chain on this machine, each its own
# cohortd process, with executors and a compute task.
#
#   1. `cohortd testnet --validators 4` into $LOCALNET_DIR (reused on later
#      runs; `make localnet-reset` deletes it);
#   2. starts node0..node3 (logs: $LOCALNET_DIR/nodeK/cohortd.log);
#   3. follows the chain: one line per committed block with its proposer
#      (scripts/localnet_watch.py);
#   4. once blocks come: stakes three executors (keys in node0/keys), runs
#      executor K against nodeK (the others as failover), and has a SHA-256
#      task run by a committee of three;
#   5. keeps running until Ctrl-C (or SIGTERM), then stops every process it
#      started and waits for each.
# LOCALNET_BASE_PORT (26656: node K uses p2p base+10K, RPC base+10K+1) and
# LOCALNET_EMPTY_BLOCK_MS (2000: an empty block after this long idle, so
# the proposers can be seen taking turns) apply when the testnet is made.
# LOCALNET_VALIDATORS (4) sets the number of validators of a new testnet
# (1 makes a chain that commits on its own). LOCALNET_DEMO_ONLY=1 stops
# after the task.
set -euo pipefail
DIR=${LOCALNET_DIR:?}
BIN=${BIN:?}
N=${LOCALNET_VALIDATORS:-4}
BASE=${LOCALNET_BASE_PORT:-26656}
EMPTY_MS=${LOCALNET_EMPTY_BLOCK_MS:-2000}
HERE=$(cd "$(dirname "$0")" && pwd)
GUESTS="$(dirname "$BIN")/vm/guest"

if [ ! -f "$DIR/testnet.json" ]; then
  if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
    echo "localnet: $DIR holds no testnet.json (an interrupted set-up?); run: make localnet-reset" >&2
    exit 1
  fi
  echo "== making a testnet of $N validators in $DIR"
  # A fixed chain ID is safe here: every testnet gets fresh keys, so no tx
  # of one localnet verifies on another (docs/protocol.md "Replay across chains").
  "$BIN/cohortd" testnet --validators $N --out "$DIR" --chain-id cohort-localnet-1 \
    --base-port "$BASE" --empty-block-interval-ms "$EMPTY_MS"
else
  echo "== reusing the testnet in $DIR (make localnet-reset starts over)"
fi

# The network, from testnet.json: monikers, RPC and p2p addresses.
mapfile -t NAMES < <(python3 -c 'import json,sys
for n in json.load(open(sys.argv[1]))["nodes"]: print(n["moniker"])' "$DIR/testnet.json")
mapfile -t RPCS < <(python3 -c 'import json,sys
for n in json.load(open(sys.argv[1]))["nodes"]: print(n["rpc"])' "$DIR/testnet.json")
mapfile -t P2PS < <(python3 -c 'import json,sys
for n in json.load(open(sys.argv[1]))["nodes"]: print(n["p2p"])' "$DIR/testnet.json")
CHAIN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["chain_id"])' "$DIR/testnet.json")
N=${#NAMES[@]}
URL0="http://${RPCS[0]}"
W="$DIR/node0" # the wallet home: dev.json (the faucet) and the executors' keys
cohort() { "$BIN/cohort" --node "$URL0" --home "$W" "$@"; }

# Refuse to start over a running localnet (or anything else on our ports).
in_use() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }
for k in $(seq 0 $((N - 1))); do
  for a in "${RPCS[$k]}" "${P2PS[$k]}"; do
    a=${a/0.0.0.0/127.0.0.1}
    if in_use "$a"; then
      echo "localnet: something already listens on $a (${NAMES[$k]}'s port): another localnet?" \
           "Stop it first, or make a testnet on other ports:" \
           "make localnet-reset && LOCALNET_BASE_PORT=36656 make localnet" >&2
      exit 1
    fi
  done
done

PIDS=() EXEC_PIDS=() WATCH_PID=""
STOPPING=0
cleanup() {
  [ "$STOPPING" = 1 ] && return
  STOPPING=1
  trap '' INT TERM
  echo
  echo "== stopping the localnet"
  [ -n "$WATCH_PID" ] && kill -TERM "$WATCH_PID" 2>/dev/null || true
  for p in "${EXEC_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${EXEC_PIDS[@]}" $WATCH_PID; do wait "$p" 2>/dev/null || true; done
  for k in "${!PIDS[@]}"; do
    p=${PIDS[$k]}
    for _ in $(seq 1 200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
      echo "   ${NAMES[$k]} did not stop within 20 s of SIGTERM: killing it" >&2
      kill -KILL "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
    last=$(grep -o 'stopped cleanly at height [0-9]*' "$DIR/${NAMES[$k]}/cohortd.log" | tail -1 || true)
    echo "   ${NAMES[$k]}: ${last:-exited (see $DIR/${NAMES[$k]}/cohortd.log)}"
  done
  echo "   the chain is kept in $DIR: make localnet continues it, make localnet-reset deletes it"
}
trap cleanup EXIT
# Ctrl-C (or SIGTERM) is how the localnet is meant to stop: a clean stop
# exits 0 (after cleanup), so make reports no error.
trap 'exit 0' INT TERM

echo "== starting $N validators of chain $CHAIN"
for k in $(seq 0 $((N - 1))); do
  LOG="$DIR/${NAMES[$k]}/cohortd.log"
  echo "---- $(date -u +%FT%TZ) make localnet: starting ${NAMES[$k]}" >>"$LOG"
  "$BIN/cohortd" start --home "$DIR/${NAMES[$k]}" >>"$LOG" 2>&1 &
  PIDS[$k]=$!
done
for k in $(seq 0 $((N - 1))); do
  for _ in $(seq 1 300); do
    curl -s -m 1 "http://${RPCS[$k]}/health" >/dev/null 2>&1 && break
    if ! kill -0 "${PIDS[$k]}" 2>/dev/null; then
      echo "localnet: ${NAMES[$k]} exited at start; the end of its log:" >&2
      tail -20 "$DIR/${NAMES[$k]}/cohortd.log" >&2
      exit 1
    fi
    sleep 0.1
  done
done
echo
printf '   %-6s %-8s %-24s %-24s %s\n' node pid rpc p2p log
for k in $(seq 0 $((N - 1))); do
  printf '   %-6s %-8s %-24s %-24s %s\n' "${NAMES[$k]}" "${PIDS[$k]}" "http://${RPCS[$k]}" \
    "${P2PS[$k]}" "$DIR/${NAMES[$k]}/cohortd.log"
done
echo
echo "== following the chain (one line per committed block, with the validator that proposed it)"
python3 "$HERE/localnet_watch.py" "$DIR" &
WATCH_PID=$!

height() { curl -s -m 2 -d '{"jsonrpc":"2.0","id":1,"method":"status"}' "$1" |
           python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["latest_height"])' 2>/dev/null || echo 0; }
# The demo needs committed blocks: wait for the validators to make one.
while [ "$(height "$URL0")" = 0 ]; do sleep 1; done

echo
echo "== executors: three staked workers (keys exec1..exec3 in $W/keys); executor K"
echo "   talks to node K and sends its commits and reveals to the other nodes too"
for i in 1 2 3; do
  [ -f "$W/keys/exec$i.json" ] || cohort keys new "exec$i" >/dev/null
  A=$(cohort keys show "exec$i" -a)
  if ! cohort executor show "exec$i" >/dev/null 2>&1; then
    echo "   exec$i ($A): funding and registering"
    cohort transfer --to "$A" --amount 5000000000 --token STK >/dev/null
    cohort transfer --to "$A" --amount 100000000 --wait >/dev/null
    cohort executor register --stake 2000000000 --price 1000 --from "exec$i" >/dev/null
  fi
  m=$((i % N))
  OTHERS=()
  for k in $(seq 0 $((N - 1))); do [ "$k" = "$m" ] || OTHERS+=(--node "http://${RPCS[$k]}"); done
  "$BIN/cohort" --home "$W" executor run --key "exec$i" --node "http://${RPCS[$m]}" "${OTHERS[@]}" \
    >>"$DIR/executor$i.log" 2>&1 &
  EXEC_PIDS+=($!)
  EXEC_ARGS[$i]="--node http://${RPCS[$m]} ${OTHERS[*]}"
  echo "   exec$i runs against ${NAMES[$m]} (log $DIR/executor$i.log)"
done

echo
echo "== a compute task: SHA-256 of a text, run by a committee of 3, committed and revealed on chain"
printf 'Hello from the Cohort localnet' >"$DIR/demo-input.txt"
if cohort task submit --program "$GUESTS/sha256.elf" --input "$DIR/demo-input.txt" \
     --reward 1000000 --committee 3 --max-steps 10000000 --mem 16 --wait; then
  echo "   (check: $(sha256sum <"$DIR/demo-input.txt" | cut -d' ' -f1))"
else
  echo "   the task did not finish (see above, and $DIR/executor*.log); the localnet keeps running"
fi
echo
echo "== a liar loses its stake: exec3 restarted with --byzantine (fault injection: it computes on a"
echo "   corrupted input); the committee disagrees and plays the verification game on chain; the"
echo "   step proof at its end is checked by all $N validators as part of the block that carries it"
kill -TERM "${EXEC_PIDS[2]}" 2>/dev/null || true
wait "${EXEC_PIDS[2]}" 2>/dev/null || true
# shellcheck disable=SC2086
"$BIN/cohort" --home "$W" executor run --key exec3 --byzantine ${EXEC_ARGS[3]} \
  >>"$DIR/executor3.log" 2>&1 &
EXEC_PIDS[2]=$!
OUT=$(cohort task submit --program "$GUESTS/sha256.elf" --input-text "who lies on the localnet?" \
  --reward 1000000 --committee 3 --max-steps 10000000 --mem 16 --wait 2>&1) || true
echo "$OUT" | sed 's/^/   /'
TID=$(echo "$OUT" | sed -n 's/^task \([0-9a-f]\{64\}\) submitted.*/\1/p' | head -1)
if [ -n "$TID" ]; then
  cohort dispute get "$TID" | sed 's/^/   /'
  for k in $(seq 0 $((N - 1))); do
    H=$(cohort --node "http://${RPCS[$k]}" --json task get "$TID" |
        python3 -c 'import json,sys; t=json.load(sys.stdin); print(t["status"], t["result"]["final_state"][:16] if t.get("result") else "-")')
    echo "   ${NAMES[$k]} sees: $H"
  done
fi
kill -TERM "${EXEC_PIDS[2]}" 2>/dev/null || true
wait "${EXEC_PIDS[2]}" 2>/dev/null || true
# shellcheck disable=SC2086
"$BIN/cohort" --home "$W" executor run --key exec3 ${EXEC_ARGS[3]} >>"$DIR/executor3.log" 2>&1 &
EXEC_PIDS[2]=$!
echo "   exec3 serving honestly again"
if [ "${LOCALNET_DEMO_ONLY:-0}" = 1 ]; then
  echo "== demo done (LOCALNET_DEMO_ONLY=1)"
  exit 0
fi
echo
cat <<MSG
== the localnet keeps running; blocks keep appearing below. In another terminal try:
     export PATH=$BIN:\$PATH COHORT_HOME=$W COHORT_NODE=$URL0
     cohort status
     cohort --node http://${RPCS[$((N - 1))]} status     # another validator, same chain
     cohort task submit --program $GUESTS/wc.elf --input $(cd "$(dirname "$0")/.." && pwd)/README.md --reward 1000000 --committee 3 --wait
     tail -f $DIR/node1/cohortd.log
   Ctrl-C here stops the four nodes and the executors.
MSG
wait -n "${PIDS[@]}" || true
echo "localnet: a node exited; see its log in $DIR/nodeK/cohortd.log" >&2
exit 1
