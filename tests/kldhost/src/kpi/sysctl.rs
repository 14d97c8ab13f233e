//! sysctl(9): the static nodes a module may hang its own under (`compat` from the
//! kernel, `compat.linux` from linux_common), dynamic oids owned by a context, and
//! `sysctl_handle_int`, with kern_sysctl.c's rules:
//! - adding a name that exists re-uses it if it is a node (its refcount goes up) and
//!   fails if it is a leaf ("can't re-use a leaf");
//! - `sysctl_ctx_free` removes the context's oids newest first after a dry run; if any
//!   cannot go (a static node, a node that still has children) nothing is removed and
//!   the answer is EBUSY;
//! - a tunable (CTLFLAG_TUN) takes its value from the loader's environment when added.
//!
//! Every `struct sysctl_oid` lives in the kernel range, so that a module can follow
//! `oid_children` as it would in FreeBSD.

use crate::arena::arena;
use crate::freebsd::common as f;
use crate::kernel::{Config, config, console_print, violation};
use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::mem::size_of;
use std::sync::Mutex;

/// `CTLTYPE` (sys/sysctl.h): the mask of the type bits of `oid_kind`.
const CTLTYPE: u32 = 0xf;

pub type Handler = unsafe extern "C" fn(*mut f::sysctl_oid, *mut c_void, f::intmax_t, *mut f::sysctl_req) -> c_int;

#[derive(Clone, Debug)]
struct Node {
    name: String,
    parent: Option<usize>,
    dynamic: bool,
    refcnt: i32,
}

#[derive(Default)]
struct Tree {
    /// By the address of the `struct sysctl_oid`.
    nodes: HashMap<usize, Node>,
    /// Context lists by address: their oids, newest first.
    ctxs: HashMap<usize, Vec<usize>>,
    statics: HashMap<String, usize>,
}

static TREE: Mutex<Option<Tree>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Tree) -> R) -> R {
    let mut t = TREE.lock().unwrap_or_else(|e| e.into_inner());
    f(t.get_or_insert_with(Tree::default))
}

fn oid(addr: usize) -> *mut f::sysctl_oid {
    addr as *mut f::sysctl_oid
}

fn new_oid(name: &str, kind: u32) -> usize {
    let p = arena().alloc(size_of::<f::sysctl_oid>(), 16).map_or(0, |p| p.as_ptr() as usize);
    let cname = arena().alloc(name.len() + 1, 1).map_or(0, |p| p.as_ptr() as usize);
    // SAFETY: both allocations are fresh, zeroed and large enough.
    unsafe {
        std::ptr::copy_nonoverlapping(name.as_ptr(), cname as *mut u8, name.len());
        (*oid(p)).oid_name = cname as *const c_char;
        (*oid(p)).oid_kind = kind;
        (*oid(p)).oid_refcnt = 1;
    }
    p
}

pub fn reset(config: &Config) {
    with(|t| {
        *t = Tree::default();
        let node = f::CTLTYPE_NODE | f::CTLFLAG_RW | f::CTLFLAG_MPSAFE;
        let compat = new_oid("compat", node);
        t.nodes.insert(compat, Node { name: "compat".into(), parent: None, dynamic: false, refcnt: 1 });
        t.statics.insert("compat".into(), compat);
        if config.linux64 {
            let linux = new_oid("linux", node);
            t.nodes.insert(linux, Node { name: "linux".into(), parent: Some(compat), dynamic: false, refcnt: 1 });
            t.statics.insert("compat.linux".into(), linux);
        }
    });
}

/// The address of a static node's `struct sysctl_oid`.
pub fn static_node(path: &str) -> Option<usize> {
    with(|t| t.statics.get(path).copied())
}

fn path_of(t: &Tree, mut addr: usize) -> String {
    let mut parts = vec![];
    while let Some(n) = t.nodes.get(&addr) {
        parts.push(n.name.clone());
        match n.parent {
            Some(p) => addr = p,
            None => break,
        }
    }
    parts.reverse();
    parts.join(".")
}

/// The oid at a dotted path.
pub fn find(path: &str) -> Option<usize> {
    with(|t| t.nodes.keys().copied().find(|&a| path_of(t, a) == path))
}

fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the module passes NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn sysctl_add_oid(
    clist: *mut f::sysctl_ctx_list,
    parent: *mut f::sysctl_oid_list,
    nbr: c_int,
    name: *const c_char,
    kind: c_int,
    arg1: *mut c_void,
    arg2: f::intmax_t,
    handler: Option<Handler>,
    fmt: *const c_char,
    descr: *const c_char,
    label: *const c_char,
) -> *mut f::sysctl_oid {
    let name = cstr(name);
    // `oid_children` is the first member: the list's address is its node's.
    let parent_oid = parent as usize - std::mem::offset_of!(f::sysctl_oid, oid_children);
    let existing = with(|t| {
        if !t.nodes.contains_key(&parent_oid) {
            return Err(());
        }
        Ok(t.nodes.iter().find(|(_, n)| n.parent == Some(parent_oid) && n.name == name).map(|(&a, _)| a))
    });
    let existing = match existing {
        Ok(e) => e,
        Err(()) => {
            violation(format!("sysctl_add_oid({name}): parent {parent:p} is not a sysctl node"));
            return std::ptr::null_mut();
        }
    };
    if let Some(a) = existing {
        // SAFETY: a live oid of the tree.
        let is_node = unsafe { (*oid(a)).oid_kind } & CTLTYPE == f::CTLTYPE_NODE;
        if !is_node {
            console_print(&format!("can't re-use a leaf ({name})!"));
            return std::ptr::null_mut();
        }
        with(|t| {
            if let Some(n) = t.nodes.get_mut(&a) {
                n.refcnt += 1;
            }
            if !clist.is_null() {
                t.ctxs.entry(clist as usize).or_default().insert(0, a);
            }
        });
        // SAFETY: as above.
        unsafe { (*oid(a)).oid_refcnt += 1 };
        return oid(a);
    }
    let a = new_oid(&name, kind as u32 | f::CTLFLAG_DYN);
    // SAFETY: a fresh oid.
    unsafe {
        let o = &mut *oid(a);
        o.oid_parent = parent;
        o.oid_number = nbr;
        o.oid_arg1 = arg1;
        o.oid_arg2 = arg2;
        o.oid_handler = handler;
        o.oid_fmt = fmt;
        o.oid_descr = descr;
        o.oid_label = label;
    }
    with(|t| {
        t.nodes.insert(a, Node { name: name.clone(), parent: Some(parent_oid), dynamic: true, refcnt: 1 });
        if !clist.is_null() {
            t.ctxs.entry(clist as usize).or_default().insert(0, a);
        }
    });
    if kind as u32 & f::CTLFLAG_TUN != 0 {
        let path = with(|t| path_of(t, a));
        if let Some((_, v)) = config().tunables.iter().find(|(k, _)| *k == path)
            && let Ok(v) = v.parse::<i64>()
            && let Err(e) = write(a, v)
        {
            console_print(&format!("Failed setting tunable {path}: error {e}"));
        }
    }
    oid(a)
}

pub unsafe extern "C" fn sysctl_ctx_init(clist: *mut f::sysctl_ctx_list) -> c_int {
    if clist.is_null() {
        return f::EINVAL as c_int;
    }
    // SAFETY: the module passes its list head; TAILQ_INIT.
    unsafe {
        (*clist).tqh_first = std::ptr::null_mut();
        (*clist).tqh_last = &raw mut (*clist).tqh_first;
    }
    with(|t| t.ctxs.insert(clist as usize, Vec::new()));
    0
}

pub unsafe extern "C" fn sysctl_ctx_free(clist: *mut f::sysctl_ctx_list) -> c_int {
    let result = with(|t| {
        let Some(entries) = t.ctxs.get(&(clist as usize)).cloned() else {
            return Err(f::EINVAL as c_int);
        };
        // Dry run on a copy: every oid must be removable in this order.
        let mut trial = t.nodes.clone();
        for &a in &entries {
            let Some(n) = trial.get(&a).cloned() else { continue };
            if !n.dynamic {
                console_print(&format!("Warning: can't remove non-dynamic nodes ({})!", n.name));
                return Err(f::EBUSY as c_int);
            }
            if n.refcnt > 1 {
                if let Some(x) = trial.get_mut(&a) {
                    x.refcnt -= 1;
                }
                continue;
            }
            if trial.values().any(|c| c.parent == Some(a)) {
                console_print(&format!("Warning: failed attempt to remove oid {} with child", n.name));
                return Err(f::EBUSY as c_int);
            }
            trial.remove(&a);
        }
        t.nodes = trial;
        t.ctxs.insert(clist as usize, Vec::new());
        Ok(entries)
    });
    match result {
        Ok(_) => 0,
        Err(e) => e,
    }
}

// ---- reading and writing, as sysctl(8) does through sysctl_root ----

unsafe extern "C" fn old_kernel(req: *mut f::sysctl_req, src: *const c_void, len: usize) -> c_int {
    // SAFETY: `req` is the request built in `request` below.
    let r = unsafe { &mut *req };
    if !r.oldptr.is_null() {
        if r.oldidx + len > r.oldlen {
            r.oldidx += len;
            return f::ENOMEM as c_int;
        }
        // SAFETY: in bounds of the caller's buffer (checked just above).
        unsafe { std::ptr::copy_nonoverlapping(src.cast::<u8>(), r.oldptr.cast::<u8>().add(r.oldidx), len) };
    }
    r.oldidx += len;
    0
}

unsafe extern "C" fn new_kernel(req: *mut f::sysctl_req, dst: *mut c_void, len: usize) -> c_int {
    // SAFETY: as above.
    let r = unsafe { &mut *req };
    if r.newptr.is_null() {
        return 0;
    }
    if r.newidx + len > r.newlen {
        return f::EINVAL as c_int;
    }
    // SAFETY: in bounds of the new value (checked just above).
    unsafe { std::ptr::copy_nonoverlapping(r.newptr.cast::<u8>().add(r.newidx), dst.cast::<u8>(), len) };
    r.newidx += len;
    0
}

fn call(a: usize, new: Option<i64>) -> Result<i64, c_int> {
    // SAFETY: `a` is a live oid of the tree.
    let o = unsafe { &*oid(a) };
    let Some(handler) = o.oid_handler else { return Err(f::EISDIR as c_int) };
    if new.is_some() && o.oid_kind & f::CTLFLAG_WR == 0 {
        return Err(f::EPERM as c_int);
    }
    let mut out = [0u8; 8];
    let newval = new.unwrap_or(0);
    let newbytes = (newval as c_int).to_ne_bytes();
    let req = arena().alloc(size_of::<f::sysctl_req>(), 16).ok_or(f::ENOMEM as c_int)?.as_ptr().cast::<f::sysctl_req>();
    // SAFETY: a fresh, zeroed request in the kernel range.
    unsafe {
        (*req).oldptr = out.as_mut_ptr().cast();
        (*req).oldlen = out.len();
        (*req).oldfunc = Some(old_kernel);
        (*req).newfunc = Some(new_kernel);
        if new.is_some() {
            (*req).newptr = newbytes.as_ptr().cast();
            (*req).newlen = size_of::<c_int>();
        }
    }
    // SAFETY: the oid's own handler with its own arguments, as sysctl_root calls it.
    let e = unsafe { handler(oid(a), o.oid_arg1, o.oid_arg2, req) };
    // SAFETY: the request is ours.
    let got = unsafe { (*req).oldidx };
    if let Some(p) = std::ptr::NonNull::new(req.cast::<u8>()) {
        // SAFETY: allocated above with this size and alignment.
        unsafe { arena().free(p, size_of::<f::sysctl_req>(), 16) };
    }
    if e != 0 {
        return Err(e);
    }
    Ok(match got {
        4 => i64::from(i32::from_ne_bytes([out[0], out[1], out[2], out[3]])),
        _ => i64::from_ne_bytes(out),
    })
}

/// Reads an integer sysctl by path.
pub fn read(path: &str) -> Result<i64, c_int> {
    let a = find(path).ok_or(f::ENOENT as c_int)?;
    call(a, None)
}

fn write(a: usize, value: i64) -> Result<(), c_int> {
    call(a, Some(value)).map(|_| ())
}

/// Writes an integer sysctl by path.
pub fn write_path(path: &str, value: i64) -> Result<(), c_int> {
    write(find(path).ok_or(f::ENOENT as c_int)?, value)
}

pub unsafe extern "C" fn sysctl_handle_int(oidp: *mut f::sysctl_oid, arg1: *mut c_void, arg2: f::intmax_t, req: *mut f::sysctl_req) -> c_int {
    let _ = oidp;
    let tmpout: c_int = if arg1.is_null() { arg2 as c_int } else { unsafe { *arg1.cast::<c_int>() } };
    // SAFETY: `req` is a request whose functions copy in and out (SYSCTL_OUT/SYSCTL_IN).
    unsafe {
        let Some(out) = (*req).oldfunc else { return f::EINVAL as c_int };
        let e = out(req, (&raw const tmpout).cast(), size_of::<c_int>());
        if e != 0 || (*req).newptr.is_null() {
            return e;
        }
        if arg1.is_null() {
            return f::EPERM as c_int;
        }
        let Some(inp) = (*req).newfunc else { return f::EINVAL as c_int };
        inp(req, arg1, size_of::<c_int>())
    }
}
