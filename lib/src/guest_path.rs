//! Where a path of the guest really is, given the guest's root directory on the host.
//!
//! OSTree deployments make /home, /srv, /opt, /mnt (and /usr/local) symlinks into /var. nspawn
//! orders bind mounts by their target *string*, so a bind onto /srv/web would be mounted through
//! the deployment's empty var/ before the stateroot's /var is mounted over it, and vanish.
//! Resolving targets through the deployment's symlinks first (/srv/web → /var/srv/web) puts them
//! after /var. Only the deployment's own tree is read (lstat/readlink), never the guest's /var.

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};

/// Symlinks followed before giving up, like the kernel's limit.
const MAX_HOPS: usize = 40;

/// Resolves the absolute guest path `path` against `root`, following symlinks found in `root`.
/// Components that do not exist are kept as they are; on a symlink loop the path is returned
/// unchanged.
pub fn resolve(root: &Path, path: &str) -> String {
    let mut pending: VecDeque<String> = split(path);
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    let mut exists = true;
    while let Some(c) = pending.pop_front() {
        if c == "." {
            continue;
        }
        if c == ".." {
            done.pop();
            continue;
        }
        if !exists {
            done.push(c);
            continue;
        }
        let here: PathBuf = done.iter().fold(root.to_owned(), |p, d| p.join(d)).join(&c);
        match fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                let Ok(link) = fs::read_link(&here) else {
                    done.push(c);
                    continue;
                };
                if hops > MAX_HOPS {
                    return path.to_owned();
                }
                let link = link.to_string_lossy().into_owned();
                if link.starts_with('/') {
                    done.clear();
                }
                for (i, part) in split(&link).into_iter().enumerate() {
                    pending.insert(i, part);
                }
            }
            Ok(_) => done.push(c),
            Err(_) => {
                exists = false;
                done.push(c);
            }
        }
    }
    format!("/{}", done.join("/"))
}

fn split(path: &str) -> VecDeque<String> {
    path.split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn follows_the_ostree_var_links() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("var")).unwrap();
        fs::create_dir_all(r.join("usr/share")).unwrap();
        symlink("var/srv", r.join("srv")).unwrap();
        symlink("var/mnt", r.join("mnt")).unwrap();
        symlink("../var/usrlocal", r.join("usr/local")).unwrap();
        symlink("/var/roothome", r.join("root")).unwrap();
        assert_eq!(resolve(r, "/srv/web"), "/var/srv/web");
        assert_eq!(resolve(r, "/mnt/ro/"), "/var/mnt/ro");
        assert_eq!(resolve(r, "/usr/local/bin"), "/var/usrlocal/bin");
        assert_eq!(resolve(r, "/root/.ssh"), "/var/roothome/.ssh");
        assert_eq!(resolve(r, "/usr/share/doc"), "/usr/share/doc");
        assert_eq!(resolve(r, "/data/x"), "/data/x");
    }

    #[test]
    fn loops_and_escapes_stay_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        symlink("loop", r.join("loop")).unwrap();
        assert_eq!(resolve(r, "/loop/x"), "/loop/x");
        symlink("../../../../etc", r.join("up")).unwrap();
        assert_eq!(resolve(r, "/up/passwd"), "/etc/passwd");
    }
}
