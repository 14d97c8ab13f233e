//! FreeBSD's layouts and constants for each major, from the module's own committed
//! bindings: the test bed models the kernel the module was built against.

#[allow(non_camel_case_types, non_snake_case, non_upper_case_globals, dead_code, unnecessary_transmutes, clashing_extern_declarations, clippy::all)]
pub mod fbsd14 {
    include!("../../../bindings/freebsd14.rs");
}

#[allow(non_camel_case_types, non_snake_case, non_upper_case_globals, dead_code, unnecessary_transmutes, clashing_extern_declarations, clippy::all)]
pub mod fbsd15 {
    include!("../../../bindings/freebsd15.rs");
}

/// Layouts that are the same in both majors (checked below), taken from 15.
pub use fbsd15 as common;

/// What differs between the majors, as values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Major {
    pub major: u32,
    /// `__FreeBSD_version` of the modelled kernel.
    pub freebsd_version: u32,
    pub m_version: u64,
    pub thread_size: usize,
    pub td_retval: usize,
    pub td_proc: usize,
    /// `td_sa.args`: where syscallenter leaves the argument registers.
    pub td_sa_args: usize,
    pub proc_size: usize,
    pub p_pid: usize,
    pub td_pflags: usize,
    pub td_oldsigmask: usize,
    /// The AST that restores td_oldsigmask (its number differs between the majors).
    pub tda_sigsuspend: u32,
}

impl Major {
    pub fn new(major: u32) -> Option<Major> {
        use std::mem::{offset_of, size_of};
        match major {
            14 => Some(Major {
                major,
                freebsd_version: fbsd14::FREEBSD_VERSION,
                m_version: fbsd14::M_VERSION.into(),
                thread_size: size_of::<fbsd14::thread>(),
                td_retval: offset_of!(fbsd14::thread, td_uretoff),
                td_proc: offset_of!(fbsd14::thread, td_proc),
                td_sa_args: offset_of!(fbsd14::thread, td_sa) + offset_of!(fbsd14::syscall_args, args),
                proc_size: size_of::<fbsd14::proc_>(),
                p_pid: offset_of!(fbsd14::proc_, p_pid),
                td_pflags: offset_of!(fbsd14::thread, td_pflags),
                td_oldsigmask: offset_of!(fbsd14::thread, td_oldsigmask),
                tda_sigsuspend: fbsd14::TDA_SIGSUSPEND,
            }),
            15 => Some(Major {
                major,
                freebsd_version: fbsd15::FREEBSD_VERSION,
                m_version: fbsd15::M_VERSION.into(),
                thread_size: size_of::<fbsd15::thread>(),
                td_retval: offset_of!(fbsd15::thread, td_uretoff),
                td_proc: offset_of!(fbsd15::thread, td_proc),
                td_sa_args: offset_of!(fbsd15::thread, td_sa) + offset_of!(fbsd15::syscall_args, args),
                proc_size: size_of::<fbsd15::proc_>(),
                p_pid: offset_of!(fbsd15::proc_, p_pid),
                td_pflags: offset_of!(fbsd15::thread, td_pflags),
                td_oldsigmask: offset_of!(fbsd15::thread, td_oldsigmask),
                tda_sigsuspend: fbsd15::TDA_SIGSUSPEND,
            }),
            _ => None,
        }
    }
}

// The structures the model shares between majors must really be the same.
const _: () = {
    use std::mem::size_of;
    assert!(size_of::<fbsd14::sysent>() == size_of::<fbsd15::sysent>());
    assert!(size_of::<fbsd14::sysinit>() == size_of::<fbsd15::sysinit>());
    assert!(size_of::<fbsd14::mod_metadata>() == size_of::<fbsd15::mod_metadata>());
    assert!(size_of::<fbsd14::moduledata>() == size_of::<fbsd15::moduledata>());
    assert!(size_of::<fbsd14::malloc_type>() == size_of::<fbsd15::malloc_type>());
    assert!(size_of::<fbsd14::sysctl_oid>() == size_of::<fbsd15::sysctl_oid>());
    assert!(size_of::<fbsd14::sysctl_req>() == size_of::<fbsd15::sysctl_req>());
    assert!(size_of::<fbsd14::sx>() == size_of::<fbsd15::sx>());
    assert!(size_of::<fbsd14::stat>() == size_of::<fbsd15::stat>());
    assert!(std::mem::offset_of!(fbsd14::stat, st_mode) == std::mem::offset_of!(fbsd15::stat, st_mode));
};
