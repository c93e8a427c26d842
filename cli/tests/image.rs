#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report
//! Guests from container images on real sysroots, through the real `ostree container` (on
//! Debian the test-only build of ostree-ext's CLI that tests/lib/ostree-container.sh installs;
//! tests/run installs it, so these never skip in CI). Images are made locally with
//! `ostree container encapsulate` from real commits: no network.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Env;
use serde_json::Value;

const EXTENSION: &str = "/usr/libexec/libostree/ext/ostree-container";

/// Skips LOUDLY when `ostree container` cannot run here.
macro_rules! skip_without_ostree_container {
    ($test:expr) => {
        skip_unless_possible!($test);
        if !Path::new(EXTENSION).exists() {
            let why = format!(
                "{EXTENSION} is not installed: run `. tests/lib/ostree-container.sh && ensure_ostree_container` (tests/run does)"
            );
            eprintln!("SKIP: {}: {why}", $test);
            println!("SKIP: {}: {why}", $test);
            return;
        }
    };
}

/// The OCI directory beside the sysroot, and the images made into it.
struct Images {
    dir: PathBuf,
}

impl Images {
    fn new(e: &Env) -> Self {
        Images {
            dir: e.sysroot.parent().unwrap().join("oci"),
        }
    }

    /// `ostree container encapsulate` of `branch` as `oci:DIR:TAG`; returns the manifest digest
    /// the OCI index records for the tag.
    fn encapsulate(&self, e: &Env, branch: &str, tag: &str) -> String {
        let dest = format!("oci:{}:{tag}", self.dir.display());
        e.ostree(&["container", "encapsulate", &e.repo_arg(), branch, &dest]);
        let index: Value =
            serde_json::from_str(&fs::read_to_string(self.dir.join("index.json")).unwrap())
                .unwrap();
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap_or_else(|| panic!("tag {tag} not in {index}"))["digest"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn reference(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.dir.display())
    }
}

/// What must not change when a create fails: ostree's own view and every file under deploy/.
fn snapshot(e: &Env) -> (String, Vec<String>, Vec<String>) {
    let status = e.admin(&["status"]);
    let mut tree = Vec::new();
    walk(&e.path("ostree/deploy"), Path::new(""), &mut tree);
    tree.sort();
    let mut configs: Vec<String> = fs::read_dir(e.root.join("etc"))
        .map(|d| {
            d.flatten()
                .map(|f| f.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    configs.sort();
    (status, tree, configs)
}

/// Paths below `dir`, two levels into each deployment (a deployment's whole tree is large).
fn walk(dir: &Path, rel: &Path, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let rel = rel.join(entry.file_name());
        out.push(rel.display().to_string());
        if entry.file_type().unwrap().is_dir() && rel.components().count() < 5 {
            walk(&entry.path(), &rel, out);
        }
    }
}

fn image_list(e: &Env) -> String {
    e.ostree(&["container", "image", "list", &e.repo_arg()])
}

fn origin_of(e: &Env, stateroot: &str) -> String {
    let d = e.resolved(stateroot).unwrap();
    fs::read_to_string(e.path(&format!(
        "ostree/deploy/{stateroot}/deploy/{}.origin",
        d.dir_name()
    )))
    .unwrap()
}

#[test]
fn create_upgrade_and_remove_a_guest_from_an_image() {
    skip_without_ostree_container!("create_upgrade_and_remove_a_guest_from_an_image");
    let mut e = Env::new();
    let img = Images::new(&e);
    e.commit("img/x86_64", "i1");
    let d1 = img.encapsulate(&e, "img/x86_64", "latest");
    let reference = img.reference("latest");
    let normalised = format!("ostree-unverified-image:{reference}");

    let (out, _) = e.cli_ok(
        &["create", "web", "--image", &reference, "--network", "none"],
        0,
    );
    assert!(out.contains(&normalised) && out.contains(&d1), "{out}");
    assert!(e.config("web.toml").is_file());
    // The host keeps index 0; the guest resolves to the image's commit.
    let st = e.status();
    assert_eq!(st[0].stateroot, "host", "{st:?}");
    let r1 = e.resolved("web").unwrap();
    assert!(
        image_list(&e).lines().any(|l| l == reference),
        "{}",
        image_list(&e)
    );
    let store_ref = ostree_guests::image_ref::ImageRef::parse(&reference, false)
        .unwrap()
        .store_ref();
    assert_eq!(
        e.ostree(&[&e.repo_arg(), "rev-parse", &store_ref]).trim(),
        r1.checksum
    );
    assert_eq!(
        origin_of(&e, "web"),
        format!("[origin]\ncontainer-image-reference={normalised}\n")
    );
    // The start helper's own resolution (its --dry-run, as `render` prints it).
    let (out, _) = e.cli_ok(&["render", "web"], 0);
    assert!(
        out.contains(&format!("deployment: {}.", r1.checksum)),
        "{out}"
    );
    // status shows the reference and the digest the OCI index has for the tag.
    let (out, _) = e.cli_ok(&["status", "web", "--json"], 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["image"]["reference"], normalised.as_str());
    assert_eq!(v["image"]["digest"], d1.as_str());
    let (out, _) = e.cli_ok(&["status", "web"], 0);
    assert!(out.contains(&format!("digest:      {d1}")), "{out}");
    let (out, _) = e.cli_ok(&["list"], 0);
    assert!(out.lines().next().unwrap().ends_with("IMAGE"), "{out}");

    // Nothing new: --check says 77, upgrade says so and deploys nothing.
    e.cli_ok(&["upgrade", "web", "--check"], 77);
    let (out, _) = e.cli_ok(&["upgrade", "web"], 0);
    assert!(out.contains("already up to date"), "{out}");
    assert_eq!(e.status(), st);

    // A new image under the same tag: a new deployment, the old one kept behind it.
    e.commit("img/x86_64", "i2");
    let d2 = img.encapsulate(&e, "img/x86_64", "latest");
    assert_ne!(d1, d2);
    e.cli_ok(&["upgrade", "web", "--check"], 0);
    e.cli_ok(&["upgrade", "web"], 0);
    let r2 = e.resolved("web").unwrap();
    assert_ne!(r2.checksum, r1.checksum);
    let web: Vec<_> = e
        .status()
        .into_iter()
        .filter(|r| r.stateroot == "web")
        .collect();
    assert_eq!(web.len(), 2, "{web:?}");
    assert_eq!(web[1].checksum, r1.checksum);
    assert_eq!(e.status()[0].stateroot, "host");
    // The kept one still names the image, so a rollback and a later upgrade work.
    assert!(origin_of(&e, "web").contains(&normalised));
    let (out, _) = e.cli_ok(&["status", "web", "--json"], 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["image"]["digest"], d2.as_str());
    let (out, _) = e.cli_ok(&["upgrade", "web"], 0);
    assert!(out.contains("already up to date"), "{out}");
    e.cli_ok(&["upgrade", "web", "--check"], 77);
    e.cli_ok(&["rollback", "web"], 0);
    assert_eq!(e.resolved("web").unwrap().checksum, r1.checksum);
    // Rolled back to the old image: the image's newest commit is available again.
    let (out, _) = e.cli_ok(&["upgrade", "web", "--check"], 0);
    assert!(out.contains("not the guest's deployment"), "{out}");

    // remove drops the image's refs with the guest.
    e.cli_ok(&["remove", "web"], 0);
    assert!(!image_list(&e).lines().any(|l| l == reference));
    assert!(
        !e.ostree(&[&e.repo_arg(), "refs"])
            .lines()
            .any(|l| l.starts_with("ostree/container/image/"))
    );
    assert_eq!(e.status().len(), 1);
}

/// A sysroot with guest `web` created from image `latest` (commit i1); its images and the
/// reference `create` was given.
fn web_from_an_image() -> (Env, Images, String) {
    let mut e = Env::new();
    let img = Images::new(&e);
    let reference = img.reference("latest");
    e.commit("img/x86_64", "i1");
    img.encapsulate(&e, "img/x86_64", "latest");
    e.cli_ok(
        &["create", "web", "--image", &reference, "--network", "none"],
        0,
    );
    (e, img, reference)
}

/// Pinning, the pruning of old deployments (`--keep`) and `remove --purge` treat an image guest
/// as a ref guest: they act on deployments, whatever their origin says.
#[test]
fn pin_keep_and_purge_an_image_guest() {
    skip_without_ostree_container!("pin_keep_and_purge_an_image_guest");
    let (mut e, img, reference) = web_from_an_image();
    let c1 = e.resolved("web").unwrap().checksum;
    e.cli_ok(&["pin", "web"], 0);
    let pinned = |e: &Env, c: &str| {
        e.status()
            .iter()
            .any(|r| r.stateroot == "web" && r.checksum == c && r.pinned)
    };
    assert!(pinned(&e, &c1));

    for i in 2..=3 {
        e.commit("img/x86_64", &format!("i{i}"));
        img.encapsulate(&e, "img/x86_64", "latest");
        let (out, _) = e.cli_ok(&["upgrade", "web"], 0);
        assert!(out.contains("pinned"), "{out}");
        assert!(
            pinned(&e, &c1),
            "the pinned deployment must survive upgrade {i}"
        );
    }
    let (out, _) = e.cli_ok(&["render", "web"], 0);
    assert!(out.contains(&format!("deployment: {c1}.")), "{out}");
    assert_eq!(e.status()[0].stateroot, "host");

    e.cli_ok(&["unpin", "web"], 0);
    e.commit("img/x86_64", "i4");
    img.encapsulate(&e, "img/x86_64", "latest");
    e.cli_ok(&["upgrade", "web", "--keep", "1"], 0);
    let web: Vec<_> = e
        .status()
        .into_iter()
        .filter(|r| r.stateroot == "web")
        .collect();
    assert_eq!(
        web.len(),
        1,
        "--keep 1 leaves only the new deployment: {web:?}"
    );
    assert_eq!(web[0].checksum, e.resolved("web").unwrap().checksum);
    assert_ne!(web[0].checksum, c1);
    assert!(origin_of(&e, "web").contains(&reference));

    e.cli_ok(&["remove", "web", "--purge", "--yes"], 0);
    assert!(!e.path("ostree/deploy/web").exists());
    assert!(!image_list(&e).lines().any(|l| l == reference));
    assert_eq!(e.status().len(), 1);
    assert_eq!(e.status()[0].stateroot, "host");
}

/// `remove` drops an image's refs only when it can tell that no deployment needs them: an
/// origin naming an image in a form it does not know (a newer rpm-ostree or bootc) keeps them.
#[test]
fn remove_keeps_image_refs_when_another_origin_is_unknown() {
    skip_without_ostree_container!("remove_keeps_image_refs_when_another_origin_is_unknown");
    let (e, _, reference) = web_from_an_image();
    let host = e.resolved("host").unwrap();
    let host_origin = e.path(&format!(
        "ostree/deploy/host/deploy/{}.origin",
        host.dir_name()
    ));
    fs::write(
        &host_origin,
        "[origin]\ncontainer-image-reference=ostree-future-scheme:docker://quay.io/x:1\n",
    )
    .unwrap();
    let (_, err) = e.cli_ok(&["remove", "web"], 0);
    assert!(err.contains("not removing the guest's image refs"), "{err}");
    assert!(
        image_list(&e).lines().any(|l| l == reference),
        "the image was dropped: {}",
        image_list(&e)
    );
}

#[test]
fn a_bad_image_leaves_the_sysroot_as_it_was() {
    skip_without_ostree_container!("a_bad_image_leaves_the_sysroot_as_it_was");
    let mut e = Env::new();
    let img = Images::new(&e);
    e.commit("img/x86_64", "i1");
    img.encapsulate(&e, "img/x86_64", "v1");
    let before = snapshot(&e);
    // Unreachable: no such OCI directory, then no such tag.
    for (reference, code) in [
        ("oci:/nonexistent/ostree-guests-test:v1".to_owned(), 113),
        (img.reference("nosuchtag"), 113),
        // Invalid: refused before anything runs.
        ("ostree-nosuch:quay.io/x:1".to_owned(), 64),
        ("quay.io/x y".to_owned(), 64),
    ] {
        let (_, err) = e.cli_ok(&["create", "bad", "--image", &reference], code);
        assert!(err.contains("nothing was deployed") || code == 64, "{err}");
        assert_eq!(snapshot(&e), before, "after create --image {reference}");
        assert!(!e.path("ostree/deploy/bad").exists());
        assert!(!e.config("bad.toml").exists());
    }
    // A signature check that refuses: ostree-image-signed: under a policy whose default
    // accepts anything (Debian's /etc/containers/policy.json, as shipped) is refused by
    // ostree-ext itself; any policy that requires a signature refuses this unsigned image.
    let (_, err) = e.cli_ok(
        &["create", "bad", "--image", &img.reference("v1"), "--signed"],
        114,
    );
    assert!(err.contains("signature check"), "{err}");
    assert_eq!(snapshot(&e), before);
    assert!(!e.config("bad.toml").exists());
    // Without `ostree container`: in a mount namespace of its own, an empty directory hides
    // the extension from the CLI (and from ostree).
    let empty = e.sysroot.parent().unwrap().join("no-ext");
    fs::create_dir_all(&empty).unwrap();
    let out = e
        .with_env(&mut Command::new("unshare"))
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\"")
        .args([
            "sh",
            empty.to_str().unwrap(),
            Path::new(EXTENSION).parent().unwrap().to_str().unwrap(),
        ])
        .args([
            env!("CARGO_BIN_EXE_ostree-guests"),
            "create",
            "bad",
            "--image",
        ])
        .arg(img.reference("v1"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(112), "{err}");
    assert!(err.contains("rpm-ostree"), "{err}");
    assert_eq!(snapshot(&e), before);
    // A contradiction of --signed and an unverified scheme is a usage error.
    let reference = format!("ostree-unverified-image:{}", img.reference("v1"));
    e.cli_ok(&["create", "bad", "--image", &reference, "--signed"], 64);
    assert_eq!(snapshot(&e), before);

    // A create that fails after the pull (the stateroot has another guest's deployments: here
    // the host's, in a sysroot without other stateroots) removes the image it pulled.
    e.cli_ok(
        &[
            "create",
            "bad",
            "--image",
            &img.reference("v1"),
            "--stateroot",
            "host",
        ],
        91,
    );
    assert_eq!(snapshot(&e), before);
    assert!(!image_list(&e).contains("v1"), "{}", image_list(&e));
}

#[test]
fn a_full_boot_directory_leaves_nothing_behind() {
    skip_without_ostree_container!("a_full_boot_directory_leaves_nothing_behind");
    let mut e = Env::new();
    let img = Images::new(&e);
    e.commit("img/x86_64", "i1");
    img.encapsulate(&e, "img/x86_64", "v1");
    // A tiny tmpfs over the sysroot's boot directory: no room for a kernel copy.
    let boot = e.path("boot");
    let saved = e.sysroot.parent().unwrap().join("boot-saved");
    copy_tree(&boot, &saved);
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&boot)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("SKIP: a_full_boot_directory_leaves_nothing_behind: cannot mount a tmpfs");
        return;
    }
    copy_tree(&saved, &boot);
    let before = snapshot(&e);
    let (_, err) = e.cli_ok(&["create", "full", "--image", &img.reference("v1")], 89);
    let after = snapshot(&e);
    let list = image_list(&e);
    let _ = Command::new("umount").arg(&boot).status();
    assert!(err.contains("not enough space"), "{err}");
    assert_eq!(after, before);
    assert!(!list.contains("v1"), "the pulled image is left: {list}");
}

#[test]
fn pull_progress_on_a_terminal_only() {
    skip_without_ostree_container!("pull_progress_on_a_terminal_only");
    let mut e = Env::new();
    let img = Images::new(&e);
    e.commit("img/x86_64", "i1");
    img.encapsulate(&e, "img/x86_64", "v1");
    // Under a pseudo-terminal the pull's own report reaches it (its layer summary).
    let args = format!("create web --image {}", img.reference("v1"));
    let Some((code, tty)) = e.on_a_terminal("pull_progress_on_a_terminal_only", &args) else {
        return;
    };
    assert_eq!(code, Some(0), "{tty}");
    assert!(
        tty.contains("layers needed"),
        "no pull report on the terminal: {tty:?}"
    );
    // Captured, it is quiet.
    e.commit("img/x86_64", "i2");
    img.encapsulate(&e, "img/x86_64", "v1");
    let (out, err) = e.cli_ok(&["upgrade", "web"], 0);
    assert!(
        !err.contains("layers needed") && !out.contains("layers needed"),
        "pull report without a terminal: {err}"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    let ok = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .unwrap();
    assert!(ok.success());
}
