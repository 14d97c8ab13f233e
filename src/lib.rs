//! linuxaio: the Linux native AIO system calls (`io_setup`, `io_destroy`, `io_submit`,
//! `io_getevents`, `io_cancel`, `io_pgetevents`) for FreeBSD's Linux emulation, as a
//! kernel module.
//!
//! Where to look:
//! - [`module`]: what the kernel sees of the module: its declaration, dependencies,
//!   malloc type, and the `MOD_LOAD`/`MOD_QUIESCE`/`MOD_UNLOAD` handler.
//! - [`linux_sysent`]: installing the six entries into the Linuxulator's system call
//!   table and restoring the stock ones.
//! - [`syscalls`]: the six entries themselves (one file each), behind [`gate`].
//! - [`context`]: Linux AIO contexts (what io_setup makes), their rings and registry.
//! - [`submit`]: a Linux iocb checked and turned into a native job ([`native`]).
//! - [`events`]: finished jobs reaped and delivered as Linux events, and the waiting.
//! - [`kernel`]: thin, documented wrappers over the FreeBSD kernel interfaces used.
//! - [`bindings`]: the generated FreeBSD and Linux declarations, with their layouts pinned.
//!
//! Kernel-code rules (DESIGN.md point 8): nothing reachable from a system call may
//! panic, user memory is reached only through checked copies, nothing sleeps while a
//! mutex or spin lock is held, and every `unsafe` block says why it is sound.

#![cfg_attr(not(test), no_std)]
// LLVM would otherwise turn `printf("%s\n", s)` into a call of `puts`, which the
// FreeBSD kernel does not have (reference/toolchain.md §4, problem 9).
#![no_builtins]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(not(any(feature = "freebsd14", feature = "freebsd15")))]
compile_error!("select the FreeBSD major: --features freebsd14 or --features freebsd15");
#[cfg(all(feature = "freebsd14", feature = "freebsd15"))]
compile_error!("select only one FreeBSD major");

pub mod bindings;
pub mod context;
pub mod events;
pub mod gate;
pub mod kernel;
pub mod linux_sigset;
pub mod linux_sysent;
pub mod module;
pub mod native;
pub mod submit;
pub mod syscalls;

/// A panic in a kernel module is a kernel panic. Nothing a program controls may reach
/// one (rule 8); this handler exists because `core` requires it, and makes whatever
/// slipped through say where it came from.
#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kernel::print::panic(info)
}
