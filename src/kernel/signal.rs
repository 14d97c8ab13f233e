//! A signal mask in force until a system call returns to user mode, installed the way
//! `pselect(2)` installs its own (kern_pselect in sys/kern/sys_generic.c).
//!
//! `kern_sigprocmask` installs the call's mask and saves the thread's own in
//! `td_oldsigmask`; `TDP_OLDMASK` and the `TDA_SIGSUSPEND` AST put it back on the way to
//! user mode, after any signal the call's mask lets through has been delivered (its
//! handler's frame carries the old mask). That is what Linux's io_pgetevents does
//! (`restore_saved_sigmask_unless(signal_pending)`): when no signal is pending the two
//! are the same, since nothing runs in user mode between the call's end and the AST.

use crate::bindings::freebsd as f;
use crate::kernel::thread::Thread;
use crate::kernel::{Errno, errno};
use core::ffi::c_int;

/// Installs `set` as the calling thread's signal mask until the call returns to user
/// mode (SIGKILL and SIGSTOP stay unmasked: kern_sigprocmask removes them).
pub fn mask_until_return(td: Thread, set: &f::sigset_t) -> Result<(), Errno> {
    let mut set = *set;
    // SAFETY: td is the calling thread (Thread's contract); `set` is kernel memory, and
    // td_oldsigmask lies inside the live struct thread. flags 0: the function takes the
    // process lock itself; it does not sleep.
    let e = unsafe { f::kern_sigprocmask(td.as_ptr(), f::SIG_SETMASK as c_int, &mut set, td.oldsigmask_ptr(), 0) };
    errno::check(e)?;
    td.set_pflags(td.pflags() | f::TDP_OLDMASK as c_int);
    // SAFETY: the calling thread; ast_sched takes the thread lock itself.
    unsafe { f::ast_sched(td.as_ptr(), f::TDA_SIGSUSPEND as c_int) };
    Ok(())
}
