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
