//! FreeBSD's native AIO, reached through its system call entry points (vfs_aio.c): the
//! exported interface, with the `struct aiocb`s in user memory, as those entry points
//! require (they key every job by its user address).
//!
//! The argument structures are kernel memory (the module's stack); the pointers in them
//! are user addresses. Each call's result comes back in `td_retval`, which is saved and
//! restored around it so that the Linux call's own result is not disturbed.

use crate::bindings::freebsd as f;
use crate::kernel::thread::Thread;
use crate::kernel::{Errno, errno};
use core::ffi::c_int;

/// Which native request a Linux opcode becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    Write,
    ReadV,
    WriteV,
    Sync,
    DataSync,
}

/// Runs `call` with td_retval saved, and returns (its error, what it left in td_retval[0]).
fn with_retval(td: Thread, call: impl FnOnce() -> c_int) -> (c_int, i64) {
    let saved = td.retval();
    // As syscallenter does: a call that sets nothing leaves 0, not a stale value.
    td.set_retval([0, 0]);
    let e = call();
    let r = td.retval()[0];
    td.set_retval(saved);
    (e, r)
}

/// Queues the job whose `struct aiocb` is at user address `aiocb`.
pub fn queue(td: Thread, op: Op, aiocb: usize) -> Result<(), Errno> {
    // SAFETY (the calls below): each args struct is ours and complete, the aiocb pointer
    // is a user address the entry point reads with copyin, and td is the calling thread.
    let (e, _) = with_retval(td, || unsafe {
        let p = aiocb as *mut f::aiocb;
        match op {
            Op::Read => {
                let mut a: f::aio_read_args = core::mem::zeroed();
                a.aiocbp = p;
                f::sys_aio_read(td.as_ptr(), &mut a)
            }
            Op::Write => {
                let mut a: f::aio_write_args = core::mem::zeroed();
                a.aiocbp = p;
                f::sys_aio_write(td.as_ptr(), &mut a)
            }
            Op::ReadV => {
                let mut a: f::aio_readv_args = core::mem::zeroed();
                a.aiocbp = p;
                f::sys_aio_readv(td.as_ptr(), &mut a)
            }
            Op::WriteV => {
                let mut a: f::aio_writev_args = core::mem::zeroed();
                a.aiocbp = p;
                f::sys_aio_writev(td.as_ptr(), &mut a)
            }
            Op::Sync | Op::DataSync => {
                let mut a: f::aio_fsync_args = core::mem::zeroed();
                a.op = (if op == Op::Sync { f::O_SYNC } else { f::O_DSYNC }) as c_int;
                a.aiocbp = p;
                f::sys_aio_fsync(td.as_ptr(), &mut a)
            }
        }
    });
    errno::check(e)
}

/// aio_error: `None` while the job is in progress, else its error (0: success).
pub fn error(td: Thread, aiocb: usize) -> Result<Option<c_int>, Errno> {
    // SAFETY: as in queue.
    let (e, r) = with_retval(td, || unsafe {
        let mut a: f::aio_error_args = core::mem::zeroed();
        a.aiocbp = aiocb as *mut f::aiocb;
        f::sys_aio_error(td.as_ptr(), &mut a)
    });
    errno::check(e)?;
    Ok(if r == i64::from(f::EINPROGRESS) { None } else { Some(r as c_int) })
}

/// aio_return of a finished job: (status, error). The job is gone afterwards.
pub fn reap(td: Thread, aiocb: usize) -> Result<(i64, c_int), Errno> {
    // SAFETY: as in queue.
    let (e, status) = with_retval(td, || unsafe {
        let mut a: f::aio_return_args = core::mem::zeroed();
        a.aiocbp = aiocb as *mut f::aiocb;
        f::sys_aio_return(td.as_ptr(), &mut a)
    });
    match e {
        0 => Ok((status, 0)),
        // The job was found and freed, and failed: its error is the call's error.
        e if status == -1 => Ok((-1, e)),
        e => Err(Errno::from_raw(e).unwrap_or(Errno::EINVAL)),
    }
}

/// aio_suspend on `nent` keys listed at user address `list`, with the user timespec at
/// `timeout`: Ok when one is done (or none exists), EAGAIN on timeout, EINTR.
pub fn suspend(td: Thread, list: usize, nent: usize, timeout: usize) -> Result<(), Errno> {
    // SAFETY: as in queue; the list and the timespec are user memory of the caller.
    let (e, _) = with_retval(td, || unsafe {
        let mut a: f::aio_suspend_args = core::mem::zeroed();
        a.aiocbp = list as _;
        a.nent = nent as c_int;
        a.timeout = timeout as *const f::timespec;
        f::sys_aio_suspend(td.as_ptr(), &mut a)
    });
    errno::check(e)
}

/// The file's status flags (F_GETFL, FreeBSD's O_* values); EBADF for a bad descriptor.
pub fn file_flags(td: Thread, fd: c_int) -> Result<u32, Errno> {
    // SAFETY: kern_fcntl with F_GETFL only reads the descriptor's flags.
    let (e, r) = with_retval(td, || unsafe { f::kern_fcntl(td.as_ptr(), fd, f::F_GETFL as c_int, 0) });
    errno::check(e)?;
    Ok(r as u32)
}

/// Whether `fd` is a regular file (kern_fstat): its I/O ends in a time of the disk's,
/// where a socket's, a pipe's or a terminal's may wait for data forever.
pub fn is_regular_file(td: Thread, fd: c_int) -> Result<bool, Errno> {
    // SAFETY: struct stat is plain C data; all-zero is a valid value to be overwritten.
    let mut sb: f::stat = unsafe { core::mem::zeroed() };
    // SAFETY: the calling thread, and a struct stat in kernel memory for the result;
    // kern_fstat only looks the descriptor up and fills `sb`.
    let e = unsafe { f::kern_fstat(td.as_ptr(), fd, &mut sb) };
    errno::check(e)?;
    Ok(u32::from(sb.st_mode) & f::S_IFMT == f::S_IFREG)
}

/// fsync(2) (`full`) or fdatasync(2) of `fd`, done in the calling thread (kern_fsync):
/// what a write with RWF_SYNC or RWF_DSYNC owes before its event may be seen.
pub fn sync_file(td: Thread, fd: c_int, full: bool) -> Result<(), Errno> {
    // SAFETY: the calling thread and a descriptor number; kern_fsync looks it up and
    // holds the file for the call.
    let e = unsafe { f::kern_fsync(td.as_ptr(), fd, full) };
    errno::check(e)
}

/// aio_cancel of the job whose aiocb is at `aiocb` on descriptor `fd`: AIO_CANCELED,
/// AIO_NOTCANCELED or AIO_ALLDONE. A cancelled job finishes with ECANCELED and must
/// still be reaped.
pub fn cancel(td: Thread, fd: c_int, aiocb: usize) -> Result<c_int, Errno> {
    // SAFETY: as in queue.
    let (e, r) = with_retval(td, || unsafe {
        let mut a: f::aio_cancel_args = core::mem::zeroed();
        a.fd = fd;
        a.aiocbp = aiocb as *mut f::aiocb;
        f::sys_aio_cancel(td.as_ptr(), &mut a)
    });
    errno::check(e)?;
    Ok(r as c_int)
}
