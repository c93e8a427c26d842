//! `list` and `status NAME`, as text or `--json`. Read-only: a missing systemd or an unreadable
//! sysroot is shown, never a failure (except an unknown guest for `status`).

use serde::Serialize;

use ostree_guests::config::{self, Guest};
use ostree_guests::deployment::{self, Deployment};
use ostree_guests::paths::DROPIN_NAME;

use crate::exit::{Failure, IO_FAILED, Result};
use crate::running::{mode_mismatch, mode_word};
use crate::sysroot::Host;
use crate::systemd;

use super::{find_guest, load, short};

/// Where systemd runs system generators into (the normal directory).
const GENERATOR_DIR: &str = "/run/systemd/generator";

/// The `apiVersion` of `--json` output. Within v1 fields are only ever added, never renamed,
/// removed or retyped; consumers ignore fields they do not know. Anything else is v2.
pub const API_VERSION: &str = "ostree-guests/v1";

/// `list --json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GuestList {
    api_version: &'static str,
    kind: &'static str,
    items: Vec<GuestItem>,
}

/// `status --json`: one item with the envelope's fields beside it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GuestStatus {
    api_version: &'static str,
    kind: &'static str,
    #[serde(flatten)]
    guest: GuestItem,
    /// The unit's last error lines from the journal (status only: one journal query per guest).
    last_errors: Vec<String>,
}

/// One guest, the same in `list` and `status`. Unknown values are `null`, never absent, so
/// a field's presence does not depend on the host's state.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GuestItem {
    name: String,
    /// The unit's name, `systemd-nspawn@NAME.service`.
    unit: String,
    /// The unit is active, activating or reloading (null: systemd not running or not answering).
    active: Option<bool>,
    active_state: Option<String>,
    sub_state: Option<String>,
    /// The rest are null while the configuration is invalid.
    stateroot: Option<String>,
    autostart: Option<bool>,
    /// The guest's root is the host's root (`security.private-users` in effect is "no").
    privileged: Option<bool>,
    /// Whether the running guest was started privileged, from its init's uid_map (null while
    /// it does not run). It differs from `privileged` until a restart applies a change.
    running_privileged: Option<bool>,
    /// `auto`, a checksum prefix or `version:V`.
    pin: Option<String>,
    /// What the guest boots next time; null with `resolveError` set.
    deployment: Option<DeploymentItem>,
    /// What a running guest's nspawn runs now (it differs from `deployment` until a restart).
    running_deployment: Option<RunningItem>,
    addresses: Vec<String>,
    config_files: Vec<String>,
    config_error: Option<String>,
    resolve_error: Option<String>,
    warnings: Vec<String>,
    dropin: DropinItem,
    /// Every deployment of the stateroot, in boot-entry order.
    boot_entries: Vec<DeploymentItem>,
    /// The container image `deployment` was deployed from (its origin's
    /// container-image-reference), or null for a deployment of a ref or commit.
    image: Option<ImageItem>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageItem {
    /// The normalised image reference, as `create --image` recorded it.
    reference: String,
    /// The manifest digest (`sha256:…`) of the deployed commit, or null if it has none.
    digest: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentItem {
    /// `CHECKSUM.SERIAL`, the directory name under `ostree/deploy/STATEROOT/deploy/`.
    id: String,
    checksum: String,
    serial: u32,
    /// Position in `ostree admin status` order (0 is the host's default boot entry).
    index: usize,
    version: Option<String>,
    /// `ostree admin pin`.
    pinned: bool,
    boot_entry: String,
    /// The deployment the guest resolves to.
    selected: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RunningItem {
    id: String,
    stateroot: String,
    checksum: String,
    serial: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DropinItem {
    path: String,
    /// False until the generator ran (`systemctl daemon-reload`).
    exists: bool,
}

fn deployment_item(d: &Deployment, selected: bool) -> DeploymentItem {
    DeploymentItem {
        id: d.dir_name(),
        checksum: d.checksum.clone(),
        serial: d.serial,
        index: d.index,
        version: d.version.clone(),
        pinned: d.pinned,
        boot_entry: d.boot_entry.display().to_string(),
        selected,
    }
}

/// Everything `list` and `status` show of one guest; `deps` is one listing for all guests.
fn item(
    host: &Host,
    guest: &Guest,
    deps: &std::result::Result<Vec<Deployment>, String>,
) -> GuestItem {
    let unit = guest.name.unit();
    let state = systemd::state(&unit);
    let dropin = format!("{GENERATOR_DIR}/{unit}.d/{DROPIN_NAME}");
    let mut it = GuestItem {
        name: guest.name.to_string(),
        active: state.as_ref().map(systemd::UnitState::is_active),
        active_state: state.as_ref().map(|s| s.active.clone()),
        sub_state: state.as_ref().map(|s| s.sub.clone()),
        stateroot: None,
        autostart: None,
        privileged: None,
        running_privileged: crate::running::running_privileged(guest.name.as_str(), &unit),
        pin: None,
        deployment: None,
        running_deployment: systemd::running_deployment(&unit).map(|(s, c, n)| RunningItem {
            id: format!("{c}.{n}"),
            stateroot: s,
            checksum: c,
            serial: n,
        }),
        addresses: systemd::addresses(guest.name.as_str()),
        config_files: guest
            .sources
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        config_error: None,
        resolve_error: None,
        warnings: Vec::new(),
        dropin: DropinItem {
            exists: std::path::Path::new(&dropin).exists(),
            path: dropin,
        },
        boot_entries: Vec::new(),
        image: None,
        unit,
    };
    let s = match &guest.settings {
        Ok(s) => s,
        Err(e) => {
            it.config_error = Some(e.to_string());
            return it;
        }
    };
    let stateroot = s.stateroot.as_str();
    it.stateroot = Some(stateroot.to_owned());
    it.autostart = Some(s.config.autostart);
    it.privileged = Some(s.config.privileged());
    it.pin = Some(s.config.deployment.0.to_string());
    it.warnings = config::isolation_warnings(&s.config);
    // What the start helper would boot: resolve also checks the deployment's directory.
    let resolved = deployment::resolve(&host.layout, stateroot, &s.config.deployment.0);
    let selected = resolved.as_ref().ok().map(|r| r.deployment.clone());
    it.image = selected
        .as_ref()
        .and_then(|d| super::image::describe(host, d))
        .map(|(reference, digest)| ImageItem { reference, digest });
    match resolved {
        Ok(r) => it.deployment = Some(deployment_item(&r.deployment, true)),
        Err(e) => it.resolve_error = Some(e.to_string()),
    }
    match deps {
        Ok(deps) => {
            it.boot_entries = deps
                .iter()
                .filter(|d| d.stateroot == stateroot)
                .map(|d| deployment_item(d, selected.as_ref() == Some(d)))
                .collect();
        }
        Err(e) => {
            it.resolve_error.get_or_insert_with(|| e.clone());
        }
    }
    it
}

/// `active (running)`, or why the state is unknown.
fn state_label(it: &GuestItem) -> String {
    match (&it.active_state, &it.sub_state) {
        (Some(a), Some(s)) => format!("{a} ({s})"),
        _ if systemd::available() => "unknown (systemctl failed)".to_owned(),
        _ => systemd::NO_SYSTEMD.to_owned(),
    }
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
    let items: Vec<GuestItem> = loaded
        .guests
        .iter()
        .map(|g| item(&host, g, &deps))
        .collect();
    if as_json {
        return json(&GuestList {
            api_version: API_VERSION,
            kind: "GuestList",
            items,
        });
    }
    for e in &loaded.unnamed {
        eprintln!("ostree-guests: {e}");
    }
    if items.is_empty() {
        println!("no guests configured");
        return Ok(());
    }
    let yes_no = |v: Option<bool>| {
        v.map_or_else(
            || "-".to_owned(),
            |a| if a { "yes".into() } else { "no".into() },
        )
    };
    // The IMAGE column only when a guest comes from a container image: the table of ref
    // guests stays as it was.
    let with_image = items.iter().any(|r| r.image.is_some());
    let cells: Vec<Vec<String>> = items
        .iter()
        .map(|r| {
            let dep = r.deployment.as_ref().map_or_else(
                || {
                    if error_of(r).is_some() {
                        "(error)".to_owned()
                    } else {
                        "-".to_owned()
                    }
                },
                |d| format!("{}.{}", short(&d.checksum), d.serial),
            );
            let mut row = vec![
                r.name.clone(),
                r.stateroot.clone().unwrap_or_else(|| "-".into()),
                dep,
                r.deployment
                    .as_ref()
                    .and_then(|d| d.version.clone())
                    .unwrap_or_else(|| "-".into()),
                yes_no(r.autostart),
                yes_no(r.privileged),
                state_label(r),
                if r.addresses.is_empty() {
                    "-".into()
                } else {
                    r.addresses.join(",")
                },
            ];
            if with_image {
                row.push(r.image.as_ref().map_or_else(
                    || "-".to_owned(),
                    |i| match &i.digest {
                        Some(d) => format!("{} ({})", i.reference, short_digest(d)),
                        None => i.reference.clone(),
                    },
                ));
            }
            row
        })
        .collect();
    let mut header = vec![
        "NAME",
        "STATEROOT",
        "DEPLOYMENT",
        "VERSION",
        "AUTOSTART",
        "PRIVILEGED",
        "STATE",
        "ADDRESS",
    ];
    if with_image {
        header.push("IMAGE");
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for c in &cells {
        for (w, v) in widths.iter_mut().zip(c) {
            *w = (*w).max(v.chars().count());
        }
    }
    let print = |c: &[&str]| {
        let line: Vec<String> = c
            .iter()
            .zip(&widths)
            .map(|(v, &w)| format!("{v:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    };
    print(&header);
    for c in &cells {
        print(&c.iter().map(String::as_str).collect::<Vec<_>>());
    }
    for r in &items {
        if let Some(e) = error_of(r) {
            eprintln!("ostree-guests: {}: {e}", r.name);
        }
    }
    Ok(())
}

/// `sha256:` and 12 hex digits: enough to tell images apart in a table.
fn short_digest(d: &str) -> &str {
    d.get(..19).unwrap_or(d)
}

fn error_of(it: &GuestItem) -> Option<&str> {
    it.config_error.as_deref().or(it.resolve_error.as_deref())
}

pub fn status(name: &str, as_json: bool) -> Result<()> {
    let loaded = load();
    let guest = find_guest(&loaded, name)?;
    let host = Host::from_env();
    let deps = host.list().map_err(|f| f.message);
    let st = GuestStatus {
        api_version: API_VERSION,
        kind: "Guest",
        last_errors: systemd::last_errors(&guest.name.unit(), 5),
        guest: item(&host, guest, &deps),
    };
    if as_json {
        return json(&st);
    }
    print_status(&st);
    Ok(())
}

fn print_status(full: &GuestStatus) {
    let st = &full.guest;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("guest:       {}", st.name);
    println!("unit:        {} ({})", st.unit, state_label(st));
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
    match st.privileged {
        Some(true) => println!(
            "privileged:  yes (the guest's root is the host's root and can write the host's OS)"
        ),
        Some(false) => println!("privileged:  no (user namespace with idmapped mounts)"),
        None => println!("privileged:  -"),
    }
    if let Some(note) = mode_mismatch(st.privileged, st.running_privileged, &st.unit) {
        println!("mode:        {note}");
    } else if let Some(r) = st.running_privileged {
        println!("mode:        running {}", mode_word(r));
    }
    match (&st.deployment, &st.resolve_error) {
        (Some(d), _) => println!(
            "deployment:  {} (index {}{}{})",
            d.id,
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
    if let Some(i) = &st.image {
        println!("image:       {}", i.reference);
        println!("digest:      {}", i.digest.as_deref().unwrap_or("-"));
    }
    if let Some(r) = &st.running_deployment {
        println!("running:     {} {}", r.stateroot, r.id);
    }
    if !st.addresses.is_empty() {
        println!("address:     {}", st.addresses.join(", "));
    }
    println!(
        "drop-in:     {}{}",
        st.dropin.path,
        if st.dropin.exists {
            ""
        } else {
            " (not generated: run `systemctl daemon-reload`)"
        }
    );
    for w in &st.warnings {
        println!("warning:     {w}");
    }
    if !full.last_errors.is_empty() {
        println!("last errors:");
        for e in &full.last_errors {
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
            e.id,
            e.version
                .as_ref()
                .map(|v| format!(" ({v})"))
                .unwrap_or_default(),
            if e.pinned { " pinned" } else { "" },
            e.boot_entry
        );
    }
}
