//! The allowlist of undefined symbols: for each symbol a module may leave for the
//! kernel linker to resolve, who provides it and which FreeBSD source file defines it
//! in each supported major version.
//!
//! Format: one symbol a line, `#` starts a comment, whitespace-separated columns:
//!
//! ```text
//! symbol  provider  freebsd14-source  freebsd15-source
//! ```
//!
//! `provider` is `kernel` or the module that defines it (`linux64`, `linux_common`); a
//! source of `-` means the symbol does not exist in that major.

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub provider: String,
    /// Source file by major version; `None` where the symbol does not exist.
    pub sources: BTreeMap<u32, Option<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct Allowlist {
    pub entries: BTreeMap<String, Entry>,
}

/// The majors the columns stand for, in order.
pub const MAJORS: [u32; 2] = [14, 15];

impl Allowlist {
    pub fn parse(text: &str) -> Result<Allowlist, String> {
        let mut entries = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() != 2 + MAJORS.len() {
                return Err(format!(
                    "line {}: expected `symbol provider {}`, found {} columns",
                    n + 1,
                    MAJORS.map(|m| format!("freebsd{m}-source")).join(" "),
                    cols.len()
                ));
            }
            let sources = MAJORS
                .iter()
                .zip(&cols[2..])
                .map(|(&m, &src)| (m, (src != "-").then(|| src.to_string())))
                .collect();
            let entry = Entry { provider: cols[1].to_string(), sources };
            if entries.insert(cols[0].to_string(), entry).is_some() {
                return Err(format!("line {}: {} is listed twice", n + 1, cols[0]));
            }
        }
        Ok(Allowlist { entries })
    }

    pub fn get(&self, symbol: &str) -> Option<&Entry> {
        self.entries.get(symbol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_columns_and_absent_sources() {
        let a = Allowlist::parse("# c\nprintf kernel sys/kern/subr_prf.c sys/kern/subr_prf.c\nnew15 kernel - sys/kern/x.c # only 15\n").unwrap();
        assert_eq!(a.get("printf").unwrap().sources[&14].as_deref(), Some("sys/kern/subr_prf.c"));
        assert_eq!(a.get("new15").unwrap().sources[&14], None);
        assert!(a.get("malloc").is_none());
    }

    #[test]
    fn rejects_missing_columns_and_duplicates() {
        assert!(Allowlist::parse("printf kernel sys/kern/subr_prf.c\n").is_err());
        assert!(Allowlist::parse("a k x y\na k x y\n").is_err());
    }
}
