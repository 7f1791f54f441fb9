#!/usr/bin/env bash
# Install the Debian packages Cohort needs, only those missing. Idempotent:
# a second run installs nothing and prints one line. Uses sudo when not root.
# apt-get's output goes to $COHORT_DEPS_LOG (default /tmp/cohort-deps.log).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libleveldb-dev libsodium-dev libsecp256k1-dev libuv1-dev
  libprotobuf-c-dev protobuf-c-compiler
  libjansson-dev libhttp-parser-dev libinih-dev libcmocka-dev
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-user
  clang libclang-rt-14-dev lld
  # the VM's toolchain test builds a no_std riscv32im program with these
  rustc rust-src
  curl python3
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} Debian packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
fi

# apt-get and dpkg print hundreds of lines: keep them in a log, show one
# line (and the log's end if it fails).
LOG=${COHORT_DEPS_LOG:-${TMPDIR:-/tmp}/cohort-deps.log}
echo "deps: installing ${#missing[@]} Debian packages (${missing[*]}); apt-get's output goes to $LOG"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine often has unattended-upgrades (or another make) holding
# dpkg's lock: wait for it up to 10 minutes instead of failing at once.
LOCK_WAIT=(-o DPkg::Lock::Timeout=600)
if ! { $SUDO apt-get "${LOCK_WAIT[@]}" update -q && \
       $SUDO apt-get "${LOCK_WAIT[@]}" install -y -q --no-install-recommends "${missing[@]}"; } >"$LOG" 2>&1; then
  echo "deps: apt-get failed; the end of $LOG:" >&2
  tail -n 20 "$LOG" >&2
  exit 1
fi
echo "deps: installed ${#missing[@]} packages (log: $LOG)"
