//! Linux `io_cancel(ctx, iocb, result)`: cancels one request.
//!
//! Linux 6.x reads the iocb's `aio_key` first (EFAULT), which must be 0 (EINVAL), then
//! looks up the context (EINVAL). Only IOCB_CMD_POLL requests can be cancelled there
//! (−EINPROGRESS); reads, writes and syncs cannot, and the answer is EINVAL. The module
//! does not take POLL requests yet, so every valid call ends in EINVAL, as on Linux for
//! these requests.

use crate::bindings::freebsd as f;
use crate::bindings::linux;
use crate::context;
use crate::kernel::Errno;
use crate::kernel::user::UserPtr;
use core::ffi::{c_int, c_void};

/// How many argument registers the call takes (`sy_narg`).
pub const NARG: u8 = 3;

/// The system call entry installed in `linux_sysent`.
pub extern "C" fn entry(td: *mut f::thread, args: *mut c_void) -> c_int {
    super::serve(td, args, |td, args| {
        let key_at = (args.get(1) as usize).checked_add(core::mem::offset_of!(linux::iocb, aio_key)).ok_or(Errno::EFAULT)?;
        if UserPtr::<u32>::new(key_at).read()? != 0 {
            return Err(Errno::EINVAL);
        }
        let _ctx = context::lookup(td, args.get(0)).ok_or(Errno::EINVAL)?;
        Err(Errno::EINVAL)
    })
}
