//! `SYSINIT` and `SYSUNINIT` (sys/kernel.h): functions the kernel calls when the module
//! is loaded, and when it is unloaded, in (subsystem, order) order.

use crate::bindings::freebsd as f;
use core::cell::UnsafeCell;
use core::ffi::c_void;

/// A `struct sysinit`. Since FreeBSD 14.0 the kernel links these through their `next`
/// field while it runs them, so they live in writable memory (the `UnsafeCell`).
#[repr(transparent)]
pub struct Sysinit(UnsafeCell<f::sysinit>);

// SAFETY: only the kernel writes the record (its `next` link), under its own lock,
// while it loads or unloads the module; Rust code never touches it after building it.
unsafe impl Sync for Sysinit {}

/// A sysinit function: `void (*)(const void *udata)`.
pub type SysinitFn = unsafe extern "C" fn(*const c_void);

impl Sysinit {
    pub const fn new(subsystem: u32, order: u32, func: SysinitFn, udata: *const c_void) -> Self {
        Sysinit(UnsafeCell::new(f::sysinit {
            subsystem,
            order,
            next: f::sysinit__bindgen_ty_1 { stqe_next: core::ptr::null_mut() },
            func: Some(func),
            udata,
        }))
    }
}

/// A sysinit function declared with a `void *` argument (malloc_init, malloc_uninit),
/// as a [`SysinitFn`]; C's `SYSINIT` casts the same way.
pub const fn from_mut_arg(func: unsafe extern "C" fn(*mut c_void)) -> SysinitFn {
    // SAFETY: the two types differ only in the constness of one pointer argument,
    // which the C ABI does not see.
    unsafe { core::mem::transmute::<unsafe extern "C" fn(*mut c_void), SysinitFn>(func) }
}

/// `SYSINIT(subsystem, order, func, udata)`: `func(udata)` runs at load time.
#[macro_export]
macro_rules! sysinit {
    ($sub:expr, $order:expr, $func:expr, $udata:expr) => {
        $crate::sysinit!(@set "set_sysinit_set", $sub, $order, $func, $udata);
    };
    (@set $section:literal, $sub:expr, $order:expr, $func:expr, $udata:expr) => {
        const _: () = {
            static SYSINIT: $crate::kernel::sysinit::Sysinit = $crate::kernel::sysinit::Sysinit::new(
                $sub as u32,
                $order as u32,
                $func,
                $udata as *const core::ffi::c_void,
            );
            // SAFETY: the section is the linker set the kernel runs sysinits from; the
            // entry is one pointer, in writable memory as DATA_WSET makes it.
            #[used]
            #[unsafe(link_section = $section)]
            static ENTRY: $crate::kernel::linker_set::WritableSetEntry<$crate::kernel::sysinit::Sysinit> =
                $crate::kernel::linker_set::WritableSetEntry::new(&raw const SYSINIT);
        };
    };
}

/// `SYSUNINIT(subsystem, order, func, udata)`: `func(udata)` runs at unload time.
#[macro_export]
macro_rules! sysuninit {
    ($sub:expr, $order:expr, $func:expr, $udata:expr) => {
        $crate::sysinit!(@set "set_sysuninit_set", $sub, $order, $func, $udata);
    };
}
