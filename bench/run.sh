#!/usr/bin/env bash
# make bench: run every benchmark; each prints its figures.
set -euo pipefail
B=${1:?usage: bench/run.sh BUILD_DIR}
echo "== chain: transfers per second (bench_tps)"
"$B/bench/bench_tps" --bin "$B/bin" --txs "${BENCH_TXS:-20000}" --senders 8
echo "== compute market: tasks per minute, latency, executor overhead (bench_tasks.py)"
python3 "$(dirname "$0")/tasks/bench_tasks.py" "$B" --tasks "${BENCH_TASKS:-60}"
for f in "$B"/bench/*; do
  case "$(basename "$f")" in bench_tps) continue ;; esac
  if [ -x "$f" ] && [ -f "$f" ]; then echo "== $(basename "$f")"; "$f" || true; fi
done
