//! The six Linux AIO system calls, one file each.
//!
//! Each entry has the shape of a FreeBSD system call handler (`sy_call_t`): it gets the
//! calling thread and the argument registers the Linux sysvec copied, leaves its result
//! in `td_retval[0]`, and returns 0 or a positive FreeBSD errno, which the Linux sysvec
//! turns into the negative Linux errno the program sees.
//!
//! What is not implemented yet (IOCB_CMD_POLL, IOCB_FLAG_RESFD) answers EINVAL; see the
//! README's status table.

pub mod io_cancel;
pub mod io_destroy;
pub mod io_getevents;
pub mod io_pgetevents;
pub mod io_setup;
pub mod io_submit;

use crate::bindings::freebsd as f;
use crate::gate;
use crate::kernel::thread::Thread;
use crate::kernel::{Errno, errno};
use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicUsize, Ordering};

/// The type of an entry: `int (*)(struct thread *, void *args)`.
pub type SyCall = unsafe extern "C" fn(*mut f::thread, *mut c_void) -> c_int;

/// Calls inside an entry right now. The kernel's own count (`sy_thrcnt`) covers every
/// call that started after the slot was installed; this one also covers a call that
/// read the slot while it was being installed. Unload waits for both to drain.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

pub fn in_flight() -> usize {
    IN_FLIGHT.load(Ordering::Acquire)
}

/// The argument registers the Linux sysvec copied (`register_t args[8]`).
#[derive(Clone, Copy)]
pub struct Args([u64; 6]);

impl Args {
    pub fn get(&self, i: usize) -> u64 {
        self.0.get(i).copied().unwrap_or(0)
    }
}

/// Runs one call's `body` behind the gate, counted as in flight. `td` and `args` are
/// what the kernel passed to the entry.
fn serve(td: *mut f::thread, args: *mut c_void, body: impl FnOnce(Thread, Args) -> Result<(), Errno>) -> c_int {
    IN_FLIGHT.fetch_add(1, Ordering::AcqRel);
    let result = gate::check().and_then(|()| {
        // SAFETY: syscallenter passes the calling thread and its `td_sa.args`, an
        // array of eight register_t, both valid for the call.
        let (td, args) = unsafe { (Thread::from_raw(td), Args(*args.cast::<[u64; 6]>())) };
        body(td, args)
    });
    IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    errno::to_return(result)
}
