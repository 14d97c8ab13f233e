//! The real linuxaio.ko (as `make` builds it) loaded into the modelled kernel: load,
//! the entries it installs, unload, and the loads FreeBSD would refuse.

use kldhost::kernel::{self, Config};
use kldhost::kpi::{malloc, module, sysctl};
use kldhost::linuxulator::{self, IO_SLOTS};
use kldhost::loader;
use object::elf;
use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
use object::{Endianness, Object};
use std::path::PathBuf;

const ENOSYS_LINUX: i64 = -38;

fn ko(major: u32) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../build/freebsd{major}/linuxaio.ko"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run `make` first)", path.display()))
}

fn boot(major: u32, edit: impl FnOnce(&mut Config)) {
    let mut c = Config::new(major).unwrap();
    edit(&mut c);
    kernel::boot(c);
}

fn assert_clean() {
    assert_eq!(kernel::violations(), Vec::<String>::new(), "console: {:#?}", kernel::console());
}

fn console_has(text: &str) -> bool {
    kernel::console().iter().any(|l| l.contains(text))
}

fn load_and_unload(major: u32) {
    let _k = kernel::exclusive();
    boot(major, |_| {});
    for (n, _) in IO_SLOTS {
        assert!(linuxulator::is_stock(n), "slot {n} stock before the load");
    }
    // Before the load the stock stub answers.
    assert_eq!(linuxulator::syscall(206, [0; 6]), ENOSYS_LINUX);
    assert_eq!(linuxulator::stub_calls("io_setup"), 1);

    let lf = loader::load(&ko(major), "linuxaio.ko").unwrap_or_else(|e| panic!("load refused: {e}; console {:#?}", kernel::console()));
    assert_eq!(lf.modules, ["linuxaio"]);
    assert!(module::modules_of(lf.id).iter().all(|m| m.loaded), "MOD_LOAD failed: {:#?}", kernel::console());
    let nargs = [2, 1, 5, 3, 3, 6];
    for ((n, name), narg) in IO_SLOTS.into_iter().zip(nargs) {
        let e = linuxulator::entry(n).unwrap();
        assert!(!linuxulator::is_stock(n), "slot {n} ({name}) still stock");
        assert_eq!(e.sy_thrcnt, 0, "slot {n} counted (not static, not absent)");
        assert_eq!(e.sy_narg, narg, "slot {n} ({name}) argument count");
    }
    assert_eq!(sysctl::read("compat.linux.aio.enable"), Ok(1));
    assert!(malloc::types().iter().any(|t| t.name == "linuxaio" && t.registered), "malloc type registered");
    // The module serves the calls now (the stubs do not run): with all arguments 0,
    // io_setup's null ctxp and io_cancel's null iocb are EFAULT, context 0 is EINVAL.
    for (n, name) in IO_SLOTS {
        let want = match name {
            "io_setup" | "io_cancel" => -14,
            _ => -22,
        };
        assert_eq!(linuxulator::syscall(n, [0; 6]), want, "{name}");
        assert_eq!(linuxulator::stub_calls(name), u64::from(name == "io_setup"), "{name} went to the stock stub");
    }

    loader::unload(lf, false).unwrap_or_else(|(_, e)| panic!("unload refused: {e}"));
    for (n, _) in IO_SLOTS {
        assert!(linuxulator::is_stock(n), "slot {n} restored");
    }
    assert_eq!(sysctl::find("compat.linux.aio"), None, "sysctls removed");
    assert!(sysctl::find("compat.linux").is_some(), "linux_common's node stays");
    assert_eq!(malloc::bytes_of("linuxaio"), 0);
    assert_eq!(linuxulator::syscall(206, [0; 6]), ENOSYS_LINUX);
    assert_eq!(linuxulator::stub_calls("io_setup"), 2, "the stock stub answers again");
    assert_clean();
}

#[test]
fn loads_installs_and_unloads_on_freebsd14() {
    load_and_unload(14);
}

#[test]
fn loads_installs_and_unloads_on_freebsd15() {
    load_and_unload(15);
}

#[test]
fn load_unload_100_times_leaves_nothing_allocated() {
    let _k = kernel::exclusive();
    boot(15, |_| {});
    let data = ko(15);
    for i in 0..100 {
        let lf = loader::load(&data, "linuxaio.ko").unwrap_or_else(|e| panic!("load {i}: {e}"));
        loader::unload(lf, false).unwrap_or_else(|(_, e)| panic!("unload {i}: error {e}"));
        assert_eq!(malloc::bytes_of("linuxaio"), 0, "after cycle {i}");
    }
    assert!(!console_has("leaked memory"));
    assert_clean();
}

#[test]
fn refuses_a_module_for_another_major() {
    let _k = kernel::exclusive();
    boot(15, |_| {});
    let e = loader::load(&ko(14), "linuxaio.ko").unwrap_err();
    assert!(e.messages.iter().any(|m| m == "KLD linuxaio.ko: depends on kernel - not available or version mismatch"), "{e}");
    assert!(IO_SLOTS.iter().all(|&(n, _)| linuxulator::is_stock(n)));
    boot(14, |_| {});
    let e = loader::load(&ko(15), "linuxaio.ko").unwrap_err();
    assert!(e.messages.iter().any(|m| m.contains("depends on kernel")), "{e}");
    assert_clean();
}

#[test]
fn refuses_to_load_without_linux64() {
    let _k = kernel::exclusive();
    boot(15, |c| c.linux64 = false);
    let e = loader::load(&ko(15), "linuxaio.ko").unwrap_err();
    assert!(e.messages.iter().any(|m| m.contains("depends on linux64 - not available or version mismatch")), "{e}");
    assert_eq!(e.errno, 8, "ENOEXEC");
}

/// A copy of the module with one relocation of `.rela.text` changed to `new_type`.
fn with_relocation_type(mut data: Vec<u8>, from_type: u32, new_type: u32) -> Vec<u8> {
    let (start, len) = {
        let file = ElfFile64::<Endianness>::parse(&*data).unwrap();
        let s = file.section_by_name(".rela.text").unwrap();
        let h = s.elf_section_header();
        (h.sh_offset(file.endian()) as usize, h.sh_size(file.endian()) as usize)
    };
    for at in (start..start + len).step_by(24) {
        let info = u64::from_le_bytes(data[at + 8..at + 16].try_into().unwrap());
        if info as u32 == from_type {
            let info = (info & !0xffff_ffff) | u64::from(new_type);
            data[at + 8..at + 16].copy_from_slice(&info.to_le_bytes());
            return data;
        }
    }
    panic!("no relocation of type {from_type}");
}

#[test]
fn refuses_a_gotpcrel_relocation() {
    let _k = kernel::exclusive();
    boot(15, |_| {});
    let bad = with_relocation_type(ko(15), elf::R_X86_64_PLT32, elf::R_X86_64_GOTPCREL);
    let e = loader::load(&bad, "bad.ko").unwrap_err();
    assert!(e.messages.iter().any(|m| m.starts_with("kldload: unexpected relocation type 9, symbol index")), "{e}");
    assert_eq!(e.errno, 8, "ENOEXEC");
    assert!(IO_SLOTS.iter().all(|&(n, _)| linuxulator::is_stock(n)));
}

#[test]
fn refuses_an_undefined_symbol() {
    let _k = kernel::exclusive();
    boot(15, |_| {});
    let mut data = ko(15);
    // Rename the import `pause_sbt` to a symbol no kernel has.
    let at = {
        let file = ElfFile64::<Endianness>::parse(&*data).unwrap();
        let h = file.elf_header();
        let shdrs = h.section_headers(file.endian(), &*data).unwrap();
        let symtab = shdrs.iter().find(|s| s.sh_type(file.endian()) == elf::SHT_SYMTAB).unwrap();
        let strtab = &shdrs[symtab.sh_link(file.endian()) as usize];
        let (off, size) = (strtab.sh_offset(file.endian()) as usize, strtab.sh_size(file.endian()) as usize);
        let pos = data[off..off + size].windows(10).position(|w| w == b"pause_sbt\0").unwrap();
        off + pos
    };
    data[at + 8] = b'X';
    let e = loader::load(&data, "bad.ko").unwrap_err();
    assert!(e.messages.iter().any(|m| m == "link_elf_obj: symbol pause_sbX undefined"), "{e}");
    assert!(IO_SLOTS.iter().all(|&(n, _)| linuxulator::is_stock(n)));
}

#[test]
fn without_native_aio_it_loads_and_says_so() {
    let _k = kernel::exclusive();
    boot(15, |c| c.native_aio = false);
    let lf = loader::load(&ko(15), "linuxaio.ko").unwrap();
    assert!(console_has("no native AIO"), "{:#?}", kernel::console());
    // The gate answers ENOSYS even where the module would answer otherwise.
    assert_eq!(linuxulator::syscall(206, [0; 6]), ENOSYS_LINUX);
    assert_eq!(linuxulator::syscall(207, [0; 6]), ENOSYS_LINUX);
    assert_eq!(linuxulator::stub_calls("io_setup"), 0);
    loader::unload(lf, false).unwrap();
    assert_clean();
}

#[test]
fn the_enable_tunable_is_read_at_load() {
    let _k = kernel::exclusive();
    boot(15, |c| c.tunables.push(("compat.linux.aio.enable".into(), "0".into())));
    let lf = loader::load(&ko(15), "linuxaio.ko").unwrap();
    assert_eq!(sysctl::read("compat.linux.aio.enable"), Ok(0));
    sysctl::write_path("compat.linux.aio.enable", 1).unwrap();
    assert_eq!(sysctl::read("compat.linux.aio.enable"), Ok(1));
    loader::unload(lf, false).unwrap();
    assert_clean();
}

#[test]
fn refuses_to_load_over_a_slot_another_module_took_and_leaves_everything_as_it_was() {
    let _k = kernel::exclusive();
    boot(15, |_| {});
    // Another module's entry in io_getevents' slot.
    let table = linuxulator::table();
    let theirs = linuxulator::entry(210).unwrap();
    unsafe { (*table.add(208)).sy_call = theirs.sy_call };
    let before: Vec<_> = IO_SLOTS.iter().map(|&(n, _)| linuxulator::entry(n).unwrap().sy_call.map(|c| c as usize)).collect();

    let e = loader::load(&ko(15), "linuxaio.ko").unwrap_err();
    assert!(console_has("linux_sysent[208] (io_getevents) does not hold FreeBSD's stock entry"), "{:#?}", kernel::console());
    assert!(console_has("module_register_init: MOD_LOAD (linuxaio"), "{:#?}", kernel::console());
    assert_eq!(e.errno, 8);
    let after: Vec<_> = IO_SLOTS.iter().map(|&(n, _)| linuxulator::entry(n).unwrap().sy_call.map(|c| c as usize)).collect();
    assert_eq!(before, after, "no slot touched");
    assert_eq!(sysctl::find("compat.linux.aio"), None);
    assert_eq!(malloc::bytes_of("linuxaio"), 0);
    assert_clean();
}
