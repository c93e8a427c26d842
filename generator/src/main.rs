//! ostree-guests-generator: turns /etc/ostree-guests.d/NAME.toml into a drop-in for
//! systemd-nspawn@NAME.service and autostart links. See ostree-guests-generator(8).
//!
//! Runs on every boot and daemon-reload before any unit starts: it reads only the config
//! directories, writes only into the normal output directory, spawns nothing and never panics.

mod log;
mod write;

use std::path::PathBuf;
use std::process::ExitCode;

use ostree_guests::config;
use ostree_guests::exit;
use ostree_guests::paths::{ENV_ROOT, env_path, under_root};
use ostree_guests::render;

const USAGE: &str = "\
Usage: ostree-guests-generator NORMAL-DIR [EARLY-DIR LATE-DIR]
       ostree-guests-generator --dry-run
       ostree-guests-generator --version | --help

Writes systemd-nspawn@NAME.service drop-ins for the guests configured in
/etc/ostree-guests.d, /run/ostree-guests.d and /usr/lib/ostree-guests.d into
NORMAL-DIR. --dry-run prints what would be written instead.
OSTREE_GUESTS_ROOT=DIR reads the configuration below DIR.
Exit status: 0 all guests valid (or none configured), 1 a guest was invalid or
output could not be written, 64 usage error. See ostree-guests-generator(8).";

enum Mode {
    Write(PathBuf),
    DryRun,
}

fn parse_args(args: &[String]) -> Result<Option<Mode>, String> {
    match args {
        [flag] if flag == "--help" || flag == "-h" => {
            println!("{USAGE}");
            Ok(None)
        }
        [flag] if flag == "--version" => {
            println!("ostree-guests-generator {}", env!("CARGO_PKG_VERSION"));
            Ok(None)
        }
        [flag] if flag == "--dry-run" => Ok(Some(Mode::DryRun)),
        [normal] | [normal, _, _] if !args.iter().any(|a| a.starts_with('-') || a.is_empty()) => {
            Ok(Some(Mode::Write(PathBuf::from(normal))))
        }
        [] => Err("missing the output directory".into()),
        _ => Err(format!("unexpected arguments: {}", args.join(" "))),
    }
}

fn in_initrd(root: &std::path::Path) -> bool {
    match std::env::var("SYSTEMD_IN_INITRD").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => under_root(root, "/etc/initrd-release").exists(),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match parse_args(&args) {
        Ok(Some(m)) => m,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ostree-guests-generator: {e}\n\n{USAGE}");
            return ExitCode::from(exit::USAGE as u8);
        }
    };
    let mut sink = match mode {
        Mode::DryRun => log::Sink::Stderr,
        Mode::Write(_) => log::Sink::detect(),
    };
    let root = env_path(ENV_ROOT, "/");
    // Guests run on the real system, never from the initrd.
    if in_initrd(&root) {
        return ExitCode::SUCCESS;
    }

    let loaded = config::load(&root);
    for w in &loaded.warnings {
        sink.log(log::WARNING, w);
    }
    for e in &loaded.unnamed {
        sink.log(log::ERR, &e.to_string());
    }
    for b in &loaded.bridges {
        if let Err(e) = &b.settings {
            sink.log(
                log::ERR,
                &format!("{e}\nbridge {}: not configured until this is fixed", b.name),
            );
        }
    }
    for g in &loaded.guests {
        match &g.settings {
            Err(e) => sink.log(
                log::ERR,
                &format!("{e}\n{}: will not start until this is fixed", g.name.unit()),
            ),
            Ok(s) => {
                for w in config::isolation_warnings(&s.config) {
                    sink.log(log::WARNING, &format!("{}: {w}", g.name));
                }
            }
        }
    }
    let output = render::generate(&loaded);
    let mut failed = loaded.has_errors();
    match mode {
        Mode::DryRun => print!("{}", write::dry_run_text(&output)),
        Mode::Write(dir) => {
            for (path, e) in write::write_output(&dir, &output) {
                sink.log(log::ERR, &format!("{path}: cannot write: {e}"));
                failed = true;
            }
            if !loaded.guests.is_empty() {
                let valid = loaded.guests.iter().filter(|g| g.settings.is_ok()).count();
                sink.log(
                    log::INFO,
                    &format!("{valid} of {} guests configured", loaded.guests.len()),
                );
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
