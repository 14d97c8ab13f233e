//! State touched only from module event handlers.

use core::cell::UnsafeCell;

/// Data that only the module's load and unload code reads and writes, one event at a
/// time. The kernel delivers module events under Giant, but lets Giant go while a
/// handler sleeps; the module's own phase (module.rs) makes the events exclusive, which
/// is what makes a plain cell safe here, as a `static` variable is in a C module.
/// Nothing reachable from a system call may use it.
pub struct KldSerialized<T>(UnsafeCell<T>);

// SAFETY: every access goes through `with`, whose contract is that the caller is the
// one module event that holds the module's phase, so no two run at once. Different
// events may run on different threads, one after the other; the data held here (kernel
// pointers, saved table entries) does not belong to any one thread.
unsafe impl<T> Sync for KldSerialized<T> {}

impl<T> KldSerialized<T> {
    pub const fn new(value: T) -> Self {
        KldSerialized(UnsafeCell::new(value))
    }

    /// Runs `f` on the data.
    ///
    /// # Safety
    /// The caller is the module event that holds the module's Loading or Unloading
    /// phase (module.rs), and `f` does not call `with` on the same cell again.
    pub unsafe fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: by the contract above no other reference to the data exists now.
        f(unsafe { &mut *self.0.get() })
    }

    /// The data's address, for C interfaces that keep a pointer to it (a sysctl
    /// context list links to itself).
    pub const fn as_ptr(&self) -> *mut T {
        self.0.get()
    }
}
