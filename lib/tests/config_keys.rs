//! `config::KEYS` (and `BRIDGE_KEYS`) are what the man page, completion and messages list; serde
//! decides what a file may really hold. Each table's unknown-key error names the fields serde
//! accepts, and these tests hold that list to the keys, so a field added without its KEYS entry
//! (or the reverse) fails here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use ostree_guests::config::{self, BRIDGE_KEYS, KEYS};
use ostree_guests::name::MachineName;

/// The backquoted names after "expected" in serde's unknown-field message.
fn accepted(message: &str) -> BTreeSet<String> {
    let (_, list) = message
        .split_once("expected")
        .unwrap_or_else(|| panic!("no field list in {message:?}"));
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// What serde accepts in the table `table` of a guest file ("" for the top level).
fn guest_fields(table: &str) -> BTreeSet<String> {
    let text = if table.is_empty() {
        "not-a-key = 1\n".to_owned()
    } else {
        format!("[{table}]\nnot-a-key = 1\n")
    };
    let name = MachineName::parse("web").unwrap();
    let err = config::load_texts(&name, &[(Path::new("/etc/web.toml"), text.as_bytes())])
        .expect_err("an unknown key is an error");
    assert!(err.message.contains("not-a-key"), "{err:?}");
    accepted(&err.message)
}

fn keys_in(table: &str) -> BTreeSet<String> {
    KEYS.iter()
        .filter_map(|k| match k.split_once('.') {
            Some((t, rest)) if t == table => Some(rest.to_owned()),
            None if table.is_empty() => Some((*k).to_owned()),
            Some((t, _)) if table.is_empty() => Some(t.to_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_guest_table_accepts_exactly_its_keys() {
    for table in ["", "network", "resources", "security"] {
        assert_eq!(
            guest_fields(table),
            keys_in(table),
            "table [{table}]: serde's fields and config::KEYS disagree"
        );
    }
    // [[bind]] is an array of tables.
    let name = MachineName::parse("web").unwrap();
    let text = "[[bind]]\nnot-a-key = 1\n";
    let err = config::load_texts(&name, &[(Path::new("/etc/web.toml"), text.as_bytes())])
        .expect_err("an unknown key is an error");
    assert_eq!(accepted(&err.message), keys_in("bind"), "{err:?}");
    // [environment] is a map of variable names: any key is one, and KEYS says so.
    assert!(KEYS.contains(&"environment.NAME"));
}

#[test]
fn a_bridge_accepts_exactly_the_bridge_keys() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("etc/ostree-guests.d");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("br0.bridge.toml"), "not-a-key = 1\n").unwrap();
    let loaded = config::load(root.path());
    let bridge = loaded.bridges.first().expect("the bridge is found");
    let err = bridge
        .settings
        .as_ref()
        .expect_err("an unknown key is an error");
    let keys: BTreeSet<String> = BRIDGE_KEYS.iter().map(|k| (*k).to_owned()).collect();
    assert_eq!(accepted(&err.message), keys, "{err:?}");
}
