//! Reaching user memory from the kernel: copyin(9), copyout(9), copyinstr, fueword(9),
//! suword(9), casueword32. As on FreeBSD, an address in the kernel range is not a user
//! address (EFAULT, or -1 for the word functions), and neither is an unmapped one or,
//! for writes, a read-only one. The model reaches the process's memory with
//! process_vm_readv/process_vm_writev, which report such faults instead of taking them.
//! The kernel side of a copy must be kernel memory: anything else is a module bug.

use crate::arena;
use crate::freebsd::common as f;
use crate::kernel::violation;
use std::ffi::{c_int, c_long, c_void};

const EFAULT: c_int = f::EFAULT as c_int;

fn user_ok(uaddr: usize, len: usize) -> bool {
    len == 0 || (!arena::touches_kernel(uaddr, len) && uaddr.checked_add(len).is_some())
}

fn kernel_ok(what: &str, kaddr: usize, len: usize) {
    if len > 0 && !(arena::is_kernel(kaddr) && arena::is_kernel(kaddr + len - 1)) {
        violation(format!("{what}: the kernel buffer {kaddr:#x} (+{len}) is not kernel memory"));
    }
}

/// Reads user memory into `dst`; false on a fault.
pub fn read_user(uaddr: usize, dst: *mut u8, len: usize) -> bool {
    if !user_ok(uaddr, len) {
        return false;
    }
    if len == 0 {
        return true;
    }
    let local = libc::iovec { iov_base: dst.cast(), iov_len: len };
    let remote = libc::iovec { iov_base: uaddr as *mut c_void, iov_len: len };
    // SAFETY: reads this process's memory into `len` bytes at `dst`, which the callers
    // own; a fault in the remote range is reported, not taken.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    n == len as isize
}

/// Writes `src` to user memory; false on a fault.
pub fn write_user(uaddr: usize, src: *const u8, len: usize) -> bool {
    if !user_ok(uaddr, len) {
        return false;
    }
    if len == 0 {
        return true;
    }
    let local = libc::iovec { iov_base: src as *mut c_void, iov_len: len };
    let remote = libc::iovec { iov_base: uaddr as *mut c_void, iov_len: len };
    // SAFETY: as read_user; the local side is only read.
    let n = unsafe { libc::process_vm_writev(libc::getpid(), &local, 1, &remote, 1, 0) };
    n == len as isize
}

pub unsafe extern "C" fn copyin(udaddr: *const c_void, kaddr: *mut c_void, len: usize) -> c_int {
    kernel_ok("copyin", kaddr as usize, len);
    if read_user(udaddr as usize, kaddr.cast(), len) { 0 } else { EFAULT }
}

pub unsafe extern "C" fn copyout(kaddr: *const c_void, udaddr: *mut c_void, len: usize) -> c_int {
    kernel_ok("copyout", kaddr as usize, len);
    if write_user(udaddr as usize, kaddr.cast(), len) { 0 } else { EFAULT }
}

/// copyinstr: at most `len` bytes including the NUL; ENAMETOOLONG without one.
pub unsafe extern "C" fn copyinstr(udaddr: *const c_void, kaddr: *mut c_void, len: usize, done: *mut usize) -> c_int {
    kernel_ok("copyinstr", kaddr as usize, len);
    for i in 0..len {
        let mut b = 0u8;
        if !read_user(udaddr as usize + i, &mut b, 1) {
            return EFAULT;
        }
        // SAFETY: `i < len`, inside the caller's kernel buffer.
        unsafe { *kaddr.cast::<u8>().add(i) = b };
        if b == 0 {
            if !done.is_null() {
                // SAFETY: the caller's out-parameter.
                unsafe { *done = i + 1 };
            }
            return 0;
        }
    }
    f::ENAMETOOLONG as c_int
}

pub unsafe extern "C" fn fueword(base: *const c_void, val: *mut c_long) -> c_int {
    let mut v: c_long = 0;
    if !read_user(base as usize, (&raw mut v).cast(), 8) {
        return -1;
    }
    // SAFETY: the caller's out-parameter.
    unsafe { *val = v };
    0
}

pub unsafe extern "C" fn fueword32(base: *const c_void, val: *mut i32) -> c_int {
    let mut v: i32 = 0;
    if !read_user(base as usize, (&raw mut v).cast(), 4) {
        return -1;
    }
    // SAFETY: the caller's out-parameter.
    unsafe { *val = v };
    0
}

pub unsafe extern "C" fn suword(base: *mut c_void, word: c_long) -> c_int {
    if write_user(base as usize, (&raw const word).cast(), 8) { 0 } else { -1 }
}

pub unsafe extern "C" fn suword32(base: *mut c_void, word: i32) -> c_int {
    if write_user(base as usize, (&raw const word).cast(), 4) { 0 } else { -1 }
}

/// casueword32: -1 on a fault; otherwise the old value in `*oldvalp`, and 0 when it was
/// `oldval` (and `newval` is now stored), 1 when it was not.
pub unsafe extern "C" fn casueword32(base: *mut u32, oldval: u32, oldvalp: *mut u32, newval: u32) -> c_int {
    // The word must be mapped and writable before it is touched atomically.
    if !user_ok(base as usize, 4) || !writable(base as usize, 4) {
        return -1;
    }
    // SAFETY: the word is mapped, writable user memory of this process (checked above).
    let atom = unsafe { std::sync::atomic::AtomicU32::from_ptr(base) };
    let r = atom.compare_exchange(oldval, newval, std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst);
    let old = r.unwrap_or_else(|v| v);
    // SAFETY: the caller's out-parameter.
    unsafe { *oldvalp = old };
    if r.is_ok() { 0 } else { 1 }
}

/// Whether `[addr, addr + len)` lies in one writable mapping of this process.
fn writable(addr: usize, len: usize) -> bool {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else { return false };
    maps.lines().any(|l| {
        let mut cols = l.split_whitespace();
        let (Some(range), Some(perms)) = (cols.next(), cols.next()) else { return false };
        let Some((a, b)) = range.split_once('-') else { return false };
        let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else { return false };
        perms.as_bytes().get(1) == Some(&b'w') && a <= addr && addr + len <= b
    })
}
