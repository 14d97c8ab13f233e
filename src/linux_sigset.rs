//! Linux signal sets (`sigset_t` of the Linux ABI: 64 bits, bit n-1 for signal n) in
//! FreeBSD's numbering, for io_pgetevents' temporary mask.
//!
//! The numbers differ: Linux's SIGBUS, SIGUSR1, SIGUSR2, SIGCHLD, SIGSTOP... are not
//! FreeBSD's. The translation is the Linuxulator's (sys/compat/linux/linux.c,
//! `linux_to_bsd_signal`): signals 1–31 by table, Linux SIGSTKFLT as SIGBUS, Linux
//! SIGPWR as the first FreeBSD number after the real-time range the Linuxulator maps
//! (SIGRTMIN + 33), and the Linux real-time signals 32–64 onto SIGRTMIN + (n − 32).
//! The Linuxulator's own function is a localised symbol of linux_common.ko, so the
//! module carries the table itself.

use crate::bindings::freebsd as f;

/// Linux's first real-time signal number, and its last (amd64).
const LINUX_SIGRTMIN: u32 = 32;
const LINUX_SIGRTMAX: u32 = 64;
/// The FreeBSD number the Linuxulator gives Linux's SIGPWR (30).
const SIGPWR_EMULATED: u32 = f::SIGRTMIN + (LINUX_SIGRTMAX - LINUX_SIGRTMIN) + 1;

/// FreeBSD's number for Linux signals 1–31 (index n − 1).
const BY_LINUX_NUMBER: [u32; 31] = [
    f::SIGHUP,
    f::SIGINT,
    f::SIGQUIT,
    f::SIGILL,
    f::SIGTRAP,
    f::SIGABRT,
    f::SIGBUS, // Linux 7 is SIGBUS
    f::SIGFPE,
    f::SIGKILL,
    f::SIGUSR1, // 10
    f::SIGSEGV,
    f::SIGUSR2, // 12
    f::SIGPIPE,
    f::SIGALRM,
    f::SIGTERM,
    f::SIGBUS, // 16, SIGSTKFLT: FreeBSD has none
    f::SIGCHLD,
    f::SIGCONT,
    f::SIGSTOP,
    f::SIGTSTP,
    f::SIGTTIN,
    f::SIGTTOU,
    f::SIGURG,
    f::SIGXCPU,
    f::SIGXFSZ,
    f::SIGVTALRM,
    f::SIGPROF,
    f::SIGWINCH,
    f::SIGIO,
    SIGPWR_EMULATED, // 30, SIGPWR
    f::SIGSYS,
];

/// The FreeBSD signal number for Linux signal `sig` (1–64), or None.
pub fn to_freebsd_signal(sig: u32) -> Option<u32> {
    match sig {
        1..LINUX_SIGRTMIN => BY_LINUX_NUMBER.get(sig as usize - 1).copied(),
        LINUX_SIGRTMIN..=LINUX_SIGRTMAX => Some(f::SIGRTMIN + (sig - LINUX_SIGRTMIN)),
        _ => None,
    }
}

/// A Linux signal set as a FreeBSD `sigset_t`.
pub fn to_freebsd(linux: u64) -> f::sigset_t {
    let mut set = f::sigset_t { __bits: [0; f::_SIG_WORDS as usize] };
    for sig in 1..=LINUX_SIGRTMAX {
        if linux & (1u64 << (sig - 1)) == 0 {
            continue;
        }
        if let Some(b) = to_freebsd_signal(sig)
            && let Some(word) = set.__bits.get_mut(((b - 1) / 32) as usize)
        {
            *word |= 1 << ((b - 1) % 32);
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(set: &f::sigset_t) -> Vec<u32> {
        (1..=f::_SIG_MAXSIG).filter(|&s| set.__bits[((s - 1) / 32) as usize] & (1 << ((s - 1) % 32)) != 0).collect()
    }

    #[test]
    fn the_numbers_that_differ_are_translated() {
        // Linux amd64 numbers on the left (asm-generic/signal.h), FreeBSD's on the right.
        for (linux, freebsd) in [(7, 10), (10, 30), (12, 31), (16, 10), (17, 20), (18, 19), (19, 17), (20, 18), (23, 16), (29, 23), (31, 12)] {
            assert_eq!(to_freebsd_signal(linux), Some(freebsd), "Linux signal {linux}");
        }
        for same in [1, 2, 3, 4, 5, 6, 8, 9, 11, 13, 14, 15, 21, 22, 24, 25, 26, 27, 28] {
            assert_eq!(to_freebsd_signal(same), Some(same), "Linux signal {same}");
        }
        assert_eq!(to_freebsd_signal(30), Some(98)); // SIGPWR
        assert_eq!(to_freebsd_signal(32), Some(65));
        assert_eq!(to_freebsd_signal(64), Some(97));
        assert_eq!(to_freebsd_signal(0), None);
        assert_eq!(to_freebsd_signal(65), None);
    }

    #[test]
    fn sets_translate_member_by_member() {
        assert_eq!(members(&to_freebsd(0)), Vec::<u32>::new());
        // SIGUSR1 (10) and SIGUSR2 (12): FreeBSD's 30 and 31.
        assert_eq!(members(&to_freebsd((1 << 9) | (1 << 11))), vec![30, 31]);
        // Every Linux signal: FreeBSD's 1–31 but SIGEMT (7), SIGINFO (29); RT 65–98.
        let all = members(&to_freebsd(u64::MAX));
        assert!(!all.contains(&7) && !all.contains(&29) && !all.contains(&32));
        assert_eq!(all.len(), 29 + 34);
    }
}
