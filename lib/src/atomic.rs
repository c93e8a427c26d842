//! Replacing a file so that a reader (systemd reloading, the network stack, our own loader)
//! never sees a torn one. Relative to an open directory: the generator writes hundreds of files
//! and must not look its output path up again for each (docs/PERFORMANCE.md).
//!
//! The temporary name is `.#NAME.PID` beside the file: dot files are skipped by systemd, by
//! NetworkManager and by our loader, so a crash leaves nothing that is read. It is created
//! `O_EXCL | O_NOFOLLOW`, so a link planted at that name is never followed, and a stale file
//! there (a crashed run whose PID came round again) is removed and the creation retried once.

use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::{AsFd, OwnedFd};

use nix::fcntl::{OFlag, openat, renameat};
use nix::sys::stat::{Mode, fchmod};
use nix::unistd::{UnlinkatFlags, unlinkat};

/// How [`replace_at`] leaves the file.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Permission bits to create with.
    pub mode: u32,
    /// Set `mode` exactly, whatever the umask (configuration that group or others can write is
    /// refused by the loader, and that checks the bits as they are).
    pub exact_mode: bool,
    /// fsync the file before the rename: for files that must survive a power cut (not `/run`).
    pub sync: bool,
}

/// Creates `rel` (relative to `dir`) as a new file holding `contents`; fails if anything,
/// a link included, is at that name.
pub fn create_new_at(dir: &impl AsFd, rel: &str, contents: &[u8], mode: u32) -> io::Result<()> {
    write_new(dir, rel, contents, mode).map(drop)
}

fn write_new(dir: &impl AsFd, rel: &str, contents: &[u8], mode: u32) -> io::Result<File> {
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd: OwnedFd = openat(dir, rel, flags, Mode::from_bits_truncate(mode))?;
    let mut file = File::from(fd);
    file.write_all(contents)?;
    Ok(file)
}

/// `parent/.#name.PID` for `rel` = `parent/name`.
pub fn temporary_name(rel: &str) -> String {
    let (parent, name) = rel.rsplit_once('/').map_or(("", rel), |(p, n)| (p, n));
    let pid = std::process::id();
    if parent.is_empty() {
        format!(".#{name}.{pid}")
    } else {
        format!("{parent}/.#{name}.{pid}")
    }
}

/// Replaces `rel` (relative to `dir`, which must exist) with `contents`, atomically.
pub fn replace_at(dir: &impl AsFd, rel: &str, contents: &[u8], opts: Options) -> io::Result<()> {
    if rel.is_empty() || rel.starts_with('/') || rel.ends_with('/') {
        return Err(io::Error::other("not a relative file path"));
    }
    let tmp = temporary_name(rel);
    let write = || -> io::Result<()> {
        let file = match write_new(dir, &tmp, contents, opts.mode) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                remove(dir, &tmp);
                write_new(dir, &tmp, contents, opts.mode)?
            }
            other => other?,
        };
        if opts.exact_mode {
            fchmod(&file, Mode::from_bits_truncate(opts.mode))?;
        }
        if opts.sync {
            file.sync_all()?;
        }
        Ok(renameat(dir, tmp.as_str(), dir, rel)?)
    };
    write().inspect_err(|_| remove(dir, &tmp))
}

fn remove(dir: &impl AsFd, rel: &str) {
    // Best effort: what cannot be removed is a dot file nobody reads.
    let _ = unlinkat(dir, rel, UnlinkatFlags::NoRemoveDir);
}

/// Opens `path` as a directory for the `*at` calls above.
pub fn open_dir(path: &std::path::Path) -> io::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    Ok(nix::fcntl::open(path, flags, Mode::empty())?)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::{PermissionsExt as _, symlink};

    use super::*;

    const OPTS: Options = Options {
        mode: 0o640,
        exact_mode: true,
        sync: false,
    };

    #[test]
    fn replaces_with_the_exact_mode_and_leaves_no_temporary_file() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("d")).unwrap();
        fs::write(t.path().join("d/f"), "old").unwrap();
        let dir = open_dir(t.path()).unwrap();
        replace_at(&dir, "d/f", b"new", OPTS).unwrap();
        assert_eq!(fs::read_to_string(t.path().join("d/f")).unwrap(), "new");
        let mode = fs::metadata(t.path().join("d/f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o640);
        assert_eq!(fs::read_dir(t.path().join("d")).unwrap().count(), 1);
    }

    #[test]
    fn a_link_at_the_temporary_name_is_replaced_not_followed() {
        let t = tempfile::tempdir().unwrap();
        let victim = t.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        symlink(&victim, t.path().join(temporary_name("f"))).unwrap();
        let dir = open_dir(t.path()).unwrap();
        replace_at(&dir, "f", b"data", OPTS).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(fs::read_to_string(t.path().join("f")).unwrap(), "data");
        assert!(fs::symlink_metadata(t.path().join(temporary_name("f"))).is_err());
    }

    #[test]
    fn create_new_refuses_an_existing_name_and_a_link() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("f"), "").unwrap();
        symlink(t.path().join("nowhere"), t.path().join("l")).unwrap();
        let dir = open_dir(t.path()).unwrap();
        assert!(create_new_at(&dir, "f", b"x", 0o644).is_err());
        assert!(create_new_at(&dir, "l", b"x", 0o644).is_err());
        assert!(!t.path().join("nowhere").exists());
    }

    #[test]
    fn a_failed_rename_removes_the_temporary_file() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("d/sub")).unwrap();
        fs::write(t.path().join("d/sub/x"), "").unwrap();
        let dir = open_dir(t.path()).unwrap();
        assert!(replace_at(&dir, "d/sub", b"x", OPTS).is_err());
        assert_eq!(fs::read_dir(t.path().join("d")).unwrap().count(), 1);
    }
}
