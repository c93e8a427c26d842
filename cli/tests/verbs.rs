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

/// Without systemd (the test machines) `--now` creates the guest and then says it could not
/// start it, with the command to run on the booted host.
#[test]
fn create_now_needs_systemd_and_keeps_what_it_made() {
    skip_unless_possible!("create_now_needs_systemd_and_keeps_what_it_made");
    let mut e = Env::new();
    let c1 = e.commit("guest/x86_64", "g1");
    let (out, err) = e.cli_ok(&["create", "web", "--ref", "guest/x86_64", "--now"], 93);
    assert!(
        err.contains("web is created but not started: systemd is not running")
            && err
                .contains("systemctl daemon-reload && systemctl start systemd-nspawn@web.service"),
        "{err}"
    );
    assert!(out.contains("web: stateroot web"), "{out}");
    assert!(e.config("web.toml").is_file());
    assert_eq!(e.resolved("web").unwrap().checksum, c1);
}

#[test]
fn enable_and_disable_switch_autostart_through_a_dropin() {
    skip_unless_possible!("enable_and_disable_switch_autostart_through_a_dropin");
    let mut e = Env::new();
    e.commit("guest/x86_64", "g1");
    e.cli_ok(&["create", "web", "--ref", "guest/x86_64"], 0);
    let main = fs::read(e.config("web.toml")).unwrap();
    let dropin = e.config("web.toml.d/50-autostart.toml");
    let autostart = |e: &Env| {
        let (out, _) = e.cli_ok(&["status", "web", "--json"], 0);
        parse(&out)["autostart"].clone()
    };
    assert_eq!(autostart(&e), true);

    let (out, err) = e.cli_ok(&["disable", "web"], 0);
    assert!(
        out.contains("web: autostart off (/etc/ostree-guests.d/web.toml.d/50-autostart.toml)"),
        "{out}"
    );
    assert!(err.contains("daemon-reload` skipped"), "{err}");
    assert!(
        fs::read_to_string(&dropin)
            .unwrap()
            .contains("\nautostart = false\n")
    );
    assert_eq!(autostart(&e), false);
    assert_eq!(
        fs::read(e.config("web.toml")).unwrap(),
        main,
        "main file edited"
    );
    e.cli_ok(&["disable", "web"], 0);
    assert_eq!(autostart(&e), false);
    e.cli_ok(&["enable", "web"], 0);
    assert_eq!(autostart(&e), true);
    assert_eq!(
        fs::read(e.config("web.toml")).unwrap(),
        main,
        "main file edited"
    );

    // An admin's later drop-in decides: refused with 111, naming it, and ours is as it was.
    let before = fs::read(&dropin).unwrap();
    fs::write(e.config("web.toml.d/60-admin.toml"), "autostart = true\n").unwrap();
    let (_, err) = e.cli_ok(&["disable", "web"], 111);
    assert!(
        err.contains("/etc/ostree-guests.d/web.toml.d/60-admin.toml sets autostart"),
        "{err}"
    );
    assert_eq!(fs::read(&dropin).unwrap(), before);
    assert_eq!(autostart(&e), true);
    fs::remove_file(e.config("web.toml.d/60-admin.toml")).unwrap();

    // Unknown and invalid guests. The CLI's wording of the library's one lookup names its own
    // remedy; a malformed name is a usage error before any lookup.
    let (_, err) = e.cli_ok(&["enable", "nope"], 78);
    assert_eq!(
        err,
        "ostree-guests: no guest nope: none of /etc/ostree-guests.d/nope.toml, \
         /run/ostree-guests.d/nope.toml, /usr/lib/ostree-guests.d/nope.toml exists \
         (`ostree-guests create nope --ref REF` makes one)\n"
    );
    e.cli_ok(&["render", "no_pe"], 64);
    fs::write(e.config("bad.toml"), "autostart = 3\n").unwrap();
    e.cli_ok(&["disable", "bad"], 78);
    assert!(!e.config("bad.toml.d").exists());

    // remove takes our drop-in along.
    e.cli_ok(&["remove", "web"], 0);
    assert!(!dropin.exists() && !e.config("web.toml.d").exists());
}

#[test]
fn upgrade_check_reports_without_deploying() {
    skip_unless_possible!("upgrade_check_reports_without_deploying");
    let mut e = Env::new();
    let c1 = e.commit("guest/x86_64", "g1");
    e.cli_ok(&["create", "web", "--ref", "guest/x86_64"], 0);
    let (out, err) = e.cli_ok(&["upgrade", "web", "--check"], 77);
    assert!(out.contains("web: no update (guest/x86_64 is at"), "{out}");
    assert!(
        !err.contains("ostree-guests: \n"),
        "an empty error line: {err}"
    );
    let c2 = e.commit("guest/x86_64", "g2");
    let st = e.status();
    let (out, _) = e.cli_ok(&["upgrade", "web", "--check"], 0);
    assert!(
        out.contains(&format!(
            "web: update available: {}.0 (version g1) -> {} (guest/x86_64)",
            &c1[..12],
            &c2[..12]
        )),
        "{out}"
    );
    assert_eq!(e.status(), st, "--check deployed something");
    assert_eq!(e.resolved("web").unwrap().checksum, c1);
    // --check of a given commit: the one it runs is no update.
    e.cli_ok(&["upgrade", "web", "--check", "--commit", &c1], 77);
    e.cli_ok(&["upgrade", "web"], 0);
    assert_eq!(e.resolved("web").unwrap().checksum, c2);
    e.cli_ok(&["upgrade", "web", "--check"], 77);

    // A pinned guest: an update is a commit not deployed yet (it stays on its pin).
    e.cli_ok(&["pin", "web"], 0);
    e.cli_ok(&["upgrade", "web", "--check"], 77);
    e.commit("guest/x86_64", "g3");
    e.cli_ok(&["upgrade", "web", "--check"], 0);
    e.cli_ok(&["upgrade", "web"], 0);
    let (out, _) = e.cli_ok(&["upgrade", "web", "--check"], 77);
    assert!(out.contains("stays on its pinned deployment"), "{out}");

    // A REMOTE:REF is followed through the remote (a local archive repository here).
    let p1 = e.publish("p1");
    e.cli_ok(&["create", "db", "--ref", "rem:pub/x86_64"], 0);
    assert_eq!(e.resolved("db").unwrap().checksum, p1);
    e.cli_ok(&["upgrade", "db", "--check"], 77);
    let p2 = e.publish("p2");
    let st = e.status();
    let (out, err) = e.cli_ok(&["upgrade", "db", "--check"], 0);
    assert!(err.contains("commit-metadata-only"), "{err}");
    assert!(out.contains(&p2[..12]), "{out}");
    assert_eq!(e.status(), st);
    e.cli_ok(&["upgrade", "db"], 0);
    assert_eq!(e.resolved("db").unwrap().checksum, p2);
}

#[test]
fn upgrade_all_goes_through_every_guest() {
    skip_unless_possible!("upgrade_all_goes_through_every_guest");
    let mut e = Env::new();
    e.commit("guest/x86_64", "g1");
    e.commit("other/x86_64", "o1");
    e.cli_ok(&["create", "web", "--ref", "guest/x86_64"], 0);
    e.cli_ok(&["create", "db", "--ref", "other/x86_64"], 0);
    // Configured but not created yet: skipped, not a failure.
    fs::write(e.config("later.toml"), "# not created yet\n").unwrap();
    let (out, _) = e.cli_ok(&["upgrade", "--all", "--check"], 77);
    assert!(
        out.contains("later: skipped: stateroot later has no deployment"),
        "{out}"
    );
    // Named on its own, the same guest is an error, not "no update".
    e.cli_ok(&["upgrade", "later", "--check"], 79);
    let g2 = e.commit("guest/x86_64", "g2");
    let (out, _) = e.cli_ok(&["upgrade", "--all", "--check"], 0);
    assert!(
        out.contains("web: update available") && out.contains("db: no update"),
        "{out}"
    );
    let o2 = e.commit("other/x86_64", "o2");
    e.cli_ok(&["upgrade", "--all"], 0);
    assert_eq!(e.resolved("web").unwrap().checksum, g2);
    assert_eq!(e.resolved("db").unwrap().checksum, o2);
    assert_eq!(e.status()[0].stateroot, "host");
    e.cli_ok(&["upgrade", "--all", "--check"], 77);

    // An invalid guest fails (78) but the others are still upgraded.
    fs::write(e.config("bad.toml"), "autostart = 3\n").unwrap();
    let g3 = e.commit("guest/x86_64", "g3");
    let (_, err) = e.cli_ok(&["upgrade", "--all"], 78);
    assert!(err.contains("1 of 4 guest(s) failed: bad (78)"), "{err}");
    assert_eq!(e.resolved("web").unwrap().checksum, g3);

    // Usage: a name or --all, and --all takes no ref.
    e.cli_ok(&["upgrade"], 64);
    e.cli_ok(&["upgrade", "web", "--all"], 64);
    e.cli_ok(&["upgrade", "--all", "--ref", "guest/x86_64"], 64);
}

#[test]
fn upgrade_auto_takes_only_guests_that_ask_for_it() {
    skip_unless_possible!("upgrade_auto_takes_only_guests_that_ask_for_it");
    let mut e = Env::new();
    let g1 = e.commit("guest/x86_64", "g1");
    fs::create_dir_all(e.config("")).unwrap();
    fs::write(e.config("web.toml"), "auto-update = true\n").unwrap();
    e.cli_ok(&["create", "web", "--ref", "guest/x86_64"], 0);
    e.cli_ok(&["create", "db", "--ref", "guest/x86_64"], 0);
    e.cli_ok(&["upgrade", "--auto", "--check"], 77);
    let g2 = e.commit("guest/x86_64", "g2");
    fs::write(e.config("bad.toml"), "auto-update = 3\n").unwrap();
    let (out, err) = e.cli_ok(&["upgrade", "--auto", "--check"], 0);
    assert!(
        // Checksums are hex and may contain "db": look at what each line names.
        out.contains("web: update available") && !out.lines().any(|l| l.starts_with("db")),
        "{out}"
    );
    assert!(
        err.contains("bad: skipped, its configuration is invalid"),
        "{err}"
    );
    e.cli_ok(&["upgrade", "--auto"], 0);
    assert_eq!(e.resolved("web").unwrap().checksum, g2);
    assert_eq!(e.resolved("db").unwrap().checksum, g1, "db did not ask");
    e.cli_ok(&["upgrade", "--auto", "--check"], 77);
    e.cli_ok(&["upgrade", "--auto", "--all"], 64);
    e.cli_ok(&["upgrade", "web", "--auto"], 64);
}

/// The shipped units run a command line the parser accepts, and the timer is opt-in.
#[test]
fn auto_update_units_run_a_valid_command() {
    use clap::Parser as _;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../units");
    let service = fs::read_to_string(dir.join("ostree-guests-auto-update.service")).unwrap();
    let exec = service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let argv: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(argv[0], "/usr/bin/ostree-guests");
    assert!(argv.contains(&"--auto"), "{exec}");
    ostree_guests_cli::args::Cli::try_parse_from(&argv).unwrap();
    assert!(
        !service.contains("[Install]"),
        "static: the timer starts it"
    );
    let timer = fs::read_to_string(dir.join("ostree-guests-auto-update.timer")).unwrap();
    assert!(timer.contains("OnCalendar=") && timer.contains("WantedBy=timers.target"));
}
