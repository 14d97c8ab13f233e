//! Installing the six entries into the Linuxulator's system call table, and restoring
//! the stock ones (DESIGN.md point 6).
//!
//! FreeBSD has no supported interface for replacing a Linux system call:
//! `kern_syscall_register` accepts only free (`lkmnosys`) slots and answers EEXIST for
//! the io_* slots, which hold `DUMMY()` stubs returning ENOSYS. So the module writes the
//! slots of `linux_sysent` itself, with the protocol `kern_syscall_register` uses, and
//! gives them back with `kern_syscall_deregister`, which waits for the calls in flight.
//!
//! At load, for each slot:
//! 1. check that it still holds the stock stub (`SY_THR_STATIC`, the `DUMMY` function);
//!    if another module took it, refuse to load and say so on the console;
//! 2. save it, and mark it `SY_THR_ABSENT` (a new call now gets ENOSYS, as before);
//! 3. after a short grace period for calls that read the old entry (they run the old
//!    stub, which is harmless), write the new handler and argument count;
//! 4. release-store `sy_thrcnt = 0`: from now on calls are counted (`SY_THR_INCR`).
//!
//! At unload `kern_syscall_deregister` sets `SY_THR_DRAINING`, waits until no counted
//! call is inside, and copies the saved stock entry back.

use crate::bindings::freebsd as f;
use crate::kernel::Errno;
use crate::kernel::serialized::KldSerialized;
use crate::kernel::sleep::pause_ms;
use crate::kprintf;
use crate::syscalls::{self, SyCall};
use core::ffi::{CStr, c_int, c_void};
use core::ptr;
use core::sync::atomic::{AtomicU32, Ordering};

// The Linuxulator's table and its stock stubs. linux64.ko and linux_common.ko are
// dependencies of this module (MODULE_DEPEND), so the kernel linker resolves these
// against them; see tests/kldlint/kernel-symbols.allow for where each is defined.
unsafe extern "C" {
    /// `struct sysent linux_sysent[LINUX_SYS_MAXSYSCALL]` (sys/amd64/linux/linux_sysent.c).
    /// Declared without a length; only the constant slot numbers below are touched.
    static mut linux_sysent: [f::sysent; 0];
    fn linux_io_setup(td: *mut f::thread, args: *mut c_void) -> c_int;
    fn linux_io_destroy(td: *mut f::thread, args: *mut c_void) -> c_int;
    fn linux_io_getevents(td: *mut f::thread, args: *mut c_void) -> c_int;
    fn linux_io_submit(td: *mut f::thread, args: *mut c_void) -> c_int;
    fn linux_io_cancel(td: *mut f::thread, args: *mut c_void) -> c_int;
    fn linux_io_pgetevents(td: *mut f::thread, args: *mut c_void) -> c_int;
}

/// One slot of `linux_sysent` the module takes over.
pub struct Slot {
    /// The Linux amd64 system call number (arch/x86/entry/syscalls/syscall_64.tbl).
    pub number: c_int,
    pub name: &'static CStr,
    pub narg: u8,
    pub handler: SyCall,
    /// What stock FreeBSD has in the slot: a `DUMMY()` stub returning ENOSYS.
    stock: SyCall,
}

/// The six slots, in system call number order.
pub static SLOTS: [Slot; 6] = [
    Slot { number: 206, name: c"io_setup", narg: syscalls::io_setup::NARG, handler: syscalls::io_setup::entry, stock: linux_io_setup },
    Slot { number: 207, name: c"io_destroy", narg: syscalls::io_destroy::NARG, handler: syscalls::io_destroy::entry, stock: linux_io_destroy },
    Slot { number: 208, name: c"io_getevents", narg: syscalls::io_getevents::NARG, handler: syscalls::io_getevents::entry, stock: linux_io_getevents },
    Slot { number: 209, name: c"io_submit", narg: syscalls::io_submit::NARG, handler: syscalls::io_submit::entry, stock: linux_io_submit },
    Slot { number: 210, name: c"io_cancel", narg: syscalls::io_cancel::NARG, handler: syscalls::io_cancel::entry, stock: linux_io_cancel },
    Slot { number: 333, name: c"io_pgetevents", narg: syscalls::io_pgetevents::NARG, handler: syscalls::io_pgetevents::entry, stock: linux_io_pgetevents },
];

/// The stock entry of each slot the module has installed over; `None` where the slot
/// is untouched. This is what makes an unload after a partial load safe: only what
/// was installed is restored.
static SAVED: KldSerialized<[Option<f::sysent>; 6]> = KldSerialized::new([None; 6]);

fn table() -> *mut f::sysent {
    (&raw mut linux_sysent).cast::<f::sysent>()
}

fn entry_ptr(slot: &Slot) -> *mut f::sysent {
    // Address arithmetic only. The slot numbers are constants below the table's length
    // (LINUX_SYS_MAXSYSCALL is above 333 in every 14.x and 15.x).
    table().wrapping_add(slot.number as usize)
}

fn thrcnt(slot: &Slot) -> &'static AtomicU32 {
    // SAFETY: `sy_thrcnt` is an aligned u32 inside linux_sysent, which lives as long as
    // linux64.ko, itself pinned by our dependency on it. The kernel accesses it with
    // atomic operations too (syscall_thread_enter/exit).
    unsafe { AtomicU32::from_ptr(&raw mut (*entry_ptr(slot)).sy_thrcnt) }
}

fn same_fn(a: Option<SyCall>, b: SyCall) -> bool {
    a.is_some_and(|a| a as usize == b as usize)
}

/// Checks that every slot still holds the stock stub. A module that took one before
/// us would have its entry silently replaced otherwise.
pub fn check_stock() -> Result<(), Errno> {
    let mut taken = 0;
    for slot in &SLOTS {
        // SAFETY: see entry_ptr; a volatile read of a table another module may write.
        let cur = unsafe { ptr::read_volatile(entry_ptr(slot)) };
        if !same_fn(cur.sy_call, slot.stock) || cur.sy_thrcnt != f::SY_THR_STATIC {
            kprintf!(
                "linuxaio: linux_sysent[%d] (%s) does not hold FreeBSD's stock entry: another module has replaced it\n",
                slot.number,
                slot.name.as_ptr()
            );
            taken += 1;
        }
    }
    if taken == 0 { Ok(()) } else { Err(Errno::EEXIST) }
}

/// Installs the six entries.
///
/// # Safety
/// Called by the module event holding the Loading phase (module.rs), after
/// `check_stock` succeeded, with no lock but Giant held (it sleeps).
pub unsafe fn install() {
    // SAFETY: the caller holds the module phase (the contract above).
    unsafe {
        SAVED.with(|saved| {
            for (slot, saved) in SLOTS.iter().zip(saved.iter_mut()) {
                *saved = Some(ptr::read_volatile(entry_ptr(slot)));
                thrcnt(slot).store(f::SY_THR_ABSENT, Ordering::Release);
            }
        })
    };
    // Grace period: a thread that read the old STATIC flag may be about to load
    // `sy_call`; let it load the old stub before the handler changes.
    pause_ms(c"linuxaio", 10);
    for slot in &SLOTS {
        let entry = entry_ptr(slot);
        // SAFETY: the slot is ABSENT, so syscallenter substitutes nosys for it and no
        // new call reads these fields until the release store below publishes them.
        unsafe {
            ptr::write_volatile(&raw mut (*entry).sy_call, Some(slot.handler));
            ptr::write_volatile(&raw mut (*entry).sy_narg, slot.narg);
            ptr::write_volatile(&raw mut (*entry).sy_flags, 0);
        }
        thrcnt(slot).store(0, Ordering::Release);
    }
}

/// Gives every installed slot its stock entry back, waiting for the calls inside.
/// A slot the kernel refuses to restore stays installed, and the error is returned:
/// the module must then stay loaded.
///
/// # Safety
/// Called by the module event holding the Loading or Unloading phase (module.rs),
/// with no lock but Giant held (it sleeps).
pub unsafe fn restore() -> Result<(), Errno> {
    // SAFETY: the caller holds the module phase (the contract above).
    let result = unsafe {
        SAVED.with(|saved| {
            let mut result = Ok(());
            for (slot, saved) in SLOTS.iter().zip(saved.iter_mut()) {
                let Some(stock) = saved.as_ref() else { continue };
                // SAFETY: the table pointer is linux_sysent; `stock` is the entry saved
                // from this very slot. The call drains counted calls, then copies it back.
                let err = f::kern_syscall_deregister(table(), slot.number, stock);
                match crate::kernel::errno::check(err) {
                    Ok(()) => *saved = None,
                    Err(e) => {
                        kprintf!("linuxaio: cannot restore linux_sysent[%d] (%s): error %d\n", slot.number, slot.name.as_ptr(), e.to_raw());
                        result = Err(e);
                    }
                }
            }
            result
        })
    };
    // Calls that entered uncounted while the slots were being installed. Once every
    // slot is restored no new call can enter, so this ends.
    if result.is_ok() {
        while syscalls::in_flight() != 0 {
            pause_ms(c"linuxaio", 10);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::SLOTS;

    #[test]
    fn slots_are_the_linux_amd64_numbers_with_their_argument_counts() {
        let got: Vec<(i32, &str, u8)> = SLOTS.iter().map(|s| (s.number, s.name.to_str().unwrap(), s.narg)).collect(); // ok: test
        assert_eq!(
            got,
            [
                (206, "io_setup", 2),
                (207, "io_destroy", 1),
                (208, "io_getevents", 5),
                (209, "io_submit", 3),
                (210, "io_cancel", 3),
                (333, "io_pgetevents", 6),
            ]
        );
    }
}
