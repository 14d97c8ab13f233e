//! Dynamic sysctl(9) nodes and leaves, owned by a context that removes them all at once.

use super::Errno;
use super::serialized::KldSerialized;
use crate::bindings::freebsd as f;
use core::ffi::{CStr, c_int, c_void};
use core::ptr;
use core::sync::atomic::AtomicI32;

/// A `struct sysctl_ctx_list`: the oids a module added, so that unload removes them.
/// It lives in a static because the kernel's list head points to itself.
pub struct SysctlCtx {
    list: KldSerialized<f::sysctl_ctx_list>,
}

/// A node of the sysctl tree that children can be added under.
#[derive(Clone, Copy)]
pub struct Node(*mut f::sysctl_oid_list);

impl Node {
    /// The children of a node that the kernel or another module defined statically.
    ///
    /// # Safety
    /// `oid` is a registered sysctl node that outlives every oid added under it.
    pub unsafe fn from_static(oid: *mut f::sysctl_oid) -> Node {
        // SAFETY: by the contract `oid` is valid; this only computes a field address.
        Node(unsafe { &raw mut (*oid).oid_children })
    }
}

impl SysctlCtx {
    pub const fn new() -> Self {
        SysctlCtx {
            list: KldSerialized::new(f::sysctl_ctx_list { tqh_first: ptr::null_mut(), tqh_last: ptr::null_mut() }),
        }
    }

    /// `sysctl_ctx_init`. Called by the module event holding the Loading phase.
    pub fn init(&self) {
        // SAFETY: the list is static storage that only the module event holding the
        // phase uses; init only makes it an empty list.
        unsafe { f::sysctl_ctx_init(self.list.as_ptr()) };
    }

    /// `SYSCTL_ADD_NODE`: a node `name` under `parent`. The node is dynamic, so the
    /// context can remove it; `parent` must not already have a child of that name that
    /// is static (sysctl_ctx_free refuses to remove static nodes).
    pub fn add_node(&self, parent: Node, name: &'static CStr, descr: &'static CStr) -> Result<Node, Errno> {
        let kind = f::CTLTYPE_NODE | f::CTLFLAG_RW | f::CTLFLAG_MPSAFE;
        let oid = self.add(parent, name, kind, ptr::null_mut(), None, c"N", descr)?;
        // SAFETY: `oid` was just returned by sysctl_add_oid, so it is a live oid.
        Ok(Node(unsafe { &raw mut (*oid).oid_children }))
    }

    /// `SYSCTL_ADD_INT` on an atomic: `flags` as `CTLFLAG_RWTUN`; the leaf reads and
    /// writes `value` with sysctl_handle_int, an aligned int access.
    pub fn add_int(
        &self,
        parent: Node,
        name: &'static CStr,
        flags: u32,
        value: &'static AtomicI32,
        descr: &'static CStr,
    ) -> Result<(), Errno> {
        let kind = f::CTLTYPE_INT | f::CTLFLAG_MPSAFE | flags;
        self.add(parent, name, kind, value.as_ptr().cast(), Some(f::sysctl_handle_int), c"I", descr).map(|_| ())
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &self,
        parent: Node,
        name: &'static CStr,
        kind: u32,
        arg1: *mut c_void,
        handler: Option<unsafe extern "C" fn(*mut f::sysctl_oid, *mut c_void, f::intmax_t, *mut f::sysctl_req) -> c_int>,
        fmt: &'static CStr,
        descr: &'static CStr,
    ) -> Result<*mut f::sysctl_oid, Errno> {
        // SAFETY: the list was initialised; `parent` is a live node (Node's
        // constructors); the strings are static and NUL-terminated; `arg1` is null for
        // a node or a 'static int for an int leaf, as `handler` expects. sysctl_add_oid
        // may sleep, and no lock is held here.
        let oid = unsafe {
            f::sysctl_add_oid(
                self.list.as_ptr(),
                parent.0,
                f::OID_AUTO,
                name.as_ptr(),
                kind as c_int,
                arg1,
                0,
                handler,
                fmt.as_ptr(),
                descr.as_ptr(),
                ptr::null(),
            )
        };
        if oid.is_null() { Err(Errno::ENOMEM) } else { Ok(oid) }
    }

    /// `sysctl_ctx_free`: removes every oid of the context. EBUSY leaves them all in
    /// place (the kernel re-registers what it had removed).
    pub fn free(&self) -> Result<(), Errno> {
        // SAFETY: the list was initialised (or is empty), and the module event holding
        // the phase is the only user of the context.
        super::errno::check(unsafe { f::sysctl_ctx_free(self.list.as_ptr()) })
    }
}

impl Default for SysctlCtx {
    fn default() -> Self {
        Self::new()
    }
}
