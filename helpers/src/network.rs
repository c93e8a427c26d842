//! `ostree-guests-network`: writes the declared bridges' configuration where the host's network
//! stack reads runtime configuration, before that stack starts (ordered like systemd's own
//! systemd-network-generator.service), and removes what it wrote for bridges that are gone.
//! It never touches /etc.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use ostree_guests::config;
use ostree_guests::network::{Backend, NETWORKD_PREFIX, NM_PREFIX, render_all};
use ostree_guests::paths::{ENV_ROOT, env_path};

/// Prefix of the runtime directories (`/run`), relocatable for tests.
pub const ENV_RUN: &str = "OSTREE_GUESTS_RUN";

pub const USAGE: &str = "\
Usage: ostree-guests-network [--dry-run] [--backend auto|networkd|networkmanager]

Writes the bridges declared in /etc/ostree-guests.d/NAME.bridge.toml (or /run, /usr/lib) as
systemd-networkd files into /run/systemd/network or as NetworkManager keyfiles into
/run/NetworkManager/system-connections, removes the files it wrote before for bridges that are
gone, and asks a running network stack to reload. Normally run by ostree-guests-network.service.
Exit status: 0 done, 64 usage, 78 a bridge declaration is invalid (the others are written),
79 no network stack is enabled, 80 writing or reloading failed.";

pub const EXIT_INVALID: i32 = 78;
pub const EXIT_NO_BACKEND: i32 = 79;
pub const EXIT_FAILED: i32 = 80;

#[derive(Debug, Default)]
pub struct Args {
    pub dry_run: bool,
    pub backend: Option<Backend>,
}

pub fn parse_args(args: &[String]) -> Result<Option<Args>, String> {
    let mut a = Args::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--dry-run" => a.dry_run = true,
            "--backend" => {
                a.backend = Some(match it.next().map(String::as_str) {
                    Some("auto") => Backend::Auto,
                    Some("networkd") => Backend::Networkd,
                    Some("networkmanager") => Backend::Networkmanager,
                    other => {
                        return Err(format!(
                            "--backend takes auto, networkd or networkmanager, not {other:?}"
                        ));
                    }
                });
            }
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    Ok(Some(a))
}

fn systemctl_says(verb: &str, unit: &str) -> bool {
    Command::new("systemctl")
        .args(["--quiet", verb, unit])
        .status()
        .is_ok_and(|s| s.success())
}

/// A stack counts when it is enabled (we run before it starts at boot) or already running (a
/// restart after boot, or a stack started by hand).
fn in_use(unit: &str) -> bool {
    systemctl_says("is-enabled", unit) || systemctl_says("is-active", unit)
}

/// Why a `zone` guest cannot work on this host, if it cannot: only systemd-networkd configures
/// nspawn's vz-* bridges (DHCP, NAT, via its stock 80-container-vz.network); NetworkManager
/// leaves them alone. Unknown states (no systemd to ask) refuse nothing.
pub fn zone_problem(networkd_in_use: bool, networkmanager_in_use: bool) -> Option<&'static str> {
    (networkmanager_in_use && !networkd_in_use).then_some(
        "network.mode = \"zone\" needs systemd-networkd (it gives nspawn's vz-* bridges DHCP and NAT), and this host runs NetworkManager without it: use mode = \"veth\" or \"bridge\"",
    )
}

/// The same question about the running host.
pub fn zone_problem_here() -> Option<&'static str> {
    zone_problem(
        in_use("systemd-networkd.service"),
        in_use("NetworkManager.service"),
    )
}

/// NetworkManager wins: Fedora Atomic hosts run it (CoreOS ships no networkd), and two stacks
/// must not manage one bridge.
pub fn detect_backend(wanted: Backend) -> Option<Backend> {
    match wanted {
        Backend::Auto if in_use("NetworkManager.service") => Some(Backend::Networkmanager),
        Backend::Auto if in_use("systemd-networkd.service") => Some(Backend::Networkd),
        Backend::Auto => None,
        explicit => Some(explicit),
    }
}

fn target_dir(run: &Path, backend: Backend) -> PathBuf {
    match backend {
        Backend::Networkmanager => run.join("NetworkManager/system-connections"),
        Backend::Networkd | Backend::Auto => run.join("systemd/network"),
    }
}

fn ours(name: &str) -> bool {
    name.starts_with(NETWORKD_PREFIX)
        || (name.starts_with(NM_PREFIX) && name.ends_with(".nmconnection"))
}

/// Replaces our files in `dir` with `files`, written atomically with `mode`, and removes the
/// files we wrote before that are no longer wanted. Other files in `dir` are never touched.
pub fn sync_dir(dir: &Path, files: &BTreeMap<String, String>, mode: u32) -> Result<Vec<String>> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if ours(&name) && !files.contains_key(&name) {
            fs::remove_file(dir.join(&name))
                .with_context(|| format!("removing {}", dir.join(&name).display()))?;
            removed.push(name);
        }
    }
    for (name, text) in files {
        let path = dir.join(name);
        let tmp = dir.join(format!(".#{name}.{}", std::process::id()));
        let write = || -> io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(mode)
                .open(&tmp)?;
            io::Write::write_all(&mut f, text.as_bytes())?;
            fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
            fs::rename(&tmp, &path)
        };
        write().with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(removed)
}

fn reload(backend: Backend) -> Result<()> {
    let (unit, cmd): (&str, &[&str]) = match backend {
        Backend::Networkmanager => ("NetworkManager.service", &["nmcli", "connection", "reload"]),
        Backend::Networkd | Backend::Auto => {
            ("systemd-networkd.service", &["networkctl", "reload"])
        }
    };
    // At boot we run before the stack starts and it reads the files itself.
    if !systemctl_says("is-active", unit) {
        return Ok(());
    }
    let (prog, args) = cmd.split_first().context("empty reload command")?;
    let status = Command::new(prog)
        .args(args)
        .status()
        .with_context(|| format!("running {}", cmd.join(" ")))?;
    if !status.success() {
        bail!("{} failed: {status}", cmd.join(" "));
    }
    Ok(())
}

/// Returns the exit status.
pub fn run(args: &Args) -> i32 {
    let root = env_path(ENV_ROOT, "/");
    let run = env_path(ENV_RUN, "/run");
    let loaded = config::load(&root);
    let mut status = 0;
    for b in &loaded.bridges {
        if let Err(e) = &b.settings {
            eprintln!("{e}\nbridge {}: not configured until this is fixed", b.name);
            status = EXIT_INVALID;
        }
    }
    let managed = loaded
        .bridges
        .iter()
        .any(|b| b.settings.as_ref().is_ok_and(|c| c.managed));
    let wanted = args.backend.unwrap_or_else(|| {
        loaded
            .bridges
            .iter()
            .filter_map(|b| b.settings.as_ref().ok())
            .map(|c| c.backend)
            .find(|b| *b != Backend::Auto)
            .unwrap_or(Backend::Auto)
    });
    let Some(backend) = detect_backend(wanted) else {
        if managed {
            eprintln!(
                "no network stack is enabled (neither NetworkManager.service nor systemd-networkd.service): cannot configure the declared bridges; enable one, or set backend in the declaration"
            );
            return EXIT_NO_BACKEND;
        }
        return status;
    };
    let machine_id = fs::read_to_string(ostree_guests::paths::under_root(&root, "/etc/machine-id"))
        .unwrap_or_default();
    let files = render_all(&loaded.bridges, backend, &machine_id);
    let dir = target_dir(&run, backend);
    if args.dry_run {
        for (name, text) in &files {
            println!("---{}---\n{text}", dir.join(name).display());
        }
        return status;
    }
    // NetworkManager ignores keyfiles others can read; systemd-networkd reads its files as the
    // systemd-network user, so they must be readable by all (they hold no secrets).
    let mode = match backend {
        Backend::Networkmanager => 0o600,
        Backend::Networkd | Backend::Auto => 0o644,
    };
    match sync_dir(&dir, &files, mode).and_then(|removed| {
        for r in removed {
            eprintln!(
                "removed {} (its bridge is no longer declared)",
                dir.join(r).display()
            );
        }
        reload(backend)
    }) {
        Ok(()) => {
            eprintln!("{} bridge file(s) in {}", files.len(), dir.display());
            status
        }
        Err(e) => {
            eprintln!("{e:#}");
            EXIT_FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_guests_are_refused_only_on_networkmanager_only_hosts() {
        assert!(zone_problem(false, true).is_some());
        assert_eq!(zone_problem(true, true), None);
        assert_eq!(zone_problem(true, false), None);
        // nothing known (no systemd): let nspawn try
        assert_eq!(zone_problem(false, false), None);
    }
}
