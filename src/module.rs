//! What the kernel sees of linuxaio: its declaration (name, version, dependencies), its
//! malloc type, its sysctls, and the handler of its module events.
//!
//! Load: find native AIO, check that the six `linux_sysent` slots hold the stock
//! stubs, set up the context registry, add the sysctls, register the exit and exec
//! handlers, install the entries. Unload: refuse while any Linux AIO context exists,
//! then undo all of that in reverse (restoring the slots waits for calls inside).
//! A failed load undoes what it did, and the `MOD_UNLOAD` the kernel sends after a
//! failed `MOD_LOAD` then finds nothing left to undo.
//!
//! Module events run with Giant held; Giant is the one mutex the kernel lets go of
//! when its holder sleeps, so the sleeps below (pause, sx, M_WAITOK allocations inside
//! sysctl_add_oid) are allowed under it.

use crate::bindings::freebsd as f;
use crate::gate;
use crate::context;
use crate::kernel::eventhandler::{self, Tag};
use crate::kernel::module::ModuleData;
use crate::kernel::serialized::KldSerialized;
use crate::kernel::sysctl::{Node, SysctlCtx};
use crate::kernel::{Errno, errno};
use crate::{declare_module, kprintf, linux_sysent, malloc_define, module_depend, module_version};
use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicU8, Ordering};

malloc_define!(pub M_LINUXAIO, c"linuxaio", "Linux AIO contexts and requests.");

static MODULE_DATA: ModuleData = ModuleData::new(c"linuxaio", linuxaio_modevent);

// SI_SUB_EXEC and SI_ORDER_ANY, as linux64 itself: when both are preloaded at boot,
// the Linuxulator's own sysctl nodes and sysvec exist before this runs.
declare_module!(linuxaio, &MODULE_DATA, f::SI_SUB_EXEC, f::SI_ORDER_ANY);
module_version!(linuxaio, 1);
module_depend!(linuxaio, linux64, 1, 1, 1);
module_depend!(linuxaio, linux_common, 1, 1, 1);

unsafe extern "C" {
    /// The `compat.linux` sysctl node (sys/compat/linux/linux_mib.c, linux_common.ko).
    static mut sysctl___compat_linux: f::sysctl_oid;
}

/// The module's sysctls: `compat.linux.aio.*`.
static SYSCTLS: SysctlCtx = SysctlCtx::new();

/// What a load has done so far, so that unload undoes exactly that.
#[derive(Default)]
struct Loaded {
    registry: bool,
    sysctls: bool,
    /// The process_exit and process_exec registrations.
    handlers: Option<(Tag, Tag)>,
    entries: bool,
}

static LOADED: KldSerialized<Loaded> = KldSerialized::new(Loaded { registry: false, sysctls: false, handlers: None, entries: false });

/// Where the module is in its life. The kernel delivers module events under Giant, but
/// Giant is let go whenever a handler sleeps (and load and unload both sleep), so the
/// phase is what keeps a `MOD_UNLOAD` from running while `MOD_LOAD` is still at work,
/// and is what gives one event at a time the state behind [`KldSerialized`].
static PHASE: AtomicU8 = AtomicU8::new(Phase::Unloaded as u8);

#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Unloaded = 0,
    Loading = 1,
    Loaded = 2,
    Unloading = 3,
}

/// Moves from `from` to `to`, or tells that another event is under way.
fn enter(from: Phase, to: Phase) -> Result<(), Errno> {
    PHASE.compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire).map(|_| ()).map_err(|_| Errno::EBUSY)
}

fn set_phase(p: Phase) {
    PHASE.store(p as u8, Ordering::Release);
}

/// The module event handler (`modeventhand_t`).
unsafe extern "C" fn linuxaio_modevent(_module: f::module_t, what: c_int, _arg: *mut c_void) -> c_int {
    let result = match what as f::modeventtype {
        f::MOD_LOAD => load(),
        f::MOD_QUIESCE => quiesce(),
        f::MOD_UNLOAD => unload(),
        f::MOD_SHUTDOWN => Ok(()),
        _ => Err(Errno::EOPNOTSUPP),
    };
    errno::to_return(result)
}

fn load() -> Result<(), Errno> {
    enter(Phase::Unloaded, Phase::Loading)?;
    gate::set_native_aio(native_aio_present());
    if !gate::native_aio() {
        kprintf!("linuxaio: this kernel has no native AIO (module \"aio\"): Linux AIO calls will fail with ENOSYS\n");
    }
    let result = linux_sysent::check_stock().and_then(|()| {
        context::init();
        // SAFETY (LOADED.with, here and below): this thread holds the Loading phase,
        // which makes it the only user of LOADED.
        unsafe { LOADED.with(|l| l.registry = true) };
        add_sysctls()?;
        let exit = eventhandler::register(c"process_exit", on_process_exit as *mut c_void, f::EVENTHANDLER_PRI_FIRST as c_int);
        let exec = eventhandler::register(c"process_exec", on_process_exec as *mut c_void, f::EVENTHANDLER_PRI_FIRST as c_int);
        // SAFETY: as above.
        unsafe { LOADED.with(|l| l.handlers = Some((exit, exec))) };
        // SAFETY: this thread holds the Loading phase; no lock is held.
        unsafe { linux_sysent::install() };
        // SAFETY: as above.
        unsafe { LOADED.with(|l| l.entries = true) };
        Ok(())
    });
    match result {
        Ok(()) => set_phase(Phase::Loaded),
        Err(_) => {
            // Undo what was done; the MOD_UNLOAD the kernel sends after a failed
            // MOD_LOAD then has nothing left to do.
            let undone = undo();
            set_phase(if undone.is_ok() { Phase::Unloaded } else { Phase::Loaded });
        }
    }
    result
}

/// Whether the module may go: no Linux AIO context exists and no other event is at work.
fn quiesce() -> Result<(), Errno> {
    let phase = PHASE.load(Ordering::Acquire);
    if phase != Phase::Loaded as u8 && phase != Phase::Unloaded as u8 {
        return Err(Errno::EBUSY);
    }
    if context::count() != 0 { Err(Errno::EBUSY) } else { Ok(()) }
}

fn unload() -> Result<(), Errno> {
    // After a failed load the phase is already Unloaded: nothing to undo.
    if PHASE.load(Ordering::Acquire) == Phase::Unloaded as u8 {
        return Ok(());
    }
    enter(Phase::Loaded, Phase::Unloading)?;
    let result = quiesce_contexts().and_then(|()| undo());
    set_phase(if result.is_ok() { Phase::Unloaded } else { Phase::Loaded });
    result
}

fn quiesce_contexts() -> Result<(), Errno> {
    if context::count() != 0 { Err(Errno::EBUSY) } else { Ok(()) }
}

/// Undoes whatever `load` did, in reverse order. The caller holds the Loading or
/// Unloading phase.
fn undo() -> Result<(), Errno> {
    // SAFETY (LOADED.with, here and below): the caller's phase makes this thread the
    // only user of LOADED.
    if unsafe { LOADED.with(|l| l.entries) } {
        // SAFETY: the phase is held; no lock is held.
        unsafe { linux_sysent::restore() }?;
        // SAFETY: see above.
        unsafe { LOADED.with(|l| l.entries = false) };
    }
    // SAFETY: see above.
    if let Some((exit, exec)) = unsafe { LOADED.with(|l| l.handlers.take()) } {
        eventhandler::deregister(exit);
        eventhandler::deregister(exec);
    }
    // SAFETY: see above.
    if unsafe { LOADED.with(|l| l.sysctls) } {
        SYSCTLS.free()?;
        // SAFETY: see above.
        unsafe { LOADED.with(|l| l.sysctls = false) };
    }
    // SAFETY: see above.
    if unsafe { LOADED.with(|l| core::mem::take(&mut l.registry)) } {
        // No context exists (quiesce) and no call is inside (restore drained them).
        context::fini();
    }
    Ok(())
}

/// `process_exit`: the process's contexts go with it.
unsafe extern "C" fn on_process_exit(_arg: *mut c_void, p: *mut f::proc_) {
    context::teardown_process(p);
}

/// `process_exec`: the old image's contexts do not survive the exec.
unsafe extern "C" fn on_process_exec(_arg: *mut c_void, p: *mut f::proc_, _imgp: *mut f::image_params) {
    context::teardown_process(p);
}

fn add_sysctls() -> Result<(), Errno> {
    SYSCTLS.init();
    // SAFETY: the caller holds the Loading phase.
    unsafe { LOADED.with(|l| l.sysctls = true) };
    // SAFETY: compat.linux belongs to linux_common, which cannot be unloaded while this
    // module (which depends on it) is loaded.
    let compat_linux = unsafe { Node::from_static(&raw mut sysctl___compat_linux) };
    let aio = SYSCTLS.add_node(compat_linux, c"aio", c"Linux native AIO (linuxaio)")?;
    SYSCTLS.add_int(
        aio,
        c"enable",
        f::CTLFLAG_RWTUN,
        &gate::ENABLE,
        c"Serve the Linux AIO system calls (0: answer ENOSYS as stock FreeBSD)",
    )?;
    SYSCTLS.add_int(
        aio,
        c"max_nr",
        f::CTLFLAG_RWTUN,
        &context::MAX_NR,
        c"Most Linux AIO requests all contexts may ask for (Linux's fs.aio-max-nr)",
    )?;
    SYSCTLS.add_int(aio, c"nr", f::CTLFLAG_RD, &context::NR, c"Linux AIO requests the contexts asked for (Linux's fs.aio-nr)")
}

/// Whether the kernel has the `aio` module (vfs_aio), as `modfind("aio")` would say.
fn native_aio_present() -> bool {
    // SAFETY: modules_sx is the kernel's module list lock; module_lookupbyname requires
    // it held (shared is enough) and only reads the list. No other lock is held here, and
    // sx locks may be taken where sleeping is allowed, which a module event handler is.
    unsafe {
        f::_sx_slock(&raw mut f::modules_sx, 0, c"linuxaio".as_ptr(), 0);
        let found = !f::module_lookupbyname(c"aio".as_ptr()).is_null();
        f::_sx_sunlock(&raw mut f::modules_sx, c"linuxaio".as_ptr(), 0);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_at_a_time_holds_the_phase() {
        assert_eq!(enter(Phase::Unloaded, Phase::Loading), Ok(()));
        // An unload (or a second load) while the load is at work is refused.
        assert_eq!(enter(Phase::Loaded, Phase::Unloading), Err(Errno::EBUSY));
        assert_eq!(enter(Phase::Unloaded, Phase::Loading), Err(Errno::EBUSY));
        assert_eq!(quiesce(), Err(Errno::EBUSY));
        set_phase(Phase::Loaded);
        assert_eq!(quiesce(), Ok(()));
        assert_eq!(enter(Phase::Loaded, Phase::Unloading), Ok(()));
        set_phase(Phase::Unloaded);
    }
}
