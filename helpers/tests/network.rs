//! Golden tests of the network configuration (bridges, and the host side of veth guests on
//! NetworkManager hosts): the real `ostree-guests-network --dry-run` on each configuration tree
//! under tests/network/CASE/root, for both backends, compared with
//! tests/network/CASE/expected.{networkd,networkmanager}, one test per case (named like its
//! directory, dashes as underscores). UPDATE_GOLDEN=1 rewrites them.
//!
//! Every NetworkManager keyfile is also read back by NetworkManager's own parser
//! (`nmcli --offline connection modify`, which prints the normalized keyfile): each of our
//! key=value lines must survive it unchanged, so a value NetworkManager would drop or rewrite
//! fails the test. NMCLI names the nmcli to use (tests/run provides one unpacked from Debian's
//! package, so nothing is installed on the machine); without it that part says SKIP, and an NMCLI
//! that does not run fails it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

#[path = "../../tests/support/update_golden.rs"]
mod update_golden;

#[path = "../../tests/support/cases.rs"]
mod cases;

mod common;

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn cases() -> Vec<PathBuf> {
    common::case_dirs("network")
}

/// The case's root with modes the loader accepts, whatever the checkout's umask.
fn staged_root(case: &Path, into: &Path) -> PathBuf {
    let root = into.join("root");
    let _ = fs::remove_dir_all(&root);
    let out = Command::new("cp")
        .args(["-a", "--no-preserve=ownership"])
        .arg(case.join("root"))
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let walk = Command::new("find").arg(&root).output().unwrap();
    for p in String::from_utf8_lossy(&walk.stdout).lines() {
        let p = Path::new(p);
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }
    root
}

fn run_dry(root: &Path, backend: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ostree-guests-network"))
        .args(["--dry-run", "--backend", backend])
        .env("OSTREE_GUESTS_ROOT", root)
        .env_remove("OSTREE_GUESTS_RUN")
        .output()
        .unwrap()
}

fn dry_run(root: &Path, backend: &str) -> String {
    let out = run_dry(root, backend);
    format!(
        "{}{}exit status: {}\n",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status.code().map_or("signal".into(), |c| c.to_string())
    )
}

/// Runs the case `tests/network/NAME` with both backends, or rewrites its expectations with
/// UPDATE_GOLDEN=1.
fn rendered(name: &str) {
    let case = cases::case_dir(env!("CARGO_MANIFEST_DIR"), "network", name);
    let tmp = tempfile::tempdir().unwrap();
    let root = staged_root(&case, tmp.path());
    for backend in ["networkd", "networkmanager"] {
        update_golden::compare_or_update(
            &case.join(format!("expected.{backend}")),
            &dry_run(&root, backend),
            &format!("{name} ({backend})"),
        );
    }
}

cases::golden_cases! { rendered;
    bridge_named_like_a_port_file,
    dhcp_uplink_by_name,
    guests_only_bridge,
    static_two_uplinks_pinned_mac,
    unmanaged_and_invalid,
    veth_guests_and_a_bridge,
    veth_masked_by_admin,
    veth_without_dnsmasq,
}

#[test]
fn every_case_directory_has_a_test() {
    cases::listed_cases_are_the_directories(env!("CARGO_MANIFEST_DIR"), "network", CASES, 7);
}

/// Splits `--dry-run` output into (path, text) blocks.
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(path) = line.strip_prefix("---").and_then(|l| l.strip_suffix("---")) {
            out.push((path.to_owned(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

#[test]
fn networkmanager_reads_our_keyfiles_back_unchanged() {
    let Some(nmcli) = std::env::var_os("NMCLI") else {
        eprintln!(
            "SKIP networkmanager_reads_our_keyfiles_back_unchanged: NMCLI is not set \
             (tests/run sets it as root: NMCLI=$(tests/lib/nmcli.sh))"
        );
        return;
    };
    // A named nmcli that does not run is a broken setup, not a reason to skip.
    let version = Command::new(&nmcli).arg("--version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "NMCLI={} does not run: {version:?}",
        nmcli.to_string_lossy()
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for case in cases() {
        let root = staged_root(&case, tmp.path());
        let stdout = run_dry(&root, "networkmanager").stdout;
        for (path, keyfile) in blocks(&String::from_utf8_lossy(&stdout)) {
            if !path.ends_with(".nmconnection") {
                continue;
            }
            let mut child = Command::new(&nmcli)
                .args([
                    "--offline",
                    "connection",
                    "modify",
                    "connection.autoconnect",
                    "yes",
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(keyfile.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            let normalized = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{path}: nmcli failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut section = String::new();
            let parsed: Vec<String> = normalized
                .lines()
                .filter_map(|l| {
                    if l.starts_with('[') {
                        section = l.to_owned();
                        None
                    } else {
                        Some(format!("{section}{l}"))
                    }
                })
                .collect();
            let mut section = String::new();
            for line in keyfile.lines() {
                if line.starts_with('#') || line.is_empty() {
                    continue;
                }
                if line.starts_with('[') {
                    section = line.to_owned();
                    continue;
                }
                let want = format!("{section}{line}");
                assert!(
                    parsed.contains(&want),
                    "{path}: NetworkManager did not keep {want:?}; it read:\n{normalized}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} keyfiles checked");
    eprintln!("NetworkManager kept every setting of {checked} keyfiles");
}

#[test]
fn writes_with_the_right_modes_and_removes_stale_files_only() {
    use std::os::unix::fs::MetadataExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let case = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/network/static-two-uplinks-pinned-mac");
    let root = staged_root(&case, tmp.path());
    let run = tmp.path().join("run");
    let net = run.join("systemd/network");
    let nm = run.join("NetworkManager/system-connections");
    fs::create_dir_all(&net).unwrap();
    fs::create_dir_all(&nm).unwrap();
    // A file of ours for a bridge that is gone, and files that are not ours.
    fs::write(net.join("50-ostree-guests-old.netdev"), "[NetDev]\n").unwrap();
    fs::write(net.join("10-admin.network"), "[Match]\n").unwrap();
    fs::write(nm.join("other.nmconnection"), "[connection]\n").unwrap();
    let run_backend = |backend: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_ostree-guests-network"))
            .args(["--backend", backend])
            .env("OSTREE_GUESTS_ROOT", &root)
            .env("OSTREE_GUESTS_RUN", &run)
            .output()
            .unwrap();
        assert!(out.status.success(), "{backend}: {out:?}");
    };
    run_backend("networkd");
    let mode = |p: PathBuf| fs::metadata(&p).unwrap().mode() & 0o777;
    // systemd-networkd reads its files as the systemd-network user.
    assert_eq!(mode(net.join("50-ostree-guests-lan.netdev")), 0o644);
    assert!(
        !net.join("50-ostree-guests-old.netdev").exists(),
        "stale file kept"
    );
    assert!(
        net.join("10-admin.network").exists(),
        "a file not ours was removed"
    );
    run_backend("networkmanager");
    // NetworkManager ignores keyfiles that others can read.
    assert_eq!(mode(nm.join("ostree-guests-lan.nmconnection")), 0o600);
    assert!(nm.join("other.nmconnection").exists());
}

#[test]
fn veth_files_follow_the_guests_and_are_rewritten_only_when_they_change() {
    use std::os::unix::fs::MetadataExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let case =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/network/veth-guests-and-a-bridge");
    let root = staged_root(&case, tmp.path());
    let guests = root.join("etc/ostree-guests.d");
    let run = tmp.path().join("run");
    let conf_dir = run.join("NetworkManager/conf.d");
    let nm = run.join("NetworkManager/system-connections");
    let conf = conf_dir.join("ostree-guests-veth.conf");
    let run_backend = |run: &Path, backend: &str| -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_ostree-guests-network"))
            .args(["--backend", backend])
            .env("OSTREE_GUESTS_ROOT", &root)
            .env("OSTREE_GUESTS_RUN", run)
            .output()
            .unwrap();
        assert!(out.status.success(), "{backend}: {out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;

    // On a networkd host nothing of NetworkManager's appears.
    let networkd_run = tmp.path().join("run-networkd");
    run_backend(&networkd_run, "networkd");
    assert!(!networkd_run.join("NetworkManager").exists());

    run_backend(&run, "networkmanager");
    // NetworkManager.conf snippets are plain configuration; keyfiles must be root-only.
    assert_eq!(mode(&conf), 0o644);
    for name in ["web", "k3s", "database-primary-01"] {
        assert_eq!(
            mode(&nm.join(format!("ostree-guests-veth@{name}.nmconnection"))),
            0o600
        );
    }
    assert!(nm.join("ostree-guests-br0.nmconnection").exists());
    fs::write(conf_dir.join("10-admin.conf"), "[main]\n").unwrap();
    fs::write(nm.join("other.nmconnection"), "[connection]\n").unwrap();

    // Nothing changed: nothing is written again (so the stack is not asked to reload).
    let before = fs::metadata(&conf).unwrap().ino();
    let said = run_backend(&run, "networkmanager");
    assert!(
        said.contains("(0 changed)") && !said.contains("1 changed"),
        "{said}"
    );
    assert_eq!(fs::metadata(&conf).unwrap().ino(), before);

    // A guest that is gone loses its profile and its interface in the device section.
    fs::remove_file(guests.join("web.toml")).unwrap();
    let said = run_backend(&run, "networkmanager");
    assert!(
        said.contains("ostree-guests-veth@web.nmconnection"),
        "{said}"
    );
    assert!(!nm.join("ostree-guests-veth@web.nmconnection").exists());
    assert!(!fs::read_to_string(&conf).unwrap().contains("ve-web"));

    // No veth guest left: the snippet and the profiles go, everything else stays.
    fs::remove_file(guests.join("k3s.toml")).unwrap();
    fs::remove_file(guests.join("database-primary-01.toml")).unwrap();
    run_backend(&run, "networkmanager");
    assert!(!conf.exists());
    let left: Vec<String> = fs::read_dir(&nm)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("veth"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(nm.join("ostree-guests-br0.nmconnection").exists());
    assert!(nm.join("other.nmconnection").exists());
    assert!(conf_dir.join("10-admin.conf").exists());
}

/// `--help` names exactly the network helper's statuses of lib/src/exit.rs (`exit::network::ALL`).
#[test]
fn help_lists_exactly_the_network_helpers_exit_statuses() {
    let out = Command::new(env!("CARGO_BIN_EXE_ostree-guests-network"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
    let (_, statuses) = text.split_once("Exit status:").unwrap();
    let mut listed: Vec<i32> = statuses
        .split(", ")
        .map(|s| s.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    listed.sort_unstable();
    let mut want = ostree_guests::exit::network::ALL.to_vec();
    want.sort_unstable();
    assert_eq!(listed, want, "{statuses}");
}
