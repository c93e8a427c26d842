//! ostree-guest-start: resolve a guest's OSTree deployment and exec systemd-nspawn.
//! See ostree-guest-start(8).

use std::process::ExitCode;

use ostree_guests_helpers::start;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
            ExitCode::from(u8::try_from(f.code).unwrap_or(u8::MAX))
        }
    }
}
