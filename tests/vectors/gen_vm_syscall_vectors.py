#!/usr/bin/env python3
"""Generate tests/vectors/vm/syscalls.{elf,txt}: known-answer VM state hashes
at EVERY step of a small program whose system calls take several steps
(docs/vm.md §3 "Multi-step calls"), computed here by an independent Python
model written from docs/vm.md §2-§4 (ELF loading, the initial stack, the
syscall rules, the state layout and the memory tree) — not by the C VM.
tests/unit/vm/test_vm_proof.c (test_syscall_vectors) replays the file with
the C VM (reference steps, the fast path, one-step proofs) and must agree
at every line. Bisection in the verification game lands on any step, so an
implementation has to agree on the state *inside* a multi-step read, write
or brk, not only at its end.

The ELF is built byte for byte below (no toolchain): two PT_LOADs, code R-X
at 0x10000 (file offset 0) and data RW- at 0x11000 (file offset 0x1000,
filesz 200, memsz 0x1800). The file carries bytes outside each segment that
the loading rule makes visible or not: "PAD!" at file offset 0xF00 (past the
code segment's filesz, in its last page: loaded, as Linux's mmap of the
file page loads it) and 100 bytes after the data segment's filesz (in the
bss part of its last file page: zeroed because memsz > filesz).

The program (straight-line RV32IM: lui, addi, sw, ecall):
  read(0, 0x11005, 400)   input 600 bytes: 7 chunks (123, 5, 123, 5, 123, 5, 16: each ends
                          at a 128-byte leaf boundary of the source or the destination)
  read(0, 0x12F00, 1000)  -EFAULT: [buf, buf+n) runs past the data segment although
                          the 200 bytes that remain would fit (the check uses n)
  read(0, 0x12E00, 512)   200 bytes (what remains), 3 chunks
  read(0, 0x12E00, 512)   0 at end of input, one step
  write(1, 0x11005, 400)  7 chunks; out_len moves at the last one
  write(2, 0x11005, 400)  debug log: one step, returns 400, memory unchanged
  write(1, 0x12F00, 1000) -EFAULT, one step
  write(5, 0x11005, 1)    -EBADF
  brk(0x15000)            grows the heap (one step), returns 0x15000
  sw 0x15000 -> 0x14F00   a non-zero word in the heap's last page
  brk(0x13010)            shrinks: zeroes [0x14000, 0x15000) one 128-byte leaf per step
                          (32 steps), then brk = 0x13010
  exit(7)                 status EXITED, code 7; pc stays on the ecall

Under `env -i qemu-riscv32 syscalls.elf < syscalls.in` it prints the same 400
bytes and exits 7, as in the VM.

Cases: "full" (runs to the exit), "outcap" (out_cap 300: the first write(1)
traps output_limit at once), "cut" (max_steps ends the run inside the
first write: OUT_OF_STEPS with sys_done != 0).

  python3 tests/vectors/gen_vm_syscall_vectors.py   # rewrites both files
"""
import hashlib
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vm")
LEAF, PAGE = 128, 4096
INPUT_BASE, OUTPUT_BASE = 0x80000000, 0xC0000000
EBADF, EFAULT = 9, 14


def H(b):
    return hashlib.blake2b(b, digest_size=32).digest()


def page_up(a):
    return (a + PAGE - 1) & ~(PAGE - 1)


# ---- a tiny assembler ----
def lui(rd, imm20):
    return (imm20 << 12) | (rd << 7) | 0x37


def addi(rd, rs1, imm):
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (0 << 12) | (rd << 7) | 0x13


def sw(rs2, rs1, imm):
    imm &= 0xFFF
    return ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (2 << 12) | ((imm & 31) << 7) | 0x23


ECALL = 0x00000073
A0, A1, A2, A7, T0 = 10, 11, 12, 17, 5


def li(rd, v):
    """lui + addi for any 32-bit v (addi sign-extends its 12 bits)."""
    hi = ((v + 0x800) >> 12) & 0xFFFFF
    lo = v - (hi << 12)
    if lo >= 2048:
        lo -= 4096
    out = []
    if hi:
        out.append(lui(rd, hi))
        out.append(addi(rd, rd, lo))
    else:
        out.append(addi(rd, 0, lo))
    return out


def call(nr, a0, a1=None, a2=None):
    c = li(A7, nr) + li(A0, a0)
    if a1 is not None:
        c += li(A1, a1)
    if a2 is not None:
        c += li(A2, a2)
    return c + [ECALL]


def program():
    c = []
    c += call(63, 0, 0x11005, 400)
    c += call(63, 0, 0x12F00, 1000)
    c += call(63, 0, 0x12E00, 512)
    c += call(63, 0, 0x12E00, 512)
    c += call(64, 1, 0x11005, 400)
    c += call(64, 2, 0x11005, 400)
    c += call(64, 1, 0x12F00, 1000)
    c += call(64, 5, 0x11005, 1)
    c += call(214, 0x15000)
    c += [lui(T0, 0x15), sw(T0, T0, -256)]
    c += call(214, 0x13010)
    c += call(93, 7)
    return c


def build_elf():
    code = b"".join(struct.pack("<I", w) for w in program())
    ehdr_len, ph_len = 52, 32
    code_off = ehdr_len + 2 * ph_len
    entry = 0x10000 + code_off
    text_filesz = code_off + len(code)
    assert text_filesz < 0xF00
    data = bytes((i * 13 + 1) & 0xFF or 0x55 for i in range(200))
    tail = b"T" * 100  # in the file after the data segment's filesz: must load as zeros
    ehdr = (b"\x7fELF" + bytes([1, 1, 1, 0, 0]) + bytes(7) +
            struct.pack("<HHIIIIIHHHHHH", 2, 243, 1, entry, ehdr_len, 0, 0, ehdr_len, ph_len, 2,
                        40, 0, 0))
    ph_text = struct.pack("<IIIIIIII", 1, 0, 0x10000, 0x10000, text_filesz, text_filesz, 5, 4096)
    ph_data = struct.pack("<IIIIIIII", 1, 0x1000, 0x11000, 0x11000, len(data), 0x1800, 6, 4096)
    f = bytearray(ehdr + ph_text + ph_data + code)
    f += bytes(0xF00 - len(f)) + b"PAD!"
    f += bytes(0x1000 - len(f)) + data + tail
    return bytes(f), entry


# ---- the model (docs/vm.md) ----
class VM:
    def __init__(self, elf, inp, mem_cap, max_steps, out_cap):
        self.mem = {}  # address -> non-zero byte, over the whole 2^32 space
        self.x = [0] * 32
        self.step, self.max_steps, self.status, self.code = 0, max_steps, 0, 0
        self.mem_cap, self.out_cap = mem_cap, out_cap or (64 << 20)
        self.stack_lo = mem_cap - min(8 << 20, mem_cap // 4)
        self.in_len, self.in_pos, self.out_len, self.sys_done = len(inp), 0, 0, 0
        e_entry, e_phoff = struct.unpack_from("<II", elf, 24)
        e_phnum = struct.unpack_from("<H", elf, 44)[0]
        segs, top, phdr = [], 0, 0
        for i in range(e_phnum):
            typ, off, va, _, fsz, msz, fl, _ = struct.unpack_from("<IIIIIIII", elf, e_phoff + 32 * i)
            if typ != 1:
                continue
            lo, flo = va & ~(PAGE - 1), off & ~(PAGE - 1)
            if fsz:  # the file pages [page_down(vaddr), page_up(vaddr + filesz)) as mmap fills them
                n = page_up(va + fsz) - lo
                self.store(lo, elf[flo:flo + n])
                if msz > fsz:  # the rest of the last file page is zeroed
                    z = va + fsz
                    self.store(z, bytes(page_up(z) - z))
            segs.append((lo, page_up(va + msz), fl))
            if fl & 1:
                self.exec_lo, self.exec_hi = lo, page_up(va + msz)
            if off <= e_phoff < off + fsz:
                phdr = e_phoff - off + va
            top = max(top, page_up(va + msz))
        self.segs = sorted(segs)
        self.brk = self.brk_min = top
        self.store(INPUT_BASE, inp)
        T = mem_cap
        self.store(T - 16, b"task\0")
        self.store(T - 32, H(b"cohort/vm/at_random")[:16])
        words = [1, T - 16, 0, 0, 16, 0x1100, 6, 4096, 3, phdr, 4, 32, 5, e_phnum, 9, e_entry,
                 25, T - 32, 31, T - 16, 0, 0]
        self.store(T - 128, b"".join(struct.pack("<I", w) for w in words))
        self.x[2] = T - 128
        self.pc = e_entry

    def store(self, a, b):
        for i, v in enumerate(b):
            if v:
                self.mem[a + i] = v
            else:
                self.mem.pop(a + i, None)

    def load(self, a, n):
        return bytes(self.mem.get(a + i, 0) for i in range(n))

    # permissions (docs/vm.md §2): stack, heap, segments
    def interval_end(self, a, need_w):
        if a >= self.mem_cap:
            return 0
        if a >= self.stack_lo:
            return self.mem_cap
        if self.brk_min <= a < page_up(self.brk):
            return page_up(self.brk)
        for lo, hi, fl in self.segs:
            if lo <= a < hi:
                return 0 if need_w and not fl & 2 else hi
        return 0

    def range_ok(self, a, n, need_w):
        end = a + n
        while a < end:
            hi = self.interval_end(a, need_w)
            if hi <= a:
                return False
            a = hi
        return True

    def root(self):
        leaves = {}
        for a in self.mem:
            leaves.setdefault(a // LEAF, None)
        level = {i: H(self.load(i * LEAF, LEAF)) for i in leaves}
        empty = [H(bytes(LEAF))]
        for _ in range(25):
            empty.append(H(empty[-1] * 2))
        for lv in range(25):
            up = {}
            for i in level:
                p = i >> 1
                if p in up:
                    continue
                left = level.get(p * 2, empty[lv])
                right = level.get(p * 2 + 1, empty[lv])
                up[p] = H(left + right)
            level = up
        return level.get(0, empty[25])

    def state_hash(self):
        s = struct.pack("<I", self.pc) + b"".join(struct.pack("<I", v) for v in self.x[1:])
        s += struct.pack("<QQ", self.step, self.max_steps)
        s += struct.pack("<12I", self.status, self.code, self.mem_cap, self.exec_lo, self.exec_hi,
                         self.brk, self.brk_min, self.in_len, self.in_pos, self.out_len,
                         self.sys_done, self.out_cap)
        segs = self.segs + [(0, 0, 0)] * (8 - len(self.segs))
        s += b"".join(struct.pack("<II", lo | fl, hi) for lo, hi, fl in segs)
        assert len(s) == 256
        return H(b"cohort/vm/state/v3" + s + self.root())

    # ---- one step ----
    def retire(self, npc):
        self.pc = npc
        self.step += 1
        if self.status == 0 and self.step >= self.max_steps:
            self.status = 3

    def ret(self, v):
        self.x[10] = v & 0xFFFFFFFF
        self.sys_done = 0
        self.retire(self.pc + 4)

    def chunk(self, src, dst, total):
        """One chunk of a transfer; True when the transfer is complete."""
        off = self.sys_done
        s, d = src + off, dst + off
        n = min(total - off, LEAF - s % LEAF, LEAF - d % LEAF)
        self.store(d, self.load(s, n))
        off += n
        if off < total:
            self.sys_done = off
            self.retire(self.pc)
            return False
        return True

    def syscall(self):
        a0, a1, a2, nr = self.x[10], self.x[11], self.x[12], self.x[17]
        if nr == 63:
            if a0 != 0:
                return self.ret(-EBADF)
            if a2 == 0:
                return self.ret(0)
            if not self.range_ok(a1, a2, True):
                return self.ret(-EFAULT)
            total = min(a2, self.in_len - self.in_pos)
            if total == 0:
                return self.ret(0)
            if not self.chunk(INPUT_BASE + self.in_pos, a1, total):
                return
            self.in_pos += total
            return self.ret(total)
        if nr == 64:
            if a0 not in (1, 2):
                return self.ret(-EBADF)
            if a2 == 0:
                return self.ret(0)
            if not self.range_ok(a1, a2, False):
                return self.ret(-EFAULT)
            if a0 == 2:
                return self.ret(a2)
            if a2 > self.out_cap - self.out_len:
                self.status, self.code = 2, 11
                self.step += 1
                return
            if not self.chunk(a1, OUTPUT_BASE + self.out_len, a2):
                return
            self.out_len += a2
            return self.ret(a2)
        if nr in (93, 94):
            self.status, self.code = 1, a0
            self.step += 1
            return
        if nr == 214:
            if a0 < self.brk_min or a0 > self.stack_lo:
                return self.ret(self.brk)
            lo, hi = page_up(a0), page_up(self.brk)
            if lo < hi and self.sys_done < hi - lo:
                self.store(lo + self.sys_done, bytes(LEAF))
                self.sys_done += LEAF
                if self.sys_done < hi - lo:
                    return self.retire(self.pc)
            self.brk = a0
            return self.ret(self.brk)
        raise AssertionError("syscall %d not modelled" % nr)

    def do_step(self):
        if self.status:
            return
        assert self.exec_lo <= self.pc < self.exec_hi and self.pc % 4 == 0
        w = struct.unpack("<I", self.load(self.pc, 4))[0]
        op, rd, rs1 = w & 0x7F, (w >> 7) & 31, (w >> 15) & 31
        if op == 0x37:
            if rd:
                self.x[rd] = w & 0xFFFFF000
            return self.retire(self.pc + 4)
        if op == 0x13 and (w >> 12) & 7 == 0:
            imm = (w >> 20) - (4096 if w >> 31 else 0)
            if rd:
                self.x[rd] = (self.x[rs1] + imm) & 0xFFFFFFFF
            return self.retire(self.pc + 4)
        if op == 0x23 and (w >> 12) & 7 == 2:
            imm = ((w >> 25) << 5) | ((w >> 7) & 31)
            imm -= 4096 if imm & 0x800 else 0
            a = (self.x[rs1] + imm) & 0xFFFFFFFF
            assert a % 4 == 0 and self.range_ok(a, 4, True)
            self.store(a, struct.pack("<I", self.x[(w >> 20) & 31]))
            return self.retire(self.pc + 4)
        if w == ECALL:
            return self.syscall()
        raise AssertionError("instruction %08x not modelled" % w)


def run_case(out, name, elf, inp, mem_cap, max_steps, out_cap):
    vm = VM(elf, inp, mem_cap, max_steps, out_cap)
    out.append("case %s mem_cap %d max_steps %d out_cap %d" % (name, mem_cap, max_steps, out_cap))
    while True:
        out.append("step %d pc %08x status %d code %d a0 %08x sys_done %d in_pos %d out_len %d "
                   "brk %08x hash %s" % (vm.step, vm.pc, vm.status, vm.code, vm.x[10], vm.sys_done,
                                         vm.in_pos, vm.out_len, vm.brk, vm.state_hash().hex()))
        if vm.status:
            break
        vm.do_step()
    out.append("end")


def main():
    elf, _ = build_elf()
    inp = bytes((i * 7 + 3) & 0xFF for i in range(600))
    with open(os.path.join(HERE, "syscalls.elf"), "wb") as f:
        f.write(elf)
    os.chmod(os.path.join(HERE, "syscalls.elf"), 0o755)  # qemu-riscv32 runs only executables
    with open(os.path.join(HERE, "syscalls.in"), "wb") as f:
        f.write(inp)
    out = ["# Cohort VM known answers inside multi-step system calls (VM format 3).",
           "# Generated by tests/vectors/gen_vm_syscall_vectors.py (an independent Python model of",
           "# docs/vm.md); replayed by tests/unit/vm/test_vm_proof.c (test_syscall_vectors).",
           "# Program syscalls.elf, input syscalls.in (600 bytes). Per case: the config",
           "# (out_cap 0 = the 64 MiB default), then the state after every step from 0 to the halt:",
           "# pc, status, code, a0 (hex), sys_done, in_pos, out_len, brk (hex), state hash."]
    run_case(out, "full", elf, inp, 2 << 20, 1 << 40, 0)
    run_case(out, "outcap", elf, inp, 2 << 20, 1 << 40, 300)
    run_case(out, "cut", elf, inp, 2 << 20, 40, 0)
    with open(os.path.join(HERE, "syscalls.txt"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
