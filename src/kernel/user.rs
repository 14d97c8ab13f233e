//! User memory. A user address is its own type, and the only ways to use it are
//! copyin(9) and copyout(9): a bad address (unmapped, read-only, or a kernel address)
//! is EFAULT, an ordinary result.

use super::Errno;
use crate::bindings::freebsd as f;
use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::{MaybeUninit, size_of};

/// Plain data that can cross the user/kernel boundary: every bit pattern is a valid
/// value, and it holds no pointers the kernel would follow.
///
/// # Safety
/// Implement only for `repr(C)` types of integers (and arrays and structs of them).
pub unsafe trait Plain: Copy {}

// SAFETY: integers: every bit pattern is valid.
unsafe impl Plain for u32 {}
// SAFETY: as above.
unsafe impl Plain for u64 {}
// SAFETY: as above.
unsafe impl Plain for i64 {}
// SAFETY: eight u32 fields.
unsafe impl Plain for crate::bindings::linux::aio_ring {}
// SAFETY: integer fields only.
unsafe impl Plain for crate::bindings::linux::iocb {}
// SAFETY: integer fields only.
unsafe impl Plain for crate::bindings::linux::io_event {}
// SAFETY: arrays of plain data are plain data.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}

/// An address in the calling process, to a `T`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserPtr<T> {
    addr: usize,
    _t: PhantomData<*const T>,
}

impl<T: Plain> UserPtr<T> {
    pub const fn new(addr: usize) -> Self {
        UserPtr { addr, _t: PhantomData }
    }

    pub const fn addr(self) -> usize {
        self.addr
    }

    /// copyin(9) of one `T`.
    pub fn read(self) -> Result<T, Errno> {
        let mut v = MaybeUninit::<T>::uninit();
        // SAFETY: copyin writes at most size_of::<T>() bytes into `v`, and reads the
        // user address only through the kernel's fault-checked path.
        let e = unsafe { f::copyin(self.addr as *const c_void, v.as_mut_ptr().cast(), size_of::<T>()) };
        super::errno::check(e)?;
        // SAFETY: copyin succeeded, so all bytes are written; T is Plain.
        Ok(unsafe { v.assume_init() })
    }

    /// copyout(9) of one `T`.
    pub fn write(self, v: &T) -> Result<(), Errno> {
        // SAFETY: copyout reads size_of::<T>() bytes from `v` and writes the user
        // address only through the kernel's fault-checked path.
        let e = unsafe { f::copyout((v as *const T).cast(), self.addr as *mut c_void, size_of::<T>()) };
        super::errno::check(e)
    }
}
