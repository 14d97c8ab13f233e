//! The "kernel" address range of the test bed.
//!
//! FreeBSD maps modules at or above KERNBASE, which is what `-mcmodel=kernel` code
//! assumes: every symbol's address fits in a sign-extended 32-bit value. In a Linux
//! process the top of the address space is not ours, but the low 2 GiB fits the same
//! relocations (R_X86_64_32S, PC32 between nearby addresses). So the test bed reserves
//! one region there and puts everything that is kernel memory in it: the module's
//! sections, the trampolines to the KPI model, the model's kernel data (linux_sysent,
//! sysctl nodes, struct thread), and every malloc(9). Any address inside the region is
//! a kernel address; the model's user-memory interfaces refuse it with EFAULT, as
//! FreeBSD's refuse a kernel address.

use linked_list_allocator::Heap;
use std::alloc::Layout;
use std::ptr::NonNull;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Where the region starts and how large it is: 256 MiB from 256 MiB.
pub const BASE: usize = 0x1000_0000;
pub const SIZE: usize = 0x1000_0000;

pub struct Arena {
    heap: Mutex<Heap>,
}

static ARENA: OnceLock<Arena> = OnceLock::new();

/// The kernel range, reserved on first use.
pub fn arena() -> &'static Arena {
    ARENA.get_or_init(|| {
        // SAFETY: a fixed, non-replacing anonymous mapping at an address we choose; it
        // fails (rather than clobbering) if anything is mapped there already.
        let p = unsafe {
            libc::mmap(
                BASE as *mut libc::c_void,
                SIZE,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        assert!(p as usize == BASE, "kldhost: cannot reserve the kernel range at {BASE:#x}: {}", std::io::Error::last_os_error());
        // SAFETY: the region is mapped, writable and ours alone.
        let heap = unsafe { Heap::new(BASE as *mut u8, SIZE) };
        Arena { heap: Mutex::new(heap) }
    })
}

/// Whether `addr` is a kernel address (inside the region).
pub fn is_kernel(addr: usize) -> bool {
    (BASE..BASE + SIZE).contains(&addr)
}

/// Whether any byte of `[addr, addr + len)` is a kernel address.
pub fn touches_kernel(addr: usize, len: usize) -> bool {
    let end = addr.saturating_add(len);
    addr < BASE + SIZE && end > BASE
}

impl Arena {
    /// Zeroed kernel memory, or `None` when the region is exhausted.
    pub fn alloc(&self, size: usize, align: usize) -> Option<NonNull<u8>> {
        let layout = Layout::from_size_align(size.max(1), align.max(1)).ok()?;
        let p = self.heap.lock().ok()?.allocate_first_fit(layout).ok()?;
        // SAFETY: the allocator just handed out these `layout.size()` bytes.
        unsafe { std::ptr::write_bytes(p.as_ptr(), 0, layout.size()) };
        Some(p)
    }

    /// # Safety
    /// `p` came from `alloc` with the same size and alignment, and is not used again.
    pub unsafe fn free(&self, p: NonNull<u8>, size: usize, align: usize) {
        if let (Ok(layout), Ok(mut heap)) = (Layout::from_size_align(size.max(1), align.max(1)), self.heap.lock()) {
            // SAFETY: by the contract above.
            unsafe { heap.deallocate(p, layout) };
        }
    }

    /// Bytes handed out and not yet returned.
    pub fn used(&self) -> usize {
        self.heap.lock().map(|h| h.used()).unwrap_or(0)
    }
}

static TRAMPOLINES: Mutex<Option<HashMap<usize, usize>>> = Mutex::new(None);

/// The kernel-range address of a model function: a jump to it,
/// `movabs $target, %r11; jmp *%r11` (%r11 is scratch at calls; %rax, which a variadic
/// call sets, is left alone). One per function, so that a function has one address, as
/// in a kernel: the module compares `linux_sysent` entries with the stubs' addresses.
pub fn trampoline(target: usize) -> Result<usize, String> {
    let mut t = TRAMPOLINES.lock().unwrap_or_else(|e| e.into_inner());
    let map = t.get_or_insert_with(HashMap::new);
    if let Some(&a) = map.get(&target) {
        return Ok(a);
    }
    let p = arena().alloc(16, 16).ok_or("kernel range exhausted")?.as_ptr();
    let mut code = vec![0x49, 0xbb];
    code.extend_from_slice(&(target as u64).to_le_bytes());
    code.extend_from_slice(&[0x41, 0xff, 0xe3]);
    // SAFETY: 13 bytes into the 16 just allocated (the region is executable).
    unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), p, code.len()) };
    map.insert(target, p as usize);
    Ok(p as usize)
}
