//! `list` and `status NAME`, as text or `--json`. Read-only: a missing systemd or an unreadable
//! sysroot is shown, never a failure (except an unknown guest for `status`).

use serde::Serialize;

use ostree_guests::config::{self, Guest};
use ostree_guests::deployment::{self, Deployment};
use ostree_guests::paths::DROPIN_NAME;

use crate::exit::{Failure, IO_FAILED, Result};
use crate::sysroot::Host;
use crate::systemd;

use super::{find_guest, load, short};

/// Where systemd runs system generators into (the normal directory).
const GENERATOR_DIR: &str = "/run/systemd/generator";

#[derive(Debug, Serialize)]
struct Row {
    name: String,
    stateroot: Option<String>,
    deployment: Option<String>,
    version: Option<String>,
    autostart: Option<bool>,
    unit: String,
    addresses: Vec<String>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Entry {
    index: usize,
    deployment: String,
    checksum: String,
    serial: u32,
    version: Option<String>,
    pinned: bool,
    boot_entry: String,
    selected: bool,
}

#[derive(Debug, Serialize)]
struct Status {
    name: String,
    unit: String,
    config_files: Vec<String>,
    config_error: Option<String>,
    stateroot: Option<String>,
    pin: Option<String>,
    deployment: Option<Entry>,
    resolve_error: Option<String>,
    dropin: String,
    dropin_exists: bool,
    unit_state: String,
    running_deployment: Option<String>,
    addresses: Vec<String>,
    last_errors: Vec<String>,
    warnings: Vec<String>,
    boot_entries: Vec<Entry>,
}

fn entry(d: &Deployment, selected: bool) -> Entry {
    Entry {
        index: d.index,
        deployment: d.dir_name(),
        checksum: d.checksum.clone(),
        serial: d.serial,
        version: d.version.clone(),
        pinned: d.pinned,
        boot_entry: d.boot_entry.display().to_string(),
        selected,
    }
}

fn row(guest: &Guest, deps: &std::result::Result<Vec<Deployment>, String>) -> Row {
    let unit = guest.name.unit();
    let mut r = Row {
        name: guest.name.to_string(),
        stateroot: None,
        deployment: None,
        version: None,
        autostart: None,
        unit: systemd::state_label(&unit),
        addresses: systemd::addresses(guest.name.as_str()),
        error: None,
    };
    let s = match &guest.settings {
        Ok(s) => s,
        Err(e) => {
            r.error = Some(e.to_string());
            return r;
        }
    };
    r.stateroot = Some(s.stateroot.to_string());
    r.autostart = Some(s.config.autostart);
    match deps {
        Ok(deps) => match deployment::select(deps, s.stateroot.as_str(), &s.config.deployment.0) {
            Ok(d) => {
                r.deployment = Some(d.dir_name());
                r.version = d.version.clone();
            }
            Err(e) => r.error = Some(e.to_string()),
        },
        Err(e) => r.error = Some(e.clone()),
    }
    r
}

fn json<T: Serialize>(v: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| Failure::new(IO_FAILED, format!("encoding JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

pub fn list(as_json: bool) -> Result<()> {
    let loaded = load();
    let host = Host::from_env();
    let deps = host.list().map_err(|f| f.message);
    let rows: Vec<Row> = loaded.guests.iter().map(|g| row(g, &deps)).collect();
    if as_json {
        return json(&rows);
    }
    for e in &loaded.unnamed {
        eprintln!("ostree-guests: {e}");
    }
    if rows.is_empty() {
        println!("no guests configured");
        return Ok(());
    }
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            let dep = r.deployment.as_deref().map_or_else(
                || {
                    if r.error.is_some() {
                        "(error)".to_owned()
                    } else {
                        "-".to_owned()
                    }
                },
                |d| match d.rsplit_once('.') {
                    Some((c, s)) => format!("{}.{s}", short(c)),
                    None => d.to_owned(),
                },
            );
            [
                r.name.clone(),
                r.stateroot.clone().unwrap_or_else(|| "-".into()),
                dep,
                r.version.clone().unwrap_or_else(|| "-".into()),
                r.autostart.map_or_else(
                    || "-".into(),
                    |a| if a { "yes".into() } else { "no".into() },
                ),
                r.unit.clone(),
                if r.addresses.is_empty() {
                    "-".into()
                } else {
                    r.addresses.join(",")
                },
            ]
        })
        .collect();
    let header = [
        "NAME",
        "STATEROOT",
        "DEPLOYMENT",
        "VERSION",
        "AUTOSTART",
        "UNIT",
        "ADDRESS",
    ];
    let mut widths = header.map(str::len);
    for c in &cells {
        for (w, v) in widths.iter_mut().zip(c) {
            *w = (*w).max(v.chars().count());
        }
    }
    let print = |c: &[&str]| {
        let line: Vec<String> = c
            .iter()
            .zip(widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    };
    print(&header);
    for c in &cells {
        print(&c.iter().map(String::as_str).collect::<Vec<_>>());
    }
    for r in rows.iter().filter(|r| r.error.is_some()) {
        eprintln!(
            "ostree-guests: {}: {}",
            r.name,
            r.error.as_deref().unwrap_or_default()
        );
    }
    Ok(())
}

pub fn status(name: &str, as_json: bool) -> Result<()> {
    let loaded = load();
    let guest = find_guest(&loaded, name)?;
    let host = Host::from_env();
    let unit = guest.name.unit();
    let dropin = format!("{GENERATOR_DIR}/{unit}.d/{DROPIN_NAME}");
    let mut st = Status {
        name: name.to_owned(),
        unit: unit.clone(),
        config_files: guest
            .sources
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        config_error: None,
        stateroot: None,
        pin: None,
        deployment: None,
        resolve_error: None,
        dropin_exists: std::path::Path::new(&dropin).exists(),
        dropin,
        unit_state: systemd::state_label(&unit),
        running_deployment: systemd::running_deployment(&unit)
            .map(|(s, c, n)| format!("{s} {c}.{n}")),
        addresses: systemd::addresses(name),
        last_errors: systemd::last_errors(&unit, 5),
        warnings: Vec::new(),
        boot_entries: Vec::new(),
    };
    match &guest.settings {
        Err(e) => st.config_error = Some(e.to_string()),
        Ok(s) => {
            let stateroot = s.stateroot.as_str();
            st.stateroot = Some(stateroot.to_owned());
            st.pin = Some(s.config.deployment.0.to_string());
            st.warnings = config::isolation_warnings(&s.config);
            let resolved = deployment::resolve(&host.layout, stateroot, &s.config.deployment.0);
            let selected = resolved.as_ref().ok().map(|r| r.deployment.clone());
            match resolved {
                Ok(r) => st.deployment = Some(entry(&r.deployment, true)),
                Err(e) => st.resolve_error = Some(e.to_string()),
            }
            match host.list() {
                Ok(deps) => {
                    st.boot_entries = deps
                        .iter()
                        .filter(|d| d.stateroot == stateroot)
                        .map(|d| entry(d, selected.as_ref() == Some(d)))
                        .collect();
                }
                Err(e) => {
                    st.resolve_error.get_or_insert(e.message);
                }
            }
        }
    }
    if as_json {
        return json(&st);
    }
    print_status(&st);
    Ok(())
}

fn print_status(st: &Status) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("guest:       {}", st.name);
    println!("unit:        {} ({})", st.unit, st.unit_state);
    for (i, f) in st.config_files.iter().enumerate() {
        println!(
            "{}{f}",
            if i == 0 {
                "config:      "
            } else {
                "             "
            }
        );
    }
    if let Some(e) = &st.config_error {
        println!("config error: {e}");
    }
    println!("stateroot:   {}", opt(&st.stateroot));
    println!("pin:         {}", opt(&st.pin));
    match (&st.deployment, &st.resolve_error) {
        (Some(d), _) => println!(
            "deployment:  {} (index {}{}{})",
            d.deployment,
            d.index,
            d.version
                .as_ref()
                .map(|v| format!(", version {v}"))
                .unwrap_or_default(),
            if d.pinned { ", pinned" } else { "" }
        ),
        (None, Some(e)) => println!("deployment:  none: {e}"),
        (None, None) => println!("deployment:  -"),
    }
    if let Some(r) = &st.running_deployment {
        println!("running:     {r}");
    }
    if !st.addresses.is_empty() {
        println!("address:     {}", st.addresses.join(", "));
    }
    println!(
        "drop-in:     {}{}",
        st.dropin,
        if st.dropin_exists {
            ""
        } else {
            " (not generated: run `systemctl daemon-reload`)"
        }
    );
    for w in &st.warnings {
        println!("warning:     {w}");
    }
    if !st.last_errors.is_empty() {
        println!("last errors:");
        for e in &st.last_errors {
            println!("  {e}");
        }
    }
    println!(
        "boot entries ({}; each is a host boot menu entry with a kernel copy in /boot):",
        st.boot_entries.len()
    );
    for e in &st.boot_entries {
        println!(
            "  {} {:>2} {}{}{}  {}",
            if e.selected { "*" } else { " " },
            e.index,
            e.deployment,
            e.version
                .as_ref()
                .map(|v| format!(" ({v})"))
                .unwrap_or_default(),
            if e.pinned { " pinned" } else { "" },
            e.boot_entry
        );
    }
}
