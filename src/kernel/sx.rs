//! sx(9): a sleepable shared/exclusive lock in static storage. Holding it, a thread may
//! sleep (copyin, M_WAITOK); it must not be taken while a mutex is held.

use crate::bindings::freebsd as f;
use core::cell::UnsafeCell;
use core::ffi::CStr;

pub struct Sx(UnsafeCell<f::sx>);

// SAFETY: the kernel's sx functions synchronise all access to the lock word.
unsafe impl Sync for Sx {}

impl Sx {
    pub const fn new() -> Sx {
        // SAFETY: all-zero is the state of a struct sx before sx_init (static storage).
        Sx(UnsafeCell::new(unsafe { core::mem::zeroed() }))
    }

    /// sx_init. Called once, before any other use (at load).
    pub fn init(&self, name: &'static CStr) {
        // SAFETY: initialises the lock in its static storage; `name` outlives it.
        unsafe { f::sx_init_flags(self.0.get(), name.as_ptr(), 0) };
    }

    /// sx_destroy. Called once, when no one can use the lock any more (at unload).
    pub fn destroy(&self) {
        // SAFETY: the lock was initialised and is not held (the caller's contract).
        unsafe { f::sx_destroy(self.0.get()) };
    }

    pub fn exclusive(&self) -> SxGuard<'_> {
        // SAFETY: an initialised sx; the guard releases it.
        unsafe { f::_sx_xlock(self.0.get(), 0, c"linuxaio".as_ptr(), 0) };
        SxGuard { sx: self, shared: false }
    }

    pub fn shared(&self) -> SxGuard<'_> {
        // SAFETY: as above.
        unsafe { f::_sx_slock(self.0.get(), 0, c"linuxaio".as_ptr(), 0) };
        SxGuard { sx: self, shared: true }
    }
}

impl Default for Sx {
    fn default() -> Self {
        Self::new()
    }
}

pub struct SxGuard<'a> {
    sx: &'a Sx,
    shared: bool,
}

impl Drop for SxGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: this guard took the lock in the mode it releases.
        unsafe {
            if self.shared {
                f::_sx_sunlock(self.sx.0.get(), c"linuxaio".as_ptr(), 0);
            } else {
                f::_sx_xunlock(self.sx.0.get(), c"linuxaio".as_ptr(), 0);
            }
        }
    }
}
