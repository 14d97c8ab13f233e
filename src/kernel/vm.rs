//! User mappings made for the calling process: kern_mmap(9)-style calls.

use super::Errno;
use super::thread::Thread;
use crate::bindings::freebsd as f;
use core::ffi::c_int;

/// Maps `len` bytes of zeroed, shared, read-write anonymous memory into the calling
/// process and returns its address. kern_mmap leaves the address in td_retval, which
/// is saved and restored around it.
pub fn map_anon_shared(td: Thread, len: usize) -> Result<usize, Errno> {
    let saved = td.retval();
    let req = f::mmap_req {
        mr_hint: 0,
        mr_len: len as _,
        mr_prot: (f::PROT_READ | f::PROT_WRITE) as c_int,
        mr_flags: (f::MAP_SHARED | f::MAP_ANON) as c_int,
        mr_fd: -1,
        mr_pos: 0,
        mr_check_fp_fn: None,
    };
    // SAFETY: the calling thread and a complete request for an anonymous mapping.
    let e = unsafe { f::kern_mmap(td.as_ptr(), &req) };
    let addr = td.retval()[0] as usize;
    td.set_retval(saved);
    match super::errno::check(e) {
        Ok(()) => Ok(addr),
        Err(_) => Err(Errno::ENOMEM),
    }
}

/// Unmaps `[addr, addr + len)` of the calling process.
pub fn unmap(td: Thread, addr: usize, len: usize) -> Result<(), Errno> {
    // SAFETY: the calling thread; the kernel validates the range.
    super::errno::check(unsafe { f::kern_munmap(td.as_ptr(), addr as _, len) })
}
