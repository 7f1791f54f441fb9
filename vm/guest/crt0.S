/* vm/guest/crt0.S — start code for Cohort task programs.
 *
 * Entered with sp at argc, as the Linux ELF ABI lays out the initial stack
 * (the Cohort VM builds the same layout at the top of RAM; Linux or
 * qemu-riscv32 at the process stack): argc, argv[], NULL, envp[], NULL,
 * auxv. Sets gp and tp, then hands argc and argv over to C. Nothing here
 * depends on which of the two runs the program.
 */
  .section .text.init, "ax", @progbits
  .globl _start
  .type _start, @function
_start:
  .option push
  .option norelax
  la gp, __global_pointer$
  .option pop
  la tp, __tls_base
  lw a0, 0(sp)
  addi a1, sp, 4
  andi sp, sp, -16
  call __cohort_start
1:
  j 1b
  .size _start, . - _start
