//! sleep(9): `_sleep` (what msleep, tsleep and their _sbt forms expand to), `wakeup`,
//! `wakeup_one`, and pause(9).
//!
//! The rules modelled: sleeping is forbidden with a non-sleepable lock held, but the
//! interlock given to `_sleep` is released for the sleep and taken again after it
//! (unless PDROP); a timeout ends the sleep with EWOULDBLOCK; with PCATCH a pending
//! signal ends it (before or during) with EINTR, or ERESTART for an SA_RESTART handler;
//! `wakeup` ends every sleep on the channel, `wakeup_one` the longest-waiting one.

use super::{lock, signal};
use crate::freebsd::common as f;
use crate::kernel::violation;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

const PCATCH: c_int = f::PCATCH as c_int;
const PDROP: c_int = f::PDROP as c_int;
const C_ABSOLUTE: c_int = f::C_ABSOLUTE as c_int;
const C_CATCH: c_int = 0x0800;

struct Sleeper {
    id: u64,
    chan: usize,
    woken: bool,
    /// Blocked on the condition variable (not polling): only then does a wakeup
    /// need to notify.
    parked: bool,
}

/// How long a sleeper polls for its wakeup before it blocks: a wakeup that comes within
/// it costs no futex call and no context switch (dear in a virtual machine), which is
/// most of the model's time for a program that waits for each request in turn. The
/// model's speed only: the sleep's outcome is decided exactly as before.
const SPIN: Duration = Duration::from_micros(100);
/// How often an interruptible sleep looks for a signal it may not have been told of.
const CATCH_SLICE: Duration = Duration::from_millis(10);
/// Bumped by every wakeup that finds a sleeper: what a polling sleeper watches.
static WAKEUPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

static QUEUE: Mutex<(u64, Vec<Sleeper>)> = Mutex::new((0, Vec::new()));
static CHANGED: Condvar = Condvar::new();

pub fn reset() {
    if let Ok(mut q) = QUEUE.lock() {
        q.1.clear();
    }
}

/// A posted signal may end a PCATCH sleep: let the sleepers look.
pub fn wake_all_for_signal() {
    CHANGED.notify_all();
}

fn wmesg(p: *const c_char) -> String {
    if p.is_null() {
        return "?".into();
    }
    // SAFETY: the caller passes a NUL-terminated wait message.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn signal_errno() -> Option<c_int> {
    signal::pending().map(|restart| if restart { f::ERESTART } else { f::EINTR as c_int })
}

/// The sleep itself, once the locks are dealt with: 0 when woken, EWOULDBLOCK on
/// timeout, EINTR/ERESTART for a signal when `catch`.
fn sleep_on(chan: usize, timeout: Option<Duration>, catch: bool) -> c_int {
    sleep_until(chan, timeout, catch, || false)
}

/// A sleep that cannot miss its wakeup: `done` is asked once the sleeper is on the
/// channel's queue (what an interlock gives a kernel sleep), and again at every wakeup;
/// it returns 0 as soon as `done` is true. `done` may take the caller's own locks,
/// provided no one holds them while calling wakeup.
pub fn sleep_until(chan: usize, timeout: Option<Duration>, catch: bool, done: impl Fn() -> bool) -> c_int {
    if catch && let Some(e) = signal_errno() {
        return e;
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut q = QUEUE.lock().unwrap_or_else(|e| e.into_inner());
    q.0 += 1;
    let id = q.0;
    q.1.push(Sleeper { id, chan, woken: false, parked: false });
    let mut may_spin = true;
    let set_parked = |q: &mut (u64, Vec<Sleeper>), parked: bool| {
        if let Some(s) = q.1.iter_mut().find(|s| s.id == id) {
            s.parked = parked;
        }
    };
    let result = loop {
        if q.1.iter().any(|s| s.id == id && s.woken) || done() {
            break 0;
        }
        if catch && let Some(e) = signal_errno() {
            break e;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break f::EWOULDBLOCK as c_int;
        }
        if may_spin {
            may_spin = false;
            let seen = WAKEUPS.load(std::sync::atomic::Ordering::Acquire);
            drop(q);
            let until = deadline.map_or(now + SPIN, |d| d.min(now + SPIN));
            while WAKEUPS.load(std::sync::atomic::Ordering::Acquire) == seen && Instant::now() < until {
                // Yielding, not spinning: on one CPU the waker must get to run.
                std::thread::yield_now();
            }
            q = QUEUE.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        set_parked(&mut q, true);
        // A signal is posted from a handler, which cannot take the queue's lock (it may
        // have interrupted its holder): its notification can slip in between the check
        // above and the wait. An interruptible sleep therefore looks again every
        // CATCH_SLICE.
        let limit = match (deadline, catch) {
            (Some(d), true) => Some(d.saturating_duration_since(now).min(CATCH_SLICE)),
            (Some(d), false) => Some(d.saturating_duration_since(now)),
            (None, true) => Some(CATCH_SLICE),
            (None, false) => None,
        };
        q = match limit {
            Some(t) => CHANGED.wait_timeout(q, t).unwrap_or_else(|e| e.into_inner()).0,
            None => CHANGED.wait(q).unwrap_or_else(|e| e.into_inner()),
        };
        set_parked(&mut q, false);
    };
    q.1.retain(|s| s.id != id);
    result
}

fn timeout_of(sbt: f::sbintime_t, flags: c_int) -> Option<Duration> {
    if flags & C_ABSOLUTE != 0 {
        violation("a C_ABSOLUTE sleep: not modelled".into());
    }
    // sbintime_t is 32.32 fixed-point seconds; 0 means no timeout.
    (sbt > 0).then(|| Duration::from_nanos(((i128::from(sbt) * 1_000_000_000) >> 32) as u64))
}

pub unsafe extern "C" fn _sleep(
    chan: *const c_void,
    lo: *mut f::lock_object,
    pri: c_int,
    wmesg_p: *const c_char,
    sbt: f::sbintime_t,
    _pr: f::sbintime_t,
    flags: c_int,
) -> c_int {
    let what = wmesg(wmesg_p);
    if chan.is_null() {
        violation(format!("_sleep(\"{what}\") on a null channel"));
    }
    // The interlock: released for the sleep, taken again after it.
    let interlock = if lo.is_null() {
        None
    } else {
        match lock::from_lock_object(lo as usize) {
            Some((key, _)) => match lock::release_for_sleep(key) {
                Some(shared) => Some((key, shared)),
                None => {
                    violation(format!("_sleep(\"{what}\") with an interlock this thread does not hold"));
                    None
                }
            },
            None => {
                violation(format!("_sleep(\"{what}\") with an interlock that is not a lock"));
                None
            }
        }
    };
    if let Some(m) = lock::sleep_forbidden() {
        violation(format!("sleeping (\"{what}\") with non-sleepable lock {m} held"));
    }
    let e = sleep_on(chan as usize, timeout_of(sbt, flags), pri & PCATCH != 0);
    if let Some((key, shared)) = interlock
        && pri & PDROP == 0
    {
        lock::acquire(key, shared);
    }
    e
}

// A wakeup notifies only when a sleeper it ends is blocked: every sleep is on the queue
// before it waits or polls (sleep_until) and looks at its `woken` under the queue's
// lock before it blocks, so none can miss it, and the futex call is saved otherwise.
pub unsafe extern "C" fn wakeup(chan: *const c_void) {
    let mut parked = false;
    if let Ok(mut q) = QUEUE.lock() {
        for s in q.1.iter_mut().filter(|s| s.chan == chan as usize) {
            s.woken = true;
            parked |= s.parked;
            WAKEUPS.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
    }
    if parked {
        CHANGED.notify_all();
    }
}

pub unsafe extern "C" fn wakeup_one(chan: *const c_void) {
    if let Ok(mut q) = QUEUE.lock()
        && let Some(s) = q.1.iter_mut().find(|s| s.chan == chan as usize && !s.woken)
    {
        s.woken = true;
        let parked = s.parked;
        WAKEUPS.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        drop(q);
        if parked {
            CHANGED.notify_all();
        }
    }
}

/// pause(9): a sleep on no channel anyone wakes; C_CATCH makes it interruptible.
pub unsafe extern "C" fn pause_sbt(wmesg_p: *const c_char, sbt: f::sbintime_t, _pr: f::sbintime_t, flags: c_int) -> c_int {
    if let Some(m) = lock::sleep_forbidden() {
        violation(format!("sleeping (pause \"{}\") with non-sleepable lock {m} held", wmesg(wmesg_p)));
    }
    // A channel of our own that nobody can name: the sleep ends by timeout or signal.
    let token = Box::new(0u8);
    let e = sleep_on(&*token as *const u8 as usize, timeout_of(sbt, flags).or(Some(Duration::from_millis(1))), flags & C_CATCH != 0);
    if e == 0 { f::EWOULDBLOCK as c_int } else { e }
}
