//! One simulated FreeBSD kernel: its configuration, its console, and what its
//! INVARIANTS/WITNESS checks found.
//!
//! A process has one kernel at a time, as a machine does. `boot` (re)initialises every
//! part of the model for a configuration; tests that boot kernels hold [`exclusive`].

use crate::freebsd::Major;
use crate::{kpi, linuxulator};
use std::sync::{Mutex, MutexGuard, OnceLock, RwLock};

/// What kind of FreeBSD the model plays.
#[derive(Clone, Debug)]
pub struct Config {
    pub major: Major,
    /// The kernel has native AIO (the module "aio"); `--no-aio` takes it away.
    pub native_aio: bool,
    /// linux64.ko and linux_common.ko are loaded; `--no-linux64` takes them away.
    pub linux64: bool,
    /// Loader tunables (kenv), e.g. `compat.linux.aio.enable=0`.
    pub tunables: Vec<(String, String)>,
    /// Echo console lines to stderr as they are printed.
    pub echo_console: bool,
}

impl Config {
    pub fn new(major: u32) -> Option<Config> {
        Some(Config { major: Major::new(major)?, native_aio: true, linux64: true, tunables: vec![], echo_console: false })
    }
}

static CONFIG: RwLock<Option<Config>> = RwLock::new(None);
static CONSOLE: Mutex<Vec<String>> = Mutex::new(Vec::new());
static VIOLATIONS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Boots a kernel with `config`, replacing the previous one (whose modules must have
/// been unloaded).
pub fn boot(config: Config) {
    crate::arena::arena();
    if let Ok(mut c) = CONSOLE.lock() {
        c.clear();
    }
    if let Ok(mut v) = VIOLATIONS.lock() {
        v.clear();
    }
    if let Ok(mut c) = CONFIG.write() {
        *c = Some(config.clone());
    }
    kpi::reset(&config);
    linuxulator::reset(&config);
}

/// The running kernel's configuration.
pub fn config() -> Config {
    CONFIG.read().ok().and_then(|c| c.clone()).or_else(|| Config::new(15)).expect("FreeBSD 15 is a known major")
}

/// A line on the console (printf(9) output and the kernel's own messages).
pub fn console_print(line: &str) {
    let echo = CONFIG.read().ok().and_then(|c| c.as_ref().map(|c| c.echo_console)).unwrap_or(false);
    if echo {
        eprintln!("[kernel] {line}");
    }
    if let Ok(mut c) = CONSOLE.lock() {
        c.push(line.to_string());
    }
}

pub fn console() -> Vec<String> {
    CONSOLE.lock().map(|c| c.clone()).unwrap_or_default()
}

/// Something FreeBSD's INVARIANTS or WITNESS would have stopped the kernel for. The
/// model records it (and says it on the console) so that the test that caused it fails
/// with the reason, instead of the whole process dying.
pub fn violation(what: String) {
    console_print(&format!("INVARIANTS/WITNESS: {what}"));
    if let Ok(mut v) = VIOLATIONS.lock() {
        v.push(what);
    }
}

pub fn violations() -> Vec<String> {
    VIOLATIONS.lock().map(|v| v.clone()).unwrap_or_default()
}

/// Serialises the users of the one kernel (tests in one process).
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let m = LOCK.get_or_init(|| Mutex::new(()));
    m.lock().unwrap_or_else(|e| e.into_inner())
}
