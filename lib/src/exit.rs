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

/// The admin CLI's own statuses. It also exits with the start helper's statuses in
/// [`cli::SHARED`], meaning what they mean above; every number here means one thing in every
/// binary (docs/DESIGN.md, "Exit statuses of all binaries").
pub mod cli {
    /// `validate`: at least one guest is invalid (the generator's status for the same finding).
    pub const INVALID: i32 = 1;
    /// `upgrade --check`: no update is available. rpm-ostree's status for the same answer
    /// (`rpm-ostree upgrade --check`), so scripts written for the host work for guests.
    pub const NO_UPDATE: i32 = 77;
    /// The boot directory has too little free space for another guest kernel.
    pub const BOOT_FULL: i32 = 89;
    /// A deploy changed the host's default boot entry; it was undone.
    pub const HOST_DEFAULT_CHANGED: i32 = 90;
    /// The guest already exists with another configuration (use --force).
    pub const GUEST_EXISTS: i32 = 91;
    /// After the operation the guest would not run the deployment it should.
    pub const VERIFY_FAILED: i32 = 92;
    /// `systemctl` failed to stop or restart the guest's unit.
    pub const SYSTEMD_FAILED: i32 = 93;
    /// Reading or writing a file of ours failed (configuration, lock).
    pub const IO_FAILED: i32 = 94;
    /// A confirmation was declined (or impossible without a terminal; use --yes).
    pub const ABORTED: i32 = 95;
    /// An `ostree` command failed; its messages are printed verbatim. (88 until the start
    /// helper's BRIDGE_MISSING took that number.)
    pub const OSTREE_FAILED: i32 = 96;
    /// The stateroot belongs to another guest (or to the host's default boot entry).
    pub const STATEROOT_IN_USE: i32 = 110;
    /// A later configuration file overrides the setting `enable`/`disable` writes.
    pub const OVERRIDDEN: i32 = 111;
    /// `ostree container` is not available (on Fedora rpm-ostree provides it).
    pub const NO_OSTREE_CONTAINER: i32 = 112;
    /// `ostree container image pull` failed: the image is unreachable or invalid.
    pub const IMAGE_PULL_FAILED: i32 = 113;
    /// The host's container signature policy refused the image.
    pub const IMAGE_SIGNATURE_REFUSED: i32 = 114;

    /// The start helper's statuses that the CLI exits with too: its own usage errors, and what
    /// loading a guest and resolving its deployment report (`render` passes the helper's dry
    /// run failures on unchanged).
    pub const SHARED: &[i32] = &[
        super::USAGE,
        super::CONFIG_INVALID,
        super::NO_DEPLOYMENT,
        super::PIN_NOT_FOUND,
        super::DEPLOYMENT_MISSING,
        super::HOST_STATEROOT,
        super::SYSROOT_UNREADABLE,
        super::BOOT_ENTRIES_MALFORMED,
        super::SYSROOT_BROKEN,
    ];

    /// Every status of `ostree-guests` with its meaning there, in order: the `--help` epilogue
    /// and the EXIT STATUS lines of ostree-guests(1) are made from it ([`help_table`]). A test
    /// keeps it equal to this module's codes plus [`SHARED`].
    pub const MEANINGS: &[(i32, &str)] = &[
        (0, "success (upgrade --check: an update is available)"),
        (INVALID, "validate: a guest configuration is invalid"),
        (super::USAGE, "usage error"),
        (NO_UPDATE, "upgrade --check: no update is available"),
        (
            super::CONFIG_INVALID,
            "the guest's configuration is invalid or missing",
        ),
        (
            super::NO_DEPLOYMENT,
            "the stateroot has no deployment (or no previous one to return to)",
        ),
        (
            super::PIN_NOT_FOUND,
            "a deployment pin matches no deployment",
        ),
        (
            super::DEPLOYMENT_MISSING,
            "a boot entry names a deployment whose directory is gone",
        ),
        (
            super::HOST_STATEROOT,
            "the stateroot is the host's own (booted or default) one",
        ),
        (
            super::SYSROOT_UNREADABLE,
            "the sysroot or boot directory is unreadable",
        ),
        (super::BOOT_ENTRIES_MALFORMED, "boot entries malformed"),
        (BOOT_FULL, "not enough free space in the boot directory"),
        (
            HOST_DEFAULT_CHANGED,
            "a deploy changed the host's default boot entry (undone)",
        ),
        (
            GUEST_EXISTS,
            "the guest exists with another configuration (use --force)",
        ),
        (
            VERIFY_FAILED,
            "the guest does not resolve to the expected deployment afterwards",
        ),
        (SYSTEMD_FAILED, "systemctl failed"),
        (IO_FAILED, "a file could not be read or written"),
        (ABORTED, "aborted (confirmation declined)"),
        (
            OSTREE_FAILED,
            "an ostree command failed (its messages are shown)",
        ),
        (
            super::SYSROOT_BROKEN,
            "the sysroot or boot directory is broken (a link loop, a file for a directory)",
        ),
        (STATEROOT_IN_USE, "the stateroot is used by another guest"),
        (
            OVERRIDDEN,
            "enable/disable: a later drop-in sets autostart, so nothing was changed",
        ),
        (
            NO_OSTREE_CONTAINER,
            "`ostree container` is not available (Fedora: rpm-ostree provides it)",
        ),
        (
            IMAGE_PULL_FAILED,
            "the container image could not be pulled (unreachable or invalid)",
        ),
        (
            IMAGE_SIGNATURE_REFUSED,
            "the container signature policy refused the image",
        ),
    ];

    /// The `--help` epilogue: "Exit status:" and one line per entry of [`MEANINGS`].
    pub fn help_table() -> String {
        let mut s = String::from("Exit status:");
        for (code, meaning) in MEANINGS {
            s.push_str(&format!("\n  {code:<3} {meaning}"));
        }
        s
    }
}

/// The network helper's statuses (`ostree-guests-network.service`); besides these it exits
/// with 0, USAGE and, for an invalid declaration, CONFIG_INVALID ([`network::ALL`]).
pub mod network {
    /// Neither systemd-networkd nor NetworkManager is there to take a declared bridge. (79 until
    /// it was renumbered out of the start helper's range.)
    pub const NO_BACKEND: i32 = 97;
    /// Writing the network files or reloading the network stack failed. (Was 80.)
    pub const FAILED: i32 = 98;

    /// Every status of `ostree-guests-network`: its `--help` names exactly these (a test in
    /// helpers/src/network.rs checks it).
    pub const ALL: &[i32] = &[0, super::USAGE, super::CONFIG_INVALID, NO_BACKEND, FAILED];
}

/// A failure with the exit status that tells its class: the start helper's and the admin CLI's
/// one type, so that `render` passes the helper's dry-run failures on unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// A status without a message of its own (the command printed its answer already).
    pub fn silent(code: i32) -> Self {
        Self::new(code, String::new())
    }

    /// An I/O error on `path` while doing `action` ("writing", "removing", ...).
    pub fn io(action: &str, path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Self::new(cli::IO_FAILED, format!("{action} {}: {e}", path.display()))
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<crate::deployment::ResolveError> for Failure {
    fn from(e: crate::deployment::ResolveError) -> Self {
        Self::new(e.exit_code(), e.to_string())
    }
}

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

    /// `pub const NAME: i32 = N;` lines of the `pub mod MODULE { … }` block of this file.
    fn module_codes(module: &str) -> Vec<i32> {
        let source = include_str!("exit.rs");
        let start = format!("pub mod {module} {{");
        let body = source
            .split_once(&start)
            .map(|(_, rest)| rest.split_once("\n}").map_or(rest, |(b, _)| b))
            .unwrap();
        body.lines()
            .filter_map(|l| l.trim().strip_prefix("pub const ")?.split_once(": i32 = "))
            .map(|(_, v)| v.trim_end_matches(';').parse().unwrap())
            .collect()
    }

    #[test]
    fn the_clis_table_lists_its_own_and_its_shared_codes_once_each() {
        let own = module_codes("cli");
        assert!(own.len() >= 12, "{own:?}");
        let mut want: Vec<i32> = own.iter().chain(cli::SHARED).copied().collect();
        want.push(0);
        want.sort_unstable();
        let mut listed: Vec<i32> = cli::MEANINGS.iter().map(|(c, _)| *c).collect();
        let in_order = listed.is_sorted();
        listed.sort_unstable();
        assert_eq!(listed, want, "exit::cli::MEANINGS");
        assert!(in_order, "exit::cli::MEANINGS is not in numeric order");
        let top: Vec<i32> = all_codes().iter().map(|(_, c)| *c).collect();
        for c in cli::SHARED {
            assert!(top.contains(c) && !own.contains(c), "shared code {c}");
        }
        let table = cli::help_table();
        assert!(table.starts_with("Exit status:\n  0   success"), "{table}");
        assert!(table.contains("\n  110 the stateroot"), "{table}");
    }

    #[test]
    fn the_network_helpers_list_holds_its_codes() {
        let own = module_codes("network");
        assert_eq!(own, [network::NO_BACKEND, network::FAILED]);
        for c in own.iter().chain(&[0, USAGE, CONFIG_INVALID]) {
            assert!(network::ALL.contains(c), "{c}");
        }
        assert_eq!(network::ALL.len(), 5);
    }

    /// The CLI's and the network helper's own numbers never mean something else in the start
    /// helper, nor in each other.
    #[test]
    fn one_meaning_per_number_across_the_binaries() {
        let helper: Vec<i32> = all_codes().iter().map(|(_, c)| *c).collect();
        let own = [
            cli::INVALID,
            cli::NO_UPDATE,
            cli::BOOT_FULL,
            cli::HOST_DEFAULT_CHANGED,
            cli::GUEST_EXISTS,
            cli::VERIFY_FAILED,
            cli::SYSTEMD_FAILED,
            cli::IO_FAILED,
            cli::ABORTED,
            cli::OSTREE_FAILED,
            cli::STATEROOT_IN_USE,
            cli::OVERRIDDEN,
            cli::NO_OSTREE_CONTAINER,
            cli::IMAGE_PULL_FAILED,
            cli::IMAGE_SIGNATURE_REFUSED,
            network::NO_BACKEND,
            network::FAILED,
        ];
        for code in own {
            assert!(
                !helper.contains(&code),
                "{code} is also a start helper status"
            );
        }
        let mut sorted = own.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), own.len(), "{own:?}");
    }
}
