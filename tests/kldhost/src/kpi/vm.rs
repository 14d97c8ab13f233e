//! User mappings made from the kernel: `kern_mmap` and `kern_munmap`
//! (sys/syscallsubr.h). The mapping is a real one in the process, outside the kernel
//! range, and its address comes back in `td_retval[0]` as on FreeBSD (the caller must
//! save and restore td_retval around the call if it has a result there already).
//! Anonymous mappings only: a file-backed one is not modelled and is reported.

use crate::freebsd::common as f;
use crate::kernel::{config, violation};
use std::ffi::c_int;

fn linux_prot(p: c_int) -> c_int {
    let mut l = 0;
    if p & f::PROT_READ as c_int != 0 {
        l |= libc::PROT_READ;
    }
    if p & f::PROT_WRITE as c_int != 0 {
        l |= libc::PROT_WRITE;
    }
    if p & f::PROT_EXEC as c_int != 0 {
        l |= libc::PROT_EXEC;
    }
    l
}

pub unsafe extern "C" fn kern_mmap(td: *mut f::thread, mrp: *const f::mmap_req) -> c_int {
    // SAFETY: the caller passes its request.
    let r = unsafe { &*mrp };
    let known = (f::MAP_SHARED | f::MAP_PRIVATE | f::MAP_ANON | f::MAP_FIXED) as c_int;
    if r.mr_flags & !known != 0 {
        violation(format!("kern_mmap flags {:#x}: not modelled", r.mr_flags));
        return f::EINVAL as c_int;
    }
    if r.mr_flags & f::MAP_ANON as c_int == 0 || r.mr_fd != -1 {
        violation("kern_mmap of a file: not modelled".into());
        return f::EINVAL as c_int;
    }
    if r.mr_flags & f::MAP_FIXED as c_int != 0 {
        violation("kern_mmap with MAP_FIXED: not modelled".into());
        return f::EINVAL as c_int;
    }
    if r.mr_len == 0 {
        return f::EINVAL as c_int;
    }
    let mut flags = libc::MAP_ANONYMOUS;
    flags |= if r.mr_flags & f::MAP_SHARED as c_int != 0 { libc::MAP_SHARED } else { libc::MAP_PRIVATE };
    // SAFETY: an anonymous mapping wherever the kernel puts it (never in the reserved
    // kernel range, which is mapped already).
    let p = unsafe { libc::mmap(std::ptr::null_mut(), r.mr_len as usize, linux_prot(r.mr_prot), flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return f::ENOMEM as c_int;
    }
    // SAFETY: td_retval of the caller's thread, at the configured major's offset.
    unsafe { *((td as usize + config().major.td_retval) as *mut i64) = p as i64 };
    0
}

pub unsafe extern "C" fn kern_munmap(_td: *mut f::thread, addr: usize, size: usize) -> c_int {
    if crate::arena::touches_kernel(addr, size) {
        return f::EINVAL as c_int;
    }
    // SAFETY: munmap of a user range; the kernel range is refused above.
    if unsafe { libc::munmap(addr as *mut libc::c_void, size) } != 0 { f::EINVAL as c_int } else { 0 }
}
