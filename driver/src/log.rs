//! `LUCC_LOG`: opt-in logging to stderr, so that a build log stays exactly
//! what the real compiler would print unless the user asks for more.

use std::sync::OnceLock;
use std::time::Instant;

/// Whether `LUCC_LOG` is set to something other than `0` or empty.
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("LUCC_LOG").map(|v| !v.is_empty() && v != "0").unwrap_or(false))
}

/// `lucc_log!("passing {} through: {}", file, reason)`.
#[macro_export]
macro_rules! lucc_log {
    ($($arg:tt)*) => {
        if $crate::log::enabled() {
            eprintln!("lucc: {}", format_args!($($arg)*));
        }
    };
}

/// Wall time since `start` as `12.3ms`, for the step timings `LUCC_LOG`
/// prints next to each step (where a build's time goes, file by file).
pub fn elapsed(start: Instant) -> String {
    format!("{:.1}ms", start.elapsed().as_secs_f64() * 1e3)
}
