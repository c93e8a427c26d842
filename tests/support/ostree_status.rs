//! Test support shared by the Rust test suites that drive the real `ostree` CLI (lib's T1
//! differential tests and the admin CLI's sysroot tests): whether they can run here, and a
//! parser for `ostree admin status`. Included with `#[path]`, so no test-only crate is needed.

#![allow(dead_code)] // each suite uses part of it

use std::process::Command;

/// Why tests that need root and the `ostree` binary cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root (bare repos and deployments need root)".into());
    }
    match Command::new("ostree").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!("`ostree --version` failed: {}", o.status)),
        Err(e) => Some(format!("no ostree binary: {e}")),
    }
}

/// One line of `ostree admin status` with its detail lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRow {
    pub stateroot: String,
    pub checksum: String,
    pub serial: u32,
    pub booted: bool,
    pub pinned: bool,
    pub version: Option<String>,
}

/// Parses ostree 2022.7's text output: `<* or space> <stateroot> <checksum>.<serial>[ (label)]`
/// lines, each followed by four-space-indented details (`Version: x`, `Pinned: yes`, ...).
pub fn parse_status(text: &str) -> Vec<StatusRow> {
    let mut rows: Vec<StatusRow> = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line == "No deployments." {
            continue;
        }
        if let Some(detail) = line.strip_prefix("    ") {
            let row = rows
                .last_mut()
                .unwrap_or_else(|| panic!("detail first: {line:?}"));
            if let Some(v) = detail.strip_prefix("Version: ") {
                row.version = Some(v.to_owned());
            } else if detail == "Pinned: yes" {
                row.pinned = true;
            }
            continue;
        }
        let (booted, rest) = if let Some(r) = line.strip_prefix("* ") {
            (true, r)
        } else if let Some(r) = line.strip_prefix("  ") {
            (false, r)
        } else {
            panic!("unexpected status line {line:?} in:\n{text}");
        };
        let mut words = rest.split(' ');
        let stateroot = words.next().unwrap().to_owned();
        let id = words.next().unwrap_or_else(|| panic!("no id in {line:?}"));
        let (checksum, serial) = id.rsplit_once('.').unwrap();
        rows.push(StatusRow {
            stateroot,
            checksum: checksum.to_owned(),
            serial: serial.parse().unwrap(),
            booted,
            pinned: false,
            version: None,
        });
    }
    rows
}

/// Clears the immutable bit ostree sets on deployment roots below `sysroot`, so a temporary
/// directory holding the sysroot can be removed.
pub fn clear_immutable_deployments(sysroot: &std::path::Path) {
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    if let Ok(roots) = std::fs::read_dir(sysroot.join("ostree/deploy")) {
        for root in roots.flatten() {
            if let Ok(deps) = std::fs::read_dir(root.path().join("deploy")) {
                dirs.extend(deps.flatten().map(|d| d.path()).filter(|p| p.is_dir()));
            }
        }
    }
    if !dirs.is_empty() {
        let _ = Command::new("chattr").arg("-i").args(&dirs).output();
    }
}
