//! Thin wrappers over the FreeBSD kernel interfaces the module uses, in the manner of
//! the Linux kernel's `rust/kernel`: each type owns one C object, each `unsafe` block
//! says why it is sound, and errors are values ([`Errno`]).
//!
//! The C macros a FreeBSD reader knows (`DECLARE_MODULE`, `MODULE_VERSION`,
//! `MODULE_DEPEND`, `SYSINIT`, `MALLOC_DEFINE`) have Rust macros of the same name and
//! meaning in [`module`], [`sysinit`] and [`malloc`].

pub mod errno;
pub mod eventhandler;
pub mod kbox;
pub mod linker_set;
pub mod malloc;
pub mod module;
pub mod print;
pub mod serialized;
pub mod signal;
pub mod sleep;
pub mod sx;
pub mod sysctl;
pub mod sysinit;
pub mod thread;
pub mod time;
pub mod user;
pub mod vm;

pub use errno::Errno;
