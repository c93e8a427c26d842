//! What a bridge declaration holds, each value checked as it is parsed, and the MAC a bridge
//! gets when it does not pin one.

use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;

use crate::name::InterfaceName;
use crate::stable_hash::fnv1a;
use crate::validated::validated_string;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct BridgeConfig {
    /// false: the bridge is configured by the admin's own network files; we only check that
    /// guests name a bridge that exists in the configuration.
    pub managed: bool,
    /// Physical interfaces to add as ports: names, or `mac:AA:BB:CC:DD:EE:FF` (permanent MAC).
    pub uplinks: Vec<Uplink>,
    /// The bridge's own MAC. Default: derived from /etc/machine-id and the name, so it stays the
    /// same across reboots (the kernel would otherwise take the lowest port MAC, and guests'
    /// veths change that, and with it the DHCP lease).
    pub mac: Option<MacAddress>,
    /// DHCP on the bridge. Default: on unless `addresses` are given.
    pub dhcp: Option<bool>,
    pub addresses: Vec<IpPrefix>,
    pub gateway: Option<IpAddress>,
    pub dns: Vec<IpAddress>,
    pub backend: Backend,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            managed: true,
            uplinks: Vec::new(),
            mac: None,
            dhcp: None,
            addresses: Vec::new(),
            gateway: None,
            dns: Vec::new(),
            backend: Backend::Auto,
        }
    }
}

impl BridgeConfig {
    pub fn dhcp(&self) -> bool {
        self.dhcp.unwrap_or(self.addresses.is_empty())
    }
}

/// Which network stack gets the bridge's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// NetworkManager if it is enabled, else systemd-networkd.
    #[default]
    Auto,
    Networkd,
    Networkmanager,
}

/// Every key of a bridge declaration; the man page test compares it with ostree-guests.d(5).
pub const BRIDGE_KEYS: &[&str] = &[
    "managed",
    "uplinks",
    "mac",
    "dhcp",
    "addresses",
    "gateway",
    "dns",
    "backend",
];

validated_string!(MacAddress, "String", String, normalize parse_mac);
validated_string!(IpPrefix, "String", String, normalize parse_prefix);
validated_string!(IpAddress, "String", String, normalize parse_ip);

/// Lower-case `aa:bb:cc:dd:ee:ff`, unicast (a bridge cannot have a multicast address).
fn parse_mac(s: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "invalid MAC address {s:?}: expected six hex pairs like \"02:00:5e:10:00:01\", unicast"
        )
    };
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.chars().all(|c| c.is_ascii_hexdigit()))
    {
        return Err(bad());
    }
    let first = parts
        .first()
        .and_then(|p| u8::from_str_radix(p, 16).ok())
        .ok_or_else(bad)?;
    if first & 1 == 1 || s == "00:00:00:00:00:00" {
        return Err(bad());
    }
    Ok(s.to_ascii_lowercase())
}

fn parse_ip(s: &str) -> Result<String, String> {
    s.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| format!("invalid IP address {s:?}"))
}

fn parse_prefix(s: &str) -> Result<String, String> {
    let bad =
        || format!("invalid address {s:?}: expected ADDRESS/PREFIXLEN such as \"192.168.1.10/24\"");
    let (ip, len) = s.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len == 0 || len > max || !len.to_string().eq(s.rsplit('/').next().unwrap_or_default()) {
        return Err(bad());
    }
    Ok(format!("{ip}/{len}"))
}

/// A bridge port: an interface name or a permanent MAC address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub enum Uplink {
    Name(String),
    Mac(MacAddress),
}

impl TryFrom<String> for Uplink {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if let Some(mac) = s.strip_prefix("mac:") {
            return MacAddress::try_from(mac.to_owned()).map(Self::Mac);
        }
        InterfaceName::try_from(s.clone()).map(|_| Self::Name(s))
    }
}

impl fmt::Display for Uplink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => f.write_str(n),
            Self::Mac(m) => write!(f, "mac:{m}"),
        }
    }
}

/// A locally administered unicast MAC, stable for a machine and bridge name.
pub fn derived_mac(machine_id: &str, bridge: &str) -> MacAddress {
    let h = fnv1a(&[machine_id.trim().as_bytes(), bridge.as_bytes()]);
    let b = h.to_be_bytes();
    let first = (b[0] & 0xfe) | 0x02;
    MacAddress(format!(
        "{first:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[1], b[2], b[3], b[4], b[5]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(parse_mac("02:00:5E:10:00:01").unwrap(), "02:00:5e:10:00:01");
        for bad in [
            "01:00:5e:00:00:01",
            "02:00:5e:10:00",
            "zz:00:00:00:00:00",
            "00:00:00:00:00:00",
            "",
        ] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
        let m = derived_mac("0123456789abcdef0123456789abcdef\n", "br0");
        assert_eq!(m, derived_mac("0123456789abcdef0123456789abcdef", "br0"));
        assert_ne!(m, derived_mac("0123456789abcdef0123456789abcdef", "br1"));
        assert!(parse_mac(m.as_str()).is_ok(), "{m}");
        let first = u8::from_str_radix(&m.as_str()[..2], 16).unwrap();
        assert_eq!(first & 0x03, 0x02, "locally administered unicast: {m}");
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_prefix("192.168.1.10/24").unwrap(), "192.168.1.10/24");
        assert_eq!(parse_prefix("FD00::2/64").unwrap(), "fd00::2/64");
        for bad in [
            "192.168.1.10",
            "192.168.1.10/33",
            "fd00::/0",
            "x/24",
            "1.2.3.4/024",
        ] {
            assert!(parse_prefix(bad).is_err(), "{bad}");
        }
        assert!(parse_ip("10.0.0.1").is_ok() && parse_ip("10.0.0").is_err());
    }

    #[test]
    fn uplinks() {
        assert_eq!(
            Uplink::try_from("enp1s0".to_owned()).unwrap(),
            Uplink::Name("enp1s0".into())
        );
        assert!(matches!(
            Uplink::try_from("mac:52:54:00:12:34:56".to_owned()).unwrap(),
            Uplink::Mac(_)
        ));
        assert!(Uplink::try_from("way-too-long-interface".to_owned()).is_err());
    }
}
