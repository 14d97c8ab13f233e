//! Chooses the bindings the module is compiled against (DESIGN.md point 5).
//!
//! In order of preference:
//! 1. `SYSDIR` (a FreeBSD kernel source tree, as kmod/Makefile sets it on a FreeBSD
//!    host): bindgen on those headers; the tree's major must be the selected one.
//! 2. `LINUXAIO_HEADER_CACHE` (set by the Linux Makefile after `make headers`): bindgen
//!    on the FreeBSD header set of the selected major from the ziglang wheels, and on
//!    /usr/include/linux/aio_abi.h.
//! 3. Otherwise the committed `bindings/*.rs`, with a warning that says so.

use linuxaio_bindgen::{FreeBsdHeaders, ZiglangSet, freebsd, linux_aio_abi};
use std::path::{Path, PathBuf};

fn main() {
    for var in ["SYSDIR", "LINUXAIO_HEADER_CACHE", "CARGO_FEATURE_FREEBSD14", "CARGO_FEATURE_FREEBSD15"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=bindings");

    let majors: Vec<u32> = [(14, "CARGO_FEATURE_FREEBSD14"), (15, "CARGO_FEATURE_FREEBSD15")]
        .into_iter()
        .filter(|(_, var)| std::env::var_os(var).is_some())
        .map(|(major, _)| major)
        .collect();
    let major = match majors[..] {
        [major] => major,
        _ => fail("select exactly one FreeBSD major: --features freebsd14 or --features freebsd15"),
    };
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_else(|| fail("OUT_DIR is not set")));
    let committed = |name: &str| -> String {
        let path = root.join("bindings").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())))
    };

    let sysdir = std::env::var_os("SYSDIR").map(PathBuf::from);
    let cache = std::env::var_os("LINUXAIO_HEADER_CACHE").map(PathBuf::from);
    let headers: Option<FreeBsdHeaders> = if let Some(sys) = &sysdir {
        let h = FreeBsdHeaders::from_sysdir(sys).unwrap_or_else(|e| fail(&e.to_string()));
        if h.major != major {
            fail(&format!("SYSDIR {} is FreeBSD {}, but freebsd{major} was selected", sys.display(), h.major));
        }
        Some(h)
    } else if let Some(cache) = &cache {
        let set = ZiglangSet::for_major(major).unwrap_or_else(|| fail("no header set for this major"));
        Some(set.headers(cache).unwrap_or_else(|e| fail(&format!("{e} (run `make headers`)"))))
    } else {
        None
    };

    let freebsd_rs = match &headers {
        Some(h) => freebsd(h).unwrap_or_else(|e| fail(&e.to_string())),
        None => {
            println!("cargo::warning=no FreeBSD headers (SYSDIR or LINUXAIO_HEADER_CACHE): using the committed bindings/freebsd{major}.rs");
            committed(&format!("freebsd{major}.rs"))
        }
    };
    // The Linux ABI comes from Linux's UAPI headers where they are installed (a Linux
    // build machine); a FreeBSD host has none and uses the committed copy.
    let linux_include = Path::new("/usr/include");
    let linux_rs = if headers.is_some() && linux_include.join("linux/aio_abi.h").is_file() {
        linux_aio_abi(linux_include, "build machine's UAPI headers").unwrap_or_else(|e| fail(&e.to_string()))
    } else {
        committed("linux_aio_abi.rs")
    };
    write(&out.join("freebsd.rs"), &freebsd_rs);
    write(&out.join("linux_aio_abi.rs"), &linux_rs);

    // Host unit tests (`cargo test --lib` on Linux) exercise the module's pure logic.
    // The kernel functions it imports do not exist in a Linux process; the test binary
    // is linked with them unresolved, and no unit test calls them (the test bed loads
    // the real .ko for that). The kernel build is a staticlib: nothing is linked there.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo::rustc-link-arg=-Wl,--unresolved-symbols=ignore-all");
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
}

fn fail(msg: &str) -> ! {
    eprintln!("linuxaio build.rs: {msg}");
    std::process::exit(1);
}
