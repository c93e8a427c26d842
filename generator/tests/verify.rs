//! `systemd-analyze verify` accepts what the generator writes, combined with the stock
//! systemd-nspawn@.service template, for every scenario that produces a drop-in.
//!
//! Needs root (a private mount namespace gives the helper path a stand-in executable without
//! touching the host's /usr) and systemd-analyze plus the template (package systemd-container).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TEMPLATE: &str = "/lib/systemd/system/systemd-nspawn@.service";

fn skip_reason() -> Option<String> {
    if !nix_is_root() {
        return Some("needs root for a private mount namespace".into());
    }
    if !Path::new(TEMPLATE).exists() {
        return Some(format!(
            "{TEMPLATE} missing: apt-get install systemd-container"
        ));
    }
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        return Some("systemd-analyze not installed".into());
    }
    None
}

fn nix_is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn generate(root: &Path, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_ostree-guests-generator"))
        .arg(out)
        .env("OSTREE_GUESTS_ROOT", root)
        .env_remove("SYSTEMD_EXEC_PID")
        .env_remove("SYSTEMD_IN_INITRD")
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.code().is_some());
}

/// Runs verify on the given units inside a private mount namespace where
/// /usr/libexec/ostree-guests/ostree-guest-start exists (verify checks ExecStart binaries).
fn verify(dir: &Path, units: &[String]) -> (bool, String) {
    let script = r#"
set -e
mount -t tmpfs ostree-guests-verify /usr/libexec
mkdir -p /usr/libexec/ostree-guests
cp /bin/true /usr/libexec/ostree-guests/ostree-guest-start
cd "$1"; shift
exec systemd-analyze verify --man=no "$@"
"#;
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(dir)
        .args(units.iter().map(|u| dir.join(u)))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn units_in(dir: &Path) -> Vec<String> {
    let mut units: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".d").map(str::to_owned))
        .filter(|n| n.starts_with("systemd-nspawn@"))
        .collect();
    units.sort();
    units
}

#[test]
fn generated_units_pass_systemd_analyze_verify() {
    if let Some(why) = skip_reason() {
        eprintln!("SKIP generated_units_pass_systemd_analyze_verify: {why}");
        return;
    }
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/generator");
    let mut checked = 0;
    for case in fs::read_dir(&cases).unwrap() {
        let case: PathBuf = case.unwrap().path();
        if case.join("args").exists() || case.join("env").exists() {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        fs::copy(TEMPLATE, tmp.path().join("systemd-nspawn@.service")).unwrap();
        generate(&case.join("root"), tmp.path());
        let units = units_in(tmp.path());
        if units.is_empty() {
            continue;
        }
        let (ok, text) = verify(tmp.path(), &units);
        assert!(
            ok,
            "{}: systemd-analyze verify failed:\n{text}",
            case.display()
        );
        checked += units.len();
    }
    assert!(checked >= 20, "only {checked} units verified");
    eprintln!("systemd-analyze verify passed for {checked} generated units");
}

/// The check above could pass vacuously if verify ignored our drop-ins; prove it reads them.
#[test]
fn verify_catches_a_corrupted_dropin() {
    if let Some(why) = skip_reason() {
        eprintln!("SKIP verify_catches_a_corrupted_dropin: {why}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/generator/minimal-guest/root");
    let tmp = tempfile::tempdir().unwrap();
    fs::copy(TEMPLATE, tmp.path().join("systemd-nspawn@.service")).unwrap();
    generate(&root, tmp.path());
    let units = units_in(tmp.path());
    assert_eq!(units, ["systemd-nspawn@web.service"]);
    let (ok, text) = verify(tmp.path(), &units);
    assert!(ok, "{text}");
    let dropin = tmp
        .path()
        .join("systemd-nspawn@web.service.d/50-ostree-guests.conf");
    let mut text = fs::read_to_string(&dropin).unwrap();
    text.push_str("ExecStart=/bin/echo injected\n");
    fs::write(&dropin, text).unwrap();
    let (ok, text) = verify(tmp.path(), &units);
    assert!(!ok, "verify accepted two ExecStart= lines:\n{text}");
    assert!(text.contains("ExecStart"), "{text}");
}
