//! Logging for a generator: PID 1 points our stderr at /dev/null, so when systemd runs us the
//! only sink that reaches the journal is /dev/kmsg (systemd.generator(7)).

use std::fs::OpenOptions;
use std::io::Write as _;

pub const ERR: u8 = 3;
pub const WARNING: u8 = 4;
pub const INFO: u8 = 6;

const IDENT: &str = "ostree-guests-generator";

#[derive(Debug)]
pub enum Sink {
    Kmsg(std::fs::File),
    Stderr,
}

impl Sink {
    /// systemd (≥ 248) sets SYSTEMD_EXEC_PID to the generator's own PID.
    pub fn detect() -> Self {
        let ours = std::env::var("SYSTEMD_EXEC_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| p == std::process::id());
        if ours && let Ok(f) = OpenOptions::new().write(true).open("/dev/kmsg") {
            return Self::Kmsg(f);
        }
        Self::Stderr
    }

    pub fn log(&mut self, priority: u8, message: &str) {
        // One kmsg record per line keeps multi-line messages readable in the journal.
        for line in message.lines() {
            match self {
                Self::Kmsg(f) => {
                    let _ = writeln!(f, "<{priority}>{IDENT}[{}]: {line}", std::process::id());
                }
                Self::Stderr => eprintln!("{IDENT}: {line}"),
            }
        }
    }
}
