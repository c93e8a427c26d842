//! Exit statuses of `ostree-guests` and the failure type that carries them.
//!
//! Codes shared with the start helper come from `ostree_guests::exit` (64, 78–87). The ones here
//! only exist for the admin CLI; they start after the library's range so a status always names
//! one class of failure. 1 is reserved for `validate`'s "a guest is invalid" (generator
//! semantics), never used for anything else.

use std::fmt;
use std::path::Path;

pub use ostree_guests::exit::{
    CONFIG_INVALID, HOST_STATEROOT, NO_DEPLOYMENT, PIN_NOT_FOUND, USAGE,
};

/// `validate`: at least one guest is invalid (the generator's status for the same finding).
pub const INVALID: i32 = 1;
/// An `ostree` command failed; its messages are printed verbatim.
pub const OSTREE_FAILED: i32 = 88;
/// The boot directory has too little free space for another guest kernel.
pub const BOOT_FULL: i32 = 89;
/// A deploy changed the host's default boot entry; it was undone.
pub const HOST_DEFAULT_CHANGED: i32 = 90;
/// The guest already exists with another configuration (use --force).
pub const GUEST_EXISTS: i32 = 91;
/// After the operation the guest would not run the deployment it should.
pub const VERIFY_FAILED: i32 = 92;
/// `systemctl` failed to stop or restart the guest's unit.
pub const SYSTEMD_FAILED: i32 = 93;
/// Reading or writing a file of ours failed (configuration, lock).
pub const IO_FAILED: i32 = 94;
/// A confirmation was declined (or impossible without a terminal; use --yes).
pub const ABORTED: i32 = 95;
/// The stateroot belongs to another guest (or to the host's default boot entry for `remove`).
/// The CLI's codes after 95 come from 110–119, so they never meet the library's growing range.
pub const STATEROOT_IN_USE: i32 = 110;
/// A later configuration file overrides the setting `enable`/`disable` writes; nothing changed.
pub const OVERRIDDEN: i32 = 111;
/// `upgrade --check`: no update is available. 77 is rpm-ostree's status for the same answer
/// (`rpm-ostree upgrade --check`), so scripts written for the host work for guests.
pub const NO_UPDATE: i32 = 77;

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
  88  an ostree command failed (its messages are shown)
  89  not enough free space in the boot directory
  90  a deploy changed the host's default boot entry (undone)
  91  the guest exists with another configuration (use --force)
  92  the guest does not resolve to the expected deployment afterwards
  93  systemctl failed
  94  a file could not be read or written
  95  aborted (confirmation declined)
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
