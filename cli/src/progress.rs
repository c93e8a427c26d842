//! Progress lines on stderr, so stdout stays the command's result (and `--json` stays JSON).

use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_quiet(q: bool) {
    QUIET.store(q, Ordering::Relaxed);
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
