//! The generated declarations, and the layouts the module relies on, pinned.
//!
//! `freebsd` is bindgen's view of the FreeBSD kernel headers of the selected major
//! (see build.rs for where they come from); `linux` is `linux/aio_abi.h`. bindgen
//! already checks, at compile time, that Rust's layout of every generated struct is the
//! one clang computed from the headers. The assertions below say something else: that
//! the headers still have the layout this module was written and reviewed for. A new
//! header set that moved one of these fails the build here instead of misbehaving in a
//! kernel.

#[allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    dead_code,
    unnecessary_transmutes,
    clippy::all
)]
pub mod freebsd {
    include!(concat!(env!("OUT_DIR"), "/freebsd.rs"));
}

#[allow(non_camel_case_types, non_snake_case, non_upper_case_globals, dead_code, clippy::all)]
pub mod linux {
    include!(concat!(env!("OUT_DIR"), "/linux_aio_abi.rs"));

    /// The header of the ring that `io_setup` maps into the process; its address is
    /// the context id. Not in any UAPI header: the layout is Linux's `struct aio_ring`
    /// (fs/aio.c), which libaio and fio read directly.
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    pub struct aio_ring {
        pub id: core::ffi::c_uint,
        pub nr: core::ffi::c_uint,
        pub head: core::ffi::c_uint,
        pub tail: core::ffi::c_uint,
        pub magic: core::ffi::c_uint,
        pub compat_features: core::ffi::c_uint,
        pub incompat_features: core::ffi::c_uint,
        pub header_length: core::ffi::c_uint,
    }
}

use core::mem::{offset_of, size_of};
use freebsd as f;
use static_assertions::const_assert_eq;

/// The major version these bindings describe.
pub const FREEBSD_MAJOR: u32 = if cfg!(feature = "freebsd14") { 14 } else { 15 };
const_assert_eq!(f::FREEBSD_VERSION / 100_000, FREEBSD_MAJOR);

// Module plumbing (sys/module.h, sys/kernel.h, sys/linker_set.h, sys/malloc.h).
const_assert_eq!(size_of::<f::mod_metadata>(), 24);
const_assert_eq!(offset_of!(f::mod_metadata, md_data), 8);
const_assert_eq!(offset_of!(f::mod_metadata, md_cval), 16);
const_assert_eq!(size_of::<f::mod_depend>(), 12);
const_assert_eq!(size_of::<f::mod_version>(), 4);
const_assert_eq!(size_of::<f::moduledata>(), 24);
// 14.0 and later: the kernel links sysinits through `next`, so they must be writable.
const_assert_eq!(size_of::<f::sysinit>(), 32);
const_assert_eq!(offset_of!(f::sysinit, func), 16);
const_assert_eq!(offset_of!(f::sysinit, udata), 24);
const_assert_eq!(size_of::<f::malloc_type>(), 112);
const_assert_eq!(offset_of!(f::malloc_type, ks_version), 8);
const_assert_eq!(offset_of!(f::malloc_type, ks_shortdesc), 16);
const_assert_eq!(f::MDT_STRUCT_VERSION, 1);

// The system call table and the thread a handler is given.
const_assert_eq!(size_of::<f::sysent>(), 32);
const_assert_eq!(offset_of!(f::sysent, sy_call), 0);
const_assert_eq!(offset_of!(f::sysent, sy_narg), 16);
const_assert_eq!(offset_of!(f::sysent, sy_thrcnt), 28);
const_assert_eq!(size_of::<f::thread>(), if FREEBSD_MAJOR == 14 { 1776 } else { 1824 });
// `td_retval` is `td_uretoff.tdu_retval`: where a handler leaves its result.
const_assert_eq!(offset_of!(f::thread, td_uretoff), if FREEBSD_MAJOR == 14 { 1120 } else { 1168 });
const_assert_eq!(f::M_VERSION, if FREEBSD_MAJOR == 14 { 2020110501 } else { 2024073001 });
const_assert_eq!(f::PRIBIO, if FREEBSD_MAJOR == 14 { 60 } else { 43 });

// Native AIO's user ABI (sys/aio.h, sys/signal.h).
const_assert_eq!(size_of::<f::aiocb>(), 160);
const_assert_eq!(size_of::<f::sigevent>(), 80);
const_assert_eq!(offset_of!(f::aiocb, aio_sigevent), 80);

// kern_fstat's result: only the file type is read (the ino64 layout of FreeBSD 12+).
const_assert_eq!(size_of::<f::stat>(), 224);
const_assert_eq!(offset_of!(f::stat, st_mode), 24);

// Locks and sysctl.
const_assert_eq!(size_of::<f::mtx>(), 32);
const_assert_eq!(size_of::<f::sx>(), 32);
const_assert_eq!(size_of::<f::sysctl_ctx_list>(), 16);

// The Linux AIO ABI (linux/aio_abi.h; fs/aio.c for the ring).
const_assert_eq!(size_of::<linux::iocb>(), 64);
const_assert_eq!(offset_of!(linux::iocb, aio_key), 8);
const_assert_eq!(offset_of!(linux::iocb, aio_rw_flags), 12);
const_assert_eq!(offset_of!(linux::iocb, aio_lio_opcode), 16);
const_assert_eq!(offset_of!(linux::iocb, aio_fildes), 20);
const_assert_eq!(offset_of!(linux::iocb, aio_buf), 24);
const_assert_eq!(offset_of!(linux::iocb, aio_offset), 40);
const_assert_eq!(offset_of!(linux::iocb, aio_flags), 56);
const_assert_eq!(offset_of!(linux::iocb, aio_resfd), 60);
const_assert_eq!(size_of::<linux::io_event>(), 32);
const_assert_eq!(size_of::<linux::aio_ring>(), 32);
