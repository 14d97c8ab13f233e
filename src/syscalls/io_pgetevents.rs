//! Linux `io_pgetevents(ctx, min_nr, nr, events, timeout, usig)`: io_getevents with a
//! temporary signal mask.
//!
//! The timeout is read first, then `usig` (`{sigmask, sigsetsize}`; EFAULT). A NULL
//! `usig` or NULL `sigmask` means no mask change; a mask with `sigsetsize` other than
//! 8 is EINVAL. Installing a mask for the call is not implemented yet: such a call
//! answers ENOSYS (README), which programs treat as "no io_pgetevents".

use crate::bindings::freebsd as f;
use crate::kernel::Errno;
use crate::kernel::user::UserPtr;
use core::ffi::{c_int, c_void};

/// How many argument registers the call takes (`sy_narg`).
pub const NARG: u8 = 6;

/// The system call entry installed in `linux_sysent`.
pub extern "C" fn entry(td: *mut f::thread, args: *mut c_void) -> c_int {
    super::serve(td, args, |td, args| {
        let timeout = match args.get(4) {
            0 => None,
            at => Some(UserPtr::<[i64; 2]>::new(at as usize).read()?),
        };
        if args.get(5) != 0 {
            let [sigmask, sigsetsize] = UserPtr::<[u64; 2]>::new(args.get(5) as usize).read()?;
            if sigmask != 0 {
                if sigsetsize != 8 {
                    return Err(Errno::EINVAL);
                }
                return Err(Errno::ENOSYS);
            }
        }
        super::io_getevents::getevents(td, args.get(0), args.get(1) as i64, args.get(2) as i64, args.get(3), timeout)
    })
}
