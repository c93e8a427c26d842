//! Errors of deployment resolution, each worded so an administrator knows what to do next.

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;

use crate::exit;

/// Why a guest's deployment could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No boot entry names a deployment of the stateroot.
    #[error("{}", no_deployment_message(.stateroot, .known, .missing_stateroot_dir.as_ref()))]
    NoDeployment {
        stateroot: String,
        /// Stateroots that do have deployments, in boot order, without duplicates.
        known: Vec<String>,
        /// Set by [`super::resolve`] when `ostree/deploy/<stateroot>` does not exist either, so
        /// the stateroot must be initialised first.
        missing_stateroot_dir: Option<PathBuf>,
    },
    /// The pin matches none of the stateroot's deployments.
    #[error(
        "deployment pin \"{pin}\" matches no deployment of stateroot \"{stateroot}\"; its deployments \
         in boot order: {}. ostree garbage-collects a stateroot's older unpinned deployments whenever \
         it gets a new one, so pin a deployment you rely on with `ostree admin pin <INDEX>` \
         (INDEX from `ostree admin status`)",
        .available.join(", ")
    )]
    PinNotFound {
        stateroot: String,
        pin: String,
        /// `<checksum>.<serial>` plus ` (version V)` when known.
        available: Vec<String>,
    },
    /// A checksum-prefix pin matches deployments of different commits.
    #[error(
        "deployment pin \"{pin}\" is ambiguous for stateroot \"{stateroot}\": it matches {}; \
         use a longer checksum prefix",
        .matches.join(", ")
    )]
    PinAmbiguous {
        stateroot: String,
        pin: String,
        matches: Vec<String>,
    },
    /// A boot entry names a deployment whose directory is gone.
    #[error(
        "deployment directory {} is missing although boot entry {} names it (garbage-collected or \
         removed by `ostree admin cleanup`?); check `ostree admin status` and redeploy the stateroot",
        .path.display(),
        .boot_entry.display()
    )]
    DeploymentMissing { path: PathBuf, boot_entry: PathBuf },
    /// The requested stateroot is the one the host is booted from.
    #[error(
        "stateroot \"{stateroot}\" is the one the host is booted from; a guest of it would share the \
         host's /var (ostree/deploy/{stateroot}/var), so it is refused. Give the guest its own \
         stateroot: `ostree admin os-init <NAME>` and `ostree admin deploy --not-as-default \
         --os=<NAME> <REF>`"
    )]
    HostStateroot { stateroot: String },
    /// A file or directory could not be read (boot partition not mounted, permissions, I/O).
    #[error("cannot read {}: {source}{}", .path.display(), .hint.unwrap_or(""))]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
        /// Extra advice appended to the message, starting with "; ".
        hint: Option<&'static str>,
    },
    /// On-disk state that libostree itself would reject; waiting does not repair it.
    #[error("{}: {reason}", .path.display())]
    Malformed { path: PathBuf, reason: String },
}

impl ResolveError {
    /// The exit code of our binaries for this error (see [`crate::exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::NoDeployment { .. } => exit::NO_DEPLOYMENT,
            Self::PinNotFound { .. } | Self::PinAmbiguous { .. } => exit::PIN_NOT_FOUND,
            Self::DeploymentMissing { .. } => exit::DEPLOYMENT_MISSING,
            Self::HostStateroot { .. } => exit::HOST_STATEROOT,
            Self::Unreadable { source, .. } if is_lasting(source) => exit::SYSROOT_BROKEN,
            Self::Unreadable { .. } => exit::SYSROOT_UNREADABLE,
            Self::Malformed { .. } => exit::BOOT_ENTRIES_MALFORMED,
        }
    }

    pub(crate) fn unreadable(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Unreadable {
            path: path.into(),
            source,
            hint: None,
        }
    }

    pub(crate) fn malformed(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Malformed {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// An ENOENT on something that existed a moment earlier: a concurrent ostree write.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, Self::Unreadable { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Errors of the file system's shape rather than its state: a restart meets them again, so
/// they must not be retried every few seconds forever.
fn is_lasting(e: &io::Error) -> bool {
    use nix::libc::{EISDIR, ELOOP, ENAMETOOLONG, ENOTDIR};
    matches!(
        e.raw_os_error(),
        Some(ELOOP | ENOTDIR | EISDIR | ENAMETOOLONG)
    )
}

fn no_deployment_message(
    stateroot: &str,
    known: &[String],
    missing_dir: Option<&PathBuf>,
) -> String {
    let mut msg = format!("stateroot \"{stateroot}\" has no deployment in the boot entries");
    if known.is_empty() {
        msg.push_str(" (there are no deployments at all)");
    } else {
        let _ = write!(msg, " (stateroots with deployments: {})", known.join(", "));
    }
    if let Some(dir) = missing_dir {
        let _ = write!(
            msg,
            "; {} does not exist, so create the stateroot first: `ostree admin os-init {stateroot}`, then",
            dir.display()
        );
    } else {
        msg.push_str("; create one with");
    }
    let _ = write!(
        msg,
        " `ostree admin deploy --not-as-default --os={stateroot} <REF>`"
    );
    msg
}
