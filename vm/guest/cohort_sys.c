/* vm/guest/cohort_sys.c — system-call glue between picolibc and the VM.
 *
 * Supplies what a bare-metal picolibc expects from the platform: the stdio
 * streams (stdout buffered, flushed on exit), _exit, and sbrk on top of the
 * brk system call, plus the SDK functions of cohort.h.
 */
#include "cohort.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYS_read 63
#define SYS_write 64
#define SYS_exit 93
#define SYS_brk 214

static long sys3(long n, long a, long b, long c) {
  register long a0 __asm__("a0") = a;
  register long a1 __asm__("a1") = b;
  register long a2 __asm__("a2") = c;
  register long a7 __asm__("a7") = n;
  __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
  return a0;
}

long cohort_sys_read(int fd, void *buf, size_t n) { return sys3(SYS_read, fd, (long)buf, (long)n); }
long cohort_sys_write(int fd, const void *buf, size_t n) { return sys3(SYS_write, fd, (long)buf, (long)n); }
void *cohort_sys_brk(void *addr) { return (void *)sys3(SYS_brk, (long)addr, 0, 0); }
_Noreturn void cohort_sys_exit(int code) {
  sys3(SYS_exit, code, 0, 0);
  for (;;) {
  }
}

/* stdout buffer: one write system call per 4 KiB instead of per char. */
static unsigned char out_buf[4096];
static size_t out_n;

static void out_flush(void) {
  size_t off = 0;
  while (off < out_n) {
    long r = cohort_sys_write(1, out_buf + off, out_n - off);
    if (r <= 0) break;
    off += (size_t)r;
  }
  out_n = 0;
}

static int out_put(char c, FILE *f) {
  (void)f;
  out_buf[out_n++] = (unsigned char)c;
  if (out_n == sizeof out_buf) out_flush();
  return (unsigned char)c;
}
static int out_flush_hook(FILE *f) {
  (void)f;
  out_flush();
  return 0;
}
static int err_put(char c, FILE *f) {
  (void)f;
  cohort_sys_write(2, &c, 1);
  return (unsigned char)c;
}
static int in_get(FILE *f) {
  unsigned char c;
  (void)f;
  return cohort_sys_read(0, &c, 1) == 1 ? c : _FDEV_EOF;
}

static FILE in_file = FDEV_SETUP_STREAM(NULL, in_get, NULL, _FDEV_SETUP_READ);
static FILE out_file = FDEV_SETUP_STREAM(out_put, NULL, out_flush_hook, _FDEV_SETUP_WRITE);
static FILE err_file = FDEV_SETUP_STREAM(err_put, NULL, NULL, _FDEV_SETUP_WRITE);
FILE *const stdin = &in_file;
FILE *const stdout = &out_file;
FILE *const stderr = &err_file;

void _exit(int code) {
  out_flush();
  cohort_sys_exit(code);
}

void *sbrk(ptrdiff_t incr) {
  static char *cur;
  if (!cur) cur = cohort_sys_brk(0);
  char *want = cur + incr;
  if (incr != 0 && (char *)cohort_sys_brk(want) != want) return (void *)-1;
  char *old = cur;
  cur = want;
  return old;
}

size_t cohort_input_read(void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    long r = cohort_sys_read(0, (char *)buf + got, n - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  return got;
}

uint8_t *cohort_input_all(size_t *len) {
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap + 1);
  if (!buf) return NULL;
  for (;;) {
    if (n == cap) {
      uint8_t *nb = realloc(buf, cap * 2 + 1);
      if (!nb) {
        free(buf);
        return NULL;
      }
      buf = nb;
      cap *= 2;
    }
    long r = cohort_sys_read(0, buf + n, cap - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

void cohort_output(const void *buf, size_t n) {
  out_flush();
  const char *p = buf;
  while (n > 0) {
    long r = cohort_sys_write(1, p, n);
    if (r <= 0) break;
    p += r;
    n -= (size_t)r;
  }
}

void cohort_log(const char *msg) {
  cohort_sys_write(2, msg, strlen(msg));
  cohort_sys_write(2, "\n", 1);
}

_Noreturn void cohort_exit(int code) { exit(code); }

extern void __libc_init_array(void);
int main(int argc, char **argv);

void __cohort_start(int argc, char **argv);
void __cohort_start(int argc, char **argv) {
  __libc_init_array();
  exit(main(argc, argv));
}
