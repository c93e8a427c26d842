//! Exit statuses of `ostree-guests` and the failure type that carries them.
//!
//! Every number comes from the one table in `ostree_guests::exit`: the codes shared with the
//! start helper, and the CLI's own in `exit::cli`.

use std::fmt;
use std::path::Path;

pub use ostree_guests::exit::cli::*;
pub use ostree_guests::exit::{
    CONFIG_INVALID, HOST_STATEROOT, NO_DEPLOYMENT, PIN_NOT_FOUND, USAGE,
};

/// The `--help` epilogue: every status this program can exit with.
pub const HELP_TABLE: &str = "\
Exit status:
  0   success (upgrade --check: an update is available)
  1   validate: a guest configuration is invalid
  64  usage error
  77  upgrade --check: no update is available
  78  the guest's configuration is invalid or missing
  79  the stateroot has no deployment (or no previous one to return to)
  80  a deployment pin matches no deployment
  82  the stateroot is the host's own (booted or default) one
  83  the sysroot or boot directory is unreadable
  86  boot entries malformed
  89  not enough free space in the boot directory
  90  a deploy changed the host's default boot entry (undone)
  91  the guest exists with another configuration (use --force)
  92  the guest does not resolve to the expected deployment afterwards
  93  systemctl failed
  94  a file could not be read or written
  95  aborted (confirmation declined)
  96  an ostree command failed (its messages are shown)
  110 the stateroot is used by another guest
  111 enable/disable: a later drop-in sets autostart, so nothing was changed";

/// A failure with the exit status that tells its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    /// A status without a message of its own (the command printed its answer already).
    pub fn silent(code: i32) -> Self {
        Self::new(code, String::new())
    }

    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// An I/O error on `path` while doing `action` ("writing", "removing", ...).
    pub fn io(action: &str, path: &Path, e: impl fmt::Display) -> Self {
        Self::new(IO_FAILED, format!("{action} {}: {e}", path.display()))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<ostree_guests::deployment::ResolveError> for Failure {
    fn from(e: ostree_guests::deployment::ResolveError) -> Self {
        Self::new(e.exit_code(), e.to_string())
    }
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;
