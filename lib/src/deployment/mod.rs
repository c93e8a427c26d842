//! OSTree deployment enumeration and resolution from files only.
//!
//! Reproduces what `ostree admin status` lists (libostree's `ostree_sysroot_load`; see
//! docs/DESIGN.md, "Deployment resolution") without running `ostree` or linking GLib: the boot
//! entries of the current bootversion, ordered by their `version`, each resolved through its
//! bootlink to `<stateroot>/<checksum>.<serial>`. A guest runs the first deployment of its
//! stateroot in that order (libostree's merge deployment) unless pinned to a commit or version.

pub(crate) mod bls;
mod error;
pub(crate) mod gvariant;
mod list;
pub(crate) mod marker;
mod origin;
mod pin;
mod read;
mod resolve;
pub(crate) mod strverscmp;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

pub use error::ResolveError;
pub use list::list_deployments;
pub use pin::{Pin, PinParseError, select};
pub use resolve::{Resolved, booted_deployment, booted_stateroot, resolve, resolve_to_start};

/// Where the OSTree state is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The physical root holding `ostree/` (`/sysroot` on a booted host).
    pub sysroot: PathBuf,
    /// The directory holding `loader -> loader.N`. On a booted host this is `/boot`, which may be
    /// a separate partition (then `sysroot/boot` is an empty mount point).
    pub boot: PathBuf,
    /// The running system's root, only for booted detection (`run/ostree-booted`, `stat`).
    pub root: PathBuf,
}

impl Default for Layout {
    fn default() -> Self {
        Self {
            sysroot: PathBuf::from("/sysroot"),
            boot: PathBuf::from("/boot"),
            root: PathBuf::from("/"),
        }
    }
}

impl Layout {
    /// The running system's layout, relocated by OSTREE_GUESTS_SYSROOT / OSTREE_GUESTS_BOOT.
    /// With only the sysroot relocated, its own `boot/` is the boot directory: that is where
    /// `ostree admin --sysroot=` writes the entries.
    pub fn from_env() -> Self {
        use crate::paths::{DEFAULT_BOOT, DEFAULT_SYSROOT, ENV_BOOT, ENV_SYSROOT};
        let set = crate::paths::env_path_set;
        let sysroot = set(ENV_SYSROOT);
        let boot = match (set(ENV_BOOT), &sysroot) {
            (Some(b), _) => b,
            (None, Some(s)) => s.join("boot"),
            (None, None) => PathBuf::from(DEFAULT_BOOT),
        };
        Self {
            sysroot: sysroot.unwrap_or_else(|| PathBuf::from(DEFAULT_SYSROOT)),
            boot,
            root: PathBuf::from("/"),
        }
    }

    /// A sysroot that is not booted from (tests, installers): `boot` is `<sysroot>/boot`, and
    /// `root` stays `/`.
    pub fn for_sysroot(sysroot: impl Into<PathBuf>) -> Self {
        let sysroot = sysroot.into();
        Self {
            boot: sysroot.join("boot"),
            sysroot,
            root: PathBuf::from("/"),
        }
    }
}

/// `base/a/b…`, allocated once at its final size: `Path::join` copies `base` and then grows the
/// buffer for each part, and resolution builds a few dozen paths per guest start.
pub(crate) fn join<'a>(base: &Path, parts: impl IntoIterator<Item = &'a OsStr> + Clone) -> PathBuf {
    let len = parts
        .clone()
        .into_iter()
        .fold(base.as_os_str().len(), |n, p| n + 1 + p.len());
    let mut path = PathBuf::with_capacity(len);
    path.push(base);
    for p in parts {
        path.push(p);
    }
    path
}

/// One deployment, as listed by `ostree admin status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Position in libostree's order (0 = default boot entry).
    pub index: usize,
    pub stateroot: String,
    /// Commit checksum (64 lowercase hex digits as ostree writes them).
    pub checksum: String,
    pub serial: u32,
    /// The boot entry file this deployment came from.
    pub boot_entry: PathBuf,
    /// `[libostree-transient] pinned=true` in the `.origin` file (`ostree admin pin`).
    pub pinned: bool,
    /// The commit's `version` metadata, if it has a string one.
    pub version: Option<String>,
}

impl Deployment {
    /// `<checksum>.<serial>`, the deployment directory's name.
    pub fn dir_name(&self) -> String {
        format!("{}.{}", self.checksum, self.serial)
    }

    /// `ostree/deploy/<stateroot>/deploy/<checksum>.<serial>`, relative to the sysroot.
    pub fn relative_dir(&self) -> PathBuf {
        PathBuf::from(format!(
            "ostree/deploy/{}/deploy/{}.{}",
            self.stateroot, self.checksum, self.serial
        ))
    }

    /// `<checksum>.<serial>` plus ` (version V)` when known, for messages.
    pub fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{}.{} (version {v})", self.checksum, self.serial),
            None => self.dir_name(),
        }
    }
}

#[cfg(test)]
mod tests;
