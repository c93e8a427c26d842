#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Keeps the hand-written man pages in docs/man honest against the code:
//! - ostree-guests.d(5) documents exactly the keys of `config::KEYS`, one `.TP` entry each;
//! - ostree-guest-start(8) documents exactly the exit codes of lib/src/exit.rs and the current
//!   `RestartPreventExitStatus=` list (the CLI's and the network helper's tables are checked
//!   against their `--help` in cli/tests/man_page.rs and helpers/tests/network.rs);
//! - every page renders without a single groff warning.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use ostree_guests::{config, exit};

const PAGES: &[&str] = &[
    "ostree-guests.d.5",
    "ostree-guests-generator.8",
    "ostree-guest-start.8",
];

fn page_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/man")
        .join(name)
}

fn page(name: &str) -> String {
    let path = page_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of the `.SH TITLE` section, up to the next `.SH`.
fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
    let mut lines = text.lines();
    let is_heading = |l: &str, t: &str| {
        l.strip_prefix(".SH ")
            .is_some_and(|rest| rest.trim().trim_matches('"') == t)
    };
    if !lines.any(|l| is_heading(l, title)) {
        panic!("no section .SH {title}");
    }
    lines.take_while(|l| !l.starts_with(".SH ")).collect()
}

/// Removes font escapes (`\fB`, `\fI`, `\fR`, `\fP`), the zero-width `\&` and `\%`, and turns
/// the escaped minus `\-` into `-`.
fn plain(roff: &str) -> String {
    let mut out = String::new();
    let mut chars = roff.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => {
                chars.next();
            }
            Some('&' | '%') | None => {}
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out.replace("\\-", "-")
}

/// The tags of the `.TP` entries in `lines`: the first word of the line after each `.TP`, with
/// its font macro (`.B`, `.BI`, ...), font escapes and quotes removed.
fn tp_tags(lines: &[&str]) -> Vec<String> {
    let mut tags = Vec::new();
    let mut iter = lines.iter();
    while let Some(line) = iter.next() {
        if line.trim_end() != ".TP" {
            continue;
        }
        let Some(tag) = iter.next() else {
            panic!(".TP at the end of the section");
        };
        let tag = match tag.strip_prefix('.') {
            // Drop the macro name: ".BI" in `.BI "stateroot = \(dq" STATEROOT \(dq`.
            Some(rest) => rest.split_once(' ').map(|(_, args)| args).unwrap_or(""),
            None => tag,
        };
        let first = plain(tag)
            .replace('"', " ")
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        tags.push(first);
    }
    tags
}

#[test]
fn every_config_key_is_documented_and_every_documented_key_exists() {
    let text = page("ostree-guests.d.5");
    let tags = tp_tags(&section(&text, "KEYS"));
    let documented: BTreeSet<&str> = tags.iter().map(String::as_str).collect();
    assert_eq!(
        documented.len(),
        tags.len(),
        "a key has two .TP entries in the KEYS section: {tags:?}"
    );
    let code: BTreeSet<&str> = config::KEYS.iter().copied().collect();
    let undocumented: Vec<_> = code.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&code).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "docs/man/ostree-guests.d.5 and ostree_guests::config::KEYS disagree.\n\
         In KEYS but without a .TP entry in the page's KEYS section: {undocumented:?}\n\
         A .TP entry in the page's KEYS section but not in KEYS: {unknown:?}\n\
         (Every .TP in that section is read as one key: its tag line's first word.)"
    );
}

/// `pub const NAME: i32 = N;` lines of lib/src/exit.rs.
fn exit_codes() -> Vec<(String, i32)> {
    let source = include_str!("../src/exit.rs");
    source
        .lines()
        .filter_map(|l| {
            // Top level only: the nested `cli` and `network` tables belong to other binaries,
            // documented in their own pages.
            let rest = l.strip_prefix("pub const ")?;
            let (name, rest) = rest.split_once(": i32 = ")?;
            let value = rest.strip_suffix(';')?.trim().parse().ok()?;
            Some((name.to_owned(), value))
        })
        .collect()
}

#[test]
fn every_exit_code_is_in_the_helpers_exit_status_section() {
    let codes = exit_codes();
    // Guards the parser: the codes the crate exports must all have been found in the source.
    let parsed: BTreeSet<i32> = codes.iter().map(|(_, v)| *v).collect();
    for c in exit::NOT_RETRYABLE
        .iter()
        .chain(&[exit::SYSROOT_UNREADABLE, exit::MOUNT_FAILED])
    {
        assert!(
            parsed.contains(c),
            "exit code {c} not parsed from exit.rs: {codes:?}"
        );
    }

    let text = page("ostree-guest-start.8");
    let lines = section(&text, "EXIT STATUS");
    let tags = tp_tags(&lines);
    let missing: Vec<_> = codes
        .iter()
        .filter(|(_, v)| !tags.contains(&v.to_string()))
        .collect();
    assert!(
        missing.is_empty(),
        "exit codes of lib/src/exit.rs without a .TP entry in the EXIT STATUS section of \
         docs/man/ostree-guest-start.8: {missing:?} (documented: {tags:?})"
    );
    // And nothing else: a documented status the helper cannot exit with misleads as much.
    let extra: Vec<_> = tags
        .iter()
        .filter(|t| !codes.iter().any(|(_, v)| v.to_string() == **t))
        .collect();
    assert!(
        extra.is_empty(),
        "docs/man/ostree-guest-start.8 documents statuses that lib/src/exit.rs does not have: \
         {extra:?}"
    );

    let prevent = exit::NOT_RETRYABLE
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let want = format!("RestartPreventExitStatus={prevent}");
    let body = plain(&lines.join("\n"));
    assert!(
        body.contains(&want),
        "the EXIT STATUS section of docs/man/ostree-guest-start.8 must say {want:?}"
    );
}

#[test]
fn generator_page_documents_its_exit_statuses() {
    let text = page("ostree-guests-generator.8");
    let tags = tp_tags(&section(&text, "EXIT STATUS"));
    for code in [0, 1, exit::USAGE] {
        assert!(
            tags.contains(&code.to_string()),
            "ostree-guests-generator.8 EXIT STATUS lacks {code}: {tags:?}"
        );
    }
}

#[test]
fn title_lines_match_file_names() {
    for name in PAGES {
        let text = page(name);
        let (stem, section) = name.rsplit_once('.').unwrap();
        let th = text
            .lines()
            .find(|l| l.starts_with(".TH "))
            .unwrap_or_else(|| panic!("{name}: no .TH line"));
        let words: Vec<String> = plain(th).split_whitespace().map(str::to_owned).collect();
        assert_eq!(
            (
                words.get(1).map(String::as_str),
                words.get(2).map(String::as_str)
            ),
            (Some(stem.to_uppercase().as_str()), Some(section)),
            "{name}: {th}"
        );
    }
}

#[test]
fn pages_render_without_warnings() {
    if Command::new("groff").arg("--version").output().is_err() {
        eprintln!(
            "\n!!!!!!!! SKIP: groff not installed; the man pages were not checked for warnings \
             (install groff-base) !!!!!!!!\n"
        );
        return;
    }
    let mut problems = Vec::new();
    for name in PAGES {
        let out = Command::new("groff")
            .args(["-man", "-ww", "-z", "-t"])
            .arg(page_path(name))
            .output()
            .expect("running groff");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() || !text.trim().is_empty() {
            problems.push(format!("{name} ({}):\n{text}", out.status));
        }
    }
    assert!(
        problems.is_empty(),
        "groff -man -ww -z -t reported:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_bridge_key_is_documented_and_every_documented_bridge_key_exists() {
    let text = page("ostree-guests.d.5");
    let tags = tp_tags(&section(&text, "BRIDGES"));
    let documented: BTreeSet<&str> = tags.iter().map(String::as_str).collect();
    assert_eq!(
        documented.len(),
        tags.len(),
        "a bridge key has two .TP entries: {tags:?}"
    );
    let code: BTreeSet<&str> = ostree_guests::config::BRIDGE_KEYS.iter().copied().collect();
    assert_eq!(
        code, documented,
        "docs/man/ostree-guests.d.5 section BRIDGES and ostree_guests::config::BRIDGE_KEYS disagree"
    );
}
