//! Linux `io_submit(ctx, nr, iocbpp)`: queues requests.
//!
//! `nr < 0` is EINVAL before the context is looked up; `nr` is clamped to the
//! context's size; each iocb pointer and iocb is read from user memory (EFAULT) and
//! queued (submit.rs). The result is how many were queued; an error on the first is
//! the call's error, an error on a later one ends the call with the count so far (the
//! program sees the error when it submits the rest). FreeBSD's per-process limit on
//! queued jobs (256) shows as such a partial count, or EAGAIN for the first.

use crate::bindings::freebsd as f;
use crate::bindings::linux;
use crate::context;
use crate::kernel::Errno;
use crate::kernel::user::UserPtr;
use crate::submit;
use core::ffi::{c_int, c_void};

/// How many argument registers the call takes (`sy_narg`).
pub const NARG: u8 = 3;

/// The system call entry installed in `linux_sysent`.
pub extern "C" fn entry(td: *mut f::thread, args: *mut c_void) -> c_int {
    super::serve(td, args, |td, args| {
        let nr = args.get(1) as i64;
        if nr < 0 {
            return Err(Errno::EINVAL);
        }
        let ctx = context::lookup(td, args.get(0)).ok_or(Errno::EINVAL)?;
        let nr = nr.min(i64::from(ctx.nr_events().min(context::SLOTS_MAX))) as u64;
        let iocbpp = args.get(2);
        let mut done = 0u64;
        while done < nr {
            let one = iocbpp
                .checked_add(done * 8)
                .ok_or(Errno::EFAULT)
                .and_then(|at| UserPtr::<u64>::new(at as usize).read())
                .and_then(|obj| Ok((obj, UserPtr::<linux::iocb>::new(obj as usize).read()?)))
                .and_then(|(obj, iocb)| submit::submit_one(td, &ctx, obj, &iocb));
            match one {
                Ok(()) => done += 1,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        td.set_retval([done as i64, 0]);
        Ok(())
    })
}
