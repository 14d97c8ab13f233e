//! Console messages: printf(9), and the module's panic path.

/// Prints to the console with the kernel's printf(9). The format is a string literal
/// (a NUL is appended); each argument must be the C type its conversion expects
/// (`%d`: `c_int`, `%s`: a `*const c_char` to a NUL-terminated string, `%u`: `c_uint`).
///
/// Messages start with "linuxaio: " by convention, as other modules' do with their name.
#[macro_export]
macro_rules! kprintf {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[allow(unused_unsafe)]
        // SAFETY: the format is a NUL-terminated literal; the caller passes arguments
        // of the C types its conversions name (this macro's contract), and printf(9)
        // reads nothing else.
        unsafe {
            $crate::bindings::freebsd::printf(
                concat!($fmt, "\0").as_ptr().cast::<core::ffi::c_char>() $(, $arg)*
            )
        };
    }};
}

/// Stops the kernel with panic(9), naming where the Rust panic came from. The message
/// itself is not formatted: that would pull core::fmt into the module.
#[cfg(not(test))]
pub fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let (file, line) = info.location().map_or(("?", 0), |l| (l.file(), l.line()));
    let len = core::ffi::c_int::try_from(file.len()).unwrap_or(core::ffi::c_int::MAX);
    // SAFETY: "%.*s" reads exactly `len` bytes from `file`, a valid &str; `line` is a
    // c_uint for "%u". panic(9) does not return.
    unsafe {
        crate::bindings::freebsd::panic(
            c"linuxaio: Rust panic at %.*s:%u".as_ptr(),
            len,
            file.as_ptr(),
            line,
        )
    }
}
