//! Bounded reads of the small files resolution touches.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;

/// Boot entries and origin files are a few hundred bytes; anything this large is not ours.
pub(crate) const SMALL_FILE_LIMIT: u64 = 64 * 1024;

/// Why a small file could not be loaded.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    TooLarge,
    NotUtf8,
}

/// Reads `path` into `buf` (reused across calls to avoid allocations and zeroing) and
/// returns it as text. NUL bytes count as invalid, like `g_utf8_validate` with a length, so a
/// file libostree refuses is refused here too.
pub(crate) fn read_small_text<'b>(path: &Path, buf: &'b mut Vec<u8>) -> Result<&'b str, ReadError> {
    let file = File::open(path).map_err(ReadError::Io)?;
    read_text(file, buf)
}

/// [`read_small_text`] of `name` in the open directory `dir`: no path walked again per file.
pub(crate) fn read_small_text_at<'b>(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    buf: &'b mut Vec<u8>,
) -> Result<&'b str, ReadError> {
    let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let fd = openat(dir, name, flags, Mode::empty()).map_err(|e| ReadError::Io(e.into()))?;
    read_text(File::from(fd), buf)
}

fn read_text(file: File, buf: &mut Vec<u8>) -> Result<&str, ReadError> {
    // Room for a whole entry or origin file: one read gets it and finds the end.
    let n =
        crate::short_read::read_whole(&file, buf, 4095, SMALL_FILE_LIMIT).map_err(ReadError::Io)?;
    let bytes = buf.get(..n).unwrap_or_default();
    if n as u64 > SMALL_FILE_LIMIT {
        return Err(ReadError::TooLarge);
    }
    if bytes.contains(&0) {
        return Err(ReadError::NotUtf8);
    }
    std::str::from_utf8(bytes).map_err(|_| ReadError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_validated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let mut buf = Vec::new();
        std::fs::write(&p, "version 3\n").unwrap();
        assert_eq!(read_small_text(&p, &mut buf).unwrap(), "version 3\n");
        std::fs::write(&p, b"a\0b").unwrap();
        assert!(matches!(
            read_small_text(&p, &mut buf),
            Err(ReadError::NotUtf8)
        ));
        std::fs::write(&p, b"\xff").unwrap();
        assert!(matches!(
            read_small_text(&p, &mut buf),
            Err(ReadError::NotUtf8)
        ));
        std::fs::write(&p, vec![b'a'; 64 * 1024 + 1]).unwrap();
        assert!(matches!(
            read_small_text(&p, &mut buf),
            Err(ReadError::TooLarge)
        ));
        std::fs::write(&p, vec![b'a'; 64 * 1024]).unwrap();
        assert!(read_small_text(&p, &mut buf).is_ok());
        let missing = read_small_text(&dir.path().join("nope"), &mut buf);
        assert!(matches!(missing, Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound));
    }
}
