//! kldhost: the test bed. It loads a FreeBSD amd64 kernel module (`.ko`) into a Linux
//! process the way FreeBSD's kernel linker (`sys/kern/link_elf_obj.c`) would, and plays
//! the FreeBSD kernel around it: every kernel function or variable the module imports
//! is implemented here with FreeBSD's documented semantics (the "KPI model").
//!
//! - [`arena`]: the kernel address range (low 2 GiB, as the kernel code model needs).
//! - [`loader`]: ELF ET_REL loading, relocation, module metadata and dependency
//!   checks, sysinits, module events, unload.
//! - [`kpi`]: the KPI model (malloc(9), modules, locks with WITNESS-style checks,
//!   sleep, printf, sysctl, system call registration).
//! - [`linuxulator`]: `linux_sysent` with stock-like ENOSYS stubs, the `syscallenter`
//!   counting protocol, and the FreeBSD → Linux errno translation.
//! - [`kernel`]: one simulated kernel's configuration (FreeBSD major, which modules
//!   exist) and its console.
//! - [`kstack`]: kernel stacks: module code called by the model runs on a bounded
//!   stack in the kernel range, as on FreeBSD.

#![feature(c_variadic)]

pub mod arena;
pub mod freebsd;
pub mod kernel;
pub mod kpi;
pub mod kstack;
pub mod linuxulator;
pub mod loader;
pub mod session;
