//! File system types by name, and which of them cannot carry idmapped mounts: the start helper
//! names the file system when its idmap probe fails, and `ostree-guests validate` warns before a
//! start would.

use std::path::Path;

const TMPFS: i64 = 0x0102_1994;
/// Kernels without `FS_ALLOW_IDMAP` for these (ramfs never has it; network and FUSE file
/// systems decide ownership on the server).
const NEVER_IDMAPPED: &[(i64, &str)] = &[
    (0x8584_58f6, "ramfs"),
    (0x6969, "nfs"),
    (0x6573_5546, "fuse"),
    (0xff53_4d42, "cifs"),
    (0xfe53_4d42, "smb2"),
];
const NAMED: &[(i64, &str)] = &[
    (TMPFS, "tmpfs"),
    (0x794c_7630, "overlayfs"),
    (0xef53, "ext4"),
    (0x5846_5342, "xfs"),
    (0x9123_683e, "btrfs"),
    (0x4d44, "vfat"),
    (0x9fa0, "proc"),
];

fn magic(path: &Path) -> Option<i64> {
    nix::sys::statfs::statfs(path)
        .ok()
        .map(|s| s.filesystem_type().0)
}

fn name_of(magic: i64) -> String {
    NEVER_IDMAPPED
        .iter()
        .chain(NAMED)
        .find(|(m, _)| *m == magic)
        .map_or_else(|| format!("type 0x{magic:x}"), |(_, n)| (*n).to_owned())
}

/// The type of the file system holding `path`, by name where users know it.
pub fn name(path: &Path) -> String {
    magic(path).map_or_else(|| "unknown".to_owned(), name_of)
}

/// tmpfs carries idmapped mounts from Linux 6.3 on.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let Ok(u) = nix::sys::utsname::uname() else {
        return true;
    };
    let release = u.release().to_string_lossy().into_owned();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

/// Why a mount of `path` cannot be idmapped here, when the file system's type already says so.
/// The start helper's probe asks the kernel itself; this is the warning before a start.
pub fn idmap_unsupported(path: &Path) -> Option<String> {
    let m = magic(path)?;
    if let Some((_, n)) = NEVER_IDMAPPED.iter().find(|(k, _)| *k == m) {
        return Some(format!("{n} cannot carry idmapped mounts"));
    }
    if m == TMPFS && !kernel_at_least(6, 3) {
        return Some("tmpfs carries idmapped mounts only from Linux 6.3 on".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_verdicts() {
        assert_eq!(name(Path::new("/proc")), "proc");
        assert_eq!(name(Path::new("/nonexistent-ostree-guests")), "unknown");
        assert_eq!(name_of(0x8584_58f6), "ramfs");
        assert_eq!(name_of(0x1234), "type 0x1234");
        assert!(idmap_unsupported(Path::new("/nonexistent-ostree-guests")).is_none());
        assert!(kernel_at_least(2, 6));
        assert!(!kernel_at_least(999, 0));
    }
}
