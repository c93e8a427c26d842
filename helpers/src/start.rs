//! `ostree-guest-start NAME`: the ExecStart of every generated drop-in.
//!
//! Re-reads the guest's configuration with the generator's own rules, resolves its OSTree
//! deployment from files, prepares a private mount namespace and *execs* systemd-nspawn, so that
//! nspawn is the unit's main process (Type=notify, watchdog, KillMode=mixed all rely on it).

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use ostree_guests::config::{self, Settings};
use ostree_guests::deployment::Layout;
use ostree_guests::exit::{self, Failure};
use ostree_guests::mounts as shared_mounts;
use ostree_guests::nspawn::{self, STAGING_DIR, Staging};
use ostree_guests::paths::{ENV_ROOT, env_path};
use ostree_guests::start_plan::{self, Asker, find_guest, report_config_error, settings_of};

use crate::binds::{self, BindError};
use crate::{idmap_probe, machined, mounts};

pub const USAGE: &str = "\
Usage: ostree-guest-start [--dry-run] [--no-register] NAME
       ostree-guest-start --config-error NAME

Boots the OSTree guest NAME configured in /etc/ostree-guests.d/NAME.toml (or /run, /usr/lib)
by exec'ing systemd-nspawn; normally run by systemd-nspawn@NAME.service.
  --dry-run       print the resolved deployment and the nspawn command line, start nothing
  --no-register   do not register with systemd-machined (hosts without systemd)
  --config-error  report why NAME's configuration is invalid (the fail-closed drop-in uses it)
Environment: OSTREE_GUESTS_ROOT, OSTREE_GUESTS_SYSROOT, OSTREE_GUESTS_BOOT.
See ostree-guest-start(8) for the exit statuses.";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    pub dry_run: bool,
    pub no_register: bool,
    pub config_error: bool,
    pub name: String,
}

pub fn parse_args(args: &[String]) -> Result<Option<Args>, Failure> {
    let mut a = Args::default();
    let mut name = None;
    let mut options_done = false;
    for arg in args {
        match arg.as_str() {
            // The drop-in passes "--" before the name, so no name is ever taken for an option.
            "--" if !options_done => options_done = true,
            s if options_done && name.is_none() => name = Some(s.to_owned()),
            s if options_done => {
                return Err(Failure::new(
                    exit::USAGE,
                    format!("unexpected argument {s}\n\n{USAGE}"),
                ));
            }
            "--help" | "-h" => return Ok(None),
            "--dry-run" => a.dry_run = true,
            "--no-register" => a.no_register = true,
            "--config-error" => a.config_error = true,
            s if s.starts_with('-') => {
                return Err(Failure::new(
                    exit::USAGE,
                    format!("unknown option {s}\n\n{USAGE}"),
                ));
            }
            s if name.is_none() => name = Some(s.to_owned()),
            s => {
                return Err(Failure::new(
                    exit::USAGE,
                    format!("unexpected argument {s}\n\n{USAGE}"),
                ));
            }
        }
    }
    a.name = name
        .ok_or_else(|| Failure::new(exit::USAGE, format!("missing the guest name\n\n{USAGE}")))?;
    Ok(Some(a))
}

/// Environment for nspawn: ours plus what the guest's settings need (the same variables the
/// drop-in sets, so a start outside the unit behaves the same).
fn nspawn_env(extra: &[(&str, &str)]) -> Vec<CString> {
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| k == e))
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    env.extend(
        extra
            .iter()
            .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok()),
    );
    env
}

fn exec(argv: &[OsString], extra_env: &[(&str, &str)]) -> Failure {
    let cargs: Result<Vec<CString>, _> = argv.iter().map(|a| CString::new(a.as_bytes())).collect();
    let cargs = match cargs {
        Ok(c) => c,
        Err(e) => return Failure::new(exit::EXEC_FAILED, format!("argument with a NUL byte: {e}")),
    };
    let Some(prog) = cargs.first() else {
        return Failure::new(exit::EXEC_FAILED, "empty command line");
    };
    // Only returns on failure.
    let err = nix::unistd::execvpe(prog, &cargs, &nspawn_env(extra_env)).err();
    Failure::new(
        exit::EXEC_FAILED,
        format!(
            "cannot execute systemd-nspawn: {}; install it (package systemd-container)",
            err.map(|e| e.desc()).unwrap_or("unknown error")
        ),
    )
}

fn clear_registration(name: &str, unit: &str) -> Result<(), Failure> {
    let mut warn = |m: String| eprintln!("{name}: warning: {m}");
    match machined::clear_stale_registration(name, unit, &mut warn) {
        machined::Outcome::Free => Ok(()),
        machined::Outcome::ClearedStale => {
            eprintln!("{name}: cleared a stale machine registration left by a killed nspawn");
            Ok(())
        }
        machined::Outcome::TakenBy(other) => Err(Failure::new(
            exit::MACHINE_NAME_TAKEN,
            format!(
                "{name}: a machine named {name} is already registered by {other}; stop it first (machinectl terminate {name}) or rename this guest"
            ),
        )),
    }
}

/// nspawn fails at once when the bridge is missing, and at boot the network stack may still be
/// creating it; device units would need udev, which container hosts lack, so poll.
fn wait_for_bridge(name: &str, bridge: &str) -> Result<(), Failure> {
    const WAIT: std::time::Duration = std::time::Duration::from_secs(30);
    let dev = Path::new("/sys/class/net").join(bridge);
    let start = std::time::Instant::now();
    while !dev.exists() {
        if start.elapsed() > WAIT {
            return Err(Failure::new(
                exit::BRIDGE_MISSING,
                format!(
                    "{name}: bridge {bridge} does not exist after {} s: check ostree-guests-network.service and the network stack (networkctl / nmcli device)",
                    WAIT.as_secs()
                ),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Ok(())
}

fn prepare(
    layout: &Layout,
    staging: &Staging,
    settings: &Settings,
    deployment_dir: &Path,
) -> Result<(), Failure> {
    let name = staging.dir().display().to_string();
    let mount_failed = |e: anyhow::Error| Failure::new(exit::MOUNT_FAILED, format!("{e:#}"));
    let shared_failed =
        |e: shared_mounts::MountError| Failure::new(exit::MOUNT_FAILED, e.to_string());
    shared_mounts::enter_private_namespace().map_err(shared_failed)?;
    shared_mounts::prepare_sysroot(&layout.sysroot).map_err(shared_failed)?;
    let var = layout
        .sysroot
        .join("ostree/deploy")
        .join(settings.stateroot.as_str())
        .join("var");
    let c = &settings.config;
    let sysroot_view = c.ostree_tools.then_some(layout.sysroot.as_path());
    mounts::stage(
        Path::new(STAGING_DIR),
        staging,
        &var,
        &layout.boot,
        sysroot_view,
    )
    .with_context(|| format!("staging the mounts in {name}"))
    .map_err(mount_failed)?;
    let real = |p: &Path| {
        std::fs::canonicalize(p)
            .with_context(|| format!("resolving {}", p.display()))
            .map_err(mount_failed)
    };
    let rules = binds::HostRules {
        sysroot: real(&layout.sysroot)?,
        boot: real(&layout.boot)?,
        boot_writable: c.boot_writable,
    };
    let roots = binds::GuestRoots {
        deployment: deployment_dir,
        var: &var,
    };
    binds::stage(&c.bind, &rules, &roots, |i| staging.bind(i)).map_err(|e| match e {
        BindError::Refused(m) => Failure::new(
            exit::BIND_REFUSED,
            format!(
                "{m}; change [[bind]] in the configuration (see HOST SAFETY in ostree-guests.d(5))"
            ),
        ),
        BindError::Failed(e) => mount_failed(e),
    })
}

/// Every source nspawn will idmap, with what it is for the message: nspawn would otherwise fail
/// after our exec, with a status the unit retries forever.
fn probe_idmap(
    staging: &Staging,
    settings: &Settings,
    deployment_dir: &Path,
) -> Result<(), Failure> {
    let c = &settings.config;
    let mut sources = vec![
        (deployment_dir.to_owned(), "the deployment".to_owned()),
        (staging.var(), "the stateroot's var".to_owned()),
        (staging.boot(), "the boot directory".to_owned()),
    ];
    if c.ostree_tools {
        sources.push((
            staging.sysroot(),
            "the physical root (ostree-tools)".to_owned(),
        ));
    }
    for (i, b) in c.bind.iter().enumerate() {
        sources.push((staging.bind(i), format!("bind[{i}] {}", b.source.as_str())));
    }
    let userns = idmap_probe::ProbeUserns::new().map_err(|e| {
        Failure::new(
            exit::MOUNT_FAILED,
            format!("probing idmapped mounts: {e:#}"),
        )
    })?;
    for (path, what) in &sources {
        if let Err(e) = idmap_probe::can_idmap(path, &userns) {
            return Err(Failure::new(
                exit::IDMAP_UNSUPPORTED,
                format!(
                    "{what} is on a file system ({}) that this kernel cannot idmap ({e}), and the guest runs in a user namespace; move it to one that can (ext4, xfs, btrfs, tmpfs since Linux 6.3) or make the guest privileged with security.private-users = \"no\" (see HOST SAFETY in ostree-guests.d(5))",
                    ostree_guests::fs_kind::name(path)
                ),
            ));
        }
    }
    Ok(())
}

/// Runs the helper; returns only on failure (or after --dry-run / --config-error).
pub fn run(args: &Args) -> Result<(), Failure> {
    let root = env_path(ENV_ROOT, "/");
    // Only what this guest's checks need, not every guest's files (docs/PERFORMANCE.md).
    let loaded = config::load_for(&root, &args.name);
    if args.config_error {
        return Err(report_config_error(&loaded, &args.name));
    }
    let guest = find_guest(&loaded, &args.name, Asker::Unit)?;
    let settings = settings_of(guest)?;
    // Registering needs machined, which needs systemd as PID 1.
    let register = !args.no_register && start_plan::systemd_booted();
    let start_plan::Start {
        layout,
        resolved,
        staging,
        argv,
    } = start_plan::plan(guest, settings, args.dry_run, register)?;
    if args.dry_run {
        print!(
            "{}",
            start_plan::dry_run_text(guest, settings, &resolved, &argv)
        );
        return Ok(());
    }
    eprintln!(
        "{}: stateroot {} -> deployment {} (boot entry index {})",
        guest.name,
        settings.stateroot,
        resolved.deployment.label(),
        resolved.deployment.index
    );
    if settings.config.network.mode == config::NetworkMode::Zone
        && let Some(why) = crate::network::zone_problem_here()
    {
        return Err(Failure::new(
            exit::CONFIG_INVALID,
            format!("{}: {why}", guest.name),
        ));
    }
    if let Some(bridge) = &settings.config.network.bridge {
        wait_for_bridge(guest.name.as_str(), bridge)?;
    }
    if register {
        clear_registration(guest.name.as_str(), &guest.name.unit())?;
    }
    prepare(&layout, &staging, settings, &resolved.dir)
        .map_err(|f| Failure::new(f.code, format!("{}: {}", guest.name, f.message)))?;
    if settings.config.private_users() == config::PrivateUsers::Idmap {
        probe_idmap(&staging, settings, &resolved.dir)
            .map_err(|f| Failure::new(f.code, format!("{}: {}", guest.name, f.message)))?;
    }
    for w in config::isolation_warnings(&settings.config) {
        eprintln!("{}: warning: {w}", guest.name);
    }
    Err(exec(&argv, &nspawn::nspawn_environment(&settings.config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Option<Args>, Failure> {
        parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn argv_contract() {
        let a = args(&["--dry-run", "web"]).unwrap().unwrap();
        assert!(a.dry_run && !a.no_register && a.name == "web");
        assert!(args(&["--help"]).unwrap().is_none());
        for bad in [&[][..], &["--bogus", "web"][..], &["a", "b"][..]] {
            assert_eq!(args(bad).unwrap_err().code, exit::USAGE);
        }
    }
}
