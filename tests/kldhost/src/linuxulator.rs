//! The part of FreeBSD's Linux emulation a module touches: the system call table
//! `linux_sysent` (linux64.ko) with stock `DUMMY` stubs in the io_* slots, the
//! `syscallenter` path with its counting protocol (sys/kern/subr_syscall.c), the
//! Linux sysvec's return convention and errno translation, and
//! `kern_syscall_deregister` (sys/kern/kern_syscalls.c).

use crate::arena::arena;
use crate::freebsd::common as f;
use crate::kernel::{Config, config, console_print, violation};
use crate::kpi::lock;
use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::mem::size_of;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Entries in the model's `linux_sysent` (amd64's table is longer than the highest
/// number a module here touches, 333).
pub const TABLE_LEN: usize = 463;

/// The io_* slots on amd64, with their stock stub.
pub const IO_SLOTS: [(usize, &str); 6] =
    [(206, "io_setup"), (207, "io_destroy"), (208, "io_getevents"), (209, "io_submit"), (210, "io_cancel"), (333, "io_pgetevents")];

static TABLE: AtomicUsize = AtomicUsize::new(0);
/// Calls served since boot: by an entry a module installed, by a stock stub, by nosys.
static SERVED: [AtomicUsize; 3] = [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)];

/// Who answered the system calls made since boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Served {
    pub module: usize,
    pub stock: usize,
    pub nosys: usize,
}

pub fn served() -> Served {
    Served { module: SERVED[0].load(Ordering::Relaxed), stock: SERVED[1].load(Ordering::Relaxed), nosys: SERVED[2].load(Ordering::Relaxed) }
}
static STUB_CALLS: Mutex<Option<HashMap<&'static str, u64>>> = Mutex::new(None);

/// The address of `linux_sysent`.
pub fn table() -> *mut f::sysent {
    TABLE.load(Ordering::Acquire) as *mut f::sysent
}

type SyCall = unsafe extern "C" fn(*mut f::thread, *mut c_void) -> c_int;

fn stub(name: &'static str) -> c_int {
    // DUMMY(): linux_msg once per pid when compat.linux.debug is on (its default).
    thread_local!(static LAST_PID: Cell<u32> = const { Cell::new(0) });
    let pid = std::process::id();
    if LAST_PID.with(|p| p.replace(pid)) != pid {
        console_print(&format!("linux: jid 0 pid {pid} (kldhost): syscall {name} not implemented"));
    }
    if let Ok(mut c) = STUB_CALLS.lock() {
        *c.get_or_insert_with(HashMap::new).entry(name).or_default() += 1;
    }
    f::ENOSYS as c_int
}

/// How often the stock stub of `name` has run since boot.
pub fn stub_calls(name: &str) -> u64 {
    STUB_CALLS.lock().ok().and_then(|c| c.as_ref().and_then(|c| c.get(name).copied())).unwrap_or(0)
}

pub unsafe extern "C" fn linux_io_setup(_td: *mut f::thread, _a: *mut c_void) -> c_int {
    stub("io_setup")
}
pub unsafe extern "C" fn linux_io_destroy(_td: *mut f::thread, _a: *mut c_void) -> c_int {
    stub("io_destroy")
}
pub unsafe extern "C" fn linux_io_getevents(_td: *mut f::thread, _a: *mut c_void) -> c_int {
    stub("io_getevents")
}
pub unsafe extern "C" fn linux_io_submit(_td: *mut f::thread, _a: *mut c_void) -> c_int {
    stub("io_submit")
}
pub unsafe extern "C" fn linux_io_cancel(_td: *mut f::thread, _a: *mut c_void) -> c_int {
    stub("io_cancel")
}
pub unsafe extern "C" fn linux_io_pgetevents(_td: *mut f::thread, _a: *mut c_void) -> c_int {
    stub("io_pgetevents")
}

/// `nosys`: what an absent, draining or unknown entry runs.
unsafe extern "C" fn nosys(_td: *mut f::thread, _a: *mut c_void) -> c_int {
    f::ENOSYS as c_int
}

/// The stock stub of an io_* slot, by number.
pub fn stock_call(number: usize) -> Option<SyCall> {
    Some(match number {
        206 => linux_io_setup,
        207 => linux_io_destroy,
        208 => linux_io_getevents,
        209 => linux_io_submit,
        210 => linux_io_cancel,
        333 => linux_io_pgetevents,
        _ => return None,
    })
}

/// A model function's kernel address (its trampoline), as a handler pointer.
fn kernel_fn(f: SyCall) -> SyCall {
    match crate::arena::trampoline(f as *const () as usize) {
        // SAFETY: the trampoline jumps to `f`, so it is `f` with another address.
        Ok(a) => unsafe { std::mem::transmute::<usize, SyCall>(a) },
        Err(_) => f,
    }
}

fn stock_entry(number: usize) -> f::sysent {
    f::sysent {
        sy_call: Some(kernel_fn(stock_call(number).unwrap_or(nosys))),
        sy_systrace_args_func: None,
        sy_narg: 0,
        sy_flags: 0,
        sy_auevent: 0,
        sy_entry: 0,
        sy_return: 0,
        sy_thrcnt: f::SY_THR_STATIC,
    }
}

pub fn reset(config: &Config) {
    PROC.store(0, Ordering::Release);
    GENERATION.fetch_add(1, Ordering::AcqRel);
    for c in &SERVED {
        c.store(0, Ordering::Relaxed);
    }
    if let Ok(mut c) = STUB_CALLS.lock() {
        *c = Some(HashMap::new());
    }
    if !config.linux64 {
        TABLE.store(0, Ordering::Release);
        return;
    }
    let Some(p) = arena().alloc(TABLE_LEN * size_of::<f::sysent>(), 64) else { return };
    let t = p.as_ptr().cast::<f::sysent>();
    for n in 0..TABLE_LEN {
        // SAFETY: within the table just allocated.
        unsafe { t.add(n).write(stock_entry(n)) };
    }
    TABLE.store(t as usize, Ordering::Release);
}

/// A copy of one slot.
pub fn entry(number: usize) -> Option<f::sysent> {
    let t = table();
    // SAFETY: a slot of the live table, read as a whole.
    (!t.is_null() && number < TABLE_LEN).then(|| unsafe { std::ptr::read_volatile(t.add(number)) })
}

/// Whether a slot holds exactly what stock FreeBSD has there.
pub fn is_stock(number: usize) -> bool {
    entry(number).is_some_and(|e| {
        let s = stock_entry(number);
        e.sy_call.map(|c| c as usize) == s.sy_call.map(|c| c as usize) && e.sy_narg == s.sy_narg && e.sy_thrcnt == s.sy_thrcnt
    })
}

fn thrcnt(number: usize) -> &'static AtomicU32 {
    // SAFETY: an aligned u32 of the live table, which lives until the next boot.
    unsafe { AtomicU32::from_ptr(&raw mut (*table().add(number)).sy_thrcnt) }
}

// ---- the calling thread ----

/// The process's `struct proc`, in the kernel range, with the configured major's
/// layout (`p_pid` filled in). A fork child gets its own (`new_process`).
static PROC: AtomicUsize = AtomicUsize::new(0);
/// Bumped by `new_process`, so that threads make a new `struct thread` for it.
static GENERATION: AtomicUsize = AtomicUsize::new(1);

/// Serialises the first `curproc`: threads that make their first call at once must
/// all get the one process (a second one would give some of them another `td_proc`).
static FIRST_PROC: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The calling process's `struct proc`: this process's, or that of a child sharing its
/// memory (`vm_child`).
pub fn curproc() -> *mut f::proc_ {
    let p = own_proc();
    match vm_child_here(p) {
        Some(c) => c.proc_ as *mut f::proc_,
        None => p,
    }
}

fn own_proc() -> *mut f::proc_ {
    let p = PROC.load(Ordering::Acquire);
    if p != 0 {
        return p as *mut f::proc_;
    }
    let _first = FIRST_PROC.lock().unwrap_or_else(|e| e.into_inner());
    let p = PROC.load(Ordering::Acquire);
    if p != 0 {
        return p as *mut f::proc_;
    }
    new_process()
}

/// A new `struct proc` for this process (at start, and in a fork child).
pub fn new_process() -> *mut f::proc_ {
    let major = config().major;
    let p = arena().alloc(major.proc_size, 64).map_or(0, |p| p.as_ptr() as usize);
    if p != 0 {
        // SAFETY: p_pid of the struct just allocated.
        unsafe { *((p + major.p_pid) as *mut i32) = std::process::id() as i32 };
    }
    PROC.store(p, Ordering::Release);
    GENERATION.fetch_add(1, Ordering::AcqRel);
    p as *mut f::proc_
}

/// The `struct thread` of the calling OS thread, in the kernel range, with the
/// configured major's layout and `td_proc` set.
pub fn curthread() -> *mut f::thread {
    if let Some(c) = vm_child_here(own_proc()) {
        return c.thread as *mut f::thread;
    }
    thread_local!(static TD: Cell<(usize, usize)> = const { Cell::new((0, 0)) });
    let generation = GENERATION.load(Ordering::Acquire);
    TD.with(|td| {
        let (t, g) = td.get();
        if t != 0 && g == generation {
            return t as *mut f::thread;
        }
        let major = config().major;
        let p = curproc() as usize;
        let t = arena().alloc(major.thread_size, 64).map_or(0, |p| p.as_ptr() as usize);
        if t != 0 {
            // SAFETY: td_proc of the struct just allocated.
            unsafe { *((t + major.td_proc) as *mut usize) = p };
        }
        td.set((t, GENERATION.load(Ordering::Acquire)));
        t as *mut f::thread
    })
}

// ---- children that share the process's memory ----
//
// vfork(2) and posix_spawn(3) make a child with clone(CLONE_VM): a process of its own
// that runs in its parent's memory — with the parent's thread-local storage, and so
// with the kernel model's state as the parent sees it — until it execs or exits. The
// atfork hook that gives a fork child its own `struct proc` never runs for it. FreeBSD
// (fork1 with RFMEM, which the Linuxulator's vfork and CLONE_VM clone use) gives such a
// child a `struct proc` of its own all the same; so does the model, at the child's
// first trapped system call, found by its pid.

#[derive(Clone, Copy)]
struct VmChild {
    pid: i32,
    proc_: usize,
    thread: usize,
}

static VM_CHILDREN: Mutex<Vec<VmChild>> = Mutex::new(Vec::new());
/// How many there are: while none, curproc and curthread pay no getpid(2) (the check
/// at each trapped call, vm_child_enter, still does).
static VM_CHILD_COUNT: AtomicUsize = AtomicUsize::new(0);

fn pid_of(p: *mut f::proc_) -> i32 {
    if p.is_null() {
        return 0;
    }
    // SAFETY: p_pid of the live struct proc the model allocated.
    unsafe { *((p as usize + config().major.p_pid) as *const i32) }
}

/// The child sharing this memory that is calling, if the caller is one.
fn vm_child_here(own: *mut f::proc_) -> Option<VmChild> {
    if VM_CHILD_COUNT.load(Ordering::Acquire) == 0 {
        return None;
    }
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    if pid == pid_of(own) {
        return None;
    }
    VM_CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|c| c.pid == pid).copied()
}

/// Called first for every trapped system call: when the caller is a process the model
/// does not know yet (a child sharing this memory, see above), it gets a `struct proc`
/// and a `struct thread`, and the pair (parent, child) is returned for the caller to
/// tell the module's `process_fork` handlers.
pub fn vm_child_enter() -> Option<(*mut f::proc_, *mut f::proc_)> {
    let own = own_proc();
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    if pid == pid_of(own) {
        return None;
    }
    let mut children = VM_CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    if children.iter().any(|c| c.pid == pid) {
        return None;
    }
    let major = config().major;
    let p = arena().alloc(major.proc_size, 64).map_or(0, |p| p.as_ptr() as usize);
    let t = arena().alloc(major.thread_size, 64).map_or(0, |p| p.as_ptr() as usize);
    if p == 0 || t == 0 {
        violation("no memory for a vfork child's struct proc".into());
        return None;
    }
    // SAFETY: p_pid and td_proc of the structs just allocated.
    unsafe {
        *((p + major.p_pid) as *mut i32) = pid;
        *((t + major.td_proc) as *mut usize) = p;
    }
    children.push(VmChild { pid, proc_: p, thread: t });
    VM_CHILD_COUNT.store(children.len(), Ordering::Release);
    Some((own, p as *mut f::proc_))
}

/// The calling child sharing this memory execs or exits: the model forgets it (after
/// its process_exec or process_exit handlers have run).
pub fn vm_child_leave() {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let mut children = VM_CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
    children.retain(|c| c.pid != pid);
    VM_CHILD_COUNT.store(children.len(), Ordering::Release);
}

/// Whether the caller is a child sharing this memory.
pub fn in_vm_child() -> bool {
    vm_child_here(own_proc()).is_some()
}

fn retval(td: *mut f::thread) -> *mut i64 {
    (td as usize + config().major.td_retval) as *mut i64
}

/// A Linux system call as the Linux sysvec serves it: the number and six argument
/// registers in, the value of %rax out (a negative Linux errno on error). An entry that
/// answers ERESTART is entered again once the signal is delivered, as the sysvec's
/// return path re-executes the system call instruction.
pub fn syscall(number: usize, args: [u64; 6]) -> i64 {
    loop {
        if let Some(rax) = syscall_once(number, args) {
            return rax;
        }
    }
}

fn syscall_once(number: usize, args: [u64; 6]) -> Option<i64> {
    let td = curthread();
    let t = table();
    let mut callp: SyCall = nosys;
    let mut counted = false;
    if !t.is_null() && number < TABLE_LEN {
        // SAFETY: a slot of the live table.
        let se = unsafe { std::ptr::read_volatile(t.add(number)) };
        let cnt = thrcnt(number);
        if se.sy_thrcnt & f::SY_THR_STATIC != 0 {
            callp = se.sy_call.unwrap_or(nosys);
        } else {
            // syscall_thread_enter: count the call unless the entry is absent or draining.
            loop {
                let old = cnt.load(Ordering::Acquire);
                if old & (f::SY_THR_DRAINING | f::SY_THR_ABSENT) != 0 {
                    break;
                }
                if cnt.compare_exchange(old, old + f::SY_THR_INCR, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    counted = true;
                    // Read the handler after counting, as syscallenter does.
                    // SAFETY: as above.
                    callp = unsafe { std::ptr::read_volatile(t.add(number)) }.sy_call.unwrap_or(nosys);
                    break;
                }
            }
        }
    }
    let who = if callp as usize == nosys as *const () as usize {
        2
    } else if stock_call(number).is_some_and(|s| kernel_fn(s) as usize == callp as usize) || callp as usize == kernel_fn(nosys) as usize {
        1
    } else {
        0
    };
    SERVED[who].fetch_add(1, Ordering::Relaxed);
    // syscallenter copies the argument registers into td->td_sa.args (kernel memory).
    let regs = (td as usize + config().major.td_sa_args) as *mut i64;
    for (i, a) in args.iter().enumerate() {
        // SAFETY: td_sa.args has eight slots inside this thread's struct thread.
        unsafe { regs.add(i).write(*a as i64) };
    }
    // SAFETY: td is this thread's struct thread; td_retval[0..2].
    unsafe {
        *retval(td) = 0;
        *retval(td).add(1) = 0;
    }
    // SAFETY: the entry is called as syscallenter calls it: the thread and the
    // argument array (register_t[8]), on the thread's kernel stack.
    let error = unsafe { crate::kstack::call(callp, td, regs.cast()) };
    if counted {
        thrcnt(number).fetch_sub(f::SY_THR_INCR, Ordering::AcqRel);
    }
    if lock::sleep_forbidden().is_some() {
        violation(format!("system call {number} returned with a lock held"));
    }
    // Back to user mode: a pending signal is delivered now, then the ASTs run.
    crate::kpi::signal::delivered();
    crate::kpi::signal::return_to_user(td);
    Some(match error {
        // SAFETY: as above.
        0 => unsafe { *retval(td) },
        e if e == f::ERESTART => return None,
        e if e == f::EJUSTRETURN => {
            violation("EJUSTRETURN from a Linux AIO entry: not modelled".into());
            -(libc::EINTR as i64)
        }
        e => i64::from(bsd_to_linux_errno(e)),
    })
}

/// The Linux sysvec's errno translation (linux_errtbl in sys/compat/linux/linux_errno.inc):
/// a positive FreeBSD errno to a negative Linux one. Only the values whose Linux
/// counterpart the model is sure of are listed; any other is flagged.
pub fn bsd_to_linux_errno(e: c_int) -> c_int {
    let linux = match e {
        1..=10 | 12..=34 => e,
        11 => 35,  // EDEADLK
        35 => 11,  // EAGAIN
        36 => 115, // EINPROGRESS
        37 => 114, // EALREADY
        45 => 95,  // EOPNOTSUPP
        60 => 110, // ETIMEDOUT
        62 => 40,  // ELOOP
        63 => 36,  // ENAMETOOLONG
        66 => 39,  // ENOTEMPTY
        69 => 122, // EDQUOT
        70 => 116, // ESTALE
        77 => 37,  // ENOLCK
        78 => 38,  // ENOSYS
        82 => 43,  // EIDRM
        83 => 42,  // ENOMSG
        84 => 75,  // EOVERFLOW
        85 => 125, // ECANCELED
        86 => 84,  // EILSEQ
        89 => 74,  // EBADMSG
        92 => 71,  // EPROTO
        _ => {
            violation(format!("the model has no Linux errno for FreeBSD errno {e}"));
            22
        }
    };
    -linux
}

/// `kern_syscall_deregister`: drain the counted calls of a slot, then put the old
/// entry back. Static entries are refused (EINVAL); slot 0 is a no-op.
pub unsafe extern "C" fn kern_syscall_deregister(sysents: *mut f::sysent, offset: c_int, old: *const f::sysent) -> c_int {
    if offset == 0 {
        return 0;
    }
    if sysents != table() || offset < 0 || offset as usize >= TABLE_LEN {
        violation(format!("kern_syscall_deregister on an unknown table or slot ({sysents:p}, {offset})"));
        return f::EINVAL as c_int;
    }
    let n = offset as usize;
    let cnt = thrcnt(n);
    if cnt.load(Ordering::Acquire) & f::SY_THR_STATIC != 0 {
        return f::EINVAL as c_int;
    }
    if let Some(m) = lock::sleep_forbidden() {
        violation(format!("kern_syscall_deregister sleeps (scdrn) with non-sleepable lock {m} held"));
    }
    cnt.fetch_or(f::SY_THR_DRAINING, Ordering::AcqRel);
    while cnt.compare_exchange(f::SY_THR_DRAINING, f::SY_THR_ABSENT, Ordering::AcqRel, Ordering::Acquire).is_err() {
        std::thread::sleep(std::time::Duration::from_millis(500)); // pause("scdrn", hz / 2)
    }
    // SAFETY: the slot is ABSENT (no call can be inside); `old` is the caller's saved entry.
    unsafe { table().add(n).write_volatile(*old) };
    0
}
