//! `upgrade NAME` and `rollback NAME`.

use ostree_guests::config::Loaded;
use ostree_guests::deployment::{self, Pin};

use crate::args::UpgradeArgs;
use crate::exit::{Failure, NO_DEPLOYMENT, Result, USAGE, VERIFY_FAILED};
use crate::files;
use crate::progress;
use crate::sysroot::{Host, Id, Running};

use super::{Target, claims, find_guest, load, resolve_target, short, target_of_ref, valid};

pub fn upgrade(a: &UpgradeArgs) -> Result<()> {
    let loaded = load();
    let guest = find_guest(&loaded, &a.name)?;
    let settings = valid(guest)?;
    let stateroot = settings.stateroot.as_str();
    let pin = &settings.config.deployment.0;
    let keep = usize::from(a.keep.keep);
    let host = Host::from_env();
    let _lock = host.lock()?;
    let deps = host.list()?;
    host.refuse_host_stateroot(&deps, stateroot)?;
    refuse_shared(&loaded, guest.name.as_str(), stateroot, "upgrade")?;
    let ours = Host::of_root(&deps, stateroot);
    let Some(first) = ours.first() else {
        return Err(Failure::new(
            NO_DEPLOYMENT,
            format!(
                "stateroot {stateroot} has no deployment; `ostree-guests create {} --ref REF` makes one",
                guest.name
            ),
        ));
    };
    let target = match resolve_target(&host, &a.source)? {
        Some(t) => t,
        None => {
            let current = deployment::select(&deps, stateroot, pin).unwrap_or(first);
            let refspec = host.origin_refspec(&Id::of(current)).ok_or_else(|| {
                Failure::new(
                    USAGE,
                    format!(
                        "deployment {} was deployed from a bare commit, not a ref; give --ref REF or --commit CHECKSUM",
                        current.label()
                    ),
                )
            })?;
            target_of_ref(&host, &refspec)?
        }
    };
    if *pin == Pin::Auto && first.pinned && first.checksum != target.commit {
        return Err(Failure::new(
            VERIFY_FAILED,
            format!(
                "{} is pinned by `ostree admin pin` (not by ostree-guests) and is the stateroot's first deployment, so the guest would stay on it; unpin it (`ostree admin pin --unpin {}`) or pin the guest with `ostree-guests pin`",
                first.label(),
                first.index
            ),
        ));
    }
    let already = ours.iter().any(|d| d.checksum == target.commit);
    let mut running = Running::protect(&host, &guest.name.unit())?;
    let result = apply(&host, stateroot, pin, &target, already, keep, &mut running);
    if let Err(e) = result {
        running.abandon(&host);
        return Err(e);
    }
    let restarted = running.was_active();
    running.finish(&host)?;
    // Our temporary pin on what the guest ran is gone now; apply --keep to it too.
    host.prune(stateroot, keep, protect_of(&host, stateroot, pin)?.as_ref())?;
    let deps = host.list()?;
    let now = deployment::select(&deps, stateroot, pin)?;
    if *pin == Pin::Auto {
        host.verify_first(stateroot, &target.commit)?;
        println!(
            "{}: now at {}{}",
            guest.name,
            now.label(),
            if restarted { " (restarted)" } else { "" }
        );
    } else {
        println!(
            "{}: {} deployed; the guest stays on its pinned deployment {} (`ostree-guests unpin {}` to run the new one)",
            guest.name,
            short(&target.commit),
            now.label(),
            guest.name
        );
    }
    Ok(())
}

fn apply(
    host: &Host,
    stateroot: &str,
    pin: &Pin,
    target: &Target,
    already: bool,
    keep: usize,
    running: &mut Running,
) -> Result<()> {
    if already {
        progress::step(&format!(
            "commit {} is already deployed",
            short(&target.commit)
        ));
    } else {
        host.deploy(stateroot, &target.refspec, &target.commit, keep > 2, None)?;
    }
    if *pin == Pin::Auto {
        host.make_first(stateroot, &target.commit, keep, running)?;
    }
    host.prune(stateroot, keep, protect_of(host, stateroot, pin)?.as_ref())
}

/// Both replace and prune the stateroot's deployments, which an invalid guest naming the same
/// stateroot would lose (the loader only pairs up valid guests).
fn refuse_shared(loaded: &Loaded, name: &str, stateroot: &str, verb: &str) -> Result<()> {
    claims::of(loaded, &files::config_root(), stateroot, name).refuse(
        stateroot,
        &format!("{verb} guest {name}"),
        true,
    )
}

/// What a configuration pin selects must survive pruning even if ostree does not pin it.
fn protect_of(host: &Host, stateroot: &str, pin: &Pin) -> Result<Option<Id>> {
    if *pin == Pin::Auto {
        return Ok(None);
    }
    let deps = host.list()?;
    Ok(deployment::select(&deps, stateroot, pin).ok().map(Id::of))
}

pub fn rollback(name: &str) -> Result<()> {
    let loaded = load();
    let guest = find_guest(&loaded, name)?;
    let settings = valid(guest)?;
    let stateroot = settings.stateroot.as_str();
    let pin = &settings.config.deployment.0;
    if *pin != Pin::Auto {
        return Err(Failure::new(
            USAGE,
            format!(
                "guest {name} is pinned to {pin} by its configuration; `ostree-guests unpin {name}` first, or pin another deployment"
            ),
        ));
    }
    let host = Host::from_env();
    let _lock = host.lock()?;
    let deps = host.list()?;
    host.refuse_host_stateroot(&deps, stateroot)?;
    refuse_shared(&loaded, name, stateroot, "roll back")?;
    let ours = Host::of_root(&deps, stateroot);
    let first = ours.first().map(|d| d.checksum.clone()).unwrap_or_default();
    let Some(previous) = ours.iter().find(|d| d.checksum != first) else {
        return Err(Failure::new(
            NO_DEPLOYMENT,
            format!("stateroot {stateroot} has no previous deployment to return to"),
        ));
    };
    let wanted = previous.checksum.clone();
    progress::step(&format!("returning {name} to {}", previous.label()));
    let mut running = Running::protect(&host, &guest.name.unit())?;
    if let Err(e) = host.make_first(stateroot, &wanted, 2, &mut running) {
        running.abandon(&host);
        return Err(e);
    }
    running.finish(&host)?;
    let now = host.verify_first(stateroot, &wanted)?;
    println!("{name}: now at {}", now.label());
    Ok(())
}
