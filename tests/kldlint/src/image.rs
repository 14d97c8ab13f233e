//! A relocatable ELF object seen as the kernel linker sees it: sections, symbols, and
//! the relocation at each place, so that a pointer stored in a section can be followed
//! before anything is linked.

use object::elf;
use object::read::elf::{ElfFile64, SectionHeader};
use object::{Endianness, Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SectionIndex};
use std::collections::BTreeMap;

/// Where a pointer-sized field leads once the module is linked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pointer {
    /// No relocation and zero bytes: a null pointer.
    Null,
    /// Into one of the module's own sections.
    Local { section: SectionIndex, offset: u64 },
    /// To a symbol the kernel linker resolves elsewhere (the kernel, a dependency).
    Undefined(String),
    /// Anything else (a relocation that is not `R_X86_64_64`, or bytes without one).
    Unresolved(String),
}

#[derive(Clone, Debug)]
pub struct Reloc {
    pub r_type: u32,
    pub target: Pointer,
}

pub struct Image<'a> {
    pub file: ElfFile64<'a, Endianness>,
    /// Relocations by (section they apply to, offset).
    relocs: BTreeMap<(usize, u64), Reloc>,
}

impl<'a> Image<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Self, String> {
        let file = ElfFile64::<Endianness>::parse(data).map_err(|e| format!("not a 64-bit ELF file: {e}"))?;
        let mut relocs = BTreeMap::new();
        for section in file.sections() {
            for (offset, r) in section.relocations() {
                let RelocationFlags::Elf { r_type } = r.flags() else { continue };
                let target = match r.target() {
                    RelocationTarget::Symbol(idx) => match file.symbol_by_index(idx) {
                        Ok(sym) if sym.is_undefined() => Pointer::Undefined(sym.name().unwrap_or("?").to_string()),
                        Ok(sym) => match sym.section_index() {
                            Some(section) => Pointer::Local {
                                section,
                                offset: sym.address().wrapping_add(r.addend() as u64),
                            },
                            None => Pointer::Unresolved(format!("symbol {} has no section", sym.name().unwrap_or("?"))),
                        },
                        Err(e) => Pointer::Unresolved(e.to_string()),
                    },
                    RelocationTarget::Section(section) => Pointer::Local { section, offset: r.addend() as u64 },
                    other => Pointer::Unresolved(format!("{other:?}")),
                };
                relocs.insert((section.index().0, offset), Reloc { r_type, target });
            }
        }
        Ok(Image { file, relocs })
    }

    pub fn endian(&self) -> Endianness {
        self.file.endian()
    }

    /// Every relocation: (section it applies to, offset, relocation).
    pub fn relocations(&self) -> impl Iterator<Item = (SectionIndex, u64, &Reloc)> {
        self.relocs.iter().map(|(&(s, o), r)| (SectionIndex(s), o, r))
    }

    pub fn section_name(&self, index: SectionIndex) -> String {
        self.file
            .section_by_index(index)
            .ok()
            .and_then(|s| s.name().ok().map(str::to_string))
            .unwrap_or_else(|| format!("section #{}", index.0))
    }

    pub fn sh_flags(&self, index: SectionIndex) -> u64 {
        self.file
            .section_by_index(index)
            .map(|s| s.elf_section_header().sh_flags(self.endian()))
            .unwrap_or(0)
    }

    pub fn is_writable(&self, index: SectionIndex) -> bool {
        self.sh_flags(index) & u64::from(elf::SHF_WRITE) != 0
    }

    /// `len` bytes at `offset` in a section (zeros for NOBITS), if in range.
    pub fn bytes(&self, section: SectionIndex, offset: u64, len: usize) -> Option<Vec<u8>> {
        let s = self.file.section_by_index(section).ok()?;
        let end = offset.checked_add(len as u64)?;
        if end > s.size() {
            return None;
        }
        let data = s.data().ok()?;
        if data.is_empty() {
            return Some(vec![0; len]); // NOBITS
        }
        data.get(offset as usize..end as usize).map(<[u8]>::to_vec)
    }

    pub fn i32_at(&self, section: SectionIndex, offset: u64) -> Option<i32> {
        self.bytes(section, offset, 4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u32_at(&self, section: SectionIndex, offset: u64) -> Option<u32> {
        self.i32_at(section, offset).map(|v| v as u32)
    }

    /// The pointer stored at `offset` in `section`, as the kernel linker would fill it.
    pub fn pointer_at(&self, section: SectionIndex, offset: u64) -> Pointer {
        match self.relocs.get(&(section.0, offset)) {
            Some(r) if r.r_type == elf::R_X86_64_64 => r.target.clone(),
            Some(r) => Pointer::Unresolved(format!("relocation type {} for a pointer", r.r_type)),
            None => match self.bytes(section, offset, 8) {
                Some(b) if b.iter().all(|&x| x == 0) => Pointer::Null,
                Some(_) => Pointer::Unresolved("a non-zero pointer without a relocation".into()),
                None => Pointer::Unresolved("outside its section".into()),
            },
        }
    }

    /// The NUL-terminated string a pointer leads to.
    pub fn string_at(&self, p: &Pointer) -> Option<String> {
        let Pointer::Local { section, offset } = p else { return None };
        let data = self.file.section_by_index(*section).ok()?.data().ok()?;
        let tail = data.get(*offset as usize..)?;
        let end = tail.iter().position(|&b| b == 0)?;
        String::from_utf8(tail[..end].to_vec()).ok()
    }

    /// The sections whose name is `name`.
    pub fn sections_named(&self, name: &str) -> Vec<SectionIndex> {
        self.file.sections().filter(|s| s.name() == Ok(name)).map(|s| s.index()).collect()
    }

    pub fn section_size(&self, index: SectionIndex) -> u64 {
        self.file.section_by_index(index).map(|s| s.size()).unwrap_or(0)
    }
}
