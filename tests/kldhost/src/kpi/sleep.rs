//! pause(9): sleeping, which is forbidden while a mutex is held.

use super::lock;
use crate::freebsd::common as f;
use crate::kernel::violation;
use std::ffi::{CStr, c_char, c_int};

/// `C_CATCH` (sys/callout.h): the sleep may be interrupted by a signal.
const C_CATCH: c_int = 0x0800;

pub unsafe extern "C" fn pause_sbt(wmesg: *const c_char, sbt: f::sbintime_t, _pr: f::sbintime_t, flags: c_int) -> c_int {
    if let Some(m) = lock::sleep_forbidden() {
        // SAFETY: the caller passes a NUL-terminated wait message.
        let what = if wmesg.is_null() { "?".into() } else { unsafe { CStr::from_ptr(wmesg) }.to_string_lossy().into_owned() };
        violation(format!("sleeping (pause \"{what}\") with non-sleepable lock {m} held"));
    }
    // sbintime_t is 32.32 fixed-point seconds.
    let nanos = (i128::from(sbt.max(0)) * 1_000_000_000) >> 32;
    std::thread::sleep(std::time::Duration::from_nanos(nanos.min(10_000_000_000) as u64));
    let _ = flags & C_CATCH;
    f::EWOULDBLOCK as c_int
}
