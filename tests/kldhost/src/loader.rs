//! Loading a module as FreeBSD's kernel linker loads an amd64 `.ko` (ET_REL):
//! `link_elf_obj.c` for the file, `elf_machdep.c` for relocations, `kern_linker.c` for
//! dependencies, sysinits and unload.
//!
//! The order is FreeBSD's: sections placed, set bounds (`__start_set_*`) fixed, local
//! relocations, the module metadata read and dependencies checked, global relocations
//! (imports resolved against the KPI model), page protections, constructors, modules
//! registered, sysinits run in (subsystem, order) order. A refusal prints what FreeBSD
//! prints and returns its errno.

use crate::arena::{self, arena};
use crate::freebsd::common as f;
use crate::kernel::{config, console_print};
use crate::kpi::{self, Resolved, module};
use object::elf;
use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
use object::{Endianness, Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SectionIndex, SymbolSection};
use std::collections::HashMap;
use std::ffi::{CStr, c_int, c_void};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a load was refused: what the kernel printed, and the errno kldload(2) returns.
#[derive(Clone, Debug)]
pub struct Refused {
    pub messages: Vec<String>,
    pub errno: c_int,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, fm: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(fm, "{} (error {})", self.messages.join("; "), self.errno)
    }
}

#[derive(Clone, Debug)]
struct Placed {
    index: SectionIndex,
    name: String,
    addr: usize,
    size: usize,
    flags: u64,
}

/// A loaded module file.
#[derive(Debug)]
pub struct LinkerFile {
    pub id: u64,
    pub filename: String,
    block: usize,
    block_size: usize,
    sections: Vec<Placed>,
    /// The modules it declared (MDT_MODULE), in file order.
    pub modules: Vec<String>,
    dtors: Option<(usize, usize)>,
}

impl LinkerFile {
    /// The address of a loaded section by name.
    pub fn section(&self, name: &str) -> Option<(usize, usize)> {
        self.sections.iter().find(|s| s.name == name).map(|s| (s.addr, s.size))
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn refuse(filename: &str, errno: c_int, messages: Vec<String>) -> Refused {
    let mut messages = messages;
    // link_elf_obj's failures end in kern_linker.c trying the next linker class, which
    // cannot load an ET_REL file either.
    if errno != f::EEXIST as c_int {
        messages.push(format!("linker_load_file: {filename} - unsupported file type"));
    }
    for m in &messages {
        console_print(m);
    }
    Refused { messages, errno: if errno == f::EEXIST as c_int { errno } else { f::ENOEXEC as c_int } }
}

/// Loads `data` (the contents of `filename`) into the running kernel.
pub fn load(data: &[u8], filename: &str) -> Result<LinkerFile, Refused> {
    let err = |errno: u32, msg: &str| refuse(filename, errno as c_int, vec![format!("kldload: {filename}: {msg}")]);
    // link_elf_obj.c's header checks.
    if data.get(..4) != Some(&elf::ELFMAG[..]) {
        return Err(refuse(filename, f::ENOEXEC as c_int, vec![]));
    }
    if data.get(4) != Some(&elf::ELFCLASS64) || data.get(5) != Some(&elf::ELFDATA2LSB) {
        return Err(err(f::ENOEXEC, "Unsupported file layout"));
    }
    let file = ElfFile64::<Endianness>::parse(data).map_err(|e| err(f::ENOEXEC, &format!("cannot parse: {e}")))?;
    let endian = file.endian();
    let header = file.elf_header();
    if header.e_type(endian) != elf::ET_REL {
        return Err(refuse(filename, f::ENOSYS as c_int, vec![]));
    }
    if header.e_machine(endian) != elf::EM_X86_64 {
        return Err(err(f::ENOEXEC, "Unsupported machine"));
    }
    let headers = header.section_headers(endian, data).map_err(|e| err(f::ENOEXEC, &e.to_string()))?;
    if headers.iter().filter(|h| h.sh_type(endian) == elf::SHT_SYMTAB && h.sh_size(endian) > 0).count() != 1 {
        return Err(err(f::ENOEXEC, "file must have exactly one symbol table"));
    }

    // Place the loadable sections in one block, in section order, each aligned.
    const LOADED: [u32; 5] = [elf::SHT_PROGBITS, elf::SHT_NOBITS, elf::SHT_X86_64_UNWIND, elf::SHT_INIT_ARRAY, elf::SHT_FINI_ARRAY];
    let mut layout = vec![];
    let mut pos = 0usize;
    for s in file.sections() {
        let h = s.elf_section_header();
        let (ty, flags, size, align) = (h.sh_type(endian), h.sh_flags(endian), h.sh_size(endian) as usize, h.sh_addralign(endian) as usize);
        if flags & u64::from(elf::SHF_ALLOC) == 0 || size == 0 || !LOADED.contains(&ty) {
            continue;
        }
        let align = align.max(1);
        pos = pos.div_ceil(align) * align;
        layout.push((s.index(), s.name().unwrap_or("").to_string(), pos, size, flags, ty));
        pos += size;
    }
    if layout.is_empty() {
        return Err(err(f::ENOEXEC, "file has no contents"));
    }
    let block_size = pos.div_ceil(4096) * 4096;
    let block = arena().alloc(block_size, 4096).ok_or_else(|| err(f::ENOMEM, "out of kernel memory"))?.as_ptr() as usize;
    let mut sections = vec![];
    for (index, name, off, size, flags, ty) in layout {
        let addr = block + off;
        if ty != elf::SHT_NOBITS && ty != elf::SHT_INIT_ARRAY && ty != elf::SHT_FINI_ARRAY {
            let bytes = file.section_by_index(index).ok().and_then(|s| s.data().ok()).unwrap_or(&[]);
            // SAFETY: `size` bytes at `addr` are inside the block just allocated.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len().min(size)) };
        }
        sections.push(Placed { index, name, addr, size, flags });
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut lf = LinkerFile { id, filename: filename.to_string(), block, block_size, sections, modules: vec![], dtors: None };
    let fail = |lf: LinkerFile, r: Refused| -> Refused {
        free_block(&lf);
        r
    };

    // Symbols defined in the file, and the set bounds link_elf_fix_link_set gives.
    let section_addr = |i: SectionIndex| lf.sections.iter().find(|s| s.index == i).map(|s| s.addr);
    let mut defined: HashMap<usize, usize> = HashMap::new(); // symbol index -> address
    let mut undefined: HashMap<usize, (String, bool)> = HashMap::new(); // index -> (name, weak)
    for sym in file.symbols() {
        let name = sym.name().unwrap_or("").to_string();
        match sym.section() {
            SymbolSection::Section(i) => {
                if let Some(base) = section_addr(i) {
                    defined.insert(sym.index().0, base + sym.address() as usize);
                }
            }
            SymbolSection::Absolute => {
                defined.insert(sym.index().0, sym.address() as usize);
            }
            SymbolSection::Undefined => {
                let bound = name
                    .strip_prefix("__start_")
                    .map(|s| (s, false))
                    .or_else(|| name.strip_prefix("__stop_").map(|s| (s, true)))
                    .and_then(|(set, stop)| lf.sections.iter().find(|s| s.name == set).map(|s| s.addr + if stop { s.size } else { 0 }));
                match bound {
                    Some(a) => {
                        defined.insert(sym.index().0, a);
                    }
                    None => {
                        undefined.insert(sym.index().0, (name, sym.is_weak()));
                    }
                }
            }
            _ => {}
        }
    }

    // Relocations, in two passes as link_elf_obj does: first those against the file's
    // own symbols, then (after the dependencies are known) the imports.
    let mut relocs = vec![];
    for s in file.sections() {
        let Some(base) = section_addr(s.index()) else { continue };
        for (offset, r) in s.relocations() {
            let RelocationFlags::Elf { r_type } = r.flags() else { continue };
            let sym = match r.target() {
                RelocationTarget::Symbol(i) => i.0,
                _ => 0,
            };
            relocs.push((base + offset as usize, r_type, sym, r.addend()));
        }
    }
    // elf_reloc_internal: Err carries what the kernel prints.
    let apply = |at: usize, r_type: u32, sym: usize, s: usize, addend: i64| -> Result<(), String> {
        let value = (s as i64).wrapping_add(addend);
        // SAFETY (writes): `at` is inside a placed section of the block (a relocation
        // of that section at an offset the object gives).
        match r_type {
            elf::R_X86_64_NONE => {}
            elf::R_X86_64_64 => unsafe { (at as *mut u64).write_unaligned(value as u64) },
            elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 | elf::R_X86_64_32S => {
                let v = if r_type == elf::R_X86_64_32S { value } else { value.wrapping_sub(at as i64) };
                if i32::try_from(v).is_err() {
                    return Err(format!("kldhost: relocation at {at:#x} does not reach symbol index {sym} (the model placed it out of range)"));
                }
                unsafe { (at as *mut u32).write_unaligned(v as u32) }
            }
            elf::R_X86_64_COPY => return Err(format!("kldload: unexpected R_COPY relocation, symbol index {sym}")),
            other => return Err(format!("kldload: unexpected relocation type {other}, symbol index {sym}")),
        }
        Ok(())
    };
    for &(at, r_type, sym, addend) in &relocs {
        if let Some(&s) = defined.get(&sym)
            && let Err(msg) = apply(at, r_type, sym, s, addend)
        {
            let e = refuse(filename, f::ENOEXEC as c_int, vec![msg]);
            return Err(fail(lf, e));
        }
    }

    // Module metadata, and the dependencies it names.
    let meta = read_metadata(&lf);
    let own: Vec<&str> = meta.iter().filter(|m| m.ty != f::MDT_DEPEND).map(|m| m.name.as_str()).collect();
    for m in meta.iter().filter(|m| m.ty == f::MDT_VERSION) {
        if module::version_present(&m.name, lf.id).is_some() {
            let e = refuse(
                filename,
                f::EEXIST as c_int,
                vec![format!("interface {}.{} already present in the KLD '{filename}'!", m.name, m.version)],
            );
            return Err(fail(lf, e));
        }
    }
    for d in meta.iter().filter(|m| m.ty == f::MDT_DEPEND && !own.contains(&m.name.as_str())) {
        if module::lookup_version(&d.name, d.range.0, d.range.1, d.range.2).is_none() {
            let e = refuse(filename, f::ENOENT as c_int, vec![format!("KLD {filename}: depends on {} - not available or version mismatch", d.name)]);
            return Err(fail(lf, e));
        }
    }

    // The imports, resolved against the KPI model.
    let cfg = config();
    for &(at, r_type, sym, addend) in &relocs {
        if defined.contains_key(&sym) {
            continue;
        }
        let Some((name, weak)) = undefined.get(&sym).cloned() else { continue };
        let s = match kpi::lookup(&name).filter(|(p, _)| kpi::provider_loaded(*p, &cfg)) {
            Some((_, Resolved::Data(a))) if a != 0 => a,
            Some((_, Resolved::Function(target))) => match arena::trampoline(target) {
                Ok(a) => a,
                Err(e) => return Err(fail(lf, err(f::ENOMEM, &e))),
            },
            _ if weak => 0,
            _ => {
                let e = refuse(filename, f::ENOENT as c_int, vec![format!("link_elf_obj: symbol {name} undefined")]);
                return Err(fail(lf, e));
            }
        };
        if let Err(msg) = apply(at, r_type, sym, s, addend) {
            // relocate_file1 reports any failed import as undefined, after elf_reloc's own line.
            let e = refuse(filename, f::ENOENT as c_int, vec![msg, format!("link_elf_obj: symbol {name} undefined")]);
            return Err(fail(lf, e));
        }
    }

    protect(&lf);

    // Constructors (.ctors or SHT_INIT_ARRAY), and where the destructors are.
    let array = |names: [&str; 2]| lf.sections.iter().find(|s| names.contains(&s.name.as_str())).map(|s| (s.addr, s.size));
    if let Some((a, n)) = array([".ctors", ".init_array"]) {
        for i in 0..n / 8 {
            // SAFETY: a pointer of the constructor array, relocated above.
            let fp = unsafe { *((a + i * 8) as *const usize) };
            if fp != 0 {
                // SAFETY: a constructor of the module, called as link_elf_invoke_cbs does.
                unsafe { std::mem::transmute::<usize, extern "C" fn()>(fp)() };
            }
        }
    }
    lf.dtors = array([".dtors", ".fini_array"]);

    // Modules: registered, their versions known, then the sysinits (MOD_LOAD).
    for m in &meta {
        if m.ty == f::MDT_MODULE {
            if let Err(msg) = module::register(lf.id, m.data as *const f::moduledata) {
                let e = refuse(filename, f::EEXIST as c_int, vec![msg]);
                return Err(fail(lf, e));
            }
            lf.modules.push(m.name.clone());
        }
        if m.ty == f::MDT_VERSION {
            module::add_version(module::Version { name: m.name.clone(), version: m.version, file: Some(lf.id) });
        }
    }
    for si in sorted_sysinits(&lf, "set_sysinit_set", false) {
        call_sysinit(si);
    }
    if !lf.modules.is_empty() && module::modules_of(lf.id).iter().all(|m| !m.loaded) {
        // Every module of the file failed MOD_LOAD: the file goes too.
        let _ = module::unload_file_modules(lf.id, true);
        teardown(&lf);
        return Err(Refused { messages: vec![format!("{filename}: no module of the file loaded")], errno: f::ENOEXEC as c_int });
    }
    Ok(lf)
}

/// Unloads a file: quiesce and unload its modules (refused if one refuses; quiesce
/// refusals are overridden by `force`), run its sysuninits, free it.
pub fn unload(lf: LinkerFile, force: bool) -> Result<(), (LinkerFile, c_int)> {
    if let Err(e) = module::unload_file_modules(lf.id, force) {
        return Err((lf, e));
    }
    teardown(&lf);
    Ok(())
}

fn teardown(lf: &LinkerFile) {
    module::forget_file(lf.id);
    for si in sorted_sysinits(lf, "set_sysuninit_set", true) {
        call_sysinit(si);
    }
    if let Some((a, n)) = lf.dtors {
        for i in 0..n / 8 {
            // SAFETY: a pointer of the destructor array.
            let fp = unsafe { *((a + i * 8) as *const usize) };
            if fp != 0 {
                // SAFETY: a destructor of the module.
                unsafe { std::mem::transmute::<usize, extern "C" fn()>(fp)() };
            }
        }
    }
    free_block(lf);
}

fn free_block(lf: &LinkerFile) {
    // SAFETY: the block is ours; make it writable again, then scrub and return it.
    unsafe {
        libc::mprotect(lf.block as *mut c_void, lf.block_size, libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC);
        std::ptr::write_bytes(lf.block as *mut u8, 0xa5, lf.block_size);
    }
    if let Some(p) = NonNull::new(lf.block as *mut u8) {
        // SAFETY: allocated in `load` with this size and alignment.
        unsafe { arena().free(p, lf.block_size, 4096) };
    }
}

/// link_elf_protect: every page that belongs to one section alone gets that section's
/// protection (code read+execute, read-only data read-only, the rest read+write).
fn protect(lf: &LinkerFile) {
    for s in &lf.sections {
        let start = s.addr.div_ceil(4096) * 4096;
        let end = (s.addr + s.size) / 4096 * 4096;
        if end <= start {
            continue;
        }
        let exec = s.flags & u64::from(elf::SHF_EXECINSTR) != 0;
        let write = s.flags & u64::from(elf::SHF_WRITE) != 0;
        let prot = libc::PROT_READ | if exec { libc::PROT_EXEC } else { 0 } | if write { libc::PROT_WRITE } else { 0 };
        // SAFETY: whole pages of the module's own block.
        unsafe { libc::mprotect(start as *mut c_void, end - start, prot) };
    }
}

struct Meta {
    ty: u32,
    name: String,
    data: usize,
    version: i32,
    range: (i32, i32, i32),
}

/// The records of `set_modmetadata_set`, read from the relocated module.
fn read_metadata(lf: &LinkerFile) -> Vec<Meta> {
    let Some((a, n)) = lf.section("set_modmetadata_set") else { return vec![] };
    let mut out = vec![];
    for i in 0..n / 8 {
        // SAFETY: the set holds relocated pointers to struct mod_metadata in the module.
        unsafe {
            let md = *((a + i * 8) as *const *const f::mod_metadata);
            if md.is_null() || !arena::is_kernel(md as usize) {
                continue;
            }
            let md = &*md;
            let name = if md.md_cval.is_null() { String::new() } else { CStr::from_ptr(md.md_cval).to_string_lossy().into_owned() };
            let data = md.md_data as usize;
            let (mut version, mut range) = (0, (0, 0, 0));
            match md.md_type as u32 {
                f::MDT_VERSION => version = (*(data as *const f::mod_version)).mv_version,
                f::MDT_DEPEND => {
                    let d = &*(data as *const f::mod_depend);
                    range = (d.md_ver_minimum, d.md_ver_preferred, d.md_ver_maximum);
                }
                _ => {}
            }
            out.push(Meta { ty: md.md_type as u32, name, data, version, range });
        }
    }
    out
}

/// The sysinits of a set, in kern_linker.c's order: its exchange sort, ascending by
/// (subsystem, order) for sysinits, descending for sysuninits.
fn sorted_sysinits(lf: &LinkerFile, set: &str, descending: bool) -> Vec<*const f::sysinit> {
    let Some((a, n)) = lf.section(set) else { return vec![] };
    // SAFETY: the set holds relocated pointers to the module's struct sysinit.
    let mut v: Vec<*const f::sysinit> = (0..n / 8).map(|i| unsafe { *((a + i * 8) as *const *const f::sysinit) }).collect();
    let key = |p: *const f::sysinit| unsafe { ((*p).subsystem, (*p).order) };
    for i in 0..v.len() {
        for j in i + 1..v.len() {
            let ((si, oi), (sj, oj)) = (key(v[i]), key(v[j]));
            let keep = if descending { si > sj || (si == sj && oi >= oj) } else { si < sj || (si == sj && oi <= oj) };
            if !keep {
                v.swap(i, j);
            }
        }
    }
    v
}

fn call_sysinit(si: *const f::sysinit) {
    // SAFETY: a struct sysinit of the loaded module.
    let (sub, func, udata) = unsafe { ((*si).subsystem, (*si).func, (*si).udata) };
    if sub == f::SI_SUB_DUMMY {
        return;
    }
    if let Some(func) = func {
        crate::kpi::lock::giant_enter();
        // SAFETY: the module's sysinit function with its own argument, as the kernel
        // calls it.
        unsafe { func(udata) };
        crate::kpi::lock::giant_exit();
    }
}
