//! `MachineName::parse` against an independent reference of the documented rule, and the unit
//! name of every accepted name.
//!
//! Rule (name.rs, README): 1 to 64 characters; dot-separated labels of 1 to 63 ASCII letters,
//! digits or '-', none starting or ending with '-' (systemd's hostname rule); ".host" is reserved. The reference walks bytes with a label counter and no
//! regex or `split`.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use libfuzzer_sys::fuzz_target;
use ostree_guests::name::MachineName;

fn reference(s: &[u8]) -> bool {
    if s.is_empty() || s.len() > 64 || s == b".host" {
        return false;
    }
    let mut label = 0usize;
    let mut last = b'.';
    for &b in s {
        match b {
            b'.' => {
                if label == 0 || last == b'-' {
                    return false;
                }
                label = 0;
            }
            b'-' if label == 0 => return false,
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => {
                label += 1;
                if label > 63 {
                    return false;
                }
            }
            _ => return false,
        }
        last = b;
    }
    label > 0 && last != b'-'
}

/// systemd's unit_name_is_valid() for an instance unit, plus: the instance is used as `%i` and
/// `--machine=%i`, so unescaping it (`%I`, where only `\xNN` is special) must change nothing.
fn check_unit(unit: &str, name: &str) {
    assert!(unit.len() < 256, "{unit}: longer than UNIT_NAME_MAX");
    let (prefix, rest) = unit.split_once('@').unwrap();
    let instance = rest.strip_suffix(".service").unwrap();
    assert_eq!(prefix, "systemd-nspawn");
    assert_eq!(instance, name);
    assert!(!instance.is_empty());
    let valid = |c: char| c.is_ascii_alphanumeric() || ":-_.\\".contains(c);
    assert!(instance.chars().all(valid), "{unit}: needs escaping");
    assert!(!instance.contains('\\'), "{unit}: %I would differ from %i");
    assert!(
        !instance.starts_with('.'),
        "{unit}: systemd-escape would escape the dot"
    );
}

fuzz_target!(|data: &[u8]| {
    let want = reference(data);
    match std::str::from_utf8(data) {
        Ok(s) => {
            let got = MachineName::parse(s);
            assert_eq!(got.is_ok(), want, "{s:?}: {got:?}");
            if let Ok(n) = got {
                assert_eq!(n.as_str(), s);
                assert_eq!(n.to_string(), s);
                check_unit(&n.unit(), s);
            }
        }
        Err(_) => {
            assert!(!want, "the reference accepts non-UTF-8 {data:?}");
            let lossy = String::from_utf8_lossy(data);
            assert!(MachineName::parse(&lossy).is_err(), "{lossy:?}");
        }
    }
});
