//! Linux `io_destroy(ctx)`: removes a context of the calling process, unmaps its ring
//! and frees it once no call is using it; EINVAL for anything that is not a live
//! context of the caller (a second destroy included).

use crate::bindings::freebsd as f;
use crate::context;
use core::ffi::{c_int, c_void};

/// How many argument registers the call takes (`sy_narg`).
pub const NARG: u8 = 1;

/// The system call entry installed in `linux_sysent`.
pub extern "C" fn entry(td: *mut f::thread, args: *mut c_void) -> c_int {
    super::serve(td, args, |td, args| {
        context::destroy(td, args.get(0))?;
        td.set_retval([0, 0]);
        Ok(())
    })
}
