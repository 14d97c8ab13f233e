//! Linux `io_setup(nr_events, ctxp)`: creates a context and its completion ring.
//!
//! Linux's checks, in Linux's order (fs/aio.c; reference/linux-aio-semantics.md §1.2):
//! `*ctxp` is read first (EFAULT); it must be 0 and `nr_events` non-zero (EINVAL); the
//! ring must not be too large (EINVAL); `nr_events` must fit `compat.linux.aio.max_nr`
//! (EAGAIN), then the ring is made (ENOMEM), the size is counted against
//! `compat.linux.aio.max_nr` (EAGAIN), and the id is written to `*ctxp` (EFAULT, and
//! the context is gone again).

use crate::bindings::freebsd as f;
use crate::context;
use crate::kernel::Errno;
use crate::kernel::user::UserPtr;
use core::ffi::{c_int, c_void};

/// How many argument registers the call takes (`sy_narg`).
pub const NARG: u8 = 2;

/// The system call entry installed in `linux_sysent`.
pub extern "C" fn entry(td: *mut f::thread, args: *mut c_void) -> c_int {
    super::serve(td, args, |td, args| {
        // `unsigned nr_events`: the low 32 bits of the register.
        let nr_events = args.get(0) as u32;
        let ctxp = UserPtr::<u64>::new(args.get(1) as usize);
        if ctxp.read()? != 0 || nr_events == 0 {
            return Err(Errno::EINVAL);
        }
        context::create(td, nr_events, ctxp)?;
        td.set_retval([0, 0]);
        Ok(())
    })
}
