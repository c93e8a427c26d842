//! `create` and `upgrade` show ostree's pull progress on a terminal, and only there: under a
//! pseudo-terminal (util-linux `script`) ostree draws its progress line, captured output and
//! `--quiet` get none of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

#[macro_use]
mod common;

use std::process::Command;

use common::Env;

/// ostree's console progress saves and restores the cursor (ESC 7, ESC 8) around its line.
const PROGRESS_MARK: &str = "\x1b7";

/// Runs the CLI under a pseudo-terminal; returns its exit status and everything it wrote.
fn on_a_terminal(e: &Env, args: &str) -> (Option<i32>, String) {
    let out = e
        .with_env(&mut Command::new("script"))
        .args(["-qec", &format!("exec \"$OG_CLI\" {args}"), "/dev/null"])
        .env("OG_CLI", env!("CARGO_BIN_EXE_ostree-guests"))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn pull_progress_on_a_terminal_only() {
    skip_unless_possible!("pull_progress_on_a_terminal_only");
    if Command::new("script").arg("--version").output().is_err() {
        println!("SKIP: pull_progress_on_a_terminal_only: no script(1) (util-linux)");
        return;
    }
    let mut e = Env::new();
    e.publish("p1");
    let (code, tty) = on_a_terminal(&e, "create web --ref rem:pub/x86_64");
    assert_eq!(code, Some(0), "{tty}");
    assert!(
        tty.contains(PROGRESS_MARK) && tty.contains("content objects"),
        "no progress on the terminal: {tty:?}"
    );

    e.publish("p2");
    let (out, err) = e.cli_ok(&["upgrade", "web"], 0);
    assert!(
        !err.contains("content objects") && !out.contains("content objects"),
        "progress without a terminal: {err}"
    );
    assert!(!err.contains(PROGRESS_MARK) && !out.contains(PROGRESS_MARK));

    e.publish("p3");
    let (code, tty) = on_a_terminal(&e, "--quiet upgrade web");
    assert_eq!(code, Some(0), "{tty}");
    assert!(
        !tty.contains(PROGRESS_MARK),
        "progress despite --quiet: {tty:?}"
    );

    e.publish("p4");
    let (code, tty) = on_a_terminal(&e, "upgrade web");
    assert_eq!(code, Some(0), "{tty}");
    assert!(tty.contains(PROGRESS_MARK), "no upgrade progress: {tty:?}");
}
