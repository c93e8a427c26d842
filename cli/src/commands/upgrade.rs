//! `upgrade NAME|--all [--check]` and `rollback NAME`.

use ostree_guests::config::{Guest, Loaded};
use ostree_guests::deployment::{self, Deployment, Pin};
use ostree_guests::image_ref::ImageRef;

use crate::args::{OptSource, UpgradeArgs};
use crate::container;
use crate::exit::{Failure, NO_DEPLOYMENT, NO_UPDATE, Result, USAGE, VERIFY_FAILED};
use crate::files;
use crate::progress;
use crate::sysroot::{Host, Id, Running};

use super::{Target, claims, find_guest, load, resolve_target, short, target_of_ref, valid};

/// What an upgrade of one guest would do, decided before anything changes.
enum Plan {
    /// Nothing to upgrade from (no deployment yet, or deployed from a bare commit): an error
    /// for one named guest, a note for `--all`.
    Skip(Failure),
    /// `--check` of a guest deployed from a container image: its manifest was fetched, and
    /// compared with the stored image and the guest's deployment.
    ImageCheck {
        image: ImageRef,
        current: Deployment,
        /// The registry (or OCI directory) has a manifest the repository does not.
        changed: bool,
        available: bool,
    },
    Ready {
        target: Target,
        /// The deployment the guest resolves to now (its pin's, or the stateroot's first).
        current: Deployment,
        /// The target commit is deployed in the stateroot already.
        already: bool,
        /// The commit is the stateroot's first deployment already.
        first: bool,
    },
}

impl Plan {
    /// An upgrade would change what the guest runs (unpinned) or deploy a commit (pinned).
    fn available(&self, pin: &Pin) -> bool {
        match self {
            Self::Skip(_) => false,
            Self::ImageCheck { available, .. } => *available,
            Self::Ready { already, first, .. } => {
                if *pin == Pin::Auto {
                    !first
                } else {
                    !already
                }
            }
        }
    }
}

/// The commit a ref names now; for `--check` a REMOTE:REF is fetched as commit metadata only
/// (what `rpm-ostree upgrade --check` fetches), so nothing big is downloaded.
fn peek_ref(host: &Host, refspec: &str) -> Result<Target> {
    if let Some((remote, branch)) = refspec.split_once(':') {
        progress::step(&format!(
            "fetching the commit metadata of {branch} from {remote}"
        ));
        host.ostree.pull_metadata(remote, branch)?;
    }
    Ok(Target {
        refspec: refspec.to_owned(),
        commit: host.ostree.rev_parse(refspec)?,
        image: None,
    })
}

/// Refusals first (the host's stateroot, a shared one), then the target. Called under the lock.
fn plan(
    host: &Host,
    loaded: &Loaded,
    guest: &Guest,
    source: &OptSource,
    check: bool,
) -> Result<Plan> {
    let settings = valid(guest)?;
    let stateroot = settings.stateroot.as_str();
    let pin = &settings.config.deployment.0;
    let deps = host.list()?;
    host.refuse_host_stateroot(&deps, stateroot)?;
    refuse_shared(loaded, guest.name.as_str(), stateroot, "upgrade")?;
    let ours = Host::of_root(&deps, stateroot);
    let Some(first) = ours.first() else {
        return Ok(Plan::Skip(Failure::new(
            NO_DEPLOYMENT,
            format!(
                "stateroot {stateroot} has no deployment; `ostree-guests create {} --ref REF` makes one",
                guest.name
            ),
        )));
    };
    let current = deployment::select(&deps, stateroot, pin).unwrap_or(first);
    if source.commit.is_none()
        && source.refspec.is_none()
        && let Some(image) = super::image::of_deployment(host, current)
    {
        return image_plan(host, &ours, current, pin, image, check);
    }
    let refspec = match (&source.commit, &source.refspec) {
        (Some(_), _) => None,
        (None, Some(r)) => Some(r.clone()),
        (None, None) => match host.origin_refspec(&Id::of(current)) {
            Some(r) => Some(r),
            None => {
                return Ok(Plan::Skip(Failure::new(
                    USAGE,
                    format!(
                        "deployment {} was deployed from a bare commit, not a ref; give --ref REF or --commit CHECKSUM",
                        current.label()
                    ),
                )));
            }
        },
    };
    let target = match refspec {
        Some(r) if check => peek_ref(host, &r)?,
        Some(r) => target_of_ref(host, &r)?,
        None => resolve_target(host, source)?
            .ok_or_else(|| Failure::new(USAGE, "upgrade needs a ref or a commit"))?,
    };
    Ok(Plan::Ready {
        already: ours.iter().any(|d| d.checksum == target.commit),
        first: first.checksum == target.commit,
        current: current.clone(),
        target,
    })
}

/// An image guest's plan: `--check` fetches the manifest only; otherwise the image is pulled
/// (only changed layers) and its commit is the target.
fn image_plan(
    host: &Host,
    ours: &[&Deployment],
    current: &Deployment,
    pin: &Pin,
    image: ImageRef,
    check: bool,
) -> Result<Plan> {
    let first = ours.first().map(|d| d.checksum.as_str());
    if check {
        progress::step(&format!("fetching the manifest of {image}"));
        let changed = container::manifest_changed(&host.ostree, &image)?;
        let stored = container::stored_commit(&host.ostree, &image);
        let deployed = |c: &str| {
            if *pin == Pin::Auto {
                first == Some(c)
            } else {
                ours.iter().any(|d| d.checksum == c)
            }
        };
        return Ok(Plan::ImageCheck {
            available: changed || !stored.as_deref().is_some_and(deployed),
            changed,
            current: current.clone(),
            image,
        });
    }
    let (target, _) = super::image::pull(host, &image)?;
    Ok(Plan::Ready {
        already: ours.iter().any(|d| d.checksum == target.commit),
        first: first == Some(target.commit.as_str()),
        current: current.clone(),
        target,
    })
}

pub fn upgrade(a: &UpgradeArgs) -> Result<()> {
    let loaded = load();
    let keep = usize::from(a.keep.keep);
    let Some(name) = a.name.as_deref().filter(|_| !a.all && !a.auto) else {
        return all(&loaded, a.check, keep, a.auto);
    };
    let guest = find_guest(&loaded, name)?;
    let host = Host::from_env();
    let _lock = host.lock()?;
    let plan = plan(&host, &loaded, guest, &a.source, a.check)?;
    // A guest named on its own that cannot be upgraded is an error, also for --check.
    if let Plan::Skip(f) = plan {
        return Err(f);
    }
    if a.check {
        return if report_check(guest, &plan)? {
            Ok(())
        } else {
            Err(Failure::silent(NO_UPDATE))
        };
    }
    upgrade_one(&host, guest, plan, keep)
}

/// Prints `--check`'s answer for one guest; true when an update is available.
fn report_check(guest: &Guest, plan: &Plan) -> Result<bool> {
    let pin = &valid(guest)?.config.deployment.0;
    let available = plan.available(pin);
    match plan {
        Plan::Skip(f) => println!("{}: skipped: {}", guest.name, f.message),
        Plan::ImageCheck {
            image,
            current,
            changed,
            ..
        } if available => println!(
            "{}: update available: {image} {} (the guest runs {})",
            guest.name,
            if *changed {
                "has a new manifest"
            } else {
                "was pulled already but is not the guest's deployment"
            },
            current.label()
        ),
        Plan::ImageCheck { image, current, .. } => println!(
            "{}: no update ({image} is the one {} was deployed from)",
            guest.name,
            current.label()
        ),
        Plan::Ready {
            target, current, ..
        } if available => println!(
            "{}: update available: {}.{}{} -> {} ({})",
            guest.name,
            short(&current.checksum),
            current.serial,
            current
                .version
                .as_ref()
                .map(|v| format!(" (version {v})"))
                .unwrap_or_default(),
            short(&target.commit),
            target.refspec
        ),
        Plan::Ready {
            target, current, ..
        } => println!(
            "{}: no update ({} is at {}{})",
            guest.name,
            target.refspec,
            short(&target.commit),
            if *pin == Pin::Auto {
                String::new()
            } else {
                format!(
                    "; the guest stays on its pinned deployment {}",
                    current.label()
                )
            }
        ),
    }
    Ok(available)
}

/// `upgrade --all|--auto [--check]`: every guest (with `--auto` those with auto-update = true)
/// in turn under one lock; a failure is reported and the others still go.
fn all(loaded: &Loaded, check: bool, keep: usize, only_auto: bool) -> Result<()> {
    for e in &loaded.unnamed {
        progress::warn(&e.to_string());
    }
    // A timer runs --auto: one guest's broken file must not fail every run for the others,
    // and whether it asked for updates is unknown anyway.
    let guests: Vec<&Guest> = loaded
        .guests
        .iter()
        .filter(|g| match &g.settings {
            Ok(s) => !only_auto || s.config.auto_update,
            Err(e) if only_auto => {
                progress::warn(&format!(
                    "{}: skipped, its configuration is invalid: {e}",
                    g.name
                ));
                false
            }
            Err(_) => true,
        })
        .collect();
    if guests.is_empty() {
        println!(
            "{}",
            if only_auto {
                "no guest has auto-update = true"
            } else {
                "no guests configured"
            }
        );
        return if check {
            Err(Failure::silent(NO_UPDATE))
        } else {
            Ok(())
        };
    }
    let host = Host::from_env();
    let _lock = host.lock()?;
    let mut failed: Vec<(String, Failure)> = Vec::new();
    let mut available = false;
    for guest in guests.iter().copied() {
        let result = (|| {
            let plan = plan(&host, loaded, guest, &OptSource::default(), check)?;
            if check {
                return report_check(guest, &plan).map(|a| available |= a);
            }
            if let Plan::Skip(f) = &plan {
                println!("{}: skipped: {}", guest.name, f.message);
                return Ok(());
            }
            upgrade_one(&host, guest, plan, keep)
        })();
        if let Err(f) = result {
            eprintln!("ostree-guests: {}: {}", guest.name, f.message);
            failed.push((guest.name.to_string(), f));
        }
    }
    if let Some((_, first)) = failed.first() {
        let names: Vec<String> = failed
            .iter()
            .map(|(n, f)| format!("{n} ({})", f.code))
            .collect();
        return Err(Failure::new(
            first.code,
            format!(
                "{} of {} guest(s) failed: {}; the exit status is the first one's",
                failed.len(),
                guests.len(),
                names.join(", ")
            ),
        ));
    }
    if check && !available {
        return Err(Failure::silent(NO_UPDATE));
    }
    Ok(())
}

fn upgrade_one(host: &Host, guest: &Guest, plan: Plan, keep: usize) -> Result<()> {
    let settings = valid(guest)?;
    let stateroot = settings.stateroot.as_str();
    let pin = &settings.config.deployment.0;
    let (target, already, first) = match plan {
        Plan::Skip(f) => return Err(f),
        Plan::ImageCheck { .. } => {
            return Err(Failure::new(USAGE, "an image check is not an upgrade"));
        }
        Plan::Ready {
            target,
            already,
            first,
            ..
        } => (target, already, first),
    };
    // An image whose manifest digest did not change pulls to the same commit: nothing to do,
    // and the guest is not restarted.
    if let Some(image) = &target.image
        && (first || (*pin != Pin::Auto && already))
    {
        let digest = container::digest_of(&host.ostree, &target.commit);
        println!(
            "{}: already up to date ({image}{})",
            guest.name,
            digest.map(|d| format!(", {d}")).unwrap_or_default()
        );
        return Ok(());
    }
    let deps = host.list()?;
    let ours = Host::of_root(&deps, stateroot);
    if let Some(first) = ours.first()
        && *pin == Pin::Auto
        && first.pinned
        && first.checksum != target.commit
    {
        return Err(Failure::new(
            VERIFY_FAILED,
            format!(
                "{} is pinned by `ostree admin pin` (not by ostree-guests) and is the stateroot's first deployment, so the guest would stay on it; unpin it (`ostree admin pin --unpin {}`) or pin the guest with `ostree-guests pin`",
                first.label(),
                first.index
            ),
        ));
    }
    let mut running = Running::protect(host, &guest.name.unit())?;
    let result = apply(host, stateroot, pin, &target, already, keep, &mut running);
    if let Err(e) = result {
        running.abandon(host);
        return Err(e);
    }
    let restarted = running.was_active();
    running.finish(host)?;
    // Our temporary pin on what the guest ran is gone now; apply --keep to it too.
    host.prune(stateroot, keep, protect_of(host, stateroot, pin)?.as_ref())?;
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
        super::image::deploy(host, stateroot, target, keep > 2)?;
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
