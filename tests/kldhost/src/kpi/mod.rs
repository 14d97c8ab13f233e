//! The FreeBSD KPI model: every kernel function and variable a module may import, each
//! with FreeBSD's semantics, found by name as the kernel linker finds them.
//!
//! A symbol the model does not know makes the load fail, as an undefined symbol does
//! on FreeBSD. Symbols belong to a provider (the kernel, linux64.ko, linux_common.ko):
//! a module can only resolve those of providers that are loaded.

pub mod aio;
pub mod eventhandler;
pub mod lock;
pub mod malloc;
pub mod module;
pub mod print;
pub mod signal;
pub mod sleep;
pub mod sysctl;
pub mod usermem;
pub mod vm;

/// A thread, by its kernel id: unlike thread-local storage, this still works while the
/// process exits (when the module is unloaded from an exit handler).
pub type Tid = libc::pid_t;

pub fn tid() -> Tid {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

use crate::kernel::Config;
use crate::linuxulator;

/// Who defines a symbol in a real FreeBSD system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Kernel,
    Linux64,
    LinuxCommon,
}

/// A symbol's address once resolved: functions are reached through a trampoline in the
/// kernel range (the loader makes it), data lives in the kernel range already.
#[derive(Clone, Copy, Debug)]
pub enum Resolved {
    Function(usize),
    Data(usize),
}

/// Looks up an imported symbol.
pub fn lookup(name: &str) -> Option<(Provider, Resolved)> {
    use Provider::*;
    use Resolved::*;
    let f = |p: Provider, addr: usize| Some((p, Function(addr)));
    match name {
        "malloc" => f(Kernel, malloc::malloc as *const () as usize),
        "free" => f(Kernel, malloc::free as *const () as usize),
        "malloc_init" => f(Kernel, malloc::malloc_init as *const () as usize),
        "malloc_uninit" => f(Kernel, malloc::malloc_uninit as *const () as usize),
        "module_register_init" => f(Kernel, module::module_register_init as *const () as usize),
        "module_lookupbyname" => f(Kernel, module::module_lookupbyname as *const () as usize),
        "modules_sx" => Some((Kernel, Data(module::modules_sx()))),
        "mp_ncpus" => Some((Kernel, Data(mp_ncpus()))),
        "_sx_slock" => f(Kernel, lock::_sx_slock as *const () as usize),
        "_sx_sunlock" => f(Kernel, lock::_sx_sunlock as *const () as usize),
        "_sx_xlock" => f(Kernel, lock::_sx_xlock as *const () as usize),
        "_sx_xunlock" => f(Kernel, lock::_sx_xunlock as *const () as usize),
        "sx_init_flags" => f(Kernel, lock::sx_init_flags as *const () as usize),
        "sx_destroy" => f(Kernel, lock::sx_destroy as *const () as usize),
        "_mtx_init" => f(Kernel, lock::_mtx_init as *const () as usize),
        "_mtx_destroy" => f(Kernel, lock::_mtx_destroy as *const () as usize),
        "__mtx_lock_flags" => f(Kernel, lock::__mtx_lock_flags as *const () as usize),
        "__mtx_unlock_flags" => f(Kernel, lock::__mtx_unlock_flags as *const () as usize),
        "pause_sbt" => f(Kernel, sleep::pause_sbt as *const () as usize),
        "_sleep" => f(Kernel, sleep::_sleep as *const () as usize),
        "wakeup" => f(Kernel, sleep::wakeup as *const () as usize),
        "wakeup_one" => f(Kernel, sleep::wakeup_one as *const () as usize),
        "copyin" => f(Kernel, usermem::copyin as *const () as usize),
        "copyout" => f(Kernel, usermem::copyout as *const () as usize),
        "copyinstr" => f(Kernel, usermem::copyinstr as *const () as usize),
        "fueword" => f(Kernel, usermem::fueword as *const () as usize),
        "fueword32" => f(Kernel, usermem::fueword32 as *const () as usize),
        "suword" => f(Kernel, usermem::suword as *const () as usize),
        "suword32" => f(Kernel, usermem::suword32 as *const () as usize),
        "casueword32" => f(Kernel, usermem::casueword32 as *const () as usize),
        "sys_aio_read" => f(Kernel, aio::sys_aio_read as *const () as usize),
        "sys_aio_write" => f(Kernel, aio::sys_aio_write as *const () as usize),
        "sys_aio_readv" => f(Kernel, aio::sys_aio_readv as *const () as usize),
        "sys_aio_writev" => f(Kernel, aio::sys_aio_writev as *const () as usize),
        "sys_aio_fsync" => f(Kernel, aio::sys_aio_fsync as *const () as usize),
        "sys_aio_error" => f(Kernel, aio::sys_aio_error as *const () as usize),
        "sys_aio_return" => f(Kernel, aio::sys_aio_return as *const () as usize),
        "sys_aio_cancel" => f(Kernel, aio::sys_aio_cancel as *const () as usize),
        "sys_aio_suspend" => f(Kernel, aio::sys_aio_suspend as *const () as usize),
        "kern_sigprocmask" => f(Kernel, signal::kern_sigprocmask as *const () as usize),
        "ast_sched" => f(Kernel, signal::ast_sched as *const () as usize),
        "kern_fcntl" => f(Kernel, kern_fcntl as *const () as usize),
        "kern_fstat" => f(Kernel, kern_fstat as *const () as usize),
        "kern_fsync" => f(Kernel, kern_fsync as *const () as usize),
        "nanouptime" => f(Kernel, nanouptime as *const () as usize),
        "kern_mmap" => f(Kernel, vm::kern_mmap as *const () as usize),
        "kern_munmap" => f(Kernel, vm::kern_munmap as *const () as usize),
        "eventhandler_register" => f(Kernel, eventhandler::eventhandler_register as *const () as usize),
        "eventhandler_deregister" => f(Kernel, eventhandler::eventhandler_deregister as *const () as usize),
        "printf" => f(Kernel, print::printf as *const () as usize),
        "panic" => f(Kernel, print::panic as *const () as usize),
        "sysctl_add_oid" => f(Kernel, sysctl::sysctl_add_oid as *const () as usize),
        "sysctl_ctx_init" => f(Kernel, sysctl::sysctl_ctx_init as *const () as usize),
        "sysctl_ctx_free" => f(Kernel, sysctl::sysctl_ctx_free as *const () as usize),
        "sysctl_handle_int" => f(Kernel, sysctl::sysctl_handle_int as *const () as usize),
        "sysctl___compat" => Some((Kernel, Data(sysctl::static_node("compat")?))),
        "kern_syscall_deregister" => f(Kernel, linuxulator::kern_syscall_deregister as *const () as usize),
        "linux_sysent" => Some((Linux64, Data(linuxulator::table() as usize))),
        "linux_io_setup" => f(Linux64, linuxulator::linux_io_setup as *const () as usize),
        "linux_io_destroy" => f(Linux64, linuxulator::linux_io_destroy as *const () as usize),
        "linux_io_getevents" => f(Linux64, linuxulator::linux_io_getevents as *const () as usize),
        "linux_io_submit" => f(Linux64, linuxulator::linux_io_submit as *const () as usize),
        "linux_io_cancel" => f(Linux64, linuxulator::linux_io_cancel as *const () as usize),
        "linux_io_pgetevents" => f(LinuxCommon, linuxulator::linux_io_pgetevents as *const () as usize),
        "sysctl___compat_linux" => Some((LinuxCommon, Data(sysctl::static_node("compat.linux")?))),
        _ => None,
    }
}

static MP_NCPUS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// `int mp_ncpus` (sys/kern/subr_smp.c): the number of CPUs, here the host's.
pub fn mp_ncpus() -> usize {
    let a = MP_NCPUS.load(std::sync::atomic::Ordering::Acquire);
    if a != 0 {
        return a;
    }
    let p = crate::arena::arena().alloc(4, 4).map_or(0, |p| p.as_ptr() as usize);
    let n = std::thread::available_parallelism().map_or(1, |n| n.get()) as i32;
    if p != 0 {
        // SAFETY: the int just allocated in the kernel range.
        unsafe { *(p as *mut i32) = n };
    }
    MP_NCPUS.store(p, std::sync::atomic::Ordering::Release);
    p
}

/// kern_fcntl (sys/kern/kern_descrip.c), for F_GETFL: the descriptor's flags with
/// FreeBSD's O_* values, in td_retval[0]; EBADF for a bad descriptor.
pub unsafe extern "C" fn kern_fcntl(td: *mut crate::freebsd::common::thread, fd: std::ffi::c_int, cmd: std::ffi::c_int, _arg: isize) -> std::ffi::c_int {
    use crate::freebsd::common as f;
    if cmd != f::F_GETFL as std::ffi::c_int {
        crate::kernel::violation(format!("kern_fcntl command {cmd}: not modelled"));
        return f::EINVAL as std::ffi::c_int;
    }
    // SAFETY: fcntl on a descriptor number only reports.
    let l = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if l < 0 {
        return f::EBADF as std::ffi::c_int;
    }
    let mut b = (l & libc::O_ACCMODE) as u32;
    for (linux, bsd) in [(libc::O_NONBLOCK, f::O_NONBLOCK), (libc::O_APPEND, f::O_APPEND), (libc::O_DIRECT, f::O_DIRECT), (libc::O_DSYNC, f::O_DSYNC)] {
        if l & linux == linux {
            b |= bsd;
        }
    }
    if l & libc::O_SYNC == libc::O_SYNC {
        b |= f::O_SYNC;
    }
    // SAFETY: td_retval of the caller's thread.
    unsafe { *((td as usize + crate::kernel::config().major.td_retval) as *mut i64) = i64::from(b) };
    0
}

/// kern_fstat (sys/kern/kern_descrip.c): the descriptor's `struct stat`. The model
/// fills only `st_mode` (the file type bits are the same numbers on both systems) and
/// leaves the rest zero; EBADF for a bad descriptor.
pub unsafe extern "C" fn kern_fstat(_td: *mut crate::freebsd::common::thread, fd: std::ffi::c_int, sb: *mut crate::freebsd::common::stat) -> std::ffi::c_int {
    use crate::freebsd::common as f;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills `st` or fails.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return f::EBADF as std::ffi::c_int;
    }
    // SAFETY: fstat succeeded; `sb` is the caller's struct stat.
    unsafe {
        let mode = st.assume_init().st_mode;
        sb.write(std::mem::zeroed());
        (*sb).st_mode = mode as _;
    }
    0
}

/// kern_fsync (sys/kern/vfs_syscalls.c): fsync(2) when `fullsync`, fdatasync(2)
/// otherwise; EBADF for a bad descriptor, EINVAL for one that is not a vnode (getvnode).
/// `KLDHOST_FSYNC_ERROR=<errno>` makes every call fail with that FreeBSD errno after
/// the sync, as a disk that reports an error on flush would: tests use it to see that
/// a caller did sync, and passed the error on.
pub unsafe extern "C" fn kern_fsync(_td: *mut crate::freebsd::common::thread, fd: std::ffi::c_int, fullsync: bool) -> std::ffi::c_int {
    use crate::freebsd::common as f;
    static INJECTED: std::sync::OnceLock<std::ffi::c_int> = std::sync::OnceLock::new();
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills `st` or fails.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return f::EBADF as std::ffi::c_int;
    }
    // SAFETY: fstat succeeded.
    let mode = unsafe { st.assume_init() }.st_mode & libc::S_IFMT;
    if !matches!(mode, libc::S_IFREG | libc::S_IFDIR | libc::S_IFBLK | libc::S_IFCHR | libc::S_IFLNK) {
        return f::EINVAL as std::ffi::c_int;
    }
    // SAFETY: a descriptor of this process.
    let r = unsafe { if fullsync { libc::fsync(fd) } else { libc::fdatasync(fd) } };
    if r != 0 {
        return f::EIO as std::ffi::c_int;
    }
    *INJECTED.get_or_init(|| std::env::var("KLDHOST_FSYNC_ERROR").ok().and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// nanouptime(9): the monotonic clock.
pub unsafe extern "C" fn nanouptime(ts: *mut crate::freebsd::common::timespec) {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime fills `t`; `ts` is the caller's.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t);
        (*ts).tv_sec = t.tv_sec;
        (*ts).tv_nsec = t.tv_nsec;
    }
}

/// Whether a provider is present in the running kernel.
pub fn provider_loaded(p: Provider, config: &Config) -> bool {
    match p {
        Provider::Kernel => true,
        Provider::Linux64 | Provider::LinuxCommon => config.linux64,
    }
}

/// Resets every part of the model for a new kernel.
pub fn reset(config: &Config) {
    lock::reset();
    malloc::reset();
    signal::reset();
    sleep::reset();
    eventhandler::reset(config);
    aio::reset();
    module::reset(config);
    sysctl::reset(config);
}
