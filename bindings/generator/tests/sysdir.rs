//! The FreeBSD host build's path through the generator (`SYSDIR`, a kernel source tree)
//! cannot run here for want of a FreeBSD machine. This test lays the fetched FreeBSD
//! 15.0 headers out as a kernel source tree is laid out (`sys/`, `vm/`, ...,
//! `amd64/include`, `x86/include`, `__FreeBSD_version` in `sys/param.h`) and checks that
//! the SYSDIR path reads the version from `param.h` and generates the same bindings as
//! the committed ones, but for the line that says where the headers came from.
//!
//! What it does not prove: that a real /usr/src/sys parses the same way (a source tree
//! has more headers, and some, such as vnode_if.h, are generated during a kernel build;
//! the allowlisted headers do not include them).

use linuxaio_bindgen::{FreeBsdHeaders, ZiglangSet, freebsd};
use std::fs;
use std::path::{Path, PathBuf};

fn header_cache() -> PathBuf {
    std::env::var_os("LINUXAIO_HEADER_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../build/headers"))
}

fn link_children(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if !dest.exists() {
            std::os::unix::fs::symlink(entry.path(), dest).unwrap();
        }
    }
}

/// A kernel-source-tree view of an installed header set, under `root`.
fn make_sysdir(set: &ZiglangSet, cache: &Path, root: &Path) {
    let inc = set.dir(cache).join("ziglang/lib/libc/include");
    let generic = inc.join("generic-freebsd");
    let amd64 = inc.join("x86_64-freebsd-none");
    // sys/ is a real directory, so that param.h can carry __FreeBSD_version again.
    link_children(&generic.join("sys"), &root.join("sys"));
    let param = fs::read_to_string(generic.join("sys/param.h")).unwrap();
    let param = format!("#define __FreeBSD_version {}\n{param}", set.freebsd_version);
    fs::remove_file(root.join("sys/param.h")).unwrap();
    fs::write(root.join("sys/param.h"), param).unwrap();
    // Every other top-level directory (vm, net, ...) as -I$SYSDIR would find it.
    for entry in fs::read_dir(&generic).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if entry.path().is_dir() && !["sys", "machine", "x86"].contains(&name.to_str().unwrap()) {
            std::os::unix::fs::symlink(entry.path(), root.join(&name)).unwrap();
        }
    }
    // amd64/include is the amd64 machine headers, then the x86-shared ones.
    link_children(&amd64.join("machine"), &root.join("amd64/include"));
    link_children(&generic.join("machine"), &root.join("amd64/include"));
    fs::create_dir_all(root.join("x86")).unwrap();
    std::os::unix::fs::symlink(generic.join("x86"), root.join("x86/include")).unwrap();
}

#[test]
fn sysdir_path_generates_the_committed_bindings() {
    let cache = header_cache();
    let Some(set) = ZiglangSet::for_major(15) else { panic!("no FreeBSD 15 header set") };
    if !set.dir(&cache).is_dir() {
        println!("SKIPPED: no fetched headers in {} (run `make headers`)", cache.display());
        return;
    }
    let root = std::env::temp_dir().join(format!("linuxaio-sysdir-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    make_sysdir(set, &cache, &root);

    let headers = FreeBsdHeaders::from_sysdir(&root).unwrap();
    assert_eq!(headers.major, 15);
    assert_eq!(headers.freebsd_version, set.freebsd_version);
    let generated = freebsd(&headers).unwrap();
    let _ = fs::remove_dir_all(&root);

    let committed = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../freebsd15.rs")).unwrap();
    let body = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert!(generated.lines().next().unwrap().contains("kernel source tree (SYSDIR)"));
    assert!(body(&generated) == body(&committed), "the SYSDIR path generates different bindings");
}
