//! kldlint: checks a FreeBSD amd64 kernel module (`.ko`) before any kernel sees it.
//!
//! Each rule is a property FreeBSD's kernel linker (`sys/kern/link_elf_obj.c`,
//! `sys/amd64/amd64/elf_machdep.c`) or the kernel itself relies on, or a property
//! linuxaio intends for its own module:
//!
//! | rule | what it checks |
//! |---|---|
//! | `elf` | ET_REL, ELFCLASS64, little-endian, EM_X86_64, exactly one SHT_SYMTAB |
//! | `relocations` | only R_X86_64_64, PC32, PLT32, 32S (what the amd64 kld applies) |
//! | `fpu` | no x87/MMX/SSE/AVX instruction and no such register in executable sections |
//! | `undefined` | every undefined symbol is on the allowlist, with its source file for the major |
//! | `globals` | no defined global symbol but the intended exports (kmod.mk localises the rest) |
//! | `metadata` | the module's name, version, and dependencies with their version ranges |
//! | `writable-sets` | sysinit/sysuninit sets and their records writable (DATA_WSET), metadata set present |

pub mod allowlist;
pub mod fpu;
pub mod image;
pub mod metadata;
pub mod rules;

use std::fmt;

/// The rules, by the names the command line and the tests use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    Elf,
    Relocations,
    Fpu,
    Undefined,
    Globals,
    Metadata,
    WritableSets,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Elf => "elf",
            Rule::Relocations => "relocations",
            Rule::Fpu => "fpu",
            Rule::Undefined => "undefined",
            Rule::Globals => "globals",
            Rule::Metadata => "metadata",
            Rule::WritableSets => "writable-sets",
        })
    }
}

/// One violation of a rule.
#[derive(Clone, Debug)]
pub struct Finding {
    pub rule: Rule,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.rule, self.message)
    }
}

/// A dependency as `MODULE_DEPEND` declares it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Depend {
    pub name: String,
    pub min: i32,
    pub preferred: i32,
    pub max: i32,
}

/// What the module is meant to be.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    /// FreeBSD major the module is built for: selects the allowlist's column.
    pub major: u32,
    pub allowlist: allowlist::Allowlist,
    /// Defined symbols that may stay global.
    pub exports: Vec<String>,
    pub module: String,
    pub version: i32,
    pub depends: Vec<Depend>,
}

/// Checks `data` (a whole `.ko` file) against every rule. An empty result is a pass.
pub fn lint(data: &[u8], expect: &Expectations) -> Vec<Finding> {
    let mut findings = Vec::new();
    rules::elf(data, &mut findings);
    let image = match image::Image::parse(data) {
        Ok(image) => image,
        Err(e) => {
            findings.push(Finding { rule: Rule::Elf, message: format!("cannot be read as a relocatable object: {e}") });
            return findings;
        }
    };
    rules::relocations(&image, &mut findings);
    fpu::check(&image, &mut findings);
    rules::undefined(&image, expect, &mut findings);
    rules::globals(&image, expect, &mut findings);
    metadata::check(&image, expect, &mut findings);
    rules::writable_sets(&image, &mut findings);
    findings
}
