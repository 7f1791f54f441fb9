#!/usr/bin/env bash
# tests/unit/vm/test_vm_toolchains.sh — ELFs from stock toolchains run in the
# Cohort VM exactly as under qemu-riscv32 (a Linux user-mode reference).
#
# Builds probe.c (a freestanding program that reads argc/argv/envp/auxv,
# probes brk and -EFAULT) and a picolibc program in the ordinary ways:
#   gcc, GNU ld's default script        gcc + -Wl,--build-id
#   gcc + a plain linker script          the SDK (picolibc, cohort.ld) + --build-id
#   clang --target=riscv32 + lld         clang + lld + --build-id
#   clang-compiled objects + picolibc    Rust (Debian rustc + rust-src), no_std
# and checks for each: the loader accepts it, stdout and exit status equal
# qemu-riscv32's (run with an empty environment, as the VM has none), and the
# translator and the interpreter end in the same state hash. A toolchain that
# is not installed is reported and skipped.
# Usage: test_vm_toolchains.sh COHORT_VM SRC_DIR CACHE_DIR
set -euo pipefail
VM=$1
SRC=$2
CACHE=$3
mkdir -p "$CACHE"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
G=$SRC/vm/guest
PROBE=$SRC/tests/unit/vm/toolchains/probe.c
fail() { echo "FAIL: $*" >&2; exit 1; }
ran=0
skipped=()

check() { # name elf input
  local name=$1 elf=$2 in=$3
  readelf -lW "$elf" > "$T/$name.phdrs" 2>/dev/null || true
  set +e
  env -i qemu-riscv32 "$elf" < "$in" > "$T/q.out" 2> "$T/q.err"
  local qrc=$?
  "$VM" run "$elf" --input "$in" --output "$T/v.out" 2> "$T/v.err"
  local vrc=$?
  "$VM" run "$elf" --input "$in" --output "$T/i.out" --no-jit 2> "$T/i.err"
  local irc=$?
  set -e
  [ "$vrc" != 2 ] || fail "$name: the loader refused it: $(head -1 "$T/v.err")"
  [ "$qrc" = "$vrc" ] || fail "$name: exit status $vrc, qemu-riscv32 $qrc"
  cmp -s "$T/q.out" "$T/v.out" || { diff "$T/q.out" "$T/v.out" >&2 || true; fail "$name: output differs from qemu-riscv32"; }
  [ "$irc" = "$vrc" ] || fail "$name: --no-jit exit $irc"
  [ "$(grep '^state:' "$T/v.err")" = "$(grep '^state:' "$T/i.err")" ] || fail "$name: translator and interpreter states differ"
  local kinds
  kinds=$(awk '/^  [A-Z_]+ +0x/ {print $1}' "$T/$name.phdrs" | sort -u | tr '\n' ' ')
  echo "ok   $name (exit $vrc, program headers: $kinds)"
  ran=$((ran + 1))
}

head -c 300 /dev/zero | tr '\0' 'x' > "$T/probe.in"
printf 'one two three\nfour five six\n' > "$T/text.in"
GCC=riscv64-unknown-elf-gcc
GFLAGS=(-march=rv32im -mabi=ilp32 -O2 -mno-relax -nostdlib -static -ffreestanding)

$GCC "${GFLAGS[@]}" -o "$T/gcc.elf" "$PROBE"
check gcc-default-script "$T/gcc.elf" "$T/probe.in"
$GCC "${GFLAGS[@]}" -Wl,--build-id -o "$T/gcc-bid.elf" "$PROBE"
check gcc-build-id "$T/gcc-bid.elf" "$T/probe.in"
cat > "$T/plain.ld" <<'EOF'
ENTRY(_start)
SECTIONS {
  . = 0x10000 + SIZEOF_HEADERS;
  .text : { *(.text.start) *(.text .text.*) }
  .rodata : { *(.rodata .rodata.* .srodata .srodata.*) }
  . = ALIGN(0x1000);
  .data : { *(.data .data.* .sdata .sdata.*) }
  .bss : { *(.bss .bss.* .sbss .sbss.* COMMON) }
}
EOF
$GCC "${GFLAGS[@]}" -T "$T/plain.ld" -Wl,--build-id -o "$T/gcc-plain.elf" "$PROBE"
check gcc-plain-script "$T/gcc-plain.elf" "$T/probe.in"
$GCC -march=rv32im -mabi=ilp32 -O2 --specs=picolibc.specs -nostartfiles -T "$G/cohort.ld" -I"$G" -Wl,--build-id \
  -o "$T/sdk.elf" "$G/crt0.S" "$G/cohort_sys.c" "$G/examples/wc.c"
check sdk-picolibc-build-id "$T/sdk.elf" "$T/text.in"

if command -v clang > /dev/null && command -v ld.lld > /dev/null; then
  CFLAGS=(--target=riscv32 -march=rv32im -mabi=ilp32 -O2 -mno-relax -nostdlib -static -ffreestanding -fuse-ld=lld)
  clang "${CFLAGS[@]}" -o "$T/clang.elf" "$PROBE"
  check clang-lld "$T/clang.elf" "$T/probe.in"
  clang "${CFLAGS[@]}" -Wl,--build-id -o "$T/clang-bid.elf" "$PROBE"
  check clang-lld-build-id "$T/clang-bid.elf" "$T/probe.in"
  # picolibc is built by gcc; lld 14 refuses its TLS errno object, so these
  # clang-compiled objects are linked by GNU ld
  PL=/usr/lib/picolibc/riscv64-unknown-elf/include
  for f in cohort_sys.c examples/wc.c; do
    clang --target=riscv32 -march=rv32im -mabi=ilp32 -O2 -mno-relax -ffreestanding -isystem "$PL" -I"$G" \
      -c "$G/$f" -o "$T/$(basename "$f" .c).o"
  done
  $GCC -march=rv32im -mabi=ilp32 --specs=picolibc.specs -nostartfiles -T "$G/cohort.ld" \
    -o "$T/clang-pico.elf" "$G/crt0.S" "$T/cohort_sys.o" "$T/wc.o"
  check clang-picolibc "$T/clang-pico.elf" "$T/text.in"
else
  skipped+=("clang/lld (scripts/deps.sh installs them)")
fi

# Rust: Debian's rustc knows riscv32im-unknown-none-elf but ships no std for
# it; core is built once from Debian's rust-src (cached in CACHE_DIR).
RUSTC=/usr/bin/rustc
if [ -x "$RUSTC" ]; then
  ver=$("$RUSTC" --version | cut -d' ' -f2)
  core_src=/usr/src/rustc-$ver/library/core/src/lib.rs
  if [ -f "$core_src" ] && "$RUSTC" --print target-list | grep -qx riscv32im-unknown-none-elf; then
    R=(--edition 2021 --target riscv32im-unknown-none-elf -C opt-level=2 -C panic=abort)
    if [ ! -f "$CACHE/libcore-$ver.rlib" ]; then
      RUSTC_BOOTSTRAP=1 "$RUSTC" "${R[@]}" --crate-type lib --crate-name core "$core_src" -o "$T/libcore.rlib"
      mv "$T/libcore.rlib" "$CACHE/libcore-$ver.rlib"
    fi
    mkdir -p "$T/rlib"
    cp "$CACHE/libcore-$ver.rlib" "$T/rlib/libcore.rlib"
    printf '#![no_std]\n#![feature(compiler_builtins)]\n#![compiler_builtins]\n' > "$T/cb.rs"
    RUSTC_BOOTSTRAP=1 "$RUSTC" "${R[@]}" --crate-type lib --crate-name compiler_builtins -L "$T/rlib" "$T/cb.rs" \
      --out-dir "$T/rlib"
    LIBGCC=$($GCC -march=rv32im -mabi=ilp32 -print-libgcc-file-name)
    LIBC=/usr/lib/picolibc/riscv64-unknown-elf/lib/rv32im/ilp32/libc.a
    RUSTC_BOOTSTRAP=1 "$RUSTC" "${R[@]}" -L "$T/rlib" -C linker=ld.lld -C link-arg="$LIBC" -C link-arg="$LIBGCC" \
      -o "$T/rust.elf" "$SRC/tests/unit/vm/toolchains/probe.rs"
    check rust-riscv32im "$T/rust.elf" "$T/probe.in"
  else
    skipped+=("Rust (rustc $ver: no rust-src or no riscv32im target)")
  fi
else
  skipped+=("Rust (Debian rustc + rust-src not installed: scripts/deps.sh installs them)")
fi

for s in "${skipped[@]+"${skipped[@]}"}"; do echo "skip $s"; done
[ "$ran" -ge 4 ] || fail "only $ran toolchain builds ran"
echo "toolchains ok: $ran builds match qemu-riscv32"
