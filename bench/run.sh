#!/usr/bin/env bash
# make bench: run every benchmark; each prints its figures.
set -euo pipefail
B=${1:?usage: bench/run.sh BUILD_DIR}
echo "== chain: transfers per second (bench_tps)"
"$B/bench/bench_tps" --bin "$B/bin" --txs "${BENCH_TXS:-20000}" --senders 8
echo "== chain: delegations per second through one validator (bench_tps --msg delegate)"
"$B/bench/bench_tps" --bin "$B/bin" --txs "${BENCH_TXS:-20000}" --senders 8 --msg delegate
echo "== network: four validators under load (bench_net.py, bench_load)"
python3 "$(dirname "$0")/net/bench_net.py" "$B" --rate "${BENCH_NET_RATE:-1000}" --duration "${BENCH_NET_SECONDS:-60}"
echo "== network: a fresh node syncs a long chain (bench_sync.py)"
python3 "$(dirname "$0")/net/bench_sync.py" "$B" --blocks "${BENCH_SYNC_BLOCKS:-3000}"
echo "== verification game: rounds, bytes, times (bench_dispute)"
"$B/bench/bench_dispute"
echo "== verification game end to end on a devnet (bench_game_e2e.py)"
python3 "$(dirname "$0")/dispute/bench_game_e2e.py" "$B"
echo "== compute market: tasks per minute, latency, executor overhead (bench_tasks.py)"
python3 "$(dirname "$0")/tasks/bench_tasks.py" "$B" --tasks "${BENCH_TASKS:-60}"
for f in "$B"/bench/*; do
  case "$(basename "$f")" in bench_tps|bench_dispute|net|dispute) continue ;; esac
  if [ -x "$f" ] && [ -f "$f" ]; then echo "== $(basename "$f")"; "$f" || true; fi
done
