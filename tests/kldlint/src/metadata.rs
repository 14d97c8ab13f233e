//! The `metadata` rule: the records of `set_modmetadata_set` (sys/module.h) say what
//! linuxaio intends: its name, its version, and each dependency with its version range;
//! and the module is registered by the sysinit `DECLARE_MODULE` makes.
//!
//! Layouts (amd64): `struct mod_metadata { int md_version; int md_type; const void
//! *md_data; const char *md_cval; }` (24 bytes), `struct mod_depend { int min, pref,
//! max; }`, `struct mod_version { int mv_version; }`, `moduledata_t { const char *name;
//! modeventhand_t evhand; void *priv; }`, `struct sysinit { u_int subsystem, order;
//! next; func @16; udata @24; }`.

use crate::image::{Image, Pointer};
use crate::rules::set_entries;
use crate::{Depend, Expectations, Finding, Rule};
use object::elf;

const MDT_DEPEND: i32 = 1;
const MDT_MODULE: i32 = 2;
const MDT_VERSION: i32 = 3;
const MDT_STRUCT_VERSION: i32 = 1;

fn finding(findings: &mut Vec<Finding>, message: String) {
    findings.push(Finding { rule: Rule::Metadata, message });
}

fn local(p: &Pointer) -> Option<(object::SectionIndex, u64)> {
    match p {
        Pointer::Local { section, offset } => Some((*section, *offset)),
        _ => None,
    }
}

pub fn check(image: &Image<'_>, expect: &Expectations, findings: &mut Vec<Finding>) {
    let sets = image.sections_named("set_modmetadata_set");
    if sets.is_empty() {
        finding(findings, "no set_modmetadata_set section: the kernel would not see a module".into());
        return;
    }
    let mut modules = Vec::new(); // (name, moduledata pointer)
    let mut versions = Vec::new(); // (name, version)
    let mut depends = Vec::new();
    for entry in sets.iter().flat_map(|&s| set_entries(image, s)) {
        let Some((s, o)) = local(&entry) else {
            finding(findings, format!("a set_modmetadata_set entry does not point into the module: {entry:?}"));
            continue;
        };
        let (Some(version), Some(ty)) = (image.i32_at(s, o), image.i32_at(s, o + 4)) else {
            finding(findings, "a struct mod_metadata lies outside its section".into());
            continue;
        };
        if version != MDT_STRUCT_VERSION {
            finding(findings, format!("md_version {version}, expected MDT_STRUCT_VERSION {MDT_STRUCT_VERSION}"));
        }
        let data = image.pointer_at(s, o + 8);
        let Some(cval) = image.string_at(&image.pointer_at(s, o + 16)) else {
            finding(findings, format!("metadata record of type {ty} has no name (md_cval)"));
            continue;
        };
        let ints = |n: u64| -> Option<Vec<i32>> {
            let (ds, doff) = local(&data)?;
            (0..n).map(|i| image.i32_at(ds, doff + 4 * i)).collect()
        };
        match ty {
            MDT_MODULE => modules.push((cval, data)),
            MDT_VERSION => match ints(1) {
                Some(v) => versions.push((cval, v[0])),
                None => finding(findings, format!("MDT_VERSION {cval}: no struct mod_version")),
            },
            MDT_DEPEND => match ints(3) {
                Some(v) => depends.push(Depend { name: cval, min: v[0], preferred: v[1], max: v[2] }),
                None => finding(findings, format!("MDT_DEPEND {cval}: no struct mod_depend")),
            },
            other => finding(findings, format!("unexpected metadata type {other} ({cval})")),
        }
    }

    // The module record, and the moduledata it points to.
    match &modules[..] {
        [(name, data)] => {
            if *name != expect.module {
                finding(findings, format!("module is named {name}, expected {}", expect.module));
            }
            match local(data) {
                Some((ds, doff)) => {
                    let own = image.string_at(&image.pointer_at(ds, doff));
                    if own.as_deref() != Some(expect.module.as_str()) {
                        finding(findings, format!("moduledata names the module {own:?}, expected {}", expect.module));
                    }
                    match local(&image.pointer_at(ds, doff + 8)) {
                        Some((hs, _)) if image.sh_flags(hs) & u64::from(elf::SHF_EXECINSTR) != 0 => {}
                        _ => finding(findings, "moduledata has no event handler in the module's code".into()),
                    }
                    if !registered_by_sysinit(image, data) {
                        finding(findings, "no sysinit calls module_register_init with the moduledata (DECLARE_MODULE)".into());
                    }
                }
                None => finding(findings, format!("MDT_MODULE {name}: md_data is not the module's moduledata")),
            }
        }
        [] => finding(findings, "no MDT_MODULE record: the file declares no module".into()),
        many => finding(findings, format!("{} MDT_MODULE records, expected one", many.len())),
    }

    match &versions[..] {
        [(name, v)] if *name == expect.module && *v == expect.version => {}
        [(name, v)] => finding(findings, format!("MODULE_VERSION({name}, {v}), expected MODULE_VERSION({}, {})", expect.module, expect.version)),
        other => finding(findings, format!("{} MDT_VERSION records, expected one", other.len())),
    }

    depends.sort();
    let mut wanted = expect.depends.clone();
    wanted.sort();
    for d in &wanted {
        match depends.iter().filter(|x| x.name == d.name).collect::<Vec<_>>()[..] {
            [] => finding(findings, format!("missing MODULE_DEPEND on {} ({}, {}, {})", d.name, d.min, d.preferred, d.max)),
            [x] if x == d => {}
            [x] => finding(
                findings,
                format!("MODULE_DEPEND on {} is ({}, {}, {}), expected ({}, {}, {})", d.name, x.min, x.preferred, x.max, d.min, d.preferred, d.max),
            ),
            ref xs => finding(findings, format!("{} MODULE_DEPEND records on {}", xs.len(), d.name)),
        }
    }
    for x in depends.iter().filter(|x| !wanted.iter().any(|d| d.name == x.name)) {
        finding(findings, format!("unexpected MODULE_DEPEND on {} ({}, {}, {})", x.name, x.min, x.preferred, x.max));
    }
}

fn registered_by_sysinit(image: &Image<'_>, moduledata: &Pointer) -> bool {
    image.sections_named("set_sysinit_set").into_iter().flat_map(|s| set_entries(image, s)).any(|entry| {
        local(&entry).is_some_and(|(s, o)| {
            image.pointer_at(s, o + 16) == Pointer::Undefined("module_register_init".into()) && image.pointer_at(s, o + 24) == *moduledata
        })
    })
}
