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
