//! Exit codes of the start helper (the generator follows the generator contract instead: 0, 1
//! for "a guest was invalid", and USAGE).
//!
//! Never 1 (the generic failure everybody uses) nor 133 (nspawn's "reboot requested"), so that a
//! unit's status tells which class of failure happened. Codes that no retry can fix are listed in
//! the drop-in's `RestartPreventExitStatus=`; the others may be retried by `Restart=on-failure`.

/// Bad command line.
pub const USAGE: i32 = 64;
/// The guest's configuration is invalid (also the fail-closed drop-in's code).
pub const CONFIG_INVALID: i32 = 78;
/// The stateroot has no deployment in the current boot entries.
pub const NO_DEPLOYMENT: i32 = 79;
/// A `deployment =` pin matches no deployment of the stateroot.
pub const PIN_NOT_FOUND: i32 = 80;
/// The boot entries name a deployment whose directory is gone (garbage-collected).
pub const DEPLOYMENT_MISSING: i32 = 81;
/// The guest's stateroot is the one the host itself is booted from.
pub const HOST_STATEROOT: i32 = 82;
/// The sysroot or boot directory could not be read (not mounted yet, I/O error): retryable.
pub const SYSROOT_UNREADABLE: i32 = 83;
/// Preparing the private mount namespace failed: retryable.
pub const MOUNT_FAILED: i32 = 84;
/// `systemd-nspawn` could not be executed (not installed).
pub const EXEC_FAILED: i32 = 85;
/// The boot entries or bootlinks are not what libostree writes (an entry without `ostree=`, a
/// `loader` link to somewhere else): waiting does not repair them.
pub const BOOT_ENTRIES_MALFORMED: i32 = 86;
/// systemd-machined already has a machine of this name that is not this guest's unit.
pub const MACHINE_NAME_TAKEN: i32 = 87;
/// The guest's bridge did not appear in time (the network stack may still be bringing it up):
/// retryable.
pub const BRIDGE_MISSING: i32 = 88;

/// A source that would be bound idmapped (the guest's user namespace) lies on a file system or
/// kernel that cannot idmap it: nspawn would fail after our exec, and retries cannot help.
pub const IDMAP_UNSUPPORTED: i32 = 100;
/// A `[[bind]]` source is refused where it really is: it exposes the host (its root, the
/// physical root, /proc, a writable /boot) or, for `+/path`, does not exist in the guest.
pub const BIND_REFUSED: i32 = 101;

/// The sysroot or boot directory cannot be read in a way that waiting does not change (a
/// symbolic link loop, a file where a directory belongs, a name too long): not retryable,
/// unlike [`SYSROOT_UNREADABLE`], which covers what is not there or not readable *yet*.
pub const SYSROOT_BROKEN: i32 = 103;

/// Codes after which a restart may succeed: something that is not there yet (a mount, a
/// device, a bridge) or a passing I/O error. Every code is in exactly one of the two lists.
pub const RETRYABLE: &[i32] = &[SYSROOT_UNREADABLE, MOUNT_FAILED, BRIDGE_MISSING];

/// Codes after which restarting the unit cannot help; they go into `RestartPreventExitStatus=`.
pub const NOT_RETRYABLE: &[i32] = &[
    USAGE,
    CONFIG_INVALID,
    NO_DEPLOYMENT,
    PIN_NOT_FOUND,
    DEPLOYMENT_MISSING,
    HOST_STATEROOT,
    EXEC_FAILED,
    BOOT_ENTRIES_MALFORMED,
    MACHINE_NAME_TAKEN,
    IDMAP_UNSUPPORTED,
    BIND_REFUSED,
    SYSROOT_BROKEN,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `pub const NAME: i32 = N;` of this file, so a new code cannot skip the sorting.
    fn all_codes() -> Vec<(String, i32)> {
        include_str!("exit.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("pub const ")?.split_once(": i32 = "))
            .map(|(name, v)| (name.to_owned(), v.trim_end_matches(';').parse().unwrap()))
            .collect()
    }

    #[test]
    fn every_code_is_either_retryable_or_not_and_none_is_both() {
        let all = all_codes();
        assert!(all.len() >= 13, "{all:?}");
        for (name, code) in &all {
            let (r, n) = (RETRYABLE.contains(code), NOT_RETRYABLE.contains(code));
            assert!(r != n, "{name} = {code}: retryable {r}, not retryable {n}");
        }
        let mut codes: Vec<i32> = all.iter().map(|(_, c)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len(), "two names share a code: {all:?}");
        assert!(!codes.contains(&1) && !codes.contains(&133));
    }
}
