//! The booted deployment and the full resolution of a guest's deployment.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::{Deployment, Layout, Pin, ResolveError, list_deployments, select};

/// The outcome of [`resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub deployment: Deployment,
    /// The deployment's directory: absolute if `layout.sysroot` is.
    pub dir: PathBuf,
    /// Stateroot of the deployment the host is booted from, if any was recognised.
    pub booted_stateroot: Option<String>,
}

/// The deployment the running system (`layout.root`) is booted from, like libostree ≥ 2018.3:
/// `run/ostree-booted` must exist and the root must be the same inode as a listed deployment's
/// directory (a booted root is a bind mount of it). `/proc/cmdline` is deliberately not used.
///
/// Not handled: composefs-booted hosts, where `/` is an overlay and libostree (≥ 2024.2) matches
/// the `backing-root-device-inode` recorded in `/run/ostree-booted` instead; such a host has no
/// recognised booted deployment here.
pub fn booted_deployment<'a>(layout: &Layout, deps: &'a [Deployment]) -> Option<&'a Deployment> {
    if !layout
        .root
        .join("run/ostree-booted")
        .try_exists()
        .unwrap_or(false)
    {
        return None;
    }
    let root = fs::metadata(&layout.root).ok()?;
    deps.iter().find(|d| {
        fs::metadata(layout.sysroot.join(d.relative_dir()))
            .is_ok_and(|m| m.dev() == root.dev() && m.ino() == root.ino())
    })
}

/// Resolves the deployment a guest of `stateroot` runs, checking that its directory exists and
/// that the stateroot is not the booted host's own.
pub fn resolve(layout: &Layout, stateroot: &str, pin: &Pin) -> Result<Resolved, ResolveError> {
    let deps = list_deployments(layout)?;
    let booted_stateroot = booted_deployment(layout, &deps).map(|d| d.stateroot.clone());
    if booted_stateroot.as_deref() == Some(stateroot) {
        return Err(ResolveError::HostStateroot {
            stateroot: stateroot.to_owned(),
        });
    }
    let deployment = match select(&deps, stateroot, pin) {
        Ok(d) => d.clone(),
        Err(ResolveError::NoDeployment {
            stateroot, known, ..
        }) => {
            return Err(ResolveError::NoDeployment {
                missing_stateroot_dir: missing_stateroot_dir(layout, &stateroot),
                stateroot,
                known,
            });
        }
        Err(e) => return Err(e),
    };
    let dir = layout.sysroot.join(deployment.relative_dir());
    match fs::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(ResolveError::malformed(dir, "not a directory")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ResolveError::DeploymentMissing {
                path: dir,
                boot_entry: deployment.boot_entry,
            });
        }
        Err(e) => return Err(ResolveError::unreadable(dir, e)),
    }
    Ok(Resolved {
        deployment,
        dir,
        booted_stateroot,
    })
}

/// `ostree/deploy/<stateroot>` when it does not exist (so `os-init` is needed first).
fn missing_stateroot_dir(layout: &Layout, stateroot: &str) -> Option<PathBuf> {
    let plain =
        !stateroot.is_empty() && !stateroot.contains('/') && stateroot != "." && stateroot != "..";
    if !plain {
        return None;
    }
    let dir = layout.sysroot.join("ostree/deploy").join(stateroot);
    match fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Some(dir),
        _ => None,
    }
}
