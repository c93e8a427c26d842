//! `/run/ostree-booted`, the marker of a system booted from a deployment.
//!
//! `ostree-prepare-root` (ostree 2024 and later, in the initramfs) writes it as the normal-form
//! serialisation of a GVariant `a{sv}`; older ones and our own stand-ins write an empty file, which
//! is also the empty `a{sv}`. The key that matters here is `backing-root-device-inode`, a `(tt)`
//! of the `(st_dev, st_ino)` that `lstat` gave for the booted deployment's directory before `/` was
//! mounted over it (a bind mount, or a composefs overlay whose own inode matches nothing).
//! libostree compares every listed deployment's directory with it and falls back to `stat("/")`
//! only when the key is missing (`parse_deployment` in ostree-sysroot.c).
//!
//! The reader is bounded (the file is at most [`MAX_MARKER`] bytes, [`MAX_ENTRIES`] entries) and
//! never panics: anything that is not GVariant's framing yields `None`, and the caller falls back
//! to what it did before the key existed.

use std::fs::File;
use std::io;
use std::path::Path;

use super::gvariant::{align8, offset_width};

/// The key ostree-prepare-root records the booted deployment directory's `(dev, ino)` under.
pub(crate) const BACKING_KEY: &[u8] = b"backing-root-device-inode";
/// Real markers are a few hundred bytes (a signature's public key is the largest value).
const MAX_MARKER: u64 = 64 * 1024;
/// ostree writes fewer than ten keys.
const MAX_ENTRIES: usize = 256;

/// `(st_dev, st_ino)` of a directory, as `stat` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevIno {
    pub dev: u64,
    pub ino: u64,
}

/// What `run/ostree-booted` under a root says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    /// No marker: not booted from a deployment.
    Absent,
    /// Booted; the backing directory when the marker names one.
    Present(Option<DevIno>),
}

/// Reads `run/ostree-booted` under `root`. An unreadable or oversized marker still marks the
/// system booted (the file exists), just without a backing directory.
pub(crate) fn read_marker(root: &Path) -> Marker {
    let path = root.join("run/ostree-booted");
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Marker::Absent,
        // Exists but cannot be opened (permissions): as before, existence is what counts.
        Err(_) => return Marker::Present(None),
    };
    let mut buf = Vec::new();
    match crate::short_read::read_whole(&file, &mut buf, 1023, MAX_MARKER) {
        Ok(n) if n as u64 <= MAX_MARKER => Marker::Present(buf.get(..n).and_then(backing_dev_ino)),
        _ => Marker::Present(None),
    }
}

/// One `{sv}` entry: the key without its NUL, the value's serialised bytes and its type string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub ty: &'a [u8],
}

/// The `backing-root-device-inode` of a serialised `a{sv}`. Like `GVariantDict`, which libostree
/// looks it up through, the last entry with the key decides, and it must be a `(tt)`.
pub fn backing_dev_ino(bytes: &[u8]) -> Option<DevIno> {
    let entries = dict_entries(bytes)?;
    let last = entries.iter().rev().find(|e| e.key == BACKING_KEY)?;
    if last.ty != b"(tt)" {
        return None;
    }
    // (tt) is fixed-size: two little-endian u64, no framing offsets.
    let (dev, ino) = last.value.split_at_checked(8)?;
    Some(DevIno {
        dev: u64::from_le_bytes(dev.try_into().ok()?),
        ino: u64::from_le_bytes(ino.try_into().ok()?),
    })
}

/// The entries of the `a{sv}` serialised in `bytes`, in order; `None` if its framing is not
/// GVariant's (GLib would read such parts as default values; we take nothing from them).
pub fn dict_entries(bytes: &[u8]) -> Option<Vec<Entry<'_>>> {
    let size = bytes.len() as u64;
    if size == 0 {
        return Some(Vec::new());
    }
    let width = offset_width(size);
    // The last framing offset is the end of the last element, where the offset table begins.
    let table = offset_at(bytes, size.checked_sub(width)?, width)?;
    let table_len = size.checked_sub(table)?;
    if table_len == 0 || !table_len.is_multiple_of(width) {
        return None;
    }
    let count = usize::try_from(table_len / width).ok()?;
    if count > MAX_ENTRIES {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    let mut start = 0u64;
    for i in 0..count as u64 {
        let end = offset_at(bytes, table.checked_add(i.checked_mul(width)?)?, width)?;
        if start > end || end > table {
            return None;
        }
        entries.push(entry(slice(bytes, start, end)?)?);
        // {sv} is 8-aligned (the variant is), so the next entry starts at the next multiple of 8.
        start = align8(end)?;
    }
    Some(entries)
}

/// One serialised `{sv}`: the key string, then the variant at the next multiple of 8, then the
/// key's end as the entry's one framing offset.
fn entry(e: &[u8]) -> Option<Entry<'_>> {
    let size = e.len() as u64;
    let width = offset_width(size);
    let table = size.checked_sub(width)?;
    let key_end = offset_at(e, table, width)?;
    let (nul, key) = slice(e, 0, key_end)?.split_last()?;
    if *nul != 0 || key.contains(&0) {
        return None;
    }
    let variant = slice(e, align8(key_end)?, table)?;
    // A variant is its child's bytes, a NUL, then the child's type string (which has no NUL).
    let sep = variant.iter().rposition(|&b| b == 0)?;
    let (value, ty) = (variant.get(..sep)?, variant.get(sep + 1..)?);
    if ty.is_empty() || !ty.iter().all(u8::is_ascii_graphic) {
        return None;
    }
    Some(Entry { key, value, ty })
}

fn slice(bytes: &[u8], start: u64, end: u64) -> Option<&[u8]> {
    bytes.get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
}

fn offset_at(bytes: &[u8], at: u64, width: u64) -> Option<u64> {
    let raw = slice(bytes, at, at.checked_add(width)?)?;
    let mut le = [0u8; 8];
    le.get_mut(..raw.len())?.copy_from_slice(raw);
    Some(u64::from_le_bytes(le))
}

#[cfg(test)]
#[path = "marker_tests.rs"]
pub(crate) mod tests;
