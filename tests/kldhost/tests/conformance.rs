//! The conformance programs (tests/conformance/*.c): each prints one `rule=result`
//! line per rule. They run natively on Linux (the oracle) and under the test bed with
//! linuxaio.ko for each FreeBSD major; the outputs must be identical, but for the rules
//! listed in tests/conformance/differences.txt.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn build(name: &str) -> PathBuf {
    let src = root().join(format!("tests/conformance/{name}.c"));
    let out = std::env::temp_dir().join(format!("linuxaio-conformance-{name}-{}", std::process::id()));
    let st = Command::new("cc").args(["-O2", "-Wall", "-pthread", "-o"]).arg(&out).arg(&src).status().expect("cc");
    assert!(st.success(), "cc {}", src.display());
    out
}

fn rules(stdout: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

fn allowed() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("tests/conformance/differences.txt")).unwrap();
    text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect()
}

/// Linux's aio-nr is system-wide: the programs run one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn conform(name: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let exe = build(name);
    let native = Command::new(&exe).output().unwrap();
    assert!(native.status.success(), "natively: {}", String::from_utf8_lossy(&native.stderr));
    let native = rules(&native.stdout);
    assert!(!native.is_empty());
    let allowed = allowed();
    for major in [14, 15] {
        // timeout(1): a program that hangs under the test bed fails the test (124).
        let out = Command::new("timeout")
            .arg("120")
            .arg(env!("CARGO_BIN_EXE_kldhost"))
            .args(["--freebsd", &major.to_string(), "--module"])
            .arg(root().join(format!("build/freebsd{major}/linuxaio.ko")))
            .arg("--")
            .arg(&exe)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "FreeBSD {major}: {stderr}");
        let bed = rules(&out.stdout);
        let keys: BTreeSet<&String> = native.keys().chain(bed.keys()).collect();
        let mut differ = vec![];
        for k in keys {
            if native.get(k) != bed.get(k) && !allowed.contains(k) {
                differ.push(format!("{k}: Linux {:?}, FreeBSD {major} test bed {:?}", native.get(k), bed.get(k)));
            }
        }
        assert!(differ.is_empty(), "{name} differs from Linux outside differences.txt:\n{}", differ.join("\n"));
        println!("{name}: FreeBSD {major} test bed matches Linux on {} rules ({} allowed differences)", native.len(), allowed.len());
    }
}

#[test]
fn io_setup_and_io_destroy() {
    conform("setup_destroy");
}

#[test]
fn io_submit_io_getevents_io_cancel() {
    conform("submit_events");
}

#[test]
fn io_pgetevents_signal_mask() {
    conform("pgetevents_mask");
}

#[test]
fn a_signal_ends_io_submits_wait_on_a_socket() {
    conform("socket_wait");
}
