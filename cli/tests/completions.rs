#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report
//! Shell completion: the scripts register `ostree-guests` as its own completer, which then
//! completes subcommands, options and the names of the configured guests.

use std::fs;
use std::process::{Command, Output};

use clap::CommandFactory as _;
use ostree_guests_cli::args::Cli;

const SUBCOMMANDS: &[&str] = &[
    "create", "upgrade", "rollback", "remove", "list", "status", "validate", "render", "pin",
    "unpin",
];

/// A configuration root with guests web, web2 (vendor directory) and db, and a bridge.
fn config_root() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for f in [
        "etc/ostree-guests.d/web.toml",
        "etc/ostree-guests.d/db.toml",
        "usr/lib/ostree-guests.d/web2.toml",
        "etc/ostree-guests.d/br0.bridge.toml",
    ] {
        let p = t.path().join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "# defaults\n").unwrap();
    }
    t
}

/// What the completer answers for the words typed so far (fish's protocol: one per line).
fn complete(root: &std::path::Path, words: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_ostree-guests"))
        .arg("--")
        .args(words)
        .env("OSTREE_GUESTS_COMPLETE", "fish")
        .env("OSTREE_GUESTS_ROOT", root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn completion_scripts_register_the_completer() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_ostree-guests"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {}", out.status);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("OSTREE_GUESTS_COMPLETE") && text.contains("ostree-guests"),
            "{shell}: {text}"
        );
    }
}

#[test]
fn subcommands_options_and_guest_names_complete() {
    let root = config_root();
    let subs = complete(root.path(), &["ostree-guests", ""]);
    for sub in SUBCOMMANDS {
        assert!(subs.iter().any(|s| s == sub), "{sub} missing: {subs:?}");
    }
    // Every command that takes an existing guest completes its name, and only names.
    for sub in [
        "upgrade", "rollback", "remove", "status", "render", "pin", "unpin",
    ] {
        let names = complete(root.path(), &["ostree-guests", sub, "w"]);
        assert_eq!(names, ["web", "web2"], "{sub}");
        let all = complete(root.path(), &["ostree-guests", sub, ""]);
        assert!(
            ["db", "web", "web2"]
                .iter()
                .all(|n| all.iter().any(|a| a == n)),
            "{sub}: {all:?}"
        );
        assert!(!all.iter().any(|a| a.starts_with("br0")), "{sub}: {all:?}");
    }
    // A new guest's name is not one of the existing ones.
    let create = complete(root.path(), &["ostree-guests", "create", "w"]);
    assert!(create.is_empty(), "{create:?}");
    let opts = complete(root.path(), &["ostree-guests", "remove", "web", "--p"]);
    assert_eq!(opts, ["--purge"]);
}

/// The bash script as bash runs it: sourced, then its function called as on TAB.
#[test]
fn bash_completes_guest_names_end_to_end() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("SKIP bash_completes_guest_names_end_to_end: no bash");
        return;
    }
    let root = config_root();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_ostree-guests"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = r#"source <(ostree-guests completions bash)
COMP_WORDS=(ostree-guests status we); COMP_CWORD=2
_clap_complete_ostree_guests ostree-guests we status
printf '%s\n' "${COMPREPLY[@]}""#;
    let out: Output = Command::new("bash")
        .args(["-c", script])
        .env("PATH", path)
        .env("OSTREE_GUESTS_ROOT", root.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["web", "web2"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_guest_name_argument_has_help_and_ls_lists() {
    for sub in Cli::command().get_subcommands() {
        for arg in sub.get_positionals() {
            assert!(
                arg.get_help().is_some(),
                "{} {}: no help text",
                sub.get_name(),
                arg.get_id()
            );
        }
    }
    let root = config_root();
    let run = |cmd: &str| {
        Command::new(env!("CARGO_BIN_EXE_ostree-guests"))
            .args([cmd, "--json"])
            .env("OSTREE_GUESTS_ROOT", root.path())
            .env("OSTREE_GUESTS_SYSROOT", root.path())
            .output()
            .unwrap()
    };
    let (ls, list) = (run("ls"), run("list"));
    assert!(ls.status.success(), "{ls:?}");
    assert_eq!(ls.stdout, list.stdout);
    let v: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    assert_eq!(v["items"].as_array().map(Vec::len), Some(3));
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
    for code in ["64", "89", "90", "91", "92", "95", "96"] {
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
