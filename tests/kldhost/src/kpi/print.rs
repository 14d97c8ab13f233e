//! printf(9) and panic(9). The format is interpreted as the kernel's kvprintf does for
//! the conversions modules use: %d %i %u %x %X %o %c %s %p %%, the `l`, `ll`, `j`,
//! `z`, `h` length modifiers, width, `-` and `0` flags, and `.N` / `.*` precision.

use crate::kernel::console_print;
use std::ffi::{CStr, VaList, c_char, c_int};
use std::sync::Mutex;

/// Text printed without a newline yet: the console shows whole lines.
static PARTIAL: Mutex<String> = Mutex::new(String::new());

fn emit(text: &str) {
    let mut partial = PARTIAL.lock().unwrap_or_else(|e| e.into_inner());
    partial.push_str(text);
    while let Some(nl) = partial.find('\n') {
        let line: String = partial.drain(..=nl).collect();
        console_print(line.trim_end_matches('\n'));
    }
}

/// Formats `fmt` with `args` as kvprintf would.
///
/// # Safety
/// `fmt` is NUL-terminated and `args` holds what its conversions name.
pub unsafe fn format(fmt: *const c_char, args: &mut VaList<'_>) -> String {
    // SAFETY: by the contract.
    let fmt = unsafe { CStr::from_ptr(fmt) }.to_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        if c != b'%' {
            out.push(c as char);
            continue;
        }
        let (mut left, mut zero) = (false, false);
        while i < fmt.len() && (fmt[i] == b'-' || fmt[i] == b'0') {
            if fmt[i] == b'-' {
                left = true;
            } else {
                zero = true;
            }
            i += 1;
        }
        let mut width = 0usize;
        while i < fmt.len() && fmt[i].is_ascii_digit() {
            width = width * 10 + usize::from(fmt[i] - b'0');
            i += 1;
        }
        let mut precision: Option<usize> = None;
        if i < fmt.len() && fmt[i] == b'.' {
            i += 1;
            if i < fmt.len() && fmt[i] == b'*' {
                // SAFETY: `.*` takes an int from the arguments.
                precision = Some(unsafe { args.arg::<c_int>() }.max(0) as usize);
                i += 1;
            } else {
                let mut p = 0;
                while i < fmt.len() && fmt[i].is_ascii_digit() {
                    p = p * 10 + usize::from(fmt[i] - b'0');
                    i += 1;
                }
                precision = Some(p);
            }
        }
        let mut long = 0;
        while i < fmt.len() && matches!(fmt[i], b'l' | b'j' | b'z' | b'h' | b'q') {
            if fmt[i] != b'h' {
                long += 1;
            }
            i += 1;
        }
        let Some(&conv) = fmt.get(i) else { break };
        i += 1;
        // SAFETY (each arg): the caller's format names the argument types.
        let text = match conv {
            b'%' => "%".to_string(),
            b'd' | b'i' => {
                if long > 0 {
                    unsafe { args.arg::<i64>() }.to_string()
                } else {
                    unsafe { args.arg::<c_int>() }.to_string()
                }
            }
            b'u' | b'x' | b'X' | b'o' => {
                let v: u64 = if long > 0 { unsafe { args.arg::<u64>() } } else { u64::from(unsafe { args.arg::<u32>() }) };
                match conv {
                    b'u' => v.to_string(),
                    b'x' => format!("{v:x}"),
                    b'X' => format!("{v:X}"),
                    _ => format!("{v:o}"),
                }
            }
            b'c' => char::from(unsafe { args.arg::<c_int>() } as u8).to_string(),
            b'p' => format!("{:#x}", unsafe { args.arg::<usize>() }),
            b's' => {
                let p = unsafe { args.arg::<*const c_char>() };
                if p.is_null() {
                    "(null)".to_string()
                } else if let Some(n) = precision {
                    let bytes: Vec<u8> = (0..n)
                        .map(|k| unsafe { *p.cast::<u8>().add(k) })
                        .take_while(|&b| b != 0)
                        .collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                } else {
                    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
                }
            }
            other => format!("%{}", other as char),
        };
        let pad = width.saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.extend(std::iter::repeat_n(' ', pad));
        } else {
            out.extend(std::iter::repeat_n(if zero { '0' } else { ' ' }, pad));
            out.push_str(&text);
        }
    }
    out
}

pub unsafe extern "C" fn printf(fmt: *const c_char, mut args: ...) -> c_int {
    // SAFETY: printf's contract is format()'s.
    let text = unsafe { format(fmt, &mut args) };
    emit(&text);
    text.len() as c_int
}

/// panic(9): the kernel stops. So does the test bed's process, after saying why.
pub unsafe extern "C" fn panic(fmt: *const c_char, mut args: ...) -> ! {
    // SAFETY: panic's contract is format()'s.
    let text = unsafe { format(fmt, &mut args) };
    console_print(&format!("panic: {text}"));
    eprintln!("kldhost: kernel panic: {text}");
    std::process::abort()
}
