//! Boot Loader Specification entries as libostree reads them, and the `ostree=` bootlink.
//!
//! The two path patterns are matched by hand rather than with `regex`: they run for every
//! deployment on every guest start, and compiling plus running a capturing regex cost more than
//! the rest of resolution together (callgrind: ~1.06 M of 1.38 M instructions for 8 entries).

/// The two keys of an entry that resolution needs, borrowed from the file's text.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct EntryKeys<'a> {
    pub version: Option<&'a str>,
    pub options: Option<&'a str>,
}

/// Parses entry text like `ostree_bootconfig_parser_parse_at`: only lines starting with an ASCII
/// letter count, the key ends at the first space or tab, the value is the rest verbatim (so
/// leading blanks and a trailing '\r' stay), and a repeated key keeps its last value.
pub(crate) fn parse_entry(text: &str) -> EntryKeys<'_> {
    let mut keys = EntryKeys::default();
    for line in text.split('\n') {
        // Since a key ends at the first space or tab, a line sets one of the two keys exactly
        // when it starts with its name and a separator; other lines need no further look.
        let (slot, rest) = if let Some(rest) = line.strip_prefix("version") {
            (&mut keys.version, rest)
        } else if let Some(rest) = line.strip_prefix("options") {
            (&mut keys.options, rest)
        } else {
            continue;
        };
        if let Some(value) = rest.strip_prefix([' ', '\t']) {
            *slot = Some(value);
        }
    }
    keys
}

/// The value of the first `ostree=` kernel argument; libostree splits `options` on single
/// spaces only.
pub(crate) fn ostree_karg(options: &str) -> Option<&str> {
    // Found by substring search rather than by splitting every argument off: options lines are
    // long, and this runs for every boot entry on every guest start.
    const KEY: &str = "ostree=";
    let mut from = 0;
    while let Some(found) = options.get(from..)?.find(KEY) {
        let start = from + found;
        from = start + KEY.len();
        if start == 0 || options.as_bytes().get(start - 1) == Some(&b' ') {
            let value = options.get(from..)?;
            return Some(value.split(' ').next().unwrap_or(value));
        }
    }
    None
}

/// The parts of an `ostree=` bootlink path.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Bootlink<'a> {
    pub stateroot: &'a str,
    /// The path relative to the sysroot, for `readlinkat`.
    pub relative: &'a str,
}

/// Splits an `ostree=` value; `Err` carries the reason for a Malformed error.
///
/// Accepts `^/ostree/boot\.([01])/([^/]+)/([^/]+)/([0-9]+)$`, libostree's `parse_bootlink`
/// pattern (which leaves the dot unescaped; that only matters for paths ostree never writes),
/// except `.` and `..` as stateroot or boot checksum: ostree never writes them, and the path is
/// followed below the sysroot, where they would lead elsewhere.
pub(crate) fn parse_bootlink(karg: &str) -> Result<Bootlink<'_>, String> {
    let bad = || {
        format!(
            "kernel argument ostree={karg} is not /ostree/boot.<0|1>/<stateroot>/<bootcsum>/<serial>"
        )
    };
    let rest = karg
        .strip_prefix("/ostree/boot.")
        .and_then(|r| r.strip_prefix(['0', '1']))
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(bad)?;
    let mut parts = rest.split('/');
    let (Some(stateroot), Some(bootcsum), Some(serial), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let dots = |c: &str| c == "." || c == "..";
    if stateroot.is_empty()
        || bootcsum.is_empty()
        || dots(stateroot)
        || dots(bootcsum)
        || !all_digits(serial)
    {
        return Err(bad());
    }
    let relative = karg.strip_prefix('/').unwrap_or(karg);
    Ok(Bootlink {
        stateroot,
        relative,
    })
}

/// Non-empty and ASCII digits only (`[0-9]+`).
fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Splits a deployment directory name into checksum and serial: `^([0-9a-f]+)\.([0-9]+)$`
/// (`_ostree_sysroot_parse_deploy_path_name`), the serial fitting a u32.
pub(crate) fn parse_deploy_name(name: &str) -> Result<(&str, u32), String> {
    let bad = || format!("bootlink target {name:?} is not <checksum>.<serial>");
    let (checksum, serial) = name.split_once('.').ok_or_else(bad)?;
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if checksum.is_empty() || !checksum.bytes().all(hex) || !all_digits(serial) {
        return Err(bad());
    }
    // Digits only, so the one failure left is overflow, which the pattern's u32 also refused.
    let serial = serial.parse().map_err(|_| bad())?;
    Ok((checksum, serial))
}

/// Whether a file in `loader.N/entries` is an ostree entry, from either naming scheme
/// (`ostree-<n>-<stateroot>.conf` before 2024.5, `ostree-<n>.conf` after, `+tries` suffixes from
/// boot counting). Nothing else is taken from the name.
pub(crate) fn is_entry_name(name: &[u8]) -> bool {
    name.starts_with(b"ostree-") && name.ends_with(b".conf")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = "title TestOS 1 g1a (ostree:g1:2)\nversion 1\noptions ostree=/ostree/boot.1/g1/e748/2\nlinux /ostree/g1-e748/vmlinuz-6.1.0\ninitrd /ostree/g1-e748/initramfs-6.1.0.img\n";

    #[test]
    fn entry_as_written_by_ostree() {
        let k = parse_entry(ENTRY);
        assert_eq!(k.version, Some("1"));
        assert_eq!(k.options, Some("ostree=/ostree/boot.1/g1/e748/2"));
    }

    #[test]
    fn entry_syntax_like_libostree() {
        let k = parse_entry("# version 9\n version 8\nversion\t7\r\noptions  quiet ostree=/x\n");
        assert_eq!(k.version, Some("7\r"));
        assert_eq!(k.options, Some(" quiet ostree=/x"));
        // A key alone on its line has no value and is skipped.
        assert_eq!(parse_entry("version\n").version, None);
        // Last one wins; tab splits too, whichever separator comes first.
        let k = parse_entry("version 1\nversion\t2 x\n");
        assert_eq!(k.version, Some("2 x"));
        assert_eq!(parse_entry("1version 5\n_version 5\n").version, None);
        assert_eq!(parse_entry("").version, None);
    }

    #[test]
    fn ostree_karg_first_token() {
        assert_eq!(ostree_karg("quiet ostree=/a rw ostree=/b"), Some("/a"));
        assert_eq!(ostree_karg(" ostree=/a"), Some("/a"));
        assert_eq!(ostree_karg("root=x\tostree=/a"), None);
        assert_eq!(ostree_karg("xostree=/a"), None);
        assert_eq!(ostree_karg(""), None);
        assert_eq!(ostree_karg("xostree=/a ostree=/b"), Some("/b"));
        assert_eq!(ostree_karg("ostree="), Some(""));
        assert_eq!(ostree_karg("a  ostree=/c d"), Some("/c"));
        assert_eq!(ostree_karg("ostree=ostree=/x"), Some("ostree=/x"));
        // the same answer as splitting on single spaces, for every cut of a sample line
        let line = "BOOT_IMAGE=/v xostree=/n  ostree=/ostree/boot.1/os/ab/0 rw ostree=/z";
        for i in 0..=line.len() {
            for j in i..=line.len() {
                let sub = &line[i..j];
                let split = sub.split(' ').find_map(|a| a.strip_prefix("ostree="));
                assert_eq!(ostree_karg(sub), split, "{sub:?}");
            }
        }
    }

    #[test]
    fn bootlink_paths() {
        let b = parse_bootlink("/ostree/boot.1/fedora/e748ab/0").unwrap();
        assert_eq!(b.stateroot, "fedora");
        assert_eq!(b.relative, "ostree/boot.1/fedora/e748ab/0");
        for bad in [
            "/ostree/boot.2/fedora/e748/0",
            "/ostree/boot.0/fedora/e748/x",
            "/ostree/boot.0/fedora/e748",
            "/ostree/boot.0//e748/0",
            "/ostree/boot.0/a/b/c/0",
            "ostree/boot.0/fedora/e748/0",
            "/ostree/bootX0/fedora/e748/0",
            "/ostree/boot.0/fedora/e748/0/",
            // found by the boot_entries fuzz target: the path is followed below the sysroot
            "/ostree/boot.1/gont/../0",
            "/ostree/boot.1/../e748/0",
            "/ostree/boot.1/./e748/0",
        ] {
            let e = parse_bootlink(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn deploy_names() {
        assert_eq!(parse_deploy_name("ab12.0"), Ok(("ab12", 0)));
        assert_eq!(parse_deploy_name("ab12.17"), Ok(("ab12", 17)));
        for bad in [
            "AB12.0",
            "ab12",
            "ab12.",
            ".0",
            "ab12.0.origin",
            "ab12.-1",
            "ab12.99999999999",
        ] {
            assert!(parse_deploy_name(bad).is_err(), "{bad}");
        }
    }

    /// The hand-written matchers against the patterns they replace, on random mutations of
    /// valid paths (characters chosen to hit every branch of both patterns).
    #[test]
    fn same_answers_as_the_regexes() {
        let bootlink =
            regex::Regex::new(r"^/ostree/boot\.([01])/([^/]+)/([^/]+)/([0-9]+)$").unwrap();
        let deploy = regex::Regex::new(r"^([0-9a-f]+)\.([0-9]+)$").unwrap();
        let alphabet: Vec<char> = "/.019afAF-x\n+é".chars().collect();
        let seeds = [
            "/ostree/boot.1/fedora/e748ab/0",
            "/ostree/boot.0/a/b/12",
            "ab12.0",
            "0123456789abcdef.4294967295",
            "ab12.4294967296",
        ];
        let mut rng = fastrand::Rng::with_seed(10);
        for _ in 0..30_000 {
            let mut s: Vec<char> = rng.choice(seeds).unwrap().chars().collect();
            for _ in 0..rng.usize(1..4) {
                let at = rng.usize(..=s.len());
                match rng.u8(..3) {
                    0 if at < s.len() => drop(s.remove(at)),
                    1 if at < s.len() => s[at] = *rng.choice(&alphabet).unwrap(),
                    _ => s.insert(at, *rng.choice(&alphabet).unwrap()),
                }
            }
            let s: String = s.into_iter().collect();
            // the pattern, less `.` and `..` as stateroot or checksum (parse_bootlink's doc)
            let want = bootlink
                .captures(&s)
                .filter(|c| {
                    ![".", ".."].contains(&c[2].as_ref()) && ![".", ".."].contains(&c[3].as_ref())
                })
                .map(|c| c.get(2).unwrap().as_str());
            assert_eq!(parse_bootlink(&s).ok().map(|b| b.stateroot), want, "{s:?}");
            let want = deploy.captures(&s).and_then(|c| {
                let serial = c.get(2).unwrap().as_str().parse().ok()?;
                Some((c.get(1).unwrap().as_str(), serial))
            });
            assert_eq!(parse_deploy_name(&s).ok(), want, "{s:?}");
        }
    }

    #[test]
    fn entry_names() {
        for good in [
            "ostree-1-fedora.conf",
            "ostree-1.conf",
            "ostree-2+3.conf",
            "ostree-2-fedora+0-3.conf",
        ] {
            assert!(is_entry_name(good.as_bytes()), "{good}");
        }
        for bad in [
            "fedora-1.conf",
            "ostree-1.conf~",
            "ostree-1.conf.bak",
            "ostree.conf",
        ] {
            assert!(!is_entry_name(bad.as_bytes()), "{bad}");
        }
    }
}
