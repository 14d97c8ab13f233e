//! Each rule against a deliberately bad object. The objects are built here with the
//! `object` crate's writer: a small module that passes every rule, and for each test one
//! defect, which must fail that rule and no other.

use kldlint::allowlist::Allowlist;
use kldlint::{Depend, Expectations, Rule, lint};
use object::write::{Object, Relocation, SectionId, Symbol, SymbolId, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags, SymbolKind, SymbolScope, elf,
};

const ALLOWLIST: &str = "\
printf                kernel  sys/kern/subr_prf.c     sys/kern/subr_prf.c
module_register_init  kernel  sys/kern/kern_module.c  sys/kern/kern_module.c
malloc_init           kernel  sys/kern/kern_malloc.c  sys/kern/kern_malloc.c
only_in_15            kernel  -                       sys/kern/new.c
";

fn expectations() -> Expectations {
    Expectations {
        major: 14,
        allowlist: Allowlist::parse(ALLOWLIST).unwrap(),
        exports: vec![],
        module: "testmod".into(),
        version: 1,
        depends: vec![
            Depend { name: "kernel".into(), min: 1402000, preferred: 1402000, max: 1499999 },
            Depend { name: "linux64".into(), min: 1, preferred: 1, max: 1 },
        ],
    }
}

/// One defect each; `None` builds the good module.
#[derive(Clone, Copy, PartialEq)]
enum Defect {
    GotPcRel,
    SseInstruction,
    X87Instruction,
    UnknownUndefined,
    UndefinedAbsentInMajor,
    GlobalDefinition,
    WrongVersion,
    MissingDepend,
    WrongDependRange,
    ExtraDepend,
    WrongModuleName,
    NoRegisteringSysinit,
    ReadOnlySysinitSet,
    ReadOnlySysinitRecord,
    ReadOnlyMallocType,
}

struct Builder {
    obj: Object<'static>,
    rodata: SectionId,
}

impl Builder {
    fn sym(&mut self, section: SectionId) -> SymbolId {
        self.obj.section_symbol(section)
    }

    fn undefined(&mut self, name: &str) -> SymbolId {
        self.obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: 0,
            size: 0,
            kind: SymbolKind::Unknown,
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Undefined,
            flags: SymbolFlags::None,
        })
    }

    /// A pointer at `at` in `section` to `target`+`addend`.
    fn pointer(&mut self, section: SectionId, at: u64, target: SymbolId, addend: i64) {
        self.obj
            .add_relocation(section, Relocation { offset: at, symbol: target, addend, flags: RelocationFlags::Elf { r_type: elf::R_X86_64_64 } })
            .unwrap();
    }

    fn pointer_to(&mut self, section: SectionId, at: u64, target_section: SectionId, target_offset: u64) {
        let s = self.sym(target_section);
        self.pointer(section, at, s, target_offset as i64);
    }

    fn string(&mut self, s: &str) -> u64 {
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        self.obj.append_section_data(self.rodata, &bytes, 1)
    }

    /// A struct mod_metadata in .rodata and its entry in set_modmetadata_set.
    fn metadata(&mut self, set: SectionId, ty: i32, data: (SectionId, u64), name: &str) {
        let name_at = self.string(name);
        let mut rec = Vec::new();
        rec.extend_from_slice(&1i32.to_le_bytes());
        rec.extend_from_slice(&ty.to_le_bytes());
        rec.extend_from_slice(&[0; 16]);
        let at = self.obj.append_section_data(self.rodata, &rec, 8);
        self.pointer_to(self.rodata, at + 8, data.0, data.1);
        self.pointer_to(self.rodata, at + 16, self.rodata, name_at);
        let entry = self.obj.append_section_data(set, &[0; 8], 8);
        self.pointer_to(set, entry, self.rodata, at);
    }

    fn ints(&mut self, section: SectionId, values: &[i32]) -> u64 {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.obj.append_section_data(section, &bytes, 4)
    }
}

fn module(defect: Option<Defect>) -> Vec<u8> {
    let is = |d| defect == Some(d);
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let text = obj.add_section(vec![], b".text".to_vec(), SectionKind::Text);
    let rodata = obj.add_section(vec![], b".rodata".to_vec(), SectionKind::ReadOnlyData);
    let data = obj.add_section(vec![], b".data".to_vec(), SectionKind::Data);
    let metadata_set = obj.add_section(vec![], b"set_modmetadata_set".to_vec(), SectionKind::ReadOnlyData);
    let sysinit_kind = if is(Defect::ReadOnlySysinitSet) { SectionKind::ReadOnlyData } else { SectionKind::Data };
    let sysinit_set = obj.add_section(vec![], b"set_sysinit_set".to_vec(), sysinit_kind);
    let mut b = Builder { obj, rodata };

    // The event handler: push %rbp; mov %rsp,%rbp; call printf; [defect]; pop %rbp; ret
    let mut code = vec![0x55, 0x48, 0x89, 0xe5, 0xe8, 0, 0, 0, 0];
    if is(Defect::SseInstruction) {
        code.extend_from_slice(&[0x0f, 0x28, 0xc1]); // movaps %xmm1,%xmm0
    }
    if is(Defect::X87Instruction) {
        code.extend_from_slice(&[0xd9, 0xe8]); // fld1
    }
    let extra_call = code.len();
    if is(Defect::GotPcRel) || is(Defect::UnknownUndefined) || is(Defect::UndefinedAbsentInMajor) {
        code.extend_from_slice(&[0xff, 0x15, 0, 0, 0, 0]); // call *sym(%rip)
    }
    code.extend_from_slice(&[0x5d, 0xc3]);
    let handler_at = b.obj.append_section_data(text, &code, 16);
    let handler = b.obj.add_symbol(Symbol {
        name: b"testmod_modevent".to_vec(),
        value: handler_at,
        size: code.len() as u64,
        kind: SymbolKind::Text,
        scope: if is(Defect::GlobalDefinition) { SymbolScope::Dynamic } else { SymbolScope::Compilation },
        weak: false,
        section: SymbolSection::Section(text),
        flags: SymbolFlags::None,
    });
    let printf = b.undefined("printf");
    b.obj
        .add_relocation(text, Relocation { offset: handler_at + 5, symbol: printf, addend: -4, flags: RelocationFlags::Elf { r_type: elf::R_X86_64_PLT32 } })
        .unwrap();
    let extra = match defect {
        Some(Defect::GotPcRel) => Some((printf, elf::R_X86_64_GOTPCREL)),
        Some(Defect::UnknownUndefined) => Some((b.undefined("not_a_kernel_symbol"), elf::R_X86_64_PC32)),
        Some(Defect::UndefinedAbsentInMajor) => Some((b.undefined("only_in_15"), elf::R_X86_64_PC32)),
        _ => None,
    };
    if let Some((symbol, r_type)) = extra {
        let offset = handler_at + extra_call as u64 + 2;
        b.obj.add_relocation(text, Relocation { offset, symbol, addend: -4, flags: RelocationFlags::Elf { r_type } }).unwrap();
    }

    // moduledata_t { name, evhand, priv }
    let name = if is(Defect::WrongModuleName) { "othermod" } else { "testmod" };
    let name_at = b.string(name);
    let moduledata = b.obj.append_section_data(rodata, &[0; 24], 8);
    b.pointer_to(rodata, moduledata, rodata, name_at);
    b.pointer(rodata, moduledata + 8, handler, 0);

    // DECLARE_MODULE, MODULE_VERSION, MODULE_DEPEND
    let kernel_max = if is(Defect::WrongDependRange) { 1599999 } else { 1499999 };
    let kernel_dep = b.ints(data, &[1402000, 1402000, kernel_max]);
    b.metadata(metadata_set, 1, (data, kernel_dep), "kernel");
    b.metadata(metadata_set, 2, (rodata, moduledata), name);
    let version = b.ints(data, &[if is(Defect::WrongVersion) { 2 } else { 1 }]);
    b.metadata(metadata_set, 3, (data, version), name);
    if !is(Defect::MissingDepend) {
        let dep = b.ints(data, &[1, 1, 1]);
        b.metadata(metadata_set, 1, (data, dep), "linux64");
    }
    if is(Defect::ExtraDepend) {
        let dep = b.ints(data, &[1, 1, 1]);
        b.metadata(metadata_set, 1, (data, dep), "linux_common");
    }

    // struct sysinit records: module_register_init(&moduledata), malloc_init(&type)
    let record_section = if is(Defect::ReadOnlySysinitRecord) { rodata } else { data };
    let malloc_type_section = if is(Defect::ReadOnlyMallocType) { rodata } else { data };
    let malloc_type = b.obj.append_section_data(malloc_type_section, &[0; 112], 8);
    let mut inits = vec![("malloc_init", (malloc_type_section, malloc_type))];
    if !is(Defect::NoRegisteringSysinit) {
        inits.push(("module_register_init", (rodata, moduledata)));
    }
    for (func, (us, uo)) in inits {
        let rec = b.obj.append_section_data(record_section, &[0; 32], 8);
        let f = b.undefined(func);
        b.pointer(record_section, rec + 16, f, 0);
        b.pointer_to(record_section, rec + 24, us, uo);
        let entry = b.obj.append_section_data(sysinit_set, &[0; 8], 8);
        b.pointer_to(sysinit_set, entry, record_section, rec);
    }
    b.obj.write().unwrap()
}

/// Asserts that the rule failed, that no other rule did, and that a message says `why`.
fn fails_only(data: &[u8], rule: Rule, why: &str) {
    let findings = lint(data, &expectations());
    assert!(!findings.is_empty(), "expected the {rule} rule to fail, but the object passed");
    for f in &findings {
        assert_eq!(f.rule, rule, "unexpected finding {f} (expected only {rule})");
    }
    assert!(findings.iter().any(|f| f.message.contains(why)), "no {rule} finding mentions {why:?}: {findings:?}");
}

#[test]
fn the_good_module_passes_every_rule() {
    let findings = lint(&module(None), &expectations());
    assert!(findings.is_empty(), "{findings:?}");
}

// ---- elf ----

fn patch_u16(mut data: Vec<u8>, at: usize, value: u16) -> Vec<u8> {
    data[at..at + 2].copy_from_slice(&value.to_le_bytes());
    data
}

#[test]
fn elf_rejects_a_shared_object() {
    fails_only(&patch_u16(module(None), 16, elf::ET_DYN), Rule::Elf, "is not ET_REL");
}

#[test]
fn elf_rejects_another_machine() {
    fails_only(&patch_u16(module(None), 18, elf::EM_386), Rule::Elf, "is not EM_X86_64");
}

#[test]
fn elf_rejects_two_symbol_tables() {
    // Turn the string table of section names into a second SHT_SYMTAB (an empty one:
    // its size is not a multiple of the symbol size, so give it a size of 0 as well).
    let mut data = module(None);
    let shoff = u64::from_le_bytes(data[0x28..0x30].try_into().unwrap()) as usize;
    let shentsize = u16::from_le_bytes(data[0x3a..0x3c].try_into().unwrap()) as usize;
    let shnum = u16::from_le_bytes(data[0x3c..0x3e].try_into().unwrap()) as usize;
    let shstrndx = u16::from_le_bytes(data[0x3e..0x40].try_into().unwrap()) as usize;
    let victim = (1..shnum)
        .find(|&i| {
            let h = shoff + i * shentsize;
            i != shstrndx && u32::from_le_bytes(data[h + 4..h + 8].try_into().unwrap()) == elf::SHT_STRTAB
        })
        .expect("a symbol string table");
    let h = shoff + victim * shentsize;
    data[h + 4..h + 8].copy_from_slice(&elf::SHT_SYMTAB.to_le_bytes());
    data[h + 32..h + 40].copy_from_slice(&0u64.to_le_bytes()); // sh_size
    let findings = lint(&data, &expectations());
    assert!(findings.iter().any(|f| f.rule == Rule::Elf && f.message.contains("2 SHT_SYMTAB")), "{findings:?}");
}

#[test]
fn elf_rejects_what_is_not_elf64() {
    fails_only(b"\x7fELF\x01\x01\x01\0garbage", Rule::Elf, "not ELFCLASS64");
}

// ---- relocations ----

#[test]
fn relocations_rejects_gotpcrel() {
    fails_only(&module(Some(Defect::GotPcRel)), Rule::Relocations, "R_X86_64_GOTPCREL");
}

// ---- fpu ----

#[test]
fn fpu_rejects_sse() {
    fails_only(&module(Some(Defect::SseInstruction)), Rule::Fpu, "Movaps");
}

#[test]
fn fpu_rejects_x87() {
    fails_only(&module(Some(Defect::X87Instruction)), Rule::Fpu, "Fld1");
}

// ---- undefined ----

#[test]
fn undefined_rejects_a_symbol_not_on_the_allowlist() {
    fails_only(&module(Some(Defect::UnknownUndefined)), Rule::Undefined, "not_a_kernel_symbol is not on the allowlist");
}

#[test]
fn undefined_rejects_a_symbol_absent_from_the_major() {
    fails_only(&module(Some(Defect::UndefinedAbsentInMajor)), Rule::Undefined, "does not exist in FreeBSD 14");
}

// ---- globals ----

#[test]
fn globals_rejects_an_unintended_global() {
    fails_only(&module(Some(Defect::GlobalDefinition)), Rule::Globals, "testmod_modevent is defined global");
}

#[test]
fn globals_accepts_an_intended_export() {
    let mut expect = expectations();
    expect.exports.push("testmod_modevent".into());
    assert!(lint(&module(Some(Defect::GlobalDefinition)), &expect).is_empty());
}

// ---- metadata ----

#[test]
fn metadata_rejects_a_wrong_version() {
    fails_only(&module(Some(Defect::WrongVersion)), Rule::Metadata, "MODULE_VERSION(testmod, 2)");
}

#[test]
fn metadata_rejects_a_missing_dependency() {
    fails_only(&module(Some(Defect::MissingDepend)), Rule::Metadata, "missing MODULE_DEPEND on linux64");
}

#[test]
fn metadata_rejects_a_wrong_kernel_range() {
    fails_only(&module(Some(Defect::WrongDependRange)), Rule::Metadata, "MODULE_DEPEND on kernel is (1402000, 1402000, 1599999)");
}

#[test]
fn metadata_rejects_an_unexpected_dependency() {
    fails_only(&module(Some(Defect::ExtraDepend)), Rule::Metadata, "unexpected MODULE_DEPEND on linux_common");
}

#[test]
fn metadata_rejects_a_wrong_module_name() {
    fails_only(&module(Some(Defect::WrongModuleName)), Rule::Metadata, "module is named othermod");
}

#[test]
fn metadata_rejects_a_module_nothing_registers() {
    fails_only(&module(Some(Defect::NoRegisteringSysinit)), Rule::Metadata, "module_register_init");
}

// ---- writable-sets ----

#[test]
fn writable_sets_rejects_a_read_only_sysinit_set() {
    fails_only(&module(Some(Defect::ReadOnlySysinitSet)), Rule::WritableSets, "set_sysinit_set is not writable");
}

#[test]
fn writable_sets_rejects_a_read_only_sysinit_record() {
    fails_only(&module(Some(Defect::ReadOnlySysinitRecord)), Rule::WritableSets, "which is not writable");
}

#[test]
fn writable_sets_rejects_a_read_only_malloc_type() {
    fails_only(&module(Some(Defect::ReadOnlyMallocType)), Rule::WritableSets, "malloc_init is given a malloc type");
}
