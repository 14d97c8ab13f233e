//! Signals as far as the kernel's sleeps see them: a signal posted to a thread makes
//! an interruptible sleep (PCATCH) of that thread end with EINTR, or ERESTART when the
//! signal's handler was installed with SA_RESTART. It stays pending until the thread
//! returns to user mode (the end of the system call), where it is delivered.

use super::{Tid, tid};
use std::collections::HashMap;
use std::sync::Mutex;

static PENDING: Mutex<Option<HashMap<Tid, bool>>> = Mutex::new(None);

pub fn reset() {
    if let Ok(mut p) = PENDING.lock() {
        *p = Some(HashMap::new());
    }
}

/// Posts a signal to thread `to`; `restart` is whether its handler has SA_RESTART.
pub fn post(to: Tid, restart: bool) {
    if let Ok(mut p) = PENDING.lock() {
        p.get_or_insert_with(HashMap::new).insert(to, restart);
    }
    super::sleep::wake_all_for_signal();
}

/// Whether a signal is pending for the calling thread, and if so whether it restarts.
pub fn pending() -> Option<bool> {
    PENDING.lock().ok()?.as_ref()?.get(&tid()).copied()
}

/// The signal was delivered (the system call returned to user mode).
pub fn delivered() {
    if let Ok(mut p) = PENDING.lock()
        && let Some(p) = p.as_mut()
    {
        p.remove(&tid());
    }
}

// ---- the thread's signal mask ----------------------------------------------------------
//
// A trapped call runs in the interposer's SIGSYS handler, and the mask the program gets
// back is the `uc_sigmask` of that handler's frame. So the model keeps the thread's mask
// as FreeBSD would (the program's mask at the trap, then whatever kern_sigprocmask
// sets), mirrors it onto the host thread while the call runs (so that a signal the call
// unblocks is delivered, and interrupts a sleep, and one it blocks is held), and hands
// back at the return to user mode the mask FreeBSD's AST would leave.

use crate::freebsd::common as f;
use std::cell::{Cell, RefCell};
use std::ffi::c_int;

thread_local! {
    /// The thread's mask (host signal numbers) while a trapped call runs.
    static MASK: RefCell<Option<libc::sigset_t>> = const { RefCell::new(None) };
    /// ASTs scheduled for the thread during the call (a bit per TDA_*).
    static AST: Cell<u64> = const { Cell::new(0) };
}

/// FreeBSD's signal numbers and the host's (Linux) for the same signals, by name. The
/// FreeBSD-only ones (SIGEMT, SIGINFO, SIGTHR, SIGLIBRT) have no host counterpart.
fn by_name() -> [(u32, c_int); 29] {
    [
        (f::SIGHUP, libc::SIGHUP), (f::SIGINT, libc::SIGINT), (f::SIGQUIT, libc::SIGQUIT),
        (f::SIGILL, libc::SIGILL), (f::SIGTRAP, libc::SIGTRAP), (f::SIGABRT, libc::SIGABRT),
        (f::SIGFPE, libc::SIGFPE), (f::SIGKILL, libc::SIGKILL), (f::SIGBUS, libc::SIGBUS),
        (f::SIGSEGV, libc::SIGSEGV), (f::SIGSYS, libc::SIGSYS), (f::SIGPIPE, libc::SIGPIPE),
        (f::SIGALRM, libc::SIGALRM), (f::SIGTERM, libc::SIGTERM), (f::SIGURG, libc::SIGURG),
        (f::SIGSTOP, libc::SIGSTOP), (f::SIGTSTP, libc::SIGTSTP), (f::SIGCONT, libc::SIGCONT),
        (f::SIGCHLD, libc::SIGCHLD), (f::SIGTTIN, libc::SIGTTIN), (f::SIGTTOU, libc::SIGTTOU),
        (f::SIGIO, libc::SIGIO), (f::SIGXCPU, libc::SIGXCPU), (f::SIGXFSZ, libc::SIGXFSZ),
        (f::SIGVTALRM, libc::SIGVTALRM), (f::SIGPROF, libc::SIGPROF), (f::SIGWINCH, libc::SIGWINCH),
        (f::SIGUSR1, libc::SIGUSR1), (f::SIGUSR2, libc::SIGUSR2),
    ]
}

/// The host's real-time signals as the Linuxulator numbers them: Linux 32–64 are
/// FreeBSD's SIGRTMIN + 0–32, and Linux's SIGPWR is the number after those.
const HOST_RTMIN: c_int = 32;
const HOST_RTMAX: c_int = 64;

fn host_signal(freebsd: u32) -> Option<c_int> {
    if let Some(&(_, h)) = by_name().iter().find(|(b, _)| *b == freebsd) {
        return Some(h);
    }
    let rt = freebsd.checked_sub(f::SIGRTMIN)? as c_int;
    match rt {
        0..=32 => Some(HOST_RTMIN + rt),
        33 => Some(libc::SIGPWR),
        _ => None,
    }
}

fn freebsd_signal(host: c_int) -> Option<u32> {
    if let Some(&(b, _)) = by_name().iter().find(|(_, h)| *h == host) {
        return Some(b);
    }
    match host {
        HOST_RTMIN..=HOST_RTMAX => Some(f::SIGRTMIN + (host - HOST_RTMIN) as u32),
        s if s == libc::SIGPWR => Some(f::SIGRTMIN + 33),
        _ => None,
    }
}

fn empty_host_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set.
    unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut s);
        s
    }
}

fn host_member(set: &libc::sigset_t, sig: c_int) -> bool {
    // SAFETY: a valid set and a signal number in range.
    unsafe { libc::sigismember(set, sig) == 1 }
}

fn to_freebsd_set(host: &libc::sigset_t) -> f::sigset_t {
    let mut b = f::sigset_t { __bits: [0; 4] };
    for sig in 1..=HOST_RTMAX {
        if host_member(host, sig)
            && let Some(n) = freebsd_signal(sig)
        {
            b.__bits[((n - 1) / 32) as usize] |= 1 << ((n - 1) % 32);
        }
    }
    b
}

fn to_host_set(b: &f::sigset_t) -> libc::sigset_t {
    let mut s = empty_host_set();
    for n in 1..=f::_SIG_MAXSIG {
        if b.__bits[((n - 1) / 32) as usize] & (1 << ((n - 1) % 32)) != 0
            && let Some(h) = host_signal(n)
        {
            // SAFETY: a valid set and signal number.
            unsafe { libc::sigaddset(&mut s, h) };
        }
    }
    s
}

/// A trapped call begins: the thread's mask is the program's at the trap.
pub fn call_entered(user_mask: &libc::sigset_t) {
    MASK.with(|m| *m.borrow_mut() = Some(*user_mask));
    AST.with(|a| a.set(0));
}

/// The thread's current mask in the model (outside a trapped call: the host's).
fn current_mask() -> libc::sigset_t {
    MASK.with(|m| *m.borrow()).unwrap_or_else(|| {
        let mut s = empty_host_set();
        // SAFETY: reads the calling thread's mask.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut s) };
        s
    })
}

fn set_mask(mask: libc::sigset_t) {
    let mut host = mask;
    // SAFETY: valid sets; SIGSYS stays blocked on the host while the interposer's SIGSYS
    // handler runs (it is not a signal of the program's).
    unsafe {
        libc::sigaddset(&mut host, libc::SIGSYS);
        libc::pthread_sigmask(libc::SIG_SETMASK, &host, std::ptr::null_mut());
    }
    MASK.with(|m| *m.borrow_mut() = Some(mask));
}

/// kern_sigprocmask(9) (sys/kern/kern_sig.c): changes the calling thread's mask
/// (SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK; EINVAL otherwise), SIGKILL and SIGSTOP never
/// masked; the old mask in `*oset`. It does not sleep.
pub unsafe extern "C" fn kern_sigprocmask(td: *mut f::thread, how: c_int, set: *mut f::sigset_t, oset: *mut f::sigset_t, _flags: c_int) -> c_int {
    if td != crate::linuxulator::curthread() {
        crate::kernel::violation("kern_sigprocmask on another thread than the caller: not modelled".into());
        return f::EINVAL as c_int;
    }
    let cur = current_mask();
    if !oset.is_null() {
        // SAFETY: the caller's kernel sigset_t.
        unsafe { *oset = to_freebsd_set(&cur) };
    }
    if set.is_null() {
        return 0;
    }
    // SAFETY: the caller's kernel sigset_t.
    let given = to_host_set(unsafe { &*set });
    let mut new = cur;
    for sig in 1..=HOST_RTMAX {
        let (in_cur, in_given) = (host_member(&cur, sig), host_member(&given, sig));
        let member = match how as u32 {
            f::SIG_BLOCK => in_cur || in_given,
            f::SIG_UNBLOCK => in_cur && !in_given,
            f::SIG_SETMASK => in_given,
            _ => return f::EINVAL as c_int,
        };
        // SAFETY: a valid set and signal number.
        unsafe {
            if member && sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::sigaddset(&mut new, sig);
            } else {
                libc::sigdelset(&mut new, sig);
            }
        }
    }
    set_mask(new);
    0
}

/// ast_sched(9) (sys/kern/subr_trap.c): the AST runs on the way back to user mode.
pub unsafe extern "C" fn ast_sched(td: *mut f::thread, tda: c_int) {
    if td != crate::linuxulator::curthread() {
        crate::kernel::violation("ast_sched on another thread than the caller: not modelled".into());
        return;
    }
    AST.with(|a| a.set(a.get() | 1u64.checked_shl(tda as u32).unwrap_or(0)));
}

/// The return to user mode of a call (also before an ERESTART re-entry): FreeBSD's
/// TDA_SIGSUSPEND AST puts back `td_oldsigmask` when TDP_OLDMASK is set (and asserts
/// that it is).
pub fn return_to_user(td: *mut f::thread) {
    let major = crate::kernel::config().major;
    let ast = AST.with(|a| a.replace(0));
    let pflags = (td as usize + major.td_pflags) as *mut c_int;
    // SAFETY: td_pflags of the calling thread's struct thread.
    let flags = unsafe { *pflags };
    let oldmask = flags & f::TDP_OLDMASK as c_int != 0;
    if ast & (1 << major.tda_sigsuspend) != 0 {
        if !oldmask {
            crate::kernel::violation("ast_sigsuspend: TDP_OLDMASK not set (MPASS in kern_sig.c)".into());
        } else {
            // SAFETY: as above; td_oldsigmask of the same struct thread.
            unsafe {
                *pflags = flags & !(f::TDP_OLDMASK as c_int);
                let old = *((td as usize + major.td_oldsigmask) as *const f::sigset_t);
                set_mask(to_host_set(&old));
            }
        }
    } else if oldmask {
        crate::kernel::violation("TDP_OLDMASK left set without the TDA_SIGSUSPEND AST: the thread's mask would not come back".into());
    }
}

/// A trapped call is over: the mask the program has from now on. A signal that came
/// after the call's own return to user mode was delivered to the program, not to the
/// call: nothing stays pending for the model.
pub fn call_left() -> Option<libc::sigset_t> {
    delivered();
    MASK.with(|m| m.borrow_mut().take())
}
