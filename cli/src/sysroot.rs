//! The sysroot as the CLI changes it: guarded deploys, making a commit the guest's resolved
//! deployment, keeping at most N deployments, the /boot space check and the running-guest pin.
//!
//! Every decision is taken on a fresh listing (`deployment::list_deployments`, the same files
//! `ostree admin status` reads), and every index handed to ostree comes from a listing taken
//! right before the call.

use std::fmt;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ostree_guests::deployment::{
    self, Deployment, Layout, Pin, booted_deployment, booted_stateroot, list_deployments,
};
use ostree_guests::mounts;
use ostree_guests::paths::{ENV_SYSROOT, env_path_set};

use crate::exit::{
    BOOT_FULL, Failure, HOST_DEFAULT_CHANGED, HOST_STATEROOT, IO_FAILED, OSTREE_FAILED, Result,
    VERIFY_FAILED,
};
use crate::ostree::Ostree;
use crate::progress;
pub use crate::running::Running;

/// Room left in the boot directory on top of the kernel and initramfs (entries, rounding).
const BOOT_MARGIN: u64 = 1024 * 1024;

/// A deployment's identity across listings (its index changes with every write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id {
    pub stateroot: String,
    pub checksum: String,
    pub serial: u32,
}

impl Id {
    pub fn of(d: &Deployment) -> Self {
        Self {
            stateroot: d.stateroot.clone(),
            checksum: d.checksum.clone(),
            serial: d.serial,
        }
    }

    pub fn is(&self, d: &Deployment) -> bool {
        d.stateroot == self.stateroot && d.checksum == self.checksum && d.serial == self.serial
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}.{}", self.stateroot, self.checksum, self.serial)
    }
}

#[derive(Debug, Clone)]
pub struct Host {
    pub layout: Layout,
    pub ostree: Ostree,
    /// OSTREE_GUESTS_SYSROOT was set: a test or offline sysroot, not the running host.
    pub explicit_sysroot: bool,
}

impl Host {
    /// From OSTREE_GUESTS_SYSROOT / OSTREE_GUESTS_BOOT. With only the sysroot set, its own
    /// `boot/` is the boot directory, because that is where `ostree admin --sysroot=` writes.
    pub fn from_env() -> Self {
        let sysroot_env = env_path_set(ENV_SYSROOT);
        let layout = Layout::from_env();
        Self {
            ostree: Ostree::new(sysroot_env.clone(), &layout.sysroot),
            explicit_sysroot: sysroot_env.is_some(),
            layout,
        }
    }

    pub fn list(&self) -> Result<Vec<Deployment>> {
        list_deployments(&self.layout).map_err(Failure::from)
    }

    pub fn of_root<'a>(deps: &'a [Deployment], stateroot: &str) -> Vec<&'a Deployment> {
        deps.iter().filter(|d| d.stateroot == stateroot).collect()
    }

    /// `ostree/deploy/STATEROOT` on disk.
    pub fn stateroot_dir(&self, stateroot: &str) -> PathBuf {
        self.layout.sysroot.join("ostree/deploy").join(stateroot)
    }

    /// Serializes our multi-step operations (ostree only locks one command at a time).
    pub fn lock(&self) -> Result<nix::fcntl::Flock<File>> {
        let path = if self.explicit_sysroot {
            self.layout.sysroot.join(".ostree-guests.lock")
        } else {
            PathBuf::from("/run/ostree-guests.lock")
        };
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Failure::io("opening lock file", &path, e))?;
        let lock = match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        {
            Ok(l) => l,
            Err((file, _)) => {
                progress::step(&format!(
                    "waiting for another ostree-guests command ({} is locked)",
                    path.display()
                ));
                nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
                    .map_err(|(_, e)| Failure::io("locking", &path, e))?
            }
        };
        self.make_writable()?;
        Ok(lock)
    }

    /// Fedora mounts /sysroot read-only. `ostree admin deploy` remounts it for itself, but
    /// `os-init` (ostree 2022.7) and our own `--purge` do not, so every writer works in a private
    /// mount namespace where /sysroot is writable; the host keeps its read-only mount.
    fn make_writable(&self) -> Result<()> {
        if self.explicit_sysroot {
            return Ok(());
        }
        mounts::enter_private_namespace()
            .and_then(|()| mounts::prepare_sysroot(&self.layout.sysroot))
            .map_err(|e| {
                Failure::new(
                    IO_FAILED,
                    format!(
                        "making {} writable for ostree: {e:#}",
                        self.layout.sysroot.display()
                    ),
                )
            })
    }

    /// Refuses a stateroot that is the host's own: the booted one, or the one owning the default
    /// boot entry while other stateroots exist (a sysroot with only guests has no host).
    pub fn refuse_host_stateroot(&self, deps: &[Deployment], stateroot: &str) -> Result<()> {
        // With OSTREE_GUESTS_SYSROOT the kernel command line may name another sysroot's
        // stateroot, but a deployment that is the running root by inode is the host's own
        // whatever path the sysroot was given by (`OSTREE_GUESTS_SYSROOT=/sysroot`).
        let booted = if self.explicit_sysroot {
            booted_deployment(&self.layout, deps).map(|d| d.stateroot.clone())
        } else {
            booted_stateroot(&self.layout, deps)
        };
        if booted.as_deref() == Some(stateroot) {
            return Err(Failure::new(
                HOST_STATEROOT,
                format!(
                    "stateroot \"{stateroot}\" is the one the host is booted from; a guest needs a stateroot of its own (--stateroot)"
                ),
            ));
        }
        if let Some(first) = deps.first()
            && first.stateroot == stateroot
            && deps.iter().any(|d| d.stateroot != stateroot)
        {
            return Err(Failure::new(
                HOST_STATEROOT,
                format!(
                    "stateroot \"{stateroot}\" owns the host's default boot entry (index 0 in `ostree admin status`); a guest needs a stateroot of its own (--stateroot)"
                ),
            ));
        }
        Ok(())
    }

    /// The index ostree itself gives `id` right now (from `ostree admin status`, whose order
    /// includes a staged deployment that the boot entries lack). A deployment the boot entries
    /// show but ostree does not is an error: never guess an index.
    pub fn index_of(&self, id: &Id) -> Result<Option<usize>> {
        let ids = self.ostree.status_ids()?;
        if let Some(i) = ids
            .iter()
            .position(|(s, c, n)| *s == id.stateroot && *c == id.checksum && *n == id.serial)
        {
            return Ok(Some(i));
        }
        if self.list()?.iter().any(|d| id.is(d)) {
            return Err(Failure::new(
                VERIFY_FAILED,
                format!(
                    "the boot entries list deployment {id} but `ostree admin status` does not; refusing to guess its index"
                ),
            ));
        }
        Ok(None)
    }

    /// `ostree admin undeploy` of exactly this deployment; already gone is fine.
    pub fn undeploy(&self, id: &Id) -> Result<()> {
        match self.index_of(id)? {
            Some(i) => {
                progress::step(&format!("removing deployment {id}"));
                self.ostree.undeploy(i)
            }
            None => Ok(()),
        }
    }

    pub fn set_pinned(&self, id: &Id, pinned: bool) -> Result<()> {
        let i = self.index_of(id)?.ok_or_else(|| {
            Failure::new(
                VERIFY_FAILED,
                format!("deployment {id} disappeared before it could be (un)pinned"),
            )
        })?;
        self.ostree.pin(i, !pinned)
    }

    /// `deploy/CSUM.SERIAL.origin` of a deployment.
    pub fn origin_path(&self, id: &Id) -> PathBuf {
        self.stateroot_dir(&id.stateroot)
            .join(format!("deploy/{}.{}.origin", id.checksum, id.serial))
    }

    /// The `refspec=` of a deployment's origin, unless it is a bare checksum.
    pub fn origin_refspec(&self, id: &Id) -> Option<String> {
        let text = std::fs::read_to_string(self.origin_path(id)).ok()?;
        let mut in_origin = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_origin = line == "[origin]";
            } else if in_origin && let Some(v) = line.strip_prefix("refspec=") {
                let v = v.trim();
                let bare = v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit());
                return (!bare && !v.is_empty()).then(|| v.to_owned());
            }
        }
        None
    }

    /// The `container-image-reference=` of a deployment's origin: the image it was deployed
    /// from (as rpm-ostree and bootc record it).
    pub fn origin_image(&self, id: &Id) -> Option<String> {
        let text = std::fs::read_to_string(self.origin_path(id)).ok()?;
        ostree_guests::image_ref::from_origin(&text)
    }

    /// Fails with the numbers when the boot directory cannot take another copy of the commit's
    /// kernel: a full /boot breaks the host's own next upgrade.
    pub fn check_boot_space(&self, commit: &str) -> Result<()> {
        let boot = &self.layout.boot;
        let st = nix::sys::statvfs::statvfs(boot)
            .map_err(|e| Failure::io("checking free space of", boot, e))?;
        // fsblkcnt_t is u64 here but not on every target.
        #[allow(clippy::useless_conversion)]
        let free = u64::from(st.blocks_available()).saturating_mul(st.fragment_size());
        let kernel = self.ostree.kernel_size(commit).unwrap_or(0);
        match boot_space_error(boot, free, kernel, commit) {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    /// A guarded `ostree admin deploy --not-as-default`: checks /boot first, and afterwards that
    /// the host's default entry did not change (undoing the deploy if it did). Returns the new
    /// deployment.
    pub fn deploy(
        &self,
        stateroot: &str,
        refspec: &str,
        commit: &str,
        retain: bool,
        origin_file: Option<&Path>,
    ) -> Result<Id> {
        self.check_boot_space(commit)?;
        let before = self.list()?;
        let default = before.first().map(Id::of);
        let staged = self.staged_marker();
        let had_staged = staged.as_deref().is_some_and(Path::exists);
        progress::step(&format!("deploying {refspec} to stateroot {stateroot}"));
        let result = self.ostree.deploy(stateroot, refspec, retain, origin_file);
        let after = self.list()?;
        let added = after
            .iter()
            .find(|d| d.stateroot == stateroot && !before.iter().any(|b| Id::of(b).is(d)))
            .map(Id::of);
        self.guard_default(default.as_ref(), added.as_ref())?;
        result?;
        if had_staged && !staged.as_deref().is_some_and(Path::exists) {
            progress::warn(
                "the host's staged update (/run/ostree/staged-deployment) is gone after the guest deploy; re-run the host's update before rebooting",
            );
        }
        added.ok_or_else(|| {
            Failure::new(
                OSTREE_FAILED,
                format!(
                    "ostree reported success but no new deployment of stateroot {stateroot} appeared in the boot entries"
                ),
            )
        })
    }

    fn staged_marker(&self) -> Option<PathBuf> {
        (!self.explicit_sysroot).then(|| PathBuf::from("/run/ostree/staged-deployment"))
    }

    /// The host's default entry must still be `before` (None: the sysroot had no deployment, so
    /// there was no default to protect). Otherwise `added` is undeployed and this fails with
    /// both values.
    pub fn guard_default(&self, before: Option<&Id>, added: Option<&Id>) -> Result<()> {
        let Some(before) = before else {
            return Ok(());
        };
        let now = self.list()?.first().map(Id::of);
        if now.as_ref() == Some(before) {
            return Ok(());
        }
        let now_s = now.map_or_else(|| "nothing".to_owned(), |n| n.to_string());
        let undo = match added {
            Some(a) => match self.undeploy(a) {
                Ok(()) => format!("undeployed the new deployment {a}"),
                Err(e) => format!("undoing it (undeploy {a}) FAILED: {e}"),
            },
            None => "no new deployment to undo was found".to_owned(),
        };
        let restored = self.list()?.first().map(Id::of);
        let outcome = if restored.as_ref() == Some(before) {
            "the default is restored".to_owned()
        } else {
            format!(
                "THE DEFAULT IS STILL {}: fix it with `ostree admin status` and `ostree admin undeploy` before the host reboots",
                restored.map_or_else(|| "nothing".to_owned(), |r| r.to_string())
            )
        };
        Err(Failure::new(
            HOST_DEFAULT_CHANGED,
            format!(
                "the host's default boot entry changed from {before} to {now_s}; {undo}; {outcome}"
            ),
        ))
    }

    /// Makes `wanted` (a commit already deployed in `stateroot`) the stateroot's first
    /// deployment, which is what a guest with `deployment = "auto"` runs.
    ///
    /// A `--not-as-default` deploy on a non-booted sysroot lands after the stateroot's first
    /// (merge) deployment, so the deployments ahead of `wanted` are undeployed; with `keep` ≥ 2
    /// the commit that was first is redeployed (with its origin) and lands
    /// right after `wanted`. Where a redeploy lands first instead (a booted host), the previous
    /// one cannot be kept behind it and is dropped with a warning.
    pub fn make_first(
        &self,
        stateroot: &str,
        wanted: &str,
        keep: usize,
        running: &mut Running,
    ) -> Result<()> {
        let deps = self.list()?;
        let ours = Self::of_root(&deps, stateroot);
        let Some(first) = ours.first() else {
            return Err(Failure::new(
                VERIFY_FAILED,
                format!("stateroot {stateroot} has no deployment"),
            ));
        };
        if first.checksum == wanted {
            return Ok(());
        }
        if !ours.iter().any(|d| d.checksum == wanted) {
            return Err(Failure::new(
                VERIFY_FAILED,
                format!("commit {wanted} has no deployment in stateroot {stateroot}"),
            ));
        }
        let previous = Id::of(first);
        let origin = std::fs::read(self.origin_path(&previous)).ok();
        let hold = format!("ostree-guests/hold/{stateroot}");
        self.ostree.hold(&hold, &previous.checksum)?;
        let result = self
            .undeploy_ahead_of(stateroot, wanted, running)
            .and_then(|()| {
                if keep >= 2 {
                    self.keep_previous(stateroot, wanted, &previous, origin.as_deref(), keep > 2)
                } else {
                    Ok(())
                }
            });
        if let Err(e) = self.ostree.release(&hold) {
            progress::warn(&format!("could not delete the temporary ref {hold}: {e}"));
        }
        result?;
        self.verify_first(stateroot, wanted).map(drop)
    }

    fn undeploy_ahead_of(
        &self,
        stateroot: &str,
        wanted: &str,
        running: &mut Running,
    ) -> Result<()> {
        // Each round removes one deployment; the bound only guards against a sysroot that
        // changes under us.
        for _ in 0..64 {
            let deps = self.list()?;
            let Some(first) = deps.iter().find(|d| d.stateroot == stateroot) else {
                break;
            };
            if first.checksum == wanted {
                return Ok(());
            }
            let id = Id::of(first);
            if first.pinned {
                if !running.owns_pin(&id) {
                    return Err(Failure::new(
                        VERIFY_FAILED,
                        format!(
                            "deployment {id} is pinned (`ostree admin pin`) and is ahead of the wanted one, so it would stay the guest's deployment; unpin it (`ostree-guests unpin NAME` or `ostree admin pin --unpin {}`) or pin the guest to the new deployment (`ostree-guests pin NAME {wanted}`)",
                            first.index
                        ),
                    ));
                }
                running.stop_and_release(self)?;
            }
            self.undeploy(&id)?;
        }
        self.verify_first(stateroot, wanted).map(drop)
    }

    fn keep_previous(
        &self,
        stateroot: &str,
        wanted: &str,
        previous: &Id,
        origin: Option<&[u8]>,
        retain: bool,
    ) -> Result<()> {
        let deps = self.list()?;
        if Self::of_root(&deps, stateroot)
            .iter()
            .any(|d| d.checksum == previous.checksum)
        {
            return Ok(());
        }
        if !self.explicit_sysroot && booted_deployment(&self.layout, &deps).is_some() {
            progress::warn(&format!(
                "on a booted host a guest deploy always lands first, so the previous deployment {previous} cannot be kept behind the new one; bring it back with `ostree-guests upgrade NAME --commit {}`",
                previous.checksum
            ));
            return Ok(());
        }
        let mut origin_file = None;
        if let Some(bytes) = origin.map(strip_transient) {
            let mut f = tempfile::NamedTempFile::new()
                .map_err(|e| Failure::io("creating", Path::new("a temporary origin file"), e))?;
            f.write_all(bytes.as_bytes())
                .map_err(|e| Failure::io("writing", f.path(), e))?;
            origin_file = Some(f);
        }
        progress::step(&format!(
            "keeping the previous commit {} behind it",
            previous.checksum
        ));
        let id = self.deploy(
            stateroot,
            &previous.checksum,
            &previous.checksum,
            retain,
            origin_file.as_ref().map(tempfile::NamedTempFile::path),
        )?;
        let deps = self.list()?;
        if Self::of_root(&deps, stateroot)
            .first()
            .is_some_and(|d| id.is(d))
        {
            progress::warn(&format!(
                "the redeployed previous commit landed first; removing it again so {wanted} stays the guest's deployment"
            ));
            self.undeploy(&id)?;
        }
        Ok(())
    }

    /// Removes the stateroot's deployments from position `keep` on (in boot order), oldest
    /// first. Pinned deployments and `protect` (what the guest's configuration selects) stay.
    pub fn prune(&self, stateroot: &str, keep: usize, protect: Option<&Id>) -> Result<()> {
        for _ in 0..64 {
            let deps = self.list()?;
            let victim = Self::of_root(&deps, stateroot)
                .into_iter()
                .skip(keep.max(1))
                .rfind(|d| !d.pinned && !protect.is_some_and(|p| p.is(d)))
                .map(Id::of);
            match victim {
                Some(id) => self.undeploy(&id)?,
                None => return Ok(()),
            }
        }
        Ok(())
    }

    /// The stateroot's resolved (auto) deployment must be a deployment of `wanted`.
    pub fn verify_first(&self, stateroot: &str, wanted: &str) -> Result<Deployment> {
        let deps = self.list()?;
        let d = deployment::select(&deps, stateroot, &Pin::Auto)?;
        if d.checksum != wanted {
            return Err(Failure::new(
                VERIFY_FAILED,
                format!(
                    "the guest's resolved deployment of stateroot {stateroot} is {}, not the wanted commit {wanted}; check `ostree admin status`",
                    d.label()
                ),
            ));
        }
        Ok(d.clone())
    }
}

/// The BOOT_FULL failure when `free` bytes cannot take a `kernel`-byte copy plus the margin.
pub fn boot_space_error(boot: &Path, free: u64, kernel: u64, commit: &str) -> Option<Failure> {
    let needed = kernel.saturating_add(BOOT_MARGIN);
    (free < needed).then(|| {
        Failure::new(
            BOOT_FULL,
            format!(
                "not enough space in {}: {} free, but deploying {commit} copies its kernel and initramfs there ({}) and needs about {} with the margin; every guest deployment adds a kernel copy and a boot entry. Free space with `ostree-guests upgrade NAME --keep 1` or by removing unused guests",
                boot.display(),
                mib(free),
                mib(kernel),
                mib(needed)
            ),
        )
    })
}

/// The origin without `[libostree-transient]` (pinned=true must not carry over to a redeploy).
fn strip_transient(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut skip = false;
    for line in text.lines() {
        if line.trim_start().starts_with('[') {
            skip = line.trim() == "[libostree-transient]";
        }
        if !skip {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_boot_directory_is_refused_with_the_numbers() {
        let f =
            boot_space_error(Path::new("/boot"), 3 * 1024 * 1024, 80 * 1024 * 1024, "abc").unwrap();
        assert_eq!(f.code, BOOT_FULL);
        assert!(
            f.message.contains("3.0 MiB free") && f.message.contains("81.0 MiB"),
            "{}",
            f.message
        );
        assert!(
            boot_space_error(
                Path::new("/boot"),
                200 * 1024 * 1024,
                80 * 1024 * 1024,
                "abc"
            )
            .is_none()
        );
    }

    #[test]
    fn transient_section_is_dropped_from_origins() {
        let o = b"[origin]\nrefspec=guest/x86_64\n\n[libostree-transient]\npinned=true\n";
        assert_eq!(strip_transient(o), "[origin]\nrefspec=guest/x86_64\n\n");
    }
}
