//! ostree-guests: manage OSTree stateroots that run as systemd-nspawn guests.

use std::process::ExitCode;

use clap::Parser as _;
use ostree_guests_cli::args::Cli;
use ostree_guests_cli::exit::USAGE;
use ostree_guests_cli::progress;

fn main() -> ExitCode {
    ostree_guests_cli::complete::answer_if_asked();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help and --version are "errors" that go to stdout with status 0.
            let code = if e.use_stderr() { USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX));
        }
    };
    progress::set_quiet(cli.quiet);
    match ostree_guests_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("ostree-guests: {}", f.message);
            }
            ExitCode::from(u8::try_from(f.code).unwrap_or(u8::MAX))
        }
    }
}
