/* tests/unit/vm/toolchains/probe.c — a freestanding program built by each
 * stock toolchain in test_vm_toolchains.sh. It reads what the Linux ELF ABI
 * puts on the initial stack (argc, argv, envp, auxv: page size, program
 * headers, entry), probes the memory map through brk and read() (-EFAULT
 * for a buffer that runs past the break), and prints what it found, so
 * that the output under qemu-riscv32 and under the Cohort VM must be equal.
 * Values that legitimately differ (argv[0], the stack address, AT_RANDOM's
 * bytes, AT_HWCAP) are not printed. No libc: the start code is below. */
#include <stddef.h>
#include <stdint.h>

__asm__(".section .text.start, \"ax\", @progbits\n"
        ".globl _start\n"
        "_start:\n"
        "  mv a0, sp\n"
        "  andi sp, sp, -16\n"
        "  call cmain\n"
        "1: j 1b\n");

static long sys3(long n, long a, long b, long c) {
  register long a0 __asm__("a0") = a;
  register long a1 __asm__("a1") = b;
  register long a2 __asm__("a2") = c;
  register long a7 __asm__("a7") = n;
  __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
  return a0;
}

static char out[1024];
static size_t outn;
static void puts_(const char *s) {
  while (*s && outn < sizeof out) out[outn++] = *s++;
}
static void putn(const char *label, long v) {
  char b[24];
  int n = 0;
  unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
  do b[n++] = (char)('0' + u % 10), u /= 10; while (u);
  puts_(label);
  if (v < 0) puts_("-");
  while (n) {
    char c[2] = {b[--n], 0};
    puts_(c);
  }
  puts_("\n");
}

static volatile uint32_t counter = 41; /* .data */
static uint8_t zeroed[3000];           /* .bss */
static const char greeting[] = "probe: hello from a stock toolchain\n";

void _start(void);
void cmain(uint32_t *sp);
void cmain(uint32_t *sp) {
  uint32_t argc = sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  uint32_t envc = 0;
  while (envp[envc]) envc++;
  uint32_t *aux = (uint32_t *)(envp + envc + 1);
  uint32_t pagesz = 0, phdr = 0, phent = 0, phnum = 0, entry = 0, random = 0;
  for (; aux[0]; aux += 2) {
    if (aux[0] == 6) pagesz = aux[1];
    if (aux[0] == 3) phdr = aux[1];
    if (aux[0] == 4) phent = aux[1];
    if (aux[0] == 5) phnum = aux[1];
    if (aux[0] == 9) entry = aux[1];
    if (aux[0] == 25) random = aux[1];
  }
  puts_(greeting);
  putn("argc=", (long)argc);
  putn("argv0_nonempty=", argv[0] && argv[0][0]);
  putn("envc=", (long)envc);
  putn("pagesz=", (long)pagesz);
  putn("phent=", (long)phent);
  putn("phnum=", (long)phnum);
  putn("entry_is_start=", entry == (uint32_t)(uintptr_t)&_start);
  putn("random_given=", random != 0);
  uint32_t loads = 0;
  if (phdr)
    for (uint32_t i = 0; i < phnum; i++)
      if (*(const uint32_t *)(uintptr_t)(phdr + i * phent) == 1) loads++;
  putn("pt_load_via_at_phdr=", (long)loads);
  counter++;
  uint32_t z = 0;
  for (size_t i = 0; i < sizeof zeroed; i++) z |= zeroed[i];
  putn("data=", (long)counter);
  putn("bss_zero=", z == 0);
  /* the heap: brk(0), grow by 100 bytes, a read that runs past the mapped
   * page gets -EFAULT, one inside it reads */
  long b = sys3(214, 0, 0, 0);
  putn("brk_page_aligned=", (b & 4095) == 0);
  long b2 = sys3(214, b + 100, 0, 0);
  putn("brk_grew=", b2 == b + 100);
  long r = sys3(63, 0, b + 50, 8192);
  putn("read_past_break=", r);
  r = sys3(63, 0, b + 50, 40);
  putn("read_inside=", r);
  uint32_t h = 2166136261u;
  for (long i = 0; i < r; i++) h = (h ^ ((uint8_t *)(uintptr_t)b)[50 + i]) * 16777619u;
  putn("input_hash=", (long)(h & 0x7FFFFFFF));
  putn("write_past_break=", sys3(64, 1, b + 4000, 200));
  sys3(64, 1, (long)out, (long)outn);
  sys3(93, 7, 0, 0);
}
