//! The native AIO model's own behaviour (sys_aio_* over real files), as FreeBSD's
//! vfs_aio.c behaves: user-memory aiocbs, limits, file types, error/return/cancel and
//! suspend rules, fsync ordering, and the rundown at process exit.

use kldhost::freebsd::common as f;
use kldhost::kernel::{self, Config};
use kldhost::kpi::{aio, eventhandler, signal};
use kldhost::{arena, linuxulator};
use std::ffi::c_int;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn boot() -> std::sync::MutexGuard<'static, ()> {
    let k = kernel::exclusive();
    kernel::boot(Config::new(15).unwrap());
    k
}

fn retval() -> i64 {
    let td = linuxulator::curthread();
    unsafe { *((td as usize + kernel::config().major.td_retval) as *const i64) }
}

/// A zeroed aiocb in user memory (a Box of this process).
fn aiocb(fd: c_int, buf: *mut u8, n: usize, off: i64) -> Box<f::aiocb> {
    let mut cb: Box<f::aiocb> = Box::new(unsafe { std::mem::zeroed() });
    cb.aio_fildes = fd;
    cb.aio_buf = buf.cast();
    cb.aio_nbytes = n;
    cb.aio_offset = off;
    cb
}

fn args1(cb: *mut f::aiocb) -> [usize; 8] {
    let mut a = [0usize; 8];
    a[0] = cb as usize;
    a
}

fn read(cb: &mut f::aiocb) -> c_int {
    let mut a = args1(cb);
    unsafe { aio::sys_aio_read(linuxulator::curthread(), a.as_mut_ptr().cast()) }
}

fn write(cb: &mut f::aiocb) -> c_int {
    let mut a = args1(cb);
    unsafe { aio::sys_aio_write(linuxulator::curthread(), a.as_mut_ptr().cast()) }
}

fn error(cb: &mut f::aiocb) -> i64 {
    let mut a = args1(cb);
    assert_eq!(unsafe { aio::sys_aio_error(linuxulator::curthread(), a.as_mut_ptr().cast()) }, 0);
    retval()
}

/// aio_return: (its errno, its status).
fn ret(cb: &mut f::aiocb) -> (c_int, i64) {
    let mut a = args1(cb);
    let e = unsafe { aio::sys_aio_return(linuxulator::curthread(), a.as_mut_ptr().cast()) };
    (e, retval())
}

fn suspend(cbs: &[*const f::aiocb], timeout: Option<(i64, i64)>) -> c_int {
    let ts = timeout.map(|(s, n)| Box::new([s, n]));
    let mut a = [0usize; 8];
    a[0] = cbs.as_ptr() as usize;
    a[1] = cbs.len();
    a[2] = ts.as_ref().map_or(0, |t| t.as_ptr() as usize);
    unsafe { aio::sys_aio_suspend(linuxulator::curthread(), a.as_mut_ptr().cast()) }
}

fn cancel(fd: c_int, cb: *mut f::aiocb) -> i64 {
    let mut a = [0usize; 8];
    a[0] = fd as usize;
    a[1] = cb as usize;
    assert_eq!(unsafe { aio::sys_aio_cancel(linuxulator::curthread(), a.as_mut_ptr().cast()) }, 0);
    retval()
}

fn wait_done(cb: &mut f::aiocb) {
    let start = Instant::now();
    while error(cb) == i64::from(f::EINPROGRESS) {
        assert!(start.elapsed() < Duration::from_secs(10), "job never finished");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn tempfile() -> std::fs::File {
    let path = std::env::temp_dir().join(format!("kldhost-aio-{}-{:?}", std::process::id(), std::thread::current().id()));
    let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    f
}

#[test]
fn write_then_read_a_file_and_reap_with_return() {
    let _k = boot();
    let file = tempfile();
    let mut data = *b"hello, native aio";
    let mut w = aiocb(file.as_raw_fd(), data.as_mut_ptr(), data.len(), 100);
    assert_eq!(write(&mut w), 0);
    assert_eq!(suspend(&[&*w], Some((5, 0))), 0);
    wait_done(&mut w);
    assert_eq!(error(&mut w), 0);
    assert_eq!(ret(&mut w), (0, data.len() as i64));
    assert_eq!(w._aiocb_private.status, data.len() as i64, "status stored back in the user aiocb");
    assert_eq!(ret(&mut w).0, f::EINVAL as c_int, "a reaped job is gone");

    let mut back = [0u8; 17];
    let mut r = aiocb(file.as_raw_fd(), back.as_mut_ptr(), back.len(), 100);
    assert_eq!(read(&mut r), 0);
    wait_done(&mut r);
    assert_eq!(ret(&mut r), (0, 17));
    assert_eq!(&back, b"hello, native aio");

    // Past the end: 0 bytes, no error.
    let mut r = aiocb(file.as_raw_fd(), back.as_mut_ptr(), back.len(), 4096);
    assert_eq!(read(&mut r), 0);
    wait_done(&mut r);
    assert_eq!(ret(&mut r), (0, 0));
    assert!(kernel::violations().is_empty(), "{:?}", kernel::violations());
}

#[test]
fn an_aiocb_in_kernel_memory_is_efault() {
    let _k = boot();
    let file = tempfile();
    let k = arena::arena().alloc(std::mem::size_of::<f::aiocb>(), 16).unwrap().as_ptr().cast::<f::aiocb>();
    unsafe { (*k).aio_fildes = file.as_raw_fd() };
    let mut a = args1(k);
    assert_eq!(unsafe { aio::sys_aio_read(linuxulator::curthread(), a.as_mut_ptr().cast()) }, f::EFAULT as c_int);
    assert!(aio::jobs().is_empty());
}

#[test]
fn wrong_access_bad_fd_bad_offset_and_unsafe_file_types() {
    let _k = boot();
    let path = std::env::temp_dir().join(format!("kldhost-ro-{}", std::process::id()));
    std::fs::write(&path, b"x").unwrap();
    let ro = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut buf = [0u8; 4];
    let mut cb = aiocb(ro.as_raw_fd(), buf.as_mut_ptr(), 4, 0);
    assert_eq!(write(&mut cb), f::EBADF as c_int, "write on a read-only fd");
    assert_eq!(cb._aiocb_private.status, -1);
    assert_eq!(cb._aiocb_private.error, i64::from(f::EBADF), "the failed enqueue's error is in the aiocb");
    assert_eq!(error(&mut cb), i64::from(f::EBADF), "aio_error reads it from there");
    let mut cb = aiocb(-1, buf.as_mut_ptr(), 4, 0);
    assert_eq!(read(&mut cb), f::EBADF as c_int);
    let mut cb = aiocb(ro.as_raw_fd(), buf.as_mut_ptr(), 4, -1);
    assert_eq!(read(&mut cb), f::EINVAL as c_int, "negative offset");

    let (rd, _wr) = std::io::pipe().unwrap();
    let mut cb = aiocb(rd.as_raw_fd(), buf.as_mut_ptr(), 4, 0);
    assert_eq!(read(&mut cb), f::EOPNOTSUPP as c_int, "a pipe is unsafe");
    assert!(aio::jobs().is_empty());
}

#[test]
fn limits_cancel_and_suspend_with_jobs_that_block() {
    let _k = boot();
    aio::ENABLE_UNSAFE.store(1, Ordering::Relaxed);
    let (rd, mut wr) = std::io::pipe().unwrap();
    let mut bufs = vec![[0u8; 1]; aio::MAX_AIO_QUEUE_PER_PROC + 1];
    let mut cbs: Vec<Box<f::aiocb>> = bufs.iter_mut().map(|b| aiocb(rd.as_raw_fd(), b.as_mut_ptr(), 1, 0)).collect();
    for (i, cb) in cbs.iter_mut().enumerate().take(aio::MAX_AIO_QUEUE_PER_PROC) {
        assert_eq!(read(cb), 0, "job {i}");
    }
    let last = cbs.len() - 1;
    assert_eq!(read(&mut cbs[last]), f::EAGAIN as c_int, "max_aio_queue_per_proc");
    std::thread::sleep(Duration::from_millis(100));
    // 32 run (blocked in the pipe), the rest wait their turn.
    assert_eq!(error(&mut cbs[0]), i64::from(f::EINPROGRESS));
    assert_eq!(ret(&mut cbs[0]).0, f::EINVAL as c_int, "aio_return on a job in progress");

    // Suspend: a timeout, a poll, a signal.
    let started = Instant::now();
    assert_eq!(suspend(&[&*cbs[0]], Some((0, 30_000_000))), f::EAGAIN as c_int);
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert_eq!(suspend(&[&*cbs[0]], Some((0, 0))), f::EAGAIN as c_int, "{{0,0}} polls");
    assert_eq!(suspend(&[std::ptr::null()], Some((0, 0))), 0, "no listed job exists");
    signal::post(kldhost::kpi::tid(), true);
    assert_eq!(suspend(&[&*cbs[0]], None), f::EINTR as c_int, "a signal, even with SA_RESTART");
    signal::delivered();

    // Cancel: the last queued job is cancelled; the first is running.
    let q = aio::MAX_AIO_QUEUE_PER_PROC - 1;
    assert_eq!(cancel(rd.as_raw_fd(), &mut *cbs[q]), i64::from(f::AIO_CANCELED));
    assert_eq!(error(&mut cbs[q]), i64::from(f::ECANCELED));
    assert_eq!(ret(&mut cbs[q]), (f::ECANCELED as c_int, -1));
    assert_eq!(cancel(rd.as_raw_fd(), &mut *cbs[0]), i64::from(f::AIO_NOTCANCELED));

    // Feed the pipe: every remaining job completes with one byte.
    use std::io::Write;
    wr.write_all(&vec![b'z'; q]).unwrap();
    for cb in cbs.iter_mut().take(q) {
        wait_done(cb);
        assert_eq!(ret(cb), (0, 1));
    }
    assert_eq!(cancel(rd.as_raw_fd(), &mut *cbs[0]), i64::from(f::AIO_ALLDONE));
    assert!(aio::jobs().is_empty());
    assert!(kernel::violations().is_empty(), "{:?}", kernel::violations());
}

#[test]
fn a_job_keeps_its_file_when_the_fd_is_closed() {
    let _k = boot();
    aio::ENABLE_UNSAFE.store(1, Ordering::Relaxed);
    let (rd, mut wr) = std::io::pipe().unwrap();
    let mut b = [0u8; 3];
    let mut cb = aiocb(rd.as_raw_fd(), b.as_mut_ptr(), 3, 0);
    assert_eq!(read(&mut cb), 0);
    drop(rd);
    use std::io::Write;
    wr.write_all(b"abc").unwrap();
    wait_done(&mut cb);
    assert_eq!(ret(&mut cb), (0, 3));
    assert_eq!(&b, b"abc");
}

#[test]
fn fsync_waits_for_earlier_writes_and_checks_its_op() {
    let _k = boot();
    let file = tempfile();
    let mut data = vec![7u8; 1 << 20];
    let mut w = aiocb(file.as_raw_fd(), data.as_mut_ptr(), data.len(), 0);
    assert_eq!(write(&mut w), 0);
    let mut s = aiocb(file.as_raw_fd(), std::ptr::null_mut(), 0, 0);
    let mut a = [0usize; 8];
    a[0] = f::O_SYNC as usize;
    a[1] = &mut *s as *mut f::aiocb as usize;
    assert_eq!(unsafe { aio::sys_aio_fsync(linuxulator::curthread(), a.as_mut_ptr().cast()) }, 0);
    wait_done(&mut s);
    assert_eq!(error(&mut w), 0, "the write was done before the fsync");
    assert_eq!(ret(&mut s), (0, 0));
    assert_eq!(ret(&mut w), (0, 1 << 20));
    a[0] = 12345;
    assert_eq!(unsafe { aio::sys_aio_fsync(linuxulator::curthread(), a.as_mut_ptr().cast()) }, f::EINVAL as c_int);
}

#[test]
fn vectored_reads_and_writes() {
    let _k = boot();
    let file = tempfile();
    let (mut a, mut b) = (*b"abc", *b"defgh");
    let iov = [f::iovec { iov_base: a.as_mut_ptr().cast(), iov_len: 3 }, f::iovec { iov_base: b.as_mut_ptr().cast(), iov_len: 5 }];
    let mut cb = aiocb(file.as_raw_fd(), iov.as_ptr() as *mut u8, 2, 0);
    let mut args = args1(&mut *cb);
    assert_eq!(unsafe { aio::sys_aio_writev(linuxulator::curthread(), args.as_mut_ptr().cast()) }, 0);
    wait_done(&mut cb);
    assert_eq!(ret(&mut cb), (0, 8));
    let mut back = [0u8; 8];
    let mut r = aiocb(file.as_raw_fd(), back.as_mut_ptr(), 8, 0);
    assert_eq!(read(&mut r), 0);
    wait_done(&mut r);
    assert_eq!(&back, b"abcdefgh");
    let _ = ret(&mut r);
    let mut cb = aiocb(file.as_raw_fd(), iov.as_ptr() as *mut u8, 1025, 0);
    let mut args = args1(&mut *cb);
    assert_eq!(unsafe { aio::sys_aio_readv(linuxulator::curthread(), args.as_mut_ptr().cast()) }, f::EINVAL as c_int, "more than UIO_MAXIOV");
}

#[test]
fn process_exit_runs_the_rundown() {
    let _k = boot();
    aio::ENABLE_UNSAFE.store(1, Ordering::Relaxed);
    let (rd, mut wr) = std::io::pipe().unwrap();
    let mut bufs = vec![[0u8; 1]; 40];
    let mut cbs: Vec<Box<f::aiocb>> = bufs.iter_mut().map(|b| aiocb(rd.as_raw_fd(), b.as_mut_ptr(), 1, 0)).collect();
    for cb in cbs.iter_mut() {
        assert_eq!(read(cb), 0);
    }
    std::thread::sleep(Duration::from_millis(50));
    // The running ones need data to finish; the rundown waits for them.
    let feeder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        use std::io::Write;
        wr.write_all(&[b'x'; 40]).unwrap();
    });
    eventhandler::process_exit(linuxulator::curproc());
    feeder.join().unwrap();
    assert!(aio::jobs().is_empty(), "every job of the process is gone");
}

#[test]
fn a_socket_job_waiting_for_data_can_be_cancelled() {
    // FreeBSD queues socket jobs on the socket buffer (soaio), where aio_cancel finds
    // them; a pipe's job runs in a daemon and cannot be cancelled (the test above).
    let _k = boot();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut buf = [0u8; 4];
    let mut cb = aiocb(a.as_raw_fd(), buf.as_mut_ptr(), 4, 0);
    assert_eq!(read(&mut cb), 0);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(error(&mut cb), i64::from(f::EINPROGRESS));
    assert_eq!(cancel(a.as_raw_fd(), &mut *cb), i64::from(f::AIO_CANCELED));
    wait_done(&mut cb);
    assert_eq!(ret(&mut cb), (f::ECANCELED as c_int, -1));
    // A job that finds data completes as usual.
    let mut cb = aiocb(a.as_raw_fd(), buf.as_mut_ptr(), 4, 0);
    assert_eq!(read(&mut cb), 0);
    use std::io::Write;
    b.write_all(b"data").unwrap();
    wait_done(&mut cb);
    assert_eq!(ret(&mut cb), (0, 4));
    assert_eq!(&buf, b"data");
}
