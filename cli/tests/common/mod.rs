//! Real OSTree sysroots built with the `ostree` CLI (lib/tests/t1's), and a runner for the
//! `ostree-guests` binary pointed at them through OSTREE_GUESTS_ROOT/SYSROOT/BOOT.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ostree_guests::deployment::{self, Deployment, Layout, Pin};

#[path = "../../../lib/tests/t1/mod.rs"]
mod t1;
use t1::{Meta, Sysroot};
pub use t1::{StatusRow, skip_reason};

#[macro_export]
macro_rules! skip_unless_possible {
    ($test:expr) => {
        if let Some(why) = common::skip_reason() {
            eprintln!("SKIP: {}: {why}", $test);
            println!("SKIP: {}: {why}", $test);
            return;
        }
    };
}

/// A sysroot with a default "host" deployment, plus a config root beside it, under /dev/shm.
pub struct Env {
    sys: Sysroot,
    pub sysroot: PathBuf,
    pub root: PathBuf,
}

impl Env {
    pub fn new() -> Self {
        let mut sys = Sysroot::new(&["host"]);
        let root = sys.scratch().join("root");
        fs::create_dir_all(&root).unwrap();
        sys.commit("host/x86_64", Meta::Version("h1"), 0);
        sys.admin(&["deploy", "--os=host", "host/x86_64"]);
        Env {
            sysroot: sys.path.clone(),
            sys,
            root,
        }
    }

    pub fn sysroot_str(&self) -> &str {
        self.sys.path_str()
    }

    pub fn repo_arg(&self) -> String {
        format!("--repo={}/ostree/repo", self.sysroot_str())
    }

    pub fn ostree(&self, args: &[&str]) -> String {
        self.sys.ostree(args)
    }

    pub fn admin(&self, args: &[&str]) -> String {
        self.sys.admin(args)
    }

    pub fn status(&self) -> Vec<StatusRow> {
        self.sys.status()
    }

    /// Commits a new tree (a changed marker file) on `branch` with version metadata.
    pub fn commit(&mut self, branch: &str, version: &str) -> String {
        self.sys.commit(branch, Meta::Version(version), 0)
    }

    /// Commits `version` on `pub/x86_64` and publishes it in a local archive repository, the
    /// remote `rem` (added the first time); returns the commit.
    pub fn publish(&mut self, version: &str) -> String {
        let remote = self.sys.scratch().join("remote-repo");
        let rrepo = format!("--repo={}", remote.display());
        if !remote.exists() {
            self.ostree(&[&rrepo, "init", "--mode=archive"]);
            let url = format!("file://{}", remote.display());
            let repo = self.repo_arg();
            self.ostree(&[&repo, "remote", "add", "--no-gpg-verify", "rem", &url]);
        }
        let commit = self.commit("pub/x86_64", version);
        let sysrepo = format!("{}/ostree/repo", self.sysroot_str());
        self.ostree(&[&rrepo, "pull-local", &sysrepo, "pub/x86_64"]);
        commit
    }

    pub fn layout(&self) -> Layout {
        Layout::for_sysroot(&self.sysroot)
    }

    /// What `ostree-guest-start --dry-run` would boot for an unpinned guest of `stateroot`.
    pub fn resolved(&self, stateroot: &str) -> Option<Deployment> {
        let deps = deployment::list_deployments(&self.layout()).unwrap();
        deployment::select(&deps, stateroot, &Pin::Auto)
            .ok()
            .cloned()
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        self.with_env(&mut Command::new(env!("CARGO_BIN_EXE_ostree-guests")))
            .args(args)
            .output()
            .unwrap()
    }

    /// `command` pointed at this sysroot and config root, as every CLI run of the tests is.
    pub fn with_env<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command
            .env("OSTREE_GUESTS_ROOT", &self.root)
            .env("OSTREE_GUESTS_SYSROOT", &self.sysroot)
            .env("OSTREE_GUESTS_BOOT", self.sysroot.join("boot"))
            .env("OSTREE_SYSROOT_DEBUG", "mutable-deployments")
            .stdin(std::process::Stdio::null())
    }

    /// Runs the CLI under a pseudo-terminal (util-linux `script`); returns its exit status and
    /// everything it wrote there, or None (after a loud SKIP line for `test`) without `script`.
    pub fn on_a_terminal(&self, test: &str, args: &str) -> Option<(Option<i32>, String)> {
        if Command::new("script").arg("--version").output().is_err() {
            println!("SKIP: {test}: no script(1) (util-linux)");
            return None;
        }
        let out = self
            .with_env(&mut Command::new("script"))
            .args(["-qec", &format!("exec \"$OG_CLI\" {args}"), "/dev/null"])
            .env("OG_CLI", env!("CARGO_BIN_EXE_ostree-guests"))
            .output()
            .unwrap();
        Some((
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ))
    }

    /// Runs the CLI and asserts its exit status; returns (stdout, stderr).
    pub fn cli_ok(&self, args: &[&str], code: i32) -> (String, String) {
        let out = self.cli(args);
        let (so, se) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "ostree-guests {args:?}\nstdout:\n{so}\nstderr:\n{se}"
        );
        (so, se)
    }

    pub fn config(&self, rel: &str) -> PathBuf {
        self.root.join("etc/ostree-guests.d").join(rel)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.sysroot.join(rel)
    }
}

pub fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}
