//! The booted deployment and the full resolution of a guest's deployment.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::list::{Details, list_with};
use super::marker::{DevIno, Marker, read_marker};
use super::{Deployment, Layout, Pin, ResolveError, select};

/// The outcome of [`resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub deployment: Deployment,
    /// The deployment's directory: absolute if `layout.sysroot` is.
    pub dir: PathBuf,
}

/// The deployment the running system (`layout.root`) is booted from, like libostree ≥ 2024.2:
/// `run/ostree-booted` must exist, and a listed deployment's directory must be the one the marker
/// names by `backing-root-device-inode` (ostree 2024 and later), or, for a marker without it (older
/// ostree, an empty file), the same inode as the root (a booted root is a bind mount of it).
/// `/proc/cmdline` is deliberately not used.
pub fn booted_deployment<'a>(layout: &Layout, deps: &'a [Deployment]) -> Option<&'a Deployment> {
    match read_marker(&layout.root) {
        Marker::Absent => None,
        Marker::Present(Some(backing)) => deps.iter().find(|d| is_dir_of(layout, d, backing)),
        Marker::Present(None) => same_inode_as_root(layout, deps),
    }
}

fn dev_ino(path: &Path) -> Option<DevIno> {
    let m = fs::metadata(path).ok()?;
    Some(DevIno {
        dev: m.dev(),
        ino: m.ino(),
    })
}

/// Whether `d`'s directory is `want` (libostree stats the bootlink, i.e. follows it).
fn is_dir_of(layout: &Layout, d: &Deployment, want: DevIno) -> bool {
    dev_ino(&layout.sysroot.join(d.relative_dir())) == Some(want)
}

/// The deployment whose directory is the running root, the booted marker already checked.
fn same_inode_as_root<'a>(layout: &Layout, deps: &'a [Deployment]) -> Option<&'a Deployment> {
    let root = dev_ino(&layout.root)?;
    deps.iter().find(|d| is_dir_of(layout, d, root))
}

/// The stateroot the host is booted from, which may not be among `deps` (a guest's start lists
/// only its own stateroot). In order:
/// 1. the marker's `backing-root-device-inode`: a listed deployment, else any directory under
///    `ostree/deploy/*/deploy/` (the kernel command line's stateroot first). This is what names
///    the right stateroot on a composefs host (`/` is an overlay) after a soft reboot into
///    another stateroot, when the command line still names the first one;
/// 2. `/` the same inode as a listed deployment (markers without the key);
/// 3. the kernel command line's `ostree=/ostree/boot.N/STATEROOT/…` (composefs without the key).
///
/// Erring towards "booted" only ever refuses a guest, never lets one share the host's /var.
pub fn booted_stateroot(layout: &Layout, deps: &[Deployment]) -> Option<String> {
    // One read of the marker for all the ways of finding the booted deployment.
    let backing = match read_marker(&layout.root) {
        Marker::Absent => return None,
        Marker::Present(b) => b,
    };
    let cmdline = || {
        fs::read_to_string(layout.root.join("proc/cmdline"))
            .ok()
            .and_then(|c| cmdline_stateroot(&c))
    };
    if let Some(b) = backing {
        if let Some(d) = deps.iter().find(|d| is_dir_of(layout, d, b)) {
            return Some(d.stateroot.clone());
        }
        if let Some(s) = stateroot_with_dir(layout, b, cmdline().as_deref()) {
            return Some(s);
        }
    }
    if let Some(d) = same_inode_as_root(layout, deps) {
        return Some(d.stateroot.clone());
    }
    cmdline()
}

/// Bounds the scan of [`stateroot_with_dir`]: stateroots, and deployments in each.
const MAX_SCAN: usize = 256;

/// The stateroot one of whose deployment directories is `want`, looking in `first`'s directory
/// before the others (it is the booted one unless the host soft-rebooted into another).
fn stateroot_with_dir(layout: &Layout, want: DevIno, first: Option<&str>) -> Option<String> {
    let deploy = layout.sysroot.join("ostree/deploy");
    // No deployment can match on another file system: spare the scan.
    if dev_ino(&deploy)?.dev != want.dev {
        return None;
    }
    let has_it = |stateroot: &OsStr| {
        let Ok(dir) = fs::read_dir(deploy.join(stateroot).join("deploy")) else {
            return false;
        };
        dir.take(MAX_SCAN)
            .flatten()
            .any(|e| dev_ino(&e.path()) == Some(want))
    };
    if let Some(s) = first.filter(|s| has_it(OsStr::new(s))) {
        return Some(s.to_owned());
    }
    fs::read_dir(&deploy)
        .ok()?
        .take(MAX_SCAN)
        .flatten()
        .map(|e| e.file_name())
        .filter(|s| Some(s.as_os_str()) != first.map(OsStr::new))
        .find(|s| has_it(s))
        .and_then(|s| s.into_string().ok())
}

fn cmdline_stateroot(cmdline: &str) -> Option<String> {
    let path = cmdline
        .split_ascii_whitespace()
        .find_map(|arg| arg.strip_prefix("ostree="))?;
    let rest = path
        .strip_prefix("/ostree/boot.0/")
        .or_else(|| path.strip_prefix("/ostree/boot.1/"))?;
    let stateroot = rest.split('/').next()?;
    (!stateroot.is_empty()).then(|| stateroot.to_owned())
}

/// Resolves the deployment a guest of `stateroot` runs, checking that its directory exists and
/// that the stateroot is not the booted host's own.
///
/// Every boot entry is read (the order needs them all), but bootlinks only of the stateroot's
/// own deployments, and origin files and commit objects only of those the pin can pick: the
/// others were most of a guest start's file accesses. So a malformed `.origin` or bootlink of
/// another stateroot's deployment, which fails [`super::list_deployments`] (as it fails
/// `ostree admin status`), does not stop this guest.
pub fn resolve(layout: &Layout, stateroot: &str, pin: &Pin) -> Result<Resolved, ResolveError> {
    resolve_with(layout, stateroot, pin, true)
}

/// [`resolve`] for starting the guest: the same deployment, but its `.origin` file is not read,
/// so `pinned` is false whatever ostree says. No pin picks by that flag, and a start only logs
/// the deployment and its version; the open was one file in eight of a start's resolution.
pub fn resolve_to_start(
    layout: &Layout,
    stateroot: &str,
    pin: &Pin,
) -> Result<Resolved, ResolveError> {
    resolve_with(layout, stateroot, pin, false)
}

fn resolve_with(
    layout: &Layout,
    stateroot: &str,
    pin: &Pin,
    pin_flags: bool,
) -> Result<Resolved, ResolveError> {
    let details = Details::Of {
        stateroot,
        first_only: *pin == Pin::Auto,
        pin_flags,
    };
    let listing = list_with(layout, details)?;
    // The listing holds only this stateroot's deployments, which is enough: a marker's backing
    // directory that is none of them is looked for in the other stateroots, and a root that is
    // none of them by inode leaves the kernel command line to name the booted stateroot, as on
    // composefs hosts, so this errs only towards refusing.
    if booted_stateroot(layout, &listing.deps).as_deref() == Some(stateroot) {
        return Err(ResolveError::HostStateroot {
            stateroot: stateroot.to_owned(),
        });
    }
    let deployment = match select(&listing.deps, stateroot, pin) {
        Ok(d) => d.clone(),
        Err(ResolveError::NoDeployment { stateroot, .. }) => {
            return Err(ResolveError::NoDeployment {
                missing_stateroot_dir: missing_stateroot_dir(layout, &stateroot),
                stateroot,
                known: listing.stateroots,
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
    Ok(Resolved { deployment, dir })
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

#[cfg(test)]
mod cmdline_tests {
    use super::*;

    #[test]
    fn the_kernel_command_line_names_the_booted_stateroot() {
        let c = "BOOT_IMAGE=(hd0,gpt2)/ostree/fedora-ab12/vmlinuz rw ostree=/ostree/boot.1/fedora/ab12/0 quiet";
        assert_eq!(cmdline_stateroot(c).as_deref(), Some("fedora"));
        assert_eq!(cmdline_stateroot("root=/dev/vda1 rw").as_deref(), None);
        // aboot-style links name no stateroot
        assert_eq!(cmdline_stateroot("ostree=/ostree/root.a").as_deref(), None);
    }

    #[test]
    fn composefs_hosts_are_recognised_through_the_command_line() {
        let root = tempfile::tempdir().unwrap();
        let layout = Layout {
            sysroot: root.path().join("sysroot"),
            boot: root.path().join("boot"),
            root: root.path().to_owned(),
        };
        fs::create_dir_all(root.path().join("proc")).unwrap();
        fs::write(
            root.path().join("proc/cmdline"),
            "ostree=/ostree/boot.0/web/ab/0\n",
        )
        .unwrap();
        // Without the booted marker the command line is never consulted (a plain sysroot).
        assert_eq!(booted_stateroot(&layout, &[]), None);
        fs::create_dir_all(root.path().join("run")).unwrap();
        fs::write(root.path().join("run/ostree-booted"), "").unwrap();
        assert_eq!(booted_stateroot(&layout, &[]).as_deref(), Some("web"));
    }
}
