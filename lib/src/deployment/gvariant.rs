//! Just enough GVariant to read the `version` metadata of an OSTree commit object.
//!
//! A commit is the normal-form serialisation of `(a{sv}aya(say)sstayay)`. Variable-sized members
//! are delimited by little-endian "framing offsets" stored at the end of their container, with a
//! width (1, 2, 4 or 8 bytes) that depends on the container's size. The metadata dictionary is
//! the first member, so its end offset is the last framing offset of the file.
//!
//! rpm-ostree commits carry package lists of hundreds of KiB in the same dictionary, so large
//! files are read sparsely with `pread` (offset tables, keys, and the one value), never whole.
//! Every bound is checked; anything unexpected yields `None`, never a panic or an error, since a
//! version is only used for display and `version:` pins.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Files up to this size are read in one go into the caller's buffer; typical commits are
/// < 1 KiB.
const INLINE_LIMIT: usize = 16 * 1024;
/// Non-last variable-sized members of the commit tuple: a{sv}, ay, a(say), s, s, ay.
const COMMIT_FRAMING_OFFSETS: u64 = 6;
/// Bounds the dictionary walk; real commits have a handful of metadata keys.
const MAX_DICT_ENTRIES: u64 = 4096;
/// Longest version string accepted.
const MAX_VALUE_LEN: u64 = 4096;
const VERSION_KEY: &[u8] = b"version\0";

/// Random access to the serialised bytes.
pub(crate) trait Source {
    fn size(&self) -> u64;
    /// Fills `buf` from `offset`; `None` if out of bounds or on I/O error.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Option<()>;
}

impl Source for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Option<()> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(buf.len())?;
        buf.copy_from_slice(self.get(start..end)?);
        Some(())
    }
}

struct FileSource {
    file: File,
    size: u64,
}

impl Source for FileSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Option<()> {
        let end = offset.checked_add(buf.len() as u64)?;
        if end > self.size {
            return None;
        }
        self.file.read_exact_at(buf, offset).ok()
    }
}

/// The commit's `version` metadata string, if the object exists and holds one. `buf` is
/// scratch space reused across calls (zeroing a fixed 16 KiB buffer per commit was a sixth of
/// resolution's instructions).
pub(crate) fn commit_version(path: &Path, buf: &mut Vec<u8>) -> Option<String> {
    let file = File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    match usize::try_from(size) {
        Ok(len) if len <= INLINE_LIMIT => {
            buf.clear();
            buf.resize(len, 0);
            file.read_exact_at(buf, 0).ok()?;
            version_in_commit(buf.as_slice())
        }
        _ => version_in_commit(&FileSource { file, size }),
    }
}

/// Width of the framing offsets of a container of `size` bytes (GLib `gvs_get_offset_size`).
pub(crate) fn offset_width(size: u64) -> u64 {
    match size {
        0 => 0,
        1..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    }
}

fn read_offset<S: Source + ?Sized>(src: &S, at: u64, width: u64) -> Option<u64> {
    let mut le = [0u8; 8];
    src.read_at(at, le.get_mut(..usize::try_from(width).ok()?)?)?;
    Some(u64::from_le_bytes(le))
}

pub(crate) fn align8(x: u64) -> Option<u64> {
    Some(x.checked_add(7)? & !7)
}

pub(crate) fn version_in_commit<S: Source + ?Sized>(src: &S) -> Option<String> {
    let size = src.size();
    let width = offset_width(size);
    let table_start = size.checked_sub(width.checked_mul(COMMIT_FRAMING_OFFSETS)?)?;
    // Offsets are stored in reverse member order: the metadata's end is the file's last offset.
    let meta_end = read_offset(src, size.checked_sub(width)?, width)?;
    if meta_end > table_start {
        return None;
    }
    lookup_version(src, 0, meta_end)
}

/// Looks up "version" in the `a{sv}` at `[start, end)`. Like `g_variant_lookup`, the first entry
/// with that key decides, and it must hold a string.
fn lookup_version<S: Source + ?Sized>(src: &S, start: u64, end: u64) -> Option<String> {
    let size = end.checked_sub(start)?;
    if size == 0 {
        return None;
    }
    let width = offset_width(size);
    // The last framing offset is the end of the last element, i.e. where the table begins.
    let table = read_offset(src, end.checked_sub(width)?, width)?;
    let table_len = size.checked_sub(table)?;
    if width == 0 || !table_len.is_multiple_of(width) {
        return None;
    }
    let count = table_len / width;
    if count > MAX_DICT_ENTRIES {
        return None;
    }
    let mut elem_start = 0;
    for i in 0..count {
        let elem_end = read_offset(src, start + table + i * width, width)?;
        if elem_start > elem_end || elem_end > table {
            return None;
        }
        if let Some(found) = entry_version(src, start + elem_start, start + elem_end) {
            return found;
        }
        // Dictionary entries {sv} are 8-aligned because the variant is.
        elem_start = align8(elem_end)?;
    }
    None
}

/// For the `{sv}` entry at `[start, end)`: `None` if its key is not "version", otherwise the
/// lookup's final answer.
fn entry_version<S: Source + ?Sized>(src: &S, start: u64, end: u64) -> Option<Option<String>> {
    let size = end.checked_sub(start)?;
    let width = offset_width(size);
    let key_end = read_offset(src, end.checked_sub(width)?, width)?;
    if key_end != VERSION_KEY.len() as u64 {
        return None;
    }
    let mut key = [0u8; VERSION_KEY.len()];
    src.read_at(start, &mut key)?;
    if key != VERSION_KEY {
        return None;
    }
    Some(variant_string(
        src,
        start + align8(key_end)?,
        end.checked_sub(width)?,
    ))
}

/// The string inside the variant at `[start, end)`: child bytes, a NUL, then the type string.
fn variant_string<S: Source + ?Sized>(src: &S, start: u64, end: u64) -> Option<String> {
    let len = end.checked_sub(start)?;
    if len > MAX_VALUE_LEN {
        return None;
    }
    // Sized to the value: a version is a few bytes, the bound is 4 KiB.
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    let bytes = buf.as_mut_slice();
    src.read_at(start, bytes)?;
    let sep = bytes.iter().rposition(|&b| b == 0)?;
    if bytes.get(sep + 1..)? != b"s".as_slice() {
        return None;
    }
    // A normal-form string child is its bytes plus one terminating NUL, with no NUL inside.
    let (nul, text) = bytes.get(..sep)?.split_last()?;
    if *nul != 0 || text.contains(&0) {
        return None;
    }
    std::str::from_utf8(text).ok().map(str::to_owned)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A commit object whose metadata holds `version` (when given) among other keys.
    pub(crate) fn commit_with_version(version: Option<&str>) -> Vec<u8> {
        let mut entries = vec![entry("ostree.bootable", &[1], "b")];
        if let Some(v) = version {
            entries.push(entry("version", &string(v), "s"));
        }
        commit(&dict(&entries))
    }

    /// A real commit object: `ostree commit --bootable --add-metadata-string=version=g1a`
    /// (ostree 2022.7), so the reader is checked against libostree's serialiser, not only ours.
    const REAL_COMMIT_HEX: &str = concat!(
        "6f73747265652e6c696e757800000000362e312e300000730d0000000000000076657273696f6e00",
        "67316100007308006f73747265652e626f6f7461626c650001006210000000006f73747265652e72",
        "65662d62696e64696e670000000000006731000300617313192f446800000000000000006b0b7285",
        "ae04f229ca2fb317f2c9ae6a2e69b32d9c41ce28af020ec2956f1810d9ed4c57446a0ef11b7cc167",
        "f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488986e6d6c6c6c",
    );

    pub(crate) fn unhex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    // --- a tiny normal-form serialiser for the test fixtures ---

    fn push_offsets(out: &mut Vec<u8>, offsets: &[u64], width: u64) {
        for o in offsets {
            out.extend_from_slice(&o.to_le_bytes()[..width as usize]);
        }
    }

    /// Appends framing offsets, choosing the width GLib would for the final container size.
    fn frame(mut body: Vec<u8>, offsets: &[u64]) -> Vec<u8> {
        let n = offsets.len() as u64;
        let width = [1u64, 2, 4, 8]
            .into_iter()
            .find(|w| offset_width(body.len() as u64 + n * w) == *w)
            .unwrap();
        push_offsets(&mut body, offsets, width);
        body
    }

    fn pad8(v: &mut Vec<u8>) {
        while !v.len().is_multiple_of(8) {
            v.push(0);
        }
    }

    /// `{sv}` with the value given as (serialised child, type string).
    fn entry(key: &str, child: &[u8], ty: &str) -> Vec<u8> {
        let mut e = key.as_bytes().to_vec();
        e.push(0);
        let key_end = e.len() as u64;
        pad8(&mut e);
        e.extend_from_slice(child);
        e.push(0);
        e.extend_from_slice(ty.as_bytes());
        frame(e, &[key_end])
    }

    fn string(s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    }

    fn dict(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut ends = Vec::new();
        for e in entries {
            pad8(&mut body);
            body.extend_from_slice(e);
            ends.push(body.len() as u64);
        }
        if entries.is_empty() {
            return body;
        }
        frame(body, &ends)
    }

    /// `(a{sv}aya(say)sstayay)` with empty arrays and fixed strings around the metadata.
    fn commit(meta: &[u8]) -> Vec<u8> {
        let mut body = meta.to_vec();
        let mut ends = vec![body.len() as u64]; // a{sv}
        ends.push(body.len() as u64); // ay (empty)
        ends.push(body.len() as u64); // a(say) (empty)
        body.extend_from_slice(b"subject\0");
        ends.push(body.len() as u64);
        body.extend_from_slice(b"body\0");
        ends.push(body.len() as u64);
        pad8(&mut body);
        body.extend_from_slice(&1_700_000_000u64.to_be_bytes());
        body.extend_from_slice(&[0xaa; 32]); // root dirtree checksum
        ends.push(body.len() as u64);
        body.extend_from_slice(&[0xbb; 32]); // root dirmeta checksum (last member: no offset)
        ends.reverse();
        frame(body, &ends)
    }

    fn version_of(bytes: &[u8]) -> Option<String> {
        version_in_commit(bytes)
    }

    #[test]
    fn real_commit_object() {
        let bytes = unhex(REAL_COMMIT_HEX);
        assert_eq!(version_of(&bytes).as_deref(), Some("g1a"));
        // Every truncation or single-byte corruption must be handled without panicking.
        for cut in 0..bytes.len() {
            let _ = version_of(&bytes[..cut]);
        }
        for i in 0..bytes.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut b = bytes.clone();
                b[i] = v;
                let _ = version_of(&b);
            }
        }
    }

    #[test]
    fn synthetic_commits() {
        let meta = dict(&[
            entry("ostree.bootable", &[1], "b"),
            entry("version", &string("41.20250101.0"), "s"),
            entry("ostree.linux", &string("6.1.0"), "s"),
        ]);
        assert_eq!(version_of(&commit(&meta)).as_deref(), Some("41.20250101.0"));
        assert_eq!(version_of(&commit(&dict(&[]))), None);
        let no_version = dict(&[entry("ostree.bootable", &[1], "b")]);
        assert_eq!(version_of(&commit(&no_version)), None);
        // A non-string version is not a version (g_variant_lookup "&s" fails), and the first
        // matching key decides.
        let int_version = dict(&[
            entry("version", &42i32.to_le_bytes(), "i"),
            entry("version", &string("2"), "s"),
        ]);
        assert_eq!(version_of(&commit(&int_version)), None);
        let twice = dict(&[
            entry("version", &string("1"), "s"),
            entry("version", &string("2"), "s"),
        ]);
        assert_eq!(version_of(&commit(&twice)).as_deref(), Some("1"));
        let empty = dict(&[entry("version", &string(""), "s")]);
        assert_eq!(version_of(&commit(&empty)).as_deref(), Some(""));
        let bad_utf8 = dict(&[entry("version", b"\xff\0", "s")]);
        assert_eq!(version_of(&commit(&bad_utf8)), None);
        let inner_nul = dict(&[entry("version", b"a\0b\0", "s")]);
        assert_eq!(version_of(&commit(&inner_nul)), None);
        assert_eq!(version_of(&[]), None);
    }

    #[test]
    fn wide_offsets() {
        // A 70 KB package-list-like entry forces 4-byte offsets in the dictionary and the tuple,
        // and 2-byte ones inside a 300-byte entry.
        let big = "p".repeat(70_000);
        let mid = "m".repeat(300);
        let meta = dict(&[
            entry("rpmostree.rpmdb.pkglist", &string(&big), "s"),
            entry("mid", &string(&mid), "s"),
            entry("version", &string("39.1"), "s"),
        ]);
        let c = commit(&meta);
        assert!(c.len() > 0x1_0000);
        assert_eq!(version_of(&c).as_deref(), Some("39.1"));

        // The same bytes through the pread path.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.commit");
        std::fs::write(&p, &c).unwrap();
        assert_eq!(commit_version(&p, &mut Vec::new()).as_deref(), Some("39.1"));
        let small = commit(&dict(&[entry("version", &string("7"), "s")]));
        std::fs::write(&p, &small).unwrap();
        assert_eq!(commit_version(&p, &mut Vec::new()).as_deref(), Some("7"));
        assert_eq!(
            commit_version(&dir.path().join("missing"), &mut Vec::new()),
            None
        );
    }

    #[test]
    fn offset_widths() {
        assert_eq!(offset_width(0), 0);
        assert_eq!(offset_width(255), 1);
        assert_eq!(offset_width(256), 2);
        assert_eq!(offset_width(65535), 2);
        assert_eq!(offset_width(65536), 4);
        assert_eq!(offset_width(1 << 32), 8);
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut rng = fastrand::Rng::with_seed(7);
        for len in 0..600 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            let _ = version_of(&bytes);
        }
    }
}
