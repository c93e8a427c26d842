//! Golden tests of the nspawn command line: the real `ostree-guest-start --dry-run` runs
//! against a small hand-made sysroot (boot entries, bootlinks, a deployment directory) with
//! each configuration under tests/helper/CASE/web.toml, and its output must equal
//! tests/helper/CASE/expected.stdout (paths of the temporary sysroot shown as {sysroot}).
//! Each case is a test of its own, named like its directory with dashes as underscores.
//! UPDATE_GOLDEN=1 rewrites the expectations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

#[path = "../../tests/support/update_golden.rs"]
mod update_golden;

#[path = "../../tests/support/cases.rs"]
mod cases;

mod common;

use std::path::Path;
use std::process::{Command, Output};

/// `ostree-guest-start --dry-run --no-register NAME` with `files` as its configuration, on the
/// one-deployment sysroot; also returns the sysroot's path.
fn start_dry(files: &[(&str, &Path)], name: &str) -> (Output, String) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sysroot");
    common::sysroot(&root);
    let cfg = common::config_root(tmp.path(), files);
    let out = Command::new(env!("CARGO_BIN_EXE_ostree-guest-start"))
        .args(["--dry-run", "--no-register", name])
        .env("OSTREE_GUESTS_ROOT", &cfg)
        .env("OSTREE_GUESTS_SYSROOT", &root)
        .env("OSTREE_GUESTS_BOOT", root.join("boot"))
        .output()
        .unwrap();
    (out, root.display().to_string())
}

/// Runs the case `tests/helper/NAME`, or rewrites its expectation with UPDATE_GOLDEN=1.
fn dry_run(name: &str) {
    let case = cases::case_dir(env!("CARGO_MANIFEST_DIR"), "helper", name);
    let (out, root) = start_dry(&[("web.toml", &case.join("web.toml"))], "web");
    let text = format!(
        "{}{}exit status: {}\n",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status
            .code()
            .map_or("signal".to_owned(), |c| c.to_string())
    )
    .replace(&root, "{sysroot}");
    update_golden::compare_or_update(&case.join("expected.stdout"), &text, name);
}

cases::golden_cases! { dry_run;
    bind_dev,
    binds,
    boot_writable,
    config_invalid,
    default,
    environment,
    network_bridge_ports,
    network_host,
    network_none,
    network_zone,
    ostree_tools,
    pin_checksum,
    pin_missing,
    private_users_idmap,
    profile_kubernetes,
    security_options,
}

#[test]
fn every_case_directory_has_a_test() {
    cases::listed_cases_are_the_directories(env!("CARGO_MANIFEST_DIR"), "helper", CASES, 10);
}

/// No file for the guest: the helper's wording of the library's one lookup (the remedy a unit's
/// log can offer), exit 78.
#[test]
fn a_guest_without_configuration_is_named_with_the_units_remedy() {
    let (out, _) = start_dry(&[], "nope");
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ostree-guest-start: no configuration for guest nope: create nope.toml in one of \
         /etc/ostree-guests.d, /run/ostree-guests.d, /usr/lib/ostree-guests.d and run \
         \"systemctl daemon-reload\"\n"
    );
}
