//! Modules (sys/kern/kern_module.c) and the list of module versions the kernel linker
//! checks dependencies against (kern_linker.c's `found_modules`).
//!
//! The kernel has the modules `kernel` (version `__FreeBSD_version`) and, unless taken
//! away by the configuration, `aio` (native AIO, built in), `linux64`, `linux64elf` and
//! `linux_common`.

use super::lock;
use crate::arena::arena;
use crate::freebsd::common as f;
use crate::kernel::{Config, console_print, violation};
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A module event handler.
pub type EventHandler = unsafe extern "C" fn(*mut f::module, c_int, *mut c_void) -> c_int;

#[derive(Clone, Debug)]
pub struct Module {
    pub name: String,
    /// The linker file that brought it (`None`: part of the kernel).
    pub file: Option<u64>,
    evhand: Option<EventHandler>,
    private: usize,
    /// The `module_t` handed to the handler: an address in the kernel range.
    handle: usize,
    pub loaded: bool,
}

/// A `MODULE_VERSION` the linker knows: (name, version, file).
#[derive(Clone, Debug)]
pub struct Version {
    pub name: String,
    pub version: i32,
    pub file: Option<u64>,
}

#[derive(Default)]
struct Registry {
    modules: Vec<Module>,
    versions: Vec<Version>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);
static MODULES_SX: AtomicUsize = AtomicUsize::new(0);

fn with<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    let mut r = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    f(r.get_or_insert_with(Registry::default))
}

fn handle() -> usize {
    arena().alloc(16, 16).map(|p| p.as_ptr() as usize).unwrap_or(0)
}

pub fn reset(config: &Config) {
    if MODULES_SX.load(Ordering::Acquire) == 0 {
        let sx = arena().alloc(std::mem::size_of::<f::sx>(), 16).map(|p| p.as_ptr() as usize).unwrap_or(0);
        MODULES_SX.store(sx, Ordering::Release);
    }
    lock::init(modules_sx(), lock::Kind::Sx, "module subsystem sx lock");
    let mut builtin = vec![("kernel", config.major.freebsd_version as i32)];
    if config.native_aio {
        builtin.push(("aio", 1));
    }
    if config.linux64 {
        builtin.extend([("linux64", 1), ("linux64elf", 1), ("linux_common", 1)]);
    }
    with(|r| {
        *r = Registry::default();
        for (name, version) in builtin {
            r.modules.push(Module { name: name.into(), file: None, evhand: None, private: 0, handle: handle(), loaded: true });
            r.versions.push(Version { name: name.into(), version, file: None });
        }
    });
}

/// `modules_sx`, the module list lock.
pub fn modules_sx() -> usize {
    MODULES_SX.load(Ordering::Acquire)
}

/// kern_linker.c's `modlist_lookup2`: the version of `name` that satisfies
/// `[min, max]`, preferring `preferred`.
pub fn lookup_version(name: &str, min: i32, preferred: i32, max: i32) -> Option<Version> {
    with(|r| {
        let candidates = r.versions.iter().filter(|v| v.name == name);
        let mut best: Option<&Version> = None;
        for v in candidates {
            if v.version == preferred {
                return Some(v.clone());
            }
            if v.version >= min && v.version <= max && best.is_none_or(|b| v.version > b.version) {
                best = Some(v);
            }
        }
        best.cloned()
    })
}

pub fn version_present(name: &str, file_other_than: u64) -> Option<Version> {
    with(|r| r.versions.iter().find(|v| v.name == name && v.file != Some(file_other_than)).cloned())
}

pub fn add_version(v: Version) {
    with(|r| r.versions.push(v));
}

/// `module_register`: a module a file declares (MDT_MODULE), before its MOD_LOAD.
pub fn register(file: u64, data: *const f::moduledata) -> Result<(), String> {
    // SAFETY: the loader passes the moduledata of an MDT_MODULE record of a loaded file.
    let md = unsafe { &*data };
    // SAFETY: a moduledata's name is a NUL-terminated string in the module.
    let name = unsafe { CStr::from_ptr(md.name) }.to_string_lossy().into_owned();
    with(|r| {
        if r.modules.iter().any(|m| m.name == name) {
            return Err(format!("module_register: cannot register {name}: already loaded"));
        }
        r.modules.push(Module { name, file: Some(file), evhand: md.evhand, private: md.priv_ as usize, handle: handle(), loaded: false });
        Ok(())
    })
}

/// The modules a file brought, most recently loaded first (the order unload uses).
pub fn modules_of(file: u64) -> Vec<Module> {
    with(|r| r.modules.iter().rev().filter(|m| m.file == Some(file)).cloned().collect())
}

/// Removes everything a file brought (its modules and versions).
pub fn forget_file(file: u64) {
    with(|r| {
        r.modules.retain(|m| m.file != Some(file));
        r.versions.retain(|v| v.file != Some(file));
    });
}

fn release(name: &str) {
    with(|r| r.modules.retain(|m| m.name != name));
}

/// Sends `what` to a module's handler, with Giant held as kern_module.c does.
pub fn event(m: &Module, what: c_int) -> c_int {
    let Some(h) = m.evhand else {
        // modevent_nop: LOAD succeeds, UNLOAD is refused, the rest unsupported.
        return match what as u32 {
            f::MOD_LOAD => 0,
            f::MOD_UNLOAD => f::EBUSY as c_int,
            _ => f::EOPNOTSUPP as c_int,
        };
    };
    lock::giant_enter();
    // SAFETY: the handler is the module's own, called as the kernel calls it.
    let e = unsafe { h(m.handle as *mut f::module, what, m.private as *mut c_void) };
    lock::giant_exit();
    e
}

/// The sysinit `DECLARE_MODULE` makes: delivers MOD_LOAD.
pub unsafe extern "C" fn module_register_init(data: *const c_void) {
    let md = data.cast::<f::moduledata>();
    // SAFETY: the sysinit's udata is the module's moduledata.
    let name = unsafe { CStr::from_ptr((*md).name) }.to_string_lossy().into_owned();
    let Some(m) = with(|r| r.modules.iter().find(|m| m.name == name).cloned()) else {
        console_print(&format!("module_register_init: module {name} not found"));
        return;
    };
    let error = event(&m, f::MOD_LOAD as c_int);
    if error != 0 {
        event(&m, f::MOD_UNLOAD as c_int);
        release(&name);
        console_print(&format!(
            "module_register_init: MOD_LOAD ({name}, {:#x}, {:#x}) error {error}",
            m.evhand.map_or(0, |h| h as usize),
            m.private
        ));
        return;
    }
    with(|r| {
        if let Some(m) = r.modules.iter_mut().find(|m| m.name == name) {
            m.loaded = true;
        }
    });
}

pub unsafe extern "C" fn module_lookupbyname(name: *const c_char) -> *mut f::module {
    if !lock::held(modules_sx()) {
        violation("module_lookupbyname without modules_sx held (MOD_LOCK_ASSERT)".into());
    }
    // SAFETY: the caller passes a NUL-terminated name.
    let name = unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned();
    with(|r| r.modules.iter().find(|m| m.name == name).map_or(std::ptr::null_mut(), |m| m.handle as *mut f::module))
}

/// `module_quiesce` and `module_unload` for every module of a file, as
/// `linker_file_unload` does: all quiesced first (an error stops it unless forced),
/// then each unloaded (an error stops it even when forced).
pub fn unload_file_modules(file: u64, force: bool) -> Result<(), c_int> {
    let modules = modules_of(file);
    for m in modules.iter().filter(|m| m.loaded) {
        let e = event(m, f::MOD_QUIESCE as c_int);
        if e != 0 && e != f::EOPNOTSUPP as c_int && e != f::EINVAL as c_int && !force {
            return Err(e);
        }
    }
    for m in modules.iter().filter(|m| m.loaded) {
        let e = event(m, f::MOD_UNLOAD as c_int);
        if e != 0 {
            return Err(e);
        }
        release(&m.name);
    }
    Ok(())
}
