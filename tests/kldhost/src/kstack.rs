//! Kernel stacks. On FreeBSD a system call runs on the thread's kernel stack, which is
//! small (amd64: 4 pages) and is kernel memory: a module may hand the address of a
//! local variable to copyin(9) as the kernel side. So the model runs a module's entry
//! on a stack of its own in the kernel range, per thread, with an unmapped guard page
//! below it, so that overflowing it is a fault in the kernel range.
//!
//! The model's own functions, called from the module, run on the same stack and are
//! heavier than the kernel's, so the stack is larger than FreeBSD's (`SIZE`).

use crate::arena::arena;
use crate::freebsd::common as f;
use std::cell::Cell;
use std::ffi::{c_int, c_void};

/// Usable bytes of a kernel stack.
pub const SIZE: usize = 64 * 1024;
const GUARD: usize = 4096;

type Entry = unsafe extern "C" fn(*mut f::thread, *mut c_void) -> c_int;

thread_local!(static TOP: Cell<usize> = const { Cell::new(0) });

/// This thread's kernel stack (its top), made on first use.
fn top() -> usize {
    TOP.with(|t| {
        if t.get() == 0 {
            if let Some(p) = arena().alloc(SIZE + GUARD, 4096) {
                let base = p.as_ptr() as usize;
                // SAFETY: the lowest page of our own allocation becomes the guard.
                unsafe { libc::mprotect(base as *mut c_void, GUARD, libc::PROT_NONE) };
                t.set(base + GUARD + SIZE);
            }
        }
        t.get()
    })
}

/// Calls `entry(td, args)` on this thread's kernel stack (on the current stack if none
/// could be made), returning what it returns.
///
/// # Safety
/// `entry` is a system call handler and `td`/`args` are what it expects.
pub unsafe fn call(entry: Entry, td: *mut f::thread, args: *mut c_void) -> c_int {
    let stack = top();
    if stack == 0 {
        // SAFETY: the caller's contract.
        return unsafe { entry(td, args) };
    }
    let ret: c_int;
    // SAFETY: switches to a 16-byte-aligned stack we own, calls the entry with the
    // System V ABI (rdi, rsi; callee-saved r12 keeps the old stack pointer), and
    // switches back. All caller-saved registers are declared clobbered.
    unsafe {
        std::arch::asm!(
            "mov r12, rsp",
            "mov rsp, {stack}",
            "call {entry}",
            "mov rsp, r12",
            stack = in(reg) stack,
            entry = in(reg) entry,
            in("rdi") td,
            in("rsi") args,
            out("r12") _,
            lateout("eax") ret,
            clobber_abi("C"),
        );
    }
    ret
}
