//! Linux `io_getevents(ctx, min_nr, nr, events, timeout)`: waits for and reaps
//! completions.
//!
//! The timeout is read first (EFAULT); then the context (EINVAL), then `min_nr` and
//! `nr` (EINVAL unless 0 <= min_nr <= nr). See events.rs for the waiting.

use crate::bindings::freebsd as f;
use crate::context;
use crate::events;
use crate::kernel::Errno;
use crate::kernel::signal;
use crate::kernel::thread::Thread;
use crate::kernel::user::UserPtr;
use core::ffi::{c_int, c_void};

/// How many argument registers the call takes (`sy_narg`).
pub const NARG: u8 = 5;

/// io_getevents and io_pgetevents after their own argument reading. `mask`, from
/// io_pgetevents, is the signal mask in force until the call returns.
pub fn getevents(td: Thread, ctx_id: u64, min_nr: i64, nr: i64, events: u64, timeout: Option<[i64; 2]>, mask: Option<f::sigset_t>) -> Result<(), Errno> {
    // Linux installs the mask before it looks at the context.
    if let Some(set) = mask {
        signal::mask_until_return(td, &set)?;
    }
    let ctx = context::lookup(td, ctx_id).ok_or(Errno::EINVAL)?;
    if min_nr < 0 || min_nr > nr {
        return Err(Errno::EINVAL);
    }
    let n = events::getevents(td, &ctx, min_nr as usize, nr as usize, events as usize, timeout)?;
    td.set_retval([n, 0]);
    Ok(())
}

/// The system call entry installed in `linux_sysent`.
pub extern "C" fn entry(td: *mut f::thread, args: *mut c_void) -> c_int {
    super::serve(td, args, |td, args| {
        let timeout = match args.get(4) {
            0 => None,
            at => Some(UserPtr::<[i64; 2]>::new(at as usize).read()?),
        };
        getevents(td, args.get(0), args.get(1) as i64, args.get(2) as i64, args.get(3), timeout, None)
    })
}
