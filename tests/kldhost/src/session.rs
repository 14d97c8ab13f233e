//! A test-bed session inside a program's process: boot a kernel model, load a module,
//! and at the end unload it and report. The preload library and the `kldhost` command
//! talk through the environment:
//!
//! | variable | meaning |
//! |---|---|
//! | `KLDHOST_MODULE` | the `.ko` to load |
//! | `KLDHOST_FREEBSD` | the major to model (14 or 15; default 15) |
//! | `KLDHOST_NO_AIO`, `KLDHOST_NO_LINUX64` | take native AIO, or linux64/linux_common, away |
//! | `KLDHOST_TUNABLES` | loader tunables, `name=value` separated by commas |
//! | `KLDHOST_REPORT` | a file to write the end-of-run report to (the command reads it) |

use crate::kernel::{self, Config};
use crate::kpi::{eventhandler, malloc};
use crate::linuxulator;
use crate::loader::{self, LinkerFile};
use std::ffi::c_int;
use std::sync::Mutex;

static LOADED: Mutex<Option<LinkerFile>> = Mutex::new(None);
/// Whether this process is a fork child of the one that started the session: the
/// kernel is the parent's (one kernel per machine), so the child neither unloads the
/// module nor reports; its exit is only an event for the module.
static CHILD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// In a fork child, right after fork(2): a new process for the kernel, and the
/// module's `process_fork` handlers told, as FreeBSD's fork1() does.
pub fn forked_child() {
    CHILD.store(true, std::sync::atomic::Ordering::SeqCst);
    let parent = linuxulator::curproc();
    let child = linuxulator::new_process();
    eventhandler::process_fork(parent, child, 0);
}

/// fork1's flags for a vfork (sys/unistd.h), as the Linuxulator's vfork and a clone with
/// CLONE_VM|CLONE_VFORK pass them: RFFDG | RFPROC | RFMEM | RFPPWAIT.
const VFORK_FLAGS: c_int = (1 << 2) | (1 << 4) | (1 << 5) | (1 << 31);

/// Before every trapped system call: a child sharing this memory (vfork, posix_spawn)
/// that calls for the first time becomes a process of the model, and the module's
/// `process_fork` handlers are told, as FreeBSD's fork1() does.
pub fn vm_child_check() {
    if let Some((parent, child)) = linuxulator::vm_child_enter() {
        eventhandler::process_fork(parent, child, VFORK_FLAGS);
    }
}

/// A child sharing this memory exits: its `process_exit` handlers, and nothing else —
/// the module, the kernel and the report are its parent's.
pub fn vm_child_exit() {
    eventhandler::process_exit(linuxulator::curproc());
    linuxulator::vm_child_leave();
}

fn env_flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The configuration the environment asks for.
pub fn config_from_env() -> Result<Config, String> {
    let major: u32 = std::env::var("KLDHOST_FREEBSD").unwrap_or_else(|_| "15".into()).parse().map_err(|e| format!("KLDHOST_FREEBSD: {e}"))?;
    let mut c = Config::new(major).ok_or_else(|| format!("KLDHOST_FREEBSD={major}: only 14 and 15 are modelled"))?;
    c.native_aio = !env_flag("KLDHOST_NO_AIO");
    c.linux64 = !env_flag("KLDHOST_NO_LINUX64");
    if let Ok(t) = std::env::var("KLDHOST_TUNABLES") {
        for kv in t.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').ok_or_else(|| format!("KLDHOST_TUNABLES: {kv} is not name=value"))?;
            c.tunables.push((k.into(), v.into()));
        }
    }
    Ok(c)
}

/// Boots the model and loads `KLDHOST_MODULE`; says on stderr what happened.
pub fn start() -> Result<(), String> {
    let mut config = config_from_env()?;
    // The kernel's console goes to stderr, as the console of a machine would show it.
    config.echo_console = true;
    let path = std::env::var("KLDHOST_MODULE").map_err(|_| "KLDHOST_MODULE is not set".to_string())?;
    let data = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    let name = std::path::Path::new(&path).file_name().map_or(path.clone(), |n| n.to_string_lossy().into_owned());
    kernel::boot(config.clone());
    // This process's struct proc, now: a vfork or posix_spawn child that made the
    // first trapped call would otherwise be taken for the process itself.
    linuxulator::curproc();
    match loader::load(&data, &name) {
        Ok(lf) => {
            eprintln!(
                "kldhost: kldload {name}: loaded into a FreeBSD {} model (native AIO: {}, linux64: {})",
                config.major.major,
                if config.native_aio { "yes" } else { "no" },
                if config.linux64 { "yes" } else { "no" }
            );
            if let Ok(mut l) = LOADED.lock() {
                *l = Some(lf);
            }
        }
        Err(e) => eprintln!("kldhost: kldload {name}: refused: {e}"),
    }
    Ok(())
}

/// The process is about to exec: the module's `process_exec` handlers run (and native
/// AIO's rundown). FreeBSD runs them only once the exec can no longer fail; the test bed
/// runs them before trying, so a failed exec is seen by them too.
pub fn exec() {
    eventhandler::process_exec(linuxulator::curproc());
    // A child sharing its parent's memory leaves it with the exec.
    if linuxulator::in_vm_child() {
        linuxulator::vm_child_leave();
    }
}

/// The process exits: the module's `process_exit` handlers run. Then (not in a fork
/// child) the module is unloaded and the report returned (also printed to stderr).
pub fn finish() -> Option<String> {
    eventhandler::process_exit(linuxulator::curproc());
    if CHILD.load(std::sync::atomic::Ordering::SeqCst) {
        return None;
    }
    let mut report = vec![];
    let lf = LOADED.lock().ok().and_then(|mut l| l.take());
    if let Some(lf) = lf {
        let name = lf.filename.clone();
        match loader::unload(lf, false) {
            Ok(()) => report.push(format!("kldunload {name}: ok")),
            Err((_, e)) => report.push(format!("kldunload {name}: refused (error {e})")),
        }
    }
    let s = linuxulator::served();
    report.push(format!("io_* calls: {} served by the module, {} by stock stubs, {} by nosys", s.module, s.stock, s.nosys));
    for t in malloc::types().iter().filter(|t| !t.name.is_empty()) {
        report.push(format!("malloc type {}: {} bytes in {} allocations still allocated", t.name, t.bytes, t.count));
    }
    let v = kernel::violations();
    if v.is_empty() {
        report.push("INVARIANTS/WITNESS: no findings".into());
    } else {
        for f in v {
            report.push(format!("INVARIANTS/WITNESS: {f}"));
        }
    }
    for line in &report {
        eprintln!("kldhost: {line}");
    }
    Some(report.join("\n") + "\n")
}
