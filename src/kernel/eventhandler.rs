//! eventhandler(9) for the process events the module follows.

use crate::bindings::freebsd as f;
use core::ffi::{CStr, c_int, c_void};

/// `exitlist_fn`: `(arg, p)`.
pub type ExitFn = unsafe extern "C" fn(*mut c_void, *mut f::proc_);
/// `execlist_fn`: `(arg, p, imgp)`.
pub type ExecFn = unsafe extern "C" fn(*mut c_void, *mut f::proc_, *mut f::image_params);

/// A registration, to be given back to `deregister`.
pub struct Tag(f::eventhandler_tag);

// SAFETY: a tag is an opaque identity the kernel hands out; moving it is moving a pointer.
unsafe impl Send for Tag {}

/// eventhandler_register by list name (`list` is e.g. c"process_exit"); `func` must
/// have the list's handler type.
pub fn register(list: &'static CStr, func: *mut c_void, priority: c_int) -> Tag {
    // SAFETY: registration by name; the function stays valid while registered (the
    // module deregisters before it is unloaded).
    Tag(unsafe { f::eventhandler_register(core::ptr::null_mut(), list.as_ptr(), func, core::ptr::null_mut(), priority) })
}

/// eventhandler_deregister; waits for invocations under way.
pub fn deregister(tag: Tag) {
    // SAFETY: a tag from `register`, given back once.
    unsafe { f::eventhandler_deregister(core::ptr::null_mut(), tag.0) };
}
