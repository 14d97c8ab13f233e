//! `kldhost`: run a Linux program with a FreeBSD module loaded into the test bed.
//!
//!     kldhost [--freebsd 14|15] [--no-aio] [--no-linux64] [--tunable NAME=VALUE]...
//!             [--module PATH] -- PROGRAM [ARGS...]
//!
//! The program runs with the preload library (built next to this command) that loads
//! the module (default: build/freebsd<major>/linuxaio.ko under the current directory)
//! and routes its Linux AIO system calls to it. The module's load and unload outcome,
//! who served the calls, and the leak and INVARIANTS/WITNESS report go to stderr.
//! The exit status is the program's (128 + N when signal N killed it), or 70 when the
//! report has findings (memory of a module's type left allocated, an INVARIANTS/WITNESS
//! finding, a refused load or unload, a crash in the module or in the test bed).

use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn usage(msg: &str) -> ExitCode {
    eprintln!("kldhost: {msg}");
    eprintln!("usage: kldhost [--freebsd 14|15] [--no-aio] [--no-linux64] [--tunable NAME=VALUE]... [--module PATH] -- PROGRAM [ARGS...]");
    ExitCode::from(64)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut major, mut no_aio, mut no_linux64, mut module, mut tunables) = ("15".to_string(), false, false, None, vec![]);
    let mut i = 0;
    while i < args.len() && args[i] != "--" {
        match args[i].as_str() {
            "--freebsd" => {
                i += 1;
                major = args.get(i).cloned().unwrap_or_default();
            }
            "--no-aio" => no_aio = true,
            "--no-linux64" => no_linux64 = true,
            "--module" => {
                i += 1;
                module = args.get(i).cloned();
            }
            "--tunable" => {
                i += 1;
                tunables.push(args.get(i).cloned().unwrap_or_default());
            }
            other => return usage(&format!("unknown option {other}")),
        }
        i += 1;
    }
    let Some(program) = args.get(i + 1) else { return usage("no program given") };
    if major != "14" && major != "15" {
        return usage("--freebsd takes 14 or 15");
    }
    let module = module.unwrap_or_else(|| format!("build/freebsd{major}/linuxaio.ko"));
    let Ok(exe) = std::env::current_exe() else { return usage("cannot find my own path") };
    let preload = exe.with_file_name("libkldhost_preload.so");
    if !preload.is_file() {
        return usage(&format!("{} is missing (cargo build -p kldhost-preload)", preload.display()));
    }
    // One report per process of the run, named by pid.
    let report = std::env::temp_dir().join(format!("kldhost-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&report);
    if let Err(e) = std::fs::create_dir_all(&report) {
        return usage(&format!("{}: {e}", report.display()));
    }
    let module_path = std::fs::canonicalize(&module).unwrap_or_else(|_| PathBuf::from(&module));
    let mut cmd = Command::new(program);
    cmd.args(&args[i + 2..])
        .env("LD_PRELOAD", &preload)
        .env("KLDHOST_MODULE", &module_path)
        .env("KLDHOST_FREEBSD", &major)
        .env("KLDHOST_REPORT", &report)
        .env("KLDHOST_TUNABLES", tunables.join(","));
    if no_aio {
        cmd.env("KLDHOST_NO_AIO", "1");
    }
    if no_linux64 {
        cmd.env("KLDHOST_NO_LINUX64", "1");
    }
    // If kldhost itself is killed (a timeout), the program goes too.
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl in the forked child before exec; async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return usage(&format!("{program}: {e}")),
    };
    let pid = child.id();
    let status = match child.wait() {
        Ok(s) => s,
        Err(e) => return usage(&format!("{program}: {e}")),
    };
    let mine = std::fs::read_to_string(report.join(pid.to_string())).unwrap_or_default();
    let others: String = std::fs::read_dir(&report)
        .map(|d| d.filter_map(|e| e.ok()).filter(|e| e.file_name() != *pid.to_string()).filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect())
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&report);
    if mine.is_empty() {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            // Killed by a signal nothing can catch (or not handled): its result.
            eprintln!("kldhost: the program was killed by signal {sig} before it could report");
            return ExitCode::from(128u8.saturating_add(sig as u8));
        }
        eprintln!("kldhost: the program ended without a report (it did not load the preload library?)");
        return ExitCode::from(70);
    }
    // A crash or a finding in another process of the run (an exec'd image, a child of a
    // shell) counts too; the program's own crash is its result.
    let foreign = others.lines().any(|l| l.starts_with("killed by signal") && !l.ends_with("in the program"));
    let text = format!("{mine}{}", if foreign { "killed by signal in another process of the run, in the module or the test bed\n" } else { "" })
        + &others.lines().filter(|l| !l.starts_with("killed by signal")).map(|l| format!("{l}\n")).collect::<String>();
    if let Some(l) = text.lines().find(|l| l.starts_with("killed by signal")) {
        // The program's own crash is its result; one in the module or the test bed is a finding.
        if !l.ends_with("in the program") {
            return ExitCode::from(70);
        }
        use std::os::unix::process::ExitStatusExt;
        return ExitCode::from(128u8.saturating_add(status.signal().unwrap_or(0) as u8));
    }
    let findings = text.lines().any(|l| {
        (l.starts_with("malloc type") && !l.contains(": 0 bytes")) || (l.starts_with("INVARIANTS/WITNESS") && !l.ends_with("no findings")) || l.contains("refused")
    });
    if findings {
        return ExitCode::from(70);
    }
    match status.code() {
        Some(c) => ExitCode::from(c as u8),
        None => ExitCode::from(70),
    }
}
