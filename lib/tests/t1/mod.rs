//! Real OSTree sysroots built with the `ostree` CLI, and a parser for `ostree admin status`.
//! The CLI's tests use it too (cli/tests/common), through a `#[path]` module.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../../../tests/support/ostree_status.rs"]
mod ostree_status;
pub use ostree_status::{StatusRow, parse_status, skip_reason};

/// What a new commit's metadata carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta<'a> {
    Version(&'a str),
    NoVersion,
    /// `version` as a GVariant int32: not a version for `ostree admin status`.
    IntVersion,
    /// A version plus 70 KB of other metadata, so the commit needs 4-byte framing offsets.
    BigVersion(&'a str),
}

/// A sysroot in a scratch directory under /dev/shm.
pub struct Sysroot {
    tmp: tempfile::TempDir,
    pub path: PathBuf,
    tree: PathBuf,
    commits: u32,
}

impl Sysroot {
    /// `init-fs --modern`, bootloader none, and `os-init` for each stateroot.
    pub fn new(stateroots: &[&str]) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("t1-sysroot-")
            .tempdir_in("/dev/shm")
            .unwrap();
        let path = tmp.path().join("sysroot");
        let tree = tmp.path().join("tree");
        fs::create_dir_all(&path).unwrap();
        fs::create_dir_all(tree.join("usr/lib/modules/6.1.0")).unwrap();
        fs::create_dir_all(tree.join("usr/etc")).unwrap();
        fs::write(
            tree.join("usr/etc/os-release"),
            "ID=testos\nPRETTY_NAME=\"TestOS 1\"\n",
        )
        .unwrap();
        let s = Sysroot {
            tmp,
            path,
            tree,
            commits: 0,
        };
        s.ostree(&["admin", "init-fs", "--modern", s.path_str()]);
        s.ostree(&[
            &format!("--repo={}/ostree/repo", s.path_str()),
            "config",
            "set",
            "sysroot.bootloader",
            "none",
        ]);
        for os in stateroots {
            s.admin(&["os-init", os]);
        }
        s
    }

    /// The scratch directory holding the sysroot, for whatever a test keeps beside it.
    #[allow(dead_code)] // only the CLI's tests keep something there
    pub fn scratch(&self) -> &Path {
        self.tmp.path()
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Runs `ostree ARGS`, asserting success; returns stdout.
    pub fn ostree(&self, args: &[&str]) -> String {
        let out = self.try_ostree(args);
        assert!(
            out.status.success(),
            "ostree {args:?} failed: {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn try_ostree(&self, args: &[&str]) -> Output {
        Command::new("ostree")
            .args(args)
            // Deployment roots would get chattr +i, which would make the scratch dir unremovable.
            .env("OSTREE_SYSROOT_DEBUG", "mutable-deployments")
            .output()
            .unwrap()
    }

    /// `ostree admin SUBCOMMAND --sysroot=S ARGS`.
    pub fn admin(&self, args: &[&str]) -> String {
        let (sub, rest) = args.split_first().unwrap();
        let sysroot = format!("--sysroot={}", self.path_str());
        let mut full = vec!["admin", sub, sysroot.as_str()];
        full.extend_from_slice(rest);
        self.ostree(&full)
    }

    pub fn status(&self) -> Vec<StatusRow> {
        parse_status(&self.admin(&["status"]))
    }

    /// Commits a new tree on `branch`; `kernel` picks one of two kernels (bootcsums).
    pub fn commit(&mut self, branch: &str, meta: Meta<'_>, kernel: u8) -> String {
        self.commits += 1;
        fs::write(self.tree.join("usr/marker"), format!("{}\n", self.commits)).unwrap();
        let modules = self.tree.join("usr/lib/modules/6.1.0");
        fs::write(modules.join("vmlinuz"), format!("kernel {kernel}\n")).unwrap();
        fs::write(modules.join("initramfs.img"), "initramfs\n").unwrap();
        let repo = format!("--repo={}/ostree/repo", self.path_str());
        let tree = format!("--tree=dir={}", self.tree.to_str().unwrap());
        let branch = format!("--branch={branch}");
        let mut args = vec![repo.as_str(), "commit", "--bootable", &branch, &tree];
        let extra;
        let big;
        match meta {
            Meta::Version(v) => {
                extra = format!("--add-metadata-string=version={v}");
                args.push(&extra);
            }
            Meta::NoVersion => {}
            Meta::IntVersion => args.push("--add-metadata=version=42"),
            Meta::BigVersion(v) => {
                extra = format!("--add-metadata-string=version={v}");
                big = format!("--add-metadata-string=bulk={}", "p".repeat(70_000));
                args.push(&big);
                args.push(&extra);
            }
        }
        self.ostree(&args).trim().to_owned()
    }

    /// The `entries` dir of the current bootversion.
    pub fn entries_dir(&self) -> PathBuf {
        let loader = self.path.join("boot/loader");
        let target = fs::read_link(&loader).unwrap();
        self.path.join("boot").join(target).join("entries")
    }

    /// The commit object of a checksum (to check the big-metadata case really is big).
    pub fn commit_object(&self, checksum: &str) -> PathBuf {
        self.path.join(format!(
            "ostree/repo/objects/{}/{}.commit",
            &checksum[..2],
            &checksum[2..]
        ))
    }
}

impl Drop for Sysroot {
    fn drop(&mut self) {
        // Belt and braces: clear any immutable bit so TempDir can remove everything.
        ostree_status::clear_immutable_deployments(&self.path);
    }
}

/// Removes a deployment directory the way an over-eager cleanup would.
pub fn remove_deployment_dir(dir: &Path) {
    let _ = Command::new("chattr").arg("-i").arg(dir).output();
    fs::remove_dir_all(dir).unwrap();
}
