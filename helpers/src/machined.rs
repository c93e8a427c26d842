//! Clearing a stale machine registration before nspawn registers again.
//!
//! nspawn unregisters on a clean exit (systemd ≥ 244), but after SIGKILL or a watchdog kill
//! machined may still hold the name, and the restart fails with "Machine 'NAME' already exists"
//! (systemd#24045). We only ever remove a registration that belongs to this guest's own unit:
//! anything else named like the guest is a different machine and is reported instead.
//! Everything short of that is best effort: if machined cannot be asked, nspawn's own
//! registration will say what is wrong.

use std::process::Command;

const BUS: &str = "org.freedesktop.machine1";
const PATH: &str = "/org/freedesktop/machine1";
const MANAGER: &str = "org.freedesktop.machine1.Manager";

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No registration of that name (or machined could not be asked: see the warning).
    Free,
    /// A registration left by this guest's own unit was removed.
    ClearedStale,
    /// Another unit (or a process outside any unit) runs a machine of that name.
    TakenBy(String),
}

/// `Ok(None)`: the call failed (no such machine, machined absent). `Err`: busctl could not run.
fn busctl(args: &[&str]) -> Result<Option<String>, String> {
    // busctl would report its failure (no machine of that name yet, the common case) to our
    // unit's NOTIFY_SOCKET, where only the main PID may speak: systemd logs a rejection.
    let out = Command::new("busctl")
        .args(["--system", "--no-pager"])
        .args(args)
        .env_remove("NOTIFY_SOCKET")
        .output()
        .map_err(|e| format!("cannot run busctl: {e}"))?;
    Ok(out
        .status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()))
}

/// busctl prints a string as `s "value"` and an object path as `o "value"`.
fn unquote<'a>(reply: &'a str, kind: &str) -> Option<&'a str> {
    reply
        .strip_prefix(kind)?
        .strip_prefix(" \"")?
        .strip_suffix('"')
}

/// Warnings (best-effort failures) go to `warn`; only a name taken by someone else is an
/// outcome the caller must act on.
pub fn clear_stale_registration(
    machine: &str,
    our_unit: &str,
    warn: &mut dyn FnMut(String),
) -> Outcome {
    let object = match busctl(&["call", BUS, PATH, MANAGER, "GetMachine", "s", machine]) {
        Ok(Some(reply)) => match unquote(&reply, "o") {
            Some(o) => o.to_owned(),
            None => {
                warn(format!(
                    "unexpected reply from machined's GetMachine: {reply:?}"
                ));
                return Outcome::Free;
            }
        },
        Ok(None) => return Outcome::Free,
        Err(e) => {
            warn(format!(
                "{e}; not checking for a stale machine registration"
            ));
            return Outcome::Free;
        }
    };
    let unit = busctl(&[
        "get-property",
        BUS,
        &object,
        "org.freedesktop.machine1.Machine",
        "Unit",
    ])
    .ok()
    .flatten()
    .and_then(|r| unquote(&r, "s").map(str::to_owned))
    .unwrap_or_default();
    if unit != our_unit {
        return Outcome::TakenBy(if unit.is_empty() {
            "another process".into()
        } else {
            unit
        });
    }
    match busctl(&[
        "call",
        BUS,
        PATH,
        MANAGER,
        "UnregisterMachine",
        "s",
        machine,
    ]) {
        Ok(Some(_)) => Outcome::ClearedStale,
        Ok(None) | Err(_) => {
            warn(format!(
                "machined did not unregister the stale machine {machine}"
            ));
            Outcome::Free
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_busctl_replies() {
        assert_eq!(
            unquote("s \"systemd-nspawn@web.service\"", "s"),
            Some("systemd-nspawn@web.service")
        );
        assert_eq!(unquote("o \"/org/x\"", "o"), Some("/org/x"));
        assert_eq!(unquote("o \"/x\"", "s"), None);
        assert_eq!(unquote("s", "s"), None);
    }
}
