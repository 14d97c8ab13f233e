//! The `kldhost` command with an unmodified, dynamically linked Linux program
//! (tests/programs/aio_raw.c, built here with the system's C compiler): the preload
//! library loads linuxaio.ko into the model and the program's io_* system calls reach
//! the module's entries; the load outcome and the leak report come out on stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn program() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let out = std::env::temp_dir().join(format!("kldhost-aio_raw-{}", std::process::id()));
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/aio_raw.c");
            let st = Command::new("cc").arg("-O2").arg("-o").arg(&out).arg(&src).status().expect("a C compiler (cc)");
            assert!(st.success(), "cc {}", src.display());
            out
        })
        .clone()
}

fn kldhost(major: u32, flags: &[&str]) -> Output {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_kldhost"));
    assert!(exe.with_file_name("libkldhost_preload.so").is_file(), "build the preload library first: cargo build -p kldhost-preload");
    let module = root().join(format!("build/freebsd{major}/linuxaio.ko"));
    assert!(module.is_file(), "{} missing: run `make` first", module.display());
    Command::new(exe)
        .args(["--freebsd", &major.to_string(), "--module"])
        .arg(&module)
        .args(flags)
        .arg("--")
        .arg(program())
        .output()
        .expect("kldhost runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const CALLS: [&str; 6] = ["io_setup", "io_submit", "io_getevents", "io_cancel", "io_pgetevents", "io_destroy"];

#[test]
fn the_programs_calls_reach_the_loaded_module() {
    for major in [14, 15] {
        let out = kldhost(major, &[]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
        assert!(stderr.contains(&format!("kldload linuxaio.ko: loaded into a FreeBSD {major} model")), "{stderr}");
        assert!(stderr.contains("io_* calls: 6 served by the module, 0 by stock stubs, 0 by nosys"), "{stderr}");
        assert!(stderr.contains("kldunload linuxaio.ko: ok"), "{stderr}");
        assert!(stderr.contains("malloc type linuxaio: 0 bytes in 0 allocations still allocated"), "{stderr}");
        assert!(stderr.contains("INVARIANTS/WITNESS: no findings"), "{stderr}");
        // The same answers as Linux gives the same program.
        let native = text(&Command::new(program()).output().unwrap().stdout);
        assert_eq!(stdout, native);
        for call in CALLS {
            assert!(stdout.contains(&format!("{call}=")), "{call}: {stdout}");
        }
    }
}

#[test]
fn without_linux64_the_load_is_refused_and_nosys_answers() {
    let out = kldhost(15, &["--no-linux64"]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("refused: KLD linuxaio.ko: depends on linux64 - not available or version mismatch"), "{stderr}");
    assert!(stderr.contains("io_* calls: 0 served by the module, 0 by stock stubs, 6 by nosys"), "{stderr}");
}

#[test]
fn without_native_aio_the_module_answers_enosys_where_it_otherwise_answers() {
    let with = text(&kldhost(15, &[]).stdout);
    let out = kldhost(15, &["--no-aio"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("linuxaio: this kernel has no native AIO"), "{stderr}");
    assert!(stderr.contains("6 served by the module"), "{stderr}");
    // The same program, the same module: the gate makes the difference.
    assert!(with.contains("io_setup=0 errno=0"), "{with}");
    assert!(stdout.contains("io_setup=-1 errno=38"), "{stdout}");
}

#[test]
fn natively_linux_answers_the_same_program_itself() {
    // The oracle side: the same binary without the test bed gets Linux's own AIO.
    let out = Command::new(program()).output().unwrap();
    let stdout = text(&out.stdout);
    assert!(stdout.contains("io_setup=0 errno=0"), "{stdout}");
    assert!(stdout.contains("io_destroy=0 errno=0"), "{stdout}");
}

#[test]
fn a_crash_of_the_program_is_its_own_result_and_says_where_it_was() {
    let src = std::env::temp_dir().join(format!("kldhost-segv-{}.c", std::process::id()));
    let exe = src.with_extension("");
    std::fs::write(&src, "int main(void) { volatile int *p = 0; return *p; }\n").unwrap();
    assert!(Command::new("cc").arg("-o").arg(&exe).arg(&src).status().unwrap().success());
    let out = Command::new(env!("CARGO_BIN_EXE_kldhost"))
        .arg("--module")
        .arg(root().join("build/freebsd15/linuxaio.ko"))
        .arg("--")
        .arg(&exe)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(stderr.contains("killed by signal 11 at") && stderr.contains("in the program"), "{stderr}");
    assert_eq!(out.status.code(), Some(128 + 11));
}

#[test]
fn exec_and_underscore_exit_still_reach_the_report() {
    // sh execs the program: the module's process_exec handlers run, the new image loads
    // the module again and reports.
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_kldhost"));
    let module = root().join("build/freebsd15/linuxaio.ko");
    let out = Command::new(&exe)
        .arg("--module")
        .arg(&module)
        .args(["--", "/bin/sh", "-c"])
        .arg(format!("exec {}", program().display()))
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("6 served by the module"), "{stderr}");

    // A program that leaves with _exit(2) runs no exit hooks; its report comes anyway.
    let src = std::env::temp_dir().join(format!("kldhost-uexit-{}.c", std::process::id()));
    let bin = src.with_extension("");
    std::fs::write(&src, "#include <unistd.h>\nint main(void) { _exit(7); }\n").unwrap();
    assert!(Command::new("cc").arg("-o").arg(&bin).arg(&src).status().unwrap().success());
    let out = Command::new(&exe).arg("--module").arg(&module).arg("--").arg(&bin).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("kldunload linuxaio.ko: ok"), "{stderr}");
}

#[test]
fn a_libaio_program_gets_its_answers_from_the_module() {
    // Debian's libaio, as applications use it (libaio-dev is installed by `make setup`).
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/aio_libaio.c");
    let exe = std::env::temp_dir().join(format!("kldhost-libaio-{}", std::process::id()));
    let built = Command::new("cc").arg("-o").arg(&exe).arg(&src).arg("-laio").status().expect("cc");
    assert!(built.success(), "cc {} -laio (is libaio-dev installed?)", src.display());
    let native = text(&Command::new(&exe).output().unwrap().stdout);
    assert!(native.contains("io_queue_init=0") && native.contains("res=512"), "natively: {native}");
    let run = |flags: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_kldhost"))
            .arg("--module")
            .arg(root().join("build/freebsd15/linuxaio.ko"))
            .args(flags)
            .arg("--")
            .arg(&exe)
            .output()
            .unwrap();
        (text(&out.stdout), text(&out.stderr))
    };
    let (with, stderr) = run(&[]);
    assert_eq!(with, native, "{stderr}");
    assert!(stderr.contains("served by the module, 0 by stock stubs"), "{stderr}");
    // The same program with the gate closed: ENOSYS, as stock FreeBSD.
    let (without, _) = run(&["--no-aio"]);
    assert_eq!(without.trim(), "io_queue_init=-38");
}

#[test]
fn a_write_with_rwf_dsync_or_rwf_sync_is_synced_before_its_event() {
    // The model's kern_fsync reports the error KLDHOST_FSYNC_ERROR names after it has
    // synced: the event of a write that asked for durability carries it (the module
    // synced, and before the event), a plain write's does not, nor does a read's.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/aio_rwf_sync.c");
    let exe = std::env::temp_dir().join(format!("kldhost-rwf-sync-{}", std::process::id()));
    assert!(Command::new("cc").arg("-o").arg(&exe).arg(&src).arg("-lpthread").status().expect("cc").success());
    let native = text(&Command::new(&exe).output().unwrap().stdout);
    assert_eq!(native, "plain=16\ndsync=16\nsync=16\nread=48\nreaper=20/0\n", "natively");
    for major in [14, 15] {
        let run = |fsync_error: Option<&str>| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_kldhost"));
            c.args(["--freebsd", &major.to_string(), "--module"]).arg(root().join(format!("build/freebsd{major}/linuxaio.ko"))).arg("--").arg(&exe);
            if let Some(e) = fsync_error {
                c.env("KLDHOST_FSYNC_ERROR", e);
            }
            let out = c.output().unwrap();
            (text(&out.stdout), text(&out.stderr))
        };
        let (ok, stderr) = run(None);
        assert_eq!(ok, native, "FreeBSD {major}: {stderr}");
        let (failing, stderr) = run(Some("5"));
        // Also when another thread already waits for the event (it must not reap the
        // write before io_submit has synced).
        assert_eq!(failing, "plain=16\ndsync=-5\nsync=-5\nread=48\nreaper=0/20\n", "FreeBSD {major}: {stderr}");
    }
}

#[test]
fn a_process_whose_first_trapped_call_is_a_posix_spawn_childs_is_still_itself() {
    // system(3) makes a child with clone(CLONE_VM|CLONE_VFORK), which execs /bin/sh
    // before the program makes any AIO call: that exec must not make the child the
    // model's process, nor the parent a child of its own child.
    let src = std::env::temp_dir().join(format!("kldhost-spawn-{}.c", std::process::id()));
    let exe = src.with_extension("");
    std::fs::write(
        &src,
        "#include <linux/aio_abi.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <sys/syscall.h>\n#include <unistd.h>\n\
         int main(void) { aio_context_t c = 0; int s = system(\"true\");\n\
         long a = syscall(SYS_io_setup, 1, &c); long b = syscall(SYS_io_destroy, c);\n\
         printf(\"%d %ld %ld\\n\", s, a, b); fflush(stdout); _exit(0); }\n",
    )
    .unwrap();
    assert!(Command::new("cc").arg("-o").arg(&exe).arg(&src).status().unwrap().success());
    let out = kldhost_run(15, &exe);
    let stderr = text(&out.stderr);
    assert_eq!(text(&out.stdout), "0 0 0\n", "{stderr}");
    assert!(stderr.contains("kldunload linuxaio.ko: ok") && stderr.contains("2 served by the module"), "{stderr}");
}

fn kldhost_run(major: u32, exe: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kldhost"))
        .args(["--freebsd", &major.to_string(), "--module"])
        .arg(root().join(format!("build/freebsd{major}/linuxaio.ko")))
        .arg("--")
        .arg(exe)
        .output()
        .unwrap()
}
