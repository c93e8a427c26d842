//! Shared by the helpers' golden tests.

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};

/// The scenario directories under tests/NAME (repository root), sorted.
pub fn case_dirs(name: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests")
        .join(name);
    let mut v: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

const CSUM: &str = "3a5c1f0e9b7d2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6";
const BOOTCSUM: &str = "b0075e";

/// The layout libostree writes for one deployment of stateroot "web".
pub fn sysroot(dir: &Path) {
    let deploy = dir.join(format!("ostree/deploy/web/deploy/{CSUM}.0"));
    fs::create_dir_all(&deploy).unwrap();
    fs::create_dir_all(dir.join("ostree/deploy/web/var")).unwrap();
    fs::create_dir_all(dir.join("ostree/repo/objects")).unwrap();
    let links = dir.join(format!("ostree/boot.1.1/web/{BOOTCSUM}"));
    fs::create_dir_all(&links).unwrap();
    symlink(
        format!("../../../deploy/web/deploy/{CSUM}.0"),
        links.join("0"),
    )
    .unwrap();
    symlink("boot.1.1", dir.join("ostree/boot.1")).unwrap();
    let entries = dir.join("boot/loader.1/entries");
    fs::create_dir_all(&entries).unwrap();
    fs::write(
        entries.join("ostree-1-web.conf"),
        format!(
            "title Web 1 (ostree:0)\nversion 1\noptions ostree=/ostree/boot.1/web/{BOOTCSUM}/0\n"
        ),
    )
    .unwrap();
    symlink("loader.1", dir.join("boot/loader")).unwrap();
}

/// A config root with modes the loader accepts whatever the checkout's umask was, holding
/// `files` (name in /etc/ostree-guests.d, source file).
pub fn config_root(base: &Path, files: &[(&str, &Path)]) -> PathBuf {
    let cfg = base.join("config");
    let _ = fs::remove_dir_all(&cfg);
    let conf_dir = cfg.join("etc/ostree-guests.d");
    fs::create_dir_all(&conf_dir).unwrap();
    for d in [cfg.clone(), cfg.join("etc"), conf_dir.clone()] {
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    for (name, source) in files {
        let file = conf_dir.join(name);
        fs::copy(source, &file).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    }
    cfg
}
