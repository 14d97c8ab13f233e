//! FreeBSD errno values as a type, so that failures are values (`Result<T, Errno>`)
//! and never panics.

use crate::bindings::freebsd as f;
use core::ffi::c_int;

/// A positive FreeBSD errno, as system call handlers return it. The Linux sysvec turns
/// it into the negative Linux errno the program sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(c_int);

impl Errno {
    pub const EPERM: Errno = Errno(f::EPERM as c_int);
    pub const ENOMEM: Errno = Errno(f::ENOMEM as c_int);
    pub const EFAULT: Errno = Errno(f::EFAULT as c_int);
    pub const EBUSY: Errno = Errno(f::EBUSY as c_int);
    pub const EEXIST: Errno = Errno(f::EEXIST as c_int);
    pub const EINVAL: Errno = Errno(f::EINVAL as c_int);
    pub const EAGAIN: Errno = Errno(f::EAGAIN as c_int);
    pub const ENOSYS: Errno = Errno(f::ENOSYS as c_int);
    pub const EOPNOTSUPP: Errno = Errno(f::EOPNOTSUPP as c_int);

    /// An errno a kernel function returned. Zero is not an error.
    pub const fn from_raw(e: c_int) -> Option<Errno> {
        if e == 0 { None } else { Some(Errno(e)) }
    }

    pub const fn to_raw(self) -> c_int {
        self.0
    }
}

/// A kernel function's `int` result (0 or an errno) as a `Result`.
pub fn check(ret: c_int) -> Result<(), Errno> {
    match Errno::from_raw(ret) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// The `int` a FreeBSD handler returns for a `Result`.
pub fn to_return(r: Result<(), Errno>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_raw(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_success_and_anything_else_an_errno() {
        assert_eq!(check(0), Ok(()));
        assert_eq!(check(f::ENOSYS as c_int), Err(Errno::ENOSYS));
        assert_eq!(to_return(Err(Errno::EBUSY)), 16);
        assert_eq!(to_return(Ok(())), 0);
        assert_eq!(Errno::from_raw(0), None);
    }
}
