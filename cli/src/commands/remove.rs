//! `remove NAME [--purge]`: stop, undeploy the stateroot, remove the configuration.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use ostree_guests::deployment::Deployment;
use ostree_guests::paths::CONFIG_DIRS;

use crate::args::RemoveArgs;
use crate::exit::{ABORTED, CONFIG_INVALID, Failure, HOST_STATEROOT, Result};
use crate::files;
use crate::progress;
use crate::sysroot::{Host, Id};
use crate::systemd;

use super::{claims, load, parse_name};

/// `remove` undeploys everything of the stateroot, so it never touches the one that owns the
/// host's default boot entry, not even in a sysroot holding no other stateroot (where
/// `refuse_host_stateroot` lets it pass as a guests-only sysroot).
fn refuse_default_entry(deps: &[Deployment], stateroot: &str) -> Result<()> {
    match deps.first() {
        Some(d) if d.stateroot == stateroot => Err(Failure::new(
            HOST_STATEROOT,
            format!(
                "stateroot \"{stateroot}\" owns the default boot entry (index 0 in `ostree admin status`), which is the host's; refusing to remove it"
            ),
        )),
        _ => Ok(()),
    }
}

fn confirm(dir: &str) -> Result<()> {
    let mut stdin = std::io::stdin().lock();
    if !stdin.is_terminal() {
        return Err(Failure::new(
            ABORTED,
            format!(
                "--purge deletes {dir} (the guest's /var); confirm with --yes when not on a terminal"
            ),
        ));
    }
    eprint!("ostree-guests: delete {dir} with all of the guest's /var? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .read_line(&mut answer)
        .map_err(|e| Failure::new(ABORTED, format!("reading the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Failure::new(ABORTED, "not confirmed; nothing was changed"))
    }
}

pub fn run(a: &RemoveArgs) -> Result<()> {
    let name = parse_name(&a.name)?;
    let name = name.as_str();
    let host = Host::from_env();
    let root = files::config_root();
    // Loaded under the lock, so a concurrent `create` cannot claim the stateroot in between.
    let _lock = host.lock()?;
    let loaded = load();
    let guest = loaded.guest(name);
    let stateroot = match guest.map(|g| &g.settings) {
        Some(Ok(s)) => s.stateroot.as_str().to_owned(),
        Some(Err(e)) => {
            return Err(Failure::new(
                CONFIG_INVALID,
                format!(
                    "{e}\n{name}: its stateroot is unknown while the configuration is invalid; fix it (or remove the file and run `ostree-guests remove {name}` again)"
                ),
            ));
        }
        // Without a configuration the stateroot defaults to the name, as it would have.
        None => name.to_owned(),
    };
    let deps = host.list()?;
    host.refuse_host_stateroot(&deps, &stateroot)?;
    refuse_default_entry(&deps, &stateroot)?;
    let dir = host.stateroot_dir(&stateroot);
    let exists = dir.exists() || deps.iter().any(|d| d.stateroot == stateroot);
    claims::of(&loaded, &root, &stateroot, name).refuse(
        &stateroot,
        &format!("undeploy or delete it for `remove {name}`"),
        exists,
    )?;
    if a.purge && dir.exists() && !a.yes {
        confirm(&dir.display().to_string())?;
    }

    let unit = format!("systemd-nspawn@{name}.service");
    if systemd::is_active(&unit) {
        progress::step(&format!("stopping {unit}"));
        systemd::stop(&unit)?;
    }
    // The images its deployments came from: their refs go too unless another deployment
    // still uses them.
    let images: Vec<_> = Host::of_root(&deps, &stateroot)
        .into_iter()
        .filter_map(|d| super::image::of_deployment(&host, d))
        .collect();
    let mut removed = 0;
    // One at a time from a fresh listing: every undeploy renumbers the rest.
    for _ in 0..256 {
        let deps = host.list()?;
        let Some(d) = deps.iter().find(|d| d.stateroot == stateroot) else {
            break;
        };
        if d.pinned {
            progress::step(&format!(
                "{} is pinned; removing it anyway (the guest is being removed)",
                d.label()
            ));
        }
        host.undeploy(&Id::of(d))?;
        removed += 1;
    }
    super::image::prune_unused(&host, &images);

    let main = files::main_file(&root, name);
    let mut changed = Vec::new();
    for ours in [
        files::pin_file(&root, name),
        files::autostart_file(&root, name),
    ] {
        if files::remove_file(&ours)? {
            changed.push(files::logical(&root, &ours));
        }
    }
    files::remove_empty_dir(&files::dropin_dir(&root, name));
    if files::remove_file(&main)? {
        changed.push(files::logical(&root, &main));
    }
    if let Some(g) = guest {
        let etc = CONFIG_DIRS.first().copied().unwrap_or(files::ETC_DIR);
        for f in g.sources.iter().filter(|f| !f.starts_with(etc)) {
            progress::warn(&format!(
                "{} still configures {name}; mask it with `ln -s /dev/null {}/{name}.toml`",
                f.display(),
                files::ETC_DIR
            ));
        }
        let left = files::dropin_dir(&root, name);
        if left.is_dir() {
            progress::warn(&format!(
                "{} keeps drop-ins of its own; they were left alone",
                files::logical(&root, &left).display()
            ));
        }
    }
    let mut purged = false;
    if a.purge && dir.exists() {
        progress::step(&format!("deleting {}", dir.display()));
        std::fs::remove_dir_all(&dir).map_err(|e| {
            Failure::io(
                "deleting",
                &dir,
                format!(
                    "{e} (an immutable deployment left behind? `chattr -R -i {}`)",
                    dir.display()
                ),
            )
        })?;
        purged = true;
    }
    if systemd::available() && !changed.is_empty() {
        systemd::daemon_reload()?;
    }
    if removed == 0 && changed.is_empty() && !purged {
        println!("{name}: nothing to remove");
        return Ok(());
    }
    println!(
        "{name}: removed {removed} deployment(s) of stateroot {stateroot}{}{}",
        if changed.is_empty() {
            String::new()
        } else {
            format!(
                ", {}",
                changed
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        if purged {
            format!(", and {}", dir.display())
        } else if dir.exists() {
            format!("; {} (its /var) is kept: --purge deletes it", dir.display())
        } else {
            String::new()
        }
    );
    Ok(())
}
