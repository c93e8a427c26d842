//! Real OSTree sysroots built with the `ostree` CLI (after lib/tests/t1), and a runner for the
//! `ostree-guests` binary pointed at them through OSTREE_GUESTS_ROOT/SYSROOT/BOOT.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ostree_guests::deployment::{self, Deployment, Layout, Pin};

#[path = "../../../tests/support/ostree_status.rs"]
mod ostree_status;
pub use ostree_status::{StatusRow, parse_status, skip_reason};

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

/// A sysroot with a default "host" deployment, plus a config root, under /dev/shm.
pub struct Env {
    _tmp: tempfile::TempDir,
    pub sysroot: PathBuf,
    pub root: PathBuf,
    tree: PathBuf,
    commits: u32,
}

impl Env {
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("cli-sysroot-")
            .tempdir_in("/dev/shm")
            .unwrap();
        let sysroot = tmp.path().join("sysroot");
        let root = tmp.path().join("root");
        let tree = tmp.path().join("tree");
        fs::create_dir_all(&sysroot).unwrap();
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(tree.join("usr/lib/modules/6.1.0")).unwrap();
        fs::create_dir_all(tree.join("usr/etc")).unwrap();
        fs::write(
            tree.join("usr/etc/os-release"),
            "ID=testos\nPRETTY_NAME=\"TestOS 1\"\n",
        )
        .unwrap();
        let mut e = Env {
            _tmp: tmp,
            sysroot,
            root,
            tree,
            commits: 0,
        };
        e.ostree(&["admin", "init-fs", "--modern", e.sysroot_str()]);
        let repo = e.repo_arg();
        e.ostree(&[&repo, "config", "set", "sysroot.bootloader", "none"]);
        e.admin(&["os-init", "host"]);
        e.commit("host/x86_64", "h1");
        e.admin(&["deploy", "--os=host", "host/x86_64"]);
        e
    }

    pub fn sysroot_str(&self) -> &str {
        self.sysroot.to_str().unwrap()
    }

    pub fn repo_arg(&self) -> String {
        format!("--repo={}/ostree/repo", self.sysroot_str())
    }

    pub fn ostree(&self, args: &[&str]) -> String {
        let out = Command::new("ostree")
            .args(args)
            .env("OSTREE_SYSROOT_DEBUG", "mutable-deployments")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ostree {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn admin(&self, args: &[&str]) -> String {
        let (sub, rest) = args.split_first().unwrap();
        let sysroot = format!("--sysroot={}", self.sysroot_str());
        let mut full = vec!["admin", sub, sysroot.as_str()];
        full.extend_from_slice(rest);
        self.ostree(&full)
    }

    pub fn status(&self) -> Vec<StatusRow> {
        parse_status(&self.admin(&["status"]))
    }

    /// Commits a new tree (a changed marker file) on `branch` with version metadata.
    pub fn commit(&mut self, branch: &str, version: &str) -> String {
        self.commits += 1;
        fs::write(self.tree.join("usr/marker"), format!("{}\n", self.commits)).unwrap();
        let modules = self.tree.join("usr/lib/modules/6.1.0");
        fs::write(modules.join("vmlinuz"), "kernel\n").unwrap();
        fs::write(modules.join("initramfs.img"), "initramfs\n").unwrap();
        let repo = self.repo_arg();
        let tree = format!("--tree=dir={}", self.tree.to_str().unwrap());
        let b = format!("--branch={branch}");
        let v = format!("--add-metadata-string=version={version}");
        self.ostree(&[&repo, "commit", "--bootable", &b, &tree, &v])
            .trim()
            .to_owned()
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

    /// A local archive repository as the sysroot's remote `rem`, created on first use; commits
    /// `branch` in the sysroot's repository and publishes it there. Returns the commit.
    pub fn publish(&mut self, branch: &str, version: &str) -> String {
        let remote = self.sysroot.parent().unwrap().join("remote-repo");
        let rrepo = format!("--repo={}", remote.display());
        if !remote.exists() {
            self.ostree(&[&rrepo, "init", "--mode=archive"]);
            let url = format!("file://{}", remote.display());
            self.ostree(&[
                &self.repo_arg(),
                "remote",
                "add",
                "--no-gpg-verify",
                "rem",
                &url,
            ]);
        }
        let sysrepo = format!("{}/ostree/repo", self.sysroot_str());
        let commit = self.commit(branch, version);
        self.ostree(&[&rrepo, "pull-local", &sysrepo, branch]);
        commit
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

impl Drop for Env {
    fn drop(&mut self) {
        // Deployments made without OSTREE_SYSROOT_DEBUG are immutable; TempDir must remove them.
        ostree_status::clear_immutable_deployments(&self.sysroot);
    }
}

pub fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}
