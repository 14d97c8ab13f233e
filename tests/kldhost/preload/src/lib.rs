//! The interposer: preloaded into an unmodified Linux program (LD_PRELOAD), it loads a
//! FreeBSD module into the test bed's kernel model before `main`, and routes the
//! program's Linux AIO system calls (amd64: 206–210, 333) to the model's
//! `linux_sysent` — that is, to the module's entries once it has installed them.
//!
//! How: a seccomp filter makes those six system calls trap (SECCOMP_RET_TRAP). The
//! kernel then delivers SIGSYS in the calling thread with its registers; the handler
//! hands the number and the six argument registers to the model's `syscallenter` and
//! puts the result in %rax, as the Linux sysvec would. Every other system call runs
//! natively. At exit the module is unloaded and the report is written.

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

extern "C" fn kldhost_fini() {
    if !ACTIVE.load(Ordering::SeqCst) {
        return;
    }
    if let Some(report) = kldhost::session::finish()
        && let Some(path) = std::env::var_os("KLDHOST_REPORT")
    {
        let _ = std::fs::write(path, report);
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
            libc::sigaction(sig, &sa, std::ptr::null_mut());
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
    if let Some(path) = std::env::var_os("KLDHOST_REPORT") {
        let tmp = std::path::PathBuf::from(&path).with_extension("partial");
        if std::fs::write(&tmp, line).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    // SAFETY: the default action back, then the same signal again: the process dies of it.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
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
        let rax = kldhost::linuxulator::syscall(nr as usize, args);
        g[libc::REG_RAX as usize] = rax;
    }
}

unsafe fn install() -> Result<(), String> {
    // SAFETY (whole function): plain libc calls with valid, initialised arguments.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigsys as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut()) != 0 {
            return Err(format!("sigaction: {}", std::io::Error::last_os_error()));
        }
        let mut prog = vec![
            // A = seccomp_data.arch; other architectures are left alone.
            stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 4),
            jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, AUDIT_ARCH_X86_64, 0, TRAPPED.len() as u8 + 1),
            // A = seccomp_data.nr
            stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
        ];
        for (i, nr) in TRAPPED.iter().enumerate() {
            // Equal: jump to the TRAP return after the ALLOW one.
            let to_trap = (TRAPPED.len() - i) as u8;
            prog.push(jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, *nr, to_trap, 0));
        }
        prog.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW));
        prog.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_TRAP));
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

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt, jf, k }
}
