/* vm/vm.h — Cohort's deterministic RV32IM machine.
 *
 * One handle (cohort_vm) holds one task run: the program loaded from a
 * static ELF32, the task input, and the machine state. The library is pure:
 * no global state, no I/O, no clock; the same (program, input, config) gives
 * the same sequence of states on every host.
 *
 * Lifecycle:  cohort_vm_new (state at step 0)
 *               -> cohort_vm_run / cohort_vm_step (advance; fast path)
 *               -> cohort_vm_state_hash (commit; at any step), or
 *                  cohort_vm_state_hash_start / _finish (overlapped with running on)
 *               -> cohort_vm_prove (one-step proof of the *next* step)
 *               -> cohort_vm_output / cohort_vm_output_prove (result)
 *             cohort_vm_del.
 * A state is "halted" once its status is not RUNNING; halted states never
 * change (run/step are no-ops, a proof of a halted state gives the same hash).
 *
 * Validators need only cohort_vm_verify and cohort_vm_output_verify, which
 * take bytes and hashes and never allocate more than the proof's size.
 *
 * Errors: functions return 0 or a negative COHORT_ERR_* (core/err.h);
 * those taking a core_errbuf also write a sentence naming the problem.
 * Program faults are NOT errors: they end the run in the TRAPPED status with
 * a cohort_vm_trap reason. Call core_init() once before using this library
 * (it hashes with core_blake2b256). Handles are not thread-safe; distinct
 * handles may be used from distinct threads.
 */
#ifndef COHORT_VM_VM_H
#define COHORT_VM_VM_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define COHORT_VM_HASH_LEN 32

/* Memory map (see docs/vm.md §2): RAM is [RAM_BASE, mem_cap); inside it only
 * the program's segments, the heap [brk_min, page_up(brk)) and the stack
 * [mem_cap - COHORT_VM_STACK_SIZE(mem_cap), mem_cap) are mapped, as under
 * Linux; everything else faults. */
#define COHORT_VM_FORMAT 3                /* VM format version (state hash, proofs) */
#define COHORT_VM_RAM_BASE 0x00010000u    /* lowest address a segment may use */
#define COHORT_VM_INPUT_BASE 0x80000000u  /* task input, via read(0) only */
#define COHORT_VM_OUTPUT_BASE 0xC0000000u /* task output, via write(1) only */
#define COHORT_VM_INPUT_MAX (256u << 20)  /* largest task input */
#define COHORT_VM_OUTPUT_MAX (64u << 20)  /* output beyond this traps */
#define COHORT_VM_STACK_MAX (8u << 20)    /* stack size: min(8 MiB, mem_cap / 4) */
#define COHORT_VM_STACK_SIZE(mem_cap) ((mem_cap) / 4 < COHORT_VM_STACK_MAX ? (mem_cap) / 4 : COHORT_VM_STACK_MAX)
#define COHORT_VM_MAX_SEGS 8              /* PT_LOAD segments a program may have */
#define COHORT_VM_MEM_MIN (2u << 20)
#define COHORT_VM_MEM_MAX (1u << 30)
#define COHORT_VM_MEM_DEFAULT (64u << 20)
#define COHORT_VM_ELF_MAX (64u << 20)     /* largest ELF file accepted */

/* Status of a machine state (part of the state hash). */
enum cohort_vm_status {
  COHORT_VM_RUNNING = 0,
  COHORT_VM_EXITED = 1,       /* exit/exit_group; code = a0 */
  COHORT_VM_TRAPPED = 2,      /* fault; code = enum cohort_vm_trap */
  COHORT_VM_OUT_OF_STEPS = 3  /* step == max_steps while running; code 0 */
};

/* Trap reasons (the code of a TRAPPED state). Stable numbers. */
enum cohort_vm_trap {
  COHORT_VM_TRAP_ILLEGAL = 1,          /* reserved/unsupported encoding */
  COHORT_VM_TRAP_EBREAK = 2,
  COHORT_VM_TRAP_CSR = 3,              /* any CSR instruction */
  COHORT_VM_TRAP_FETCH = 4,            /* pc outside the executable segment */
  COHORT_VM_TRAP_JUMP_MISALIGNED = 5,  /* taken jump/branch to pc % 4 != 0 */
  COHORT_VM_TRAP_LOAD_FAULT = 6,       /* load from an unmapped page */
  COHORT_VM_TRAP_STORE_FAULT = 7,      /* store to an unmapped or read-only page */
  COHORT_VM_TRAP_LOAD_MISALIGNED = 8,
  COHORT_VM_TRAP_STORE_MISALIGNED = 9,
  COHORT_VM_TRAP_SYSCALL = 10,         /* unknown system call number */
  COHORT_VM_TRAP_OUTPUT_LIMIT = 11     /* write(1) past the run's out_cap */
};

typedef struct cohort_vm cohort_vm;

typedef struct {
  uint32_t mem_cap;   /* RAM size in bytes: RAM is [RAM_BASE, mem_cap);
                         multiple of 16 KiB in [MEM_MIN, MEM_MAX] */
  uint64_t max_steps; /* step cap, >= 1; reaching it => OUT_OF_STEPS */
  uint32_t out_cap;   /* bytes of output allowed, <= COHORT_VM_OUTPUT_MAX: a
                         write(1) past it traps with OUTPUT_LIMIT (like a
                         file-size limit); 0 = COHORT_VM_OUTPUT_MAX */
} cohort_vm_config;

/* Defaults: 64 MiB, 2^40 steps, output up to COHORT_VM_OUTPUT_MAX. */
void cohort_vm_config_default(cohort_vm_config *cfg);

/* One loaded segment: pages [lo, hi) (page aligned), flags PF_R 4 | PF_W 2 |
 * PF_X 1 as in the ELF program header. Unused entries are all zero. */
typedef struct {
  uint32_t lo, hi, flags;
} cohort_vm_seg;

/* The architectural state, as committed to by the state hash. */
typedef struct {
  uint32_t pc;
  uint32_t x[32];     /* x[0] is always 0 */
  uint64_t step;      /* steps taken since step 0 */
  uint64_t max_steps;
  uint32_t status;    /* enum cohort_vm_status */
  uint32_t code;      /* exit code (a0, full 32 bits) or trap reason */
  uint32_t mem_cap;
  uint32_t exec_lo, exec_hi; /* executable, read-only range (page aligned) */
  uint32_t brk, brk_min;
  uint32_t in_len, in_pos;   /* task input length, read cursor */
  uint32_t out_len;          /* bytes of output written */
  uint32_t sys_done;         /* bytes moved so far by an unfinished read/write/brk */
  uint32_t out_cap;          /* output limit of this run (config.out_cap) */
  cohort_vm_seg seg[COHORT_VM_MAX_SEGS]; /* the program's segments, by address */
} cohort_vm_info;

/* Load a program. Copies elf and input (caller keeps ownership of both).
 * cfg may be NULL for defaults. On success *out is a new handle at step 0.
 * Errors: COHORT_ERR_INVALID (bad ELF, bad config; eb says which rule),
 * COHORT_ERR_TOO_LARGE (ELF or input over the limits), COHORT_ERR_NOMEM.
 * On error *out is NULL. */
int cohort_vm_new(cohort_vm **out, const uint8_t *elf, size_t elf_len, const uint8_t *input,
                  size_t input_len, const cohort_vm_config *cfg, core_errbuf *eb);

/* The hash of the state at step 0 for (elf, input, cfg) — what the chain
 * computes from a task's program and input. Same errors as cohort_vm_new;
 * out is untouched on error. */
int cohort_vm_initial_hash(const uint8_t *elf, size_t elf_len, const uint8_t *input, size_t input_len,
                           const cohort_vm_config *cfg, uint8_t out[COHORT_VM_HASH_LEN], core_errbuf *eb);

/* Free a handle (NULL is fine). */
void cohort_vm_del(cohort_vm *vm);

/* Deep copy (a snapshot). Only pages the program has touched are copied.
 * Returns 0 or COHORT_ERR_NOMEM (*out NULL). */
int cohort_vm_clone(cohort_vm **out, const cohort_vm *vm);

/* Run at most n steps (stops early when the machine halts). This is the
 * fast path, no hashing: long runs go through the translator (RV32IM basic
 * blocks compiled to x86-64 at run time) where the host has one, the rest
 * through the interpreter; both end in exactly the state the reference step
 * function reaches after the same number of steps. *done (may be NULL)
 * receives the number of steps taken. Cannot fail (if the translator cannot
 * get memory, the interpreter carries on). */
void cohort_vm_run(cohort_vm *vm, uint64_t n, uint64_t *done);

/* Execution tier of cohort_vm_run for this handle: COHORT_VM_TIER_AUTO (the
 * default: translator when available) or COHORT_VM_TIER_INTERP (interpreter
 * only, e.g. `cohort-vm run --no-jit`). Never changes results, only speed. */
enum { COHORT_VM_TIER_AUTO = 0, COHORT_VM_TIER_INTERP = 1 };
void cohort_vm_set_tier(cohort_vm *vm, int tier);

/* 1 if this build and host have the translator (x86-64), else 0. */
int cohort_vm_jit_available(void);

/* Exactly one step through the reference step function (the one that
 * proofs are checked with). No-op on a halted state. */
void cohort_vm_step(cohort_vm *vm);

/* Copy out the current architectural state. */
void cohort_vm_get_info(const cohort_vm *vm, cohort_vm_info *info);

/* Hash of the current state (re-hashes only pages dirtied since the last
 * call). Returns 0 or COHORT_ERR_NOMEM. */
int cohort_vm_state_hash(cohort_vm *vm, uint8_t out[COHORT_VM_HASH_LEN]);

/* Memory Merkle root of the current state (same cost rules). */
int cohort_vm_mem_root(cohort_vm *vm, uint8_t out[COHORT_VM_HASH_LEN]);

/* Overlapped checkpoints: the hash of the current state, computed while the
 * caller runs the handle on.
 *
 * cohort_vm_state_hash_start captures the state: it copies the bytes
 * written since the last hash (1-2 ms for 20 MiB, against ~15 ms of CPU to
 * hash them) and hands the hashing to a helper thread; small checkpoints
 * (under 64 dirty pages) and large ones (over 256 MiB) are hashed before it
 * returns. cohort_vm_state_hash_finish waits for that hash and writes it to
 * out: exactly what cohort_vm_state_hash would have returned at the step
 * of the start. A caller that has to wait hashes pages beside the helper.
 *
 * Between the two, every call on the handle works as usual (still from one
 * thread at a time: the helper is the library's own); those that read the
 * memory tree (state hash, mem root, prove, output prove, clone, trace new,
 * del) first wait for the helper. One checkpoint at a time: a pipeline runs
 * to k, finishes k-1, starts k. The copy buffer (as large as the largest
 * checkpoint copied) is kept until cohort_vm_del.
 *
 * start returns 0, or COHORT_ERR_INVALID if a checkpoint is already started
 * and not finished (nothing is done). If no thread can be started it hashes
 * the copy itself before returning 0. finish returns 0, or
 * COHORT_ERR_INVALID if none was started (out untouched). */
int cohort_vm_state_hash_start(cohort_vm *vm);
int cohort_vm_state_hash_finish(cohort_vm *vm, uint8_t out[COHORT_VM_HASH_LEN]);

/* The output written so far; borrowed, valid until the next call that
 * advances the machine or cohort_vm_del. */
const uint8_t *cohort_vm_output(const cohort_vm *vm, size_t *len);

/* Optional sink for the debug log (write to fd 2). Called synchronously
 * from run/step with borrowed bytes; it must not call back into the vm.
 * Has no effect on the state. fn NULL removes it. */
typedef void (*cohort_vm_log_fn)(void *ctx, const uint8_t *bytes, size_t len);
void cohort_vm_set_log(cohort_vm *vm, cohort_vm_log_fn fn, void *ctx);

/* One-step proof of the step from the current state to the next one. The
 * handle is not changed. *proof is malloc'd and owned by the caller (free()).
 * Returns 0, COHORT_ERR_NOMEM. Size is at most COHORT_VM_PROOF_MAX. */
#define COHORT_VM_PROOF_MAX 4096
int cohort_vm_prove(cohort_vm *vm, uint8_t **proof, size_t *proof_len);

/* Check a one-step proof: if pre is the hash of the state the proof was made
 * from, writes the hash of the next state to post and returns 0. Otherwise
 * COHORT_ERR_DECODE (malformed: wrong length, bad version, non-canonical
 * field) or COHORT_ERR_INVALID (does not match pre, a witness does not match
 * the memory root, a needed witness is missing or one is unused); post is
 * then untouched. Pure, allocation-free, microseconds. eb may be NULL. */
int cohort_vm_verify(const uint8_t pre[COHORT_VM_HASH_LEN], const uint8_t *proof,
                     size_t proof_len, uint8_t post[COHORT_VM_HASH_LEN], core_errbuf *eb);

/* Decode the state carried by a proof or output proof (for display and
 * for the chain to read status/step/out_len once verified). */
int cohort_vm_proof_info(const uint8_t *proof, size_t proof_len, cohort_vm_info *info,
                         uint8_t mem_root[COHORT_VM_HASH_LEN]);

/* Output proof: the state fields plus the Merkle path from the output
 * region to the memory root. Caller frees *proof. */
int cohort_vm_output_prove(cohort_vm *vm, uint8_t **proof, size_t *proof_len);

/* Check that output[0..len) is exactly the output of the state whose hash is
 * state_hash. Returns 0, COHORT_ERR_DECODE or COHORT_ERR_INVALID. If info is
 * non-NULL and the proof checks, it receives the state (status, exit code,
 * steps). Cost: about len/32 hashes. */
int cohort_vm_output_verify(const uint8_t state_hash[COHORT_VM_HASH_LEN], const uint8_t *output,
                            size_t len, const uint8_t *proof, size_t proof_len,
                            cohort_vm_info *info, core_errbuf *eb);

/* Hash of a serialized state (cohort_vm_info + memory root); exposed for
 * independent checking and tests. */
void cohort_vm_hash_info(const cohort_vm_info *info, const uint8_t mem_root[COHORT_VM_HASH_LEN],
                         uint8_t out[COHORT_VM_HASH_LEN]);

/* ---- Execution traces (bisection support) ----
 * A trace keeps copy-on-write snapshots of one handle every `interval` steps
 * (pages unchanged between snapshots are shared), so that "the state at
 * step i" can be rebuilt quickly: restore the nearest snapshot <= i, replay.
 * Use one trace per handle, and advance the handle only through
 * cohort_vm_trace_run while the trace exists (so no write is missed). */
typedef struct cohort_vm_trace cohort_vm_trace;

/* Start a trace at vm's current state (the first snapshot). vm stays owned
 * by the caller and must outlive the trace only while cohort_vm_trace_run is
 * used. Returns 0, COHORT_ERR_INVALID (interval 0) or COHORT_ERR_NOMEM. */
int cohort_vm_trace_new(cohort_vm_trace **out, cohort_vm *vm, uint64_t interval);
void cohort_vm_trace_del(cohort_vm_trace *t);

/* Run vm up to n steps (fast path), snapshotting at every multiple of the
 * interval and at the halt. Returns 0 or COHORT_ERR_NOMEM (run stops). */
int cohort_vm_trace_run(cohort_vm_trace *t, cohort_vm *vm, uint64_t n, uint64_t *done);

/* Number of snapshots held. */
size_t cohort_vm_trace_count(const cohort_vm_trace *t);

/* A handle at exactly `step` (or halted before it), owned by the trace and
 * valid until the next seek or cohort_vm_trace_del; use it for
 * cohort_vm_state_hash and cohort_vm_prove, or cohort_vm_clone it.
 * Returns 0 or COHORT_ERR_INVALID (step before the first snapshot). */
int cohort_vm_trace_seek(cohort_vm_trace *t, uint64_t step, cohort_vm **vm);

/* Copy n bytes of guest memory at addr (any region; unbacked = zero) into
 * buf, for debuggers and tests. Returns 0 or COHORT_ERR_INVALID if the range
 * wraps around the address space. */
int cohort_vm_read_mem(cohort_vm *vm, uint32_t addr, void *buf, size_t n);

/* Fault injection (tests, `cohort executor run --lie-from-step`): XOR mask
 * into register r (1..31) of the current state, as a faulty or lying
 * machine would; the state hash changes with it. Only the caller's own
 * handle is affected; a proof of the step into such a state never
 * verifies. Returns 0 or COHORT_ERR_INVALID (r out of range). */
int cohort_vm_debug_flip_reg(cohort_vm *vm, unsigned r, uint32_t mask);

/* Stable names, never NULL. */
const char *cohort_vm_status_str(uint32_t status);
const char *cohort_vm_trap_str(uint32_t reason);

/* Decode-and-disassemble one instruction word into buf (for traces). */
void cohort_vm_disasm(uint32_t insn, uint32_t pc, char *buf, size_t len);

#endif
