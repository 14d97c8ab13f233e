//! The rules about the file as a whole: ELF shape, relocation types, undefined and
//! global symbols, writable linker sets.

use crate::image::{Image, Pointer};
use crate::{Expectations, Finding, Rule};
use object::elf;
use object::{Object, ObjectSymbol};

fn finding(findings: &mut Vec<Finding>, rule: Rule, message: String) {
    findings.push(Finding { rule, message });
}

/// `elf`: what link_elf_obj.c requires of a file before it looks further. Read from
/// the raw header and section table, so that it still speaks when the file is too
/// broken for a full parse.
pub fn elf(data: &[u8], findings: &mut Vec<Finding>) {
    let u16_at = |at: usize| data.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| data.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let u64_at = |at: usize| data.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    if data.get(..4) != Some(&elf::ELFMAG[..]) {
        finding(findings, Rule::Elf, "not an ELF file".into());
        return;
    }
    if data.get(4) != Some(&elf::ELFCLASS64) {
        finding(findings, Rule::Elf, "not ELFCLASS64".into());
        return;
    }
    if data.get(5) != Some(&elf::ELFDATA2LSB) {
        finding(findings, Rule::Elf, "not little-endian".into());
        return;
    }
    match u16_at(16) {
        Some(elf::ET_REL) => {}
        t => finding(findings, Rule::Elf, format!("e_type {t:?} is not ET_REL (amd64 modules are relocatable objects)")),
    }
    match u16_at(18) {
        Some(elf::EM_X86_64) => {}
        m => finding(findings, Rule::Elf, format!("e_machine {m:?} is not EM_X86_64")),
    }
    // Section headers: e_shoff @0x28, e_shentsize @0x3a, e_shnum @0x3c; sh_type @4.
    let (Some(shoff), Some(shentsize), Some(shnum)) = (u64_at(0x28), u16_at(0x3a), u16_at(0x3c)) else {
        finding(findings, Rule::Elf, "truncated ELF header".into());
        return;
    };
    let symtabs = (0..usize::from(shnum))
        .filter_map(|i| u32_at((shoff as usize).saturating_add(i * usize::from(shentsize)) + 4))
        .filter(|&t| t == elf::SHT_SYMTAB)
        .count();
    if symtabs != 1 {
        finding(findings, Rule::Elf, format!("{symtabs} SHT_SYMTAB sections; the kernel linker requires exactly one"));
    }
}

/// The relocation types the amd64 kernel linker applies to a module (elf_machdep.c);
/// it refuses a module with any other.
pub const ALLOWED_RELOCATIONS: [(u32, &str); 4] = [
    (elf::R_X86_64_64, "R_X86_64_64"),
    (elf::R_X86_64_PC32, "R_X86_64_PC32"),
    (elf::R_X86_64_PLT32, "R_X86_64_PLT32"),
    (elf::R_X86_64_32S, "R_X86_64_32S"),
];

/// `relocations`.
pub fn relocations(image: &Image<'_>, findings: &mut Vec<Finding>) {
    for (section, offset, r) in image.relocations() {
        if !ALLOWED_RELOCATIONS.iter().any(|&(t, _)| t == r.r_type) {
            let target = match &r.target {
                Pointer::Undefined(name) => name.clone(),
                Pointer::Local { section, offset } => format!("{}+{offset:#x}", image.section_name(*section)),
                other => format!("{other:?}"),
            };
            finding(
                findings,
                Rule::Relocations,
                format!(
                    "{}+{offset:#x}: relocation type {} ({}) to {target}; the amd64 kernel linker applies only {}",
                    image.section_name(section),
                    r.r_type,
                    relocation_name(r.r_type),
                    ALLOWED_RELOCATIONS.map(|(_, n)| n).join(", ")
                ),
            );
        }
    }
}

fn relocation_name(t: u32) -> &'static str {
    match t {
        elf::R_X86_64_32 => "R_X86_64_32",
        elf::R_X86_64_GOTPCREL => "R_X86_64_GOTPCREL",
        elf::R_X86_64_GOTPCRELX => "R_X86_64_GOTPCRELX",
        elf::R_X86_64_REX_GOTPCRELX => "R_X86_64_REX_GOTPCRELX",
        elf::R_X86_64_GOT64 => "R_X86_64_GOT64",
        elf::R_X86_64_PC64 => "R_X86_64_PC64",
        elf::R_X86_64_COPY => "R_X86_64_COPY",
        elf::R_X86_64_TPOFF32 | elf::R_X86_64_TPOFF64 | elf::R_X86_64_GOTTPOFF | elf::R_X86_64_TLSGD => "TLS",
        _ => "unknown to the kernel linker",
    }
}

/// `undefined`: every symbol left to the kernel linker is one we know is there.
pub fn undefined(image: &Image<'_>, expect: &Expectations, findings: &mut Vec<Finding>) {
    for sym in image.file.symbols() {
        let Ok(name) = sym.name() else { continue };
        if !sym.is_undefined() || name.is_empty() {
            continue;
        }
        match expect.allowlist.get(name) {
            None => finding(findings, Rule::Undefined, format!("undefined symbol {name} is not on the allowlist")),
            Some(entry) => {
                if entry.sources.get(&expect.major).is_none_or(Option::is_none) {
                    finding(
                        findings,
                        Rule::Undefined,
                        format!("undefined symbol {name} does not exist in FreeBSD {} (allowlist)", expect.major),
                    );
                }
            }
        }
    }
}

/// `globals`: as kmod.mk does for modules without EXPORT_SYMS, every definition is local
/// but the intended exports; a stray global could shadow a kernel symbol for modules
/// loaded later.
pub fn globals(image: &Image<'_>, expect: &Expectations, findings: &mut Vec<Finding>) {
    for sym in image.file.symbols() {
        let Ok(name) = sym.name() else { continue };
        if sym.is_undefined() || !(sym.is_global() || sym.is_weak()) {
            continue;
        }
        if !expect.exports.iter().any(|e| e == name) {
            finding(findings, Rule::Globals, format!("{name} is defined global; only {:?} may be", expect.exports));
        }
    }
}

/// The sets whose records the kernel writes (DATA_WSET in sys/kernel.h).
pub const WRITABLE_SETS: [&str; 2] = ["set_sysinit_set", "set_sysuninit_set"];

/// `writable-sets`: the sysinit sets, the records they point to, and the malloc types
/// that malloc_init/malloc_uninit are given, all in writable sections.
pub fn writable_sets(image: &Image<'_>, findings: &mut Vec<Finding>) {
    for set in WRITABLE_SETS {
        for section in image.sections_named(set) {
            if !image.is_writable(section) {
                finding(findings, Rule::WritableSets, format!("{set} is not writable (FreeBSD declares it with DATA_WSET)"));
            }
            for record in set_entries(image, section) {
                let Pointer::Local { section: rs, offset } = record else {
                    finding(findings, Rule::WritableSets, format!("an entry of {set} does not point into the module: {record:?}"));
                    continue;
                };
                if !image.is_writable(rs) {
                    finding(
                        findings,
                        Rule::WritableSets,
                        format!("a struct sysinit of {set} is in {}, which is not writable (the kernel links it through `next`)", image.section_name(rs)),
                    );
                }
                let func = image.pointer_at(rs, offset + 16);
                let udata = image.pointer_at(rs, offset + 24);
                if let Pointer::Undefined(f) = &func
                    && (f == "malloc_init" || f == "malloc_uninit")
                {
                    match udata {
                        Pointer::Local { section, .. } if image.is_writable(section) => {}
                        other => finding(
                            findings,
                            Rule::WritableSets,
                            format!("{f} is given a malloc type that is not in writable memory: {other:?}"),
                        ),
                    }
                }
            }
        }
    }
}

/// The pointers of a linker set section.
pub fn set_entries(image: &Image<'_>, section: object::SectionIndex) -> Vec<Pointer> {
    (0..image.section_size(section) / 8).map(|i| image.pointer_at(section, i * 8)).collect()
}
