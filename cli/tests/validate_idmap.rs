//! `ostree-guests validate` warns, before any start, when a user-namespaced guest binds a source
//! that cannot be idmapped (the start would fail with exit status 100). Needs root to mount a
//! ramfs; says SKIP otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use std::fs;
use std::process::Command;

#[test]
fn validate_warns_about_a_ramfs_bind_source() {
    if !nix::unistd::geteuid().is_root() {
        println!("SKIP: validate_warns_about_a_ramfs_bind_source: needs root to mount a ramfs");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ramfs = dir.path().join("ramfs");
    fs::create_dir(&ramfs).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "ramfs", "ramfs"])
        .arg(&ramfs)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount -t ramfs");
    let validate = |extra: &str| {
        let file = dir.path().join("web.toml");
        fs::write(
            &file,
            format!(
                "{extra}[[bind]]\nsource = \"{}\"\ntarget = \"/mnt/r\"\n",
                ramfs.display()
            ),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_ostree-guests"))
            .arg("validate")
            .arg(&file)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = validate("");
    let (privileged_code, privileged_err) = validate("[security]\nprivate-users = \"no\"\n");
    let _ = Command::new("umount").arg(&ramfs).status();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("bind[0].source") && err.contains("ramfs") && err.contains("exit status 100"),
        "{err}"
    );
    assert_eq!(privileged_code, Some(0), "{privileged_err}");
    assert!(!privileged_err.contains("ramfs"), "{privileged_err}");
}
