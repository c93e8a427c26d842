//! The man pages of the command-line tool are generated from its parser (clap_mangen): the main
//! page docs/man/ostree-guests.1 and one page per command, docs/man/ostree-guests-COMMAND.1.
//! This test fails when the committed pages differ from what the parser says, or when groff
//! warns about one. UPDATE_GOLDEN=1 cargo test -p ostree-guests-cli --test man_page regenerates.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

#[path = "../../tests/support/update_golden.rs"]
mod update_golden;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory as _;
use ostree_guests_cli::args::Cli;

const SEE_ALSO: &str = ".SH \"SEE ALSO\"\n\\fBostree\\-guests.d\\fR(5), \\fBostree\\-guest\\-start\\fR(8), \\fBostree\\-guests\\-generator\\fR(8), \\fBostree\\-admin\\fR(1), \\fBsystemd\\-nspawn\\fR(1)\n";

fn render(man: clap_mangen::Man) -> String {
    let mut page = Vec::new();
    man.section("1").render(&mut page).unwrap();
    String::from_utf8(page).unwrap() + SEE_ALSO
}

/// (file name, page) for the tool and each of its commands.
///
/// The parser is built first, as at run time: that gives each command its global options
/// (`-q`) and its bin name `ostree-guests COMMAND`, which the SYNOPSIS shows. The page is
/// named `ostree-guests-COMMAND` (title, NAME and file) through the display name only, so the
/// synopsis never shows a binary that does not exist.
fn pages() -> Vec<(String, String)> {
    let mut cmd = Cli::command()
        .name("ostree-guests")
        .bin_name("ostree-guests");
    cmd.build();
    let source = format!("ostree-guests {}", env!("CARGO_PKG_VERSION"));
    let mut out = vec![(
        "ostree-guests.1".to_owned(),
        render(clap_mangen::Man::new(cmd.clone())),
    )];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("ostree-guests-{}", sub.get_name());
        let man = clap_mangen::Man::new(sub.clone().display_name(&name))
            .title(&name)
            .source(&source);
        out.push((format!("{name}.1"), render(man)));
    }
    out
}

fn man_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/man")
}

#[test]
fn man_pages_match_the_parser() {
    let update = update_golden::update_golden();
    for (file, page) in pages() {
        let path = man_dir().join(&file);
        if update {
            std::fs::write(&path, &page).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        similar_asserts::assert_eq!(
            committed,
            page,
            "docs/man/{file} is out of date: UPDATE_GOLDEN=1 cargo test -p ostree-guests-cli --test man_page"
        );
    }
}

#[test]
fn man_pages_render_without_warnings() {
    if Command::new("groff").arg("--version").output().is_err() {
        eprintln!(
            "SKIP man_pages_render_without_warnings: groff not installed (package groff-base)"
        );
        return;
    }
    for (file, _) in pages() {
        let out = Command::new("groff")
            .args(["-man", "-ww", "-z", "-t"])
            .arg(man_dir().join(&file))
            .output()
            .unwrap();
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && warnings.is_empty(),
            "{file}: {warnings}"
        );
    }
}

/// The (status, meaning) lines after "Exit status:" in `text`, up to the first line that is
/// not one.
fn exit_lines(text: &str) -> Vec<(i32, String)> {
    text.lines()
        .skip_while(|l| l.trim() != "Exit status:")
        .skip(1)
        .map_while(|l| {
            let (code, meaning) = l.trim_start().split_once(' ')?;
            Some((code.parse().ok()?, meaning.trim().to_owned()))
        })
        .collect()
}

/// `--help` and ostree-guests(1) list exactly the statuses of `exit::cli` plus the shared ones
/// the CLI exits with, each with its meaning from `exit::cli::MEANINGS`.
#[test]
fn help_and_man_page_list_exactly_the_clis_exit_statuses() {
    use ostree_guests::exit::cli;
    let want: Vec<(i32, String)> = cli::MEANINGS
        .iter()
        .map(|(c, m)| (*c, (*m).to_owned()))
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_ostree-guests"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let help = exit_lines(&String::from_utf8_lossy(&out.stdout));
    similar_asserts::assert_eq!(want, help, "ostree-guests --help");

    let page = std::fs::read_to_string(man_dir().join("ostree-guests.1")).unwrap();
    let page = page.replace("\\-", "-").replace("\\*(Aq", "'");
    similar_asserts::assert_eq!(want, exit_lines(&page), "docs/man/ostree-guests.1");
}
