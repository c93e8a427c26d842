//! A guest that runs while its stateroot changes: the deployment it runs from is pinned for the
//! duration, because nothing else stops ostree from deleting it under the running container
//! (only the writer's own root is protected), and the unit is restarted at the end.

use crate::exit::Result;
use crate::progress;
use crate::sysroot::{Host, Id};
use crate::systemd;

/// A guest unit that runs while we change its stateroot. Its deployment is pinned for the
/// duration (ostree would otherwise garbage-collect it under the running container) and the
/// unit is restarted at the end.
#[derive(Debug, Default)]
pub struct Running {
    unit: String,
    was_active: bool,
    stopped: bool,
    deployment: Option<Id>,
    pinned_by_us: bool,
}

impl Running {
    /// Looks at the unit and pins what it runs, if it runs and the pin is missing.
    pub fn protect(host: &Host, unit: &str) -> Result<Self> {
        let mut r = Self {
            unit: unit.to_owned(),
            was_active: systemd::is_active(unit),
            ..Self::default()
        };
        if !r.was_active {
            return Ok(r);
        }
        let Some((stateroot, checksum, serial)) = systemd::running_deployment(unit) else {
            return Ok(r);
        };
        let id = Id {
            stateroot,
            checksum,
            serial,
        };
        let deps = host.list()?;
        if let Some(d) = deps.iter().find(|d| id.is(d))
            && !d.pinned
        {
            progress::step(&format!("pinning {id} while {unit} runs from it"));
            host.set_pinned(&id, true)?;
            r.pinned_by_us = true;
        }
        r.deployment = Some(id);
        Ok(r)
    }

    pub(crate) fn owns_pin(&self, id: &Id) -> bool {
        self.pinned_by_us && self.deployment.as_ref() == Some(id)
    }

    /// The running deployment must go: stop the guest first, then drop our pin.
    pub(crate) fn stop_and_release(&mut self, host: &Host) -> Result<()> {
        if !self.stopped {
            systemd::stop(&self.unit)?;
            self.stopped = true;
        }
        self.release(host)
    }

    fn release(&mut self, host: &Host) -> Result<()> {
        if self.pinned_by_us
            && let Some(id) = &self.deployment
        {
            if host.index_of(id)?.is_some() {
                host.set_pinned(id, false)?;
            }
            self.pinned_by_us = false;
        }
        Ok(())
    }

    pub fn was_active(&self) -> bool {
        self.was_active
    }

    /// Restarts (or starts again) the unit so it runs the new deployment, then drops our pin.
    pub fn finish(mut self, host: &Host) -> Result<()> {
        if self.stopped {
            systemd::start(&self.unit)?;
        } else if self.was_active {
            systemd::restart(&self.unit)?;
        }
        self.release(host)
    }

    /// On failure: drop our pin and start the guest again if we stopped it.
    pub fn abandon(mut self, host: &Host) {
        if self.stopped
            && let Err(e) = systemd::start(&self.unit)
        {
            progress::warn(&format!("could not start {} again: {e}", self.unit));
        }
        if let Err(e) = self.release(host) {
            progress::warn(&format!("could not unpin the running deployment: {e}"));
        }
    }
}

/// The ranges of a `/proc/PID/uid_map` (`INSIDE OUTSIDE COUNT` per line); None for text that
/// is not one.
fn uid_ranges(uid_map: &str) -> Option<Vec<(u64, u64, u64)>> {
    let mut ranges = Vec::new();
    for line in uid_map.lines().filter(|l| !l.trim().is_empty()) {
        let nums: Vec<u64> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<std::result::Result<_, _>>()
            .ok()?;
        let [inside, outside, count] = nums[..] else {
            return None;
        };
        ranges.push((inside, outside, count));
    }
    (!ranges.is_empty()).then_some(ranges)
}

/// The initial user namespace's map: every ID onto itself.
const INITIAL_UID_MAP: &str = "0 0 4294967295";

/// Whether a guest's init runs in our own user namespace (privileged), from its uid_map and
/// ours (`/proc/self/uid_map`). The kernel shows a process of our namespace with our own map
/// (`0 0 4294967295` on a host, a shifted one when the host itself is a user-namespaced
/// container) and a process of a child namespace with its range as seen from ours. None for
/// text that is not a uid_map.
pub fn privileged_by_uid_map(guest: &str, own: &str) -> Option<bool> {
    let guest = uid_ranges(guest)?;
    let own = uid_ranges(own).or_else(|| uid_ranges(INITIAL_UID_MAP))?;
    Some(guest == own)
}

/// Whether the running guest was started privileged (null while it does not run, or when its
/// init's uid_map cannot be read).
pub fn running_privileged(machine: &str, unit: &str) -> Option<bool> {
    let pid = systemd::leader_pid(machine, unit)?;
    let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).ok()?;
    let own = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    privileged_by_uid_map(&map, &own)
}

/// "privileged" or "user-namespaced", for messages.
pub fn mode_word(privileged: bool) -> &'static str {
    if privileged {
        "privileged"
    } else {
        "user-namespaced"
    }
}

/// What `status` says when the running guest's mode is not what its configuration gives now
/// (`security.private-users` or a setting that implies it changed since the start).
pub fn mode_mismatch(
    configured: Option<bool>,
    running: Option<bool>,
    unit: &str,
) -> Option<String> {
    let (c, r) = (configured?, running?);
    (c != r).then(|| {
        format!(
            "running {}, configuration says {}: restart to apply (`systemctl restart {unit}`)",
            mode_word(r),
            mode_word(c)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_maps_tell_privileged_from_user_namespaced() {
        // The kernel's format: right-aligned columns.
        let host = "         0          0 4294967295\n";
        assert_eq!(privileged_by_uid_map(host, host), Some(true));
        // nspawn --private-users=pick: a 64K range at a picked base.
        let picked = "         0 1879048192      65536\n";
        assert_eq!(privileged_by_uid_map(picked, host), Some(false));
        // Identity but not the whole range, and several ranges: still a user namespace.
        assert_eq!(privileged_by_uid_map("0 0 65536\n", host), Some(false));
        assert_eq!(
            privileged_by_uid_map("0 100000 1000\n1000 1000 1\n", host),
            Some(false)
        );
        // A host that is itself a user-namespaced container: a privileged guest shares its map.
        let nested = "0 100000 65536\n";
        assert_eq!(privileged_by_uid_map(nested, nested), Some(true));
        assert_eq!(privileged_by_uid_map("0 10000 1000\n", nested), Some(false));
        // Our own map unreadable: the initial namespace is assumed.
        assert_eq!(privileged_by_uid_map(host, ""), Some(true));
        assert_eq!(privileged_by_uid_map(picked, ""), Some(false));
        // Not a uid_map.
        assert_eq!(privileged_by_uid_map("", host), None);
        assert_eq!(privileged_by_uid_map("0 0\n", host), None);
        assert_eq!(privileged_by_uid_map("a b c\n", host), None);
        // This test process runs in its own namespace, as a privileged guest's init would.
        let own = std::fs::read_to_string("/proc/self/uid_map").unwrap();
        assert_eq!(privileged_by_uid_map(&own, &own), Some(true));
    }

    #[test]
    fn a_mode_change_needs_a_restart() {
        let u = "systemd-nspawn@web.service";
        let m = mode_mismatch(Some(false), Some(true), u).unwrap();
        assert_eq!(
            m,
            "running privileged, configuration says user-namespaced: restart to apply (`systemctl restart systemd-nspawn@web.service`)"
        );
        let m = mode_mismatch(Some(true), Some(false), u).unwrap();
        assert!(
            m.starts_with("running user-namespaced, configuration says privileged"),
            "{m}"
        );
        assert_eq!(mode_mismatch(Some(true), Some(true), u), None);
        assert_eq!(mode_mismatch(Some(false), Some(false), u), None);
        // Not running, or an invalid configuration: nothing to compare.
        assert_eq!(mode_mismatch(Some(true), None, u), None);
        assert_eq!(mode_mismatch(None, Some(true), u), None);
    }
}
