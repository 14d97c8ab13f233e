//! One Linux iocb, checked as Linux checks it and queued as a native FreeBSD job.
//!
//! Linux's checks, in Linux's order (fs/aio.c `io_submit_one`; reference/
//! linux-aio-semantics.md §1.4): reserved fields, the byte count, a free slot (EAGAIN),
//! the descriptor (EBADF), IOCB_FLAG_RESFD, writing `aio_key = 0` back (EFAULT), then by
//! opcode. The open mode (EBADF) and a negative offset (EINVAL) are checked by native
//! AIO when the job is queued, with the same errors.
//!
//! Buffered reads and writes complete inside io_submit on Linux (only O_DIRECT I/O is
//! asynchronous there), and programs rely on it: they submit, then ask for events with
//! min_nr 0 or a tiny timeout. So for a file without O_DIRECT, io_submit waits for the
//! native job to finish before it returns; its event is then ready. On a regular file
//! that wait ends with the I/O, as on Linux. On anything else (a socket, or with
//! vfs.aio.enable_unsafe a pipe or a terminal) the job can wait for data forever, so a
//! signal ends the wait, as it ends Linux's there: the event comes when the job
//! finishes, and io_destroy cancels such a job rather than wait for it.
//!
//! A write to a regular file with RWF_DSYNC or RWF_SYNC is complete on Linux only once
//! its data (and, for RWF_SYNC, its metadata) is on stable storage. Native AIO has no
//! such per-request flag, so io_submit waits for the write, O_DIRECT or not, and then
//! syncs the file (fdatasync or fsync) before the event is made visible; a failed sync
//! is the event's error, as Linux's generic_write_sync makes it. On anything but a
//! regular file such a write is refused (EOPNOTSUPP), see `queue`.

use crate::bindings::freebsd as f;
use crate::bindings::linux;
use crate::context::Context;
use crate::kernel::thread::Thread;
use crate::kernel::user::UserPtr;
use crate::kernel::Errno;
use crate::native::{self, Op};

/// The highest user address on amd64 (with 5-level paging; kernel addresses are far
/// above). A buffer past it is refused with EFAULT at submit time, as Linux's
/// access_ok does; a bad user buffer below it faults in the job instead (its event).
const USER_END: u64 = 0x0100_0000_0000_0000;

/// RWF_* bits (linux/fs.h). RWF_HIPRI is accepted and ignored (Linux's aio clears it
/// too); RWF_DSYNC and RWF_SYNC make a write to a regular file durable before its event
/// (reads ignore them, as Linux's do); RWF_NOWAIT, RWF_APPEND and newer bits are not
/// supported (EOPNOTSUPP).
const RWF_HIPRI: i32 = 0x1;
const RWF_DSYNC: i32 = 0x2;
const RWF_SYNC: i32 = 0x4;
const RWF_SUPPORTED: i32 = RWF_HIPRI | RWF_DSYNC | RWF_SYNC;

/// Queues `iocb` (read from user address `obj`) on `ctx`, in the caller's process.
pub fn submit_one(td: Thread, ctx: &Context, obj: u64, iocb: &linux::iocb) -> Result<(), Errno> {
    if iocb.aio_reserved2 != 0 {
        return Err(Errno::EINVAL);
    }
    if (iocb.aio_nbytes as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let queued = ctx
        .locked(|st| {
            let slot = st.alloc().ok_or(Errno::EAGAIN)?;
            match queue(td, ctx, slot, obj, iocb) {
                Ok(completion) => {
                    if let Some(s) = st.slots.get_mut(slot) {
                        s.obj = obj;
                        s.data = iocb.aio_data;
                        s.fd = iocb.aio_fildes as i32;
                        s.owned = matches!(completion, Completion::BoundedThenSync(_));
                    }
                    Ok((slot, completion))
                }
                Err(e) => {
                    st.free(slot);
                    Err(e)
                }
            }
        })
        .unwrap_or(Err(Errno::EINVAL))?;
    match queued {
        (_, Completion::Async) => {}
        (slot, how) => finish_now(td, ctx, slot, how),
    }
    Ok(())
}

/// Whether io_submit waits for a job it has queued, as Linux does the I/O inside
/// io_submit for everything but O_DIRECT files.
#[derive(Clone, Copy)]
enum Completion {
    /// Linux does it asynchronously (O_DIRECT, fsync): io_submit returns at once.
    Async,
    /// A regular file: the wait ends with the I/O.
    Bounded,
    /// A write to a regular file with RWF_SYNC (true) or RWF_DSYNC (false): the wait
    /// ends with the I/O, then the file is synced.
    BoundedThenSync(bool),
    /// Anything else: the I/O may wait for data forever; a signal ends the wait.
    Unbounded,
}

/// Where finish_now's look at the job left it.
enum Step {
    /// Still running: wait for it.
    Running,
    /// Finished and reaped (by this thread or another).
    Done,
    /// A write that wrote `res` bytes to `fd`, reaped natively, owed a sync before its
    /// slot finishes.
    Sync { res: i64, fd: i32, full: bool },
}

/// Waits until slot `slot`'s job has finished, and reaps it (`how` is not Async). For
/// Unbounded, a signal ends the wait and leaves the job in flight, marked for
/// io_destroy to cancel. For BoundedThenSync, a write that wrote something is made
/// durable (fsync when `full`, else fdatasync) before the slot finishes, as Linux's
/// generic_write_sync does for a positive count. Such a slot is `owned`: no other
/// thread reaps it, so its event cannot be seen before the sync, which runs without
/// the context's lock.
fn finish_now(td: Thread, ctx: &Context, slot: usize, how: Completion) {
    let interruptible = matches!(how, Completion::Unbounded);
    loop {
        let step = ctx
            .locked(|st| {
                if !st.slot(slot).is_some_and(|s| s.state == crate::context::SlotState::InFlight) {
                    return Step::Done; // another thread reaped it
                }
                match native::error(td, ctx.aiocb(slot)) {
                    Ok(None) => Step::Running,
                    _ => {
                        let res = crate::events::reaped_res(native::reap(td, ctx.aiocb(slot)));
                        if let Completion::BoundedThenSync(full) = how
                            && res > 0
                        {
                            return Step::Sync { res, fd: st.slot(slot).map_or(-1, |s| s.fd), full };
                        }
                        st.finish(slot, res);
                        Step::Done
                    }
                }
            })
            .unwrap_or(Step::Done);
        match step {
            Step::Running => {}
            Step::Done => return,
            Step::Sync { res, fd, full } => {
                // The descriptor is the program's: if it closes or replaces it while its
                // own io_submit is still running, the sync reaches what is there now
                // (Linux holds the file itself; the module holds only the number).
                let res = native::sync_file(td, fd, full).map_or_else(|e| -e.to_linux(), |()| res);
                ctx.locked(|st| st.finish(slot, res));
                return;
            }
        }
        // The slot's own one-entry key list; no timeout.
        let listed = UserPtr::<u64>::new(ctx.key_list(slot)).write(&(ctx.aiocb(slot) as u64));
        let waited = match listed {
            Ok(()) => native::suspend(td, ctx.key_list(slot), 1, 0),
            Err(e) => Err(e),
        };
        let interrupted = match waited {
            Ok(()) | Err(Errno::EAGAIN) => false,
            // The regular file's I/O ends soon: wait on, a signal staying pending.
            Err(_) if !interruptible => {
                crate::kernel::sleep::pause_ms(c"aiosync", 1);
                false
            }
            Err(Errno::EINTR) => true,
            // A fault on the key list: wait a little, still interruptibly.
            Err(_) => crate::kernel::sleep::pause_interruptible_ms(c"aiosync", 1).is_err(),
        };
        if interrupted {
            ctx.locked(|st| {
                if let Some(s) = st.slots.get_mut(slot)
                    && s.state == crate::context::SlotState::InFlight
                {
                    s.interrupted = true;
                }
            });
            // A thread must never be kept from a signal, SIGKILL above all, by a
            // request a program can make wait forever: the request stays in flight
            // and its event comes when it finishes.
            return;
        }
    }
}

/// Queues the job; says whether and how io_submit waits for it.
fn queue(td: Thread, ctx: &Context, slot: usize, obj: u64, iocb: &linux::iocb) -> Result<Completion, Errno> {
    let flags = native::file_flags(td, iocb.aio_fildes as i32)?;
    if iocb.aio_flags & linux::IOCB_FLAG_RESFD != 0 {
        // Completion through an eventfd is not implemented yet (README).
        return Err(Errno::EINVAL);
    }
    // Linux clears aio_key in the user's iocb; the iocb must be writable.
    let key = (obj as usize).checked_add(core::mem::offset_of!(linux::iocb, aio_key)).ok_or(Errno::EFAULT)?;
    UserPtr::<u32>::new(key).write(&0)?;
    let opcode = u32::from(iocb.aio_lio_opcode);
    let op = match opcode {
        linux::IOCB_CMD_PREAD => Op::Read,
        linux::IOCB_CMD_PWRITE => Op::Write,
        linux::IOCB_CMD_PREADV => Op::ReadV,
        linux::IOCB_CMD_PWRITEV => Op::WriteV,
        linux::IOCB_CMD_FSYNC | linux::IOCB_CMD_FDSYNC => {
            if iocb.aio_buf != 0 || iocb.aio_offset != 0 || iocb.aio_nbytes != 0 || iocb.aio_rw_flags != 0 {
                return Err(Errno::EINVAL);
            }
            let op = if opcode == linux::IOCB_CMD_FSYNC { Op::Sync } else { Op::DataSync };
            // Linux runs syncs in a workqueue: asynchronous.
            return start(td, ctx, slot, op, iocb).map(|()| Completion::Async);
        }
        // IOCB_CMD_POLL is not implemented yet (README); NOOP and unknown opcodes are
        // EINVAL, as on Linux 6.x.
        _ => return Err(Errno::EINVAL),
    };
    if iocb.aio_flags & linux::IOCB_FLAG_IOPRIO != 0 {
        check_ioprio(iocb.aio_reqprio as u16)?;
    }
    if iocb.aio_rw_flags & !RWF_SUPPORTED != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    // RWF_SYNC implies RWF_DSYNC (Linux sets both IOCB_DSYNC and IOCB_SYNC for it).
    let sync = match op {
        Op::Write | Op::WriteV if iocb.aio_rw_flags & RWF_SYNC != 0 => Some(true),
        Op::Write | Op::WriteV if iocb.aio_rw_flags & RWF_DSYNC != 0 => Some(false),
        _ => None,
    };
    match op {
        Op::Read | Op::Write => {
            if iocb.aio_buf.checked_add(iocb.aio_nbytes).is_none_or(|end| end > USER_END) {
                return Err(Errno::EFAULT);
            }
        }
        _ => check_iovecs(iocb.aio_buf, iocb.aio_nbytes)?,
    }
    // Decided before the job is queued: nothing may fail once it is.
    // (kern_fstat only where the answer matters: not on O_DIRECT's hot path.)
    let regular = || native::is_regular_file(td, iocb.aio_fildes as i32);
    let completion = if let Some(full) = sync {
        // Linux syncs a block device's writes too; a FreeBSD disk is a character
        // device, whose fsync does not flush the drive's cache, so the module refuses
        // what it cannot honour rather than pretend (and, for simplicity, on anything
        // that is not a regular file).
        if !regular()? {
            return Err(Errno::EOPNOTSUPP);
        }
        Completion::BoundedThenSync(full)
    } else if flags & f::O_DIRECT != 0 {
        Completion::Async
    } else if regular()? {
        Completion::Bounded
    } else {
        Completion::Unbounded
    };
    start(td, ctx, slot, op, iocb)?;
    Ok(completion)
}

/// Linux's ioprio_check_cap for IOCB_FLAG_IOPRIO: class in the top 3 bits.
fn check_ioprio(prio: u16) -> Result<(), Errno> {
    let (class, level) = (prio >> 13, prio & 0x1fff);
    match class {
        0 => Ok(()),                    // none
        1 => Err(Errno::EPERM),         // real time: needs CAP_SYS_ADMIN
        2 if level < 8 => Ok(()),       // best effort
        3 => Ok(()),                    // idle
        _ => Err(Errno::EINVAL),
    }
}

/// A vectored request's iovec array: at most UIO_MAXIOV entries (EINVAL), readable
/// (EFAULT), each buffer a user range (EFAULT).
fn check_iovecs(base: u64, count: u64) -> Result<(), Errno> {
    if count > u64::from(f::UIO_MAXIOV) {
        return Err(Errno::EINVAL);
    }
    for k in 0..count {
        let at = base.checked_add(k * 16).ok_or(Errno::EFAULT)?;
        let iov_base = UserPtr::<u64>::new(at as usize).read()?;
        let iov_len = UserPtr::<u64>::new((at as usize).checked_add(8).ok_or(Errno::EFAULT)?).read()?;
        if iov_base.checked_add(iov_len).is_none_or(|end| end > USER_END) {
            return Err(Errno::EFAULT);
        }
    }
    Ok(())
}

/// Writes slot `slot`'s native aiocb into the context's user area and queues it.
fn start(td: Thread, ctx: &Context, slot: usize, op: Op, iocb: &linux::iocb) -> Result<(), Errno> {
    // SAFETY: struct aiocb is plain C data; all-zero is SIGEV_NONE with no fields set.
    let mut cb: f::aiocb = unsafe { core::mem::zeroed() };
    cb.aio_fildes = iocb.aio_fildes as i32;
    cb.aio_offset = iocb.aio_offset;
    // For vectored requests FreeBSD reads aio_iov/aio_iovcnt from these two fields, and
    // struct iovec is the same on both systems.
    cb.aio_buf = iocb.aio_buf as usize as *mut core::ffi::c_void;
    cb.aio_nbytes = iocb.aio_nbytes as usize;
    write_aiocb(ctx.aiocb(slot), &cb)?;
    native::queue(td, op, ctx.aiocb(slot))
}

fn write_aiocb(addr: usize, cb: &f::aiocb) -> Result<(), Errno> {
    // SAFETY: copyout of the aiocb's bytes to the context's own user area.
    let e = unsafe { f::copyout((cb as *const f::aiocb).cast(), addr as *mut core::ffi::c_void, core::mem::size_of::<f::aiocb>()) };
    crate::kernel::errno::check(e)
}
