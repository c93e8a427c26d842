//! `create` and `upgrade` show ostree's pull progress on a terminal, and only there: under a
//! pseudo-terminal (util-linux `script`) ostree draws its progress line, captured output and
//! `--quiet` get none of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

#[macro_use]
mod common;

use common::Env;

const TEST: &str = "pull_progress_on_a_terminal_only";

/// ostree's console progress saves and restores the cursor (ESC 7, ESC 8) around its line.
const PROGRESS_MARK: &str = "\x1b7";

#[test]
fn pull_progress_on_a_terminal_only() {
    skip_unless_possible!("pull_progress_on_a_terminal_only");
    let mut e = Env::new();
    e.publish("p1");
    let Some((code, tty)) = e.on_a_terminal(TEST, "create web --ref rem:pub/x86_64") else {
        return;
    };
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
    let Some((code, tty)) = e.on_a_terminal(TEST, "--quiet upgrade web") else {
        return;
    };
    assert_eq!(code, Some(0), "{tty}");
    assert!(
        !tty.contains(PROGRESS_MARK),
        "progress despite --quiet: {tty:?}"
    );

    e.publish("p4");
    let Some((code, tty)) = e.on_a_terminal(TEST, "upgrade web") else {
        return;
    };
    assert_eq!(code, Some(0), "{tty}");
    assert!(tty.contains(PROGRESS_MARK), "no upgrade progress: {tty:?}");
}
