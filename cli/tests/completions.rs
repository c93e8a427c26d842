#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report
//! Shell completions are generated from the parser and know every subcommand.

use std::process::Command;

#[test]
fn completions_for_bash_zsh_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ostree-guests"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {}", out.status);
        let text = String::from_utf8(out.stdout).unwrap();
        for sub in [
            "create", "upgrade", "rollback", "remove", "list", "status", "validate", "render",
            "pin", "unpin",
        ] {
            assert!(text.contains(sub), "{shell} completion lacks {sub}");
        }
    }
}

#[test]
fn help_has_examples_and_exit_statuses() {
    let out = Command::new(env!("CARGO_BIN_EXE_ostree-guests"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Examples:") && text.contains("ostree-guests create web"),
        "{text}"
    );
    for code in ["64", "88", "89", "90", "91", "92", "95"] {
        assert!(
            text.contains(&format!("  {code}  ")),
            "exit status {code} undocumented"
        );
    }
    // A usage error is 64, not clap's 2.
    let out = Command::new(env!("CARGO_BIN_EXE_ostree-guests"))
        .args(["create"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}
