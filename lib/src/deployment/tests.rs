//! Enumeration and resolution over hand-made sysroot trees (bootlinks emulated with symlinks).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::gvariant::tests::commit_with_version;
use super::*;
use crate::exit;

fn csum(c: char) -> String {
    c.to_string().repeat(64)
}

struct Fx {
    _dir: tempfile::TempDir,
    layout: Layout,
}

impl Fx {
    /// An initialised sysroot with stateroots `host` and `web`, no deployments, no `loader`.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sysroot = dir.path().join("sysroot");
        for p in [
            "ostree/deploy/host/var",
            "ostree/deploy/web/var",
            "ostree/repo/objects",
            "boot",
        ] {
            fs::create_dir_all(sysroot.join(p)).unwrap();
        }
        let layout = Layout::for_sysroot(&sysroot);
        Fx { _dir: dir, layout }
    }

    fn sysroot(&self) -> &Path {
        &self.layout.sysroot
    }

    /// `boot/loader -> loader.N` with an empty entries dir, and `ostree/boot.N -> boot.N.M`.
    fn bootversion(&self, bv: u8, sub: u8) {
        let boot = &self.layout.boot;
        fs::create_dir_all(boot.join(format!("loader.{bv}/entries"))).unwrap();
        let _ = fs::remove_file(boot.join("loader"));
        symlink(format!("loader.{bv}"), boot.join("loader")).unwrap();
        self.subbootversion(bv, sub);
    }

    fn subbootversion(&self, bv: u8, sub: u8) {
        let link = self.sysroot().join(format!("ostree/boot.{bv}"));
        let _ = fs::remove_file(&link);
        fs::create_dir_all(self.sysroot().join(format!("ostree/boot.{bv}.{sub}"))).unwrap();
        symlink(format!("boot.{bv}.{sub}"), link).unwrap();
    }

    fn deploy_dir(&self, os: &str, c: char, serial: u32) -> PathBuf {
        let d = self
            .sysroot()
            .join(format!("ostree/deploy/{os}/deploy/{}.{serial}", csum(c)));
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn commit(&self, c: char, version: Option<&str>) {
        let cs = csum(c);
        let d = self.sysroot().join("ostree/repo/objects").join(&cs[..2]);
        fs::create_dir_all(&d).unwrap();
        fs::write(
            d.join(format!("{}.commit", &cs[2..])),
            commit_with_version(version),
        )
        .unwrap();
    }

    /// An entry in `loader.<bv>` plus its bootlink in `boot.<bv>.<sub>`.
    #[allow(clippy::too_many_arguments)]
    fn entry(
        &self,
        bv: u8,
        sub: u8,
        file: &str,
        version: &str,
        os: &str,
        bootserial: u32,
        c: char,
        serial: u32,
    ) {
        self.deploy_dir(os, c, serial);
        let bootcsum = "b".repeat(64);
        let text = format!(
            "title T ({os})\nversion {version}\noptions root=x ostree=/ostree/boot.{bv}/{os}/{bootcsum}/{bootserial}\nlinux /vmlinuz\n"
        );
        fs::write(
            self.layout.boot.join(format!("loader.{bv}/entries/{file}")),
            text,
        )
        .unwrap();
        self.bootlink(bv, sub, os, bootserial, c, serial);
    }

    fn bootlink(&self, bv: u8, sub: u8, os: &str, bootserial: u32, c: char, serial: u32) {
        let dir = self
            .sysroot()
            .join(format!("ostree/boot.{bv}.{sub}/{os}/{}", "b".repeat(64)));
        fs::create_dir_all(&dir).unwrap();
        let link = dir.join(bootserial.to_string());
        let _ = fs::remove_file(&link);
        symlink(
            format!("../../../deploy/{os}/deploy/{}.{serial}", csum(c)),
            link,
        )
        .unwrap();
    }

    fn ids(&self) -> Vec<String> {
        list_deployments(&self.layout)
            .unwrap()
            .iter()
            .map(|d| format!("{} {}.{}", d.stateroot, &d.checksum[..1], d.serial))
            .collect()
    }
}

/// host a.0 (default), web c.0, web d.0 — in the old entry naming scheme of ostree 2022.7.
fn three() -> Fx {
    let fx = Fx::new();
    fx.bootversion(1, 0);
    fx.entry(1, 0, "ostree-3-host.conf", "3", "host", 0, 'a', 0);
    fx.entry(1, 0, "ostree-2-web.conf", "2", "web", 1, 'c', 0);
    fx.entry(1, 0, "ostree-1-web.conf", "1", "web", 2, 'd', 0);
    fx
}

#[test]
fn empty_sysroots() {
    let fx = Fx::new();
    // No loader link: bootversion 0, no entries dir: no deployments (not an error).
    assert_eq!(list_deployments(&fx.layout).unwrap(), vec![]);
    fx.bootversion(0, 0);
    assert_eq!(list_deployments(&fx.layout).unwrap(), vec![]);
    let e = resolve(&fx.layout, "web", &Pin::Auto).unwrap_err();
    assert!(
        matches!(
            e,
            ResolveError::NoDeployment {
                missing_stateroot_dir: None,
                ..
            }
        ),
        "{e}"
    );
    let e = resolve(&fx.layout, "mail", &Pin::Auto).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("ostree admin os-init mail"), "{msg}");
    assert!(
        msg.contains("ostree admin deploy --not-as-default --os=mail <REF>"),
        "{msg}"
    );
    assert_eq!(e.exit_code(), exit::NO_DEPLOYMENT);
}

#[test]
fn order_versions_pins() {
    let fx = three();
    fx.commit('a', Some("h1"));
    fx.commit('c', Some("w2"));
    // 'd' has no commit object: version unknown, not an error.
    fs::write(
        fx.sysroot()
            .join(format!("ostree/deploy/web/deploy/{}.0.origin", csum('d'))),
        "[origin]\nrefspec=web\n\n[libostree-transient]\npinned=true\n",
    )
    .unwrap();
    let deps = list_deployments(&fx.layout).unwrap();
    assert_eq!(fx.ids(), ["host a.0", "web c.0", "web d.0"]);
    assert_eq!(deps[0].index, 0);
    assert_eq!(deps[2].index, 2);
    assert_eq!(deps[0].version.as_deref(), Some("h1"));
    assert_eq!(deps[1].version.as_deref(), Some("w2"));
    assert_eq!(deps[2].version, None);
    assert_eq!(
        [deps[0].pinned, deps[1].pinned, deps[2].pinned],
        [false, false, true]
    );
    assert_eq!(
        deps[1].boot_entry,
        fx.layout.boot.join("loader.1/entries/ostree-2-web.conf")
    );
    assert_eq!(deps[1].dir_name(), format!("{}.0", csum('c')));
    assert_eq!(
        deps[1].relative_dir(),
        PathBuf::from(format!("ostree/deploy/web/deploy/{}.0", csum('c')))
    );

    let r = resolve(&fx.layout, "web", &Pin::Auto).unwrap();
    assert_eq!(r.deployment, deps[1]);
    assert_eq!(r.dir, fx.sysroot().join(deps[1].relative_dir()));
    let r = resolve(&fx.layout, "web", &"dddddddd".parse().unwrap()).unwrap();
    assert_eq!(r.deployment, deps[2]);
    let r = resolve(&fx.layout, "host", &"version:h1".parse().unwrap()).unwrap();
    assert_eq!(r.deployment, deps[0]);
    let e = resolve(&fx.layout, "web", &"version:h1".parse().unwrap()).unwrap_err();
    assert!(matches!(e, ResolveError::PinNotFound { .. }), "{e}");
}

#[test]
fn numeric_version_order_and_naming_schemes() {
    // Twelve entries: "10".."12" must sort above "9" (strverscmp, not strcmp), whatever the
    // file names say, in both naming schemes and with boot-counting suffixes.
    let fx = Fx::new();
    fx.bootversion(0, 1);
    let chars: Vec<char> = "0123456789ab".chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let version = 12 - i;
        let file = match i % 3 {
            0 => format!("ostree-{version}-web.conf"),
            1 => format!("ostree-{version}.conf"),
            _ => format!("ostree-{version}+3-0.conf"),
        };
        fx.entry(0, 1, &file, &version.to_string(), "web", i as u32, *c, 0);
    }
    // Not ostree entries: ignored.
    fs::write(
        fx.layout.boot.join("loader.0/entries/other.conf"),
        "version 99\n",
    )
    .unwrap();
    fs::create_dir(fx.layout.boot.join("loader.0/entries/ostree-98.conf")).unwrap();
    let ids = fx.ids();
    let expected: Vec<String> = chars.iter().map(|c| format!("web {c}.0")).collect();
    assert_eq!(ids, expected);
}

#[test]
fn entries_without_version_sort_last() {
    let fx = Fx::new();
    fx.bootversion(0, 0);
    fx.entry(0, 0, "ostree-x.conf", "1", "web", 0, 'c', 0);
    fx.entry(0, 0, "ostree-y.conf", "2", "web", 1, 'd', 0);
    let f = fx.layout.boot.join("loader.0/entries/ostree-y.conf");
    let text = fs::read_to_string(&f).unwrap().replace("version 2\n", "");
    fs::write(&f, text).unwrap();
    assert_eq!(fx.ids(), ["web c.0", "web d.0"]);
}

#[test]
fn subbootversion_swap_without_rewriting_entries() {
    // ostree's "bootconfig swap: no": same entries, boot.1 flips to boot.1.1 whose links point
    // at other deployments.
    let fx = three();
    assert_eq!(fx.ids(), ["host a.0", "web c.0", "web d.0"]);
    fx.bootlink(1, 1, "host", 0, 'a', 0);
    fx.deploy_dir("web", 'c', 1);
    fx.bootlink(1, 1, "web", 1, 'c', 1);
    fx.bootlink(1, 1, "web", 2, 'c', 0);
    fx.subbootversion(1, 1);
    assert_eq!(fx.ids(), ["host a.0", "web c.1", "web c.0"]);
}

#[test]
fn reads_the_current_bootversion_only() {
    let fx = three();
    // A leftover loader.0 with other entries is ignored.
    fs::create_dir_all(fx.layout.boot.join("loader.0/entries")).unwrap();
    fs::write(
        fx.layout.boot.join("loader.0/entries/ostree-1-x.conf"),
        "version 1\noptions ostree=/ostree/boot.0/web/x/0\n",
    )
    .unwrap();
    // So are staged / leftover deployment directories.
    fx.deploy_dir("web", 'e', 0);
    assert_eq!(fx.ids(), ["host a.0", "web c.0", "web d.0"]);
}

#[test]
fn malformed_states() {
    let fx = three();
    let loader = fx.layout.boot.join("loader");
    fs::remove_file(&loader).unwrap();
    symlink("loader.2", &loader).unwrap();
    let e = list_deployments(&fx.layout).unwrap_err();
    assert!(
        matches!(&e, ResolveError::Malformed { path, .. } if *path == loader),
        "{e}"
    );
    assert_eq!(e.exit_code(), exit::BOOT_ENTRIES_MALFORMED);
    fs::remove_file(&loader).unwrap();
    fs::create_dir(&loader).unwrap();
    let e = list_deployments(&fx.layout).unwrap_err();
    assert!(e.to_string().contains("not a symbolic link"), "{e}");
    fs::remove_dir(&loader).unwrap();
    symlink("loader.1", &loader).unwrap();

    let entry = fx.layout.boot.join("loader.1/entries/ostree-2-web.conf");
    let good = fs::read_to_string(&entry).unwrap();
    fs::write(&entry, good.replace("ostree=", "ostre=")).unwrap();
    let e = list_deployments(&fx.layout).unwrap_err();
    assert!(
        matches!(&e, ResolveError::Malformed { path, .. } if *path == entry),
        "{e}"
    );
    assert!(e.to_string().contains("no ostree= kernel argument"), "{e}");
    fs::write(&entry, good.replace("/ostree/boot.1/", "/ostree/boot.7/")).unwrap();
    let e = list_deployments(&fx.layout).unwrap_err();
    assert!(e.to_string().contains("is not /ostree/boot."), "{e}");
    fs::write(&entry, good.replace("version 2", "version 2\u{0}")).unwrap();
    let e = list_deployments(&fx.layout).unwrap_err();
    assert!(e.to_string().contains("UTF-8"), "{e}");
    fs::write(&entry, &good).unwrap();

    // A bootlink whose target is not <checksum>.<serial>.
    let link = fx
        .sysroot()
        .join(format!("ostree/boot.1.0/web/{}/1", "b".repeat(64)));
    fs::remove_file(&link).unwrap();
    symlink("../../../deploy/web/deploy/nothex.0", &link).unwrap();
    let named = fx
        .sysroot()
        .join(format!("ostree/boot.1/web/{}/1", "b".repeat(64)));
    let e = list_deployments(&fx.layout).unwrap_err();
    assert!(
        matches!(&e, ResolveError::Malformed { path, .. } if *path == named),
        "{e}"
    );
    // A missing bootlink: an unreadable sysroot (after the retries).
    fs::remove_file(&link).unwrap();
    let e = list_deployments(&fx.layout).unwrap_err();
    assert!(
        matches!(&e, ResolveError::Unreadable { path, .. } if *path == named),
        "{e}"
    );
    assert_eq!(e.exit_code(), exit::SYSROOT_UNREADABLE);
}

#[test]
fn deployment_missing() {
    let fx = three();
    let dir = fx
        .sysroot()
        .join(format!("ostree/deploy/web/deploy/{}.0", csum('c')));
    fs::remove_dir(&dir).unwrap();
    // Still listed (the entry is authoritative) but not resolvable.
    assert_eq!(fx.ids(), ["host a.0", "web c.0", "web d.0"]);
    let e = resolve(&fx.layout, "web", &Pin::Auto).unwrap_err();
    assert!(
        matches!(&e, ResolveError::DeploymentMissing { path, .. } if *path == dir),
        "{e}"
    );
    assert!(e.to_string().contains("ostree-2-web.conf"), "{e}");
    assert_eq!(e.exit_code(), exit::DEPLOYMENT_MISSING);
    // The other one can still be pinned.
    assert!(resolve(&fx.layout, "web", &"dddddddd".parse().unwrap()).is_ok());
}

#[test]
fn boot_partition_not_mounted() {
    let fx = three();
    // As if /boot were an empty mount point: bootlinks exist but no loader.
    let empty = fx._dir.path().join("emptyboot");
    fs::create_dir(&empty).unwrap();
    let layout = Layout {
        boot: empty,
        ..fx.layout.clone()
    };
    let e = list_deployments(&layout).unwrap_err();
    assert!(matches!(e, ResolveError::Unreadable { .. }), "{e}");
    assert!(e.to_string().contains("boot partition mounted"), "{e}");
    assert_eq!(e.exit_code(), exit::SYSROOT_UNREADABLE);
}

#[test]
fn booted_host_detection() {
    let fx = three();
    let host_dir = fx
        .sysroot()
        .join(format!("ostree/deploy/host/deploy/{}.0", csum('a')));
    let deps = list_deployments(&fx.layout).unwrap();
    // root = the host deployment itself (a booted root is a bind mount of it: same dev/ino).
    let mut layout = Layout {
        root: host_dir.clone(),
        ..fx.layout.clone()
    };
    // Without run/ostree-booted nothing is booted.
    assert_eq!(booted_deployment(&layout, &deps), None);
    fs::create_dir_all(host_dir.join("run")).unwrap();
    fs::write(host_dir.join("run/ostree-booted"), "").unwrap();
    assert_eq!(booted_deployment(&layout, &deps), Some(&deps[0]));

    let e = resolve(&layout, "host", &Pin::Auto).unwrap_err();
    assert!(
        matches!(&e, ResolveError::HostStateroot { stateroot } if stateroot == "host"),
        "{e}"
    );
    assert!(e.to_string().contains("/var"), "{e}");
    assert_eq!(e.exit_code(), exit::HOST_STATEROOT);
    // Another stateroot's guest starts; its listing holds no host deployment to compare with.
    let r = resolve(&layout, "web", &Pin::Auto).unwrap();
    assert_eq!(r.deployment, deps[1]);

    // Booted from web's older deployment (a rollback): web is the host's, though the guest would
    // pick its first deployment.
    let rollback = fx.sysroot().join(deps[2].relative_dir());
    fs::create_dir_all(rollback.join("run")).unwrap();
    fs::write(rollback.join("run/ostree-booted"), "").unwrap();
    let on_rollback = Layout {
        root: rollback,
        ..fx.layout.clone()
    };
    let e = resolve(&on_rollback, "web", &Pin::Auto).unwrap_err();
    assert!(matches!(&e, ResolveError::HostStateroot { .. }), "{e}");
    resolve(&on_rollback, "host", &Pin::Auto).unwrap();

    // A root that is no deployment by inode (composefs: an overlay) is matched through the
    // kernel command line.
    let overlay = fx._dir.path().join("overlay-root");
    fs::create_dir_all(overlay.join("run")).unwrap();
    fs::create_dir_all(overlay.join("proc")).unwrap();
    fs::write(overlay.join("run/ostree-booted"), "").unwrap();
    let cmdline = |os: &str| format!("rw ostree=/ostree/boot.1/{os}/{}/0 quiet\n", "b".repeat(64));
    fs::write(overlay.join("proc/cmdline"), cmdline("web")).unwrap();
    let on_overlay = Layout {
        root: overlay.clone(),
        ..fx.layout.clone()
    };
    let e = resolve(&on_overlay, "web", &Pin::Auto).unwrap_err();
    assert!(matches!(&e, ResolveError::HostStateroot { .. }), "{e}");
    fs::write(overlay.join("proc/cmdline"), cmdline("host")).unwrap();
    assert_eq!(
        resolve(&on_overlay, "web", &Pin::Auto).unwrap().deployment,
        deps[1]
    );

    // A root that is not a listed deployment: nothing booted.
    let other = fx._dir.path().join("other-root");
    fs::create_dir_all(other.join("run")).unwrap();
    fs::write(other.join("run/ostree-booted"), "").unwrap();
    layout.root = other;
    assert_eq!(booted_deployment(&layout, &deps), None);
}

#[test]
fn resolve_reads_details_of_the_pickable_deployments_only() {
    let fx = three();
    fx.commit('a', Some("h1"));
    fx.commit('c', Some("w2"));
    fx.commit('d', Some("w1"));
    let origin = |c: char, os: &str| {
        fx.sysroot()
            .join(format!("ostree/deploy/{os}/deploy/{}.0.origin", csum(c)))
    };
    fs::write(origin('d', "web"), "[libostree-transient]\npinned=true\n").unwrap();
    let deps = list_deployments(&fx.layout).unwrap();
    // Whatever the pin, the resolved deployment carries the same pin flag and version as the
    // full listing.
    for (pin, index) in [
        ("auto", 1),
        ("version:w1", 2),
        ("version:w2", 1),
        ("dddddddd", 2),
        ("cccccccc", 1),
    ] {
        let r = resolve(&fx.layout, "web", &pin.parse().unwrap()).unwrap();
        assert_eq!(r.deployment, deps[index], "{pin}");
    }
    // A start resolves the same deployment with the same version, without reading its pin
    // flag (d is pinned).
    for pin in ["auto", "version:w1", "dddddddd"] {
        let full = resolve(&fx.layout, "web", &pin.parse().unwrap()).unwrap();
        let start = resolve_to_start(&fx.layout, "web", &pin.parse().unwrap()).unwrap();
        assert_eq!(
            (
                &start.deployment.checksum,
                &start.deployment.version,
                &start.dir
            ),
            (
                &full.deployment.checksum,
                &full.deployment.version,
                &full.dir
            ),
            "{pin}"
        );
        assert!(!start.deployment.pinned, "{pin}");
    }
    assert!(
        resolve(&fx.layout, "web", &"dddddddd".parse().unwrap())
            .unwrap()
            .deployment
            .pinned
    );
    // Error messages list the stateroot's deployments with their versions.
    let e = resolve(&fx.layout, "web", &"version:w9".parse().unwrap()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("(version w2)") && msg.contains("(version w1)"),
        "{msg}"
    );

    // A broken origin of another stateroot fails the full listing (as `ostree admin status`
    // fails) but not the resolution of a guest that cannot pick that deployment.
    fs::write(origin('a', "host"), b"\xff").unwrap();
    assert!(list_deployments(&fx.layout).is_err());
    let r = resolve(&fx.layout, "web", &Pin::Auto).unwrap();
    assert_eq!(r.deployment, deps[1]);
    // Nor of the stateroot's own later deployments when the pin is auto; but a pin that has to
    // look at them all reports it.
    fs::write(origin('a', "host"), "").unwrap();
    fs::write(origin('c', "web"), b"\xff").unwrap();
    assert!(resolve(&fx.layout, "web", &Pin::Auto).is_err());
    assert_eq!(
        resolve_to_start(&fx.layout, "web", &Pin::Auto)
            .unwrap()
            .deployment
            .checksum,
        csum('c')
    );
    fs::write(origin('c', "web"), "").unwrap();
    fs::write(origin('d', "web"), b"\xff").unwrap();
    assert_eq!(
        resolve(&fx.layout, "web", &Pin::Auto).unwrap().deployment,
        deps[1]
    );
    let e = resolve(&fx.layout, "web", &"version:w2".parse().unwrap()).unwrap_err();
    assert!(e.to_string().contains("UTF-8"), "{e}");
    fs::write(origin('d', "web"), "").unwrap();

    // Bootlinks of other stateroots are not read either: a broken one fails the full listing
    // only. A stateroot without deployments still hears which ones have them.
    let host_link = fx
        .sysroot()
        .join(format!("ostree/boot.1.0/host/{}/0", "b".repeat(64)));
    fs::remove_file(&host_link).unwrap();
    assert!(list_deployments(&fx.layout).is_err());
    let r = resolve(&fx.layout, "web", &Pin::Auto).unwrap();
    assert_eq!(
        (r.deployment.index, &r.deployment.checksum),
        (1, &csum('c'))
    );
    let e = resolve(&fx.layout, "db", &Pin::Auto).unwrap_err();
    assert!(
        matches!(&e, ResolveError::NoDeployment { known, .. } if *known == ["host", "web"]),
        "{e}"
    );
}

/// A link loop in the boot entries stays a loop: restarting every few seconds cannot heal it.
#[test]
fn a_symlink_loop_in_the_boot_entries_is_not_retried() {
    let fx = three();
    let entries = fx.layout.boot.join("loader.1/entries");
    fs::rename(&entries, fx.layout.boot.join("entries.away")).unwrap();
    symlink("entries", &entries).unwrap();
    let e = list_deployments(&fx.layout).unwrap_err();
    assert!(matches!(e, ResolveError::Unreadable { .. }), "{e}");
    assert_eq!(e.exit_code(), exit::SYSROOT_BROKEN, "{e}");
    assert!(exit::NOT_RETRYABLE.contains(&e.exit_code()));
}

/// Each failure class against the retry lists: what waiting may fix is retried, nothing else.
#[test]
fn every_failure_class_maps_to_its_retry_class() {
    let io = |errno: i32| std::io::Error::from_raw_os_error(errno);
    let unreadable = |errno| ResolveError::unreadable("/boot/loader", io(errno));
    let s = || "web".to_owned();
    let cases: Vec<(ResolveError, bool)> = vec![
        (
            ResolveError::NoDeployment {
                stateroot: s(),
                known: vec![],
                missing_stateroot_dir: None,
            },
            false,
        ),
        (
            ResolveError::PinNotFound {
                stateroot: s(),
                pin: s(),
                available: vec![],
            },
            false,
        ),
        (
            ResolveError::PinAmbiguous {
                stateroot: s(),
                pin: s(),
                matches: vec![],
            },
            false,
        ),
        (
            ResolveError::DeploymentMissing {
                path: "/x".into(),
                boot_entry: "/y".into(),
            },
            false,
        ),
        (ResolveError::HostStateroot { stateroot: s() }, false),
        (ResolveError::malformed("/x", "bad"), false),
        (unreadable(nix::libc::ELOOP), false),
        (unreadable(nix::libc::ENOTDIR), false),
        (unreadable(nix::libc::EISDIR), false),
        (unreadable(nix::libc::ENAMETOOLONG), false),
        (unreadable(nix::libc::ENOENT), true),
        (unreadable(nix::libc::EIO), true),
    ];
    for (e, retry) in cases {
        let code = e.exit_code();
        assert_eq!(exit::RETRYABLE.contains(&code), retry, "{e}: {code}");
        assert_eq!(exit::NOT_RETRYABLE.contains(&code), !retry, "{e}: {code}");
    }
}

/// The booted deployment from a GVariant `/run/ostree-booted` (ostree 2024 and later).
#[path = "booted_tests.rs"]
mod booted;
