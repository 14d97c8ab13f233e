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
    pub const EBADF: Errno = Errno(f::EBADF as c_int);
    pub const EINTR: Errno = Errno(f::EINTR as c_int);

    /// An errno a kernel function returned. Zero is not an error.
    pub const fn from_raw(e: c_int) -> Option<Errno> {
        if e == 0 { None } else { Some(Errno(e)) }
    }

    pub const fn to_raw(self) -> c_int {
        self.0
    }
}

impl Errno {
    /// The Linux errno for this FreeBSD one, for `io_event.res`, which the sysvec does
    /// not translate (its table, linux_errtbl, is private to linux_common). Values from
    /// the two systems' errno.h; what has no Linux counterpart becomes EINVAL.
    pub const fn to_linux(self) -> i64 {
        let l = match self.0 {
            1..=10 | 12..=34 => self.0,
            11 => 35,  // EDEADLK
            35 => 11,  // EAGAIN
            36 => 115, // EINPROGRESS
            37 => 114, // EALREADY
            45 => 95,  // EOPNOTSUPP
            55 => 105, // ENOBUFS
            57 => 107, // ENOTCONN
            60 => 110, // ETIMEDOUT
            62 => 40,  // ELOOP
            63 => 36,  // ENAMETOOLONG
            66 => 39,  // ENOTEMPTY
            69 => 122, // EDQUOT
            70 => 116, // ESTALE
            77 => 37,  // ENOLCK
            78 => 38,  // ENOSYS
            84 => 75,  // EOVERFLOW
            85 => 125, // ECANCELED
            86 => 84,  // EILSEQ
            89 => 74,  // EBADMSG
            92 => 71,  // EPROTO
            _ => 22,
        };
        l as i64
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
