/* vm/guest/crt0.S — start code for Cohort task programs.
 *
 * Entered with sp set by the loader (the Cohort VM: top of RAM; Linux or
 * qemu-riscv32: the process stack). Sets gp and tp, then hands over to C.
 * Nothing here depends on which of the two runs the program.
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
  andi sp, sp, -16
  call __cohort_start
1:
  j 1b
  .size _start, . - _start
