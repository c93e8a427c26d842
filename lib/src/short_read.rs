//! Reading a whole small regular file in as few `read` calls as possible.
//!
//! A read from a regular file returns fewer bytes than asked only at the file's end, so a read
//! into room for the whole file is also the read that finds the end: the probe for end-of-file
//! that `read_to_end` makes (one more system call per file) is not needed. Configuration files,
//! boot entries and origin files are each read once per guest start or generator run, and that
//! probe was a tenth of resolution's file accesses.

use std::fs::File;
use std::io::{self, Read};

/// Reads `file` into the start of `buf`, with room for `expected` bytes at first, and stops
/// after `limit + 1` bytes so that the caller can tell a file over the limit. Returns how many
/// bytes were read: `buf` may be longer, because a buffer reused across files is not zeroed
/// again for each (that was as costly as a system call per file).
pub(crate) fn read_whole(
    mut file: &File,
    buf: &mut Vec<u8>,
    expected: usize,
    limit: u64,
) -> io::Result<usize> {
    let cap = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    // One byte more than expected: a file of exactly the expected size ends with a short read.
    let room = expected.saturating_add(1).clamp(1, cap);
    if buf.len() < room {
        buf.resize(room, 0);
    }
    let mut len = 0;
    loop {
        let end = buf.len().min(cap);
        match file.read(&mut buf[len..end]) {
            Ok(n) => {
                len += n;
                if n == 0 || len < end || len >= cap {
                    return Ok(len);
                }
                let grown = buf.len().saturating_mul(2).min(cap);
                buf.resize(grown, 0);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn read(content: &[u8], expected: usize, limit: u64) -> Vec<u8> {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(content).unwrap();
        let f = File::open(tmp.path()).unwrap();
        let mut buf = vec![7; 3];
        let n = read_whole(&f, &mut buf, expected, limit).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn whole_files_whatever_the_guess() {
        let text: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        for len in [0usize, 1, 17, 4095, 4096, 4097, 10_000] {
            for expected in [0, 1, len.saturating_sub(1), len, len + 1, 4096] {
                assert_eq!(
                    read(&text[..len], expected, 64 * 1024),
                    &text[..len],
                    "len {len}, expected {expected}"
                );
            }
        }
    }

    #[test]
    fn a_reused_buffer_holds_the_new_file_only() {
        let mut buf = Vec::new();
        for content in [&b"a longer first file"[..], b"short", b""] {
            let mut tmp = tempfile::NamedTempFile::new().unwrap();
            tmp.write_all(content).unwrap();
            let f = File::open(tmp.path()).unwrap();
            let n = read_whole(&f, &mut buf, 4, 1024).unwrap();
            assert_eq!(&buf[..n], content);
        }
    }

    #[test]
    fn stops_one_byte_past_the_limit() {
        let big = vec![b'x'; 5000];
        assert_eq!(read(&big, 4096, 4096).len(), 4097);
        assert_eq!(read(&big, 10, 100).len(), 101);
        assert_eq!(read(&big[..100], 10, 100).len(), 100);
    }
}
