#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report
//! Paths to data loss on real sysroots: a command that names one guest (or none) must never
//! undeploy or delete a stateroot another guest, or the host, runs on.

mod common;

use std::fs;

use common::Env;
use ostree_guests::deployment::Layout;
use ostree_guests_cli::ostree::Ostree;
use ostree_guests_cli::sysroot::Host;

/// Deployments of `stateroot` in `ostree admin status`.
fn count(e: &Env, stateroot: &str) -> usize {
    e.status()
        .iter()
        .filter(|r| r.stateroot == stateroot)
        .count()
}

/// `create --force` of another guest onto db's stateroot.
const CREATE_WEB_ON_G2: &[&str] = &[
    "create",
    "web",
    "--stateroot",
    "g2",
    "--ref",
    "other/x86_64",
    "--force",
];

/// Makes db.toml invalid for a reason that has nothing to do with its stateroot.
fn break_db(e: &Env) -> std::path::PathBuf {
    let db = e.config("db.toml");
    let text = fs::read_to_string(&db).unwrap();
    fs::write(&db, format!("{text}autostart = 3\n")).unwrap();
    db
}

/// Guest db on stateroot g2, with a file in its /var.
fn db_on_g2(e: &mut Env) -> std::path::PathBuf {
    e.commit("guest/x86_64", "g1");
    e.cli_ok(
        &["create", "db", "--stateroot", "g2", "--ref", "guest/x86_64"],
        0,
    );
    let data = e.path("ostree/deploy/g2/var/lib-data");
    fs::write(&data, "db's data\n").unwrap();
    data
}

#[test]
fn remove_refuses_a_stateroot_another_guest_uses() {
    skip_unless_possible!("remove_refuses_a_stateroot_another_guest_uses");
    let mut e = Env::new();
    let data = db_on_g2(&mut e);
    let before = e.status();
    for args in [
        &["remove", "g2", "--purge", "--yes"][..],
        &["remove", "g2"][..],
    ] {
        let (_, err) = e.cli_ok(args, 110);
        assert!(
            err.contains("guest db") && err.contains("/etc/ostree-guests.d/db.toml"),
            "{err}"
        );
    }
    assert!(data.is_file(), "db's /var was deleted");
    assert_eq!(e.status(), before, "db's deployment was undeployed");

    // db invalid for an unrelated reason: its file still names g2.
    let db = break_db(&e);
    let (_, err) = e.cli_ok(&["remove", "g2", "--purge", "--yes"], 110);
    assert!(err.contains("guest db"), "{err}");
    // db unparsable: nobody can tell whose g2 is, so nothing is touched.
    fs::write(&db, "stateroot = \n").unwrap();
    let (_, err) = e.cli_ok(&["remove", "g2", "--purge", "--yes"], 78);
    assert!(
        err.contains("/etc/ostree-guests.d/db.toml") && err.contains("not valid TOML"),
        "{err}"
    );
    assert!(data.is_file(), "db's /var was deleted");
    assert_eq!(e.status(), before);

    // A configuration directory that cannot be listed hides whoever might use g2.
    fs::remove_file(&db).unwrap();
    let run = e.root.join("run/ostree-guests.d");
    fs::create_dir_all(run.parent().unwrap()).unwrap();
    fs::write(&run, "not a directory\n").unwrap();
    let (_, err) = e.cli_ok(&["remove", "g2", "--purge", "--yes"], 78);
    assert!(err.contains("/run/ostree-guests.d"), "{err}");
    assert!(data.is_file(), "db's /var was deleted");
    fs::remove_file(&run).unwrap();

    // Once db's file is gone, g2 is an orphan and remove cleans it up.
    e.cli_ok(&["remove", "g2", "--purge", "--yes"], 0);
    assert!(!e.path("ostree/deploy/g2").exists());
    assert_eq!(count(&e, "g2"), 0);
}

#[test]
fn remove_refuses_the_stateroot_of_the_default_entry() {
    skip_unless_possible!("remove_refuses_the_stateroot_of_the_default_entry");
    // A sysroot with only the host: no other stateroot makes "host" look like a guest's.
    let e = Env::new();
    let (_, err) = e.cli_ok(&["remove", "host", "--purge", "--yes"], 82);
    assert!(err.contains("default boot entry"), "{err}");
    assert!(e.path("ostree/deploy/host/var").is_dir());
    assert_eq!(count(&e, "host"), 1);
}

#[test]
fn create_force_and_upgrade_refuse_another_guests_stateroot() {
    skip_unless_possible!("create_force_and_upgrade_refuse_another_guests_stateroot");
    let mut e = Env::new();
    let data = db_on_g2(&mut e);
    let c2 = e.commit("other/x86_64", "o1");
    let (_, err) = e.cli_ok(CREATE_WEB_ON_G2, 110);
    assert!(err.contains("guest db"), "{err}");
    assert!(!e.config("web.toml").exists());

    // An invalid db still owns g2: neither create --force nor web's upgrade may touch it.
    let db = break_db(&e);
    e.cli_ok(CREATE_WEB_ON_G2, 110);
    fs::write(e.config("web.toml"), "stateroot = \"g2\"\n").unwrap();
    let (_, err) = e.cli_ok(&["upgrade", "web", "--commit", &c2], 110);
    assert!(err.contains("guest db"), "{err}");
    e.cli_ok(&["rollback", "web"], 110);
    assert!(data.is_file());
    assert_eq!(count(&e, "g2"), 1);
    assert!(!e.status().iter().any(|r| r.checksum == c2), "c2 deployed");

    // An unreadable db: an existing stateroot is not deployed into, a new one is fine.
    fs::write(&db, "[[[\n").unwrap();
    fs::remove_file(e.config("web.toml")).unwrap();
    e.cli_ok(CREATE_WEB_ON_G2, 78);
    e.cli_ok(&["create", "web", "--ref", "other/x86_64"], 0);
    assert_eq!(count(&e, "g2"), 1);
    assert_eq!(count(&e, "web"), 1);
}

/// The booted host is recognised by inode even when the sysroot was given explicitly
/// (OSTREE_GUESTS_SYSROOT=/sysroot on a real host), where the default-entry rule cannot help:
/// here another stateroot owns the default entry.
#[test]
fn the_booted_stateroot_is_refused_with_an_explicit_sysroot() {
    skip_unless_possible!("the_booted_stateroot_is_refused_with_an_explicit_sysroot");
    let mut e = Env::new();
    e.commit("guest/x86_64", "g1");
    e.admin(&["os-init", "web"]);
    e.admin(&["deploy", "--os=web", "guest/x86_64"]); // as default: web is index 0
    let mut layout = Layout::for_sysroot(&e.sysroot);
    let host = Host {
        layout: layout.clone(),
        ostree: Ostree::new(Some(e.sysroot.clone()), &e.sysroot),
        explicit_sysroot: true,
    };
    let deps = host.list().unwrap();
    assert_eq!(deps[0].stateroot, "web");
    let booted = deps.iter().find(|d| d.stateroot == "host").unwrap();
    // "Booted": the running root is the host deployment's directory, with libostree's marker.
    layout.root = e.sysroot.join(booted.relative_dir());
    fs::create_dir_all(layout.root.join("run")).unwrap();
    fs::write(layout.root.join("run/ostree-booted"), "").unwrap();
    let host = Host { layout, ..host };
    let err = host.refuse_host_stateroot(&deps, "host").unwrap_err();
    assert_eq!(err.code, 82, "{}", err.message);
    assert!(err.message.contains("booted"), "{}", err.message);
}

/// Refs, checksums and stateroots that look like options never reach `ostree` as options.
#[test]
fn option_like_refs_and_stateroots_are_usage_errors() {
    skip_unless_possible!("option_like_refs_and_stateroots_are_usage_errors");
    let mut e = Env::new();
    e.commit("guest/x86_64", "g1");
    let before = e.status();
    for (args, option) in [
        (&["create", "web", "--ref=--help"][..], "--ref"),
        (&["create", "web", "--ref=origin:-v"][..], "--ref"),
        (&["create", "web", "--commit=-v"][..], "--commit"),
        (
            &["create", "web", "--stateroot=-v", "--ref", "guest/x86_64"][..],
            "--stateroot",
        ),
        (&["upgrade", "web", "--ref=--help"][..], "--ref"),
    ] {
        let (out, err) = e.cli_ok(args, 64);
        assert!(err.contains(option), "{args:?}: {err}");
        assert!(!out.contains("Usage:"), "ostree's help leaked: {out}");
    }
    // A machine name is the default stateroot, and `ostree admin os-init` takes no `--`; the
    // machine-name rule (no label starts with '-') refuses it first.
    let (_, err) = e.cli_ok(&["create", "--ref", "guest/x86_64", "--", "-v"], 64);
    assert!(err.contains("\"-v\""), "{err}");
    assert!(!e.path("ostree/deploy/-v").exists());
    assert!(!e.config("web.toml").exists() && !e.config("-v.toml").exists());
    assert_eq!(e.status(), before);
    // The same ref without the leading '-' still works after `--`.
    e.cli_ok(&["create", "web", "--ref", "guest/x86_64"], 0);
}
