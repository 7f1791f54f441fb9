/* bench/vm/bench_vm.c — figures for the Cohort VM (never pass/fail).
 *
 * 1. Speed of the translator (default tier) and of the interpreter
 *    (--no-jit) on the CPU-bound examples, next to qemu-riscv32 running the
 *    same ELF and input in the same run: instructions/s, ratio to qemu per
 *    program and the geometric mean. Times are best of 3 and include loading
 *    (cohort_vm_new; qemu: exec and load), not the final state hash.
 * 2. Cost of state hashing at checkpoints every 2^20 .. 2^28 steps, with
 *    cohort_vm_state_hash and overlapped (cohort_vm_state_hash_start/_finish).
 * 3. One-step proof size and prove/verify time; output proof.
 * 4. Snapshot (clone) cost and peak memory.
 * Usage: bench_vm [--speed | --checkpoints] [GUEST_DIR]   (default: the build's
 *        guest directory; --speed: only section 1; --checkpoints: only section 2)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/hash.h"
#include "vm/vm.h"

static const char *gdir = COHORT_GUEST_DIR;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread */
static double thread_cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process, helper threads included */
static double cpu_now(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n + 1);
  if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) exit(1);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static cohort_vm *load(const char *name, const uint8_t *in, size_t in_len, uint8_t **elf_out, size_t *elf_len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.elf", gdir, name);
  size_t len;
  uint8_t *elf = slurp(path, &len);
  cohort_vm *vm;
  core_errbuf eb = {{0}};
  if (cohort_vm_new(&vm, elf, len, in, in_len, NULL, &eb)) {
    fprintf(stderr, "%s: %s\n", name, eb.msg);
    exit(1);
  }
  if (elf_out) *elf_out = elf, *elf_len = len;
  else free(elf);
  return vm;
}

/* wall time of `qemu-riscv32 elf < input > /dev/null`, best of n */
static double qemu_time(const char *name, const uint8_t *in, size_t in_len, int n) {
  char elf[512], inp[] = "/tmp/cohort-bench-in-XXXXXX";
  snprintf(elf, sizeof elf, "%s/%s.elf", gdir, name);
  int fd = mkstemp(inp);
  if (fd < 0 || (in_len && write(fd, in, in_len) != (ssize_t)in_len)) return -1;
  close(fd);
  double best = 1e9;
  for (int i = 0; i < n; i++) {
    fflush(stdout); /* the child must not flush our buffer again */
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
      if (!freopen(inp, "rb", stdin) || !freopen("/dev/null", "wb", stdout)) _exit(127);
      execlp("qemu-riscv32", "qemu-riscv32", elf, (char *)NULL);
      _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    double t = now() - t0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) == 127) return -1;
    if (t < best) best = t;
  }
  unlink(inp);
  return best;
}

typedef struct {
  const char *name;
  uint8_t *in;
  size_t in_len;
} workload;

/* best of n: load + run to the end in the given tier */
static double vm_time(const workload *w, int tier, int n, uint64_t *steps) {
  double best = 1e9;
  for (int r = 0; r < n; r++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.elf", gdir, w->name);
    size_t len;
    uint8_t *elf = slurp(path, &len);
    double t0 = now();
    cohort_vm *vm;
    if (cohort_vm_new(&vm, elf, len, w->in, w->in_len, NULL, NULL)) exit(1);
    cohort_vm_set_tier(vm, tier);
    cohort_vm_run(vm, UINT64_MAX, steps);
    double t = now() - t0;
    if (t < best) best = t;
    cohort_vm_del(vm);
    free(elf);
  }
  return best;
}

int main(int argc, char **argv) {
  int speed_only = 0, ckpt_only = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--speed")) speed_only = 1;
    else if (!strcmp(argv[i], "--checkpoints")) ckpt_only = 1;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("Usage: bench_vm [--speed | --checkpoints] [GUEST_DIR]\n\n"
             "Figures for the Cohort VM (docs/vm.md §8), never pass/fail:\n"
             "  --speed        only the speed table: translator and interpreter next to\n"
             "                 qemu-riscv32 on the same ELFs and inputs, ratios, geometric mean\n"
             "  --checkpoints  only the cost of state hashes every 2^20..2^28 steps\n"
             "  GUEST_DIR      where the example ELFs are (default: the build's, %s)\n",
             gdir);
      return 0;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "bench_vm: unknown flag %s (try --help)\n", argv[i]);
      return 2;
    } else gdir = argv[i];
  }
  if (core_init()) return 1;
  static char sieve_in[] = "20000000", mat_in[] = "400 1", man_in[] = "1280 960 255", core_in[] = "2000",
              jpeg_in[] = "512 512 4", big_in[] = "12", qs_in[] = "1000000", ht_in[] = "300000";
  size_t sha_len = 8u << 20;
  uint8_t *sha_in = malloc(sha_len);
  uint32_t x = 1;
  for (size_t i = 0; i < sha_len; i++) x = x * 1103515245u + 12345u, sha_in[i] = (uint8_t)(x >> 16);
#define W(name, in) {name, (uint8_t *)(in), sizeof(in) - 1}
  workload w[] = {W("sieve", sieve_in),   W("matmul", mat_in), W("mandel", man_in),
                  {"sha256", sha_in, sha_len}, W("coremark", core_in), W("jpegish", jpeg_in),
                  W("bignum", big_in),    W("qsort", qs_in),   W("hashtab", ht_in)};
#undef W
  const size_t nw = sizeof w / sizeof w[0];
  if (!ckpt_only) {
    printf("== speed vs qemu-riscv32 (same ELF, same input, same run; best of 3, load included) ==\n");
    printf("translator: %s\n", cohort_vm_jit_available() ? "x86-64" : "none on this host (both rows interpret)");
    printf("%-9s %11s %9s %9s %9s %9s %9s\n", "program", "steps", "jit Mips", "int Mips", "qemu Mips", "jit/qemu",
           "int/qemu");
  }
  double lj = 0, li = 0;
  int nq = 0;
  for (size_t i = 0; i < nw && !ckpt_only; i++) {
    uint64_t steps = 0;
    double tj = vm_time(&w[i], COHORT_VM_TIER_AUTO, 3, &steps);
    double ti = vm_time(&w[i], COHORT_VM_TIER_INTERP, 2, &steps);
    double q = qemu_time(w[i].name, w[i].in, w[i].in_len, 3);
    double ms = (double)steps / 1e6;
    printf("%-9s %11llu %9.0f %9.0f %9.0f %9.2f %9.2f\n", w[i].name, (unsigned long long)steps, ms / tj, ms / ti,
           q > 0 ? ms / q : 0, q > 0 ? q / tj : 0, q > 0 ? q / ti : 0);
    if (q > 0) lj += log(q / tj), li += log(q / ti), nq++;
    fflush(stdout);
  }
  if (nq)
    printf("%-9s %11s %9s %9s %9s %9.2f %9.2f\n", "geomean", "", "", "", "", exp(lj / nq), exp(li / nq));
  if (speed_only) {
    free(sha_in);
    return 0;
  }

  {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS after these runs (one VM at a time, 64 MiB cap): %ld MiB\n", ru.ru_maxrss / 1024);
  }

  /* sieve rewrites its 20 MiB array all the time: the worst case for
   * checkpoints; matmul writes a small result matrix: the common case;
   * hashtab (random stores into a table) and qsort (swaps across a 4 MB
   * array) rewrite memory in between */
  static const size_t ckpt_w[] = {0, 1, 8, 7};
  for (size_t wi = 0; wi < sizeof ckpt_w / sizeof ckpt_w[0]; wi++) {
    workload *wl = &w[ckpt_w[wi]];
    printf("\n== checkpoint hashing (%s %.*s): state hash every 2^k steps ==\n", wl->name, (int)wl->in_len,
           (const char *)wl->in);
    cohort_vm *vm = load(wl->name, wl->in, wl->in_len, NULL, NULL);
    double t0 = now(), c0 = cpu_now();
    cohort_vm_run(vm, UINT64_MAX, NULL);
    double base = now() - t0, cbase = cpu_now() - c0;
    cohort_vm_del(vm);
    /* "hash": cohort_vm_state_hash at each checkpoint; overhead = hashing /
     * the rest of the run (running, not loading), in wall time and in CPU
     * time (the flush's helper threads included).
     * "overlap": cohort_vm_state_hash_start at each checkpoint, _finish of
     * the previous one just before; "hashing s" is the time the caller
     * spent in them (copying, waiting, helping), overhead = that / the
     * rest; "hash cpu s" = the caller's CPU time in them + all CPU time of
     * other threads (the helpers: the process's CPU time less the caller
     * thread's), cpu ovhd = that / the rest. The guest's own run may be
     * slower next to a helper (shared caches): that shows in the total,
     * not in these columns. Both modes must give the same hashes. */
    printf("%-6s %-7s %7s %10s %10s %9s %11s %9s\n", "k", "mode", "hashes", "total s", "hashing s", "overhead",
           "hash cpu s", "cpu ovhd");
    printf("%-6s %-7s %7d %10.3f %10s %9s %11s %9s  (cpu %.3f s)\n", "none", "", 0, base, "-", "-", "-", "-", cbase);
    for (int k = 20; k <= 28; k += 2) {
      enum { MAXH = 1024 };
      static uint8_t hs[MAXH][32];
      int nsync = 0;
      for (int mode = 0; mode < 2; mode++) {
        vm = load(wl->name, wl->in, wl->in_len, NULL, NULL);
        c0 = cpu_now();
        uint8_t h[32];
        cohort_vm_info s;
        int n = 0, bad = 0;
        double th = 0, ch = 0, q0 = thread_cpu_now();
        t0 = now();
        do {
          cohort_vm_run(vm, (uint64_t)1 << k, NULL);
          double t1 = now(), c1 = mode == 0 ? cpu_now() : thread_cpu_now();
          if (mode == 0) {
            cohort_vm_state_hash(vm, h);
            if (n < MAXH) memcpy(hs[n], h, 32);
          } else {
            if (n > 0 && (cohort_vm_state_hash_finish(vm, h) || (n - 1 < MAXH && memcmp(h, hs[n - 1], 32)))) bad = 1;
            cohort_vm_state_hash_start(vm);
          }
          th += now() - t1;
          ch += (mode == 0 ? cpu_now() : thread_cpu_now()) - c1;
          n++;
          cohort_vm_get_info(vm, &s);
        } while (s.status == COHORT_VM_RUNNING);
        if (mode == 1) {
          double t1 = now(), c1 = thread_cpu_now();
          if (cohort_vm_state_hash_finish(vm, h) || (n - 1 < MAXH && memcmp(h, hs[n - 1], 32))) bad = 1;
          th += now() - t1;
          ch += thread_cpu_now() - c1;
        }
        double t = now() - t0, c = cpu_now() - c0;
        if (mode == 1) ch += c - (thread_cpu_now() - q0); /* the helpers' CPU time */
        if (mode == 0) {
          nsync = n;
          printf("2^%-4d %-7s %7d %10.3f %10.3f %8.1f%% %11.3f %8.1f%%\n", k, "hash", n, t, th, th / (t - th) * 100,
                 ch, ch / (c - ch) * 100);
        } else {
          printf("%-6s %-7s %7d %10.3f %10.3f %8.1f%% %11.3f %8.1f%%%s\n", "", "overlap", n, t, th,
                 th / (t - th) * 100, ch, ch / (c - ch) * 100, bad || n != nsync ? "  HASHES DIFFER" : "");
        }
        cohort_vm_del(vm);
      }
    }
  }
  if (ckpt_only) {
    free(sha_in);
    return 0;
  }

  printf("\n== one-step proofs (sha256 of 64 KiB, 2000 sampled steps) ==\n");
  {
    cohort_vm *vm = load("sha256", sha_in, 65536, NULL, NULL);
    size_t mn = SIZE_MAX, mx = 0, sum = 0;
    double tp = 0, tv = 0, th = 0;
    int n = 0;
    cohort_vm_info s;
    for (;;) {
      cohort_vm_get_info(vm, &s);
      if (s.status != COHORT_VM_RUNNING || n == 2000) break;
      cohort_vm_run(vm, 397, NULL);
      uint8_t h[32], post[32];
      double t0 = now();
      cohort_vm_state_hash(vm, h);
      double t1 = now();
      uint8_t *p;
      size_t plen;
      cohort_vm_prove(vm, &p, &plen);
      double t2 = now();
      if (cohort_vm_verify(h, p, plen, post, NULL) != 0) {
        fprintf(stderr, "verify failed!\n");
        return 1;
      }
      double t3 = now();
      th += t1 - t0, tp += t2 - t1, tv += t3 - t2;
      if (plen < mn) mn = plen;
      if (plen > mx) mx = plen;
      sum += plen;
      free(p);
      n++;
    }
    printf("proof bytes: min %zu avg %zu max %zu (format max %d)\n", mn, sum / (size_t)n, mx, COHORT_VM_PROOF_MAX);
    printf("state hash (incremental): %.1f us   prove: %.1f us   verify: %.1f us  (avg over %d)\n",
           th / n * 1e6, tp / n * 1e6, tv / n * 1e6, n);
    cohort_vm_run(vm, UINT64_MAX, NULL);
    uint8_t h[32], *p;
    size_t plen, olen;
    cohort_vm_state_hash(vm, h);
    cohort_vm_output_prove(vm, &p, &plen);
    const uint8_t *out = cohort_vm_output(vm, &olen);
    double t0 = now();
    int rc = cohort_vm_output_verify(h, out, olen, p, plen, NULL, NULL);
    printf("output proof: %zu bytes, verify %.1f us for %zu output bytes (%s)\n", plen, (now() - t0) * 1e6, olen,
           rc ? "REJECTED" : "ok");
    free(p);
    cohort_vm_del(vm);
  }

  printf("\n== copy-on-write trace snapshots (sieve 20000000) and hash-at-step ==\n");
  printf("%-6s %8s %10s %10s %16s\n", "every", "snaps", "run s", "overhead", "seek+hash avg ms");
  for (int k = 22; k <= 26; k += 2) {
    cohort_vm *vm = load("sieve", w[0].in, w[0].in_len, NULL, NULL);
    cohort_vm_trace *t;
    double t0 = now();
    cohort_vm_trace_new(&t, vm, (uint64_t)1 << k);
    cohort_vm_trace_run(t, vm, UINT64_MAX, NULL);
    double tr = now() - t0;
    cohort_vm_info fin;
    cohort_vm_get_info(vm, &fin);
    uint64_t x2 = 88172645463325252ull;
    double ts = 0;
    for (int i = 0; i < 10; i++) {
      x2 ^= x2 << 13, x2 ^= x2 >> 7, x2 ^= x2 << 17;
      cohort_vm *at;
      uint8_t h[32];
      double t1 = now();
      cohort_vm_trace_seek(t, x2 % fin.step, &at);
      cohort_vm_state_hash(at, h);
      ts += now() - t1;
    }
    cohort_vm_del(vm);
    vm = load("sieve", w[0].in, w[0].in_len, NULL, NULL);
    t0 = now();
    cohort_vm_run(vm, UINT64_MAX, NULL);
    double base = now() - t0;
    printf("2^%-4d %8zu %10.3f %9.1f%% %16.1f\n", k, cohort_vm_trace_count(t), tr, (tr - base) / base * 100,
           ts / 10 * 1e3);
    cohort_vm_trace_del(t);
    cohort_vm_del(vm);
  }

  printf("\n== snapshots and memory ==\n");
  {
    cohort_vm *vm = load("sieve", w[0].in, w[0].in_len, NULL, NULL);
    cohort_vm_run(vm, 200000000, NULL);
    uint8_t h[32];
    cohort_vm_state_hash(vm, h);
    double t0 = now();
    cohort_vm *c;
    cohort_vm_clone(&c, vm);
    printf("clone at step 2e8 (sieve, ~20 MiB touched): %.1f ms\n", (now() - t0) * 1e3);
    t0 = now();
    cohort_vm *fresh = load("sieve", w[0].in, w[0].in_len, NULL, NULL);
    uint8_t h0[32];
    cohort_vm_state_hash(fresh, h0);
    printf("load + initial state hash: %.2f ms\n", (now() - t0) * 1e3);
    cohort_vm_del(fresh);
    cohort_vm_del(c);
    cohort_vm_del(vm);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS of this benchmark (incl. the traces above): %ld MiB\n", ru.ru_maxrss / 1024);
  }
  free(sha_in);
  return 0;
}
