//! Progress lines on stderr, so stdout stays the command's result (and `--json` stays JSON).

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_quiet(q: bool) {
    QUIET.store(q, Ordering::Relaxed);
}

/// Whether a long transfer may show its own progress: someone watches a terminal and asked
/// for no quiet (`--json` commands do not transfer). Scripts and logs get our step lines only.
pub fn live() -> bool {
    !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// One step of a long operation.
pub fn step(msg: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("ostree-guests: {msg}");
    }
}

/// Something the user must know even with --quiet.
pub fn warn(msg: &str) {
    eprintln!("ostree-guests: warning: {msg}");
}
