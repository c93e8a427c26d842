//! What the generator writes, as in-memory text: one drop-in per guest and `.wants/` symlinks.

mod dropin;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use dropin::{dropin, fail_closed_dropin};

use crate::config::{Loaded, NetworkMode};
use crate::network;
use crate::paths::{
    DROPIN_NAME, MACHINES_TARGET, NETWORK_UNIT, NETWORK_UNIT_PATH, NSPAWN_TEMPLATE,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File(String),
    Symlink(PathBuf),
}

/// The generator's output, keyed by path relative to the normal output directory.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    pub nodes: BTreeMap<PathBuf, Node>,
}

/// Renders every guest. A guest whose configuration is invalid gets the fail-closed drop-in and
/// no autostart link: its unit then fails with the reason instead of running the stock template.
pub fn generate(loaded: &Loaded) -> Output {
    let mut out = Output::default();
    let mut any_autostart = false;
    for guest in &loaded.guests {
        let unit = guest.name.unit();
        let path = PathBuf::from(format!("{unit}.d")).join(DROPIN_NAME);
        let text = match &guest.settings {
            Ok(settings) => match dropin(guest, settings) {
                Ok(text) => {
                    if settings.config.network.mode == NetworkMode::Veth {
                        out.nodes.insert(
                            PathBuf::from(format!("{unit}.d")).join(network::VETH_DROPIN_NAME),
                            Node::File(network::guest_dropin(guest.name.as_str())),
                        );
                    }
                    if settings.config.autostart {
                        any_autostart = true;
                        out.nodes.insert(
                            PathBuf::from("machines.target.wants").join(&unit),
                            Node::Symlink(PathBuf::from(NSPAWN_TEMPLATE)),
                        );
                    }
                    text
                }
                Err(e) => fail_closed_dropin(guest, &e.to_string()),
            },
            Err(e) => fail_closed_dropin(guest, &e.to_string()),
        };
        out.nodes.insert(path, Node::File(text));
    }
    // The bridge configuration, and on NetworkManager hosts the host side of veth links, is
    // written by a service, early (like systemd-network-generator): pulled in only when some
    // guest is on a bridge or a veth link.
    if network::needs_network_unit(loaded) {
        out.nodes.insert(
            PathBuf::from("sysinit.target.wants").join(NETWORK_UNIT),
            Node::Symlink(PathBuf::from(NETWORK_UNIT_PATH)),
        );
    }
    // Not every host enables machines.target (presets may not have been applied).
    if any_autostart {
        out.nodes.insert(
            PathBuf::from("multi-user.target.wants/machines.target"),
            Node::Symlink(PathBuf::from(MACHINES_TARGET)),
        );
    }
    out
}
