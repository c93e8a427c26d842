//! What the generator writes, as in-memory text: one drop-in per guest and `.wants/` symlinks.

mod dropin;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use dropin::{dropin, fail_closed_dropin};

use crate::config::Loaded;
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
///
/// Keys are strings, not `PathBuf`s: a `Path` compares component by component, and with a few
/// hundred guests those comparisons were 40 % of the generator's instructions. Byte order and
/// component order agree for these paths (no name here is a prefix of a sibling's followed by a
/// byte below `/`), and entries of one directory stay consecutive either way.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    pub nodes: BTreeMap<String, Node>,
}

/// `NAME.service.d/50-ostree-guests.conf`: where a guest's drop-in goes.
pub fn dropin_path(unit: &str) -> String {
    [unit, ".d/", DROPIN_NAME].concat()
}

/// `machines.target.wants/NAME.service`: a guest's autostart link.
pub fn autostart_path(unit: &str) -> String {
    ["machines.target.wants/", unit].concat()
}

/// Renders every guest. A guest whose configuration is invalid gets the fail-closed drop-in and
/// no autostart link: its unit then fails with the reason instead of running the stock template.
pub fn generate(loaded: &Loaded) -> Output {
    let mut out = Output::default();
    let mut any_autostart = false;
    for guest in &loaded.guests {
        let unit = guest.name.unit();
        let text = match &guest.settings {
            Ok(settings) => match dropin(guest, settings) {
                Ok(text) => {
                    if settings.config.autostart {
                        any_autostart = true;
                        out.nodes.insert(
                            autostart_path(&unit),
                            Node::Symlink(PathBuf::from(NSPAWN_TEMPLATE)),
                        );
                    }
                    text
                }
                Err(e) => fail_closed_dropin(guest, &e.to_string()),
            },
            Err(e) => fail_closed_dropin(guest, &e.to_string()),
        };
        out.nodes.insert(dropin_path(&unit), Node::File(text));
    }
    // The bridge configuration, and on NetworkManager hosts the host side of veth links, is
    // written by a service, early (like systemd-network-generator): pulled in only when some
    // guest is on a bridge or a veth link.
    if network::needs_network_unit(loaded) {
        out.nodes.insert(
            format!("sysinit.target.wants/{NETWORK_UNIT}"),
            Node::Symlink(PathBuf::from(NETWORK_UNIT_PATH)),
        );
    }
    // Not every host enables machines.target (presets may not have been applied).
    if any_autostart {
        out.nodes.insert(
            "multi-user.target.wants/machines.target".to_owned(),
            Node::Symlink(PathBuf::from(MACHINES_TARGET)),
        );
    }
    out
}
