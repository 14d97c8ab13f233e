//! The KPI model's own behaviour: what it must do, and what it must catch, for the
//! test bed's verdicts on a module to mean anything.

use kldhost::arena;
use kldhost::freebsd::common as f;
use kldhost::kernel::{self, Config};
use kldhost::kpi::{lock, malloc, print, sleep, sysctl};
use kldhost::linuxulator;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn boot() -> std::sync::MutexGuard<'static, ()> {
    let k = kernel::exclusive();
    kernel::boot(Config::new(15).unwrap());
    k
}

fn violated(text: &str) -> bool {
    kernel::violations().iter().any(|v| v.contains(text))
}

/// A malloc type in kernel memory, as MALLOC_DEFINE makes one.
fn malloc_type(name: &'static std::ffi::CStr) -> *mut f::malloc_type {
    let t = arena::arena().alloc(std::mem::size_of::<f::malloc_type>(), 16).unwrap().as_ptr().cast::<f::malloc_type>();
    unsafe {
        (*t).ks_version = kernel::config().major.m_version as _;
        (*t).ks_shortdesc = name.as_ptr();
    }
    t
}

fn mutex(name: &'static std::ffi::CStr) -> *mut usize {
    let m = arena::arena().alloc(32, 16).unwrap().as_ptr().cast::<usize>();
    unsafe { lock::_mtx_init(m, name.as_ptr(), std::ptr::null(), 0) };
    m
}

fn sx(name: &'static std::ffi::CStr) -> *mut c_void {
    let s = arena::arena().alloc(32, 16).unwrap().as_ptr().cast::<c_void>();
    unsafe { lock::sx_init_flags(s, name.as_ptr(), 0) };
    s
}

// ---- malloc(9) ----

#[test]
fn malloc_accounts_per_type_and_catches_misuse() {
    let _k = boot();
    let a = malloc_type(c"type_a");
    let b = malloc_type(c"type_b");
    unsafe {
        malloc::malloc_init(a.cast());
        malloc::malloc_init(b.cast());
        let p = malloc::malloc(100, a, f::M_WAITOK as c_int);
        assert!(arena::is_kernel(p as usize), "malloc returns kernel memory");
        assert_eq!(*(p as *const u32), 0xdead_c0de, "without M_ZERO the memory is junk-filled, as INVARIANTS does");
        let z = malloc::malloc(64, a, (f::M_NOWAIT | f::M_ZERO) as c_int);
        assert!((0..64).all(|i| *(z as *const u8).add(i) == 0));
        assert_eq!(malloc::bytes_of("type_a"), 164);
        assert!(kernel::violations().is_empty());

        malloc::free(p, b);
        assert!(violated("allocated as type_a but freed as type_b"));
        malloc::free(p, a);
        assert!(violated("not allocated (double free?)"));
        malloc::free(z, a);
        assert_eq!(malloc::bytes_of("type_a"), 0);

        let _ = malloc::malloc(8, a, 0);
        assert!(violated("one and only one of M_WAITOK and M_NOWAIT"));
    }
}

#[test]
fn malloc_needs_an_initialised_type_of_the_running_kernels_version() {
    let _k = boot();
    let t = malloc_type(c"type_c");
    unsafe {
        let _ = malloc::malloc(8, t, f::M_NOWAIT as c_int);
        assert!(violated("is not initialised"));
        (*t).ks_version = 1;
        malloc::malloc_init(t.cast());
        assert!(violated("bad malloc type version 1"));
    }
}

#[test]
fn malloc_uninit_reports_a_leak() {
    let _k = boot();
    let t = malloc_type(c"leaky");
    unsafe {
        malloc::malloc_init(t.cast());
        let _ = malloc::malloc(48, t, f::M_WAITOK as c_int);
        malloc::malloc_uninit(t.cast());
    }
    assert!(kernel::console().iter().any(|l| l == "Warning: memory type leaky leaked memory on destroy (1 allocations, 48 bytes leaked)."));
    assert!(violated("48 bytes (1 allocations) of malloc type 'leaky'"));
}

#[test]
fn malloc_waitok_under_a_mutex_is_caught() {
    let _k = boot();
    let t = malloc_type(c"type_d");
    let m = mutex(c"test mtx");
    unsafe {
        malloc::malloc_init(t.cast());
        lock::__mtx_lock_flags(m, 0, std::ptr::null(), 0);
        let p = malloc::malloc(8, t, f::M_WAITOK as c_int);
        lock::__mtx_unlock_flags(m, 0, std::ptr::null(), 0);
        malloc::free(p, t);
    }
    assert!(violated("malloc(M_WAITOK) may sleep with non-sleepable lock test mtx held"));
}

// ---- locks and sleep ----

#[test]
fn sleeping_with_a_mutex_held_is_caught_and_giant_is_exempt() {
    let _k = boot();
    let m = mutex(c"sleepy mtx");
    unsafe {
        lock::giant_enter();
        sleep::pause_sbt(c"test".as_ptr(), 1 << 20, 0, 0);
        lock::giant_exit();
        assert!(kernel::violations().is_empty(), "sleeping with Giant is allowed");
        lock::__mtx_lock_flags(m, 0, std::ptr::null(), 0);
        sleep::pause_sbt(c"test".as_ptr(), 1 << 20, 0, 0);
        lock::__mtx_unlock_flags(m, 0, std::ptr::null(), 0);
    }
    assert!(violated("sleeping (pause \"test\") with non-sleepable lock sleepy mtx held"));
}

#[test]
fn pause_sleeps_for_its_time() {
    let _k = boot();
    let start = Instant::now();
    let e = unsafe { sleep::pause_sbt(c"t".as_ptr(), (1i64 << 32) / 20, 0, 0) }; // 50 ms
    assert_eq!(e, f::EWOULDBLOCK as c_int);
    assert!(start.elapsed() >= Duration::from_millis(50));
}

#[test]
fn sx_under_a_mutex_recursion_and_foreign_unlock_are_caught() {
    let _k = boot();
    let m = mutex(c"outer mtx");
    let s = sx(c"inner sx");
    unsafe {
        lock::__mtx_lock_flags(m, 0, std::ptr::null(), 0);
        lock::_sx_xlock(s, 0, std::ptr::null(), 0);
        lock::_sx_xunlock(s, std::ptr::null(), 0);
        lock::__mtx_unlock_flags(m, 0, std::ptr::null(), 0);
        assert!(violated("acquiring sleepable lock inner sx with non-sleepable lock outer mtx held"));

        lock::__mtx_lock_flags(m, 0, std::ptr::null(), 0);
        lock::__mtx_lock_flags(m, 0, std::ptr::null(), 0);
        lock::__mtx_unlock_flags(m, 0, std::ptr::null(), 0);
        assert!(violated("recursing on non-recursive lock outer mtx"));

        lock::__mtx_unlock_flags(m, 0, std::ptr::null(), 0);
        assert!(violated("unlocking a lock not held"));
    }
}

#[test]
fn lock_order_reversal_is_caught() {
    let _k = boot();
    let a = mutex(c"lock A");
    let b = mutex(c"lock B");
    unsafe {
        lock::__mtx_lock_flags(a, 0, std::ptr::null(), 0);
        lock::__mtx_lock_flags(b, 0, std::ptr::null(), 0);
        lock::__mtx_unlock_flags(b, 0, std::ptr::null(), 0);
        lock::__mtx_unlock_flags(a, 0, std::ptr::null(), 0);
        assert!(kernel::violations().is_empty());
        lock::__mtx_lock_flags(b, 0, std::ptr::null(), 0);
        lock::__mtx_lock_flags(a, 0, std::ptr::null(), 0);
        lock::__mtx_unlock_flags(a, 0, std::ptr::null(), 0);
        lock::__mtx_unlock_flags(b, 0, std::ptr::null(), 0);
    }
    assert!(violated("lock order reversal: lock B then lock A"));
}

#[test]
fn a_held_mutex_blocks_another_thread() {
    let _k = boot();
    let m = mutex(c"contended") as usize;
    let got = AtomicBool::new(false);
    unsafe { lock::__mtx_lock_flags(m as *mut usize, 0, std::ptr::null(), 0) };
    std::thread::scope(|s| {
        s.spawn(|| {
            unsafe { lock::__mtx_lock_flags(m as *mut usize, 0, std::ptr::null(), 0) };
            got.store(true, Ordering::SeqCst);
            unsafe { lock::__mtx_unlock_flags(m as *mut usize, 0, std::ptr::null(), 0) };
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(!got.load(Ordering::SeqCst), "the second thread waited");
        unsafe { lock::__mtx_unlock_flags(m as *mut usize, 0, std::ptr::null(), 0) };
    });
    assert!(got.load(Ordering::SeqCst));
    assert!(kernel::violations().is_empty());
}

// ---- sysctl ----

#[test]
fn sysctl_reuses_nodes_refuses_leaves_and_frees_only_dynamic_oids() {
    let _k = boot();
    let ctx = arena::arena().alloc(16, 16).unwrap().as_ptr().cast::<f::sysctl_ctx_list>();
    let value = arena::arena().alloc(4, 4).unwrap().as_ptr().cast::<c_int>();
    let compat_linux = sysctl::static_node("compat.linux").unwrap() as *mut f::sysctl_oid;
    unsafe {
        *value = 7;
        sysctl::sysctl_ctx_init(ctx);
        let parent = &raw mut (*compat_linux).oid_children;
        let node = (f::CTLTYPE_NODE | f::CTLFLAG_RW) as c_int;
        let n1 = sysctl::sysctl_add_oid(ctx, parent, -1, c"test".as_ptr(), node, std::ptr::null_mut(), 0, None, c"N".as_ptr(), c"".as_ptr(), std::ptr::null());
        let n2 = sysctl::sysctl_add_oid(ctx, parent, -1, c"test".as_ptr(), node, std::ptr::null_mut(), 0, None, c"N".as_ptr(), c"".as_ptr(), std::ptr::null());
        assert!(!n1.is_null() && n1 == n2, "an existing node is re-used");
        let leaf = (f::CTLTYPE_INT | f::CTLFLAG_RD) as c_int;
        let kids = &raw mut (*n1).oid_children;
        let l = sysctl::sysctl_add_oid(ctx, kids, -1, c"value".as_ptr(), leaf, value.cast(), 0, Some(sysctl::sysctl_handle_int), c"I".as_ptr(), c"".as_ptr(), std::ptr::null());
        assert!(!l.is_null());
        assert_eq!(sysctl::read("compat.linux.test.value"), Ok(7));
        assert_eq!(sysctl::write_path("compat.linux.test.value", 8), Err(f::EPERM as c_int), "read-only leaf");
        let again = sysctl::sysctl_add_oid(ctx, kids, -1, c"value".as_ptr(), leaf, value.cast(), 0, Some(sysctl::sysctl_handle_int), c"I".as_ptr(), c"".as_ptr(), std::ptr::null());
        assert!(again.is_null());
        assert!(kernel::console().iter().any(|l| l == "can't re-use a leaf (value)!"));
        assert_eq!(sysctl::sysctl_ctx_free(ctx), 0);
        assert_eq!(sysctl::find("compat.linux.test"), None, "both references to the node went with the context");

        // A context holding a static node cannot be freed, and nothing of it goes.
        let compat = sysctl::static_node("compat").unwrap() as *mut f::sysctl_oid;
        sysctl::sysctl_ctx_init(ctx);
        let reused = sysctl::sysctl_add_oid(ctx, &raw mut (*compat).oid_children, -1, c"linux".as_ptr(), node, std::ptr::null_mut(), 0, None, c"N".as_ptr(), c"".as_ptr(), std::ptr::null());
        assert_eq!(reused, compat_linux);
        assert_eq!(sysctl::sysctl_ctx_free(ctx), f::EBUSY as c_int);
        assert!(kernel::console().iter().any(|l| l == "Warning: can't remove non-dynamic nodes (linux)!"));
        assert!(sysctl::find("compat.linux").is_some());
    }
}

// ---- system call entry and deregistration ----

static ENTERED: AtomicBool = AtomicBool::new(false);
static RELEASE: AtomicBool = AtomicBool::new(false);

unsafe extern "C" fn slow_entry(_td: *mut f::thread, _args: *mut c_void) -> c_int {
    ENTERED.store(true, Ordering::SeqCst);
    while !RELEASE.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    f::EAGAIN as c_int
}

#[test]
fn deregistering_waits_for_a_call_inside_and_counted_entries_follow_the_protocol() {
    let _k = boot();
    let table = linuxulator::table();
    let stock = linuxulator::entry(207).unwrap();
    unsafe {
        // A counted entry, as a module installs one.
        (*table.add(207)).sy_call = Some(slow_entry);
        (*table.add(207)).sy_thrcnt = f::SY_THR_ABSENT;
    }
    assert_eq!(linuxulator::syscall(207, [0; 6]), -38, "an absent entry answers ENOSYS (nosys)");
    assert!(!ENTERED.load(Ordering::SeqCst));
    unsafe { (*table.add(207)).sy_thrcnt = 0 };
    let table_addr = table as usize;
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let call = s.spawn(|| linuxulator::syscall(207, [0; 6]));
        while !ENTERED.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(linuxulator::entry(207).unwrap().sy_thrcnt, f::SY_THR_INCR, "the call is counted");
        let dereg = s.spawn(|| {
            let e = unsafe { linuxulator::kern_syscall_deregister(table_addr as *mut f::sysent, 207, &stock) };
            done.store(true, Ordering::SeqCst);
            e
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(!done.load(Ordering::SeqCst), "deregistration waits for the call inside");
        assert_eq!(linuxulator::syscall(207, [0; 6]), -38, "a draining entry answers ENOSYS");
        RELEASE.store(true, Ordering::SeqCst);
        assert_eq!(call.join().unwrap(), -11, "EAGAIN became Linux's -11");
        assert_eq!(dereg.join().unwrap(), 0);
    });
    assert!(linuxulator::is_stock(207), "the stock entry is back");
    assert_eq!(unsafe { linuxulator::kern_syscall_deregister(table, 207, &stock) }, f::EINVAL as c_int, "a static entry cannot be deregistered");
    assert!(kernel::violations().is_empty());
}

#[test]
fn errno_translation_matches_the_linux_sysvec() {
    for (bsd, linux) in [(1, -1), (4, -4), (9, -9), (12, -12), (14, -14), (16, -16), (22, -22), (35, -11), (45, -95), (78, -38), (85, -125)] {
        assert_eq!(linuxulator::bsd_to_linux_errno(bsd), linux, "FreeBSD errno {bsd}");
    }
}

// ---- printf ----

#[test]
fn printf_formats_as_the_kernel_does() {
    let _k = boot();
    unsafe {
        print::printf(c"a %d b %u c %s d %.*s e %x f %5d|%-3s| %ld %%\n".as_ptr(), -3 as c_int, 7u32, c"str".as_ptr(), 2 as c_int, c"xyz".as_ptr(), 255u32, 42 as c_int, c"l".as_ptr(), -5i64);
        print::printf(c"part ".as_ptr());
        print::printf(c"whole\n".as_ptr());
    }
    let console = kernel::console();
    assert!(console.contains(&"a -3 b 7 c str d xy e ff f    42|l  | -5 %".to_string()), "{console:?}");
    assert!(console.contains(&"part whole".to_string()), "a line is shown when it ends");
}

// ---- user memory ----

mod usermem_tests {
    use super::*;
    use kldhost::kpi::usermem;

    fn kbuf(n: usize) -> *mut u8 {
        arena::arena().alloc(n, 16).unwrap().as_ptr()
    }

    #[test]
    fn copyin_and_copyout_reach_user_memory_and_fault_like_freebsd() {
        let _k = boot();
        let user = vec![1u8, 2, 3, 4, 5, 6, 7, 8];
        let k = kbuf(8);
        unsafe {
            assert_eq!(usermem::copyin(user.as_ptr().cast(), k.cast(), 8), 0);
            assert_eq!(std::slice::from_raw_parts(k, 8), &user[..]);
            let mut out = vec![0u8; 8];
            assert_eq!(usermem::copyout(k.cast(), out.as_mut_ptr().cast(), 8), 0);
            assert_eq!(out, user);

            // A kernel address is not a user address.
            let other = kbuf(8);
            assert_eq!(usermem::copyin(other.cast(), k.cast(), 8), f::EFAULT as c_int);
            assert_eq!(usermem::copyout(k.cast(), other.cast(), 8), f::EFAULT as c_int);
            // Neither is an unmapped one, nor a read-only one for writing.
            let page = libc::mmap(std::ptr::null_mut(), 8192, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
            libc::munmap(page.cast::<u8>().add(4096).cast(), 4096);
            assert_eq!(usermem::copyin(page.cast::<u8>().add(4096).cast(), k.cast(), 8), f::EFAULT as c_int, "unmapped");
            assert_eq!(usermem::copyin(page.cast::<u8>().add(4092).cast(), k.cast(), 8), f::EFAULT as c_int, "straddles the end");
            assert_eq!(usermem::copyin(page.cast(), k.cast(), 8), 0, "readable");
            assert_eq!(usermem::copyout(k.cast(), page.cast(), 8), f::EFAULT as c_int, "read-only");
            assert_eq!(usermem::copyin(std::ptr::null(), k.cast(), 8), f::EFAULT as c_int, "null");
            libc::munmap(page, 4096);
        }
        assert!(kernel::violations().is_empty());
        // A kernel buffer that is not kernel memory is the module's bug.
        let mut not_kernel = [0u8; 4];
        unsafe { usermem::copyin(user.as_ptr().cast(), not_kernel.as_mut_ptr().cast(), 4) };
        assert!(violated("copyin: the kernel buffer"));
    }

    #[test]
    fn copyinstr_and_the_word_functions() {
        let _k = boot();
        let k = kbuf(16);
        let mut done = 0usize;
        unsafe {
            assert_eq!(usermem::copyinstr(c"hello".as_ptr().cast(), k.cast(), 16, &mut done), 0);
            assert_eq!(done, 6);
            assert_eq!(usermem::copyinstr(c"hello".as_ptr().cast(), k.cast(), 5, &mut done), f::ENAMETOOLONG as c_int);

            let mut word: i64 = 0x1122_3344_5566_7788;
            let mut v = 0;
            assert_eq!(usermem::fueword((&raw const word).cast(), &mut v), 0);
            assert_eq!(v, 0x1122_3344_5566_7788);
            assert_eq!(usermem::suword((&raw mut word).cast(), 5), 0);
            assert_eq!(word, 5);
            assert_eq!(usermem::fueword(k.cast(), &mut v), -1, "kernel address");

            let mut w32: u32 = 7;
            let mut old = 0;
            assert_eq!(usermem::casueword32(&mut w32, 7, &mut old, 9), 0);
            assert_eq!((w32, old), (9, 7));
            assert_eq!(usermem::casueword32(&mut w32, 7, &mut old, 1), 1);
            assert_eq!((w32, old), (9, 9));
            assert_eq!(usermem::casueword32(k.cast(), 0, &mut old, 1), -1);
        }
        assert!(kernel::violations().is_empty());
    }
}

// ---- sleep, wakeup, signals ----

mod sleep_tests {
    use super::*;
    use kldhost::kpi::{signal, tid};

    const SBT_1MS: i64 = (1 << 32) / 1000;

    fn chan() -> *const c_void {
        arena::arena().alloc(8, 8).unwrap().as_ptr().cast()
    }

    #[test]
    fn a_timed_sleep_times_out() {
        let _k = boot();
        let start = Instant::now();
        let e = unsafe { sleep::_sleep(chan(), std::ptr::null_mut(), 0, c"t".as_ptr(), 30 * SBT_1MS, 0, 0) };
        assert_eq!(e, f::EWOULDBLOCK as c_int);
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn wakeup_ends_every_sleep_on_the_channel_and_wakeup_one_just_one() {
        let _k = boot();
        let c = chan() as usize;
        let woke = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    let e = unsafe { sleep::_sleep(c as *const c_void, std::ptr::null_mut(), 0, c"w".as_ptr(), 2000 * SBT_1MS, 0, 0) };
                    if e == 0 {
                        woke.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(100));
            unsafe { sleep::wakeup_one(c as *const c_void) };
            std::thread::sleep(Duration::from_millis(100));
            assert_eq!(woke.load(Ordering::SeqCst), 1, "wakeup_one woke one");
            unsafe { sleep::wakeup(c as *const c_void) };
        });
        assert_eq!(woke.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_signal_interrupts_only_a_pcatch_sleep() {
        let _k = boot();
        let c = chan() as usize;
        let pcatch = f::PCATCH as c_int;
        for (restart, want) in [(false, f::EINTR as c_int), (true, f::ERESTART)] {
            let (tx, rx) = std::sync::mpsc::channel();
            let result = std::thread::scope(|s| {
                let h = s.spawn(move || {
                    tx.send(tid()).unwrap();
                    unsafe { sleep::_sleep(c as *const c_void, std::ptr::null_mut(), pcatch, c"sig".as_ptr(), 0, 0, 0) }
                });
                let sleeper = rx.recv().unwrap();
                std::thread::sleep(Duration::from_millis(50));
                signal::post(sleeper, restart);
                h.join().unwrap()
            });
            assert_eq!(result, want, "restart={restart}");
        }
        // Without PCATCH the signal does not end the sleep; the timeout does.
        signal::post(tid(), false);
        let e = unsafe { sleep::_sleep(chan(), std::ptr::null_mut(), 0, c"nocatch".as_ptr(), 20 * SBT_1MS, 0, 0) };
        assert_eq!(e, f::EWOULDBLOCK as c_int);
        signal::delivered();
    }

    #[test]
    fn the_interlock_is_released_for_the_sleep_and_taken_again() {
        let _k = boot();
        let m = mutex(c"interlock");
        let lo = (m as usize - std::mem::offset_of!(f::mtx, mtx_lock)) as *mut f::lock_object;
        let c = chan() as usize;
        let mu = m as usize;
        std::thread::scope(|s| {
            unsafe { lock::__mtx_lock_flags(m, 0, std::ptr::null(), 0) };
            s.spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                // Only possible if the sleeper let go of the interlock.
                unsafe {
                    lock::__mtx_lock_flags(mu as *mut usize, 0, std::ptr::null(), 0);
                    sleep::wakeup(c as *const c_void);
                    lock::__mtx_unlock_flags(mu as *mut usize, 0, std::ptr::null(), 0);
                }
            });
            let e = unsafe { sleep::_sleep(c as *const c_void, lo, 0, c"il".as_ptr(), 2000 * SBT_1MS, 0, 0) };
            assert_eq!(e, 0);
            assert!(lock::held(m as usize), "taken again after the sleep");
            unsafe { lock::__mtx_unlock_flags(m, 0, std::ptr::null(), 0) };
        });
        assert!(kernel::violations().is_empty(), "{:?}", kernel::violations());
        // Another mutex held across the sleep is a bug.
        let other = mutex(c"other");
        unsafe {
            lock::__mtx_lock_flags(other, 0, std::ptr::null(), 0);
            lock::__mtx_lock_flags(m, 0, std::ptr::null(), 0);
            sleep::_sleep(chan(), lo, 0, c"bad".as_ptr(), SBT_1MS, 0, 0);
            lock::__mtx_unlock_flags(m, 0, std::ptr::null(), 0);
            lock::__mtx_unlock_flags(other, 0, std::ptr::null(), 0);
        }
        assert!(violated("sleeping (\"bad\") with non-sleepable lock other held"));
    }
}

// ---- user mappings, event handlers, restart ----

#[test]
fn kern_mmap_maps_user_memory_and_returns_it_in_td_retval() {
    let _k = boot();
    let td = linuxulator::curthread();
    let req = f::mmap_req {
        mr_hint: 0,
        mr_len: 8192,
        mr_prot: (f::PROT_READ | f::PROT_WRITE) as c_int,
        mr_flags: (f::MAP_ANON | f::MAP_SHARED) as c_int,
        mr_fd: -1,
        mr_pos: 0,
        mr_check_fp_fn: None,
    };
    unsafe {
        assert_eq!(kldhost::kpi::vm::kern_mmap(td, &req), 0);
        let addr = *((td as usize + kernel::config().major.td_retval) as *const usize);
        assert!(addr != 0 && !arena::is_kernel(addr), "a user address");
        *(addr as *mut u64) = 42;
        assert_eq!(kldhost::kpi::vm::kern_munmap(td, addr, 8192), 0);
    }
}

static EVENTS: std::sync::Mutex<Vec<(&str, usize)>> = std::sync::Mutex::new(Vec::new());

unsafe extern "C" fn on_exit_a(arg: *mut c_void, _p: *mut f::proc_) {
    EVENTS.lock().unwrap().push(("a", arg as usize));
}

unsafe extern "C" fn on_exit_b(arg: *mut c_void, _p: *mut f::proc_) {
    EVENTS.lock().unwrap().push(("b", arg as usize));
}

#[test]
fn process_exit_handlers_run_by_priority_until_deregistered() {
    use kldhost::kpi::eventhandler as eh;
    let _k = boot();
    unsafe {
        let ta = eh::eventhandler_register(std::ptr::null_mut(), c"process_exit".as_ptr(), on_exit_a as *mut c_void, 1 as *mut c_void, 20000);
        let tb = eh::eventhandler_register(std::ptr::null_mut(), c"process_exit".as_ptr(), on_exit_b as *mut c_void, 2 as *mut c_void, 0);
        eh::process_exit(linuxulator::curproc());
        assert_eq!(*EVENTS.lock().unwrap(), [("b", 2), ("a", 1)]);
        eh::eventhandler_deregister(std::ptr::null_mut(), ta);
        eh::eventhandler_deregister(std::ptr::null_mut(), tb);
        eh::process_exit(linuxulator::curproc());
        assert_eq!(EVENTS.lock().unwrap().len(), 2);
    }
    assert!(kernel::violations().is_empty());
}

static TRIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

unsafe extern "C" fn restarting_entry(_td: *mut f::thread, _args: *mut c_void) -> c_int {
    if TRIES.fetch_add(1, Ordering::SeqCst) == 0 { f::ERESTART } else { 0 }
}

#[test]
fn erestart_enters_the_call_again() {
    let _k = boot();
    let table = linuxulator::table();
    unsafe {
        (*table.add(206)).sy_call = Some(restarting_entry);
        (*table.add(206)).sy_thrcnt = 0;
    }
    assert_eq!(linuxulator::syscall(206, [0; 6]), 0);
    assert_eq!(TRIES.load(Ordering::SeqCst), 2);
}

#[test]
fn threads_that_enter_the_kernel_at_once_share_one_process() {
    // A program whose threads all make their first system call together (libaio
    // harness 18.t) must get one `struct proc`: a second one would make some threads'
    // contexts belong to another process.
    for _ in 0..20 {
        let _k = boot();
        let start = std::sync::Barrier::new(16);
        let procs: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        let td = linuxulator::curthread();
                        unsafe { *((td as usize + kernel::config().major.td_proc) as *const usize) }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(procs.iter().all(|&p| p != 0 && p == procs[0]), "td_proc differs between threads: {procs:x?}");
    }
}
