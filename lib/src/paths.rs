//! Installed paths and the environment variables that relocate them for tests and offline use.

use std::path::{Path, PathBuf};

/// Prefixes every config search directory (default `/`).
pub const ENV_ROOT: &str = "OSTREE_GUESTS_ROOT";
/// The physical root holding `ostree/` (default `/sysroot`).
pub const ENV_SYSROOT: &str = "OSTREE_GUESTS_SYSROOT";
/// The directory holding `loader/` and the boot entries (default `/boot`).
pub const ENV_BOOT: &str = "OSTREE_GUESTS_BOOT";

pub const DEFAULT_SYSROOT: &str = "/sysroot";
pub const DEFAULT_BOOT: &str = "/boot";

/// Config search directories, highest priority first, as they appear on the booted system.
/// Not `/usr/local/lib`: on OSTree it points into `/var`, which a generator must not read.
pub const CONFIG_DIRS: &[&str] = &[
    "/etc/ostree-guests.d",
    "/run/ostree-guests.d",
    "/usr/lib/ostree-guests.d",
];

pub const HELPER: &str = "/usr/libexec/ostree-guests/ostree-guest-start";
pub const NSPAWN_TEMPLATE: &str = "/usr/lib/systemd/system/systemd-nspawn@.service";
pub const MACHINES_TARGET: &str = "/usr/lib/systemd/system/machines.target";
pub const NETWORK_UNIT: &str = "ostree-guests-network.service";
pub const NETWORK_UNIT_PATH: &str = "/usr/lib/systemd/system/ostree-guests-network.service";
pub const DROPIN_NAME: &str = "50-ostree-guests.conf";

/// Prefix of every file we write, so the helper can find and remove its own stale files.
/// 50 sorts before systemd's 80-container-* files and before what systemd-network-generator
/// writes (70-…), and after the usual distribution defaults only if they are named later.
/// (`NETWORKD_PREFIX`: systemd-networkd's files; `NM_PREFIX`: NetworkManager's connection ids
/// and keyfiles.) Here, not in `network`, because the configuration checks that no bridge name
/// would make one bridge's file another's.
pub const NETWORKD_PREFIX: &str = "50-ostree-guests-";
pub const NM_PREFIX: &str = "ostree-guests-";

/// Where a path of the booted system lives on disk, given the `OSTREE_GUESTS_ROOT` prefix.
pub fn under_root(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Reads a path-valued environment variable, falling back to `default` when unset or empty.
pub fn env_path(var: &str, default: &str) -> PathBuf {
    env_path_set(var).unwrap_or_else(|| PathBuf::from(default))
}

/// A path-valued environment variable when it is set and not empty: an empty value means
/// "unset", as for systemd's own variables.
pub fn env_path_set(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_root_strips_leading_slash() {
        assert_eq!(
            under_root(Path::new("/tmp/r"), "/etc/ostree-guests.d"),
            PathBuf::from("/tmp/r/etc/ostree-guests.d")
        );
        assert_eq!(
            under_root(Path::new("/"), "/etc/ostree-guests.d"),
            PathBuf::from("/etc/ostree-guests.d")
        );
    }
}
