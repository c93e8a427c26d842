//! The private mount namespace that both the start helper and the CLI's sysroot writers work in.
//!
//! Everything here happens in a namespace of our own, so the host never sees these mounts: the
//! sysroot made a writable mount point (Fedora ≥ 37 mounts /sysroot read-only; the guest's /etc
//! and /var live on it, and `ostree admin os-init` does not remount it itself). The helper's
//! staging binds build on `bind`.

use std::fmt;
use std::fs;
use std::path::Path;

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};

/// What failed and why, printed as "what: why" (the callers put it in their exit message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountError(String);

impl MountError {
    fn new(what: impl fmt::Display, why: impl fmt::Display) -> Self {
        Self(format!("{what}: {why}"))
    }
}

impl fmt::Display for MountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MountError {}

pub type Result<T, E = MountError> = std::result::Result<T, E>;

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
    let text = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| MountError::new("reading /proc/self/mountinfo", e))?;
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

/// A recursive bind mount of `src` on `dst`.
pub fn bind(src: &Path, dst: &Path) -> Result<()> {
    mount(
        Some(src),
        dst,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| {
        MountError::new(
            format_args!("bind-mounting {} on {}", src.display(), dst.display()),
            e,
        )
    })
}

/// Enters a private mount namespace where host mount events still arrive (slave) but ours
/// never leave.
pub fn enter_private_namespace() -> Result<()> {
    unshare(CloneFlags::CLONE_NEWNS)
        .map_err(|e| MountError::new("creating a private mount namespace (unshare)", e))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| MountError::new("making / a slave mount in the private namespace", e))?;
    Ok(())
}

/// nspawn's --pivot-root needs --directory to be a mount point, and the guest's /etc and /var
/// must be writable even where the host mounts the sysroot read-only.
pub fn prepare_sysroot(sysroot: &Path) -> Result<()> {
    let info = match mount_at(sysroot)? {
        Some(i) => i,
        None => {
            bind(sysroot, sysroot)?;
            mount_at(sysroot)?.ok_or_else(|| {
                MountError(format!(
                    "{} is not a mount point after binding it",
                    sysroot.display()
                ))
            })?
        }
    };
    if info.options.iter().any(|o| o == "ro") {
        let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | kept_flags(&info.options);
        mount(None::<&str>, sysroot, None::<&str>, flags, None::<&str>).map_err(|e| {
            MountError::new(
                format_args!(
                    "{} is mounted read-only and could not be made writable in the guest's mount namespace (is the filesystem itself read-only?)",
                    sysroot.display()
                ),
                e,
            )
        })?;
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

    #[test]
    fn errors_read_as_what_then_why() {
        let e = MountError::new("bind-mounting /a on /b", nix::errno::Errno::EPERM);
        assert_eq!(
            e.to_string(),
            format!("bind-mounting /a on /b: {}", nix::errno::Errno::EPERM)
        );
    }
}
