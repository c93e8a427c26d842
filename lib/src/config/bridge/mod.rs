//! Bridge declarations: `/etc/ostree-guests.d/NAME.bridge.toml`, one host bridge each, named by
//! the file (NAME is the interface name). Guests refer to them with `network.bridge = "NAME"`.

mod model;

use std::path::PathBuf;

pub use model::{
    BRIDGE_KEYS, Backend, BridgeConfig, IpAddress, IpPrefix, MacAddress, Uplink, derived_mac,
};

use super::layer;
use super::{ConfigError, Source};
use crate::name::InterfaceName;
use crate::paths::{NETWORKD_PREFIX, NM_PREFIX};

/// A declared bridge with its settings or the first problem.
#[derive(Debug, Clone)]
pub struct Bridge {
    pub name: String,
    pub source: PathBuf,
    pub settings: Result<BridgeConfig, ConfigError>,
}

pub(crate) fn load(name: &str, source: &Source, text: Result<String, ConfigError>) -> Bridge {
    let settings = text.and_then(|text| {
        if let Some(why) = &source.insecure {
            return Err(ConfigError::file(&source.logical, why.clone()));
        }
        InterfaceName::try_from(name.to_owned()).map_err(|m| {
            ConfigError::file(&source.logical, format!("{m}; the file name (without .bridge.toml) is the bridge's interface name"))
        })?;
        // Parsed with positions for the messages below, and validated into the model once.
        let (layer, config) = layer::parse_validated::<BridgeConfig>(&source.logical, &text)?;
        let located = |key: &str, message: String| ConfigError {
            file: source.logical.clone(),
            line: layer::find_key_line(&layer, key),
            key: Some(key.to_owned()),
            message,
        };
        if !config.managed && (!config.uplinks.is_empty() || !config.addresses.is_empty() || config.mac.is_some() || config.dhcp.is_some()) {
            return Err(located("managed", "managed = false means the bridge is configured elsewhere: remove uplinks, addresses, mac and dhcp, or set managed = true".into()));
        }
        if let Some(g) = &config.gateway {
            let v6 = g.as_str().contains(':');
            if !config.addresses.iter().any(|a| a.as_str().contains(':') == v6) {
                return Err(located("gateway", format!("gateway {g} needs a static address of the same IP family in addresses")));
            }
        }
        Ok(config)
    });
    Bridge {
        name: name.to_owned(),
        source: source.logical.clone(),
        settings,
    }
}

/// The file that bridge `name` would be written to if it is also the port file of one of bridge
/// `owner`'s uplinks: `OWNER-uplinkN` (systemd-networkd) or `OWNER-portN` (NetworkManager).
fn port_file_of(name: &str, owner: &str) -> Option<String> {
    let rest = name.strip_prefix(owner)?.strip_prefix('-')?;
    let numbered = |kind: &str| {
        rest.strip_prefix(kind)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    if numbered("uplink") {
        Some(format!(
            "/run/systemd/network/{NETWORKD_PREFIX}{name}.network"
        ))
    } else if numbered("port") {
        Some(format!(
            "/run/NetworkManager/system-connections/{NM_PREFIX}{name}.nmconnection"
        ))
    } else {
        None
    }
}

/// Port files are named after the bridge that owns them, so a bridge named `br0-uplink0` would
/// write the very file that makes `br0`'s uplink its port, and the host would lose that uplink.
/// Such a name is refused whatever the backend (`auto` may pick either) and however many uplinks
/// the owner has today; the owner stays valid. Keeping ordinary bridges' file names unchanged
/// keeps the NetworkManager connection ids admins already use.
pub(crate) fn refuse_colliding_names(bridges: &mut [Bridge]) {
    let owners: Vec<(String, PathBuf)> = bridges
        .iter()
        .map(|b| (b.name.clone(), b.source.clone()))
        .collect();
    for b in bridges.iter_mut().filter(|b| b.settings.is_ok()) {
        let Some((owner, owner_file, file)) = owners
            .iter()
            .filter(|(o, _)| *o != b.name)
            .find_map(|(o, f)| port_file_of(&b.name, o).map(|pf| (o, f, pf)))
        else {
            continue;
        };
        b.settings = Err(ConfigError::file(
            &b.source,
            format!(
                "the bridge name {:?} is taken: its file would be {file}, which is the port file for an uplink of bridge {owner} ({}, key uplinks), and overwriting it would cut the host off that uplink; rename this bridge (e.g. without \"-uplinkN\"/\"-portN\")",
                b.name,
                owner_file.display()
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::port_file_of;

    #[test]
    fn only_numbered_port_names_of_another_bridge_collide() {
        assert!(port_file_of("br0-uplink0", "br0").is_some_and(|f| {
            f.ends_with("/run/systemd/network/50-ostree-guests-br0-uplink0.network")
        }));
        assert!(
            port_file_of("br0-port12", "br0").is_some_and(|f| f.ends_with(
                "/run/NetworkManager/system-connections/ostree-guests-br0-port12.nmconnection"
            ))
        );
        for (name, owner) in [
            ("br0-uplinks", "br0"),
            ("br0-port", "br0"),
            ("br0-uplink0", "br"),
            ("br0uplink0", "br0"),
            ("br0", "br0"),
        ] {
            assert_eq!(port_file_of(name, owner), None, "{name} of {owner}");
        }
    }
}
