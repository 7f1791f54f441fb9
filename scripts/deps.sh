#!/usr/bin/env bash
# Install the Debian packages Cohort needs, only those missing. Idempotent:
# a second run installs nothing and prints one line. Uses sudo when not root.
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

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: done"
