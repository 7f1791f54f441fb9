/* vm/guest/cohort.h — the guest SDK for Cohort compute tasks.
 *
 * A task program is an ordinary C program (main, stdio, malloc) built for
 * RV32IM with this SDK; it reads its task input from stdin and writes its
 * result to stdout. The same ELF runs unchanged under the Cohort VM and
 * under `qemu-riscv32 prog.elf < input > output`.
 *
 * The only system calls used are read(0), write(1), write(2), exit and brk
 * (see docs/vm.md). Everything written to stdout (fd 1) is the task output
 * and is committed to by the final state hash; fd 2 is a debug log that
 * never affects the state.
 */
#ifndef COHORT_GUEST_H
#define COHORT_GUEST_H

#include <stddef.h>
#include <stdint.h>

/* Raw system calls (Linux RV32 numbers). Return the kernel's value:
 * a byte count, or a negative errno. */
long cohort_sys_read(int fd, void *buf, size_t n);
long cohort_sys_write(int fd, const void *buf, size_t n);
void *cohort_sys_brk(void *addr);
_Noreturn void cohort_sys_exit(int code);

/* Read up to n bytes of input; loops over short reads. Returns the number of
 * bytes read (less than n only at the end of the input). */
size_t cohort_input_read(void *buf, size_t n);

/* Read the whole remaining input into a malloc'd buffer, NUL-terminated
 * (the terminator is not counted in *len). Returns NULL if out of memory. */
uint8_t *cohort_input_all(size_t *len);

/* Append n bytes to the task output (flushes buffered stdout first). */
void cohort_output(const void *buf, size_t n);

/* Write a line to the debug log (fd 2). Not part of the result. */
void cohort_log(const char *msg);

/* Flush buffered stdout and end the task with this exit code. */
_Noreturn void cohort_exit(int code);

#endif
