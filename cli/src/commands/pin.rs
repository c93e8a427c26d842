//! `pin NAME [DEPLOYMENT]` and `unpin NAME`: the configuration pin (our drop-in
//! NAME.toml.d/50-pin.toml, merged by the loader over the admin's own file) together with
//! `ostree admin pin`, so ostree never garbage-collects what the configuration names.

use std::str::FromStr as _;

use ostree_guests::config;
use ostree_guests::deployment::{self, Deployment, Pin};

use crate::exit::{Failure, PIN_NOT_FOUND, Result, USAGE, VERIFY_FAILED};
use crate::files::{self, PIN_DROPIN, toml_string};
use crate::sysroot::{Host, Id};
use crate::{progress, systemd};

use super::{find_guest, load, valid};

/// Digits of the checksum written into the drop-in: unambiguous in practice, still readable.
const PREFIX_LEN: usize = 16;

/// `CHECKSUM.SERIAL` (as `ostree admin status` prints it) or anything `deployment =` accepts.
fn choose<'a>(deps: &'a [Deployment], stateroot: &str, arg: &str) -> Result<&'a Deployment> {
    if let Some((c, s)) = arg.rsplit_once('.')
        && c.len() >= 8
        && c.bytes().all(|b| b.is_ascii_hexdigit())
        && let Ok(serial) = s.parse::<u32>()
    {
        return deps
            .iter()
            .find(|d| d.stateroot == stateroot && d.checksum.starts_with(c) && d.serial == serial)
            .ok_or_else(|| {
                Failure::new(
                    PIN_NOT_FOUND,
                    format!("stateroot {stateroot} has no deployment {arg}"),
                )
            });
    }
    let pin = Pin::from_str(arg).map_err(|e| Failure::new(USAGE, e.to_string()))?;
    Ok(deployment::select(deps, stateroot, &pin)?)
}

/// The checksum prefix our drop-in names, if it exists.
fn read_pin(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "deployment").then(|| v.trim().trim_matches('"').to_owned())
    })
}

pub fn pin(name: &str, arg: Option<&str>) -> Result<()> {
    let loaded = load();
    let guest = find_guest(&loaded, name)?;
    let settings = valid(guest)?;
    let stateroot = settings.stateroot.as_str();
    let host = Host::from_env();
    let root = files::config_root();
    let _lock = host.lock()?;
    let deps = host.list()?;
    let chosen = match arg {
        Some(a) => choose(&deps, stateroot, a)?,
        None => deployment::select(&deps, stateroot, &settings.config.deployment.0)?,
    }
    .clone();
    let id = Id::of(&chosen);
    if chosen.pinned {
        progress::step(&format!("{} is already pinned in ostree", chosen.label()));
    } else {
        host.set_pinned(&id, true)?;
    }
    let prefix = chosen
        .checksum
        .get(..PREFIX_LEN)
        .unwrap_or(&chosen.checksum);
    let text = format!(
        "# Written by `ostree-guests pin {name}`; `ostree-guests unpin {name}` removes it.\n# The deployment is also pinned with `ostree admin pin`, so ostree keeps it.\ndeployment = {}\n",
        toml_string(prefix)
    );
    let file = files::pin_file(&root, name);
    files::write_atomic(&file, &text)?;

    // What the loader makes of it: a later drop-in of the admin's could override ours.
    let reloaded = config::load(&root);
    let settings = valid(find_guest(&reloaded, name)?)?;
    let deps = host.list()?;
    let now = deployment::select(&deps, stateroot, &settings.config.deployment.0)?;
    if now.checksum != chosen.checksum {
        return Err(Failure::new(
            VERIFY_FAILED,
            format!(
                "{} is written, but the merged configuration selects {} (a later drop-in overrides `deployment`?)",
                files::logical(&root, &file).display(),
                now.label()
            ),
        ));
    }
    println!(
        "{name}: pinned to {} ({})",
        chosen.label(),
        files::logical(&root, &file).display()
    );
    if let Some((_, c, _)) = systemd::running_deployment(&guest.name.unit())
        && c != chosen.checksum
    {
        println!(
            "The guest runs another deployment; `systemctl restart {}` switches it.",
            guest.name.unit()
        );
    }
    Ok(())
}

pub fn unpin(name: &str) -> Result<()> {
    let loaded = load();
    let guest = find_guest(&loaded, name)?;
    let host = Host::from_env();
    let root = files::config_root();
    let file = files::pin_file(&root, name);
    let Some(prefix) = read_pin(&file) else {
        println!(
            "{name}: not pinned by ostree-guests (no {})",
            files::logical(&root, &file).display()
        );
        return Ok(());
    };
    // The stateroot as the configuration names it (also when the rest of it is invalid now).
    let stateroot = match &guest.settings {
        Ok(s) => s.stateroot.as_str().to_owned(),
        Err(_) => name.to_owned(),
    };
    let _lock = host.lock()?;
    let mut unpinned = Vec::new();
    for _ in 0..64 {
        let deps = host.list()?;
        let Some(d) = deps.iter().find(|d| {
            d.stateroot == stateroot
                && d.pinned
                && !prefix.is_empty()
                && d.checksum.starts_with(&prefix)
        }) else {
            break;
        };
        host.set_pinned(&Id::of(d), false)?;
        unpinned.push(d.label());
    }
    files::remove_file(&file)?;
    files::remove_empty_dir(&files::dropin_dir(&root, name));
    println!(
        "{name}: unpinned{} (removed {}; {PIN_DROPIN} named {prefix})",
        if unpinned.is_empty() {
            String::new()
        } else {
            format!(" {}", unpinned.join(", "))
        },
        files::logical(&root, &file).display()
    );
    Ok(())
}
