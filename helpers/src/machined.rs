//! Clearing a stale machine registration before nspawn registers again.
//!
//! nspawn unregisters on a clean exit (systemd ≥ 244), but after SIGKILL or a watchdog kill
//! machined may still hold the name, and the restart fails with "Machine 'NAME' already exists"
//! (systemd#24045). We only ever remove a registration that belongs to this guest's own unit:
//! anything else named like the guest is a different machine and is reported instead.

use std::process::Command;

use anyhow::{Context as _, Result, bail};

const BUS: &str = "org.freedesktop.machine1";
const PATH: &str = "/org/freedesktop/machine1";
const MANAGER: &str = "org.freedesktop.machine1.Manager";

fn busctl(args: &[&str]) -> Result<Option<String>> {
    let out = Command::new("busctl")
        .args(["--system", "--no-pager"])
        .args(args)
        .output()
        .context("running busctl")?;
    if out.status.success() {
        Ok(Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()))
    } else {
        Ok(None)
    }
}

/// busctl prints a string as `s "value"`.
fn unquote(reply: &str) -> Option<&str> {
    reply.strip_prefix("s \"")?.strip_suffix('"')
}

/// Returns true when a stale registration was removed.
pub fn clear_stale_registration(machine: &str, our_unit: &str) -> Result<bool> {
    let Some(reply) = busctl(&["call", BUS, PATH, MANAGER, "GetMachine", "s", machine])? else {
        return Ok(false);
    };
    let object = reply
        .strip_prefix("o \"")
        .and_then(|r| r.strip_suffix('"'))
        .with_context(|| format!("unexpected GetMachine reply {reply:?}"))?;
    let unit = busctl(&[
        "get-property",
        BUS,
        object,
        "org.freedesktop.machine1.Machine",
        "Unit",
    ])?
    .and_then(|r| unquote(&r).map(str::to_owned))
    .unwrap_or_default();
    if unit != our_unit {
        bail!(
            "a machine named {machine} is already registered by {} — stop it first (machinectl terminate {machine})",
            if unit.is_empty() {
                "another process"
            } else {
                unit.as_str()
            }
        );
    }
    busctl(&[
        "call",
        BUS,
        PATH,
        MANAGER,
        "UnregisterMachine",
        "s",
        machine,
    ])?
    .with_context(|| format!("machined refused to unregister the stale machine {machine}"))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_busctl_strings() {
        assert_eq!(
            unquote("s \"systemd-nspawn@web.service\""),
            Some("systemd-nspawn@web.service")
        );
        assert_eq!(unquote("o \"/x\""), None);
    }
}
