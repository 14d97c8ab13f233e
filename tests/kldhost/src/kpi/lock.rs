//! mutex(9) and sx(9), with the checks WITNESS makes: sleeping or taking a sleepable
//! lock while holding a mutex, recursing on a lock, releasing a lock not held, and
//! lock-order reversals (by lock name, as WITNESS orders lock classes).
//!
//! Locks are real: a contended lock blocks the caller. Giant is modelled as a marker
//! the model holds around module events; it is the one mutex a holder may sleep with
//! (the kernel drops it across the sleep).

use crate::kernel::violation;
use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::{Condvar, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A default (sleep) mutex: its holder must not sleep.
    Mutex,
    /// A spin mutex: its holder must not sleep either.
    Spin,
    /// An sx lock: sleepable.
    Sx,
    Giant,
}

impl Kind {
    fn forbids_sleep(self) -> bool {
        matches!(self, Kind::Mutex | Kind::Spin)
    }
}

#[derive(Clone, Debug)]
struct Held {
    addr: usize,
    kind: Kind,
    name: String,
    shared: bool,
}

#[derive(Debug)]
struct LockState {
    name: String,
    kind: Kind,
    owner: Option<Tid>,
    shared: usize,
}

/// A thread, by its kernel id: unlike thread-local storage, this still works while the
/// process exits (when the module is unloaded from an exit handler).
use super::{Tid, tid};

/// The locks each thread holds, in the order it took them.
static HELD: Mutex<Option<HashMap<Tid, Vec<Held>>>> = Mutex::new(None);

fn held_by_me<R>(f: impl FnOnce(&mut Vec<Held>) -> R) -> R {
    let mut h = HELD.lock().unwrap_or_else(|e| e.into_inner());
    f(h.get_or_insert_with(HashMap::new).entry(tid()).or_default())
}

static LOCKS: Mutex<Option<HashMap<usize, LockState>>> = Mutex::new(None);
static CHANGED: Condvar = Condvar::new();
/// Lock orders seen: (first, then) by name.
static ORDER: Mutex<Option<HashSet<(String, String)>>> = Mutex::new(None);

pub fn reset() {
    if let Ok(mut l) = LOCKS.lock() {
        *l = Some(HashMap::new());
    }
    if let Ok(mut o) = ORDER.lock() {
        *o = Some(HashSet::new());
    }
    if let Ok(mut h) = HELD.lock() {
        *h = Some(HashMap::new());
    }
}

/// Makes `addr` a lock of `kind` (mtx_init, sx_init, or the kernel's own locks).
pub fn init(addr: usize, kind: Kind, name: &str) {
    let mut locks = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
    let map = locks.get_or_insert_with(HashMap::new);
    if let Some(old) = map.get(&addr)
        && (old.owner.is_some() || old.shared > 0)
    {
        violation(format!("lock {name} initialised while held"));
    }
    map.insert(addr, LockState { name: name.to_string(), kind, owner: None, shared: 0 });
}

pub fn destroy(addr: usize) {
    let mut locks = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
    let map = locks.get_or_insert_with(HashMap::new);
    match map.remove(&addr) {
        Some(s) if s.owner.is_some() || s.shared > 0 => violation(format!("lock {} destroyed while held", s.name)),
        Some(_) => {}
        None => violation(format!("destroying a lock that was never initialised ({addr:#x})")),
    }
}

/// Why the current thread may not sleep now, if it may not.
pub fn sleep_forbidden() -> Option<String> {
    held_by_me(|h| h.iter().rev().find(|l| l.kind.forbids_sleep()).map(|l| l.name.clone()))
}

/// Whether the current thread holds the lock at `addr`.
pub fn held(addr: usize) -> bool {
    held_by_me(|h| h.iter().any(|l| l.addr == addr))
}

pub fn acquire(addr: usize, shared: bool) {
    let me = tid();
    let mut locks = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
    let Some(state) = locks.get_or_insert_with(HashMap::new).get(&addr) else {
        drop(locks);
        violation(format!("locking an uninitialised lock at {addr:#x}"));
        return;
    };
    let (name, kind) = (state.name.clone(), state.kind);
    if state.owner == Some(me) || (shared && held(addr)) {
        drop(locks);
        violation(format!("recursing on non-recursive lock {name}"));
        return;
    }
    if !kind.forbids_sleep()
        && let Some(m) = sleep_forbidden()
    {
        violation(format!("acquiring sleepable lock {name} with non-sleepable lock {m} held"));
    }
    check_order(&name);
    loop {
        let Some(s) = locks.get_or_insert_with(HashMap::new).get_mut(&addr) else { return };
        let free = s.owner.is_none() && (shared || s.shared == 0);
        if free {
            if shared {
                s.shared += 1;
            } else {
                s.owner = Some(me);
            }
            break;
        }
        locks = CHANGED.wait(locks).unwrap_or_else(|e| e.into_inner());
    }
    drop(locks);
    held_by_me(|h| h.push(Held { addr, kind, name, shared }));
}

pub fn release(addr: usize) {
    let removed = held_by_me(|h| h.iter().rposition(|l| l.addr == addr).map(|pos| h.remove(pos)));
    if removed.is_none() {
        violation(format!("unlocking a lock not held by this thread ({addr:#x})"));
        return;
    }
    let mut locks = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = locks.get_or_insert_with(HashMap::new).get_mut(&addr) {
        if s.owner.is_some() {
            s.owner = None;
        } else {
            s.shared = s.shared.saturating_sub(1);
        }
    }
    CHANGED.notify_all();
}

fn check_order(name: &str) {
    let held: Vec<String> = held_by_me(|h| h.iter().filter(|l| l.kind != Kind::Giant).map(|l| l.name.clone()).collect());
    let mut order = ORDER.lock().unwrap_or_else(|e| e.into_inner());
    let set = order.get_or_insert_with(HashSet::new);
    for first in held {
        if first == name {
            continue;
        }
        if set.contains(&(name.to_string(), first.clone())) {
            violation(format!("lock order reversal: {first} then {name}, but {name} then {first} before"));
        }
        set.insert((first, name.to_string()));
    }
}

/// The lock a `struct lock_object` belongs to, as (key, kind): a mutex is known by its
/// `mtx_lock` word (what modules pass), 24 bytes into `struct mtx`; an sx by itself.
pub fn from_lock_object(lo: usize) -> Option<(usize, Kind)> {
    let locks = LOCKS.lock().ok()?;
    let map = locks.as_ref()?;
    let mtx = lo + std::mem::offset_of!(crate::freebsd::common::mtx, mtx_lock);
    match map.get(&mtx) {
        Some(s) if matches!(s.kind, Kind::Mutex | Kind::Spin) => Some((mtx, s.kind)),
        _ => map.get(&lo).map(|s| (lo, s.kind)),
    }
}

/// Lets go of a lock this thread holds, for a sleep; says whether it was shared.
pub fn release_for_sleep(addr: usize) -> Option<bool> {
    let shared = held_by_me(|h| h.iter().rev().find(|l| l.addr == addr).map(|l| l.shared))?;
    release(addr);
    Some(shared)
}

/// Giant around module events, as kern_module.c takes it.
pub fn giant_enter() {
    held_by_me(|h| h.push(Held { addr: 0, kind: Kind::Giant, name: "Giant".into(), shared: false }));
}

pub fn giant_exit() {
    held_by_me(|h| {
        if let Some(pos) = h.iter().rposition(|l| l.kind == Kind::Giant) {
            h.remove(pos);
        }
    });
}

fn cname(p: *const c_char) -> String {
    if p.is_null() {
        return "(null)".into();
    }
    // SAFETY: the module passes a NUL-terminated name.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The name a lock was given, for messages.
pub fn name_of(addr: usize) -> Option<String> {
    LOCKS.lock().ok()?.as_ref()?.get(&addr).map(|s| s.name.clone())
}

// ---- sx(9): the function versions modules call (KLD_MODULE) ----

pub unsafe extern "C" fn sx_init_flags(sx: *mut c_void, name: *const c_char, _opts: c_int) {
    init(sx as usize, Kind::Sx, &cname(name));
}

pub unsafe extern "C" fn sx_destroy(sx: *mut c_void) {
    destroy(sx as usize);
}

pub unsafe extern "C" fn _sx_slock(sx: *mut c_void, _opts: c_int, _file: *const c_char, _line: c_int) -> c_int {
    acquire(sx as usize, true);
    0
}

pub unsafe extern "C" fn _sx_sunlock(sx: *mut c_void, _file: *const c_char, _line: c_int) {
    release(sx as usize);
}

pub unsafe extern "C" fn _sx_xlock(sx: *mut c_void, _opts: c_int, _file: *const c_char, _line: c_int) -> c_int {
    acquire(sx as usize, false);
    0
}

pub unsafe extern "C" fn _sx_xunlock(sx: *mut c_void, _file: *const c_char, _line: c_int) {
    release(sx as usize);
}

// ---- mutex(9): modules pass &m->mtx_lock ----

/// `MTX_SPIN` (sys/mutex.h).
const MTX_SPIN: c_int = 0x1;

pub unsafe extern "C" fn _mtx_init(c: *mut usize, name: *const c_char, _ty: *const c_char, opts: c_int) {
    let kind = if opts & MTX_SPIN != 0 { Kind::Spin } else { Kind::Mutex };
    init(c as usize, kind, &cname(name));
}

pub unsafe extern "C" fn _mtx_destroy(c: *mut usize) {
    destroy(c as usize);
}

pub unsafe extern "C" fn __mtx_lock_flags(c: *mut usize, _opts: c_int, _file: *const c_char, _line: c_int) {
    acquire(c as usize, false);
}

pub unsafe extern "C" fn __mtx_unlock_flags(c: *mut usize, _opts: c_int, _file: *const c_char, _line: c_int) {
    release(c as usize);
}
