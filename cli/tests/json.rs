#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report
//! `list --json` and `status --json` on a real sysroot: the versioned envelope, one item schema
//! for both, and every field checked against what ostree and the configuration say.

mod common;

use std::collections::BTreeSet;
use std::fs;

use common::Env;
use serde_json::{Value, json};

/// The item fields of schema ostree-guests/v1, as documented in ostree-guests-list(1). A new
/// field must be added here and to the man page.
const ITEM_FIELDS: &[&str] = &[
    "active",
    "activeState",
    "addresses",
    "autostart",
    "bootEntries",
    "configError",
    "configFiles",
    "deployment",
    "dropin",
    "image",
    "name",
    "pin",
    "privileged",
    "resolveError",
    "runningDeployment",
    "runningPrivileged",
    "stateroot",
    "subState",
    "unit",
    "warnings",
];
const DEPLOYMENT_FIELDS: &[&str] = &[
    "bootEntry",
    "checksum",
    "id",
    "index",
    "pinned",
    "selected",
    "serial",
    "version",
];

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn parse(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn list_and_status_share_one_versioned_schema() {
    skip_unless_possible!("list_and_status_share_one_versioned_schema");
    let mut e = Env::new();
    let c1 = e.commit("guest/x86_64", "g1");
    e.cli_ok(
        &[
            "create",
            "web",
            "--ref",
            "guest/x86_64",
            "--no-autostart",
            "--network",
            "host",
        ],
        0,
    );
    e.cli_ok(&["pin", "web"], 0);
    fs::write(e.config("bad.toml"), "autostart = 3\n").unwrap();
    let st = e.status();
    let web_index = st.iter().position(|r| r.stateroot == "web").unwrap();

    let (out, _) = e.cli_ok(&["list", "--json"], 0);
    let list = parse(&out);
    assert_eq!(keys(&list), set(&["apiVersion", "kind", "items"]));
    assert_eq!(list["apiVersion"], "ostree-guests/v1");
    assert_eq!(list["kind"], "GuestList");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    for it in items {
        assert_eq!(keys(it), set(ITEM_FIELDS), "{it}");
    }
    let (bad, web) = (&items[0], &items[1]);

    // The valid guest, field by field.
    assert_eq!(web["name"], "web");
    assert_eq!(web["unit"], "systemd-nspawn@web.service");
    // No systemd on the test machine: the state is unknown, not "inactive".
    assert_eq!(web["active"], Value::Null);
    assert_eq!(web["activeState"], Value::Null);
    assert_eq!(web["subState"], Value::Null);
    assert_eq!(web["runningDeployment"], Value::Null);
    assert_eq!(web["addresses"], json!([]));
    assert_eq!(web["stateroot"], "web");
    assert_eq!(web["autostart"], false);
    // Default settings: user-namespaced. Not running: the running mode is unknown.
    assert_eq!(web["privileged"], false);
    assert_eq!(web["runningPrivileged"], Value::Null);
    assert_eq!(web["pin"], c1[..16]);
    assert_eq!(
        web["configFiles"],
        json!([
            "/etc/ostree-guests.d/web.toml",
            "/etc/ostree-guests.d/web.toml.d/50-pin.toml"
        ])
    );
    assert_eq!(web["configError"], Value::Null);
    assert_eq!(web["resolveError"], Value::Null);
    let warnings = web["warnings"].as_array().unwrap();
    assert!(
        warnings.len() == 1 && warnings[0].as_str().unwrap().contains("network.mode"),
        "{warnings:?}"
    );
    assert_eq!(
        web["dropin"],
        json!({
            "path": "/run/systemd/generator/systemd-nspawn@web.service.d/50-ostree-guests.conf",
            "exists": false
        })
    );
    let d = &web["deployment"];
    assert_eq!(keys(d), set(DEPLOYMENT_FIELDS));
    assert_eq!(d["id"], format!("{c1}.0"));
    assert_eq!(d["checksum"], c1);
    assert_eq!(d["serial"], 0);
    assert_eq!(d["index"], web_index);
    assert_eq!(d["version"], "g1");
    assert_eq!(d["pinned"], true);
    assert_eq!(d["selected"], true);
    let entry = d["bootEntry"].as_str().unwrap();
    assert!(
        entry.ends_with(".conf") && fs::metadata(entry).is_ok(),
        "{entry}"
    );
    assert_eq!(web["bootEntries"], json!([d.clone()]));
    // Deployed from a ref, not a container image (tests/image.rs checks an image guest's).
    assert_eq!(web["image"], Value::Null);

    // The invalid guest: its error, and null for what only a valid configuration gives.
    assert_eq!(bad["name"], "bad");
    assert_eq!(bad["unit"], "systemd-nspawn@bad.service");
    assert!(
        bad["configError"]
            .as_str()
            .unwrap()
            .starts_with("/etc/ostree-guests.d/bad.toml:1: autostart"),
        "{bad}"
    );
    for k in [
        "stateroot",
        "autostart",
        "privileged",
        "runningPrivileged",
        "pin",
        "deployment",
        "resolveError",
        "image",
    ] {
        assert_eq!(bad[k], Value::Null, "{k}: {bad}");
    }
    assert_eq!(bad["bootEntries"], json!([]));
    assert_eq!(bad["warnings"], json!([]));

    // status: the same item with the envelope beside it, plus the journal's last errors.
    let (out, _) = e.cli_ok(&["status", "web", "--json"], 0);
    let status = parse(&out);
    let mut want = set(ITEM_FIELDS);
    want.extend(set(&["apiVersion", "kind", "lastErrors"]));
    assert_eq!(keys(&status), want);
    assert_eq!(status["apiVersion"], "ostree-guests/v1");
    assert_eq!(status["kind"], "Guest");
    assert_eq!(status["lastErrors"], json!([]));
    for k in ITEM_FIELDS {
        assert_eq!(status[k], web[k], "status and list differ in {k}");
    }

    // status of an invalid guest succeeds and says why, as list does.
    let (out, _) = e.cli_ok(&["status", "bad", "--json"], 0);
    assert_eq!(parse(&out)["configError"], bad["configError"]);
}

/// The man pages (generated from `--help`) document every field the test above checks.
#[test]
fn the_schema_is_documented_in_the_man_pages() {
    for page in ["ostree-guests-list.1", "ostree-guests-status.1"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/man")
            .join(page);
        let text = fs::read_to_string(&path).unwrap();
        for field in ITEM_FIELDS.iter().chain(DEPLOYMENT_FIELDS).chain(&[
            "apiVersion",
            "GuestList",
            "lastErrors",
            "ostree\\-guests/v1",
        ]) {
            assert!(text.contains(field), "{page} lacks {field}");
        }
    }
}
