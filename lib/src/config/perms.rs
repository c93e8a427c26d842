//! Ownership and mode checks on configuration files and directories, like sshd's StrictModes:
//! a guest configuration decides what runs as root with the host's sysroot, so anyone who can
//! write it can become root. Refused files are reported with the command that fixes them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why `path`, owned by `uid` with `mode` (from `stat`), must not be trusted, or None. Owners
/// other than root are accepted only when they are the user running us (a developer validating
/// a tree they own).
pub fn problem(uid: u32, mode: u32, path: &Path) -> Option<String> {
    // Asked once per process, not once per file.
    static OURS: std::sync::LazyLock<u32> =
        std::sync::LazyLock::new(|| nix::unistd::geteuid().as_raw());
    let ours = *OURS;
    if uid != 0 && uid != ours {
        return Some(format!(
            "owned by uid {uid}, not root, so it is ignored (anyone who can write it controls what runs as root); fix: chown root: {}",
            path.display()
        ));
    }
    let mode = mode & 0o7777;
    if mode & 0o022 != 0 {
        return Some(format!(
            "writable by group or others (mode {mode:04o}), so it is ignored; fix: chmod go-w {}",
            path.display()
        ));
    }
    None
}

/// Why a directory on the way to a configuration file, owned by `uid` with `mode`, lets someone
/// other than root (or us) swap what the path leads to, or None. Unlike the configuration
/// directories themselves, a sticky directory (`/tmp`, `/dev/shm`) that others can write is
/// accepted here: they may add names to it but neither rename nor remove ours, so the path
/// through it stays ours.
pub fn ancestor_problem(uid: u32, mode: u32, dir: &Path) -> Option<String> {
    // The sticky bit (S_ISVTX), spelled out: its libc type differs between targets.
    let sticky = mode & 0o1000 != 0;
    let checked = if sticky { mode & !0o022 } else { mode };
    problem(uid, checked, dir).map(|p| {
        format!(
            "its path goes through the directory {}, which is {p}",
            dir.display()
        )
    })
}

/// The directories on a configuration file's resolved path, from the file's own directory up
/// to `/` (the real one: with `OSTREE_GUESTS_ROOT` the walk goes on above the prefix), each
/// checked once per run: most files share them.
#[derive(Default)]
pub struct PathChecks {
    verdicts: HashMap<PathBuf, Option<String>>,
    /// The verdict per configuration directory, for the plain files in it (nearly all).
    by_dir: HashMap<PathBuf, Option<String>>,
}

impl PathChecks {
    /// For a link, the directories of its target after every link is resolved; for a plain
    /// file, those of its directory.
    pub fn problem_of_file(&mut self, disk: &Path, linked: bool) -> Option<String> {
        let parent = disk.parent().unwrap_or(Path::new("/"));
        if !linked && let Some(v) = self.by_dir.get(parent) {
            return v.clone();
        }
        let dir = if linked {
            std::fs::canonicalize(disk).map(|p| p.parent().map(Path::to_owned).unwrap_or_default())
        } else {
            std::fs::canonicalize(parent)
        };
        let verdict = match dir {
            Ok(dir) => self.problem_of_dirs(&dir),
            Err(e) => Some(format!(
                "its resolved path cannot be checked ({}: {e})",
                disk.display()
            )),
        };
        if !linked {
            self.by_dir.insert(parent.to_owned(), verdict.clone());
        }
        verdict
    }

    fn problem_of_dirs(&mut self, dir: &Path) -> Option<String> {
        dir.ancestors().find_map(|d| {
            self.verdicts
                .entry(d.to_owned())
                .or_insert_with(|| match nix::sys::stat::lstat(d) {
                    Ok(st) => ancestor_problem(st.st_uid, st.st_mode, d),
                    Err(e) => Some(format!(
                        "its directory {} cannot be checked: {e}",
                        d.display()
                    )),
                })
                .clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::MetadataExt as _;
    use std::os::unix::fs::PermissionsExt as _;

    fn problem_of_file(f: &Path, shown: &str) -> Option<String> {
        let m = fs::metadata(f).unwrap();
        problem(m.uid(), m.mode(), Path::new(shown))
    }

    #[test]
    fn group_or_world_writable_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("web.toml");
        fs::write(&f, "autostart = true\n").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(problem_of_file(&f, "/etc/x.toml"), None);
        for mode in [0o664, 0o646, 0o666] {
            fs::set_permissions(&f, fs::Permissions::from_mode(mode)).unwrap();
            let p = problem_of_file(&f, "/etc/x.toml").unwrap();
            assert!(p.contains("chmod go-w /etc/x.toml"), "{p}");
        }
    }

    #[test]
    fn a_sticky_directory_on_the_path_counts_as_ours_a_plain_writable_one_does_not() {
        let d = Path::new("/x");
        assert_eq!(ancestor_problem(0, 0o41777, d), None);
        assert_eq!(ancestor_problem(0, 0o40755, d), None);
        let p = ancestor_problem(0, 0o40777, d).unwrap();
        assert!(
            p.contains("directory /x") && p.contains("chmod go-w /x"),
            "{p}"
        );
        assert!(ancestor_problem(0, 0o40775, d).is_some());
        if nix::unistd::geteuid().is_root() {
            assert!(ancestor_problem(1234, 0o41777, d).is_some());
        }
    }

    #[test]
    fn foreign_owner_is_refused_when_we_are_root() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIP foreign_owner_is_refused_when_we_are_root: needs root to chown");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("web.toml");
        fs::write(&f, "autostart = true\n").unwrap();
        nix::unistd::chown(&f, Some(nix::unistd::Uid::from_raw(1234)), None).unwrap();
        let p = problem_of_file(&f, "/etc/x.toml").unwrap();
        assert!(
            p.contains("owned by uid 1234") && p.contains("chown root: /etc/x.toml"),
            "{p}"
        );
    }
}
