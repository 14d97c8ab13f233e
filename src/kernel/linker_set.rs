//! Entries of FreeBSD linker sets (sys/linker_set.h).
//!
//! A linker set is an array of pointers that the linker gathers from every object into
//! the section `set_<name>`; the kernel linker (`link_elf_obj.c`) finds a module's sets
//! by section name. C adds an entry with `DATA_SET(set, sym)`, or `DATA_WSET` for the
//! sets the kernel writes (`sysinit_set`, `sysuninit_set`). In Rust an entry is a
//! `#[used]` static placed in that section; whether the section is writable follows
//! from the static's type: [`SetEntry`] is read-only, [`WritableSetEntry`] is writable.

use core::cell::UnsafeCell;

/// A read-only linker-set entry (`DATA_SET`): the address of a static.
#[repr(transparent)]
pub struct SetEntry<T>(*const T);

// SAFETY: the entry is an address that never changes; sharing it between threads
// shares nothing else.
unsafe impl<T> Sync for SetEntry<T> {}

impl<T> SetEntry<T> {
    pub const fn new(target: *const T) -> Self {
        SetEntry(target)
    }
}

/// A linker-set entry in a writable section (`DATA_WSET`). Its `UnsafeCell` is what
/// makes the compiler put the section in writable memory; the module itself never
/// writes it.
#[repr(transparent)]
pub struct WritableSetEntry<T>(UnsafeCell<*const T>);

// SAFETY: only the kernel's linker code touches the entry, while it loads or unloads
// the module and holds its own lock; Rust code never reads or writes it.
unsafe impl<T> Sync for WritableSetEntry<T> {}

impl<T> WritableSetEntry<T> {
    pub const fn new(target: *const T) -> Self {
        WritableSetEntry(UnsafeCell::new(target))
    }
}
