//! Module metadata (sys/module.h): what `MODULE_METADATA`, `MODULE_DEPEND`,
//! `MODULE_VERSION` and `DECLARE_MODULE` emit in C, emitted from Rust.
//!
//! Each metadata record is a `struct mod_metadata` pointed to from the linker set
//! `modmetadata_set`. The kernel linker reads them before it resolves the module's
//! symbols: the module's name and version, and the modules (with version ranges) it
//! needs loaded first.

use crate::bindings::freebsd as f;
use core::ffi::{c_char, c_int, c_void};

/// A `struct mod_metadata`.
#[repr(transparent)]
pub struct ModMetadata(f::mod_metadata);

// SAFETY: the record is immutable and its pointers lead to immutable statics.
unsafe impl Sync for ModMetadata {}

impl ModMetadata {
    /// `ty` is `MDT_DEPEND`, `MDT_MODULE` or `MDT_VERSION`; `cval` a NUL-terminated name.
    pub const fn new(ty: u32, data: *const c_void, cval: *const c_char) -> Self {
        ModMetadata(f::mod_metadata {
            md_version: f::MDT_STRUCT_VERSION as c_int,
            md_type: ty as c_int,
            md_data: data,
            md_cval: cval,
        })
    }
}

/// A `struct mod_depend`: the version range of a module this one needs.
#[repr(transparent)]
pub struct ModDepend(pub f::mod_depend);

/// A `struct mod_version`.
#[repr(transparent)]
pub struct ModVersion(pub f::mod_version);

/// A `moduledata_t`: the module's name and event handler.
#[repr(transparent)]
pub struct ModuleData(f::moduledata);

// SAFETY: immutable: a name, a function and a null private pointer.
unsafe impl Sync for ModuleData {}

/// The type of a module event handler: `(module, MOD_* event, private) -> errno`.
pub type ModEventHandler = unsafe extern "C" fn(f::module_t, c_int, *mut c_void) -> c_int;

impl ModuleData {
    pub const fn new(name: &'static core::ffi::CStr, handler: ModEventHandler) -> Self {
        ModuleData(f::moduledata { name: name.as_ptr(), evhand: Some(handler), priv_: core::ptr::null_mut() })
    }
}

/// `MODULE_KERNEL_MAXVER`: a module built for `__FreeBSD_version` v loads on kernels
/// up to the end of v's major version (`roundup(v, 100000) - 1`).
pub const fn kernel_maxver(v: u32) -> u32 {
    v.div_ceil(100_000) * 100_000 - 1
}

/// `MODULE_METADATA(type, data, cval)`: one metadata record in `modmetadata_set`.
#[macro_export]
macro_rules! module_metadata {
    ($ty:expr, $data:expr, $cval:expr) => {
        const _: () = {
            static METADATA: $crate::kernel::module::ModMetadata = $crate::kernel::module::ModMetadata::new(
                $ty,
                $data as *const _ as *const core::ffi::c_void,
                $cval.as_ptr().cast::<core::ffi::c_char>(),
            );
            // SAFETY: the section name is the linker set the kernel reads module
            // metadata from; the entry is one pointer, as DATA_SET makes.
            #[used]
            #[unsafe(link_section = "set_modmetadata_set")]
            static ENTRY: $crate::kernel::linker_set::SetEntry<$crate::kernel::module::ModMetadata> =
                $crate::kernel::linker_set::SetEntry::new(&METADATA);
        };
    };
}

/// `MODULE_DEPEND(module, dependency, min, preferred, max)`.
#[macro_export]
macro_rules! module_depend {
    ($module:ident, $dep:ident, $min:expr, $pref:expr, $max:expr) => {
        const _: () = {
            static DEPEND: $crate::kernel::module::ModDepend =
                $crate::kernel::module::ModDepend($crate::bindings::freebsd::mod_depend {
                    md_ver_minimum: $min as core::ffi::c_int,
                    md_ver_preferred: $pref as core::ffi::c_int,
                    md_ver_maximum: $max as core::ffi::c_int,
                });
            $crate::module_metadata!(
                $crate::bindings::freebsd::MDT_DEPEND,
                &DEPEND,
                concat!(stringify!($dep), "\0")
            );
        };
    };
}

/// `MODULE_VERSION(module, version)`.
#[macro_export]
macro_rules! module_version {
    ($module:ident, $version:expr) => {
        const _: () = {
            static VERSION: $crate::kernel::module::ModVersion =
                $crate::kernel::module::ModVersion($crate::bindings::freebsd::mod_version {
                    mv_version: $version as core::ffi::c_int,
                });
            $crate::module_metadata!(
                $crate::bindings::freebsd::MDT_VERSION,
                &VERSION,
                concat!(stringify!($module), "\0")
            );
        };
    };
}

/// `DECLARE_MODULE(name, data, subsystem, order)`: the dependency on the kernel
/// (from the headers' `__FreeBSD_version` to the end of that major), the module record,
/// and the sysinit that registers the module and delivers `MOD_LOAD`.
#[macro_export]
macro_rules! declare_module {
    ($name:ident, $data:expr, $sub:expr, $order:expr) => {
        $crate::module_depend!(
            $name,
            kernel,
            $crate::bindings::freebsd::FREEBSD_VERSION,
            $crate::bindings::freebsd::FREEBSD_VERSION,
            $crate::kernel::module::kernel_maxver($crate::bindings::freebsd::FREEBSD_VERSION)
        );
        $crate::module_metadata!(
            $crate::bindings::freebsd::MDT_MODULE,
            $data,
            concat!(stringify!($name), "\0")
        );
        $crate::sysinit!(
            $sub,
            $order,
            $crate::bindings::freebsd::module_register_init,
            $data as *const $crate::kernel::module::ModuleData
        );
    };
}

#[cfg(test)]
mod tests {
    use super::kernel_maxver;

    #[test]
    fn kernel_maxver_is_the_end_of_the_major() {
        assert_eq!(kernel_maxver(1_402_000), 1_499_999);
        assert_eq!(kernel_maxver(1_500_068), 1_599_999);
        // As roundup() in C: a version on a 100000 boundary is its own upper bound.
        assert_eq!(kernel_maxver(1_500_000), 1_499_999);
    }
}
