//! Boot Loader Specification entries as libostree reads them, and the `ostree=` bootlink.

use std::sync::LazyLock;

use regex::Regex;

/// `ostree=/ostree/boot.<bootversion>/<stateroot>/<bootcsum>/<bootserial>` (libostree's
/// `parse_bootlink`; its pattern leaves the dot unescaped, which only matters for paths ostree
/// never writes).
static BOOTLINK: LazyLock<Result<Regex, regex::Error>> =
    LazyLock::new(|| Regex::new(r"^/ostree/boot\.([01])/([^/]+)/([^/]+)/([0-9]+)$"));

/// Basename of a bootlink's target: `<checksum>.<deployserial>`
/// (`_ostree_sysroot_parse_deploy_path_name`).
static DEPLOY_NAME: LazyLock<Result<Regex, regex::Error>> =
    LazyLock::new(|| Regex::new(r"^([0-9a-f]+)\.([0-9]+)$"));

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
        if !line.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let Some((key, value)) = line.split_once([' ', '\t']) else {
            continue;
        };
        match key {
            "version" => keys.version = Some(value),
            "options" => keys.options = Some(value),
            _ => {}
        }
    }
    keys
}

/// The value of the first `ostree=` kernel argument; libostree splits `options` on single
/// spaces only.
pub(crate) fn ostree_karg(options: &str) -> Option<&str> {
    options
        .split(' ')
        .find_map(|arg| arg.strip_prefix("ostree="))
}

/// The parts of an `ostree=` bootlink path.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Bootlink<'a> {
    pub stateroot: &'a str,
    /// The path relative to the sysroot, for `readlinkat`.
    pub relative: &'a str,
}

/// Splits an `ostree=` value; `Err` carries the reason for a Malformed error.
pub(crate) fn parse_bootlink(karg: &str) -> Result<Bootlink<'_>, String> {
    let re = BOOTLINK
        .as_ref()
        .map_err(|e| format!("internal regex error: {e}"))?;
    let caps = re.captures(karg).ok_or_else(|| {
        format!("kernel argument ostree={karg} is not /ostree/boot.<0|1>/<stateroot>/<bootcsum>/<serial>")
    })?;
    let stateroot = caps.get(2).map(|m| m.as_str()).unwrap_or_default();
    let relative = karg.strip_prefix('/').unwrap_or(karg);
    Ok(Bootlink {
        stateroot,
        relative,
    })
}

/// Splits a deployment directory name into checksum and serial.
pub(crate) fn parse_deploy_name(name: &str) -> Result<(&str, u32), String> {
    let re = DEPLOY_NAME
        .as_ref()
        .map_err(|e| format!("internal regex error: {e}"))?;
    let bad = || format!("bootlink target {name:?} is not <checksum>.<serial>");
    let caps = re.captures(name).ok_or_else(bad)?;
    let checksum = caps.get(1).map(|m| m.as_str()).ok_or_else(bad)?;
    let serial = caps
        .get(2)
        .and_then(|m| m.as_str().parse().ok())
        .ok_or_else(bad)?;
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
