#!/bin/sh
# tests/fuzz/run.sh [target|all] [seconds] — build the libFuzzer targets with
# clang in build-fuzz/ (-DCOHORT_FUZZ=ON) and fuzz each one for `seconds`
# (default 30) on its corpus.
#
# The committed seeds in tests/fuzz/corpus/<target>/ are read, never written:
# new inputs go to build-fuzz/fuzz/corpus/<target>/, crashes to
# build-fuzz/fuzz/artifacts/<target>/. tests/fuzz/<target>.dict is used if
# present. Extra libFuzzer flags can be passed in FUZZ_FLAGS (e.g. -jobs=2).
# Exits non-zero if any target found a crash.
#
# Targets (build-fuzz/fuzz/targets.txt): decoders of the RPC, WebSocket and
# p2p layers (fuzz_rpc_*, fuzz_http_request, fuzz_ws_frame, fuzz_p2p_*); the
# chain's decoders (fuzz_tx, fuzz_block, fuzz_genesis, fuzz_config); the
# consensus WAL and messages (fuzz_wal, fuzz_cons_msg); the VM (fuzz_vm_*);
# and fuzz_market, stateful: action sequences (submit, register, commit,
# reveal, delegate to executors, blocks..) run through real signed blocks
# from a state with tasks in every status, invariants checked after each block
# (tests/fuzz/chain/fuzz_market.c; about 10 exec/s). Its hand-made seeds
# come from tests/fuzz/chain/fuzz_market_seeds.py. fuzz_staking, stateful
# too: a staking workload per input (delegations, slashes, downtime,
# rewards) on a four-validator chain, state_audit after every block
# (tests/fuzz/chain/fuzz_staking.c; about 13 exec/s).
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
target=${1:-all}
secs=${2:-30}
build=$root/build-fuzz

cmake -S "$root" -B "$build" -DCOHORT_FUZZ=ON -DCMAKE_C_COMPILER=clang \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if [ "$target" = all ]; then
  cmake --build "$build" -j"$(nproc)" --target fuzz
  targets=$(cat "$build/fuzz/targets.txt")
else
  cmake --build "$build" -j"$(nproc)" --target "$target"
  targets=$target
fi

status=0
for t in $targets; do
  seeds=""
  for d in "$root/tests/fuzz/corpus/$t" "$root/tests/fuzz/vm/corpus/$t"; do
    [ -d "$d" ] && seeds="$seeds $d"
  done
  dict=""
  for f in "$root/tests/fuzz/$t.dict" "$root/tests/fuzz/vm/$t.dict"; do
    [ -f "$f" ] && dict="-dict=$f"
  done
  work=$build/fuzz/corpus/$t
  art=$build/fuzz/artifacts/$t
  mkdir -p "$work" "$art"
  echo "== $t: ${secs}s, seeds:${seeds:- none}"
  # shellcheck disable=SC2086
  if ! "$build/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$art/" $dict ${FUZZ_FLAGS:-} \
      "$work" $seeds; then
    echo "!! $t failed; reproduce with: $build/fuzz/$t $art/<crash-file>"
    status=1
  fi
done
exit $status
