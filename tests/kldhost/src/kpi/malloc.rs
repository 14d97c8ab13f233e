//! malloc(9) with per-type accounting, and the INVARIANTS checks: a type must be
//! initialised (with the running kernel's `M_VERSION`) before use, exactly one of
//! M_WAITOK and M_NOWAIT is given, M_WAITOK only where sleeping is allowed, `free`
//! gets the type the memory was allocated with and memory that is allocated, and a type
//! is deregistered with nothing left allocated.

use super::lock;
use crate::arena::arena;
use crate::freebsd::common as f;
use crate::kernel::{config, console_print, violation};
use std::collections::HashMap;
use std::ffi::{CStr, c_int, c_ulong, c_void};
use std::ptr::NonNull;
use std::sync::Mutex;

const M_NOWAIT: c_int = f::M_NOWAIT as c_int;
const M_WAITOK: c_int = f::M_WAITOK as c_int;
const M_ZERO: c_int = f::M_ZERO as c_int;
/// What INVARIANTS kernels fill fresh memory with when M_ZERO is not asked for.
const JUNK: u32 = 0xdead_c0de;
const ALIGN: usize = 16;

#[derive(Clone, Debug, Default)]
pub struct TypeStats {
    pub name: String,
    /// Bytes allocated now, and allocations now.
    pub bytes: usize,
    pub count: usize,
    pub registered: bool,
}

#[derive(Default)]
struct State {
    /// By the address of the `struct malloc_type`.
    types: HashMap<usize, TypeStats>,
    /// Live allocations: address -> (size, type).
    live: HashMap<usize, (usize, usize)>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    let mut s = STATE.lock().unwrap_or_else(|e| e.into_inner());
    f(s.get_or_insert_with(State::default))
}

pub fn reset() {
    let live: Vec<(usize, usize)> = with(|s| s.live.iter().map(|(&a, &(n, _))| (a, n)).collect());
    for (addr, size) in live {
        if let Some(p) = NonNull::new(addr as *mut u8) {
            // SAFETY: the allocation came from the arena with this size and alignment.
            unsafe { arena().free(p, size, ALIGN) };
        }
    }
    if let Ok(mut s) = STATE.lock() {
        *s = Some(State::default());
    }
}

/// Accounting of every malloc type the kernel has seen.
pub fn types() -> Vec<TypeStats> {
    with(|s| s.types.values().cloned().collect())
}

/// Bytes still allocated with the type named `name`.
pub fn bytes_of(name: &str) -> usize {
    with(|s| s.types.values().filter(|t| t.name == name).map(|t| t.bytes).sum())
}

fn type_name(mtp: *const f::malloc_type) -> String {
    // SAFETY: a registered type's shortdesc is a NUL-terminated string in the module.
    unsafe { mtp.as_ref().filter(|t| !t.ks_shortdesc.is_null()).map(|t| CStr::from_ptr(t.ks_shortdesc).to_string_lossy().into_owned()) }
        .unwrap_or_else(|| "?".into())
}

pub unsafe extern "C" fn malloc(size: usize, mtp: *mut f::malloc_type, flags: c_int) -> *mut c_void {
    let registered = with(|s| s.types.get(&(mtp as usize)).is_some_and(|t| t.registered));
    if !registered {
        violation(format!("malloc: type {} ({mtp:p}) is not initialised", type_name(mtp)));
    }
    if (flags & M_WAITOK != 0) == (flags & M_NOWAIT != 0) {
        violation(format!("malloc({size}, {}): one and only one of M_WAITOK and M_NOWAIT", type_name(mtp)));
    }
    if flags & M_WAITOK != 0
        && let Some(m) = lock::sleep_forbidden()
    {
        violation(format!("malloc(M_WAITOK) may sleep with non-sleepable lock {m} held"));
    }
    let Some(p) = arena().alloc(size, ALIGN) else {
        if flags & M_WAITOK != 0 {
            violation("malloc(M_WAITOK) cannot be satisfied: the kernel range is exhausted".into());
        }
        return std::ptr::null_mut();
    };
    if flags & M_ZERO == 0 {
        for i in 0..size / 4 {
            // SAFETY: within the `size` bytes just allocated.
            unsafe { p.as_ptr().cast::<u32>().add(i).write_unaligned(JUNK) };
        }
    }
    with(|s| {
        s.live.insert(p.as_ptr() as usize, (size, mtp as usize));
        let t = s.types.entry(mtp as usize).or_default();
        t.bytes += size;
        t.count += 1;
    });
    p.as_ptr().cast()
}

pub unsafe extern "C" fn free(addr: *mut c_void, mtp: *mut f::malloc_type) {
    if addr.is_null() {
        return;
    }
    let found = with(|s| s.live.remove(&(addr as usize)));
    let Some((size, ty)) = found else {
        violation(format!("free({addr:p}, {}): not allocated (double free?)", type_name(mtp)));
        return;
    };
    if ty != mtp as usize {
        violation(format!(
            "free({addr:p}): allocated as {} but freed as {}",
            type_name(ty as *const f::malloc_type),
            type_name(mtp)
        ));
    }
    with(|s| {
        if let Some(t) = s.types.get_mut(&ty) {
            t.bytes = t.bytes.saturating_sub(size);
            t.count = t.count.saturating_sub(1);
        }
    });
    if let Some(p) = NonNull::new(addr.cast::<u8>()) {
        // SAFETY: the allocation came from the arena with this size and alignment.
        unsafe { arena().free(p, size, ALIGN) };
    }
}

pub unsafe extern "C" fn malloc_init(data: *mut c_void) {
    let mtp = data.cast::<f::malloc_type>();
    // SAFETY: the sysinit passes the module's struct malloc_type.
    let version = unsafe { (*mtp).ks_version } as c_ulong;
    if version as u64 != config().major.m_version {
        violation(format!("malloc_init: bad malloc type version {version} (kernel M_VERSION {})", config().major.m_version));
    }
    let name = type_name(mtp);
    with(|s| {
        let t = s.types.entry(mtp as usize).or_default();
        t.name = name;
        t.registered = true;
    });
}

pub unsafe extern "C" fn malloc_uninit(data: *mut c_void) {
    let mtp = data.cast::<f::malloc_type>();
    let stats = with(|s| s.types.get_mut(&(mtp as usize)).map(|t| {
        t.registered = false;
        t.clone()
    }));
    match stats {
        Some(t) if t.bytes > 0 => {
            console_print(&format!(
                "Warning: memory type {} leaked memory on destroy ({} allocations, {} bytes leaked).",
                t.name, t.count, t.bytes
            ));
            violation(format!("module unloaded with {} bytes ({} allocations) of malloc type '{}' allocated", t.bytes, t.count, t.name));
        }
        Some(_) => {}
        None => violation("malloc_uninit of a type that was never initialised".into()),
    }
}
