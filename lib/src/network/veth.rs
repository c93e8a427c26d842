//! The host side of `network.mode = "veth"` guests on NetworkManager hosts.
//!
//! `systemd-nspawn --network-veth` creates `ve-NAME` on the host. systemd-networkd configures it
//! with its stock `80-container-ve.network` (an address from its pool, a DHCP server, NAT).
//! NetworkManager leaves it alone: its udev rule `85-nm-unmanaged.rules` sets `NM_UNMANAGED=1`
//! on veth devices not named `eth*` (NetworkManager/NetworkManager:data/85-nm-unmanaged.rules).
//! For NetworkManager hosts `ostree-guests-network` therefore writes the equivalent:
//!
//! - `/run/NetworkManager/conf.d/ostree-guests-veth.conf`: a `[device-…]` section with
//!   `managed=1` matching exactly our guests' host-side interfaces. NetworkManager.conf(5),
//!   "device section": `managed` "has higher priority then udev rules"
//!   (NetworkManager/NetworkManager:man/NetworkManager.conf.xml); the same should hold for
//!   systemd ≥ 256's `ID_NET_MANAGED_BY=io.systemd.Network` on ve-*, which NetworkManager treats
//!   like NM_UNMANAGED (systemd/systemd#29768; to be confirmed on Fedora). Only our guests' names, not
//!   `ve-*`: other nspawn containers stay as NetworkManager leaves them, and a managed device
//!   without a profile of its own would get an automatic DHCP-client profile.
//! - one keyfile per guest in `/run/NetworkManager/system-connections`, `type=ethernet`
//!   (NMDeviceVeth is a subclass of NMDeviceEthernet and takes its ethernet profiles:
//!   NetworkManager/NetworkManager:src/core/devices/nm-device-veth.c and
//!   nm-device-ethernet.c, check_connection_compatible), `[match] interface-name=` (NM ≥ 1.14),
//!   `ipv4.method=shared`: NetworkManager assigns the profile's address, starts dnsmasq as DHCP
//!   and DNS server on it and masquerades to the default route (libnm-core
//!   nm-setting-ip4-config.c, "method"). Each guest gets its own /28 (see [`host_subnets`])
//!   rather than NetworkManager's default 10.42.x.1/24: k3s, which the `kubernetes` profile is
//!   for, uses 10.42.0.0/16 for its pods by default, and a guest whose uplink sits in that
//!   range loses its pod network and its default gateway.
//!
//! An administrator stops all of it the NetworkManager way: a file of the same name in
//! `/etc/NetworkManager/conf.d` shadows ours ("The loading of a file
//! /run/NetworkManager/conf.d/name.conf can be prevented by adding a file
//! /etc/NetworkManager/conf.d/name.conf", NetworkManager.conf(5)); the helper then writes no
//! profiles either, like masking systemd's `80-container-ve.network` on networkd hosts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::render::stable_uuid;
use crate::stable_hash::fnv1a;

/// Our NetworkManager.conf snippet, in `/run/NetworkManager/conf.d`; the same name in
/// `/etc/NetworkManager/conf.d` masks it.
pub const NM_VETH_CONF: &str = "ostree-guests-veth.conf";
/// File-name and id prefix of the per-guest profiles. `@` cannot occur in a bridge name (an
/// interface name), so these never collide with the bridges' `ostree-guests-BRIDGE` files.
pub const NM_VETH_PREFIX: &str = "ostree-guests-veth@";
/// Above the default 0: a catch-all ethernet profile (no interface name, such as the
/// "Wired Connection" nm-initrd-generator writes for `ip=dhcp`) must not take a guest's host
/// side and run a DHCP client on it. An administrator's own profile for `ve-NAME` needs a
/// higher priority to win.
pub const VETH_AUTOCONNECT_PRIORITY: i32 = 50;

/// The names `systemd-nspawn --network-veth --machine=NAME` gives the host side: `ve-NAME`,
/// or, beyond the 15 characters of an interface name, the first 11 characters and 4 of a hash
/// (naming scheme v247 and later: systemd net_shorten_ifname(), src/shared/netif-util.c) or,
/// under older naming schemes, the first 15 characters. Names are [A-Za-z0-9.-], so nothing
/// here is a glob or list separator for NetworkManager.
pub fn host_interface_names(guest: &str) -> Vec<String> {
    let full = format!("ve-{guest}");
    if full.len() <= IFNAME_MAX {
        return vec![full];
    }
    let h = siphash24(&SHORTEN_IFNAME_HASH_KEY, full.as_bytes());
    let mut hashed: String = full.chars().take(IFNAME_MAX - 4).collect();
    for shift in [18u32, 12, 6, 0] {
        hashed.push(urlsafe_base64char(h >> shift));
    }
    let truncated: String = full.chars().take(IFNAME_MAX).collect();
    vec![hashed, truncated]
}

const IFNAME_MAX: usize = 15;

/// systemd's SHORTEN_IFNAME_HASH_KEY (e1,90,a4,04,a8,ef,4b,51,8c,cc,c3,3a,9f,11,fc,a2).
const SHORTEN_IFNAME_HASH_KEY: [u8; 16] = [
    0xe1, 0x90, 0xa4, 0x04, 0xa8, 0xef, 0x4b, 0x51, 0x8c, 0xcc, 0xc3, 0x3a, 0x9f, 0x11, 0xfc, 0xa2,
];

fn urlsafe_base64char(x: u64) -> char {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    TABLE.get((x & 63) as usize).map_or('A', |b| char::from(*b))
}

/// SipHash-2-4, as systemd's siphash24() (a 128-bit key, little-endian words).
fn siphash24(key: &[u8; 16], data: &[u8]) -> u64 {
    let word = |b: &[u8]| -> u64 {
        b.iter()
            .enumerate()
            .fold(0u64, |acc, (i, x)| acc | (u64::from(*x) << (8 * i)))
    };
    let (k0, k1) = (word(&key[..8]), word(&key[8..]));
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let round = |v: &mut [u64; 4]| {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    };
    let chunks = data.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        let m = word(chunk);
        v[3] ^= m;
        round(&mut v);
        round(&mut v);
        v[0] ^= m;
    }
    let last = word(rest) | ((data.len() as u64) << 56);
    v[3] ^= last;
    round(&mut v);
    round(&mut v);
    v[0] ^= last;
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// Second octets of 10.0.0.0/8 we never hand out: where guests' own container networks sit by
/// default (k3s pods 10.42/16 and services 10.43/16, kubeadm services 10.96.0.0/12 and flannel
/// pods 10.244/16, podman 10.88/16) and 10.0/16, the commonest LAN and QEMU user network.
const RESERVED_SECOND_OCTETS: &[u8] = &[
    0, 42, 43, 88, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 244,
];

/// The host-side address (the first of its /28) of each guest: a /28 of 10.0.0.0/8 chosen by
/// a hash of the machine id and the guest name, so it is stable across reboots and differs
/// between hosts, like systemd-networkd's pool for 80-container-ve.network. Two guests landing
/// on the same /28 are resolved in name order (the later one takes the next free /28).
pub fn host_subnets(machine_id: &str, guests: &[&str]) -> BTreeMap<String, Ipv4Addr> {
    let seconds: Vec<u8> = (0..=255u8)
        .filter(|o| !RESERVED_SECOND_OCTETS.contains(o))
        .collect();
    let per_octet: u64 = 4096; // /28s in a /16
    let total = seconds.len() as u64 * per_octet;
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    let sorted: BTreeSet<&str> = guests.iter().copied().collect();
    for guest in sorted {
        let mut slot = fnv1a(&[machine_id.trim().as_bytes(), b"veth", guest.as_bytes()]) % total;
        while !taken.insert(slot) {
            slot = (slot + 1) % total;
        }
        let second = seconds
            .get((slot / per_octet) as usize)
            .copied()
            .unwrap_or(1);
        let rest = slot % per_octet;
        let addr = Ipv4Addr::new(
            10,
            second,
            (rest >> 4) as u8,
            (((rest & 0xf) << 4) | 1) as u8,
        );
        out.insert(guest.to_owned(), addr);
    }
    out
}

/// A guest with `network.mode = "veth"` and a valid configuration.
#[derive(Debug, Clone, Copy)]
pub struct VethGuest<'a> {
    pub name: &'a str,
    /// Its main configuration file, for the header comments.
    pub source: &'a str,
}

/// NetworkManager's files for the veth guests: the conf.d snippet and one keyfile per guest
/// (file name → text). Empty when there are no guests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NmVethFiles {
    pub conf: Option<String>,
    pub keyfiles: BTreeMap<String, String>,
}

pub fn networkmanager_veth(guests: &[VethGuest<'_>], machine_id: &str) -> NmVethFiles {
    if guests.is_empty() {
        return NmVethFiles::default();
    }
    let names: Vec<&str> = guests.iter().map(|g| g.name).collect();
    let subnets = host_subnets(machine_id, &names);
    // A shortened name of one guest could equal another guest's full host name (a 12-character
    // guest name and a longer one sharing its start): keep each name with its own guest only.
    let exact: BTreeSet<String> = names
        .iter()
        .map(|n| format!("ve-{n}"))
        .filter(|n| n.len() <= IFNAME_MAX)
        .collect();
    let mut ifnames: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for g in guests {
        let mut list = host_interface_names(g.name);
        if list.len() > 1 {
            list.retain(|n| !exact.contains(n));
        }
        ifnames.insert(g.name, list);
    }

    let mut conf = String::new();
    let _ = writeln!(
        conf,
        "# Written by ostree-guests-network for the guests with network.mode = \"veth\":"
    );
    for g in guests {
        let _ = writeln!(conf, "#   {} ({})", g.name, g.source);
    }
    let _ = writeln!(
        conf,
        "# NetworkManager leaves veth devices unmanaged (85-nm-unmanaged.rules); this section makes"
    );
    let _ = writeln!(
        conf,
        "# their host sides managed, and the {NM_VETH_PREFIX}NAME profiles give them DHCP and NAT."
    );
    let _ = writeln!(
        conf,
        "# Do not edit. To turn it off, create /etc/NetworkManager/conf.d/{NM_VETH_CONF}."
    );
    let specs: Vec<String> = ifnames
        .values()
        .flatten()
        .map(|n| format!("interface-name:{n}"))
        .collect();
    let _ = write!(
        conf,
        "[device-ostree-guests-veth]\nmatch-device={}\nmanaged=1\n",
        specs.join(",")
    );

    let mut keyfiles = BTreeMap::new();
    for g in guests {
        let id = format!("{NM_VETH_PREFIX}{}", g.name);
        let mut k = String::new();
        let _ = writeln!(
            k,
            "# Written by ostree-guests-network for the guest {} ({})",
            g.name, g.source
        );
        let _ = writeln!(
            k,
            "# Do not edit: it is written anew whenever ostree-guests-network.service runs."
        );
        let _ = write!(
            k,
            "[connection]\nid={id}\nuuid={}\ntype=ethernet\nautoconnect-priority={VETH_AUTOCONNECT_PRIORITY}\n",
            stable_uuid(&id)
        );
        // nspawn gives the host side a stable MAC; a global cloned-mac-address default must not
        // replace it.
        k.push_str("\n[ethernet]\ncloned-mac-address=preserve\n");
        let names = ifnames.get(g.name).cloned().unwrap_or_default();
        let _ = write!(k, "\n[match]\ninterface-name={};\n", names.join(";"));
        let addr = subnets
            .get(g.name)
            .copied()
            .unwrap_or(Ipv4Addr::new(10, 1, 0, 1));
        // IPv6: link-local only, as far as networkd's ve- network goes without a prefix to
        // announce; "shared" for IPv6 needs a delegated prefix from upstream.
        let _ = write!(
            k,
            "\n[ipv4]\nmethod=shared\naddress1={addr}/28\n\n[ipv6]\nmethod=link-local\n"
        );
        keyfiles.insert(format!("{id}.nmconnection"), k);
    }
    NmVethFiles {
        conf: Some(conf),
        keyfiles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash_matches_the_reference_vectors() {
        // SipHash-2-4 paper, appendix A: key 00..0f, messages 00, 00 01, ... (first vectors).
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        assert_eq!(siphash24(&key, &[]), 0x726f_db47_dd0e_0e31);
        let msg: Vec<u8> = (0..15u8).collect();
        assert_eq!(siphash24(&key, &msg), 0xa129_ca61_49be_45e5);
    }

    #[test]
    fn host_names_are_those_nspawn_252_gives() {
        assert_eq!(host_interface_names("web"), ["ve-web"]);
        assert_eq!(host_interface_names("abcdefghijkl"), ["ve-abcdefghijkl"]);
        // Seen from systemd-nspawn 252 (naming scheme v252): "Network interface name
        // 've-database-primary-01' has been changed to 've-databasezi4P'".
        assert_eq!(
            host_interface_names("database-primary-01"),
            ["ve-databasezi4P", "ve-database-pri"]
        );
        assert_eq!(
            host_interface_names("abcdefghijklmnopqrstuvwxyz.example"),
            ["ve-abcdefghDANd", "ve-abcdefghijkl"]
        );
    }

    #[test]
    fn subnets_are_distinct_stable_private_and_avoid_container_ranges() {
        let names: Vec<String> = (0..2000).map(|i| format!("g{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let a = host_subnets("0123456789abcdef0123456789abcdef\n", &refs);
        assert_eq!(a, host_subnets("0123456789abcdef0123456789abcdef", &refs));
        let distinct: BTreeSet<Ipv4Addr> = a.values().copied().collect();
        assert_eq!(distinct.len(), refs.len());
        for ip in a.values() {
            let o = ip.octets();
            assert_eq!(o[0], 10);
            assert!(!RESERVED_SECOND_OCTETS.contains(&o[1]), "{ip}");
            assert_eq!(o[3] & 0x0f, 1, "{ip} is not the first host of its /28");
        }
        let other = host_subnets("fedcba9876543210fedcba9876543210", &["g1"]);
        assert_ne!(other.get("g1"), a.get("g1"));
    }

    #[test]
    fn long_names_keep_to_their_own_guest() {
        // "database-pri" is a guest's full host name and the truncated form of the other's.
        let files = networkmanager_veth(
            &[
                VethGuest {
                    name: "database-pri",
                    source: "/etc/ostree-guests.d/database-pri.toml",
                },
                VethGuest {
                    name: "database-primary-01",
                    source: "/etc/ostree-guests.d/database-primary-01.toml",
                },
            ],
            "0123456789abcdef0123456789abcdef",
        );
        let long = files
            .keyfiles
            .get("ostree-guests-veth@database-primary-01.nmconnection")
            .unwrap();
        assert!(long.contains("interface-name=ve-databasezi4P;\n"), "{long}");
        let conf = files.conf.unwrap();
        assert!(
            conf.contains(
                "match-device=interface-name:ve-database-pri,interface-name:ve-databasezi4P\n"
            ),
            "{conf}"
        );
        assert!(networkmanager_veth(&[], "x").conf.is_none());
    }

    #[test]
    fn profile_names_cannot_be_bridge_names() {
        // A bridge's files are ostree-guests-BRIDGE*.nmconnection with an interface name.
        assert!(crate::name::InterfaceName::try_from("veth@web".to_owned()).is_err());
        assert!(NM_VETH_PREFIX.ends_with('@'));
    }
}
