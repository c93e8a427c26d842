//! The start helper's staging binds, in the private mount namespace that nspawn inherits (we
//! exec it): the stateroot's var and the boot directory outside nspawn's --directory. Entering
//! the namespace and making the sysroot writable are `ostree_guests::mounts`, shared with the
//! CLI.

use std::fs;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use nix::mount::{MsFlags, mount};
use ostree_guests::mounts::bind;
use ostree_guests::nspawn::Staging;

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
