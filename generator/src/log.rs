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
    /// Containers have no /dev/kmsg; on a daemon-reload there, journald's socket is the only
    /// sink left (at boot it does not exist yet, and nothing is lost that kmsg would keep).
    Journal(std::os::unix::net::UnixDatagram),
    Stderr,
}

const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

impl Sink {
    /// systemd (≥ 248) sets SYSTEMD_EXEC_PID to the generator's own PID.
    pub fn detect() -> Self {
        let ours = std::env::var("SYSTEMD_EXEC_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| p == std::process::id());
        if !ours {
            return Self::Stderr;
        }
        if let Ok(f) = OpenOptions::new().write(true).open("/dev/kmsg") {
            return Self::Kmsg(f);
        }
        match std::os::unix::net::UnixDatagram::unbound() {
            Ok(s) if s.connect(JOURNAL_SOCKET).is_ok() => Self::Journal(s),
            _ => Self::Stderr,
        }
    }

    pub fn log(&mut self, priority: u8, message: &str) {
        // One kmsg record per line keeps multi-line messages readable in the journal.
        for line in message.lines() {
            match self {
                Self::Kmsg(f) => {
                    let _ = writeln!(f, "<{priority}>{IDENT}[{}]: {line}", std::process::id());
                }
                // journald's native protocol: one KEY=value per line; a line of ours never
                // contains a newline, which would need the binary form.
                Self::Journal(s) => {
                    let entry =
                        format!("PRIORITY={priority}\nSYSLOG_IDENTIFIER={IDENT}\nMESSAGE={line}\n");
                    let _ = s.send(entry.as_bytes());
                }
                Self::Stderr => eprintln!("{IDENT}: {line}"),
            }
        }
    }
}
