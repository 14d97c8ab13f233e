//! Kernel memory of the module's own malloc type, owned like a `Box`.

use super::Errno;
use crate::bindings::freebsd as f;
use crate::module::M_LINUXAIO;
use core::ffi::c_int;
use core::mem::size_of;
use core::ptr::NonNull;

/// Types for which all-zero bytes are a valid value (what M_ZERO gives).
///
/// # Safety
/// Implement only for types whose every field is valid when zero (integers, atomics,
/// raw pointers, `Option` of references or function pointers).
pub unsafe trait Zeroable {}

/// One `T` allocated with malloc(9) (M_LINUXAIO, M_ZERO), freed on drop.
pub struct KBox<T: Zeroable>(NonNull<T>);

// SAFETY: KBox owns its T exclusively, as Box does.
unsafe impl<T: Zeroable + Send> Send for KBox<T> {}
// SAFETY: as above.
unsafe impl<T: Zeroable + Sync> Sync for KBox<T> {}

impl<T: Zeroable> KBox<T> {
    /// A zeroed `T`. With `wait`, the allocation may sleep (M_WAITOK) and does not fail;
    /// without, it may fail with ENOMEM. The caller must not hold a mutex when `wait`.
    pub fn new_zeroed(wait: bool) -> Result<KBox<T>, Errno> {
        let flags = (if wait { f::M_WAITOK } else { f::M_NOWAIT }) | f::M_ZERO;
        // SAFETY: a plain allocation of the module's registered malloc type.
        let p = unsafe { f::malloc(size_of::<T>(), M_LINUXAIO.as_ptr(), flags as c_int) };
        NonNull::new(p.cast::<T>()).map(KBox).ok_or(Errno::ENOMEM)
    }

    pub fn as_ptr(&self) -> *mut T {
        self.0.as_ptr()
    }

    /// Gives up ownership: the memory lives until `from_raw` takes it back.
    pub fn into_raw(self) -> *mut T {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p
    }

    /// # Safety
    /// `p` came from `into_raw` and is not owned by anything else.
    pub unsafe fn from_raw(p: *mut T) -> Option<KBox<T>> {
        NonNull::new(p).map(KBox)
    }
}

impl<T: Zeroable> core::ops::Deref for KBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the allocation holds a valid (zeroed or since written) T we own.
        unsafe { self.0.as_ref() }
    }
}

impl<T: Zeroable> Drop for KBox<T> {
    fn drop(&mut self) {
        // SAFETY: the memory came from malloc with this type and is ours alone.
        unsafe {
            core::ptr::drop_in_place(self.0.as_ptr());
            f::free(self.0.as_ptr().cast(), M_LINUXAIO.as_ptr());
        }
    }
}

/// `len` zeroed `T`s allocated with malloc(9) (M_LINUXAIO), freed on drop.
pub struct KArray<T: Zeroable> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: KArray owns its elements exclusively.
unsafe impl<T: Zeroable + Send> Send for KArray<T> {}
// SAFETY: as above.
unsafe impl<T: Zeroable + Sync> Sync for KArray<T> {}

impl<T: Zeroable> KArray<T> {
    /// ENOMEM when `len * size_of::<T>()` overflows or (without `wait`) memory is short.
    pub fn new_zeroed(len: usize, wait: bool) -> Result<KArray<T>, Errno> {
        let bytes = len.checked_mul(size_of::<T>()).ok_or(Errno::ENOMEM)?.max(1);
        let flags = (if wait { f::M_WAITOK } else { f::M_NOWAIT }) | f::M_ZERO;
        // SAFETY: a plain allocation of the module's registered malloc type.
        let p = unsafe { f::malloc(bytes, M_LINUXAIO.as_ptr(), flags as c_int) };
        NonNull::new(p.cast::<T>()).map(|ptr| KArray { ptr, len }).ok_or(Errno::ENOMEM)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        // SAFETY: in bounds (checked), and the elements are valid Ts we own.
        (i < self.len).then(|| unsafe { &*self.ptr.as_ptr().add(i) })
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        // SAFETY: as in get, and `&mut self` makes the access exclusive.
        (i < self.len).then(|| unsafe { &mut *self.ptr.as_ptr().add(i) })
    }
}

impl<T: Zeroable> Drop for KArray<T> {
    fn drop(&mut self) {
        // SAFETY: the memory came from malloc with this type and is ours alone.
        unsafe { f::free(self.ptr.as_ptr().cast(), M_LINUXAIO.as_ptr()) };
    }
}
