//! What `ostree-guest-start NAME` will do, decided from files alone: the guest's configuration
//! (the generator's rules), its resolved deployment and the systemd-nspawn command line.
//!
//! The helper execs that command line; `ostree-guests render` prints the helper's `--dry-run`
//! text from here too, so the two can never disagree and the CLI needs none of the helper's
//! mount or exec code.

use std::ffi::OsString;
use std::path::Path;

use crate::config::{self, Guest, Settings};
use crate::deployment::{self, Layout, Resolved};
use crate::exit::{self, Failure};
use crate::nspawn::{self, Staging};
use crate::paths::CONFIG_DIRS;

/// Who looks a guest up. Only the wording of "there is no such guest" depends on it: each
/// names the remedy its reader has at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    /// The start helper and its dry run (a unit's log): create the file, reload systemd.
    Unit,
    /// The admin CLI: `ostree-guests create` makes the guest.
    Admin,
}

/// The guest's entry, or why there is none (an invalid file of that name, or no file at all):
/// the one lookup of the start helper, `render` and every CLI command.
pub fn find_guest<'a>(
    loaded: &'a config::Loaded,
    name: &str,
    asker: Asker,
) -> Result<&'a Guest, Failure> {
    if let Some(g) = loaded.guest(name) {
        return Ok(g);
    }
    if let Some(e) = loaded
        .unnamed
        .iter()
        .find(|e| e.file.file_stem().is_some_and(|s| s == name))
    {
        return Err(Failure::new(exit::CONFIG_INVALID, e.to_string()));
    }
    let message = match asker {
        Asker::Unit => format!(
            "no configuration for guest {name}: create {name}.toml in one of {} and run \"systemctl daemon-reload\"",
            CONFIG_DIRS.join(", ")
        ),
        Asker::Admin => format!(
            "no guest {name}: none of {} exists (`ostree-guests create {name} --ref REF` makes one)",
            CONFIG_DIRS
                .iter()
                .map(|d| format!("{d}/{name}.toml"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Err(Failure::new(exit::CONFIG_INVALID, message))
}

/// The guest's settings, or its configuration error worded for a unit's log.
pub fn settings_of(guest: &Guest) -> Result<&Settings, Failure> {
    guest.settings.as_ref().map_err(|e| {
        Failure::new(
            exit::CONFIG_INVALID,
            format!("{e}\nFix the file and run \"systemctl daemon-reload\"."),
        )
    })
}

/// What the fail-closed drop-in runs: the configuration was invalid when units were generated.
pub fn report_config_error(loaded: &config::Loaded, name: &str) -> Failure {
    match find_guest(loaded, name, Asker::Unit).and_then(settings_of) {
        Err(f) => f,
        Ok(_) => Failure::new(
            exit::CONFIG_INVALID,
            format!(
                "{name}: the configuration was invalid when the units were generated and has changed since; run \"systemctl daemon-reload\" and start the guest again"
            ),
        ),
    }
}

/// sd_booted(3): systemd is PID 1, so machined can be asked to register the guest. The same
/// test as libsystemd's `daemon::booted`, here so that the CLI's `render` prints the command
/// line the helper would run without linking libsystemd.
pub fn systemd_booted() -> bool {
    std::fs::symlink_metadata("/run/systemd/system").is_ok_and(|m| m.is_dir())
}

/// A guest's start, planned: where it runs from and the nspawn command line.
#[derive(Debug, Clone)]
pub struct Start {
    pub layout: Layout,
    pub resolved: Resolved,
    pub staging: Staging,
    pub argv: Vec<OsString>,
}

/// Resolves the guest's deployment and builds the nspawn command line. `dry_run` also reads
/// the pin flag (only the dry run shows it); the deployment is the same either way.
pub fn plan(
    guest: &Guest,
    settings: &Settings,
    dry_run: bool,
    register: bool,
) -> Result<Start, Failure> {
    let layout = Layout::from_env();
    let resolve = if dry_run {
        deployment::resolve
    } else {
        deployment::resolve_to_start
    };
    let resolved = resolve(
        &layout,
        settings.stateroot.as_str(),
        &settings.config.deployment.0,
    )
    .map_err(|e| Failure::new(e.exit_code(), format!("{}: {e}", guest.name)))?;
    let staging = Staging::for_machine(&guest.name);
    let deployment_rel = resolved.deployment.relative_dir();
    let argv = nspawn::argv(&nspawn::Plan {
        machine: &guest.name,
        settings,
        sysroot: &layout.sysroot,
        deployment: &deployment_rel,
        staging: &staging,
        deployment_dir: Some(&resolved.dir),
        register,
    });
    Ok(Start {
        layout,
        resolved,
        staging,
        argv,
    })
}

/// `ostree-guest-start --dry-run NAME`'s output for the configuration under `root`.
pub fn dry_run(root: &Path, name: &str, register: bool) -> Result<String, Failure> {
    let loaded = config::load_for(root, name);
    let guest = find_guest(&loaded, name, Asker::Unit)?;
    let settings = settings_of(guest)?;
    let start = plan(guest, settings, true, register)?;
    Ok(dry_run_text(guest, settings, &start.resolved, &start.argv))
}

/// The dry run's report: the configuration read, the deployment resolved and the argv.
pub fn dry_run_text(guest: &Guest, settings: &Settings, r: &Resolved, argv: &[OsString]) -> String {
    let d = &r.deployment;
    let mut s = String::new();
    let mut line = |k: &str, v: &str| s.push_str(&format!("{k}: {v}\n"));
    line("machine", guest.name.as_str());
    for src in &guest.sources {
        line("config", &src.display().to_string());
    }
    line("stateroot", settings.stateroot.as_str());
    line("pin", &settings.config.deployment.0.to_string());
    line("deployment", &d.dir_name());
    line("index", &d.index.to_string());
    if let Some(v) = &d.version {
        line("version", v);
    }
    line("pinned", if d.pinned { "yes" } else { "no" });
    line("boot-entry", &d.boot_entry.display().to_string());
    line("directory", &r.dir.display().to_string());
    for (i, b) in settings.config.bind.iter().enumerate() {
        line(&format!("bind[{i}]"), b.source.as_str());
    }
    s.push_str("argv:\n");
    for a in argv {
        s.push_str(&format!("  {}\n", a.to_string_lossy()));
    }
    s
}
