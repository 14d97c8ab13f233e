//! Finished native jobs, reaped and delivered to the program as Linux `io_event`s, and
//! io_getevents' waiting.
//!
//! Reaping asks native AIO about each request in flight (aio_error, then aio_return);
//! waiting sleeps in aio_suspend on the context's own requests (so a completion of
//! another context never satisfies it), in slices of at most `SLICE_MS`, so that a
//! request another thread submits meanwhile, a destroyed context and the deadline are
//! noticed. Events are handed out in the order they were found finished, and one leaves
//! the context only once it has been copied out: a fault copying loses nothing.

use crate::bindings::linux;
use crate::context::{Context, SUSPEND_MAX, SlotState};
use crate::kernel::sleep::pause_interruptible_ms;
use crate::kernel::thread::Thread;
use crate::kernel::time::uptime_ns;
use crate::kernel::user::UserPtr;
use crate::kernel::{Errno, errno};
use crate::native;

/// The longest one sleep lasts before the waiter looks again.
const SLICE_MS: i64 = 10;

/// Reaps every finished job of the context; returns how many are still in flight.
pub fn reap(td: Thread, ctx: &Context) -> usize {
    ctx.locked(|st| {
        for i in 0..st.slots.len() {
            if !st.slot(i).is_some_and(|s| s.state == SlotState::InFlight && !s.owned) {
                continue;
            }
            if let Ok(Some(_)) = native::error(td, ctx.aiocb(i)) {
                st.finish(i, reaped_res(native::reap(td, ctx.aiocb(i))));
            }
        }
        st.inflight
    })
    .unwrap_or(0)
}

/// An event's `res` for what aio_return gave: the byte count, or a negative Linux errno.
pub fn reaped_res(r: Result<(i64, core::ffi::c_int), Errno>) -> i64 {
    match r {
        Ok((status, 0)) => status,
        Ok((_, e)) => -errno::Errno::from_raw(e).map_or(22, Errno::to_linux),
        Err(e) => -e.to_linux(),
    }
}

/// Copies finished events to `events[*copied..nr]`. A fault stops it with EFAULT and
/// leaves the event in the context.
fn deliver(ctx: &Context, events: usize, nr: usize, copied: &mut usize) -> Result<(), Errno> {
    ctx.locked(|st| {
        while *copied < nr {
            let Some(i) = st.peek_ready() else { break };
            let Some(s) = st.slot(i) else { break };
            let ev = linux::io_event { data: s.data, obj: s.obj, res: s.res, res2: 0 };
            let at = events.checked_add(*copied * core::mem::size_of::<linux::io_event>()).ok_or(Errno::EFAULT)?;
            UserPtr::<linux::io_event>::new(at).write(&ev)?;
            st.pop_ready();
            *copied += 1;
        }
        Ok(())
    })
    .unwrap_or(Ok(()))
}

/// io_getevents' work once its arguments are checked. `timeout` is the program's
/// relative timeout (not validated, as on Linux; negative means no limit).
pub fn getevents(td: Thread, ctx: &Context, min_nr: usize, nr: usize, events: usize, timeout: Option<[i64; 2]>) -> Result<i64, Errno> {
    let start = uptime_ns();
    let deadline = match timeout {
        Some([s, ns]) if s >= 0 && ns >= 0 => Some(start.saturating_add(s.saturating_mul(1_000_000_000)).saturating_add(ns)),
        _ => None,
    };
    let mut copied = 0usize;
    loop {
        let inflight = reap(td, ctx);
        if let Err(e) = deliver(ctx, events, nr, &mut copied) {
            return if copied == 0 { Err(e) } else { Ok(copied as i64) };
        }
        if copied >= min_nr {
            return Ok(copied as i64);
        }
        if ctx.is_dead() {
            return if copied > 0 { Ok(copied as i64) } else { Err(Errno::EINVAL) };
        }
        let left = deadline.map(|d| d - uptime_ns());
        if left.is_some_and(|l| l <= 0) {
            return Ok(copied as i64);
        }
        let slice = left.map_or(SLICE_MS * 1_000_000, |l| l.min(SLICE_MS * 1_000_000));
        if let Err(e) = wait(td, ctx, inflight, slice) {
            // EINTR only when nothing was copied; never restarted.
            return if copied > 0 { Ok(copied as i64) } else { Err(e) };
        }
    }
}

/// Sleeps up to `ns` for one of the context's requests to finish; EINTR on a signal.
fn wait(td: Thread, ctx: &Context, inflight: usize, ns: i64) -> Result<(), Errno> {
    let ms = ((ns + 999_999) / 1_000_000).clamp(1, SLICE_MS) as u32;
    let scratch = if inflight > 0 { ctx.take_scratch() } else { None };
    let Some(scratch) = scratch else {
        return pause_interruptible_ms(c"aiogev", ms);
    };
    // The keys of the requests in flight, and the timeout, in the waiter's scratch.
    let n = ctx
        .locked(|st| {
            let mut n = 0usize;
            for i in 0..st.slots.len() {
                if n < SUSPEND_MAX && st.slot(i).is_some_and(|s| s.state == SlotState::InFlight && !s.owned) {
                    let _ = UserPtr::<u64>::new(scratch.base + n * 8).write(&(ctx.aiocb(i) as u64));
                    n += 1;
                }
            }
            n
        })
        .unwrap_or(0);
    let ts_at = scratch.base + SUSPEND_MAX * 8;
    UserPtr::<[i64; 2]>::new(ts_at).write(&[0, ns.clamp(1, SLICE_MS * 1_000_000)])?;
    match native::suspend(td, scratch.base, n, ts_at) {
        Ok(()) | Err(Errno::EAGAIN) => Ok(()),
        Err(e) if e == Errno::EINTR => Err(Errno::EINTR),
        Err(_) => pause_interruptible_ms(c"aiogev", ms),
    }
}
