//! Derived names, MAC addresses, UUIDs and subnets end up in hosts' network configuration and
//! leases: a release that changed one would break the host's links. These are the values the
//! code produced when they were pinned; a change here is a change for every installed host.

use ostree_guests::config::derived_mac;
use ostree_guests::network::{host_subnets, stable_uuid};

const MACHINE_ID: &str = "0123456789abcdef0123456789abcdef\n";

#[test]
fn derived_macs_never_change() {
    let got: Vec<String> = [
        (MACHINE_ID, "br0"),
        (MACHINE_ID, "lan"),
        ("", ""),
        ("x", "br-guests"),
    ]
    .iter()
    .map(|(id, br)| derived_mac(id, br).as_str().to_owned())
    .collect();
    assert_eq!(
        got,
        [
            "3a:8b:0b:a1:cf:ad",
            "e2:25:91:a1:9e:ce",
            "ae:63:bd:4c:86:01",
            "a6:d6:3d:a3:f6:7c"
        ]
    );
}

#[test]
fn stable_uuids_never_change() {
    let got: Vec<String> = ["", "ostree-guests-br0", "ostree-guests-veth@web", "é"]
        .iter()
        .map(|id| stable_uuid(id))
        .collect();
    assert_eq!(
        got,
        [
            "cbf29ce4-8422-8325-8422-2325cbf29ce4",
            "14c12a1a-e210-80be-8234-0ba6229a1c75",
            "c12733ff-b306-8915-92fc-ffb350cb12dc",
            "0ac21707-b718-8e01-956e-120f1473c304"
        ]
    );
}

#[test]
fn host_subnets_never_change() {
    let got: Vec<String> = host_subnets(MACHINE_ID.trim(), &["web", "db", "a", ""])
        .iter()
        .map(|(g, a)| format!("{g}={a}"))
        .collect();
    assert_eq!(
        got,
        [
            "=10.51.183.33",
            "a=10.161.20.145",
            "db=10.113.32.1",
            "web=10.44.98.65"
        ]
    );
}
