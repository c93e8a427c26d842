//! Unit state through `systemctl`, `busctl` and `journalctl`. Without systemd (containers,
//! tests) every read reports "unknown (no systemd)" and never fails a read-only command.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::Command;

use crate::exit::{Failure, Result, SYSTEMD_FAILED};
use crate::progress;

pub const NO_SYSTEMD: &str = "unknown (no systemd)";

/// systemd is PID 1 (sd_booted()'s test).
pub fn available() -> bool {
    Path::new("/run/systemd/system").exists()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitState {
    pub active: String,
    pub sub: String,
    pub main_pid: u32,
}

impl UnitState {
    pub fn label(&self) -> String {
        format!("{} ({})", self.active, self.sub)
    }

    pub fn is_active(&self) -> bool {
        matches!(self.active.as_str(), "active" | "activating" | "reloading")
    }
}

/// None without systemd or when systemctl cannot answer.
pub fn state(unit: &str) -> Option<UnitState> {
    if !available() {
        return None;
    }
    let out = Command::new("systemctl")
        .args(["show", "--property=ActiveState,SubState,MainPID", unit])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(parse_show(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_show(text: &str) -> UnitState {
    let mut s = UnitState {
        active: String::from("unknown"),
        sub: String::from("unknown"),
        main_pid: 0,
    };
    for line in text.lines() {
        match line.split_once('=') {
            Some(("ActiveState", v)) => s.active = v.to_owned(),
            Some(("SubState", v)) => s.sub = v.to_owned(),
            Some(("MainPID", v)) => s.main_pid = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    s
}

pub fn is_active(unit: &str) -> bool {
    state(unit).is_some_and(|s| s.is_active())
}

fn systemctl(verb: &str, unit: Option<&str>) -> Result<()> {
    let mut cmd = Command::new("systemctl");
    cmd.arg(verb);
    if let Some(u) = unit {
        cmd.arg(u);
    }
    let shown = format!(
        "systemctl {verb}{}",
        unit.map(|u| format!(" {u}")).unwrap_or_default()
    );
    progress::step(&format!("running {shown}"));
    let out = cmd
        .output()
        .map_err(|e| Failure::new(SYSTEMD_FAILED, format!("cannot run `{shown}`: {e}")))?;
    if !out.status.success() {
        return Err(Failure::new(
            SYSTEMD_FAILED,
            format!(
                "`{shown}` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim_end()
            ),
        ));
    }
    Ok(())
}

pub fn stop(unit: &str) -> Result<()> {
    systemctl("stop", Some(unit))
}

pub fn start(unit: &str) -> Result<()> {
    systemctl("start", Some(unit))
}

pub fn restart(unit: &str) -> Result<()> {
    systemctl("restart", Some(unit))
}

pub fn daemon_reload() -> Result<()> {
    systemctl("daemon-reload", None)
}

/// `stateroot, checksum, serial` of the deployment a running guest's nspawn pivoted into, from
/// its command line (`--pivot-root=/ostree/deploy/S/deploy/CSUM.SERIAL[:/sysroot]`).
pub fn running_deployment(unit: &str) -> Option<(String, String, u32)> {
    let st = state(unit)?;
    if !st.is_active() || st.main_pid == 0 {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", st.main_pid)).ok()?;
    parse_pivot_root(&cmdline)
}

pub fn parse_pivot_root(cmdline: &[u8]) -> Option<(String, String, u32)> {
    cmdline.split(|b| *b == 0).find_map(|arg| {
        let arg = std::str::from_utf8(arg).ok()?;
        let path = arg.strip_prefix("--pivot-root=")?;
        let path = path.split(':').next()?;
        let rest = path.strip_prefix("/ostree/deploy/")?;
        let (stateroot, rest) = rest.split_once("/deploy/")?;
        let (checksum, serial) = rest.trim_end_matches('/').rsplit_once('.')?;
        Some((
            stateroot.to_owned(),
            checksum.to_owned(),
            serial.parse().ok()?,
        ))
    })
}

/// The PID of the running guest's init (its PID 1 on the host side): machined's `Leader`, or
/// else the first child of the unit's main process, because the start helper execs nspawn,
/// which forks the container's init as its only remaining child.
pub fn leader_pid(machine: &str, unit: &str) -> Option<u32> {
    let st = state(unit)?;
    if !st.is_active() || st.main_pid == 0 {
        return None;
    }
    let from_machined = Command::new("machinectl")
        .args(["show", "--property=Leader", "--value", machine])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<u32>()
                .ok()
        })
        .filter(|pid| *pid != 0);
    from_machined.or_else(|| {
        let children =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", st.main_pid)).ok()?;
        children.split_whitespace().next()?.parse().ok()
    })
}

/// The machine's addresses from systemd-machined (only while it runs).
pub fn addresses(machine: &str) -> Vec<String> {
    if !available() {
        return Vec::new();
    }
    let out = Command::new("busctl")
        .args([
            "--json=short",
            "call",
            "org.freedesktop.machine1",
            "/org/freedesktop/machine1",
            "org.freedesktop.machine1.Manager",
            "GetMachineAddresses",
            "s",
            machine,
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => parse_addresses(&String::from_utf8_lossy(&o.stdout)),
        _ => Vec::new(),
    }
}

/// busctl's JSON for `a(iay)`: `{"type":"a(iay)","data":[[[2,[10,0,0,2]], ...]]}`.
fn parse_addresses(json: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    let Some(list) = v
        .get("data")
        .and_then(|d| d.get(0))
        .and_then(|l| l.as_array())
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|pair| {
            let family = pair.get(0)?.as_u64()?;
            let bytes: Vec<u8> = pair
                .get(1)?
                .as_array()?
                .iter()
                .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            match (family, bytes.len()) {
                (2, 4) => {
                    let a: [u8; 4] = bytes.try_into().ok()?;
                    Some(Ipv4Addr::from(a).to_string())
                }
                (10, 16) => {
                    let a: [u8; 16] = bytes.try_into().ok()?;
                    Some(Ipv6Addr::from(a).to_string())
                }
                _ => None,
            }
        })
        .collect()
}

/// The unit's last error-priority journal lines (empty without systemd or journal access).
pub fn last_errors(unit: &str, n: usize) -> Vec<String> {
    if !available() {
        return Vec::new();
    }
    let out = Command::new("journalctl")
        .args([
            "--no-pager",
            "--output=cat",
            "--priority=err",
            "--unit",
            unit,
        ])
        .arg(format!("--lines={n}"))
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with("-- "))
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pivot_root_names_the_running_deployment() {
        let c = b"systemd-nspawn\0--quiet\0--directory=/sysroot\0--pivot-root=/ostree/deploy/web/deploy/abcd.1:/sysroot\0--boot\0";
        assert_eq!(parse_pivot_root(c), Some(("web".into(), "abcd".into(), 1)));
        let c = b"systemd-nspawn\0--pivot-root=/ostree/deploy/web/deploy/abcd.0\0";
        assert_eq!(parse_pivot_root(c), Some(("web".into(), "abcd".into(), 0)));
        assert_eq!(parse_pivot_root(b"bash\0-c\0x\0"), None);
    }

    #[test]
    fn machined_addresses_are_formatted() {
        let j = r#"{"type":"a(iay)","data":[[[2,[10,0,0,2]],[10,[254,128,0,0,0,0,0,0,0,0,0,0,0,0,0,1]]]]}"#;
        assert_eq!(parse_addresses(j), vec!["10.0.0.2", "fe80::1"]);
        assert!(parse_addresses("garbage").is_empty());
    }

    #[test]
    fn show_output_is_parsed() {
        let s = parse_show("ActiveState=active\nSubState=running\nMainPID=42\n");
        assert!(s.is_active() && s.main_pid == 42);
        assert_eq!(s.label(), "active (running)");
    }
}
