// tests/unit/vm/toolchains/probe.rs — the probe of probe.c in Rust (no_std,
// target riscv32im-unknown-none-elf), built by test_vm_toolchains.sh with
// Debian's rustc against a core built from Debian's rust-src. Prints the
// same lines as probe.c (plus a line of its own), so the output under
// qemu-riscv32 and the Cohort VM must be equal.
#![no_std]
#![no_main]

use core::arch::{asm, global_asm};
use core::panic::PanicInfo;

global_asm!(
    ".section .text.start, \"ax\", @progbits",
    ".globl _start",
    "_start:",
    "  mv a0, sp",
    "  andi sp, sp, -16",
    "  call cmain",
    "1: j 1b",
);

extern "C" {
    fn _start();
}

unsafe fn sys3(n: usize, a: usize, b: usize, c: usize) -> isize {
    let mut r = a;
    asm!("ecall", inout("a0") r, in("a1") b, in("a2") c, in("a7") n, options(nostack));
    r as isize
}

struct Out {
    buf: [u8; 1024],
    n: usize,
}

impl Out {
    fn puts(&mut self, s: &[u8]) {
        for &c in s {
            if self.n < self.buf.len() {
                self.buf[self.n] = c;
                self.n += 1;
            }
        }
    }
    fn putn(&mut self, label: &[u8], v: i64) {
        self.puts(label);
        if v < 0 {
            self.puts(b"-");
        }
        let mut u = v.unsigned_abs();
        let mut d = [0u8; 24];
        let mut k = 0;
        loop {
            d[k] = b'0' + (u % 10) as u8;
            k += 1;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        while k > 0 {
            k -= 1;
            self.puts(&d[k..k + 1]);
        }
        self.puts(b"\n");
    }
}

static mut COUNTER: u32 = 41;
static mut ZEROED: [u8; 3000] = [0; 3000];

#[no_mangle]
pub unsafe extern "C" fn cmain(sp: *const u32) -> ! {
    let argc = *sp;
    let argv = sp.add(1) as *const *const u8;
    let envp = argv.add(argc as usize + 1);
    let mut envc = 0usize;
    while !(*envp.add(envc)).is_null() {
        envc += 1;
    }
    let mut aux = envp.add(envc + 1) as *const u32;
    let (mut pagesz, mut phdr, mut phent, mut phnum, mut entry, mut random) = (0u32, 0u32, 0u32, 0u32, 0u32, 0u32);
    while *aux != 0 {
        let v = *aux.add(1);
        match *aux {
            6 => pagesz = v,
            3 => phdr = v,
            4 => phent = v,
            5 => phnum = v,
            9 => entry = v,
            25 => random = v,
            _ => {}
        }
        aux = aux.add(2);
    }
    let mut o = Out { buf: [0; 1024], n: 0 };
    o.puts(b"probe: hello from a stock toolchain\n");
    o.putn(b"argc=", argc as i64);
    o.putn(b"argv0_nonempty=", (!(*argv).is_null() && **argv != 0) as i64);
    o.putn(b"envc=", envc as i64);
    o.putn(b"pagesz=", pagesz as i64);
    o.putn(b"phent=", phent as i64);
    o.putn(b"phnum=", phnum as i64);
    o.putn(b"entry_is_start=", (entry == _start as usize as u32) as i64);
    o.putn(b"random_given=", (random != 0) as i64);
    let mut loads = 0;
    if phdr != 0 {
        for i in 0..phnum {
            if *((phdr + i * phent) as usize as *const u32) == 1 {
                loads += 1;
            }
        }
    }
    o.putn(b"pt_load_via_at_phdr=", loads);
    let c = core::ptr::read_volatile(core::ptr::addr_of!(COUNTER)) + 1;
    core::ptr::write_volatile(core::ptr::addr_of_mut!(COUNTER), c);
    let mut z = 0u8;
    for i in 0..3000 {
        z |= core::ptr::read_volatile(core::ptr::addr_of!(ZEROED[i]));
    }
    o.putn(b"data=", c as i64);
    o.putn(b"bss_zero=", (z == 0) as i64);
    let b = sys3(214, 0, 0, 0);
    o.putn(b"brk_page_aligned=", (b & 4095 == 0) as i64);
    let b2 = sys3(214, b as usize + 100, 0, 0);
    o.putn(b"brk_grew=", (b2 == b + 100) as i64);
    let r = sys3(63, 0, b as usize + 50, 8192);
    o.putn(b"read_past_break=", r as i64);
    let r = sys3(63, 0, b as usize + 50, 40);
    o.putn(b"read_inside=", r as i64);
    let mut h: u32 = 2166136261;
    for i in 0..r.max(0) as usize {
        h = (h ^ *((b as usize + 50 + i) as *const u8) as u32).wrapping_mul(16777619);
    }
    o.putn(b"input_hash=", (h & 0x7FFF_FFFF) as i64);
    o.putn(b"write_past_break=", sys3(64, 1, b as usize + 4000, 200) as i64);
    // Rust's own line: a u64 division goes through libgcc's __udivdi3
    let big = (h as u64) << 20 | 12345;
    o.putn(b"rust_u64_div=", (big / 1_000_003) as i64);
    sys3(64, 1, o.buf.as_ptr() as usize, o.n);
    sys3(93, 7, 0, 0);
    loop {}
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    unsafe { sys3(93, 101, 0, 0) };
    loop {}
}
