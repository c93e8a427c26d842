#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report
//! The CLI on real sysroots built with the ostree CLI (root and ostree needed; SKIP otherwise).
//! After every step the host must still own index 0 (its default boot entry) and the guest must
//! resolve (as the start helper does) to the deployment the step promised.

mod common;

use std::fs;
use std::path::PathBuf;

use common::{Env, exists};
use ostree_guests_cli::ostree::Ostree;
use ostree_guests_cli::sysroot::{Host, Id};

/// The host is still the default, and the guest has at most `max` deployments.
fn check_host_default(e: &Env, max: usize) {
    let st = e.status();
    assert_eq!(st[0].stateroot, "host", "host lost index 0: {st:?}");
    let web = st.iter().filter(|r| r.stateroot == "web").count();
    assert!(web <= max, "{web} deployments of web: {st:?}");
}

#[test]
fn create_upgrade_rollback_remove() {
    skip_unless_possible!("create_upgrade_rollback_remove");
    let mut e = Env::new();
    let c1 = e.commit("guest/x86_64", "g1");
    let (out, _) = e.cli_ok(&["create", "web", "--ref", "guest/x86_64"], 0);
    assert!(out.contains("systemctl daemon-reload"), "{out}");
    assert!(e.config("web.toml").is_file());
    check_host_default(&e, 2);
    assert_eq!(e.resolved("web").unwrap().checksum, c1);

    let mut commits = vec![c1];
    for i in 2..=4 {
        let c = e.commit("guest/x86_64", &format!("g{i}"));
        e.cli_ok(&["upgrade", "web"], 0);
        check_host_default(&e, 2);
        let r = e.resolved("web").unwrap();
        assert_eq!(
            r.checksum, c,
            "upgrade {i} did not make the new commit the guest's"
        );
        commits.push(c);
        // The previous one is kept behind it (--keep 2).
        let st = e.status();
        let web: Vec<_> = st.iter().filter(|r| r.stateroot == "web").collect();
        assert_eq!(web.len(), 2, "{st:?}");
        assert_eq!(web[1].checksum, commits[commits.len() - 2]);
    }

    e.cli_ok(&["rollback", "web"], 0);
    check_host_default(&e, 2);
    assert_eq!(e.resolved("web").unwrap().checksum, commits[2], "rollback");

    // An explicit commit, and --keep 1.
    e.cli_ok(
        &["upgrade", "web", "--commit", &commits[3], "--keep", "1"],
        0,
    );
    check_host_default(&e, 1);
    assert_eq!(e.resolved("web").unwrap().checksum, commits[3]);

    e.cli_ok(&["remove", "web"], 0);
    check_host_default(&e, 0);
    assert!(!e.status().iter().any(|r| r.stateroot == "web"));
    assert!(!e.config("web.toml").exists());
    assert!(
        e.path("ostree/deploy/web/var").is_dir(),
        "/var is kept without --purge"
    );
    // --purge without --yes and without a terminal refuses.
    e.cli_ok(&["remove", "web", "--purge"], 95);
    assert!(e.path("ostree/deploy/web").is_dir());
    e.cli_ok(&["remove", "web", "--purge", "--yes"], 0);
    assert!(!exists(&e.path("ostree/deploy/web")));
    check_host_default(&e, 0);
    assert_eq!(e.status().len(), 1);
}

#[test]
fn create_is_idempotent_and_refuses_conflicts() {
    skip_unless_possible!("create_is_idempotent_and_refuses_conflicts");
    let mut e = Env::new();
    e.commit("guest/x86_64", "g1");
    let args = [
        "create",
        "web",
        "--ref",
        "guest/x86_64",
        "--port",
        "8080:80",
    ];
    e.cli_ok(&args, 0);
    let before = e.status();
    let text = fs::read_to_string(e.config("web.toml")).unwrap();
    assert!(text.contains("ports = [\"8080:80\"]"), "{text}");
    e.cli_ok(&args, 0);
    assert_eq!(e.status(), before, "a re-run must not deploy again");

    // Another configuration under the same name.
    let (_, err) = e.cli_ok(
        &["create", "web", "--ref", "guest/x86_64", "--no-autostart"],
        91,
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(fs::read_to_string(e.config("web.toml")).unwrap(), text);
    e.cli_ok(
        &[
            "create",
            "web",
            "--ref",
            "guest/x86_64",
            "--no-autostart",
            "--force",
        ],
        0,
    );
    assert!(
        fs::read_to_string(e.config("web.toml"))
            .unwrap()
            .contains("autostart = false")
    );
    assert_eq!(e.status(), before);

    // Bad names, a bad option combination, the host's own stateroot, a missing ref.
    e.cli_ok(&["create", "web_1", "--ref", "guest/x86_64"], 64);
    e.cli_ok(&["create", "../x", "--ref", "guest/x86_64"], 64);
    e.cli_ok(
        &[
            "create",
            "db",
            "--ref",
            "guest/x86_64",
            "--network",
            "bridge",
        ],
        64,
    );
    e.cli_ok(
        &[
            "create",
            "h",
            "--stateroot",
            "host",
            "--ref",
            "guest/x86_64",
        ],
        82,
    );
    e.cli_ok(&["create", "db", "--ref", "no/such/ref"], 96);
    e.cli_ok(&["create", "db"], 64);
    assert!(!e.config("db.toml").exists() && !e.config("h.toml").exists());
    check_host_default(&e, 1);
}

#[test]
fn pin_survives_upgrades_and_unpin_undoes_it() {
    skip_unless_possible!("pin_survives_upgrades_and_unpin_undoes_it");
    let mut e = Env::new();
    let c1 = e.commit("guest/x86_64", "g1");
    e.cli_ok(&["create", "web", "--ref", "guest/x86_64"], 0);
    e.cli_ok(&["pin", "web"], 0);
    let dropin = e.config("web.toml.d/50-pin.toml");
    let text = fs::read_to_string(&dropin).unwrap();
    assert!(
        text.contains(&format!("deployment = \"{}\"", &c1[..16])),
        "{text}"
    );
    let pinned = |e: &Env, c: &str| {
        e.status()
            .iter()
            .any(|r| r.stateroot == "web" && r.checksum == c && r.pinned)
    };
    assert!(pinned(&e, &c1));

    let mut last = String::new();
    for i in 2..=3 {
        last = e.commit("guest/x86_64", &format!("g{i}"));
        let (out, _) = e.cli_ok(&["upgrade", "web"], 0);
        assert!(out.contains("pinned"), "{out}");
        check_host_default(&e, 3);
        assert!(
            pinned(&e, &c1),
            "the pinned deployment must survive upgrade {i}"
        );
        assert!(
            e.status().iter().any(|r| r.checksum == last),
            "new commit deployed"
        );
    }
    // The guest (with its pin) still resolves to c1: ask the helper's own view via render.
    let (out, _) = e.cli_ok(&["render", "web"], 0);
    assert!(out.contains(&format!("deployment: {c1}.")), "{out}");
    // rollback is refused while pinned.
    e.cli_ok(&["rollback", "web"], 64);

    e.cli_ok(&["unpin", "web"], 0);
    assert!(!dropin.exists());
    assert!(!e.config("web.toml.d").exists());
    assert!(!pinned(&e, &c1));
    e.cli_ok(&["unpin", "web"], 0);
    // Unpinned, an upgrade to the already-deployed newest commit makes it the guest's.
    e.cli_ok(&["upgrade", "web"], 0);
    assert_eq!(e.resolved("web").unwrap().checksum, last);
    check_host_default(&e, 2);

    // A pin by CHECKSUM.SERIAL, and one that matches nothing.
    let d = e.resolved("web").unwrap();
    e.cli_ok(&["pin", "web", &d.dir_name()], 0);
    assert!(pinned(&e, &d.checksum));
    e.cli_ok(&["pin", "web", "deadbeefdeadbeef"], 80);
}

#[test]
fn validate_and_render() {
    skip_unless_possible!("validate_and_render");
    let e = Env::new();
    let conf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conf.d");
    for ok in ["web.toml", "k3s.toml"] {
        let p = conf.join(ok);
        e.cli_ok(&["validate", p.to_str().unwrap()], 0);
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("web.toml");
    fs::write(&bad, "autostart = true\n\n[network]\nbrigde = \"br0\"\n").unwrap();
    let (_, err) = e.cli_ok(&["validate", bad.to_str().unwrap()], 1);
    assert!(
        err.contains(&format!(
            "{}:4: network.brigde: unknown field",
            bad.display()
        )),
        "{err}"
    );
    // The installed configuration: none yet is valid; then an invalid one.
    e.cli_ok(&["validate"], 0);
    fs::create_dir_all(e.config("")).unwrap();
    fs::write(e.config("db.toml"), "autostart = 3\n").unwrap();
    let (_, err) = e.cli_ok(&["validate"], 1);
    assert!(
        err.contains("/etc/ostree-guests.d/db.toml:1: autostart"),
        "{err}"
    );
    fs::remove_file(e.config("db.toml")).unwrap();
    e.cli_ok(&["validate", "/no/such/file.toml"], 64);

    // render: the drop-in and the argv; no deployment yet is exit 79 after the drop-in.
    fs::write(e.config("web.toml"), "# defaults\n").unwrap();
    let (out, err) = e.cli_ok(&["render", "web"], 79);
    assert!(
        out.contains("ExecStart=/usr/libexec/ostree-guests/ostree-guest-start -- web"),
        "{out}"
    );
    assert!(err.contains("no deployment"), "{err}");
    let before = e.status();
    let mut e = e;
    e.commit("guest/x86_64", "g1");
    e.admin(&["os-init", "web"]);
    e.admin(&["deploy", "--os=web", "--not-as-default", "guest/x86_64"]);
    let (out, _) = e.cli_ok(&["render", "web"], 0);
    assert!(
        out.contains("--pivot-root=/ostree/deploy/web/deploy/"),
        "{out}"
    );
    assert!(out.contains("systemd-nspawn"), "{out}");
    assert_eq!(e.status().len(), before.len() + 1, "render changes nothing");

    let (out, _) = e.cli_ok(&["list", "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["items"][0]["name"], "web");
    assert_eq!(v["items"][0]["deployment"]["version"], "g1");
    assert_eq!(v["items"][0]["unit"], "systemd-nspawn@web.service");
    let (out, _) = e.cli_ok(&["status", "web", "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["bootEntries"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["configFiles"][0], "/etc/ostree-guests.d/web.toml");
    e.cli_ok(&["status", "nope"], 78);
    let (out, _) = e.cli_ok(&["list"], 0);
    assert!(out.starts_with("NAME"), "{out}");
}

/// A deploy that takes the default entry is undone and reported (the guard on its own, fed a
/// deploy made without --not-as-default).
#[test]
fn default_entry_guard_undoes_a_changed_default() {
    skip_unless_possible!("default_entry_guard_undoes_a_changed_default");
    let mut e = Env::new();
    let host = Host {
        layout: e.layout(),
        ostree: Ostree::new(Some(e.sysroot.clone()), &e.sysroot),
        explicit_sysroot: true,
    };
    let before = host.list().unwrap();
    let default = Id::of(&before[0]);
    e.commit("guest/x86_64", "g1");
    e.admin(&["os-init", "web"]);
    e.admin(&["deploy", "--os=web", "guest/x86_64"]); // the trap: as default
    let after = host.list().unwrap();
    assert_eq!(after[0].stateroot, "web");
    let added = Id::of(&after[0]);
    let err = host
        .guard_default(Some(&default), Some(&added))
        .unwrap_err();
    assert_eq!(err.code, 90, "{}", err.message);
    assert!(
        err.message.contains(&default.to_string()),
        "{}",
        err.message
    );
    assert!(err.message.contains(&added.to_string()), "{}", err.message);
    assert!(
        err.message.contains("the default is restored"),
        "{}",
        err.message
    );
    let st = e.status();
    assert_eq!(st[0].stateroot, "host");
    assert!(!st.iter().any(|r| r.stateroot == "web"), "{st:?}");
    // Unchanged, or no default before: nothing to do.
    host.guard_default(Some(&default), None).unwrap();
    host.guard_default(None, None).unwrap();
}
