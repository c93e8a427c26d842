//! `[[bind]]` sources, opened once and checked where they really are, then bound into the
//! staging directory so that nspawn gets a path nobody can redirect (docs/DESIGN.md, "Host
//! safety model").
//!
//! The configuration's strings were checked when it was loaded, but a string is not a place:
//! `/srv/data` may be a symlink to `/`, and a `+/etc/appdata` path lies in the guest's own
//! writable /etc, where the guest can plant a symlink before its next start. So each source is
//! opened as an `O_PATH` descriptor, the descriptor's real path is checked, and the very object
//! behind it is bound through `/proc/self/fd`: nothing is looked up twice.

use std::fs;
use std::os::fd::{AsFd, AsRawFd as _, OwnedFd};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result};
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, open, openat2};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, SFlag, fstat};
use ostree_guests::bind_source::{self, HostPlaces, Refusal};
use ostree_guests::config::Bind;
use ostree_guests::guest_path;

/// Why a source cannot be bound, split by whether a later start could succeed.
#[derive(Debug)]
pub enum BindError {
    /// It exposes the host or leaves the guest: no retry can change that.
    Refused(String),
    /// It could not be opened or bound (missing, I/O): may heal, e.g. a mount not yet up.
    Failed(anyhow::Error),
}

/// What a host source must not reach, as real paths in the helper's namespace.
#[derive(Debug)]
pub struct HostRules {
    pub sysroot: PathBuf,
    pub boot: PathBuf,
    pub boot_writable: bool,
}

/// Where `+/path` sources are looked up: the guest's deployment, and its stateroot's var for
/// paths that the deployment sends to /var (OSTree's /srv, /home, /opt, ... links).
#[derive(Debug)]
pub struct GuestRoots<'a> {
    pub deployment: &'a Path,
    pub var: &'a Path,
}

/// The reason a host source (already resolved to `real`) may not be bound, if any: the
/// library's one rule (`bind_source`) with the real sysroot and boot directory, worded for the
/// unit's log.
pub fn host_refusal(real: &Path, read_only: bool, rules: &HostRules) -> Option<String> {
    let places = HostPlaces {
        physical_roots: &[&rules.sysroot],
        boot: &rules.boot,
    };
    let refusal = bind_source::host_source_refusal(real, read_only, rules.boot_writable, &places)?;
    Some(match refusal {
        Refusal::HostRoot => "is the host's root directory".to_owned(),
        Refusal::Proc => {
            "is in /proc, whose links reach other processes' root directories".to_owned()
        }
        Refusal::PhysicalRoot(root) => format!(
            "exposes the host's physical root {} (every stateroot, the host's /var, the OSTree repository)",
            root.display()
        ),
        Refusal::BootWritable(boot) => format!(
            "would make the host's boot directory {} writable; add read-only = true, or set boot-writable = true",
            boot.display()
        ),
    })
}

/// The path the kernel gives the descriptor: the real place, all links resolved.
fn real_path(fd: &OwnedFd) -> Result<PathBuf> {
    let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
    fs::read_link(&link).with_context(|| format!("reading {link}"))
}

fn open_path(path: &Path) -> nix::Result<OwnedFd> {
    open(
        path,
        OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_DIRECTORY,
        Mode::empty(),
    )
}

fn open_host_source(source: &str, bind: &Bind, rules: &HostRules) -> Result<OwnedFd, BindError> {
    let fd = open(source, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .with_context(|| format!("opening the bind source {source}"))
        .map_err(BindError::Failed)?;
    let real = real_path(&fd).map_err(BindError::Failed)?;
    if let Some(why) = host_refusal(&real, bind.read_only, rules) {
        let via = if real.as_os_str() == source {
            String::new()
        } else {
            format!(" (it resolves to {})", real.display())
        };
        return Err(BindError::Refused(format!(
            "bind source {source}{via} {why}"
        )));
    }
    Ok(fd)
}

/// Opens `path` below `root` as the guest would see it: absolute links and `..` stay inside.
fn open_in_root(root: &Path, path: &str) -> Result<(OwnedFd, OwnedFd), BindError> {
    let dir = open_path(root)
        .with_context(|| format!("opening {}", root.display()))
        .map_err(BindError::Failed)?;
    let relative: PathBuf = Path::new(path)
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let relative = if relative.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        relative
    };
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = openat2(dir.as_fd(), &relative, how).map_err(|e| {
        BindError::Refused(format!(
            "cannot be opened inside the guest ({} below {}): {e}",
            relative.display(),
            root.display()
        ))
    })?;
    Ok((dir, fd))
}

fn same_inode(a: &OwnedFd, b: &OwnedFd) -> Result<bool> {
    let (sa, sb) = (fstat(a.as_fd())?, fstat(b.as_fd())?);
    Ok(sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)
}

fn open_guest_source(path: &str, roots: &GuestRoots<'_>) -> Result<OwnedFd, BindError> {
    // Where the deployment's own links send the path: /srv/x is var/srv/x, which the guest sees
    // in its stateroot's var, not in the deployment's empty var directory.
    let seen = guest_path::resolve(roots.deployment, path);
    let (root, inside) = match seen.strip_prefix("/var") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => (roots.var, rest.to_owned()),
        _ => (roots.deployment, seen.clone()),
    };
    let (dir, fd) = open_in_root(root, &inside).map_err(|e| match e {
        BindError::Refused(why) => {
            let via = if seen == path {
                String::new()
            } else {
                format!(" (the guest's links lead to {seen})")
            };
            BindError::Refused(format!("bind source +{path}{via} {why}"))
        }
        other => other,
    })?;
    if same_inode(&dir, &fd).map_err(BindError::Failed)? {
        let what = if root == roots.var { "/var" } else { "/" };
        return Err(BindError::Refused(format!(
            "bind source +{path} leads to the guest's {what} itself (the guest's links lead to {seen}); bind a directory inside the guest"
        )));
    }
    Ok(fd)
}

/// Binds the object behind `fd` onto a new file or directory `dst`.
fn bind_fd(fd: &OwnedFd, dst: &Path) -> Result<()> {
    let st = fstat(fd.as_fd()).context("fstat of the bind source")?;
    if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR {
        fs::create_dir(dst).with_context(|| format!("creating {}", dst.display()))?;
    } else {
        fs::write(dst, "").with_context(|| format!("creating {}", dst.display()))?;
    }
    let source = format!("/proc/self/fd/{}", fd.as_raw_fd());
    mount(
        Some(source.as_str()),
        dst,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("bind-mounting the bind source onto {}", dst.display()))
}

/// Opens, checks and stages every bind; `dst(i)` is where bind number `i` goes.
pub fn stage(
    binds: &[Bind],
    rules: &HostRules,
    roots: &GuestRoots<'_>,
    dst: impl Fn(usize) -> PathBuf,
) -> Result<(), BindError> {
    for (i, b) in binds.iter().enumerate() {
        let fd = if b.source.in_guest() {
            open_guest_source(b.source.path(), roots)?
        } else {
            open_host_source(b.source.path(), b, rules)?
        };
        let target = dst(i);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))
                .map_err(BindError::Failed)?;
        }
        bind_fd(&fd, &target)
            .with_context(|| format!("bind[{i}] ({})", b.source.as_str()))
            .map_err(BindError::Failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn rules() -> HostRules {
        HostRules {
            sysroot: PathBuf::from("/sysroot"),
            boot: PathBuf::from("/boot"),
            boot_writable: false,
        }
    }

    #[test]
    fn host_sources_that_expose_the_host() {
        let r = rules();
        for bad in [
            "/",
            "/proc/1/root",
            "/proc",
            "/sysroot",
            "/sysroot/ostree/repo",
        ] {
            assert!(host_refusal(Path::new(bad), true, &r).is_some(), "{bad}");
        }
        assert!(host_refusal(Path::new("/boot"), false, &r).is_some());
        assert!(host_refusal(Path::new("/boot/efi"), false, &r).is_some());
        assert!(host_refusal(Path::new("/boot"), true, &r).is_none());
        let writable = HostRules {
            boot_writable: true,
            ..rules()
        };
        assert!(host_refusal(Path::new("/boot"), false, &writable).is_none());
        for ok in ["/srv/web", "/var/lib/data", "/sysroot2", "/procfs"] {
            assert!(host_refusal(Path::new(ok), false, &r).is_none(), "{ok}");
        }
        // An ancestor of the physical root hands it over too (a test sysroot under /dev/shm).
        let deep = HostRules {
            sysroot: PathBuf::from("/dev/shm/t/sysroot"),
            ..rules()
        };
        assert!(host_refusal(Path::new("/dev/shm/t"), true, &deep).is_some());
        assert!(host_refusal(Path::new("/dev/shm/t/share"), true, &deep).is_none());
    }

    #[test]
    fn guest_sources_never_leave_the_guest() {
        let t = tempfile::tempdir().unwrap();
        let dep = t.path().join("deploy");
        let var = t.path().join("var");
        let outside = t.path().join("host-secret");
        for d in [&dep.join("etc/app"), &var.join("srv/web"), &outside] {
            fs::create_dir_all(d).unwrap();
        }
        symlink("var/srv", dep.join("srv")).unwrap();
        symlink("/", dep.join("etc/to-root")).unwrap();
        symlink(&outside, dep.join("etc/to-host")).unwrap();
        symlink("../../../..", dep.join("etc/up")).unwrap();
        let roots = GuestRoots {
            deployment: &dep,
            var: &var,
        };
        let real = |p: &str| real_path(&open_guest_source(p, &roots).unwrap()).unwrap();
        assert_eq!(real("/etc/app"), dep.join("etc/app"));
        assert_eq!(real("/srv/web"), var.join("srv/web"));
        for escape in ["/etc/to-root", "/etc/up"] {
            match open_guest_source(escape, &roots) {
                Err(BindError::Refused(m)) => assert!(m.contains("itself"), "{m}"),
                other => panic!("{escape}: {other:?}"),
            }
        }
        // An absolute link is the guest's path, looked up in the guest: not on the host.
        match open_guest_source("/etc/to-host", &roots) {
            Err(BindError::Refused(m)) => assert!(m.contains("cannot be opened"), "{m}"),
            Ok(fd) => assert!(real_path(&fd).unwrap().starts_with(&dep)),
            Err(e) => panic!("{e:?}"),
        }
    }
}
