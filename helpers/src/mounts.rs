//! The start helper's private mount namespace.
//!
//! Everything here happens in a namespace of our own that nspawn inherits (we exec it), so the
//! host never sees these mounts: the sysroot made a writable mount point (Fedora ≥ 37 mounts
//! /sysroot read-only; the guest's /etc and /var live on it), and staging binds for the
//! stateroot's var and the boot directory outside nspawn's --directory.

use std::fs;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use ostree_guests::nspawn::Staging;

#[derive(Debug, Clone, PartialEq, Eq)]
struct MountInfo {
    options: Vec<String>,
}

/// `\040`-style escapes in /proc/self/mountinfo paths.
fn unescape_mountinfo(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let oct = bytes.get(i + 1..i + 4).and_then(|d| {
            let d = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(d, 8).ok()
        });
        match (b, oct) {
            (b'\\', Some(v)) => {
                out.push(v);
                i += 4;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The topmost mount exactly at `path`, if `path` is a mount point.
fn mount_at(path: &Path) -> Result<Option<MountInfo>> {
    let text =
        fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    let want = path.to_string_lossy();
    let mut found = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if let (Some(mp), Some(opts)) = (fields.get(4), fields.get(5))
            && unescape_mountinfo(mp) == want
        {
            found = Some(MountInfo {
                options: opts.split(',').map(str::to_owned).collect(),
            });
        }
    }
    Ok(found)
}

/// Flags a bind remount must repeat, or the kernel would clear (or refuse to clear) them.
fn kept_flags(options: &[String]) -> MsFlags {
    let mut f = MsFlags::empty();
    for o in options {
        f |= match o.as_str() {
            "nosuid" => MsFlags::MS_NOSUID,
            "nodev" => MsFlags::MS_NODEV,
            "noexec" => MsFlags::MS_NOEXEC,
            "noatime" => MsFlags::MS_NOATIME,
            "nodiratime" => MsFlags::MS_NODIRATIME,
            "relatime" => MsFlags::MS_RELATIME,
            _ => MsFlags::empty(),
        };
    }
    f
}

fn bind(src: &Path, dst: &Path) -> Result<()> {
    mount(
        Some(src),
        dst,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("bind-mounting {} on {}", src.display(), dst.display()))
}

/// Enters a private mount namespace where host mount events still arrive (slave) but ours
/// never leave.
pub fn enter_private_namespace() -> Result<()> {
    unshare(CloneFlags::CLONE_NEWNS).context("creating a private mount namespace (unshare)")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .context("making / a slave mount in the private namespace")?;
    Ok(())
}

/// nspawn's --pivot-root needs --directory to be a mount point, and the guest's /etc and /var
/// must be writable even where the host mounts the sysroot read-only.
pub fn prepare_sysroot(sysroot: &Path) -> Result<()> {
    let info = match mount_at(sysroot)? {
        Some(i) => i,
        None => {
            bind(sysroot, sysroot)?;
            mount_at(sysroot)?.with_context(|| {
                format!(
                    "{} is not a mount point after binding it",
                    sysroot.display()
                )
            })?
        }
    };
    if info.options.iter().any(|o| o == "ro") {
        let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | kept_flags(&info.options);
        mount(None::<&str>, sysroot, None::<&str>, flags, None::<&str>).with_context(|| {
            format!(
                "{} is mounted read-only and could not be made writable in the guest's mount namespace (is the filesystem itself read-only?)",
                sysroot.display()
            )
        })?;
    }
    Ok(())
}

/// Staging binds under STAGING_ROOT/NAME on a tmpfs private to this namespace: the host keeps
/// only the empty STAGING_ROOT directory (a mount point needs one), shared by all guests.
/// `sysroot_view` (ostree-tools) is the physical root, staged read-only: nspawn binds it like any
/// other source (idmapped with the guest's user namespace) instead of keeping the old root.
pub fn stage(
    staging_root: &Path,
    staging: &Staging,
    var: &Path,
    boot: &Path,
    sysroot_view: Option<&Path>,
) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(staging_root)
        .with_context(|| format!("creating {}", staging_root.display()))?;
    mount(
        Some("ostree-guests"),
        staging_root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0700,size=64k"),
    )
    .with_context(|| format!("mounting a private tmpfs on {}", staging_root.display()))?;
    let dir = staging.dir();
    fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    let marker = staging.booted_marker();
    fs::write(&marker, "").with_context(|| format!("creating {}", marker.display()))?;
    let mut sources = vec![(var, staging.var()), (boot, staging.boot())];
    if let Some(sysroot) = sysroot_view {
        sources.push((sysroot, staging.sysroot()));
    }
    for (src, dst) in &sources {
        if !src.is_dir() {
            bail!("{} is not a directory", src.display());
        }
        fs::create_dir(dst).with_context(|| format!("creating {}", dst.display()))?;
        bind(src, dst)?;
    }
    if sysroot_view.is_some() {
        let view = staging.sysroot();
        // Read-only here already: nspawn's --bind-ro applies after the guest's own mounts exist.
        mount(
            None::<&str>,
            &view,
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .with_context(|| format!("making {} read-only", view.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo("/a\\040b\\134c"), "/a b\\c");
        assert_eq!(unescape_mountinfo("/plain\\"), "/plain\\");
    }

    #[test]
    fn remount_keeps_restrictive_flags() {
        let opts: Vec<String> = ["ro", "nosuid", "nodev", "relatime"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let f = kept_flags(&opts);
        assert!(f.contains(MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_RELATIME));
        assert!(!f.contains(MsFlags::MS_RDONLY));
    }
}
