//! eventhandler(9) for the process events a module follows: `process_exit`,
//! `process_exec`, `process_fork`. The test bed invokes them where FreeBSD would:
//! exit when the program ends (the interposer's exit hook), fork in the child right
//! after fork(2).

use crate::freebsd::common as f;
use crate::kernel::violation;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::Mutex;

#[derive(Clone)]
enum Func {
    /// A module's handler (its address).
    Module(usize),
    /// One of the kernel's own, registered at boot (native AIO's rundown).
    Kernel(fn(usize)),
}

#[derive(Clone)]
struct Entry {
    tag: usize,
    list: String,
    func: Func,
    arg: usize,
    priority: c_int,
}

static ENTRIES: Mutex<(usize, Vec<Entry>)> = Mutex::new((0, Vec::new()));
const LISTS: [&str; 3] = ["process_exit", "process_exec", "process_fork"];

/// A new kernel's lists: with native AIO, its rundown at exit and exec, registered at
/// boot with EVENTHANDLER_PRI_ANY as vfs_aio's aio_onceonly does; a module's handlers
/// of the same priority run after it.
pub fn reset(config: &crate::kernel::Config) {
    if let Ok(mut e) = ENTRIES.lock() {
        e.1.clear();
        if config.native_aio {
            for list in ["process_exit", "process_exec"] {
                e.0 += 1;
                let tag = e.0;
                e.1.push(Entry { tag, list: list.into(), func: Func::Kernel(super::aio::rundown), arg: 0, priority: f::EVENTHANDLER_PRI_ANY as c_int });
            }
        }
    }
}

pub unsafe extern "C" fn eventhandler_register(
    list: *mut c_void,
    name: *const c_char,
    func: *mut c_void,
    arg: *mut c_void,
    priority: c_int,
) -> f::eventhandler_tag {
    if !list.is_null() || name.is_null() {
        violation("eventhandler_register with a list pointer: only registration by name is modelled".into());
        return std::ptr::null_mut();
    }
    // SAFETY: a NUL-terminated list name.
    let name = unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned();
    if !LISTS.contains(&name.as_str()) {
        violation(format!("eventhandler list {name}: not modelled"));
    }
    let mut e = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
    e.0 += 1;
    let tag = e.0;
    e.1.push(Entry { tag, list: name, func: Func::Module(func as usize), arg: arg as usize, priority });
    // Lower priorities run first; equal ones in registration order (a stable sort).
    e.1.sort_by_key(|x| x.priority);
    tag as f::eventhandler_tag
}

pub unsafe extern "C" fn eventhandler_deregister(_list: *mut c_void, tag: f::eventhandler_tag) {
    let mut e = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
    let before = e.1.len();
    e.1.retain(|x| x.tag != tag as usize);
    if e.1.len() == before {
        drop(e);
        violation(format!("eventhandler_deregister of an unknown tag {tag:p}"));
    }
}

fn handlers(list: &str) -> Vec<Entry> {
    ENTRIES.lock().map(|e| e.1.iter().filter(|x| x.list == list).cloned().collect()).unwrap_or_default()
}

/// `process_exit(arg, p)` for every handler.
pub fn process_exit(p: *mut f::proc_) {
    for h in handlers("process_exit") {
        match h.func {
            Func::Kernel(k) => k(p as usize),
            Func::Module(a) => {
                // SAFETY: a handler the module registered for this list, with its own argument.
                let f = unsafe { std::mem::transmute::<usize, unsafe extern "C" fn(*mut c_void, *mut f::proc_)>(a) };
                unsafe { f(h.arg as *mut c_void, p) };
            }
        }
    }
}

/// `process_exec(arg, p, imgp)` for every handler (no image parameters are modelled).
pub fn process_exec(p: *mut f::proc_) {
    for h in handlers("process_exec") {
        match h.func {
            Func::Kernel(k) => k(p as usize),
            Func::Module(a) => {
                // SAFETY: as above.
                let f = unsafe { std::mem::transmute::<usize, unsafe extern "C" fn(*mut c_void, *mut f::proc_, *mut c_void)>(a) };
                unsafe { f(h.arg as *mut c_void, p, std::ptr::null_mut()) };
            }
        }
    }
}

/// `process_fork(arg, p1, p2, flags)` for every handler.
pub fn process_fork(parent: *mut f::proc_, child: *mut f::proc_, flags: c_int) {
    for h in handlers("process_fork") {
        if let Func::Module(a) = h.func {
            // SAFETY: as above.
            let f = unsafe { std::mem::transmute::<usize, unsafe extern "C" fn(*mut c_void, *mut f::proc_, *mut f::proc_, c_int)>(a) };
            unsafe { f(h.arg as *mut c_void, parent, child, flags) };
        }
    }
}
