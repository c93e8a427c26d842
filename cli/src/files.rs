//! Our configuration files: where they go and how they are written.
//!
//! Files are written atomically (temporary file in the same directory, fsync, rename) with mode
//! 0644, directories created 0755: the loader ignores group- or world-writable configuration.

use std::fs;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use ostree_guests::atomic;
use ostree_guests::paths::{ENV_ROOT, env_path, under_root};

use crate::exit::{Failure, Result};

/// The admin directory we write to (the highest-priority one).
pub const ETC_DIR: &str = "/etc/ostree-guests.d";
/// Our pin drop-in: sorts before an admin's own 60-… files, after vendor 10-… ones.
pub const PIN_DROPIN: &str = "50-pin.toml";
/// Our autostart drop-in (`enable`/`disable`), beside the pin one and ordered the same way.
pub const AUTOSTART_DROPIN: &str = "50-autostart.toml";

pub fn config_root() -> PathBuf {
    env_path(ENV_ROOT, "/")
}

/// `/etc/ostree-guests.d/NAME.toml` on disk (under OSTREE_GUESTS_ROOT).
pub fn main_file(root: &Path, name: &str) -> PathBuf {
    under_root(root, ETC_DIR).join(format!("{name}.toml"))
}

pub fn dropin_dir(root: &Path, name: &str) -> PathBuf {
    under_root(root, ETC_DIR).join(format!("{name}.toml.d"))
}

pub fn pin_file(root: &Path, name: &str) -> PathBuf {
    dropin_dir(root, name).join(PIN_DROPIN)
}

pub fn autostart_file(root: &Path, name: &str) -> PathBuf {
    dropin_dir(root, name).join(AUTOSTART_DROPIN)
}

/// The booted-system path of a file under `root` (what messages and the loader show).
pub fn logical(root: &Path, disk: &Path) -> PathBuf {
    match disk.strip_prefix(root) {
        Ok(rel) => Path::new("/").join(rel),
        Err(_) => disk.to_owned(),
    }
}

/// Creates `dir` and missing parents with mode 0755 (regardless of the umask).
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur.filter(|d| !d.exists()) {
        missing.push(d.to_owned());
        cur = d.parent();
    }
    for d in missing.iter().rev() {
        fs::DirBuilder::new()
            .mode(0o755)
            .create(d)
            .or_else(|e| if d.is_dir() { Ok(()) } else { Err(e) })
            .map_err(|e| Failure::io("creating directory", d, e))?;
        fs::set_permissions(d, fs::Permissions::from_mode(0o755))
            .map_err(|e| Failure::io("setting the mode of", d, e))?;
    }
    Ok(())
}

/// Configuration as the loader accepts it: mode 0644 whatever the umask, and on disk before
/// it replaces the old file.
const CONFIG_FILE: atomic::Options = atomic::Options {
    mode: 0o644,
    exact_mode: true,
    sync: true,
};

/// Replaces `path` with `contents` atomically, mode 0644.
pub fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Failure::io("writing", path, "no parent directory"))?;
    ensure_dir(dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Failure::io("writing", path, "no file name"))?;
    let fd = atomic::open_dir(dir).map_err(|e| Failure::io("opening", dir, e))?;
    atomic::replace_at(&fd, name, contents.as_bytes(), CONFIG_FILE)
        .map_err(|e| Failure::io("writing", path, e))?;
    // The rename itself must reach the disk too, or a power cut could bring back the old file.
    let _ = fs::File::from(fd).sync_all();
    Ok(())
}

/// Removes a file; a missing one is fine.
pub fn remove_file(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Failure::io("removing", path, e)),
    }
}

/// Removes a directory if it is empty (leaves an admin's own drop-ins alone).
pub fn remove_empty_dir(dir: &Path) {
    let _ = fs::remove_dir(dir);
}

/// A TOML basic string.
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(toml_string("x\u{7}"), r#""x\u0007""#);
    }

    #[test]
    fn atomic_write_sets_modes() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("etc/ostree-guests.d/web.toml");
        write_atomic(&f, "# x\n").unwrap();
        assert_eq!(fs::read_to_string(&f).unwrap(), "# x\n");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&f), 0o644);
        assert_eq!(mode(f.parent().unwrap()), 0o755);
        assert_eq!(
            logical(t.path(), &f),
            Path::new("/etc/ostree-guests.d/web.toml")
        );
    }
}
