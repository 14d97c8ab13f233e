//! The interposer: preloaded into an unmodified Linux program (LD_PRELOAD), it loads a
//! FreeBSD module into the test bed's kernel model before `main`, and routes the
//! program's Linux AIO system calls (amd64: 206–210, 333) to the model's
//! `linux_sysent` — that is, to the module's entries once it has installed them.
//!
//! How: a seccomp filter makes those six system calls trap (SECCOMP_RET_TRAP). The
//! kernel then delivers SIGSYS in the calling thread with its registers; the handler
//! hands the number and the six argument registers to the model's `syscallenter` and
//! puts the result in %rax, as the Linux sysvec would. Every other system call runs
//! natively, but execve/execveat, which are trapped so that the module's
//! `process_exec` handlers run first. At exit the module is unloaded and the report is
//! written; after an exec the new image loads the module into a new model (the old
//! image's contexts went with it, as FreeBSD's exec handlers tear them down).

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

/// The amd64 Linux AIO system call numbers.
const TRAPPED: [u32; 6] = [206, 207, 208, 209, 210, 333];
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

static ACTIVE: AtomicBool = AtomicBool::new(false);

#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = kldhost_init;

#[used]
#[unsafe(link_section = ".fini_array")]
static FINI: extern "C" fn() = kldhost_fini;

extern "C" fn kldhost_init() {
    if std::env::var_os("KLDHOST_MODULE").is_none() || ACTIVE.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Err(e) = kldhost::session::start() {
        eprintln!("kldhost: {e}");
        std::process::exit(70);
    }
    // SAFETY: registers a plain function to run in fork children.
    unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    // SAFETY: handlers for the fatal signals, which write the report before the
    // default action kills the process.
    unsafe { install_fatal_handlers() };
    // SAFETY: installs a SIGSYS handler (a plain function) and a seccomp filter that
    // traps only the six system calls; both are process-wide and stay for its life.
    if let Err(e) = unsafe { install() } {
        eprintln!("kldhost: cannot trap the AIO system calls: {e}");
        std::process::exit(70);
    }
}

static FINISHED: AtomicBool = AtomicBool::new(false);

extern "C" fn kldhost_fini() {
    if !ACTIVE.load(Ordering::SeqCst) || FINISHED.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Some(report) = kldhost::session::finish() {
        write_report(&report);
    }
}

const FATAL: [libc::c_int; 5] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGABRT];

unsafe fn install_fatal_handlers() {
    for sig in FATAL {
        // SAFETY: a plain SA_SIGINFO handler, reset to the default after it runs once.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_fatal as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
            libc::sigemptyset(&mut sa.sa_mask);
            if let Some(real) = real_sigaction() {
                real(sig, &sa, std::ptr::null_mut());
            }
        }
    }
}

/// Where a faulting instruction was: in the module (the kernel range: a kernel panic
/// on FreeBSD), in the test bed itself, or in the program.
fn whose(rip: usize) -> &'static str {
    if kldhost::arena::is_kernel(rip) {
        return "in the module or the kernel range (a panic on FreeBSD)";
    }
    // SAFETY: dladdr only reads the loader's tables; `info` is a plain out-parameter.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr(rip as *const libc::c_void, &mut info) != 0 && !info.dli_fname.is_null() {
            let lib = std::ffi::CStr::from_ptr(info.dli_fname).to_string_lossy();
            if lib.contains("kldhost_preload") {
                return "in the test bed";
            }
        }
    }
    "in the program"
}

static DYING: AtomicBool = AtomicBool::new(false);

/// A fatal signal: the first thread to take one says where it happened in the report
/// (written whole, by rename), then dies of it with the default action; any other
/// thread that takes one meanwhile waits for that death.
extern "C" fn on_fatal(sig: libc::c_int, _info: *mut libc::siginfo_t, ctx: *mut c_void) {
    if DYING.swap(true, Ordering::SeqCst) {
        loop {
            // SAFETY: waits for the signal that ends the process.
            unsafe { libc::pause() };
        }
    }
    // SAFETY: the kernel passes the interrupted context.
    let rip = unsafe { (*(ctx as *mut libc::ucontext_t)).uc_mcontext.gregs[libc::REG_RIP as usize] } as usize;
    let line = format!("killed by signal {sig} at {rip:#x} {}\n", whose(rip));
    eprint!("kldhost: {line}");
    write_report(&line);
    // SAFETY: the default action back, then the same signal again: the process dies of it.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// The report of this process: `KLDHOST_REPORT/<pid>`, written whole (by rename), as
/// every process of the run (exec'd images, shells' children) writes its own.
fn write_report(text: &str) {
    if let Some(dir) = std::env::var_os("KLDHOST_REPORT") {
        let path = std::path::PathBuf::from(dir).join(std::process::id().to_string());
        let tmp = path.with_extension("partial");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
}

extern "C" fn after_fork_in_child() {
    kldhost::session::forked_child();
}

/// The SIGSYS handler: one trapped system call, served by the model.
extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo and ucontext to an SA_SIGINFO handler.
    unsafe {
        // For SIGSYS, si_syscall follows si_call_addr in the union (offset 24).
        let nr = *(info as *const u8).add(24).cast::<libc::c_int>();
        let uc = &mut *(ctx as *mut libc::ucontext_t);
        let g = &mut uc.uc_mcontext.gregs;
        let args = [libc::REG_RDI, libc::REG_RSI, libc::REG_RDX, libc::REG_R10, libc::REG_R8, libc::REG_R9].map(|r| g[r as usize] as u64);
        kldhost::session::vm_child_check();
        if nr as u32 == SYS_EXIT_GROUP {
            if kldhost::linuxulator::in_vm_child() {
                // A vfork child's exit: the parent, whose memory this is, goes on.
                kldhost::session::vm_child_exit();
            } else {
                kldhost_fini();
            }
            libc::syscall(libc::c_long::from(nr), args[0], 0, 0, 0, 0, EXEC_PASS);
            return;
        }
        if nr as u32 == SYS_EXECVE || nr as u32 == SYS_EXECVEAT {
            // The process's image is about to go: FreeBSD runs the process_exec
            // handlers in exec; then the real exec, marked for the filter.
            kldhost::session::exec();
            let r = libc::syscall(libc::c_long::from(nr), args[0], args[1], args[2], args[3], args[4], EXEC_PASS);
            g[libc::REG_RAX as usize] = if r < 0 { -i64::from(*libc::__errno_location()) } else { r };
            return;
        }
        IN_MODEL.with(|m| m.set(m.get() + 1));
        kldhost::kpi::signal::call_entered(&uc.uc_sigmask);
        let rax = kldhost::linuxulator::syscall(nr as usize, args);
        IN_MODEL.with(|m| m.set(m.get() - 1));
        // The mask the kernel leaves the thread with; sigreturn installs it.
        if let Some(mask) = kldhost::kpi::signal::call_left() {
            uc.uc_sigmask = mask;
        }
        g[libc::REG_RAX as usize] = rax;
    }
}

/// execve and execveat are trapped too, so that the module's `process_exec` handlers
/// run before the program image is replaced, and so is exit_group. The handler then
/// makes the real call with this value in %r9 (an argument register none of these
/// calls uses), which the filter lets through.
const EXEC_PASS: u64 = 0x6b6c_6468_6f73_7421;
const SYS_EXECVE: u32 = 59;
const SYS_EXECVEAT: u32 = 322;
/// exit_group is trapped as well: a program that leaves with _exit(2) runs no exit
/// hooks, but its process still exits, and the module's process_exit handlers, the
/// unload and the report must still happen.
const SYS_EXIT_GROUP: u32 = 231;
/// The program's signal handlers are wrapped (sigaction and signal are interposed: a
/// program calls ours before libc's), so that a signal arriving while a thread is
/// inside the kernel model ends an interruptible sleep there (EINTR, or ERESTART with
/// SA_RESTART), as in FreeBSD's kernel, and then the program's handler runs.
const SIG_SLOTS: usize = 65;
/// The program's own handler and flags for each signal (0 = not wrapped).
static PROGRAM_HANDLER: [std::sync::atomic::AtomicUsize; SIG_SLOTS] = [const { std::sync::atomic::AtomicUsize::new(0) }; SIG_SLOTS];
static PROGRAM_FLAGS: [std::sync::atomic::AtomicU64; SIG_SLOTS] = [const { std::sync::atomic::AtomicU64::new(0) }; SIG_SLOTS];

thread_local!(static IN_MODEL: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });

/// Every wrapped signal comes here first.
extern "C" fn wrapped_handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let s = (sig as usize) % SIG_SLOTS;
    let (handler, flags) = (PROGRAM_HANDLER[s].load(Ordering::Acquire), PROGRAM_FLAGS[s].load(Ordering::Acquire));
    if IN_MODEL.with(|m| m.get()) > 0 {
        kldhost::kpi::signal::post(kldhost::kpi::tid(), flags & libc::SA_RESTART as u64 != 0);
    }
    if handler > 1 {
        // SAFETY: the program's own handler, called with the arguments its flags ask for.
        unsafe {
            if flags & libc::SA_SIGINFO as u64 != 0 {
                std::mem::transmute::<usize, extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void)>(handler)(sig, info, ctx);
            } else {
                std::mem::transmute::<usize, extern "C" fn(libc::c_int)>(handler)(sig);
            }
        }
    }
}

type SigactionFn = unsafe extern "C" fn(libc::c_int, *const libc::sigaction, *mut libc::sigaction) -> libc::c_int;

/// libc's own sigaction.
fn real_sigaction() -> Option<SigactionFn> {
    // SAFETY: dlsym(RTLD_NEXT) finds the next definition, libc's; its type is sigaction's.
    unsafe {
        let p = libc::dlsym(libc::RTLD_NEXT, c"sigaction".as_ptr());
        (!p.is_null()).then(|| std::mem::transmute::<*mut c_void, SigactionFn>(p))
    }
}

/// The program's sigaction(2): its handler is recorded and the wrapper installed.
///
/// # Safety
/// As sigaction(2).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigaction(sig: libc::c_int, act: *const libc::sigaction, oact: *mut libc::sigaction) -> libc::c_int {
    let Some(real) = real_sigaction() else { return -1 };
    let s = sig as usize;
    if sig == libc::SIGSYS && ACTIVE.load(Ordering::Acquire) {
        // The test bed needs SIGSYS for itself.
        return 0;
    }
    if s == 0 || s >= SIG_SLOTS || act.is_null() && oact.is_null() || FATAL.contains(&sig) {
        // SAFETY: the caller's arguments, passed on.
        return unsafe { real(sig, act, oact) };
    }
    let prev = (PROGRAM_HANDLER[s].load(Ordering::Acquire), PROGRAM_FLAGS[s].load(Ordering::Acquire));
    let mut mine: libc::sigaction;
    let mut newp = act;
    if !act.is_null() {
        // SAFETY: the caller's struct sigaction.
        mine = unsafe { *act };
        PROGRAM_HANDLER[s].store(mine.sa_sigaction, Ordering::Release);
        PROGRAM_FLAGS[s].store(mine.sa_flags as u64, Ordering::Release);
        if mine.sa_sigaction > 1 {
            mine.sa_sigaction = wrapped_handler as *const () as usize;
            mine.sa_flags |= libc::SA_SIGINFO;
        }
        newp = &mine;
    }
    // SAFETY: libc's sigaction with our structure and the caller's out-parameter.
    let r = unsafe { real(sig, newp, oact) };
    if r == 0 && !oact.is_null() {
        // SAFETY: the caller's out-parameter, just filled.
        unsafe {
            if (*oact).sa_sigaction == wrapped_handler as *const () as usize {
                (*oact).sa_sigaction = prev.0;
                (*oact).sa_flags = prev.1 as libc::c_int;
            }
        }
    }
    r
}

/// The program's signal(3): BSD semantics (SA_RESTART), through the interposed sigaction.
///
/// # Safety
/// As signal(3).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signal(sig: libc::c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    // SAFETY: plain structures for sigaction.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = handler;
        act.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut act.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if sigaction(sig, &act, &mut old) != 0 {
            return libc::SIG_ERR;
        }
        old.sa_sigaction
    }
}

/// A seccomp filter program with symbolic jump targets.
enum Insn {
    Load(u32),
    /// If A == k, go to the first label, else to the second.
    JumpEq(u32, &'static str, &'static str),
    Ret(u32),
    Label(&'static str),
}

fn assemble(prog: &[Insn]) -> Vec<libc::sock_filter> {
    let mut at = std::collections::HashMap::new();
    let mut n = 0usize;
    for i in prog {
        match i {
            Insn::Label(l) => {
                at.insert(*l, n);
            }
            _ => n += 1,
        }
    }
    let mut out = vec![];
    for i in prog {
        let here = out.len();
        let rel = |l: &str| (at[l] - here - 1) as u8;
        match i {
            Insn::Load(off) => out.push(stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, *off)),
            Insn::JumpEq(k, t, f) => out.push(jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, *k, rel(t), rel(f))),
            Insn::Ret(v) => out.push(stmt(libc::BPF_RET | libc::BPF_K, *v)),
            Insn::Label(_) => {}
        }
    }
    out
}

unsafe fn install() -> Result<(), String> {
    use Insn::*;
    // SAFETY (whole function): plain libc calls with valid, initialised arguments.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigsys as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
        libc::sigemptyset(&mut sa.sa_mask);
        // The raw call, marked for the filter: an earlier image's filter, inherited
        // across exec, lets only a marked rt_sigaction change SIGSYS (see below).
        let ksa = KernelSigaction {
            handler: on_sigsys as *const () as usize,
            flags: (libc::SA_SIGINFO | libc::SA_NODEFER | SA_RESTORER) as u64,
            restorer: kldhost_restore_rt as *const () as usize,
            mask: 0,
        };
        if libc::syscall(libc::SYS_rt_sigaction, libc::SIGSYS, &ksa as *const KernelSigaction, std::ptr::null_mut::<c_void>(), 8usize, 0usize, EXEC_PASS) != 0 {
            return Err(format!("rt_sigaction: {}", std::io::Error::last_os_error()));
        }
        // struct seccomp_data: nr @0, arch @4, args[i] @16 + 8 i (low word first).
        let mut p = vec![Load(4), JumpEq(AUDIT_ARCH_X86_64, "x86_64", "allow"), Label("x86_64"), Load(0)];
        for (i, nr) in TRAPPED.iter().enumerate() {
            let next: &'static str = ["n1", "n2", "n3", "n4", "n5", "n6"][i];
            p.extend([JumpEq(*nr, "trap", next), Label(next)]);
        }
        p.extend([
            // rt_sigaction(SIGSYS, act, ...) without the mark succeeds and changes
            // nothing: a posix_spawn or system() child resets every handled signal to
            // SIG_DFL with the raw call, and then its exec, trapped, would kill it.
            JumpEq(SYS_RT_SIGACTION, "sigaction", "n6b"),
            Label("sigaction"),
            Load(16),
            JumpEq(libc::SIGSYS as u32, "sigaction_new", "allow"),
            Label("sigaction_new"),
            // Only a call that installs something (act != NULL); a query goes through.
            Load(16 + 8),
            JumpEq(0, "sigaction_lo0", "sigaction_mark"),
            Label("sigaction_lo0"),
            Load(16 + 8 + 4),
            JumpEq(0, "allow", "sigaction_mark"),
            Label("sigaction_mark"),
        ]);
        p.extend(if_marked("sigaction_hi", "allow", "ignore"));
        p.extend([
            Label("n6b"),
            JumpEq(SYS_EXECVE, "exec", "n7"),
            Label("n7"),
            JumpEq(SYS_EXIT_GROUP, "exec", "n8"),
            Label("n8"),

            JumpEq(SYS_EXECVEAT, "exec", "allow"),
            Label("exec"),
        ]);
        p.extend(if_marked("exec_hi", "allow", "trap"));
        p.extend([
            Label("allow"),
            Ret(libc::SECCOMP_RET_ALLOW),
            Label("trap"),
            Ret(libc::SECCOMP_RET_TRAP),
            Label("ignore"),
            Ret(libc::SECCOMP_RET_ERRNO),
        ]);
        let mut prog = assemble(&p);
        let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_mut_ptr() };
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(format!("PR_SET_NO_NEW_PRIVS: {}", std::io::Error::last_os_error()));
        }
        if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &fprog as *const libc::sock_fprog) != 0 {
            return Err(format!("PR_SET_SECCOMP: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Goes to `yes` when the call carries the test bed's mark (EXEC_PASS in its sixth
/// argument register), else to `no`; `hi` is a label of its own for the second half.
fn if_marked(hi: &'static str, yes: &'static str, no: &'static str) -> [Insn; 5] {
    use Insn::*;
    [Load(16 + 5 * 8), JumpEq(EXEC_PASS as u32, hi, no), Label(hi), Load(16 + 5 * 8 + 4), JumpEq((EXEC_PASS >> 32) as u32, yes, no)]
}

const SYS_RT_SIGACTION: u32 = 13;
const SA_RESTORER: libc::c_int = 0x0400_0000;

/// The kernel's `struct sigaction` on x86_64, for the raw rt_sigaction call.
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

// What a handler installed with the raw call returns through: rt_sigreturn (15).
std::arch::global_asm!(
    ".globl kldhost_restore_rt",
    ".type kldhost_restore_rt, @function",
    "kldhost_restore_rt:",
    "mov rax, 15",
    "syscall",
);
unsafe extern "C" {
    fn kldhost_restore_rt();
}

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt, jf, k }
}
