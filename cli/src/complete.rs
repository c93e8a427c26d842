//! Shell completion that knows the configured guests: the shell script only registers
//! `ostree-guests` as its own completer, and each TAB runs it with OSTREE_GUESTS_COMPLETE set,
//! so guest names come from the configuration as it is now, not from when the script was made.

use std::ffi::OsStr;
use std::io::Write;

use clap::CommandFactory as _;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};
use clap_complete::{CompleteEnv, Shell};

use crate::args::Cli;
use crate::exit::{Failure, IO_FAILED, Result, USAGE};
use crate::files;

/// Set by the registered shell function; its value names the shell. Our own name rather than
/// clap's default `COMPLETE`, which an unrelated environment might set.
pub const ENV_VAR: &str = "OSTREE_GUESTS_COMPLETE";
const BIN: &str = "ostree-guests";

/// Answers a completion request and exits when ENV_VAR is set; returns otherwise.
pub fn answer_if_asked() {
    CompleteEnv::with_factory(Cli::command)
        .var(ENV_VAR)
        .complete();
}

/// The names of the configured guests (valid or not: `status` and `remove` take both) that
/// start with what was typed so far.
pub fn guest_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let typed = current.to_string_lossy();
    let mut names: Vec<String> = ostree_guests::config::discover(&files::config_root())
        .guests
        .into_iter()
        .map(|g| g.stem)
        .filter(|n| n.starts_with(typed.as_ref()))
        .collect();
    names.sort();
    names.dedup();
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// `completions SHELL`: the script that registers the completer with the shell.
pub fn registration(shell: Shell, out: &mut dyn Write) -> Result<()> {
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
        Shell::Elvish => &Elvish,
        Shell::PowerShell => &Powershell,
        other => {
            return Err(Failure::new(
                USAGE,
                format!("no completion support for {other}"),
            ));
        }
    };
    completer
        .write_registration(ENV_VAR, BIN, BIN, BIN, out)
        .map_err(|e| {
            Failure::new(
                IO_FAILED,
                format!("writing the {shell} completion script: {e}"),
            )
        })
}
