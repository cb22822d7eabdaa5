//! What `lucc build` prints, all on stderr as cargo does.
//!
//! Status lines (`   Compiling kvutil (3 files)`) are right-aligned verbs
//! so a long build reads as a column. The `[12/40] src/foo.c` progress line
//! is redrawn in place only on a terminal; into a file or a pipe each step
//! is its own plain line, because carriage returns and escape codes make
//! logs unreadable. Compiles run on several threads, so every write takes
//! one lock and clears a pending progress line first: a compiler's message
//! is never interleaved with another's or drawn over.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

pub struct Reporter {
    tty: bool,
    /// Colour on a terminal unless NO_COLOR is set (no-color.org).
    colour: bool,
    pub verbose: bool,
    /// True while a progress line is on screen without its newline.
    progress_shown: Mutex<bool>,
}

impl Reporter {
    pub fn new(verbose: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let colour = tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Reporter {
            tty,
            colour,
            verbose,
            progress_shown: Mutex::new(false),
        }
    }

    fn write(&self, text: &str) {
        let mut shown = self
            .progress_shown
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        if *shown {
            let _ = err.write_all(b"\r\x1b[K");
            *shown = false;
        }
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// `    Finished release in 1.23s`: a verb, right-aligned, then the rest.
    pub fn status(&self, verb: &str, rest: &str) {
        self.write(&format!(
            "{} {rest}\n",
            self.paint("1;32", &format!("{verb:>12}"))
        ));
    }

    pub fn error(&self, msg: &str) {
        self.write(&format!("{}: {msg}\n", self.paint("1;31", "error")));
    }

    /// Text from a tool (a compiler's diagnostics), passed on unchanged.
    pub fn verbatim(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let mut t = text.to_string();
        if !t.ends_with('\n') {
            t.push('\n');
        }
        self.write(&t);
    }

    pub fn note(&self, msg: &str) {
        if self.verbose {
            self.write(&format!("{msg}\n"));
        }
    }

    pub fn progress(&self, done: usize, total: usize, what: &str) {
        let line = format!("[{done}/{total}] {what}");
        if !self.tty {
            self.write(&format!("{line}\n"));
            return;
        }
        let mut shown = self
            .progress_shown
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{line}");
        let _ = err.flush();
        *shown = true;
    }

    /// Take a finished progress line off the screen.
    pub fn clear_progress(&self) {
        self.write("");
    }
}
