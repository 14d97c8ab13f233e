//! malloc(9) types: `MALLOC_DEFINE` (sys/malloc.h).
//!
//! A module's own malloc type makes its memory visible in `vmstat -m` under its name,
//! and lets the kernel (and the test bed) tell at unload whether it freed everything.

use crate::bindings::freebsd as f;
use core::cell::UnsafeCell;
use core::ffi::CStr;

/// A `struct malloc_type`. The kernel writes it (`malloc_init` links it into the list
/// of types and sets up its statistics), so it lives in writable memory.
#[repr(transparent)]
pub struct MallocType(UnsafeCell<f::malloc_type>);

// SAFETY: after construction only the kernel writes the record, with its own locking
// (malloc_init/malloc_uninit at load and unload, per-CPU statistics in malloc/free).
unsafe impl Sync for MallocType {}

impl MallocType {
    /// `shortdesc` is the name `vmstat -m` shows. `ks_version` is the `M_VERSION` of the
    /// headers, which malloc_init compares with the running kernel's.
    pub const fn new(shortdesc: &'static CStr) -> Self {
        // SAFETY: `struct malloc_type` is plain C data for which all-zero is the
        // initial state MALLOC_DEFINE gives it (null link, zeroed internals).
        let mut t: f::malloc_type = unsafe { core::mem::zeroed() };
        t.ks_version = f::M_VERSION as core::ffi::c_ulong;
        t.ks_shortdesc = shortdesc.as_ptr();
        MallocType(UnsafeCell::new(t))
    }

    /// The address the kernel's malloc(9)/free(9) take.
    pub const fn as_ptr(&self) -> *mut f::malloc_type {
        self.0.get()
    }
}

/// `MALLOC_DEFINE(type, shortdesc, longdesc)`: a malloc type, registered by a sysinit
/// at `SI_SUB_KMEM` and deregistered at unload.
#[macro_export]
macro_rules! malloc_define {
    ($(#[$attr:meta])* $vis:vis $name:ident, $shortdesc:literal, $longdesc:literal) => {
        $(#[$attr])*
        #[doc = $longdesc]
        $vis static $name: $crate::kernel::malloc::MallocType = $crate::kernel::malloc::MallocType::new($shortdesc);
        $crate::sysinit!(
            $crate::bindings::freebsd::SI_SUB_KMEM,
            $crate::bindings::freebsd::SI_ORDER_THIRD,
            $crate::kernel::sysinit::from_mut_arg($crate::bindings::freebsd::malloc_init),
            $name.as_ptr()
        );
        $crate::sysuninit!(
            $crate::bindings::freebsd::SI_SUB_KMEM,
            $crate::bindings::freebsd::SI_ORDER_ANY,
            $crate::kernel::sysinit::from_mut_arg($crate::bindings::freebsd::malloc_uninit),
            $name.as_ptr()
        );
    };
}
