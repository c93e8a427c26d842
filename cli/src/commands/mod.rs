//! One module per group of subcommands; shared lookups live here.

mod autostart;
mod check;
mod claims;
mod create;
mod image;
mod info;
mod pin;
mod remove;
mod upgrade;

use std::io;

use ostree_guests::config::{self, Guest, Loaded, Settings};
use ostree_guests::name::MachineName;
use ostree_guests::start_plan::{self, Asker};

use crate::args::{Cli, Command, OptSource};
use crate::exit::{CONFIG_INVALID, Failure, Result, USAGE};
use crate::files;
use crate::progress;
use crate::sysroot::Host;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Create(a) => create::run(&a),
        Command::Upgrade(a) => upgrade::upgrade(&a),
        Command::Rollback(a) => upgrade::rollback(&a.name),
        Command::Remove(a) => remove::run(&a),
        Command::List(a) => info::list(a.json),
        Command::Status(a) => info::status(&a.name, a.json),
        Command::Validate(a) => check::validate(&a.paths),
        Command::Render(a) => check::render(&a.name),
        Command::Pin(a) => pin::pin(&a.name, a.deployment.as_deref()),
        Command::Unpin(a) => pin::unpin(&a.name),
        Command::Enable(a) => autostart::set(&a.name, true),
        Command::Disable(a) => autostart::set(&a.name, false),
        Command::Completions(a) => crate::complete::registration(a.shell, &mut io::stdout()),
    }
}

pub(crate) fn parse_name(name: &str) -> Result<MachineName> {
    MachineName::parse(name)
        .map_err(|e| Failure::new(USAGE, format!("invalid guest name {name:?}: {e}")))
}

/// The library's one lookup (`start_plan::find_guest`), worded for the admin. A malformed name
/// is a usage error (64) before anything is looked up.
pub(crate) fn find_guest<'a>(loaded: &'a Loaded, name: &str) -> Result<&'a Guest> {
    parse_name(name)?;
    start_plan::find_guest(loaded, name, Asker::Admin)
}

pub(crate) fn valid(guest: &Guest) -> Result<&Settings> {
    guest.settings.as_ref().map_err(|e| {
        Failure::new(
            CONFIG_INVALID,
            format!(
                "{e}\n{}: fix the configuration first (`ostree-guests validate`)",
                guest.name
            ),
        )
    })
}

pub(crate) fn load() -> Loaded {
    config::load(&files::config_root())
}

/// The commit to deploy: a checksum, or a ref (pulled first when it names a remote).
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// What `ostree admin deploy` gets (the ref, so the origin records it for later upgrades).
    pub refspec: String,
    pub commit: String,
    /// Deployed from this container image (its origin records it instead of the ref).
    pub image: Option<ostree_guests::image_ref::ImageRef>,
}

pub(crate) fn resolve_target(host: &Host, source: &OptSource) -> Result<Option<Target>> {
    if let Some(c) = &source.commit {
        let commit = host.ostree.rev_parse(c)?;
        return Ok(Some(Target {
            refspec: commit.clone(),
            commit,
            image: None,
        }));
    }
    let Some(r) = &source.refspec else {
        return Ok(None);
    };
    Ok(Some(target_of_ref(host, r)?))
}

pub(crate) fn target_of_ref(host: &Host, refspec: &str) -> Result<Target> {
    if let Some((remote, branch)) = refspec.split_once(':') {
        progress::step(&format!("pulling {branch} from {remote}"));
        host.ostree.pull(remote, branch)?;
    }
    Ok(Target {
        refspec: refspec.to_owned(),
        commit: host.ostree.rev_parse(refspec)?,
        image: None,
    })
}

/// A checksum for messages: 12 digits are plenty to tell deployments apart.
pub(crate) fn short(checksum: &str) -> &str {
    checksum.get(..12).unwrap_or(checksum)
}
