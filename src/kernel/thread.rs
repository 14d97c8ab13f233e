//! The calling thread (`struct thread`), as a system call handler receives it.

use crate::bindings::freebsd as f;
use core::mem::offset_of;

/// A `struct thread *` given to a handler by the kernel, valid for the call.
#[derive(Clone, Copy)]
pub struct Thread(*mut f::thread);

impl Thread {
    /// # Safety
    /// `td` is the thread the kernel passed to a system call handler or event handler,
    /// and the wrapper is used only during that call.
    pub unsafe fn from_raw(td: *mut f::thread) -> Thread {
        Thread(td)
    }

    pub fn as_ptr(self) -> *mut f::thread {
        self.0
    }

    fn retval_ptr(self) -> *mut f::syscallarg_t {
        // `td_retval` is `td_uretoff.tdu_retval`, an array of two at the union's start.
        (self.0 as usize + offset_of!(f::thread, td_uretoff)) as *mut f::syscallarg_t
    }

    /// `td_retval[0..2]`: what the Linux sysvec returns to the program.
    pub fn retval(self) -> [f::syscallarg_t; 2] {
        let p = self.retval_ptr();
        // SAFETY: td_retval lies inside the live struct thread (Thread's contract).
        unsafe { [p.read(), p.add(1).read()] }
    }

    pub fn set_retval(self, v: [f::syscallarg_t; 2]) {
        let p = self.retval_ptr();
        // SAFETY: as in retval.
        unsafe {
            p.write(v[0]);
            p.add(1).write(v[1]);
        }
    }

    /// The thread's process (`td_proc`), as an identity: the module never follows it.
    pub fn proc_(self) -> *mut f::proc_ {
        // SAFETY: td_proc of the live struct thread.
        unsafe { (*self.0).td_proc }
    }

    /// `td_pflags`: flags only the thread itself reads and writes (no lock needed).
    pub fn pflags(self) -> core::ffi::c_int {
        // SAFETY: td_pflags of the live struct thread; the calling thread owns it.
        unsafe { (*self.0).td_pflags }
    }

    pub fn set_pflags(self, v: core::ffi::c_int) {
        // SAFETY: as in pflags.
        unsafe { (*self.0).td_pflags = v };
    }

    /// `&td_oldsigmask`: where a call's temporary signal mask saves the thread's own.
    pub fn oldsigmask_ptr(self) -> *mut f::sigset_t {
        (self.0 as usize + offset_of!(f::thread, td_oldsigmask)) as *mut f::sigset_t
    }
}
