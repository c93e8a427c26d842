//! Host networking for guests: the files for systemd-networkd or NetworkManager of the bridges
//! `config` loaded (for `network.mode = "bridge"`) and, on NetworkManager hosts, the host side
//! of `network.mode = "veth"` links (see `veth`). Rendering only: the declarations are read and
//! checked in `config::bridge`. The `ostree-guests-network` helper
//! writes these files; the generator never does (generators may only write units).

mod render;
mod veth;

use std::collections::BTreeMap;

pub use render::{BridgeSpec, networkd, networkmanager, stable_uuid};
pub use veth::{
    NM_VETH_CONF, NM_VETH_PREFIX, NmVethFiles, VETH_AUTOCONNECT_PRIORITY, VethGuest,
    host_interface_names, host_subnets, networkmanager_veth,
};

use crate::config::{Backend, Bridge, Loaded, NetworkMode, derived_mac};

/// Modes whose guests need ostree-guests-network.service: `bridge` (the bridge's files) and
/// `veth` (on NetworkManager hosts, the host side of the link).
pub fn mode_needs_network_unit(mode: NetworkMode) -> bool {
    matches!(mode, NetworkMode::Bridge | NetworkMode::Veth)
}

/// True when a valid guest needs the network unit: only then does the generator pull it in.
pub fn needs_network_unit(loaded: &Loaded) -> bool {
    loaded.guests.iter().any(|g| {
        g.settings
            .as_ref()
            .is_ok_and(|s| mode_needs_network_unit(s.config.network.mode))
    })
}

/// The valid guests with `network.mode = "veth"`, with their main files as the booted system
/// sees them.
pub fn veth_guests(loaded: &Loaded) -> Vec<(String, String)> {
    loaded
        .guests
        .iter()
        .filter(|g| {
            g.settings
                .as_ref()
                .is_ok_and(|s| s.config.network.mode == NetworkMode::Veth)
        })
        .map(|g| {
            let source = g
                .sources
                .first()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            (g.name.as_str().to_owned(), source)
        })
        .collect()
}

/// The files for every valid, managed bridge, for one backend. `machine_id` feeds the derived
/// MAC of bridges that do not pin one.
pub fn render_all(
    bridges: &[Bridge],
    backend: Backend,
    machine_id: &str,
) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for b in bridges {
        let Ok(config) = &b.settings else { continue };
        if !config.managed {
            continue;
        }
        let mac = config
            .mac
            .clone()
            .unwrap_or_else(|| derived_mac(machine_id, &b.name));
        let source = b.source.display().to_string();
        let spec = BridgeSpec {
            name: &b.name,
            source: &source,
            config,
            mac: &mac,
        };
        files.extend(match backend {
            Backend::Networkmanager => networkmanager(&spec),
            Backend::Networkd | Backend::Auto => networkd(&spec),
        });
    }
    files
}
