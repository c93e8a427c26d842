//! The start helper's command line as the generated drop-ins write it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use ostree_guests::exit;
use ostree_guests_helpers::start::parse_args;

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn a_name_after_double_dash_is_never_an_option() {
    let a = parse_args(&args(&["--", "web"])).unwrap().unwrap();
    assert_eq!(a.name, "web");
    // A name that looks like an option is taken as the name (and then refused as a machine
    // name), never run as --help with exit 0.
    let a = parse_args(&args(&["--config-error", "--", "--help"]))
        .unwrap()
        .unwrap();
    assert!(a.config_error && a.name == "--help");
    let a = parse_args(&args(&["--dry-run", "--", "-x"]))
        .unwrap()
        .unwrap();
    assert!(a.dry_run && a.name == "-x");
    for bad in [&["--"][..], &["--", "a", "b"][..], &["--", "a", "--"][..]] {
        assert_eq!(
            parse_args(&args(bad)).unwrap_err().code,
            exit::USAGE,
            "{bad:?}"
        );
    }
}
