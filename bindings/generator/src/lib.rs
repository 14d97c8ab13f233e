//! Generates linuxaio's Rust bindings with bindgen.
//!
//! Two inputs, one function each:
//! - [`freebsd`]: the FreeBSD kernel headers of one major version, seen with
//!   `-D_KERNEL -DKLD_MODULE` as a kernel module sees them. The headers come either from
//!   a kernel source tree (`SYSDIR`, on a FreeBSD host) or from an installed
//!   `/usr/include` tree split the way the PyPI `ziglang` wheels ship FreeBSD's (a
//!   generic part and an amd64 part). Installed trees lose `__FreeBSD_version` (zig
//!   strips it), so it is passed with `-D` and recorded in the output.
//! - [`linux_aio_abi`]: `linux/aio_abi.h` (and `linux/fs.h` for the RWF_* flags).
//!
//! The module's `build.rs` calls these when headers are present; the `linuxaio-bindgen`
//! binary writes the committed copies under `bindings/` and checks them.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// Where a FreeBSD header set lives.
#[derive(Clone, Debug)]
pub enum HeaderTree {
    /// A kernel source tree, as `SYSDIR` names it (`/usr/src/sys`): `sys/*.h` at its
    /// top, `amd64/include` and `x86/include` to be seen as `machine/` and `x86/`.
    SysDir(PathBuf),
    /// An installed include tree in two parts, as in the `ziglang` wheels:
    /// `lib/libc/include/generic-freebsd` and `lib/libc/include/x86_64-freebsd-none`.
    Installed { generic: PathBuf, amd64: PathBuf },
}

/// One FreeBSD header set and what is known about it.
#[derive(Clone, Debug)]
pub struct FreeBsdHeaders {
    /// FreeBSD major version (14 or 15).
    pub major: u32,
    /// `__FreeBSD_version` of the release the headers belong to. For a `SysDir` tree it
    /// is read from `sys/sys/param.h`; installed trees need it given.
    pub freebsd_version: u32,
    pub tree: HeaderTree,
    /// Where the headers came from, written into the generated file's first lines.
    /// It must not depend on the machine (no temporary paths), or the check that the
    /// committed bindings are current would fail for no reason.
    pub provenance: String,
}

#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn err(msg: impl Into<String>) -> Error {
    Error(msg.into())
}

impl FreeBsdHeaders {
    /// A kernel source tree; `__FreeBSD_version` is read from its `sys/param.h`.
    pub fn from_sysdir(sysdir: &Path) -> Result<Self, Error> {
        let param = sysdir.join("sys/param.h");
        let text = fs::read_to_string(&param)
            .map_err(|e| err(format!("{}: {e}", param.display())))?;
        let version = parse_freebsd_version(&text)
            .ok_or_else(|| err(format!("{}: no #define __FreeBSD_version", param.display())))?;
        Ok(FreeBsdHeaders {
            major: version / 100_000,
            freebsd_version: version,
            tree: HeaderTree::SysDir(sysdir.to_path_buf()),
            provenance: format!("kernel source tree (SYSDIR), __FreeBSD_version {version}"),
        })
    }

    /// An extracted `ziglang` wheel (the directory that contains `ziglang/`, or
    /// `ziglang/` itself).
    pub fn from_ziglang(root: &Path, major: u32, freebsd_version: u32, what: &str) -> Result<Self, Error> {
        let base = if root.join("ziglang").is_dir() { root.join("ziglang") } else { root.to_path_buf() };
        let inc = base.join("lib/libc/include");
        let generic = inc.join("generic-freebsd");
        let amd64 = inc.join("x86_64-freebsd-none");
        for dir in [&generic, &amd64] {
            if !dir.join(if dir == &generic { "sys/param.h" } else { "machine/param.h" }).is_file() {
                return Err(err(format!("{}: not a FreeBSD header directory", dir.display())));
            }
        }
        if freebsd_version / 100_000 != major {
            return Err(err(format!("__FreeBSD_version {freebsd_version} is not FreeBSD {major}")));
        }
        Ok(FreeBsdHeaders {
            major,
            freebsd_version,
            tree: HeaderTree::Installed { generic, amd64 },
            provenance: format!("{what}, __FreeBSD_version {freebsd_version} (passed with -D)"),
        })
    }
}

/// A FreeBSD header set shipped inside a PyPI `ziglang` wheel (reference/toolchain.md §7).
#[derive(Clone, Copy, Debug)]
pub struct ZiglangSet {
    pub major: u32,
    /// The wheel's version on PyPI.
    pub wheel: &'static str,
    /// The FreeBSD release the headers belong to.
    pub release: &'static str,
    /// That release's `__FreeBSD_version`; zig strips it from the headers.
    pub freebsd_version: u32,
}

/// The header sets the Linux build uses, one per supported major version.
pub const ZIGLANG_SETS: [ZiglangSet; 2] = [
    ZiglangSet { major: 14, wheel: "0.15.2", release: "14.2-RELEASE", freebsd_version: 1_402_000 },
    ZiglangSet { major: 15, wheel: "0.17.1", release: "15.0-RELEASE", freebsd_version: 1_500_068 },
];

impl ZiglangSet {
    pub fn for_major(major: u32) -> Option<&'static ZiglangSet> {
        ZIGLANG_SETS.iter().find(|s| s.major == major)
    }

    /// Where `linuxaio-bindgen fetch` extracts this set inside a header cache.
    pub fn dir(&self, cache: &Path) -> PathBuf {
        cache.join(format!("ziglang-{}", self.wheel))
    }

    /// The headers, if they have been fetched into `cache`.
    pub fn headers(&self, cache: &Path) -> Result<FreeBsdHeaders, Error> {
        FreeBsdHeaders::from_ziglang(
            &self.dir(cache),
            self.major,
            self.freebsd_version,
            &format!("FreeBSD {} headers from the PyPI ziglang {} wheel", self.release, self.wheel),
        )
    }
}

/// The value of `#define __FreeBSD_version N` in a `sys/param.h`.
pub fn parse_freebsd_version(param_h: &str) -> Option<u32> {
    param_h.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next()? == "#define" && words.next()? == "__FreeBSD_version")
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

/// The kernel items linuxaio uses. Everything they refer to comes along (bindgen's
/// allowlisting is recursive), so `struct thread` brings most of the kernel's types.
const FREEBSD_TYPES: &[&str] = &[
    "thread", "proc", "sysent", "sy_call_t", "sysinit", "sysinit_cfunc_t", "mod_metadata",
    "moduledata", "moduledata_t", "mod_depend", "mod_version", "modeventhand_t",
    "modeventtype", "module_t", "malloc_type", "mtx", "sx", "aiocb", "sigevent", "timespec",
    "sysctl_oid", "sysctl_oid_list", "sysctl_ctx_list", "sysctl_req", "sbintime_t", "mmap_req",
    "lock_object", "eventhandler_tag", "image_params", "aio_read_args", "aio_write_args", "aio_readv_args",
    "aio_writev_args", "aio_fsync_args", "aio_return_args", "aio_error_args", "aio_cancel_args",
    "aio_suspend_args", "iovec", "stat",
];
const FREEBSD_FUNCTIONS: &[&str] = &[
    "malloc", "free", "malloc_init", "malloc_uninit", "module_register_init",
    "module_lookupbyname", "_sx_slock", "_sx_sunlock", "_sx_xlock", "_sx_xunlock", "sx_init_flags",
    "sx_destroy", "_mtx_init", "_mtx_destroy", "__mtx_lock_flags", "__mtx_unlock_flags", "copyin",
    "copyout", "copyinstr", "fueword", "fueword32", "suword", "suword32", "casueword32", "_sleep",
    "wakeup", "wakeup_one", "kern_mmap", "kern_munmap", "eventhandler_register",
    "eventhandler_deregister", "sys_aio_read", "sys_aio_write", "sys_aio_readv", "sys_aio_writev",
    "sys_aio_fsync", "sys_aio_return", "sys_aio_error", "sys_aio_cancel", "sys_aio_suspend",
    "nanouptime", "kern_fcntl", "kern_fstat", "kern_fsync", "kern_sigprocmask", "ast_sched",
    "printf", "panic", "kern_syscall_deregister", "pause_sbt", "sysctl_add_oid",
    "sysctl_ctx_init", "sysctl_ctx_free", "sysctl_handle_int",
];
const FREEBSD_VARS: &[&str] = &["modules_sx", "mp_ncpus"];
/// Constants by prefix (`E` is every errno; `M_` the malloc flags and M_VERSION).
const FREEBSD_CONSTANTS: &[&str] = &[
    "E[A-Z0-9]+", "ERESTART", "EJUSTRETURN", "M_NOWAIT", "M_WAITOK",
    "M_ZERO", "M_VERSION", "MDT_[A-Z_]+", "SI_SUB_[A-Z_0-9]+", "SI_ORDER_[A-Z_]+",
    "SY_THR_[A-Z_]+", "MOD_[A-Z]+", "CTLFLAG_[A-Z_]+", "CTLTYPE_[A-Z_0-9]+", "CTLMASK_[A-Z_]+",
    "OID_AUTO", "SBT_1S", "SBT_1MS", "PRIBIO", "PCATCH", "PDROP", "C_HARDCLOCK", "C_ABSOLUTE", "C_CATCH",
    "LIO_[A-Z_0-9]+", "SIGEV_[A-Z_]+", "MAXCOMLEN", "MAP_[A-Z_0-9]+", "PROT_[A-Z]+",
    "EVENTHANDLER_PRI_[A-Z]+", "MTX_[A-Z]+", "PWAIT", "PSOCK", "PZERO", "PVM", "AIO_[A-Z]+",
    "O_SYNC", "O_DSYNC", "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE", "IOSIZE_MAX", "SSIZE_MAX",
    "O_DIRECT", "O_APPEND", "O_NONBLOCK", "F_GETFL",
    "PAGE_SIZE", "SX_[A-Z]+", "VM_MAXUSER_ADDRESS", "EINPROGRESS", "UIO_MAXIOV",
    "SIG[A-Z]+[0-9]*", "SIG_BLOCK", "SIG_UNBLOCK", "SIG_SETMASK", "_SIG_MAXSIG", "_SIG_WORDS",
    "TDP_OLDMASK", "TDA_[A-Z0-9_]+", "S_IFMT", "S_IFREG",
];

fn freebsd_clang_args(h: &FreeBsdHeaders) -> Result<(Vec<String>, Option<tempdir::TempDir>), Error> {
    let mut args = vec![
        format!("--target=x86_64-unknown-freebsd{}.0", h.major),
        "-nostdinc".into(),
        "-ffreestanding".into(),
        "-D_KERNEL".into(),
        "-DKLD_MODULE".into(),
    ];
    let mut keep = None;
    match &h.tree {
        HeaderTree::Installed { generic, amd64 } => {
            args.push(format!("-D__FreeBSD_version={}", h.freebsd_version));
            args.push(format!("-I{}", amd64.display()));
            args.push(format!("-I{}", generic.display()));
        }
        HeaderTree::SysDir(sys) => {
            // As kmod.mk does: `machine` and `x86` are links made in the build directory.
            let dir = tempdir::TempDir::new("linuxaio-bindgen")?;
            dir.link("machine", &sys.join("amd64/include"))?;
            dir.link("x86", &sys.join("x86/include"))?;
            args.push(format!("-I{}", dir.path().display()));
            args.push(format!("-I{}", sys.display()));
            args.push(format!("-I{}", sys.join("contrib/ck/include").display()));
            keep = Some(dir);
        }
    }
    Ok((args, keep))
}

/// The bindings for one FreeBSD header set, as Rust source text.
pub fn freebsd(h: &FreeBsdHeaders) -> Result<String, Error> {
    let (args, _tmp) = freebsd_clang_args(h)?;
    let mut b = common_builder()
        .header_contents("linuxaio-freebsd.h", include_str!("freebsd.h"))
        .clang_args(args);
    for t in FREEBSD_TYPES {
        b = b.allowlist_type(t);
    }
    for f in FREEBSD_FUNCTIONS {
        b = b.allowlist_function(f);
    }
    for v in FREEBSD_VARS {
        b = b.allowlist_var(v);
    }
    for c in FREEBSD_CONSTANTS {
        b = b.allowlist_var(c);
    }
    let body = b
        .generate()
        .map_err(|e| err(format!("bindgen on the FreeBSD {} headers: {e}", h.major)))?
        .to_string();
    Ok(format!(
        "// Generated by linuxaio-bindgen from FreeBSD {} kernel headers: {}.\n\
         // Do not edit: `make bindings` regenerates it and `make test` checks it.\n\n\
         /// `__FreeBSD_version` of the headers these bindings were generated from.\n\
         pub const FREEBSD_VERSION: u32 = {};\n\n{}",
        h.major, h.provenance, h.freebsd_version, body
    ))
}

/// The bindings for `linux/aio_abi.h`, found under `include` (normally `/usr/include`).
pub fn linux_aio_abi(include: &Path, provenance: &str) -> Result<String, Error> {
    if !include.join("linux/aio_abi.h").is_file() {
        return Err(err(format!("{}: no linux/aio_abi.h", include.display())));
    }
    let multiarch = include.join("x86_64-linux-gnu");
    let body = common_builder()
        .header_contents("linuxaio-linux.h", include_str!("linux.h"))
        .clang_arg("--target=x86_64-unknown-linux-gnu")
        .clang_arg(format!("-I{}", include.display()))
        .clang_arg(format!("-I{}", multiarch.display()))
        .allowlist_type("iocb|io_event|aio_context_t|__kernel_rwf_t")
        .allowlist_var("IOCB_CMD_[A-Z]+|IOCB_FLAG_[A-Z]+|RWF_[A-Z]+")
        .generate()
        .map_err(|e| err(format!("bindgen on linux/aio_abi.h: {e}")))?
        .to_string();
    Ok(format!(
        "// Generated by linuxaio-bindgen from linux/aio_abi.h ({provenance}).\n\
         // Do not edit: `make bindings` regenerates it and `make test` checks it.\n\n{body}"
    ))
}

fn common_builder() -> bindgen::Builder {
    bindgen::Builder::default()
        .use_core()
        .ctypes_prefix("core::ffi")
        .rust_target(bindgen::RustTarget::stable(85, 0).unwrap_or_default())
        .rust_edition(bindgen::RustEdition::Edition2024)
        .formatter(bindgen::Formatter::Prettyplease)
        .generate_comments(false)
        .layout_tests(true)
        .derive_default(true)
        .derive_debug(false)
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .merge_extern_blocks(true)
        .wrap_unsafe_ops(true)
        .sort_semantically(true)
}

/// A temporary directory removed on drop, for the `machine` and `x86` links of a
/// kernel source tree (std has no such type and this is all it needs).
mod tempdir {
    use super::{Error, err};
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(prefix: &str) -> Result<Self, Error> {
            let path = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
            Ok(TempDir(path))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }

        pub fn link(&self, name: &str, target: &Path) -> Result<(), Error> {
            #[cfg(unix)]
            return std::os::unix::fs::symlink(target, self.0.join(name))
                .map_err(|e| err(format!("{}: {e}", target.display())));
            #[cfg(not(unix))]
            return Err(err(format!("cannot link {name} to {} here", target.display())));
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_freebsd_version_from_param_h() {
        let text = "#undef __FreeBSD_version\n#define __FreeBSD_version 1500068\t/* Master, propagated to newvers */\n";
        assert_eq!(parse_freebsd_version(text), Some(1500068));
        assert_eq!(parse_freebsd_version("#define __FreeBSD_kernel__\n"), None);
        assert_eq!(parse_freebsd_version("#define __FreeBSD_version\n"), None);
    }
}
