//! Exit statuses of `ostree-guests` and the failure type that carries them.
//!
//! Every number comes from the one table in `ostree_guests::exit`: the codes shared with the
//! start helper, and the CLI's own in `exit::cli`.

pub use ostree_guests::exit::cli::*;
pub use ostree_guests::exit::{
    CONFIG_INVALID, Failure, HOST_STATEROOT, NO_DEPLOYMENT, PIN_NOT_FOUND, USAGE,
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
  111 enable/disable: a later drop-in sets autostart, so nothing was changed
  112 `ostree container` is not available (Fedora: rpm-ostree provides it)
  113 the container image could not be pulled (unreachable or invalid)
  114 the container signature policy refused the image";

pub type Result<T, E = Failure> = std::result::Result<T, E>;
