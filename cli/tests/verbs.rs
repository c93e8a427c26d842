#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report
//! Privileged guests as the CLI shows and creates them, adopting an existing configuration,
//! and the verbs around the guest's unit: `create --now`, `enable`, `disable`, `upgrade --all`
//! and `upgrade --check`, on real sysroots built with the ostree CLI. The test machines have no
//! systemd as PID 1, so what needs it is checked up to the point where systemctl would run.

mod common;

use std::fs;

use common::Env;
use serde_json::Value;

fn parse(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn item<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

#[test]
fn privileged_guests_are_created_on_request_and_shown() {
    skip_unless_possible!("privileged_guests_are_created_on_request_and_shown");
    let mut e = Env::new();
    e.commit("guest/x86_64", "g1");
    e.cli_ok(
        &[
            "create",
            "web",
            "--ref",
            "guest/x86_64",
            "--private-users",
            "no",
        ],
        0,
    );
    let text = fs::read_to_string(e.config("web.toml")).unwrap();
    assert!(
        text.contains("\n[security]\nprivate-users = \"no\"\n"),
        "{text}"
    );
    e.cli_ok(&["create", "db", "--ref", "guest/x86_64"], 0);
    let text = fs::read_to_string(e.config("db.toml")).unwrap();
    assert!(
        !text.contains("[security]"),
        "only written when given: {text}"
    );
    e.cli_ok(
        &[
            "create",
            "box",
            "--ref",
            "guest/x86_64",
            "--private-users",
            "idmap",
        ],
        0,
    );
    // The kubernetes profile needs real root: explicit idmap with it is refused, nothing made.
    let (_, err) = e.cli_ok(
        &[
            "create",
            "k3s",
            "--ref",
            "guest/x86_64",
            "--profile",
            "kubernetes",
            "--private-users",
            "idmap",
        ],
        64,
    );
    assert!(err.contains("private-users"), "{err}");
    assert!(!e.config("k3s.toml").exists());
    fs::write(e.config("bad.toml"), "autostart = 3\n").unwrap();

    let (out, _) = e.cli_ok(&["list", "--json"], 0);
    let list = parse(&out);
    assert_eq!(item(&list, "web")["privileged"], true);
    assert_eq!(item(&list, "db")["privileged"], false);
    assert_eq!(item(&list, "box")["privileged"], false);
    assert_eq!(item(&list, "bad")["privileged"], Value::Null);
    for n in ["web", "db", "bad"] {
        // Nothing runs here: the running mode is unknown, never guessed.
        assert_eq!(item(&list, n)["runningPrivileged"], Value::Null, "{n}");
    }
    let (out, _) = e.cli_ok(&["list"], 0);
    let header = out.lines().next().unwrap();
    assert!(header.contains("PRIVILEGED"), "{out}");
    let col = header.find("PRIVILEGED").unwrap();
    let cell = |name: &str| {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap();
        line[col..].split_whitespace().next().unwrap().to_owned()
    };
    assert_eq!(cell("web"), "yes", "{out}");
    assert_eq!(cell("db"), "no", "{out}");
    assert_eq!(cell("bad"), "-", "{out}");

    let (out, _) = e.cli_ok(&["status", "web"], 0);
    assert!(
        out.contains("privileged:  yes (the guest's root is the host's root"),
        "{out}"
    );
    let (out, _) = e.cli_ok(&["status", "db"], 0);
    assert!(out.contains("privileged:  no (user namespace"), "{out}");
    let (out, _) = e.cli_ok(&["status", "web", "--json"], 0);
    let v = parse(&out);
    assert_eq!(v["privileged"], true);
    assert_eq!(v["runningPrivileged"], Value::Null);
}

/// A configuration written before the guest exists (Butane on CoreOS): `create` without
/// configuration options makes what it describes and never rewrites it.
#[test]
fn create_adopts_an_existing_configuration() {
    skip_unless_possible!("create_adopts_an_existing_configuration");
    let mut e = Env::new();
    let c1 = e.commit("guest/x86_64", "g1");
    fs::create_dir_all(e.config("")).unwrap();
    // Butane's bytes: no trailing comment of ours, its own layout and a stateroot of its own.
    let butane = "profile = \"kubernetes\"\nstateroot = \"k3s-root\"\n[network]\nmode = \"veth\"\nports = [\"tcp:6443:6443\"]\n";
    fs::write(e.config("k3s.toml"), butane).unwrap();
    let mtime = || {
        fs::metadata(e.config("k3s.toml"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before = mtime();

    let (out, err) = e.cli_ok(&["create", "k3s", "--ref", "guest/x86_64"], 0);
    assert_eq!(fs::read(e.config("k3s.toml")).unwrap(), butane.as_bytes());
    assert_eq!(mtime(), before, "the file must not even be rewritten");
    assert!(
        err.contains("using the existing configuration /etc/ostree-guests.d/k3s.toml"),
        "{err}"
    );
    assert!(
        out.contains("k3s: stateroot k3s-root") && out.contains("/etc/ostree-guests.d/k3s.toml"),
        "{out}"
    );
    assert_eq!(e.resolved("k3s-root").unwrap().checksum, c1);
    assert!(e.status().iter().all(|r| r.stateroot != "k3s"));
    assert_eq!(e.status()[0].stateroot, "host");
    // Again: nothing changes.
    let st = e.status();
    e.cli_ok(&["create", "k3s", "--ref", "guest/x86_64"], 0);
    assert_eq!(e.status(), st);
    assert_eq!(fs::read(e.config("k3s.toml")).unwrap(), butane.as_bytes());

    // Configuration options with an existing file still need --force.
    let (_, err) = e.cli_ok(
        &["create", "k3s", "--ref", "guest/x86_64", "--no-autostart"],
        91,
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(fs::read(e.config("k3s.toml")).unwrap(), butane.as_bytes());

    // A vendor file is adopted in place: nothing is written to /etc.
    let vendor = e.root.join("usr/lib/ostree-guests.d");
    fs::create_dir_all(&vendor).unwrap();
    fs::write(vendor.join("db.toml"), "description = \"vendor db\"\n").unwrap();
    let (out, _) = e.cli_ok(&["create", "db", "--ref", "guest/x86_64"], 0);
    assert!(out.contains("/usr/lib/ostree-guests.d/db.toml"), "{out}");
    assert!(!e.config("db.toml").exists());
    assert_eq!(e.resolved("db").unwrap().checksum, c1);

    // An invalid existing file is not guessed around: 78, and no stateroot appears.
    fs::write(e.config("bad.toml"), "autostart = 3\n").unwrap();
    let (_, err) = e.cli_ok(&["create", "bad", "--ref", "guest/x86_64"], 78);
    assert!(err.contains("bad.toml:1: autostart"), "{err}");
    assert!(!e.path("ostree/deploy/bad").exists());
}
