/* vm/tool/cohort_vm.c — cohort-vm, the command-line runner of the VM.
 *
 *   cohort-vm run PROG.elf [--input FILE] [--max-steps N] [--mem MiB]
 *                          [--output FILE] [--trace] [--no-jit]
 *   cohort-vm hash PROG.elf [--input FILE] [--at-step N] [--every K] ...
 *   cohort-vm prove PROG.elf [--input FILE] --at-step N [--output FILE]
 *   cohort-vm verify HASH PROOF_FILE
 *   cohort-vm output-proof PROG.elf [--input FILE] [--output FILE]
 *
 * Long runs use the translator (x86-64 hosts) unless --no-jit is given; the
 * results are the same either way. All I/O of the VM lives here; the library
 * itself is pure.
 * Exit status of `run`: the guest's exit code if it exited, 124 if out of
 * steps, 125 if trapped, 2 on usage or load errors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "vm/vm.h"

static void usage_to(FILE *f) {
  fprintf(f,
          "Usage: cohort-vm COMMAND PROG.elf [flags]\n\n"
          "Cohort's deterministic RV32IM machine, on its own (docs/vm.md).\n\n"
          "Commands:\n"
          "  run PROG.elf          run to the end; print status, steps, output size, state hash\n"
          "  hash PROG.elf         the state hash at --at-step N (default: the end)\n"
          "  prove PROG.elf        write the one-step proof of step --at-step N (required)\n"
          "  verify HASH PROOF     check a one-step proof from state HASH; print the next hash\n"
          "  output-proof PROG.elf write the output proof of the final state\n\n"
          "Flags:\n"
          "  --input FILE          the task input (default: none, not stdin; - for stdin)\n"
          "  --max-steps N         step cap (default 2^40)\n"
          "  --mem MiB             memory cap (default 64)\n"
          "  --at-step N           (hash, prove) the step\n"
          "  --every K             (hash) also print the state hash every K steps, one\n"
          "                        'checkpoint STEP HASH' line each (compare two runs' lists\n"
          "                        to find the first interval where they part)\n"
          "  --output FILE         where run writes the program's output / prove the proof\n"
          "  --trace               (run) print every instruction\n"
          "  --no-jit              interpreter only\n"
          "  -h, --help            this help\n\n"
          "Example:\n"
          "  cohort-vm run build/vm/guest/sha256.elf --input README.md\n");
}

static void usage(void) {
  usage_to(stderr);
  exit(2);
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    fprintf(stderr, "cohort-vm: %s: %s\n", path, strerror(errno));
    exit(2);
  }
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (!buf) {
      fprintf(stderr, "cohort-vm: out of memory\n");
      exit(2);
    }
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    if (cap >= ((size_t)1 << 30)) {
      fprintf(stderr, "cohort-vm: %s: too large\n", path);
      exit(2);
    }
    cap *= 2;
    buf = realloc(buf, cap);
  }
  if (ferror(f)) {
    fprintf(stderr, "cohort-vm: %s: read error\n", path);
    exit(2);
  }
  if (f != stdin) fclose(f);
  *len = n;
  return buf;
}

static void write_out(const char *path, const uint8_t *p, size_t n) {
  FILE *f = path ? fopen(path, "wb") : stdout;
  if (!f || fwrite(p, 1, n, f) != n || (path && fclose(f) != 0)) {
    fprintf(stderr, "cohort-vm: cannot write %s\n", path ? path : "stdout");
    exit(2);
  }
  if (!path) fflush(stdout);
}

static void hex(const uint8_t *h, char out[65]) {
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int unhex(const char *s, uint8_t out[32]) {
  if (strlen(s) != 64) return -1;
  for (int i = 0; i < 32; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (uint8_t)v;
  }
  return 0;
}

static void log_sink(void *ctx, const uint8_t *b, size_t n) {
  (void)ctx;
  fwrite(b, 1, n, stderr);
}

static uint64_t num(const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || *end || !*s || *s == '-' || *s == '+' || *s == ' ') { /* strtoull takes "-5" */
    fprintf(stderr, "cohort-vm: bad number '%s'\n", s);
    exit(2);
  }
  return v;
}

static void print_state(cohort_vm *vm, FILE *f) {
  cohort_vm_info in;
  uint8_t h[32];
  char hx[65];
  cohort_vm_get_info(vm, &in);
  cohort_vm_state_hash(vm, h);
  hex(h, hx);
  fprintf(f, "status: %s", cohort_vm_status_str(in.status));
  if (in.status == COHORT_VM_EXITED) fprintf(f, " (code %" PRIu32 ")", in.code);
  if (in.status == COHORT_VM_TRAPPED)
    fprintf(f, " (%s at pc 0x%08" PRIx32 ")", cohort_vm_trap_str(in.code), in.pc);
  fprintf(f, "\nsteps: %" PRIu64 "\noutput: %" PRIu32 " bytes\nstate: %s\n", in.step, in.out_len, hx);
}

/* Run to step `at` (or the end), printing the state hash at every multiple
 * of `every` steps on the way. Each checkpoint is hashed on the library's
 * helper thread while the run goes on (cohort_vm_state_hash_start); it is
 * printed when the next one is taken, so lines come in step order. */
static void run_checkpoints(cohort_vm *vm, uint64_t at, uint64_t every) {
  uint64_t pending = UINT64_MAX; /* step of the started, unprinted checkpoint */
  for (;;) {
    cohort_vm_info in;
    cohort_vm_get_info(vm, &in);
    uint64_t n = every - in.step % every;
    if (at != UINT64_MAX) n = at > in.step ? (n < at - in.step ? n : at - in.step) : 0;
    if (n && in.status == COHORT_VM_RUNNING) cohort_vm_run(vm, n, NULL);
    cohort_vm_get_info(vm, &in);
    if (pending != UINT64_MAX) {
      uint8_t h[32];
      char hx[65];
      cohort_vm_state_hash_finish(vm, h);
      hex(h, hx);
      printf("checkpoint %" PRIu64 " %s\n", pending, hx);
      pending = UINT64_MAX;
    }
    if (in.status != COHORT_VM_RUNNING || in.step % every || (at != UINT64_MAX && in.step >= at))
      break;
    if (cohort_vm_state_hash_start(vm) == 0) pending = in.step;
  }
  fflush(stdout);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage_to(stdout);
      return 0;
    }
  const char *cmd = argc > 1 ? argv[1] : "";
  static const char *const cmds[] = {"run", "hash", "prove", "verify", "output-proof", NULL};
  int known = 0;
  for (int i = 0; cmds[i]; i++) known |= !strcmp(cmd, cmds[i]);
  if (argc > 1 && !known) {
    fprintf(stderr, "cohort-vm: unknown command '%s' (run, hash, prove, verify, output-proof; "
            "cohort-vm --help)\n", cmd);
    return 2;
  }
  if (argc < 3) {
    if (argc > 1)
      fprintf(stderr, "cohort-vm %s: needs %s\n", cmd,
              strcmp(cmd, "verify") ? "PROG.elf" : "HASH PROOF_FILE");
    usage();
  }
  if (core_init() != 0) return 2;
  if (!strcmp(cmd, "verify")) {
    if (argc != 4) usage();
    uint8_t pre[32], post[32];
    if (unhex(argv[2], pre)) {
      fprintf(stderr, "cohort-vm: HASH must be 64 hex digits\n");
      return 2;
    }
    size_t plen;
    uint8_t *proof = read_file(argv[3], &plen);
    core_errbuf eb = {{0}};
    int rc = cohort_vm_verify(pre, proof, plen, post, &eb);
    free(proof);
    if (rc) {
      fprintf(stderr, "cohort-vm: proof rejected: %s\n", eb.msg);
      return 1;
    }
    char hx[65];
    hex(post, hx);
    printf("%s\n", hx);
    return 0;
  }
  const char *prog = argv[2], *input_path = NULL, *out_path = NULL;
  cohort_vm_config cfg;
  cohort_vm_config_default(&cfg);
  uint64_t at = UINT64_MAX, every = 0;
  int trace = 0, no_jit = 0;
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--trace")) trace = 1;
    else if (!strcmp(argv[i], "--no-jit")) no_jit = 1;
    else if (strncmp(argv[i], "--", 2) || (strcmp(argv[i], "--input") && strcmp(argv[i], "--output") &&
                                           strcmp(argv[i], "--max-steps") && strcmp(argv[i], "--mem") &&
                                           strcmp(argv[i], "--at-step") && strcmp(argv[i], "--every"))) {
      fprintf(stderr, "cohort-vm %s: %s '%s' (cohort-vm --help lists them)\n", cmd,
              argv[i][0] == '-' ? "unknown flag" : "unexpected argument", argv[i]);
      return 2;
    } else if (i + 1 >= argc) {
      fprintf(stderr, "cohort-vm %s: %s needs a value\n", cmd, argv[i]);
      return 2;
    } else if (!strcmp(argv[i], "--input")) input_path = argv[++i];
    else if (!strcmp(argv[i], "--output")) out_path = argv[++i];
    else if (!strcmp(argv[i], "--max-steps")) cfg.max_steps = num(argv[++i]);
    else if (!strcmp(argv[i], "--mem")) cfg.mem_cap = (uint32_t)(num(argv[++i]) << 20);
    else if (!strcmp(argv[i], "--at-step")) at = num(argv[++i]);
    else if (!strcmp(argv[i], "--every")) {
      every = num(argv[++i]);
      if (!every) {
        fprintf(stderr, "cohort-vm: --every needs a step count of at least 1\n");
        return 2;
      }
    } else usage();
  }
  if (every && strcmp(cmd, "hash")) {
    fprintf(stderr, "cohort-vm: --every is a flag of 'hash' only\n");
    return 2;
  }
  size_t elf_len, in_len = 0;
  uint8_t *elf = read_file(prog, &elf_len), *input = NULL;
  if (input_path) input = read_file(input_path, &in_len);
  cohort_vm *vm;
  core_errbuf eb = {{0}};
  int rc = cohort_vm_new(&vm, elf, elf_len, input, in_len, &cfg, &eb);
  free(elf);
  free(input);
  if (rc) {
    fprintf(stderr, "cohort-vm: %s: %s\n", prog, eb.msg[0] ? eb.msg : core_err_str(rc));
    return 2;
  }
  cohort_vm_set_log(vm, log_sink, NULL);
  if (no_jit) cohort_vm_set_tier(vm, COHORT_VM_TIER_INTERP);
  int ret = 0;
  if (!strcmp(cmd, "run")) {
    if (trace) {
      cohort_vm_info in;
      cohort_vm_get_info(vm, &in);
      while (in.status == COHORT_VM_RUNNING) {
        char dis[64];
        uint8_t w[4];
        cohort_vm_info nx;
        cohort_vm_read_mem(vm, in.pc, w, 4);
        cohort_vm_disasm((uint32_t)w[0] | (uint32_t)w[1] << 8 | (uint32_t)w[2] << 16 | (uint32_t)w[3] << 24,
                         in.pc, dis, sizeof dis);
        cohort_vm_step(vm);
        cohort_vm_get_info(vm, &nx);
        fprintf(stderr, "%" PRIu64 " %08" PRIx32 " %-28s", in.step, in.pc, dis);
        for (int r = 1; r < 32; r++)
          if (nx.x[r] != in.x[r]) fprintf(stderr, " x%d=%08" PRIx32, r, nx.x[r]);
        fprintf(stderr, "\n");
        in = nx;
      }
    } else {
      cohort_vm_run(vm, UINT64_MAX, NULL);
    }
    size_t olen;
    const uint8_t *o = cohort_vm_output(vm, &olen);
    write_out(out_path, o, olen);
    print_state(vm, stderr);
    cohort_vm_info in;
    cohort_vm_get_info(vm, &in);
    ret = in.status == COHORT_VM_EXITED ? (int)(in.code & 0xFF) : in.status == COHORT_VM_TRAPPED ? 125 : 124;
  } else if (!strcmp(cmd, "hash") || !strcmp(cmd, "prove") || !strcmp(cmd, "output-proof")) {
    if (!strcmp(cmd, "prove") && at == UINT64_MAX) usage();
    uint64_t done;
    if (every) run_checkpoints(vm, at, every);
    else cohort_vm_run(vm, at, &done);
    if (!strcmp(cmd, "hash")) {
      print_state(vm, stdout);
    } else {
      uint8_t *p;
      size_t plen;
      rc = !strcmp(cmd, "prove") ? cohort_vm_prove(vm, &p, &plen) : cohort_vm_output_prove(vm, &p, &plen);
      if (rc) {
        fprintf(stderr, "cohort-vm: %s\n", core_err_str(rc));
        ret = 2;
      } else {
        write_out(out_path, p, plen);
        free(p);
        print_state(vm, stderr);
      }
    }
  } else {
    usage();
  }
  cohort_vm_del(vm);
  return ret;
}
