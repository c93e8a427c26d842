//! ostree-guests-network: runtime bridge configuration for systemd-networkd or
//! NetworkManager. See ostree-guests.d(5), "BRIDGES".

use std::process::ExitCode;

use ostree_guests_helpers::network;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match network::parse_args(&args) {
        Ok(None) => {
            println!("{}", network::USAGE);
            0
        }
        Ok(Some(a)) => network::run(&a),
        Err(e) => {
            eprintln!("ostree-guests-network: {e}\n\n{}", network::USAGE);
            ostree_guests::exit::USAGE
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}
