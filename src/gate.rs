//! Whether the module answers at all (DESIGN.md point 7).
//!
//! When native AIO is missing from the kernel, or the administrator sets
//! `compat.linux.aio.enable=0`, every entry returns ENOSYS, as stock FreeBSD does, and
//! nothing else happens: a program sees exactly the stock behaviour.

use crate::kernel::Errno;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// `compat.linux.aio.enable` (RWTUN): 1 serves the system calls, 0 answers ENOSYS.
pub static ENABLE: AtomicI32 = AtomicI32::new(1);

/// Whether the kernel has native AIO (the `aio` module), found at load.
static NATIVE_AIO: AtomicBool = AtomicBool::new(false);

pub fn set_native_aio(present: bool) {
    NATIVE_AIO.store(present, Ordering::Relaxed);
}

pub fn native_aio() -> bool {
    NATIVE_AIO.load(Ordering::Relaxed)
}

/// `Ok` when the entries may serve the call, ENOSYS otherwise.
pub fn check() -> Result<(), Errno> {
    if ENABLE.load(Ordering::Relaxed) != 0 && native_aio() { Ok(()) } else { Err(Errno::ENOSYS) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_enosys_unless_enabled_and_native_aio_is_there() {
        set_native_aio(false);
        ENABLE.store(1, Ordering::Relaxed);
        assert_eq!(check(), Err(Errno::ENOSYS), "no native AIO");
        set_native_aio(true);
        assert_eq!(check(), Ok(()));
        ENABLE.store(0, Ordering::Relaxed);
        assert_eq!(check(), Err(Errno::ENOSYS), "compat.linux.aio.enable=0");
        ENABLE.store(1, Ordering::Relaxed);
    }
}
