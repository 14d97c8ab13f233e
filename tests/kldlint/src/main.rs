//! `kldlint`: check FreeBSD amd64 kernel modules. See the library for the rules.
//!
//!     kldlint --symbols ALLOWLIST --major 14|15 --module NAME --version N
//!             [--depend NAME:MIN:PREF:MAX]... [--export SYMBOL]... FILE.ko...
//!
//! Exit status: 0 when every file passes every rule, 1 when a rule fails, 2 on a usage
//! or input error.

use kldlint::allowlist::Allowlist;
use kldlint::{Depend, Expectations, lint};
use std::process::ExitCode;

fn usage(msg: &str) -> ExitCode {
    eprintln!("kldlint: {msg}");
    eprintln!(
        "usage: kldlint --symbols ALLOWLIST --major 14|15 --module NAME --version N [--depend NAME:MIN:PREF:MAX]... [--export SYMBOL]... FILE.ko..."
    );
    ExitCode::from(2)
}

fn parse_depend(s: &str) -> Option<Depend> {
    let parts: Vec<&str> = s.split(':').collect();
    let [name, min, pref, max] = parts[..] else { return None };
    Some(Depend { name: name.into(), min: min.parse().ok()?, preferred: pref.parse().ok()?, max: max.parse().ok()? })
}

fn main() -> ExitCode {
    let mut expect = Expectations::default();
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or_else(|| format!("{arg} needs {what}"));
        let result: Result<(), String> = match arg.as_str() {
            "--symbols" => value("a file").and_then(|path| {
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                expect.allowlist = Allowlist::parse(&text).map_err(|e| format!("{path}: {e}"))?;
                Ok(())
            }),
            "--major" => value("14 or 15").and_then(|v| v.parse().map(|m| expect.major = m).map_err(|e| format!("--major: {e}"))),
            "--module" => value("a name").map(|v| expect.module = v),
            "--version" => value("a number").and_then(|v| v.parse().map(|n| expect.version = n).map_err(|e| format!("--version: {e}"))),
            "--depend" => value("NAME:MIN:PREF:MAX")
                .and_then(|v| parse_depend(&v).map(|d| expect.depends.push(d)).ok_or(format!("--depend {v}: expected NAME:MIN:PREF:MAX"))),
            "--export" => value("a symbol").map(|v| expect.exports.push(v)),
            _ if arg.starts_with("--") => Err(format!("unknown option {arg}")),
            _ => {
                files.push(arg.clone());
                Ok(())
            }
        };
        if let Err(e) = result {
            return usage(&e);
        }
    }
    if files.is_empty() || expect.module.is_empty() || expect.major == 0 {
        return usage("give --major, --module and at least one file");
    }
    let mut failed = false;
    for file in &files {
        let data = match std::fs::read(file) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("kldlint: {file}: {e}");
                return ExitCode::from(2);
            }
        };
        let findings = lint(&data, &expect);
        for f in &findings {
            println!("kldlint: {file}: {f}");
        }
        if findings.is_empty() {
            println!("kldlint: {file}: passes all 7 rules (FreeBSD {})", expect.major);
        } else {
            failed = true;
            println!("kldlint: {file}: {} problems", findings.len());
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
