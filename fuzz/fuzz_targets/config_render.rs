//! Config text → layers → merge → validation → drop-in, read back with the strict unit reader.
//!
//! Input: one control byte (low bits pick the machine name), then up to three files separated by
//! NUL bytes (a NUL is invalid in TOML anyway): the main file and 0–2 drop-ins.
//!
//! Oracles: no panic; a configuration that validates also renders; the drop-in reads back
//! strictly (no control characters, continuation lines, stray blanks, over-long lines) into
//! exactly the directives the renderer promises, in order, with exactly the configured values
//! (Description unescaped equals the trimmed description or the default, ExecStart words are
//! exactly [helper, --, name], no specifier but `%%` where specifiers expand, resource values in
//! systemd's grammar); the fail-closed drop-in, for the real error and for the whole input as an
//! arbitrary reason, keeps its reason inside comments and runs exactly
//! [helper, --config-error, --, name]; `render::generate` writes the same text.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use ostree_guests::config::{Guest, GuestConfig, Loaded, NetworkMode, Settings};
use ostree_guests::name::MachineName;
use ostree_guests::paths::{HELPER, NETWORK_UNIT};
use ostree_guests::render::{self, Node};
use ostree_guests::unit_reader::{self as ur, Item, UnitFile};
use ostree_guests::{fuzzing, nspawn};

const NAMES: &[&str] = &[
    "web",
    "k3s-server.lab",
    "x",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let name = MachineName::parse(NAMES[usize::from(ctl) % NAMES.len()]).unwrap();
    let parts: Vec<&[u8]> = rest.splitn(3, |b| *b == 0).collect();
    let main = PathBuf::from(format!("/etc/ostree-guests.d/{name}.toml"));
    let mut sources = vec![main.clone()];
    for i in 1..parts.len() {
        sources.push(PathBuf::from(format!(
            "/etc/ostree-guests.d/{name}.toml.d/{i}0-fuzz.conf"
        )));
    }
    let files: Vec<(&Path, &[u8])> = sources
        .iter()
        .map(PathBuf::as_path)
        .zip(parts.iter().copied())
        .collect();
    let settings = fuzzing::load_texts(&name, &files);
    let guest = Guest {
        name: name.clone(),
        sources,
        settings: settings.clone(),
    };

    let text = match &settings {
        Ok(s) => {
            let text = render::dropin(&guest, s)
                .unwrap_or_else(|e| panic!("a validated configuration does not render: {e}"));
            check_dropin(&text, &guest, s);
            text
        }
        Err(e) => {
            let text = render::fail_closed_dropin(&guest, &e.to_string());
            check_fail_closed(&text, &guest);
            text
        }
    };
    // Whatever a reason says, it stays a comment.
    let reason = String::from_utf8_lossy(rest);
    check_fail_closed(&render::fail_closed_dropin(&guest, &reason), &guest);

    let autostart = settings.as_ref().is_ok_and(|s| s.config.autostart);
    let loaded = Loaded {
        guests: vec![guest],
        ..Loaded::default()
    };
    let out = render::generate(&loaded);
    let file = format!("{}.d/{}", name.unit(), ostree_guests::paths::DROPIN_NAME);
    assert_eq!(out.nodes.get(&file), Some(&Node::File(text)));
    let wants = format!("machines.target.wants/{}", name.unit());
    assert_eq!(out.nodes.contains_key(&wants), autostart);
});

fn read(text: &str) -> UnitFile {
    let f = ur::read(text).unwrap_or_else(|e| panic!("drop-in does not read back: {e}\n{text}"));
    // Comments only in the header: nothing user-controlled may sit between directives.
    let first = f
        .items
        .iter()
        .position(|i| matches!(i, Item::Section(_)))
        .unwrap_or(f.items.len());
    assert!(
        f.items[first..]
            .iter()
            .all(|i| !matches!(i, Item::Comment(_))),
        "comment after the header:\n{text}"
    );
    assert_eq!(f.sections(), ["Unit", "Service"], "{text}");
    f
}

fn one<'a>(f: &'a UnitFile, section: &'a str, key: &'a str) -> &'a str {
    let v = f.values(section, key);
    assert_eq!(v.len(), 1, "{section}.{key}");
    v[0]
}

fn spec(v: &str) -> String {
    ur::specifiers(v).unwrap_or_else(|e| panic!("{e}"))
}

/// Value of a setting that expands specifiers and is split into words.
fn words(v: &str, cunescape: bool) -> Vec<String> {
    ur::words(&spec(v), cunescape).unwrap_or_else(|e| panic!("{e}"))
}

/// Decimal without a leading zero: systemd and nspawn read "08" as (invalid) octal.
fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s.len() == 1 || !s.starts_with('0'))
}

/// systemd's parse_permyriad(): digits with at most two decimals, then '%'.
fn percentage(s: &str) -> bool {
    s.strip_suffix('%')
        .is_some_and(|p| match p.split_once('.') {
            Some((i, f)) => digits(i) && digits(f) && f.len() <= 2,
            None => digits(p),
        })
}

fn common(f: &UnitFile, guest: &Guest) {
    let docs = words(one(f, "Unit", "Documentation"), true);
    assert!(!docs.is_empty() && docs.iter().all(|d| d.starts_with("man:")));
    // SourcePath= is a path setting: specifiers expand, but nothing is unquoted.
    let main = guest.sources[0].display().to_string();
    assert_eq!(spec(one(f, "Unit", "SourcePath")), main);
    for w in words(one(f, "Service", "RestartPreventExitStatus"), false) {
        assert!(w.parse::<u8>().is_ok(), "exit status {w:?}");
    }
}

fn check_dropin(text: &str, guest: &Guest, s: &Settings) {
    let c: &GuestConfig = &s.config;
    let f = read(text);
    let env = nspawn::nspawn_environment(c);
    let mut want: Vec<&str> = vec![
        "Unit.Description",
        "Unit.Documentation",
        "Unit.SourcePath",
        "Unit.RequiresMountsFor",
    ];
    // Bridges and veth links are set up by the network unit before each start.
    let networked = matches!(c.network.mode, NetworkMode::Bridge | NetworkMode::Veth);
    if networked {
        want.extend(["Unit.Wants", "Unit.After"]);
    }
    want.extend(env.iter().map(|_| "Service.Environment"));
    want.extend([
        "Service.ExecStart",
        "Service.ExecStart",
        "Service.Restart",
        "Service.RestartSec",
        "Service.TimeoutStartSec",
        "Service.RestartPreventExitStatus",
        "Service.OOMPolicy",
    ]);
    let r = &c.resources;
    for (set, key) in [
        (r.memory_max.is_some(), "Service.MemoryMax"),
        (r.cpu_quota.is_some(), "Service.CPUQuota"),
        (r.tasks_max.is_some(), "Service.TasksMax"),
        (r.io_weight.is_some(), "Service.IOWeight"),
    ] {
        if set {
            want.push(key);
        }
    }
    if nspawn::opens_devices(c) {
        want.extend(["Service.DevicePolicy", "Service.DeviceAllow"]);
    }
    assert_eq!(f.keys(), want, "{text}");

    let description = spec(one(&f, "Unit", "Description"));
    // An empty (or blank) description falls back to the default, like an absent one.
    match c
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        Some(d) => assert_eq!(description, d, "{text}"),
        None => assert_eq!(
            description,
            format!("OSTree guest {} (stateroot {})", guest.name, s.stateroot)
        ),
    }
    common(&f, guest);
    if networked {
        assert_eq!(words(one(&f, "Unit", "Wants"), false), [NETWORK_UNIT]);
        assert_eq!(words(one(&f, "Unit", "After"), false), [NETWORK_UNIT]);
    }
    assert_eq!(one(&f, "Service", "TimeoutStartSec"), "5min");
    assert_eq!(one(&f, "Service", "OOMPolicy"), "continue");
    assert_eq!(
        words(one(&f, "Unit", "RequiresMountsFor"), false),
        ["/sysroot", "/boot"]
    );
    let got_env: Vec<Vec<String>> = f
        .values("Service", "Environment")
        .iter()
        .map(|v| words(v, true))
        .collect();
    let want_env: Vec<Vec<String>> = env.iter().map(|(k, v)| vec![format!("{k}={v}")]).collect();
    assert_eq!(got_env, want_env);

    let exec = f.values("Service", "ExecStart");
    assert_eq!(exec[0], "", "ExecStart= must reset the template's command");
    let cmd = ur::exec(exec[1]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cmd.prefixes, "");
    assert_eq!(cmd.argv, [HELPER, "--", guest.name.as_str()]);

    assert_eq!(one(&f, "Service", "Restart"), c.restart.as_unit_value());
    let sec = one(&f, "Service", "RestartSec");
    assert_eq!(sec, c.restart_sec.as_str());
    let unit = sec.trim_start_matches(|ch: char| ch.is_ascii_digit());
    assert!(
        unit.len() < sec.len() && ["us", "ms", "s", "sec", "m", "min", "h", "hr"].contains(&unit),
        "RestartSec={sec}"
    );

    // Not specifier-expanding: '%' is literal here, and only a percentage may have one.
    if let Some(m) = &r.memory_max {
        let v = one(&f, "Service", "MemoryMax");
        assert_eq!(v, m.as_str());
        let n = v.strip_suffix(['K', 'M', 'G', 'T']).unwrap_or(v);
        assert!(
            v == "infinity" || percentage(v) || digits(n),
            "MemoryMax={v}"
        );
    }
    if let Some(q) = &r.cpu_quota {
        let v = one(&f, "Service", "CPUQuota");
        assert_eq!(v, q.as_str());
        assert!(v.strip_suffix('%').is_some_and(digits), "CPUQuota={v}");
    }
    if let Some(t) = &r.tasks_max {
        let v = one(&f, "Service", "TasksMax");
        assert_eq!(v, t.as_str());
        assert!(
            v == "infinity" || percentage(v) || digits(v),
            "TasksMax={v}"
        );
    }
    if let Some(w) = &r.io_weight {
        let v = one(&f, "Service", "IOWeight");
        assert_eq!(v, w.as_str());
        assert!(digits(v) && v.parse::<u16>().is_ok_and(|n| (1..=10000).contains(&n)));
    }
    if nspawn::opens_devices(c) {
        assert_eq!(one(&f, "Service", "DevicePolicy"), "auto");
        assert_eq!(one(&f, "Service", "DeviceAllow"), "");
    }
}

fn check_fail_closed(text: &str, guest: &Guest) {
    let f = read(text);
    assert_eq!(
        f.keys(),
        [
            "Unit.Description",
            "Unit.Documentation",
            "Unit.SourcePath",
            "Service.ExecStart",
            "Service.ExecStart",
            "Service.Restart",
            "Service.RestartPreventExitStatus",
        ],
        "{text}"
    );
    assert_eq!(
        spec(one(&f, "Unit", "Description")),
        format!(
            "OSTree guest {} (invalid configuration: see systemctl status)",
            guest.name
        )
    );
    common(&f, guest);
    let exec = f.values("Service", "ExecStart");
    assert_eq!(exec[0], "");
    let cmd = ur::exec(exec[1]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cmd.prefixes, "");
    assert_eq!(
        cmd.argv,
        [HELPER, "--config-error", "--", guest.name.as_str()]
    );
    assert_eq!(one(&f, "Service", "Restart"), "no");
}
