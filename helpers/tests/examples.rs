//! Every configuration the documentation offers must give a guest that starts: the examples in
//! conf.d/ and the README's Butane file go through the real generator and the real start
//! helper's dry run, on the golden tests' sysroot. A change of defaults (such as user
//! namespaces) that made one of them invalid fails here, not on a user's host.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The TOML under `inline: |` in the README's Butane example.
fn readme_butane(dir: &Path) -> PathBuf {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("inline: |\n")
        .expect("the README has a Butane example with an inline TOML file");
    let indent = "          ";
    let toml: String = readme[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with(indent))
        .map(|l| format!("{}\n", &l[indent.len()..]))
        .collect();
    assert!(toml.contains("profile"), "{toml}");
    let file = dir.join("butane.toml");
    fs::write(&file, toml).unwrap();
    file
}

fn run(program: &str, args: &[&str], cfg: &Path, sysroot: &Path) -> Output {
    Command::new(program)
        .args(args)
        .env("OSTREE_GUESTS_ROOT", cfg)
        .env("OSTREE_GUESTS_SYSROOT", sysroot)
        .env("OSTREE_GUESTS_BOOT", sysroot.join("boot"))
        .output()
        .unwrap()
}

fn generator() -> PathBuf {
    // The generator is another package's binary: built by the workspace's test run.
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_ostree-guest-start"));
    exe.with_file_name("ostree-guests-generator")
}

#[test]
fn every_documented_example_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let sysroot = tmp.path().join("sysroot");
    common::sysroot(&sysroot);
    let bridge = repo().join("conf.d/br0.bridge.toml");
    let mut examples: Vec<PathBuf> = fs::read_dir(repo().join("conf.d"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "toml")
                && !p.to_string_lossy().ends_with(".bridge.toml")
        })
        .collect();
    examples.sort();
    assert!(examples.len() >= 3, "{examples:?}");
    examples.push(readme_butane(tmp.path()));
    let gen_exe = generator();
    if !gen_exe.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "ostree-guests-generator"])
            .status()
            .unwrap();
        assert!(status.success(), "building the generator");
    }
    for example in &examples {
        let label = example.file_name().unwrap().to_string_lossy().into_owned();
        let cfg = common::config_root(
            tmp.path(),
            &[("web.toml", example), ("br0.bridge.toml", &bridge)],
        );
        let out = run(gen_exe.to_str().unwrap(), &["--dry-run"], &cfg, &sysroot);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{label}: generator: {stderr}");
        assert!(
            stdout.contains("ExecStart=/usr/libexec/ostree-guests/ostree-guest-start")
                && !stdout.contains("--config-error"),
            "{label}: {stdout}"
        );
        let out = run(
            env!("CARGO_BIN_EXE_ostree-guest-start"),
            &["--dry-run", "--no-register", "web"],
            &cfg,
            &sysroot,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{label}: helper --dry-run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("  systemd-nspawn\n"),
            "{label}"
        );
    }
}
