//! `create NAME (--ref | --commit)`: os-init, deploy (not as default), write NAME.toml.

use std::fs;

use ostree_guests::config::{self, Settings};
use ostree_guests::deployment::{self, Deployment, Pin};

use crate::args::{ConfigOpts, CreateArgs, NetworkMode, OptSource, PrivateUsers, Profile};
use crate::container;
use crate::exit::{CONFIG_INVALID, Failure, GUEST_EXISTS, Result, SYSTEMD_FAILED, USAGE};
use crate::files::{self, toml_string};
use crate::progress;
use crate::sysroot::{Host, Id, Running};
use crate::systemd;

use super::{Target, claims, parse_name, resolve_target, short};

const HEADER: &str = "# Written by `ostree-guests create`. All keys: ostree-guests.d(5).\n";

/// The NAME.toml the options describe. Deterministic, so a re-run with the same options
/// produces the same text (that is how `create` recognises itself).
pub(crate) fn config_text(c: &ConfigOpts) -> String {
    let mut top = String::from(HEADER);
    let mut line = |k: &str, v: String| top.push_str(&format!("{k} = {v}\n"));
    if let Some(s) = &c.stateroot {
        line("stateroot", toml_string(s));
    }
    if let Some(d) = &c.description {
        line("description", toml_string(d));
    }
    if c.no_autostart {
        line("autostart", "false".into());
    }
    if let Some(p) = c.profile {
        let p = match p {
            Profile::Default => "default",
            Profile::Kubernetes => "kubernetes",
        };
        line("profile", toml_string(p));
    }
    if c.ostree_tools {
        line("ostree-tools", "true".into());
    }
    let mut net = String::new();
    if let Some(m) = c.network {
        let m = match m {
            NetworkMode::Veth => "veth",
            NetworkMode::Bridge => "bridge",
            NetworkMode::Zone => "zone",
            NetworkMode::Host => "host",
            NetworkMode::None => "none",
        };
        net.push_str(&format!("mode = {}\n", toml_string(m)));
    }
    if let Some(b) = &c.bridge {
        net.push_str(&format!("bridge = {}\n", toml_string(b)));
    }
    if let Some(z) = &c.zone {
        net.push_str(&format!("zone = {}\n", toml_string(z)));
    }
    if !c.ports.is_empty() {
        let ports: Vec<String> = c.ports.iter().map(|p| toml_string(p)).collect();
        net.push_str(&format!("ports = [{}]\n", ports.join(", ")));
    }
    if !net.is_empty() {
        top.push_str(&format!("\n[network]\n{net}"));
    }
    if let Some(m) = &c.memory_max {
        top.push_str(&format!("\n[resources]\nmemory-max = {}\n", toml_string(m)));
    }
    if let Some(p) = c.private_users {
        let p = match p {
            PrivateUsers::Idmap => "idmap",
            PrivateUsers::No => "no",
        };
        top.push_str(&format!(
            "\n[security]\nprivate-users = {}\n",
            toml_string(p)
        ));
    }
    top
}

/// Validates `text` with the loader's own rules (in a scratch root), before anything changes.
fn check_text(name: &str, text: &str) -> Result<Settings> {
    let tmp = tempfile::tempdir()
        .map_err(|e| Failure::io("creating", std::path::Path::new("a scratch directory"), e))?;
    files::write_atomic(&files::main_file(tmp.path(), name), text)?;
    let loaded = config::load(tmp.path());
    let guest = loaded.guest(name).ok_or_else(|| {
        Failure::new(
            USAGE,
            format!("the options do not describe a loadable guest {name}"),
        )
    })?;
    guest.settings.clone().map_err(|e| {
        Failure::new(
            USAGE,
            format!("the options give an invalid configuration: {e}"),
        )
    })
}

pub fn run(a: &CreateArgs) -> Result<()> {
    let name = parse_name(&a.name)?;
    let name = name.as_str();
    let text = config_text(&a.config);
    let mut settings = check_text(name, &text)?;
    // A bad reference or a missing `ostree container` is refused before anything changes.
    let image = match a.source.image.as_deref() {
        Some(i) => {
            let image = container::parse(i, a.signed)?;
            container::require()?;
            Some(image)
        }
        None => None,
    };
    let host = Host::from_env();
    let root = files::config_root();
    let _lock = host.lock()?;

    let main = files::main_file(&root, name);
    let mut shown = files::logical(&root, &main);
    let loaded = config::load(&root);
    // Without configuration options, a configuration that is already there (written by the
    // admin, by Butane/Ignition on CoreOS, or shipped by a vendor) is the guest's: deploy what
    // it describes and never rewrite it.
    let adopted = if a.config == ConfigOpts::default() {
        loaded.guest(name)
    } else {
        None
    };
    if let Some(g) = adopted {
        settings = g.settings.clone().map_err(|e| {
            Failure::new(
                CONFIG_INVALID,
                format!(
                    "{e}\n{name}: create uses this existing configuration as it is; fix it first (`ostree-guests validate`)"
                ),
            )
        })?;
        if let Some(f) = g.sources.first() {
            shown.clone_from(f);
        }
        progress::step(&format!(
            "using the existing configuration {} (stateroot {})",
            shown.display(),
            settings.stateroot
        ));
    }
    let stateroot = settings.stateroot.as_str();
    let existing = fs::read_to_string(&main).ok();
    let same = adopted.is_some() || existing.as_deref() == Some(text.as_str());
    if !same && !a.force {
        if existing.is_some() {
            return Err(Failure::new(
                GUEST_EXISTS,
                format!(
                    "guest {name} already exists with another configuration ({}); --force replaces it, create without configuration options deploys what it says, `ostree-guests upgrade {name}` deploys a new commit",
                    files::logical(&root, &main).display()
                ),
            ));
        }
        if let Some(g) = loaded.guest(name) {
            let from = g
                .sources
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            return Err(Failure::new(
                GUEST_EXISTS,
                format!(
                    "guest {name} is already configured by {from}; --force writes {} over it",
                    files::logical(&root, &main).display()
                ),
            ));
        }
    }
    // An existing stateroot is refused while some configuration is unreadable: --force would
    // undeploy whatever guest it belongs to.
    claims::of(&loaded, &root, stateroot, name).refuse(
        stateroot,
        &format!("deploy guest {name} into it (--stateroot picks another)"),
        host.stateroot_dir(stateroot).exists(),
    )?;

    let deps = host.list()?;
    host.refuse_host_stateroot(&deps, stateroot)?;
    let source = OptSource {
        refspec: a.source.refspec.clone(),
        commit: a.source.commit.clone(),
    };
    let (target, pulled) = match &image {
        Some(img) => {
            let (t, p) = super::image::pull(&host, img)?;
            (t, Some(p))
        }
        None => (
            resolve_target(&host, &source)?
                .ok_or_else(|| Failure::new(USAGE, "create needs --ref, --commit or --image"))?,
            None,
        ),
    };
    // The pin in effect: an earlier `ostree-guests pin` drop-in survives a re-run.
    let pin = loaded
        .guest(name)
        .and_then(|g| g.settings.as_ref().ok())
        .map(|s| s.config.deployment.0.clone())
        .unwrap_or(Pin::Auto);
    let mut initialised = false;
    let placed = place(
        &host,
        &deps,
        name,
        stateroot,
        &target,
        &pin,
        a,
        &mut initialised,
    );
    let (already, running) = match placed {
        Ok(p) => p,
        Err(e) => {
            // Nothing half-created: the stateroot this run made and the image it pulled go.
            if initialised {
                remove_empty_stateroot(&host, stateroot);
            }
            if let Some(p) = &pulled {
                p.undo(&host);
            }
            return Err(e);
        }
    };
    if !same {
        progress::step(&format!(
            "writing {}",
            files::logical(&root, &main).display()
        ));
        files::write_atomic(&main, &text)?;
    }
    running.finish(&host)?;
    let deps = host.list()?;
    let d = deployment::select(&deps, stateroot, &pin)?;
    let id = Id::of(d);
    if pin == Pin::Auto && !already && d.checksum != target.commit {
        return Err(Failure::new(
            crate::exit::VERIFY_FAILED,
            format!(
                "guest {name} resolves to {id}, not the new commit {}",
                target.commit
            ),
        ));
    }
    println!(
        "{name}: stateroot {stateroot}, deployment {} (configuration {})",
        d.label(),
        shown.display()
    );
    if let Some((reference, digest)) = super::image::describe(&host, d) {
        println!(
            "{name}: image {reference}{}",
            digest.map(|d| format!(" ({d})")).unwrap_or_default()
        );
    }
    let unit = name_unit(name);
    if !a.now {
        println!(
            "Next: systemctl daemon-reload && systemctl start {unit}   (or: machinectl start {name})"
        );
        return Ok(());
    }
    if !systemd::available() {
        return Err(Failure::new(
            SYSTEMD_FAILED,
            format!(
                "{name} is created but not started: systemd is not running here (no /run/systemd/system); on the booted host run `systemctl daemon-reload && systemctl start {unit}`"
            ),
        ));
    }
    // The generator writes the guest's drop-in only at a reload; without it the stock
    // template would boot /var/lib/machines/NAME instead.
    systemd::daemon_reload()?;
    systemd::start(&unit)?;
    println!("{name}: started {unit}");
    Ok(())
}

/// Deploys `target` into the stateroot (initialising it first if needed) and makes it the
/// guest's deployment, keeping the guest running meanwhile if it does; true when the commit was
/// deployed there already, and the running guest's guard (finished once the configuration is
/// written). `initialised` tells the caller what to undo on failure.
#[allow(clippy::too_many_arguments)] // one call site; a struct would only name them again
fn place(
    host: &Host,
    deps: &[Deployment],
    name: &str,
    stateroot: &str,
    target: &Target,
    pin: &Pin,
    a: &CreateArgs,
    initialised: &mut bool,
) -> Result<(bool, Running)> {
    let keep = usize::from(a.keep.keep);
    // The listing taken under the lock before the pull: a pull changes no deployment.
    let ours = Host::of_root(deps, stateroot);
    let already = ours.iter().any(|d| d.checksum == target.commit);
    if !ours.is_empty() && !already && !a.force {
        let list: Vec<String> = ours.iter().map(|d| d.label()).collect();
        return Err(Failure::new(
            GUEST_EXISTS,
            format!(
                "stateroot {stateroot} already has deployments ({}) but none of {}; `ostree-guests upgrade {name}` deploys a new commit, --force deploys it here",
                list.join(", "),
                target.commit
            ),
        ));
    }
    if !host.stateroot_dir(stateroot).is_dir() {
        progress::step(&format!("initialising stateroot {stateroot}"));
        *initialised = true;
        host.ostree.os_init(stateroot)?;
    }
    let mut running = Running::protect(host, &name_unit(name))?;
    let result = (|| {
        if already {
            progress::step(&format!(
                "commit {} is already deployed in stateroot {stateroot}",
                short(&target.commit)
            ));
            return Ok(());
        }
        super::image::deploy(host, stateroot, target, keep > 2)?;
        if *pin == Pin::Auto {
            host.make_first(stateroot, &target.commit, keep, &mut running)?;
        }
        host.prune(stateroot, keep, None)
    })();
    if let Err(e) = result {
        running.abandon(host);
        return Err(e);
    }
    Ok((already, running))
}

/// Removes a stateroot directory this run created, unless a deployment of it exists by now.
fn remove_empty_stateroot(host: &Host, stateroot: &str) {
    let dir = host.stateroot_dir(stateroot);
    match host.list() {
        Ok(deps) if deps.iter().all(|d| d.stateroot != stateroot) => {
            progress::step(&format!("removing the new stateroot {}", dir.display()));
            if let Err(e) = fs::remove_dir_all(&dir) {
                progress::warn(&format!("could not remove {}: {e}", dir.display()));
            }
        }
        _ => progress::warn(&format!(
            "{} is left: it has deployments, or they could not be listed",
            dir.display()
        )),
    }
}

fn name_unit(name: &str) -> String {
    format!("systemd-nspawn@{name}.service")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_text_is_valid_and_deterministic() {
        let c = ConfigOpts {
            description: Some("web \"guest\"".into()),
            no_autostart: true,
            network: Some(NetworkMode::Veth),
            ports: vec!["8080:80".into()],
            memory_max: Some("2G".into()),
            ..ConfigOpts::default()
        };
        let t = config_text(&c);
        assert_eq!(t, config_text(&c));
        let s = check_text("web", &t).unwrap();
        assert!(!s.config.autostart);
        assert_eq!(s.stateroot.as_str(), "web");
        // Even with no option the file is not empty (an empty file masks the guest).
        assert!(check_text("plain", &config_text(&ConfigOpts::default())).is_ok());
        let bad = ConfigOpts {
            network: Some(NetworkMode::Bridge),
            ..ConfigOpts::default()
        };
        let e = check_text("web", &config_text(&bad)).unwrap_err();
        assert_eq!(e.code, USAGE);
        assert!(e.message.contains("network.mode"), "{}", e.message);
    }
}
