//! Golden tests of the nspawn command line: the real `ostree-guest-start --dry-run` runs
//! against a small hand-made sysroot (boot entries, bootlinks, a deployment directory) with
//! each configuration under tests/helper/CASE/web.toml, and its output must equal
//! tests/helper/CASE/expected.stdout (paths of the temporary sysroot shown as {sysroot}).
//! UPDATE_GOLDEN=1 rewrites the expectations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

#[path = "../../tests/support/update_golden.rs"]
mod update_golden;

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn cases() -> Vec<PathBuf> {
    common::case_dirs("helper")
}

#[test]
fn dry_run_argv_matches_golden_files() {
    let update = update_golden::update_golden();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("sysroot");
    common::sysroot(&root);
    let all = cases();
    assert!(
        all.len() >= 10,
        "expected the cases under tests/helper, found {}",
        all.len()
    );
    for case in &all {
        let cfg = common::config_root(tmp.path(), &[("web.toml", &case.join("web.toml"))]);
        let out = Command::new(env!("CARGO_BIN_EXE_ostree-guest-start"))
            .args(["--dry-run", "--no-register", "web"])
            .env("OSTREE_GUESTS_ROOT", &cfg)
            .env("OSTREE_GUESTS_SYSROOT", &root)
            .env("OSTREE_GUESTS_BOOT", root.join("boot"))
            .output()
            .unwrap();
        let text = format!(
            "{}{}exit status: {}\n",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status
                .code()
                .map_or("signal".to_owned(), |c| c.to_string())
        )
        .replace(&root.display().to_string(), "{sysroot}");
        let expected = case.join("expected.stdout");
        if update {
            fs::write(&expected, &text).unwrap();
        } else {
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            similar_asserts::assert_eq!(
                fs::read_to_string(&expected).unwrap_or_default(),
                text,
                "{name}"
            );
        }
    }
}
