//! Linux AIO contexts: what `io_setup` creates and `io_destroy` removes.
//!
//! A context belongs to a process (FreeBSD has no separate address-space object a
//! module can key on; a process is what Linux's mm is for the programs that matter:
//! threads share it, a fork child does not). Its id is the user address of its ring, a
//! real shared mapping in the process whose header a libaio-style reader accepts.
//!
//! The ring. Until the module writes completion events into the ring as requests
//! finish, the header carries every field Linux's does except the magic: libaio and
//! fio's user-space reaping only trust a ring whose magic is AIO_RING_MAGIC, and fall
//! back to the system call otherwise, which is correct (DESIGN.md, "The ring": never a
//! ring that claims to be valid but lags).
//!
//! The registry is a list under an sx lock (lookups may sleep in copyin while it is
//! held). A lookup holds a reference; `io_destroy` and process teardown unlink the
//! context first, then wait for the references to go before freeing it.
//! System-wide, the sum of the requested sizes of all contexts is bounded by
//! `compat.linux.aio.max_nr` (Linux's `aio-max-nr`), which bounds the number of
//! contexts, and so the module's memory, too.

use crate::bindings::freebsd as f;
use crate::bindings::linux;
use crate::kernel::kbox::{KArray, KBox, Zeroable};
use crate::kernel::sleep::pause_ms;
use crate::kernel::sx::{Sx, SxGuard};
use crate::kernel::user::UserPtr;
use crate::kernel::{Errno, thread::Thread, vm};
use crate::native;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

/// `compat.linux.aio.max_nr` (Linux's `fs.aio-max-nr`, default 65536).
pub static MAX_NR: AtomicI32 = AtomicI32::new(65536);
/// `compat.linux.aio.nr` (Linux's `fs.aio-nr`): the requested sizes of all contexts.
pub static NR: AtomicI32 = AtomicI32::new(0);

const PAGE_SIZE: u64 = f::PAGE_SIZE as u64;
const RING_HEADER: u64 = core::mem::size_of::<linux::aio_ring>() as u64;
const EVENT: u64 = core::mem::size_of::<linux::io_event>() as u64;
/// Linux refuses rings larger than this many bytes of events (fs/aio.c).
const MAX_RING_BYTES: u64 = 0x1000_0000;
/// What the ring's `magic` would be if the ring were kept current at completion time.
pub const AIO_RING_MAGIC: u32 = 0xa10a_10a1;
/// The magic written while it is not: no reader trusts the ring.
pub const RING_MAGIC_WITHHELD: u32 = 0;

/// Linux's ring geometry for `io_setup(nr_events)` on a machine with `ncpus` CPUs:
/// (bytes to map, `ring->nr`). EINVAL when the ring would be too large.
pub fn ring_geometry(nr_events: u32, ncpus: u32) -> Result<(usize, u32), Errno> {
    // Linux sizes for at least 4 requests per CPU, doubled, plus 2 slots.
    let n = u64::from(nr_events).max(4 * u64::from(ncpus)) * 2;
    if n > MAX_RING_BYTES / EVENT {
        return Err(Errno::EINVAL);
    }
    let bytes = RING_HEADER + (n + 2) * EVENT;
    let len = bytes.div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let ring_nr = (len - RING_HEADER) / EVENT;
    // Both fit: len ≤ 0x1000_0000 + 2 pages, ring_nr < len.
    Ok((len as usize, ring_nr as u32))
}

/// Size of a native `struct aiocb` (pinned in bindings.rs).
pub const AIOCB_SIZE: usize = core::mem::size_of::<f::aiocb>();
/// A slot's share of the user area: its aiocb, then its own key (a one-entry list for
/// aio_suspend).
pub const SLOT_STRIDE: usize = AIOCB_SIZE + 8;
/// How many threads of a process may wait on one context with a key list of their own
/// (more wait in short sleeps); see `Waiters`.
pub const WAITERS: u32 = 8;
/// The most keys one aio_suspend call takes: the per-process job limit
/// (`vfs.aio.max_aio_queue_per_proc`, 256 by default), which no context exceeds.
pub const SUSPEND_MAX: usize = 256;
/// A waiter's scratch in user memory: the key list, then a `struct timespec`.
pub const SCRATCH: usize = SUSPEND_MAX * 8 + 16;
/// The most requests one context holds (in flight plus finished, not yet delivered):
/// its size, but no more than this, which bounds the kernel memory a context takes
/// (about 2.3 MiB) whatever `compat.linux.aio.max_nr` is raised to.
pub const SLOTS_MAX: u32 = 65536;

/// One request slot: a Linux iocb in flight as a native job, or its finished event
/// waiting to be delivered. Slot i's native `struct aiocb` lives in the context's user
/// area at `area + i * SLOT_STRIDE`, followed by its key.
#[derive(Clone, Copy)]
pub struct Slot {
    pub state: SlotState,
    /// The Linux iocb's user address (the event's `obj`) and its `aio_data`.
    pub obj: u64,
    pub data: u64,
    /// The event's `res`, once finished.
    pub res: i64,
    /// The request's file descriptor (what native aio_cancel, and the sync a write with
    /// RWF_DSYNC or RWF_SYNC owes, need).
    pub fd: i32,
    /// A signal ended io_submit's wait for this request while it was still in flight
    /// (see submit.rs): Linux would have ended it with EINTR, so io_destroy cancels it
    /// rather than wait for it.
    pub interrupted: bool,
    /// The io_submit that queued it finishes it itself (a write it must sync before
    /// its event may be seen, see submit.rs): reapers leave it alone.
    pub owned: bool,
}

#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    Free = 0,
    InFlight = 1,
    Ready = 2,
}

// SAFETY: integers, bools (zero is false) and a u8 enum whose zero is `Free`.
unsafe impl Zeroable for Slot {}
// SAFETY: integers.
unsafe impl Zeroable for u32 {}

/// What a context's lock protects.
pub struct State {
    pub slots: KArray<Slot>,
    /// Finished slots in completion order: a ring of indices.
    ready: KArray<u32>,
    ready_head: usize,
    ready_len: usize,
    pub inflight: usize,
    /// Where the search for a free slot starts.
    hint: usize,
}

/// One context.
pub struct Context {
    /// The owning process, as an identity.
    owner: AtomicPtr<f::proc_>,
    /// The ring's user address: the context id.
    ring: AtomicUsize,
    ring_len: AtomicUsize,
    /// The user area of native aiocbs and waiters' scratch.
    area: AtomicUsize,
    area_len: AtomicUsize,
    /// What io_setup asked for (what `compat.linux.aio.nr` counts).
    nr_events: AtomicU32,
    /// Lookups under way.
    refs: AtomicU32,
    /// Set by io_destroy: waiters leave, nothing new is accepted.
    dead: AtomicBool,
    /// Which waiters' scratch buffers are taken (a bit each).
    waiters: AtomicU32,
    /// The next context in the registry.
    next: AtomicPtr<Context>,
    lock: Sx,
    state: UnsafeCell<Option<State>>,
}

// SAFETY: atomics, integers and an sx (all-zero before sx_init) are valid zeroed; the
// Option is written (`None`) right after allocation, before anything reads or drops it.
unsafe impl Zeroable for Context {}
// SAFETY: `state` is only reached through `locked`, under the context's sx lock.
unsafe impl Sync for Context {}

impl Context {
    pub fn id(&self) -> u64 {
        self.ring.load(Ordering::Relaxed) as u64
    }

    pub fn nr_events(&self) -> u32 {
        self.nr_events.load(Ordering::Relaxed)
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// The user address of slot `i`'s native aiocb.
    pub fn aiocb(&self, i: usize) -> usize {
        self.area.load(Ordering::Relaxed) + i * SLOT_STRIDE
    }

    /// The user address of a one-entry key list holding slot `i`'s aiocb.
    pub fn key_list(&self, i: usize) -> usize {
        self.aiocb(i) + AIOCB_SIZE
    }

    /// Runs `f` on the context's state under its lock (sleepable: copyin and native AIO
    /// calls are allowed inside).
    pub fn locked<R>(&self, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        let _g: SxGuard<'_> = self.lock.exclusive();
        // SAFETY: the lock makes this the only reference to the state.
        let st = unsafe { &mut *self.state.get() };
        st.as_mut().map(f)
    }

    /// A waiter's scratch buffer (its user address), if one is free.
    pub fn take_scratch(&self) -> Option<Scratch<'_>> {
        let mut cur = self.waiters.load(Ordering::Acquire);
        loop {
            let free = (!cur).trailing_zeros();
            if free >= WAITERS {
                return None;
            }
            match self.waiters.compare_exchange(cur, cur | (1 << free), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    let base = self.area.load(Ordering::Relaxed) + scratch_offset(self.nr_events().min(SLOTS_MAX)) + free as usize * SCRATCH;
                    return Some(Scratch { ctx: self, bit: free, base });
                }
                Err(now) => cur = now,
            }
        }
    }
}

/// A waiter's scratch in the context's user area, given back on drop.
pub struct Scratch<'a> {
    ctx: &'a Context,
    bit: u32,
    pub base: usize,
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        self.ctx.waiters.fetch_and(!(1 << self.bit), Ordering::AcqRel);
    }
}

fn scratch_offset(nslots: u32) -> usize {
    (nslots as usize * SLOT_STRIDE).next_multiple_of(16)
}

fn area_len(nslots: u32) -> usize {
    (scratch_offset(nslots) + WAITERS as usize * SCRATCH).next_multiple_of(f::PAGE_SIZE as usize)
}

impl State {
    fn new(nslots: usize) -> Result<State, Errno> {
        Ok(State { slots: KArray::new_zeroed(nslots, true)?, ready: KArray::new_zeroed(nslots, true)?, ready_head: 0, ready_len: 0, inflight: 0, hint: 0 })
    }

    /// A free slot, marked in flight, or None (the context is full).
    pub fn alloc(&mut self) -> Option<usize> {
        let n = self.slots.len();
        (0..n).map(|k| (self.hint + k) % n).find(|&i| self.slots.get(i).is_some_and(|s| s.state == SlotState::Free)).inspect(|&i| {
            self.hint = (i + 1) % n;
            if let Some(s) = self.slots.get_mut(i) {
                s.state = SlotState::InFlight;
            }
            self.inflight += 1;
        })
    }

    /// Gives back a slot that never became a job.
    pub fn free(&mut self, i: usize) {
        if let Some(s) = self.slots.get_mut(i) {
            if s.state == SlotState::InFlight {
                self.inflight = self.inflight.saturating_sub(1);
            }
            *s = Slot { state: SlotState::Free, obj: 0, data: 0, res: 0, fd: -1, interrupted: false, owned: false };
        }
    }

    /// A job finished with `res`: its event joins the ready queue.
    pub fn finish(&mut self, i: usize, res: i64) {
        let n = self.ready.len();
        if let Some(s) = self.slots.get_mut(i)
            && s.state == SlotState::InFlight
        {
            s.state = SlotState::Ready;
            s.res = res;
            self.inflight = self.inflight.saturating_sub(1);
            if let Some(q) = self.ready.get_mut((self.ready_head + self.ready_len) % n.max(1)) {
                *q = i as u32;
                self.ready_len += 1;
            }
        }
    }

    /// The oldest finished slot, without taking it.
    pub fn peek_ready(&self) -> Option<usize> {
        (self.ready_len > 0).then(|| self.ready.get(self.ready_head).map(|&i| i as usize)).flatten()
    }

    /// Takes the oldest finished slot (its event was delivered) and frees it.
    pub fn pop_ready(&mut self) {
        if let Some(i) = self.peek_ready() {
            self.ready_head = (self.ready_head + 1) % self.ready.len().max(1);
            self.ready_len -= 1;
            self.free(i);
        }
    }

    pub fn slot(&self, i: usize) -> Option<Slot> {
        self.slots.get(i).copied()
    }
}

static REGISTRY: Sx = Sx::new();
static HEAD: AtomicPtr<Context> = AtomicPtr::new(core::ptr::null_mut());
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// Contexts alive in all processes.
pub fn count() -> usize {
    COUNT.load(Ordering::Acquire)
}

/// At load, before any system call can reach the module.
pub fn init() {
    REGISTRY.init(c"linuxaio contexts");
}

/// At unload, once no context exists and no call is inside.
pub fn fini() {
    REGISTRY.destroy();
}

/// A reference to a live context, taken by `lookup`.
#[must_use]
pub struct ContextRef(*mut Context);

impl core::ops::Deref for ContextRef {
    type Target = Context;
    fn deref(&self) -> &Context {
        // SAFETY: the reference count keeps the context from being freed.
        unsafe { &*self.0 }
    }
}

impl Drop for ContextRef {
    fn drop(&mut self) {
        self.refs.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Reserves `n` of `compat.linux.aio.max_nr`.
fn reserve(n: u32) -> Result<(), Errno> {
    let max = i64::from(MAX_NR.load(Ordering::Relaxed));
    NR.fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
        let new = i64::from(cur) + i64::from(n);
        (new <= max).then_some(new as i32)
    })
    .map(|_| ())
    .map_err(|_| Errno::EAGAIN)
}

fn unreserve(n: u32) {
    let _ = NR.fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| Some(cur.saturating_sub(n as i32).max(0)));
}

/// `io_setup`'s work once its arguments are checked: map and fill the ring, register
/// the context, and tell the program its id. On any failure nothing is left behind.
pub fn create(td: Thread, nr_events: u32, ctxp: UserPtr<u64>) -> Result<(), Errno> {
    // SAFETY: mp_ncpus is the kernel's CPU count, written once at boot.
    let ncpus = unsafe { f::mp_ncpus }.max(1) as u32;
    let (len, ring_nr) = ring_geometry(nr_events, ncpus)?;
    if i64::from(nr_events) > i64::from(MAX_NR.load(Ordering::Relaxed)) {
        return Err(Errno::EAGAIN);
    }
    let ring = vm::map_anon_shared(td, len)?;
    let header = linux::aio_ring {
        id: 0,
        nr: ring_nr,
        head: 0,
        tail: 0,
        magic: RING_MAGIC_WITHHELD,
        compat_features: 1,
        incompat_features: 0,
        header_length: RING_HEADER as u32,
    };
    let undo_map = |e: Errno| {
        let _ = vm::unmap(td, ring, len);
        e
    };
    UserPtr::<linux::aio_ring>::new(ring).write(&header).map_err(undo_map)?;
    reserve(nr_events).map_err(undo_map)?;
    let undo_all = |e: Errno| {
        unreserve(nr_events);
        undo_map(e)
    };
    let ctx = KBox::<Context>::new_zeroed(true).map_err(undo_all)?;
    // SAFETY: the context is ours alone; write, not assign: nothing to drop yet.
    unsafe { ctx.state.get().write(None) };
    let nslots = nr_events.min(SLOTS_MAX);
    let state = State::new(nslots as usize).map_err(undo_all)?;
    let alen = area_len(nslots);
    let area = vm::map_anon_shared(td, alen).map_err(undo_all)?;
    ctx.owner.store(td.proc_(), Ordering::Relaxed);
    ctx.ring.store(ring, Ordering::Relaxed);
    ctx.ring_len.store(len, Ordering::Relaxed);
    ctx.area.store(area, Ordering::Relaxed);
    ctx.area_len.store(alen, Ordering::Relaxed);
    ctx.nr_events.store(nr_events, Ordering::Relaxed);
    ctx.lock.init(c"linuxaio context");
    // SAFETY: the context is not published yet: this is the only reference.
    unsafe { *ctx.state.get() = Some(state) };
    // (The assignment drops the None written above.)
    let raw = ctx.into_raw();
    {
        let _g = REGISTRY.exclusive();
        // SAFETY: `raw` is ours until published; the list is changed only under the lock.
        unsafe { (*raw).next.store(HEAD.load(Ordering::Relaxed), Ordering::Relaxed) };
        HEAD.store(raw, Ordering::Release);
        COUNT.fetch_add(1, Ordering::AcqRel);
    }
    // Linux writes the id last; if that faults, the context dies and the call says EFAULT.
    if let Err(e) = ctxp.write(&(ring as u64)) {
        if let Some(c) = unlink(td.proc_(), ring as u64) {
            release(Some(td), c);
        }
        return Err(e);
    }
    Ok(())
}

/// The context `id` of the calling process, with a reference held.
pub fn lookup(td: Thread, id: u64) -> Option<ContextRef> {
    let _g = REGISTRY.shared();
    let mut p = HEAD.load(Ordering::Acquire);
    while !p.is_null() {
        // SAFETY: contexts on the list are live; they are unlinked under the exclusive
        // lock before being freed, and we hold it shared.
        let c = unsafe { &*p };
        if c.owner.load(Ordering::Relaxed) == td.proc_() && c.id() == id {
            c.refs.fetch_add(1, Ordering::AcqRel);
            return Some(ContextRef(p));
        }
        p = c.next.load(Ordering::Acquire);
    }
    None
}

/// Takes the context `id` of `owner` off the registry (only one caller can).
fn unlink(owner: *mut f::proc_, id: u64) -> Option<KBox<Context>> {
    let _g = REGISTRY.exclusive();
    let mut link: &AtomicPtr<Context> = &HEAD;
    loop {
        let p = link.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: a live context on the list (we hold the lock exclusively).
        let c = unsafe { &*p };
        if c.owner.load(Ordering::Relaxed) == owner && c.id() == id {
            link.store(c.next.load(Ordering::Acquire), Ordering::Release);
            COUNT.fetch_sub(1, Ordering::AcqRel);
            // SAFETY: unlinked: the list no longer owns it; `p` came from into_raw.
            return unsafe { KBox::from_raw(p) };
        }
        link = &c.next;
    }
}

/// Frees an unlinked context once no lookup holds it (waiters see `dead` and leave).
/// With `td` (io_destroy, in the owning process), it first waits for every request in
/// flight to finish — the program may reuse its buffers as soon as io_destroy returns —
/// and unmaps the ring and the aiocb area. At exit and exec (`None`) the native AIO
/// rundown, which runs after this, cancels and waits for the jobs, and the address
/// space goes with the process.
fn release(td: Option<Thread>, c: KBox<Context>) {
    c.dead.store(true, Ordering::Release);
    while c.refs.load(Ordering::Acquire) != 0 {
        pause_ms(c"aiodstr", 1);
    }
    if let Some(td) = td {
        drain(td, &c);
        let _ = vm::unmap(td, c.ring.load(Ordering::Relaxed), c.ring_len.load(Ordering::Relaxed));
        let _ = vm::unmap(td, c.area.load(Ordering::Relaxed), c.area_len.load(Ordering::Relaxed));
    }
    unreserve(c.nr_events.load(Ordering::Relaxed));
    // SAFETY: no reference remains (refs is 0 and the context is unlinked).
    let state = unsafe { (*c.state.get()).take() };
    drop(state);
    if c.area.load(Ordering::Relaxed) != 0 {
        c.lock.destroy();
    }
}

/// Waits, uninterruptibly, until every request of the context has finished, and reaps
/// the native jobs (their events are discarded, as Linux's io_destroy does). Requests
/// whose io_submit a signal interrupted are cancelled first: nothing may be left that
/// waits for data that never comes.
fn drain(td: Thread, c: &Context) {
    c.locked(|st| {
        for i in 0..st.slots.len() {
            if let Some(s) = st.slot(i)
                && s.state == SlotState::InFlight
                && s.interrupted
            {
                let _ = native::cancel(td, s.fd, c.aiocb(i));
            }
        }
    });
    loop {
        let left = c
            .locked(|st| {
                for i in 0..st.slots.len() {
                    if st.slot(i).is_some_and(|s| s.state == SlotState::InFlight)
                        && let Ok(Some(_)) = native::error(td, c.aiocb(i))
                    {
                        let _ = native::reap(td, c.aiocb(i));
                        st.finish(i, 0);
                    }
                }
                st.inflight
            })
            .unwrap_or(0);
        if left == 0 {
            break;
        }
        pause_ms(c"aiodrain", 1);
    }
}

/// `io_destroy`: EINVAL unless `id` is a live context of the calling process (so a
/// second destroy, or one racing another, is EINVAL).
pub fn destroy(td: Thread, id: u64) -> Result<(), Errno> {
    let c = unlink(td.proc_(), id).ok_or(Errno::EINVAL)?;
    release(Some(td), c);
    Ok(())
}

/// Every context of a process that exits or execs.
pub fn teardown_process(p: *mut f::proc_) {
    loop {
        let victim = {
            let _g = REGISTRY.shared();
            let mut q = HEAD.load(Ordering::Acquire);
            let mut found = None;
            while !q.is_null() {
                // SAFETY: as in lookup.
                let c = unsafe { &*q };
                if c.owner.load(Ordering::Relaxed) == p {
                    found = Some(c.id());
                    break;
                }
                q = c.next.load(Ordering::Acquire);
            }
            found
        };
        let Some(id) = victim else { break };
        if let Some(c) = unlink(p, id) {
            release(None, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ring_geometry;

    #[test]
    fn ring_sizes_are_linuxs() {
        // Observed on Linux 6.18 with 2 CPUs (reference/linux-aio-semantics.md §1.2).
        for (nr, ring_nr, len) in [(1, 127, 4096), (2, 127, 4096), (32, 127, 4096), (64, 255, 8192), (128, 383, 12288), (256, 639, 20480), (1024, 2175, 69632), (4096, 8319, 266240), (65536, 131199, 4198400)] {
            assert_eq!(ring_geometry(nr, 2), Ok((len, ring_nr)), "nr_events {nr}");
        }
        assert!(ring_geometry(4_194_304, 2).is_ok());
        assert_eq!(ring_geometry(4_194_305, 2), Err(crate::kernel::Errno::EINVAL));
        assert_eq!(ring_geometry(u32::MAX, 2), Err(crate::kernel::Errno::EINVAL));
    }
}
