//! The `fpu` rule: kernel code must not touch the FPU or vector registers. FreeBSD
//! builds modules with `-mno-mmx -mno-sse -msoft-float` because the kernel does not save
//! user FPU state on entry; an SSE instruction in a module silently corrupts the
//! registers of whatever user thread it interrupted (only code bracketed by
//! fpu_kern_enter(9) may use them, and linuxaio has none).

use crate::image::Image;
use crate::{Finding, Rule};
use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, Register};
use object::elf;
use object::{Object, ObjectSection};

/// CPUID feature families whose instructions use or manage FPU/vector state.
const FORBIDDEN_FEATURES: &[&str] = &[
    "FPU", "MMX", "SSE", "SSSE", "AVX", "FMA", "F16C", "AES", "PCLMUL", "SHA", "D3NOW", "XOP", "KNC",
    "AMX", "VAES", "VPCLMUL", "GFNI", "FXSR", "XSAVE", "CMOV_FPU",
];

fn uses_fpu_register(r: Register) -> bool {
    r.is_xmm() || r.is_ymm() || r.is_zmm() || r.is_mm() || r.is_st() || r.is_k() || r.is_tmm()
}

/// Instructions that CPUID files under SSE/SSE2 but that touch no FPU or vector state:
/// memory fences, the spin-wait hint, prefetches and integer non-temporal stores. The
/// kernel uses them itself (an atomic fence is `mfence`).
const NOT_FPU: &[Mnemonic] = &[
    Mnemonic::Lfence, Mnemonic::Mfence, Mnemonic::Sfence, Mnemonic::Pause, Mnemonic::Prefetchnta,
    Mnemonic::Prefetcht0, Mnemonic::Prefetcht1, Mnemonic::Prefetcht2, Mnemonic::Clflush, Mnemonic::Movnti,
];

/// Why `instr` is forbidden, if it is.
pub fn forbidden(instr: &Instruction) -> Option<String> {
    let register = (0..instr.op_count())
        .map(|i| instr.op_register(i))
        .chain([instr.memory_base(), instr.memory_index()])
        .find(|&r| uses_fpu_register(r));
    if let Some(r) = register {
        return Some(format!("uses register {r:?}"));
    }
    if NOT_FPU.contains(&instr.mnemonic()) {
        return None;
    }
    for feature in instr.cpuid_features() {
        let name = format!("{feature:?}");
        if FORBIDDEN_FEATURES.iter().any(|f| name.starts_with(f)) {
            return Some(format!("needs {name}"));
        }
    }
    None
}

pub fn check(image: &Image<'_>, findings: &mut Vec<Finding>) {
    for section in image.file.sections() {
        if image.sh_flags(section.index()) & u64::from(elf::SHF_EXECINSTR) == 0 {
            continue;
        }
        let Ok(code) = section.data() else { continue };
        let name = section.name().unwrap_or("?").to_string();
        // A linear sweep: compiler output has no data inside .text, and padding (int3,
        // nops, zeros) decodes as harmless integer instructions.
        let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
        let mut instr = Instruction::default();
        let mut reported = 0;
        while decoder.can_decode() {
            decoder.decode_out(&mut instr);
            if instr.is_invalid() {
                continue;
            }
            if let Some(why) = forbidden(&instr) {
                reported += 1;
                if reported <= 10 {
                    findings.push(Finding {
                        rule: Rule::Fpu,
                        message: format!("{name}+{:#x}: {:?} {why}", instr.ip(), instr.mnemonic()),
                    });
                }
            }
        }
        if reported > 10 {
            findings.push(Finding { rule: Rule::Fpu, message: format!("{name}: {} more", reported - 10) });
        }
    }
}
