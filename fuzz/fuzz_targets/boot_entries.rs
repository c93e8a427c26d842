//! Boot-entry parsing, strverscmp, the GVariant commit-version reader and `deployment =` pins.
//!
//! The first byte picks the function; the rest is its input.
//! * entry: `parse_entry`, `ostree_karg`, `parse_bootlink` and `parse_deploy_name` against
//!   independent byte-level references of libostree's rules.
//! * strverscmp: three strings (split on '\n'): reflexive, antisymmetric, equal exactly when the
//!   C strings are equal, transitive on the triple, sorting does not panic, and the same answers
//!   as glibc's own `strverscmp(3)`.
//! * gvariant: any bytes; a version found is a NUL-free UTF-8 string present in the input,
//!   followed by its NUL and the type "s".
//! * pin: `Pin::from_str` accepts exactly the documented forms and round-trips through Display.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cmp::Ordering;
use std::ffi::{CString, c_char, c_int};

use libfuzzer_sys::fuzz_target;
use ostree_guests::deployment::Pin;
use ostree_guests::fuzzing;

unsafe extern "C" {
    /// glibc's, the one libostree sorts boot entries with.
    fn strverscmp(a: *const c_char, b: *const c_char) -> c_int;
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => entry(rest),
        1 => versions(rest),
        2 => gvariant(rest),
        _ => pin(rest),
    }
});

/// libostree's bootconfig parser: lines starting with an ASCII letter, key up to the first
/// space or tab, value the rest verbatim, last one wins.
fn reference_entry(text: &str) -> (Option<&str>, Option<&str>) {
    let (mut version, mut options) = (None, None);
    let mut start = 0;
    let bytes = text.as_bytes();
    while start <= bytes.len() {
        let end = (start..bytes.len())
            .find(|&i| bytes[i] == b'\n')
            .unwrap_or(bytes.len());
        let line = &text[start..end];
        start = end + 1;
        if !line.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        let Some(sep) = line.bytes().position(|b| b == b' ' || b == b'\t') else {
            continue;
        };
        let value = &line[sep + 1..];
        match &line[..sep] {
            "version" => version = Some(value),
            "options" => options = Some(value),
            _ => {}
        }
    }
    (version, options)
}

/// `^/ostree/boot\.([01])/([^/]+)/([^/]+)/([0-9]+)$` by hand, without `.` and `..` as stateroot
/// or checksum: Some(stateroot).
fn reference_bootlink(karg: &str) -> Option<&str> {
    let rest = karg.strip_prefix("/ostree/boot.")?;
    let rest = rest.strip_prefix(['0', '1'])?.strip_prefix('/')?;
    let mut parts = rest.splitn(4, '/');
    let (stateroot, csum, serial) = (parts.next()?, parts.next()?, parts.next()?);
    let dots = |c: &str| c == "." || c == "..";
    let ok = parts.next().is_none()
        && !stateroot.is_empty()
        && !csum.is_empty()
        && !dots(stateroot)
        && !dots(csum)
        && !serial.is_empty()
        && serial.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(stateroot)
}

/// `^([0-9a-f]+)\.([0-9]+)$` with the serial as u32.
fn reference_deploy_name(name: &str) -> Option<(&str, u32)> {
    let (csum, serial) = name.split_once('.')?;
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let ok = !csum.is_empty()
        && csum.bytes().all(hex)
        && !serial.is_empty()
        && serial.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return None;
    }
    Some((csum, serial.parse().ok()?))
}

fn entry(data: &[u8]) {
    // read_small_text refuses NUL and non-UTF-8 before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.contains('\0') {
        return;
    }
    let (version, options) = fuzzing::parse_entry(text);
    assert_eq!((version, options), reference_entry(text));
    for v in [version, options].into_iter().flatten() {
        assert!(!v.contains('\n'));
    }
    let karg = options.and_then(fuzzing::ostree_karg);
    let want = options.and_then(|o| o.split(' ').find_map(|a| a.strip_prefix("ostree=")));
    assert_eq!(karg, want);
    // Every line is also tried as a bootlink and as a deployment directory name.
    for candidate in karg.into_iter().chain(text.split('\n')) {
        match fuzzing::parse_bootlink(candidate) {
            Ok((stateroot, relative)) => {
                assert_eq!(
                    Some(stateroot),
                    reference_bootlink(candidate),
                    "{candidate:?}"
                );
                assert_eq!(Some(relative), candidate.strip_prefix('/'));
                assert!(!relative.starts_with('/') && !relative.split('/').any(|s| s == ".."));
            }
            Err(_) => assert_eq!(reference_bootlink(candidate), None, "{candidate:?}"),
        }
        assert_eq!(
            fuzzing::parse_deploy_name(candidate).ok(),
            reference_deploy_name(candidate),
            "{candidate:?}"
        );
    }
}

fn cstr(s: &[u8]) -> &[u8] {
    s.iter().position(|&b| b == 0).map_or(s, |n| &s[..n])
}

fn glibc(a: &[u8], b: &[u8]) -> Ordering {
    let a = CString::new(cstr(a)).unwrap();
    let b = CString::new(cstr(b)).unwrap();
    // SAFETY: two valid NUL-terminated strings.
    unsafe { strverscmp(a.as_ptr(), b.as_ptr()) }.cmp(&0)
}

fn versions(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let v: Vec<&[u8]> = (0..3).map(|_| parts.next().unwrap_or(b"")).collect();
    let cmp = fuzzing::strverscmp;
    for &a in &v {
        assert_eq!(cmp(a, a), Ordering::Equal);
        for &b in &v {
            let ab = cmp(a, b);
            assert_eq!(ab, cmp(b, a).reverse(), "antisymmetry {a:?} {b:?}");
            assert_eq!(ab == Ordering::Equal, cstr(a) == cstr(b), "{a:?} {b:?}");
            assert_eq!(ab, glibc(a, b), "differs from glibc: {a:?} {b:?}");
            for &c in &v {
                if ab != Ordering::Greater && cmp(b, c) != Ordering::Greater {
                    assert_ne!(
                        cmp(a, c),
                        Ordering::Greater,
                        "transitivity {a:?} {b:?} {c:?}"
                    );
                }
            }
        }
    }
    let mut sorted = v.clone();
    sorted.sort_by(|a, b| cmp(a, b));
}

fn gvariant(data: &[u8]) {
    let Some(v) = fuzzing::commit_version(data) else {
        return;
    };
    assert!(v.len() <= 4096 && !v.contains('\0'), "{v:?}");
    let mut needle = v.into_bytes();
    needle.extend_from_slice(b"\0");
    assert!(
        data.windows(needle.len()).any(|w| w == needle.as_slice()),
        "version not taken from the input"
    );
}

fn pin(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let want = match s.strip_prefix("version:") {
        _ if s == "auto" => Some(Pin::Auto),
        Some(v) if !v.is_empty() => Some(Pin::Version(v.to_owned())),
        Some(_) => None,
        None if (8..=64).contains(&s.len()) && s.bytes().all(hex) => {
            Some(Pin::Checksum(s.to_owned()))
        }
        None => None,
    };
    let got = s.parse::<Pin>();
    assert_eq!(got.as_ref().ok(), want.as_ref(), "{s:?}");
    if let Ok(p) = got {
        let shown = p.to_string();
        assert_eq!(shown, s);
        assert_eq!(shown.parse::<Pin>().ok(), Some(p));
    }
}
