//! Sleeping for a while: pause(9).

use crate::bindings::freebsd as f;
use core::ffi::CStr;

/// One millisecond in `sbintime_t`, the kernel's 32.32 fixed-point seconds
/// (`SBT_1MS` in sys/time.h).
const SBT_1MS: f::sbintime_t = (1 << 32) / 1000;

/// Sleeps for `ms` milliseconds, not interruptible by signals. It sleeps, so the caller
/// must hold no mutex or spin lock (rule 8).
pub fn pause_ms(wmesg: &'static CStr, ms: u32) {
    let sbt = SBT_1MS.saturating_mul(f::sbintime_t::from(ms));
    // SAFETY: `wmesg` is a NUL-terminated string that outlives the sleep (it is
    // 'static); pause_sbt with flags 0 only sleeps and returns.
    unsafe {
        f::pause_sbt(wmesg.as_ptr(), sbt, 0, 0);
    }
}

/// Sleeps for `ms` milliseconds or until a signal arrives (C_CATCH): EINTR for a
/// signal (ERESTART too: the caller's call must not be restarted).
pub fn pause_interruptible_ms(wmesg: &'static CStr, ms: u32) -> Result<(), crate::kernel::Errno> {
    let sbt = SBT_1MS.saturating_mul(f::sbintime_t::from(ms));
    // SAFETY: as in pause_ms; C_CATCH makes the sleep end on a signal.
    let e = unsafe { f::pause_sbt(wmesg.as_ptr(), sbt, 0, f::C_CATCH as core::ffi::c_int) };
    if e == f::ERESTART || e == f::EINTR as core::ffi::c_int { Err(crate::kernel::Errno::EINTR) } else { Ok(()) }
}
