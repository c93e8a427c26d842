//! Runtime network configuration for declared bridges, as in-memory files: systemd-networkd's
//! `.netdev`/`.network` (for /run/systemd/network) or NetworkManager keyfiles (for
//! /run/NetworkManager/system-connections). Values are validated types (names, MACs, IPs), so
//! nothing here can inject a line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::{BridgeConfig, MacAddress, Uplink};
use crate::paths::{NETWORKD_PREFIX, NM_PREFIX};
use crate::stable_hash::{fnv1a, fnv1a_with};

#[derive(Debug, Clone)]
pub struct BridgeSpec<'a> {
    pub name: &'a str,
    /// Where it was declared, for the header comment.
    pub source: &'a str,
    pub config: &'a BridgeConfig,
    /// The pinned MAC: the configured one or the derived one.
    pub mac: &'a MacAddress,
}

fn header(out: &mut String, spec: &BridgeSpec<'_>) {
    let _ = writeln!(
        out,
        "# Written by ostree-guests-network from {}",
        spec.source
    );
    let _ = writeln!(
        out,
        "# Do not edit: change the declaration and restart ostree-guests-network.service."
    );
}

pub fn networkd(spec: &BridgeSpec<'_>) -> BTreeMap<String, String> {
    let c = spec.config;
    let mut files = BTreeMap::new();
    let mut netdev = String::new();
    header(&mut netdev, spec);
    let _ = write!(
        netdev,
        "[NetDev]\nName={}\nKind=bridge\nMACAddress={}\n",
        spec.name, spec.mac
    );
    files.insert(format!("{NETWORKD_PREFIX}{}.netdev", spec.name), netdev);

    let mut network = String::new();
    header(&mut network, spec);
    let _ = write!(network, "[Match]\nName={}\n\n[Network]\n", spec.name);
    let _ = writeln!(network, "DHCP={}", if c.dhcp() { "yes" } else { "no" });
    for a in &c.addresses {
        let _ = writeln!(network, "Address={a}");
    }
    if let Some(g) = &c.gateway {
        let _ = writeln!(network, "Gateway={g}");
    }
    for d in &c.dns {
        let _ = writeln!(network, "DNS={d}");
    }
    // Guests' vb-* ports stay unconfigured here (systemd's 80-container-vb.network keeps them
    // enslaved); only the bridge itself gets addresses.
    let _ = writeln!(network, "ConfigureWithoutCarrier=yes");
    files.insert(format!("{NETWORKD_PREFIX}{}.network", spec.name), network);

    for (i, up) in c.uplinks.iter().enumerate() {
        let mut port = String::new();
        header(&mut port, spec);
        port.push_str("[Match]\n");
        match up {
            Uplink::Name(n) => {
                let _ = writeln!(port, "Name={n}");
            }
            // The permanent address: a bridge port's current MAC can be the bridge's.
            Uplink::Mac(m) => {
                let _ = writeln!(port, "PermanentMACAddress={m}");
            }
        }
        let _ = write!(port, "\n[Network]\nBridge={}\n", spec.name);
        files.insert(
            format!("{NETWORKD_PREFIX}{}-uplink{i}.network", spec.name),
            port,
        );
    }
    files
}

pub fn networkmanager(spec: &BridgeSpec<'_>) -> BTreeMap<String, String> {
    let c = spec.config;
    let mut files = BTreeMap::new();
    let id = format!("{NM_PREFIX}{}", spec.name);
    let mut bridge = String::new();
    header(&mut bridge, spec);
    let _ = write!(
        bridge,
        "[connection]\nid={id}\nuuid={}\ntype=bridge\ninterface-name={}\n\n[bridge]\nmac-address={}\nstp=false\n\n[ipv4]\n",
        stable_uuid(&id),
        spec.name,
        spec.mac.as_str().to_ascii_uppercase()
    );
    let v4: Vec<&str> = c
        .addresses
        .iter()
        .map(|a| a.as_str())
        .filter(|a| !a.contains(':'))
        .collect();
    let v6: Vec<&str> = c
        .addresses
        .iter()
        .map(|a| a.as_str())
        .filter(|a| a.contains(':'))
        .collect();
    write_ip_section(
        &mut bridge,
        c.dhcp(),
        &v4,
        c.gateway
            .as_ref()
            .map(|g| g.as_str())
            .filter(|g| !g.contains(':')),
        &c.dns
            .iter()
            .map(|d| d.as_str())
            .filter(|d| !d.contains(':'))
            .collect::<Vec<_>>(),
    );
    bridge.push_str("\n[ipv6]\n");
    write_ip_section(
        &mut bridge,
        c.dhcp(),
        &v6,
        c.gateway
            .as_ref()
            .map(|g| g.as_str())
            .filter(|g| g.contains(':')),
        &c.dns
            .iter()
            .map(|d| d.as_str())
            .filter(|d| d.contains(':'))
            .collect::<Vec<_>>(),
    );
    files.insert(format!("{id}.nmconnection"), bridge);

    for (i, up) in c.uplinks.iter().enumerate() {
        let port_id = format!("{id}-port{i}");
        let mut port = String::new();
        header(&mut port, spec);
        let _ = write!(
            port,
            "[connection]\nid={port_id}\nuuid={}\ntype=ethernet\n",
            stable_uuid(&port_id)
        );
        if let Uplink::Name(n) = up {
            let _ = writeln!(port, "interface-name={n}");
        }
        // "master"/"slave-type" are what NetworkManager 1.42 (Debian 12) writes; newer releases
        // read them as aliases of controller/port-type.
        let _ = write!(port, "master={}\nslave-type=bridge\n", spec.name);
        if let Uplink::Mac(m) = up {
            let _ = write!(
                port,
                "\n[ethernet]\nmac-address={}\n",
                m.as_str().to_ascii_uppercase()
            );
        }
        files.insert(format!("{port_id}.nmconnection"), port);
    }
    files
}

fn write_ip_section(
    out: &mut String,
    dhcp: bool,
    addresses: &[&str],
    gateway: Option<&str>,
    dns: &[&str],
) {
    let method = match (dhcp, addresses.is_empty()) {
        (true, _) => "auto",
        (false, false) => "manual",
        (false, true) => "disabled",
    };
    let _ = writeln!(out, "method={method}");
    // The gateway goes with the first address ("ADDRESS,GATEWAY"): the keyfile form every
    // NetworkManager release reads and the one 1.42 writes back.
    for (i, a) in addresses.iter().enumerate() {
        match gateway.filter(|_| i == 0) {
            Some(g) => {
                let _ = writeln!(out, "address{}={a},{g}", i + 1);
            }
            None => {
                let _ = writeln!(out, "address{}={a}", i + 1);
            }
        }
    }
    if !dns.is_empty() {
        let _ = writeln!(out, "dns={};", dns.join(";"));
    }
}
/// A UUID for a NetworkManager connection, stable for its id (NM would invent a random one).
pub fn stable_uuid(id: &str) -> String {
    let h1 = fnv1a(&[id.as_bytes()]);
    // A second hash for the other 64 bits: other offset and prime, the same input.
    let h2 = fnv1a_with(
        0x8422_2325_cbf2_9ce4,
        0x0000_0100_0000_11b3,
        &[id.as_bytes()],
    );
    let (a, b) = (h1.to_be_bytes(), h2.to_be_bytes());
    // version 8 ("custom") and RFC 4122 variant bits
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-8{:01x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        a[0],
        a[1],
        a[2],
        a[3],
        a[4],
        a[5],
        a[6] & 0x0f,
        a[7],
        (b[0] & 0x3f) | 0x80,
        b[1],
        b[2],
        b[3],
        b[4],
        b[5],
        b[6],
        b[7]
    )
}

#[cfg(test)]
mod tests {
    use super::stable_uuid;

    #[test]
    fn uuids_are_stable_version_8() {
        let u = stable_uuid("ostree-guests-br0");
        assert_eq!(u, stable_uuid("ostree-guests-br0"));
        assert_ne!(u, stable_uuid("ostree-guests-br1"));
        assert_eq!(u.len(), 36);
        assert_eq!(u.chars().nth(14), Some('8'));
    }
}
