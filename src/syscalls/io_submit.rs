//! Linux `io_submit(ctx, nr, iocbpp): queues requests.`
//!
//! Not implemented yet (issue 4): behind the gate it answers ENOSYS, exactly as stock
//! FreeBSD does, so no program is told that something worked.

use crate::bindings::freebsd as f;
use crate::kernel::Errno;
use core::ffi::{c_int, c_void};

/// How many argument registers the call takes (`sy_narg`).
pub const NARG: u8 = 3;

/// The system call entry installed in `linux_sysent`.
pub extern "C" fn entry(td: *mut f::thread, args: *mut c_void) -> c_int {
    super::serve(td, args, |_, _| Err(Errno::ENOSYS))
}
