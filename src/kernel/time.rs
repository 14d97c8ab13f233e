//! The monotonic clock: nanouptime(9).

use crate::bindings::freebsd as f;

/// Nanoseconds since boot.
pub fn uptime_ns() -> i64 {
    let mut ts = f::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: nanouptime fills the timespec we own.
    unsafe { f::nanouptime(&mut ts) };
    ts.tv_sec.saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec)
}
