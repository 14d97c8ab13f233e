//! Native AIO (sys/kern/vfs_aio.c), as a module reaches it through the system call
//! entry points `sys_aio_read`, `sys_aio_write`, `sys_aio_readv`, `sys_aio_writev`,
//! `sys_aio_fsync`, `sys_aio_error`, `sys_aio_return`, `sys_aio_cancel` and
//! `sys_aio_suspend`, over real file descriptors and real I/O.
//!
//! Modelled after FreeBSD's sources (reference/freebsd-kpi.md §1):
//! - the `struct aiocb` is read from **user** memory (a kernel address is EFAULT), and
//!   its pointer is the job's key; status −1 and error 0 are written back to it before
//!   the limits are checked, and status and error again when the job is reaped;
//! - limits: `max_aio_queue_per_proc` (256) and `max_aio_queue` (1024) jobs, counted
//!   until reaped, give EAGAIN; at most `max_aio_per_proc` (32) of a process's jobs run
//!   at once, in daemons (here: worker threads of the process);
//! - file types: regular files, directories, block devices and sockets are safe; pipes,
//!   FIFOs, ttys, eventfds and other special files get EOPNOTSUPP unless
//!   `vfs.aio.enable_unsafe` is set; an fd without the right access is EBADF;
//! - a job holds its own reference to the file (the fd may be closed meanwhile);
//! - `aio_fsync` waits for the process's earlier jobs on the same file;
//! - `aio_error` answers EINPROGRESS until the job is done; `aio_return` frees a done
//!   job and returns its error (its status in td_retval), EINVAL for anything else;
//! - `aio_cancel` cancels queued jobs (they complete with ECANCELED and must still be
//!   reaped): AIO_CANCELED, AIO_NOTCANCELED when one was already running, AIO_ALLDONE;
//! - `aio_suspend` returns when a listed job is done or none of the listed keys exists
//!   any more, EAGAIN on timeout, EINTR on a signal;
//! - at process exit and exec, the rundown cancels the queued jobs and waits for the
//!   running ones (a kernel event handler registered at boot, at EVENTHANDLER_PRI_ANY).
//!
//! Notification: SIGEV_NONE. SIGEV_KEVENT, SIGEV_SIGNAL and SIGEV_THREAD_ID are not
//! modelled yet; a module that asks for them gets EINVAL and a finding.

use super::{sleep, usermem};
use crate::freebsd::common as f;
use crate::kernel::{config, violation};
use crate::linuxulator::curproc;
use std::ffi::{c_int, c_long, c_void};
use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

pub const MAX_AIO_QUEUE_PER_PROC: usize = 256;
pub const MAX_AIO_QUEUE: usize = 1024;
pub const MAX_AIO_PER_PROC: usize = 32;
pub const MAX_AIO_PROCS: usize = 32;
/// UIO_MAXIOV (sys/uio.h).
const UIO_MAXIOV: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Read,
    Write,
    ReadV,
    WriteV,
    Sync,
    DSync,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Queued,
    Running,
    Done,
}

#[derive(Debug)]
struct Job {
    seq: u64,
    proc_: usize,
    ujob: usize,
    /// Our own reference to the file (a dup of the fd).
    file: c_int,
    fd: c_int,
    op: Op,
    offset: i64,
    /// Whether the file has offsets (a pipe or socket does not: the I/O ignores it).
    seekable: bool,
    iov: Vec<(usize, usize)>,
    state: State,
    status: i64,
    error: c_int,
    /// Whether the file is a socket: its jobs wait for the socket to be ready, as
    /// soaio's jobs wait on the socket buffer, and can be cancelled while they do
    /// (`waiting`, `cancel`). A pipe's job (vfs.aio.enable_unsafe) runs in a daemon,
    /// blocked in its read, and cannot.
    socket: bool,
    waiting: bool,
    cancel: bool,
}

#[derive(Default)]
struct Aio {
    jobs: Vec<Job>,
    seq: u64,
    workers: usize,
    /// A daemon is spinning for work (`SPIN`): a job queued meanwhile needs no wakeup.
    spinner: bool,
}

/// How long an idle daemon polls for work before it sleeps. Waking a sleeping thread
/// costs the model (a futex wake and two context switches, dear in a virtual machine)
/// far more than the job; a daemon that polls briefly takes the next job of a program
/// that submits one request at a time without either. The model's speed only: what a
/// job does and when it may run is unchanged.
const SPIN: std::time::Duration = std::time::Duration::from_micros(100);
/// Bumped for every job queued: what a spinning daemon watches.
static QUEUED: AtomicUsize = AtomicUsize::new(0);

static AIO: Mutex<Option<Aio>> = Mutex::new(None);
static WORK: Condvar = Condvar::new();
/// `vfs.aio.enable_unsafe`.
pub static ENABLE_UNSAFE: AtomicUsize = AtomicUsize::new(0);

fn with<R>(f: impl FnOnce(&mut Aio) -> R) -> R {
    let mut a = AIO.lock().unwrap_or_else(|e| e.into_inner());
    f(a.get_or_insert_with(Aio::default))
}

pub fn reset() {
    let files: Vec<c_int> = with(|a| a.jobs.drain(..).map(|j| j.file).collect());
    for fd in files {
        // SAFETY: our own dup of a job's fd.
        unsafe { libc::close(fd) };
    }
    ENABLE_UNSAFE.store(0, Ordering::Relaxed);
}

/// The channel aio_suspend sleeps on: `&p->p_aioinfo`.
fn channel(proc_: usize) -> *const c_void {
    (proc_ + offset_of!(f::proc_, p_aioinfo)) as *const c_void
}

fn set_retval(td: *mut f::thread, v: i64) {
    // SAFETY: td_retval[0] of the caller's thread.
    unsafe { *((td as usize + config().major.td_retval) as *mut i64) = v };
}

/// The errno a Linux system call gave, as FreeBSD's.
fn bsd_errno(linux: c_int) -> c_int {
    match linux {
        libc::EAGAIN => f::EAGAIN as c_int,
        libc::EOPNOTSUPP => f::EOPNOTSUPP as c_int,
        libc::EDEADLK => f::EDEADLK as c_int,
        libc::ECANCELED => f::ECANCELED as c_int,
        libc::EOVERFLOW => f::EOVERFLOW as c_int,
        1..=34 => linux,
        other => {
            violation(format!("Linux errno {other} from a job has no FreeBSD errno in the model"));
            f::EIO as c_int
        }
    }
}

fn last_errno() -> c_int {
    bsd_errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
}

// ---- user aiocb write-backs (the native ops' store_status/store_error) ----

fn store(ujob: usize, status: Option<c_long>, error: Option<c_long>) {
    let base = ujob + offset_of!(f::aiocb, _aiocb_private);
    if let Some(s) = status {
        usermem::write_user(base + offset_of!(f::__aiocb_private, status), (&raw const s).cast(), 8);
    }
    if let Some(e) = error {
        usermem::write_user(base + offset_of!(f::__aiocb_private, error), (&raw const e).cast(), 8);
    }
}

// ---- submission (aio_aqueue) ----

fn queue(td: *mut f::thread, ujob: usize, op: Op) -> c_int {
    let mut cb = std::mem::MaybeUninit::<f::aiocb>::zeroed();
    if !usermem::read_user(ujob, cb.as_mut_ptr().cast(), size_of::<f::aiocb>()) {
        return f::EFAULT as c_int;
    }
    // SAFETY: fully read from user memory above; every bit pattern is a valid aiocb.
    let cb = unsafe { cb.assume_init() };
    store(ujob, Some(-1), Some(0));
    let fail = |e: u32| {
        store(ujob, None, Some(e as c_long));
        e as c_int
    };
    let p = curproc() as usize;
    let (mine, all) = with(|a| (a.jobs.iter().filter(|j| j.proc_ == p).count(), a.jobs.len()));
    if all >= MAX_AIO_QUEUE || mine >= MAX_AIO_QUEUE_PER_PROC {
        return fail(f::EAGAIN);
    }
    if cb.aio_nbytes > isize::MAX as usize && matches!(op, Op::Read | Op::Write) {
        return fail(f::EINVAL);
    }
    match cb.aio_sigevent.sigev_notify as u32 {
        f::SIGEV_NONE => {}
        f::SIGEV_KEVENT | f::SIGEV_SIGNAL | f::SIGEV_THREAD_ID => {
            violation(format!("sigev_notify {}: not modelled yet", cb.aio_sigevent.sigev_notify));
            return fail(f::EINVAL);
        }
        _ => return fail(f::EINVAL),
    }
    // The file: a descriptor of the process with the access the operation needs.
    let fd = cb.aio_fildes;
    // SAFETY: fcntl and fstat on an fd number; both only report.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return fail(f::EBADF);
    }
    let mode = flags & libc::O_ACCMODE;
    let wants_write = matches!(op, Op::Write | Op::WriteV);
    let wants_read = matches!(op, Op::Read | Op::ReadV);
    if (wants_read && mode == libc::O_WRONLY) || (wants_write && mode == libc::O_RDONLY) || flags & libc::O_PATH != 0 {
        return fail(f::EBADF);
    }
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return fail(f::EBADF);
    }
    // SAFETY: filled by fstat.
    let kind = unsafe { st.assume_init() }.st_mode & libc::S_IFMT;
    let is_sync = matches!(op, Op::Sync | Op::DSync);
    if is_sync && !matches!(kind, libc::S_IFREG | libc::S_IFDIR | libc::S_IFBLK) {
        return fail(f::EINVAL);
    }
    let safe = matches!(kind, libc::S_IFREG | libc::S_IFDIR | libc::S_IFBLK | libc::S_IFSOCK);
    if !safe && ENABLE_UNSAFE.load(Ordering::Relaxed) == 0 {
        return fail(f::EOPNOTSUPP);
    }
    if !is_sync && cb.aio_offset < 0 && kind != libc::S_IFCHR {
        return fail(f::EINVAL);
    }
    // The buffers: one, or an iovec array read from user memory (copyinuio).
    let iov = match op {
        Op::Read | Op::Write => vec![(cb.aio_buf as usize, cb.aio_nbytes)],
        Op::ReadV | Op::WriteV => {
            let n = cb.aio_nbytes;
            if n > UIO_MAXIOV {
                return fail(f::EINVAL);
            }
            let mut v = vec![f::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; n];
            if !usermem::read_user(cb.aio_buf as usize, v.as_mut_ptr().cast(), n * size_of::<f::iovec>()) {
                return fail(f::EFAULT);
            }
            let total = v.iter().try_fold(0usize, |t, e| t.checked_add(e.iov_len).filter(|&t| t <= isize::MAX as usize));
            if total.is_none() {
                return fail(f::EINVAL);
            }
            v.iter().map(|e| (e.iov_base as usize, e.iov_len)).collect()
        }
        Op::Sync | Op::DSync => vec![],
    };
    // SAFETY: dup of a valid fd: the job's own reference to the file.
    let file = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if file < 0 {
        return fail(f::EBADF);
    }
    let wake = with(|a| {
        a.seq += 1;
        let seq = a.seq;
        let seekable = matches!(kind, libc::S_IFREG | libc::S_IFDIR | libc::S_IFBLK);
        a.jobs.push(Job { seq, proc_: p, ujob, file, fd, op, offset: cb.aio_offset, seekable, iov, state: State::Queued, status: 0, error: 0, socket: kind == libc::S_IFSOCK, waiting: false, cancel: false });
        QUEUED.fetch_add(1, Ordering::AcqRel);
        if a.workers < MAX_AIO_PROCS {
            a.workers += 1;
            std::thread::spawn(worker);
        }
        // A spinning daemon takes one job; a second one queued needs a sleeper woken.
        !a.spinner || a.jobs.iter().filter(|j| j.state == State::Queued).count() > 1
    });
    // One idle daemon is enough for one job (waking all of them for each job made the
    // model spend its time in futex wakeups).
    if wake {
        WORK.notify_one();
    }
    set_retval(td, 0);
    0
}

/// An aiod: runs jobs, at most MAX_AIO_PER_PROC of one process at a time; an fsync
/// job only once the process's earlier jobs on that file are done.
fn worker() {
    loop {
        let job = {
            let mut a = AIO.lock().unwrap_or_else(|e| e.into_inner());
            // Whether this daemon may still spin before it sleeps, and whether it is
            // the spinner now.
            let (mut may_spin, mut spinning) = (true, false);
            loop {
                let aio = a.get_or_insert_with(Aio::default);
                if spinning {
                    aio.spinner = false;
                    spinning = false;
                }
                let running = |p: usize| aio.jobs.iter().filter(|j| j.proc_ == p && j.state == State::Running).count();
                let pick = aio.jobs.iter().position(|j| {
                    j.state == State::Queued
                        && running(j.proc_) < MAX_AIO_PER_PROC
                        && (!matches!(j.op, Op::Sync | Op::DSync)
                            || !aio.jobs.iter().any(|e| e.seq < j.seq && e.proc_ == j.proc_ && e.fd == j.fd && e.state != State::Done))
                });
                if let Some(i) = pick {
                    let j = &mut aio.jobs[i];
                    j.state = State::Running;
                    break (j.seq, j.file, j.op, j.offset.max(0), j.seekable, j.socket, j.iov.clone());
                }
                if may_spin && !aio.spinner {
                    aio.spinner = true;
                    (may_spin, spinning) = (false, true);
                    let seen = QUEUED.load(Ordering::Acquire);
                    drop(a);
                    let until = std::time::Instant::now() + SPIN;
                    while QUEUED.load(Ordering::Acquire) == seen && std::time::Instant::now() < until {
                        // Yielding, not spinning: on one CPU the submitter must get to run.
                        std::thread::yield_now();
                    }
                    a = AIO.lock().unwrap_or_else(|e| e.into_inner());
                    continue;
                }
                a = WORK.wait(a).unwrap_or_else(|e| e.into_inner());
                may_spin = true;
            }
        };
        let (seq, file, op, offset, seekable, socket, iov) = job;
        let (status, error) = if !socket || ready(seq, file, op) {
            run(file, op, seekable.then_some(offset), &iov)
        } else {
            (-1, f::ECANCELED as c_int)
        };
        let (proc_, held_back) = with(|a| {
            let p = a.jobs.iter_mut().find(|j| j.seq == seq).map(|j| {
                j.state = State::Done;
                j.status = status;
                j.error = error;
                j.proc_
            });
            (p, a.jobs.iter().any(|j| j.state == State::Queued))
        });
        // This daemon looks for more work itself; one more may be needed where the job
        // was holding others back (the per-process limit, fsync ordering). Waking a
        // daemon when nothing is queued only costs a futex round trip per job.
        if held_back {
            WORK.notify_one();
        }
        if let Some(p) = proc_ {
            // SAFETY: the channel is an address; wakeup only compares it.
            unsafe { sleep::wakeup(channel(p)) };
        }
    }
}

/// Waits until a socket is ready for the job's I/O; false when the job was cancelled
/// meanwhile (FreeBSD cancels a socket job that still waits for data).
fn ready(seq: u64, file: c_int, op: Op) -> bool {
    let events = match op {
        Op::Read | Op::ReadV => libc::POLLIN,
        Op::Write | Op::WriteV => libc::POLLOUT,
        Op::Sync | Op::DSync => return true,
    };
    let set_waiting = |w: bool| {
        with(|a| {
            a.jobs.iter_mut().find(|j| j.seq == seq).map(|j| {
                j.waiting = w;
                j.cancel
            })
        })
    };
    set_waiting(true);
    loop {
        let mut p = libc::pollfd { fd: file, events, revents: 0 };
        // SAFETY: one pollfd of ours; a short timeout, to look at `cancel`.
        let n = unsafe { libc::poll(&mut p, 1, 20) };
        if set_waiting(n == 0).unwrap_or(true) {
            return false;
        }
        if n != 0 {
            return true;
        }
    }
}

/// The I/O itself, on the job's own file reference.
fn run(file: c_int, op: Op, offset: Option<i64>, iov: &[(usize, usize)]) -> (i64, c_int) {
    // The daemon copies to and from user memory: a kernel address there is EFAULT.
    if iov.iter().any(|&(b, l)| crate::arena::touches_kernel(b, l)) {
        return (-1, f::EFAULT as c_int);
    }
    let v: Vec<libc::iovec> = iov.iter().map(|&(b, l)| libc::iovec { iov_base: b as *mut c_void, iov_len: l }).collect();
    // SAFETY: I/O on the process's own memory and file, as the aiod does it with the
    // submitter's address space; faults come back as EFAULT.
    let r = unsafe {
        match op {
            Op::Read | Op::ReadV => match offset {
                Some(o) => libc::preadv(file, v.as_ptr(), v.len() as c_int, o),
                None => libc::readv(file, v.as_ptr(), v.len() as c_int),
            },
            Op::Write | Op::WriteV => match offset {
                Some(o) => libc::pwritev(file, v.as_ptr(), v.len() as c_int, o),
                None => libc::writev(file, v.as_ptr(), v.len() as c_int),
            },
            Op::Sync => libc::fsync(file) as isize,
            Op::DSync => libc::fdatasync(file) as isize,
        }
    };
    if r < 0 { (-1, last_errno()) } else { (r as i64, 0) }
}

// ---- the system call entry points ----

unsafe fn ujob_arg(uap: *const c_void) -> usize {
    // SAFETY: every aio_*_args starts with the aiocb pointer slot (sysproto.h).
    unsafe { *(uap as *const usize) }
}

pub unsafe extern "C" fn sys_aio_read(td: *mut f::thread, uap: *mut f::aio_read_args) -> c_int {
    queue(td, unsafe { ujob_arg(uap.cast()) }, Op::Read)
}

pub unsafe extern "C" fn sys_aio_write(td: *mut f::thread, uap: *mut f::aio_write_args) -> c_int {
    queue(td, unsafe { ujob_arg(uap.cast()) }, Op::Write)
}

pub unsafe extern "C" fn sys_aio_readv(td: *mut f::thread, uap: *mut f::aio_readv_args) -> c_int {
    queue(td, unsafe { ujob_arg(uap.cast()) }, Op::ReadV)
}

pub unsafe extern "C" fn sys_aio_writev(td: *mut f::thread, uap: *mut f::aio_writev_args) -> c_int {
    queue(td, unsafe { ujob_arg(uap.cast()) }, Op::WriteV)
}

pub unsafe extern "C" fn sys_aio_fsync(td: *mut f::thread, uap: *mut f::aio_fsync_args) -> c_int {
    // SAFETY: the caller's args: op, then the aiocb pointer.
    let (op, ujob) = unsafe { ((*uap).op, (*uap).aiocbp as usize) };
    match op as u32 {
        f::O_SYNC => queue(td, ujob, Op::Sync),
        f::O_DSYNC => queue(td, ujob, Op::DSync),
        _ => f::EINVAL as c_int,
    }
}

pub unsafe extern "C" fn sys_aio_error(td: *mut f::thread, uap: *mut f::aio_error_args) -> c_int {
    let ujob = unsafe { ujob_arg(uap.cast()) };
    let p = curproc() as usize;
    let found = with(|a| a.jobs.iter().find(|j| j.proc_ == p && j.ujob == ujob).map(|j| (j.state, j.error)));
    match found {
        Some((State::Done, e)) => set_retval(td, i64::from(e)),
        Some(_) => set_retval(td, i64::from(f::EINPROGRESS)),
        None => {
            // Not a job: what a failed enqueue left in the user aiocb.
            let base = ujob + offset_of!(f::aiocb, _aiocb_private);
            let (mut status, mut error): (c_long, c_long) = (0, 0);
            let ok = usermem::read_user(base + offset_of!(f::__aiocb_private, status), (&raw mut status).cast(), 8)
                && usermem::read_user(base + offset_of!(f::__aiocb_private, error), (&raw mut error).cast(), 8);
            if !ok {
                return f::EFAULT as c_int;
            }
            set_retval(td, if status == -1 { error } else { i64::from(f::EINVAL) });
        }
    }
    0
}

pub unsafe extern "C" fn sys_aio_return(td: *mut f::thread, uap: *mut f::aio_return_args) -> c_int {
    let ujob = unsafe { ujob_arg(uap.cast()) };
    let p = curproc() as usize;
    let job = with(|a| {
        let i = a.jobs.iter().position(|j| j.proc_ == p && j.ujob == ujob && j.state == State::Done)?;
        Some(a.jobs.remove(i))
    });
    let Some(job) = job else { return f::EINVAL as c_int };
    // SAFETY: the job's own dup.
    unsafe { libc::close(job.file) };
    set_retval(td, job.status);
    store(ujob, Some(job.status), Some(c_long::from(job.error)));
    job.error
}

pub unsafe extern "C" fn sys_aio_cancel(td: *mut f::thread, uap: *mut f::aio_cancel_args) -> c_int {
    // SAFETY: the caller's args.
    let (fd, ujob) = unsafe { ((*uap).fd, (*uap).aiocbp as usize) };
    // SAFETY: fcntl only reports.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return f::EBADF as c_int;
    }
    let p = curproc() as usize;
    let (cancelled, not) = with(|a| {
        let (mut c, mut n) = (0, 0);
        for j in a.jobs.iter_mut().filter(|j| j.proc_ == p && j.fd == fd && (ujob == 0 || j.ujob == ujob)) {
            match j.state {
                State::Queued => {
                    j.state = State::Done;
                    j.status = -1;
                    j.error = f::ECANCELED as c_int;
                    c += 1;
                }
                // Its daemon sees the flag and finishes it with ECANCELED.
                State::Running if j.waiting && !j.cancel => {
                    j.cancel = true;
                    c += 1;
                }
                State::Running => n += 1,
                State::Done => {}
            }
        }
        (c, n)
    });
    if cancelled > 0 {
        // SAFETY: an address for wakeup to compare.
        unsafe { sleep::wakeup(channel(p)) };
    }
    let r = if not > 0 {
        f::AIO_NOTCANCELED
    } else if cancelled > 0 {
        f::AIO_CANCELED
    } else {
        f::AIO_ALLDONE
    };
    set_retval(td, i64::from(r));
    0
}

pub unsafe extern "C" fn sys_aio_suspend(td: *mut f::thread, uap: *mut f::aio_suspend_args) -> c_int {
    // SAFETY: the caller's args.
    let (list, nent, timeout) = unsafe { ((*uap).aiocbp as usize, (*uap).nent, (*uap).timeout as usize) };
    if nent < 0 || nent as usize > MAX_AIO_QUEUE_PER_PROC {
        return f::EINVAL as c_int;
    }
    let mut keys = vec![0usize; nent as usize];
    if !usermem::read_user(list, keys.as_mut_ptr().cast(), keys.len() * 8) {
        return f::EFAULT as c_int;
    }
    let mut sbt: f::sbintime_t = 0;
    if timeout != 0 {
        let mut ts = [0i64; 2];
        if !usermem::read_user(timeout, ts.as_mut_ptr().cast(), 16) {
            return f::EFAULT as c_int;
        }
        if ts[0] < 0 || !(0..1_000_000_000).contains(&ts[1]) {
            return f::EINVAL as c_int;
        }
        // A zero timeout polls: one look, then EAGAIN.
        sbt = (i64::from(ts[0] as i32) << 32) + ((ts[1] << 32) / 1_000_000_000);
        if sbt == 0 {
            sbt = -1;
        }
    }
    let p = curproc() as usize;
    let keys: Vec<usize> = keys.into_iter().filter(|&k| k != 0).collect();
    let satisfied = || {
        with(|a| {
            let mut mine = a.jobs.iter().filter(|j| j.proc_ == p && keys.contains(&j.ujob)).peekable();
            mine.peek().is_none() || mine.any(|j| j.state == State::Done)
        })
    };
    if satisfied() {
        set_retval(td, 0);
        return 0;
    }
    if sbt < 0 {
        return f::EAGAIN as c_int;
    }
    // The check and the sleep are one step, as vfs_aio's under its mutex ("aiospn").
    let timeout = (sbt > 0).then(|| std::time::Duration::from_nanos(((i128::from(sbt) * 1_000_000_000) >> 32) as u64));
    match sleep::sleep_until(channel(p) as usize, timeout, true, satisfied) {
        0 => {
            set_retval(td, 0);
            0
        }
        e if e == f::EWOULDBLOCK as c_int => f::EAGAIN as c_int,
        _ => f::EINTR as c_int,
    }
}

/// The rundown at process exit and exec: queued jobs cancelled, running ones waited
/// for, then every job of the process freed (aio_proc_rundown).
pub fn rundown(proc_: usize) {
    with(|a| {
        for j in a.jobs.iter_mut().filter(|j| j.proc_ == proc_ && j.state == State::Queued) {
            j.state = State::Done;
            j.status = -1;
            j.error = f::ECANCELED as c_int;
        }
    });
    loop {
        let running = with(|a| a.jobs.iter().any(|j| j.proc_ == proc_ && j.state == State::Running));
        if !running {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let files: Vec<c_int> = with(|a| {
        let (gone, keep): (Vec<Job>, Vec<Job>) = a.jobs.drain(..).partition(|j| j.proc_ == proc_);
        a.jobs = keep;
        gone.into_iter().map(|j| j.file).collect()
    });
    for fd in files {
        // SAFETY: our own dups.
        unsafe { libc::close(fd) };
    }
}

/// A test's view of the jobs: (key, done) for the calling process.
pub fn jobs() -> Vec<(usize, bool)> {
    let p = curproc() as usize;
    with(|a| a.jobs.iter().filter(|j| j.proc_ == p).map(|j| (j.ujob, j.state == State::Done)).collect())
}

