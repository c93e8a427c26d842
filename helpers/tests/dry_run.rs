//! Golden tests of the nspawn command line: the real `ostree-guest-start --dry-run` runs
//! against a small hand-made sysroot (boot entries, bootlinks, a deployment directory) with
//! each configuration under tests/helper/CASE/web.toml, and its output must equal
//! tests/helper/CASE/expected.stdout (paths of the temporary sysroot shown as {sysroot}).
//! UPDATE_GOLDEN=1 rewrites the expectations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

#[path = "../../tests/support/update_golden.rs"]
mod update_golden;

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

const CSUM: &str = "3a5c1f0e9b7d2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6";
const BOOTCSUM: &str = "b0075e";

/// The layout libostree writes for one deployment of stateroot "web".
fn sysroot(dir: &Path) {
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

fn cases() -> Vec<PathBuf> {
    common::case_dirs("helper")
}

/// A config root with modes the loader accepts whatever the checkout's umask was.
fn config_root(base: &Path, toml: &Path) -> PathBuf {
    let cfg = base.join("config");
    let _ = fs::remove_dir_all(&cfg);
    let conf_dir = cfg.join("etc/ostree-guests.d");
    fs::create_dir_all(&conf_dir).unwrap();
    for d in [cfg.clone(), cfg.join("etc"), conf_dir.clone()] {
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let file = conf_dir.join("web.toml");
    fs::copy(toml, &file).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    cfg
}

#[test]
fn dry_run_argv_matches_golden_files() {
    let update = update_golden::update_golden();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sysroot");
    sysroot(&root);
    let all = cases();
    assert!(
        all.len() >= 10,
        "expected the cases under tests/helper, found {}",
        all.len()
    );
    for case in &all {
        let cfg = config_root(tmp.path(), &case.join("web.toml"));
        let out = Command::new(env!("CARGO_BIN_EXE_ostree-guest-start"))
            .args(["--dry-run", "--no-register", "web"])
            .env("OSTREE_GUESTS_ROOT", &cfg)
            .env("OSTREE_GUESTS_SYSROOT", &root)
            .env("OSTREE_GUESTS_BOOT", root.join("boot"))
            .output()
            .unwrap();
        let text = format!(
            "{}{}exit status: {}\n",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status
                .code()
                .map_or("signal".to_owned(), |c| c.to_string())
        )
        .replace(&root.display().to_string(), "{sysroot}");
        let expected = case.join("expected.stdout");
        if update {
            fs::write(&expected, &text).unwrap();
        } else {
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            similar_asserts::assert_eq!(
                fs::read_to_string(&expected).unwrap_or_default(),
                text,
                "{name}"
            );
        }
    }
}
