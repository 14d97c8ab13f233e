//! `linuxaio-bindgen`: fetch the FreeBSD header sets, write the committed bindings,
//! or check that the committed bindings are what the headers give.
//!
//!     linuxaio-bindgen fetch CACHE           download the ziglang wheels (pip), extract the FreeBSD headers
//!     linuxaio-bindgen write CACHE BINDINGS  regenerate BINDINGS/{freebsd14,freebsd15,linux_aio_abi}.rs
//!     linuxaio-bindgen check CACHE BINDINGS  exit 1 if regenerating would change a file,
//!                                            77 if the headers are not there (nothing checked)

use linuxaio_bindgen::{ZIGLANG_SETS, freebsd, linux_aio_abi};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// automake's "skipped" status: the check could not run.
const SKIPPED: u8 = 77;
const LINUX_INCLUDE: &str = "/usr/include";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["fetch", cache] => fetch(Path::new(cache)),
        ["write", cache, out] => generate_all(Path::new(cache)).and_then(|files| write(&files, Path::new(out))),
        ["check", cache, out] => return check(Path::new(cache), Path::new(out)),
        _ => Err("usage: linuxaio-bindgen fetch CACHE | write CACHE BINDINGS | check CACHE BINDINGS".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("linuxaio-bindgen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// (file name, contents) of every committed bindings file.
fn generate_all(cache: &Path) -> Result<Vec<(String, String)>, String> {
    let mut files = Vec::new();
    for set in &ZIGLANG_SETS {
        let headers = set.headers(cache).map_err(|e| e.to_string())?;
        files.push((format!("freebsd{}.rs", set.major), freebsd(&headers).map_err(|e| e.to_string())?));
    }
    let linux = linux_aio_abi(Path::new(LINUX_INCLUDE), &linux_headers_provenance()).map_err(|e| e.to_string())?;
    files.push(("linux_aio_abi.rs".into(), linux));
    Ok(files)
}

/// The Debian package and version that installed linux/aio_abi.h, if dpkg knows.
fn linux_headers_provenance() -> String {
    let out = Command::new("dpkg-query").args(["-W", "-f", "${Package} ${Version}", "linux-libc-dev"]).output();
    match out {
        Ok(o) if o.status.success() && !o.stdout.is_empty() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => "installed Linux UAPI headers".into(),
    }
}

fn write(files: &[(String, String)], out: &Path) -> Result<(), String> {
    for (name, text) in files {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn check(cache: &Path, out: &Path) -> ExitCode {
    let missing: Vec<PathBuf> = ZIGLANG_SETS.iter().map(|s| s.dir(cache)).filter(|d| !d.is_dir()).collect();
    if !missing.is_empty() || !Path::new(LINUX_INCLUDE).join("linux/aio_abi.h").is_file() {
        println!(
            "bindings check SKIPPED: no headers to regenerate from (missing: {}{}); run `make headers`",
            missing.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
            if Path::new(LINUX_INCLUDE).join("linux/aio_abi.h").is_file() { "" } else { " /usr/include/linux/aio_abi.h" },
        );
        return ExitCode::from(SKIPPED);
    }
    let files = match generate_all(cache) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("linuxaio-bindgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stale = 0;
    for (name, text) in &files {
        let path = out.join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == *text {
            println!("bindings check: {} matches its headers", path.display());
        } else {
            stale += 1;
            let line = committed.lines().zip(text.lines()).position(|(a, b)| a != b).map_or(
                format!("lengths differ ({} vs {} lines)", committed.lines().count(), text.lines().count()),
                |n| format!("first difference at line {}", n + 1),
            );
            println!("bindings check FAILED: {} is not what its headers give ({line}); run `make bindings`", path.display());
        }
    }
    if stale == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Download each wheel with pip and extract only the FreeBSD amd64 headers from it.
fn fetch(cache: &Path) -> Result<(), String> {
    std::fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    for set in &ZIGLANG_SETS {
        let dir = set.dir(cache);
        if dir.join("ziglang/lib/libc/include/generic-freebsd/sys/param.h").is_file() {
            println!("headers for FreeBSD {} already in {}", set.release, dir.display());
            continue;
        }
        let wheels = cache.join("wheels");
        let spec = format!("ziglang=={}", set.wheel);
        println!("fetching FreeBSD {} headers: pip download {spec}", set.release);
        run(Command::new("python3").args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"])
            .args(["--platform", "manylinux2010_x86_64", "--dest"]).arg(&wheels).arg(&spec))?;
        let wheel = std::fs::read_dir(&wheels)
            .map_err(|e| format!("{}: {e}", wheels.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("ziglang-{}-", set.wheel))))
            .ok_or_else(|| format!("pip left no ziglang {} wheel in {}", set.wheel, wheels.display()))?;
        // A wheel is a zip file; Python's zipfile extracts just the two FreeBSD trees.
        const EXTRACT: &str = "import sys, zipfile\n\
            z = zipfile.ZipFile(sys.argv[1])\n\
            keep = ('ziglang/lib/libc/include/generic-freebsd/', 'ziglang/lib/libc/include/x86_64-freebsd-none/')\n\
            z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith(keep)])\n";
        let partial = cache.join(format!(".partial-{}", set.wheel));
        let _ = std::fs::remove_dir_all(&partial);
        run(Command::new("python3").args(["-c", EXTRACT]).arg(&wheel).arg(&partial))?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&partial, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let _ = std::fs::remove_file(&wheel);
        println!("headers for FreeBSD {} in {}", set.release, dir.display());
    }
    Ok(())
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("{cmd:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{cmd:?} failed: {status}")) }
}
