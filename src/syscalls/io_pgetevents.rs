//! Linux `io_pgetevents(ctx, min_nr, nr, events, timeout, usig)`: io_getevents with a
//! signal mask in force while it waits, as pselect(2) has.
//!
//! Linux's order (fs/aio.c): the timeout is read (EFAULT), then `usig`, a
//! `struct __aio_sigset { const sigset_t *sigmask; size_t sigsetsize; }` (EFAULT). A
//! NULL `usig` or a NULL `sigmask` leaves the mask alone; otherwise `sigsetsize` must be
//! 8, the size of Linux's sigset_t (EINVAL), and the mask is read (EFAULT) and
//! installed before the context is looked up. The thread's own mask comes back on the
//! way to user mode, once any signal the call's mask let through has been delivered
//! (kernel/signal.rs).

use crate::bindings::freebsd as f;
use crate::kernel::Errno;
use crate::kernel::user::UserPtr;
use crate::linux_sigset;
use core::ffi::{c_int, c_void};

/// How many argument registers the call takes (`sy_narg`).
pub const NARG: u8 = 6;

/// `sizeof(sigset_t)` in the Linux ABI.
const LINUX_SIGSET_SIZE: u64 = 8;

/// The system call entry installed in `linux_sysent`.
pub extern "C" fn entry(td: *mut f::thread, args: *mut c_void) -> c_int {
    super::serve(td, args, |td, args| {
        let timeout = match args.get(4) {
            0 => None,
            at => Some(UserPtr::<[i64; 2]>::new(at as usize).read()?),
        };
        let mut mask = None;
        if args.get(5) != 0 {
            let [sigmask, sigsetsize] = UserPtr::<[u64; 2]>::new(args.get(5) as usize).read()?;
            if sigmask != 0 {
                if sigsetsize != LINUX_SIGSET_SIZE {
                    return Err(Errno::EINVAL);
                }
                let linux = UserPtr::<u64>::new(sigmask as usize).read()?;
                mask = Some(linux_sigset::to_freebsd(linux));
            }
        }
        super::io_getevents::getevents(td, args.get(0), args.get(1) as i64, args.get(2) as i64, args.get(3), timeout, mask)
    })
}
