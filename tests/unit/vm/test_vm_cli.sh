#!/usr/bin/env bash
# tests/unit/vm/test_vm_cli.sh — the cohort-vm runner end to end:
# run (output vs coreutils sha256sum, exit codes), hash/prove/verify round
# trip, hash --every checkpoints, output proofs, --trace, and clear errors for bad input.
# Usage: test_vm_cli.sh COHORT_VM GUEST_DIR
set -euo pipefail
VM=$1
G=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

printf 'abc' > "$T/in"
"$VM" run "$G/sha256.elf" --input "$T/in" > "$T/out" 2> "$T/err"
want=$(printf 'abc' | sha256sum | cut -d' ' -f1)
[ "$(cat "$T/out")" = "$want" ] || fail "sha256 output $(cat "$T/out") != $want"
grep -q '^status: exited (code 0)' "$T/err" || fail "status line missing"
grep -Eq '^state: [0-9a-f]{64}$' "$T/err" || fail "state hash line missing"

printf 'one two three\nfour\n' > "$T/wc"
set +e
"$VM" run "$G/wc.elf" --input "$T/wc" --output "$T/wcout" 2> /dev/null
rc=$?
set -e
[ "$rc" = 4 ] || fail "wc exit code $rc, want 4 (words)"
[ "$(cat "$T/wcout")" = "$(wc < "$T/wc" | awk '{print $1, $2, $3}')" ] || fail "wc output differs from wc(1)"

# step cap: out of steps is status 124
set +e
"$VM" run "$G/sieve.elf" --max-steps 1000 > /dev/null 2> "$T/err"
rc=$?
set -e
[ "$rc" = 124 ] || fail "out-of-steps exit $rc"
grep -q '^steps: 1000$' "$T/err" || fail "step cap not reached exactly"

# hash / prove / verify round trip
h100=$("$VM" hash "$G/sha256.elf" --input "$T/in" --at-step 100 | sed -n 's/^state: //p')
h101=$("$VM" hash "$G/sha256.elf" --input "$T/in" --at-step 101 | sed -n 's/^state: //p')
"$VM" prove "$G/sha256.elf" --input "$T/in" --at-step 100 > "$T/proof" 2> /dev/null
got=$("$VM" verify "$h100" "$T/proof")
[ "$got" = "$h101" ] || fail "verify gave $got, want $h101"
# a forged proof and a wrong pre-state are rejected
cp "$T/proof" "$T/bad"
printf '\x01' | dd of="$T/bad" bs=1 seek=300 conv=notrunc 2> /dev/null
if "$VM" verify "$h100" "$T/bad" > /dev/null 2>&1; then fail "forged proof accepted"; fi
if "$VM" verify "$h101" "$T/proof" > /dev/null 2>&1; then fail "proof accepted for the wrong pre-state"; fi

# hash --every: a checkpoint line at every multiple of K (hashed on the
# helper thread while the run goes on), each equal to hash --at-step of that
# step, the same list under --no-jit, and the final state as without it
"$VM" hash "$G/sieve.elf" --every 1000000 > "$T/cps"
"$VM" hash "$G/sieve.elf" --every 1000000 --no-jit > "$T/cps_interp"
cmp -s "$T/cps" "$T/cps_interp" || fail "hash --every differs between translator and interpreter"
n=$(grep -c '^checkpoint ' "$T/cps")
[ "$n" = 18 ] || fail "hash --every 1000000 of an 18.8 M-step run printed $n checkpoints, want 18"
for k in 1 7 18; do
  line=$(grep '^checkpoint ' "$T/cps" | sed -n "${k}p")
  [ "$line" = "checkpoint $((k * 1000000)) $("$VM" hash "$G/sieve.elf" --at-step $((k * 1000000)) | sed -n 's/^state: //p')" ] ||
    fail "checkpoint $k: '$line' is not hash --at-step $((k * 1000000))"
done
[ "$(grep '^state: ' "$T/cps")" = "$("$VM" hash "$G/sieve.elf" | grep '^state: ')" ] ||
  fail "hash --every changed the final state"
"$VM" hash "$G/sieve.elf" --every 1000000 --at-step 2500000 > "$T/cps"
[ "$(grep -c '^checkpoint ' "$T/cps")" = 2 ] && grep -q '^steps: 2500000$' "$T/cps" ||
  fail "hash --every with --at-step: $(cat "$T/cps")"
if "$VM" hash "$G/sieve.elf" --every 0 > /dev/null 2> "$T/err"; then fail "--every 0 accepted"; fi
grep -q 'at least 1' "$T/err" || fail "--every 0 message: $(cat "$T/err")"
if "$VM" run "$G/sieve.elf" --every 5 > /dev/null 2> "$T/err"; then fail "run --every accepted"; fi
# bad numbers and commands are named, not wrapped or shown as the usage
if "$VM" hash "$G/sieve.elf" --every -5 > /dev/null 2> "$T/err"; then fail "--every -5 accepted"; fi
grep -q "bad number '-5'" "$T/err" || fail "--every -5 message: $(cat "$T/err")"
if "$VM" bogus "$G/sieve.elf" > /dev/null 2> "$T/err"; then fail "unknown command accepted"; fi
grep -q "unknown command 'bogus'" "$T/err" || fail "unknown command message: $(cat "$T/err")"

# trace: one line per step
"$VM" run "$G/wc.elf" --input "$T/wc" --trace > /dev/null 2> "$T/trace" || true
steps=$(sed -n 's/^steps: //p' "$T/trace")
lines=$(grep -c '^[0-9]* [0-9a-f]\{8\} ' "$T/trace")
[ "$steps" = "$lines" ] || fail "trace has $lines lines for $steps steps"

# bad programs get a clear message and status 2
echo "not an elf" > "$T/junk"
set +e
"$VM" run "$T/junk" 2> "$T/err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "bad ELF exit $rc"
grep -q 'not an ELF' "$T/err" || fail "bad ELF message: $(cat "$T/err")"
echo "cli ok"
