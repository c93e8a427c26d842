//! ostree-guest-start: resolve a guest's OSTree deployment and exec systemd-nspawn.
//! See ostree-guest-start(8).

use std::process::ExitCode;

use libsystemd::daemon::{self, NotifyState};
use libsystemd::logging::{self, Priority};
use ostree_guests_helpers::{idmap_probe, start};

/// We exit at once on failure, often before journald can tie our stderr to the unit, and then
/// `systemctl status` would not show why. A journal entry naming the unit
/// (OBJECT_SYSTEMD_UNIT, which `systemctl status` matches for root's messages) and the unit's
/// status text (we are still its main process) always reach it.
fn report_to_unit(args: &[String], message: &str) {
    let Some(name) = args.iter().rfind(|a| !a.starts_with('-')) else {
        return;
    };
    if std::env::var_os("INVOCATION_ID").is_none() {
        return;
    }
    let unit = format!("systemd-nspawn@{name}.service");
    let vars = [
        ("OBJECT_SYSTEMD_UNIT", unit.as_str()),
        ("SYSLOG_IDENTIFIER", "ostree-guest-start"),
    ];
    let _ = logging::journal_send(Priority::Error, message, vars.into_iter());
    let first_line = message.lines().next().unwrap_or(message);
    let _ = daemon::notify(false, &[NotifyState::Status(first_line.to_owned())]);
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(idmap_probe::HOLD_USERNS_ARG) {
        return match idmap_probe::hold_userns() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ostree-guest-start: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let result = match start::parse_args(&args) {
        Ok(None) => {
            println!("{}", start::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Some(a)) => start::run(&a),
        Err(f) => Err(f),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("ostree-guest-start: {}", f.message);
            report_to_unit(&args, &f.message);
            ExitCode::from(u8::try_from(f.code).unwrap_or(u8::MAX))
        }
    }
}
