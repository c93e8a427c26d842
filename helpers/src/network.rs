//! `ostree-guests-network`: writes the declared bridges' configuration where the host's network
//! stack reads runtime configuration, before that stack starts (ordered like systemd's own
//! systemd-network-generator.service), and, on NetworkManager hosts, what makes the host side of
//! veth guests' links work (see ostree_guests::network's veth module). It removes what it wrote
//! for bridges and guests that are gone and never touches /etc. It runs at boot and again before
//! every start of a guest on a bridge or veth link, so it only writes (and only makes the stack
//! reload) what changed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use ostree_guests::atomic;
use ostree_guests::config::{self, Backend};
use ostree_guests::network::{
    NM_VETH_CONF, NM_VETH_PREFIX, NmVethFiles, VethGuest, networkmanager_veth, render_all,
    veth_guests,
};
use ostree_guests::paths::{ENV_ROOT, NETWORKD_PREFIX, NM_PREFIX, env_path, under_root};

/// Prefix of the runtime directories (`/run`), relocatable for tests.
pub const ENV_RUN: &str = "OSTREE_GUESTS_RUN";

pub const USAGE: &str = "\
Usage: ostree-guests-network [--dry-run] [--backend auto|networkd|networkmanager]

Writes the bridges declared in /etc/ostree-guests.d/NAME.bridge.toml (or /run, /usr/lib) as
systemd-networkd files into /run/systemd/network or as NetworkManager keyfiles into
/run/NetworkManager/system-connections. On NetworkManager hosts it also makes the host side of
guests with network.mode = \"veth\" managed (/run/NetworkManager/conf.d/ostree-guests-veth.conf)
and shared (DHCP server and NAT; one ostree-guests-veth@NAME keyfile per guest), which
systemd-networkd's 80-container-ve.network does on networkd hosts. It removes the files it wrote
before for bridges and guests that are gone, and asks a running network stack to reload what
changed. Normally run by ostree-guests-network.service.
Exit status: 0 done, 64 usage, 78 a bridge declaration is invalid (the others are written),
97 no network stack is enabled, 98 writing or reloading failed.";

pub const EXIT_INVALID: i32 = ostree_guests::exit::CONFIG_INVALID;
pub const EXIT_NO_BACKEND: i32 = ostree_guests::exit::network::NO_BACKEND;
pub const EXIT_FAILED: i32 = ostree_guests::exit::network::FAILED;

#[derive(Debug, Default)]
pub struct Args {
    pub dry_run: bool,
    pub backend: Option<Backend>,
}

pub fn parse_args(args: &[String]) -> Result<Option<Args>, String> {
    let mut a = Args::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--dry-run" => a.dry_run = true,
            "--backend" => {
                a.backend = Some(match it.next().map(String::as_str) {
                    Some("auto") => Backend::Auto,
                    Some("networkd") => Backend::Networkd,
                    Some("networkmanager") => Backend::Networkmanager,
                    other => {
                        return Err(format!(
                            "--backend takes auto, networkd or networkmanager, not {other:?}"
                        ));
                    }
                });
            }
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    Ok(Some(a))
}

fn systemctl_says(verb: &str, unit: &str) -> bool {
    Command::new("systemctl")
        .args(["--quiet", verb, unit])
        .status()
        .is_ok_and(|s| s.success())
}

/// A stack counts when it is enabled (we run before it starts at boot) or already running (a
/// restart after boot, or a stack started by hand).
fn in_use(unit: &str) -> bool {
    systemctl_says("is-enabled", unit) || systemctl_says("is-active", unit)
}

/// Why a `zone` guest cannot work on this host, if it cannot: only systemd-networkd configures
/// nspawn's vz-* bridges (DHCP, NAT, via its stock 80-container-vz.network); NetworkManager
/// leaves them alone. Unknown states (no systemd to ask) refuse nothing.
pub fn zone_problem(networkd_in_use: bool, networkmanager_in_use: bool) -> Option<&'static str> {
    (networkmanager_in_use && !networkd_in_use).then_some(
        "network.mode = \"zone\" needs systemd-networkd (it gives nspawn's vz-* bridges DHCP and NAT), and this host runs NetworkManager without it: use mode = \"veth\" or \"bridge\"",
    )
}

/// The same question about the running host.
pub fn zone_problem_here() -> Option<&'static str> {
    zone_problem(
        in_use("systemd-networkd.service"),
        in_use("NetworkManager.service"),
    )
}

/// NetworkManager wins: Fedora Atomic hosts run it (CoreOS ships no networkd), and two stacks
/// must not manage one bridge.
pub fn detect_backend(wanted: Backend) -> Option<Backend> {
    match wanted {
        Backend::Auto if in_use("NetworkManager.service") => Some(Backend::Networkmanager),
        Backend::Auto if in_use("systemd-networkd.service") => Some(Backend::Networkd),
        Backend::Auto => None,
        explicit => Some(explicit),
    }
}

/// Which stack configures the host side of veth links. systemd-networkd does it by itself (its
/// stock 80-container-ve.network) and wins when it runs: NetworkManager leaves `ve-*` alone then
/// anyway (85-nm-unmanaged.rules), and two stacks must not manage one link.
fn veth_stack(explicit: Option<Backend>) -> Option<Backend> {
    match explicit {
        Some(Backend::Auto) | None if in_use("systemd-networkd.service") => Some(Backend::Networkd),
        Some(Backend::Auto) | None if in_use("NetworkManager.service") => {
            Some(Backend::Networkmanager)
        }
        Some(Backend::Auto) | None => None,
        Some(b) => Some(b),
    }
}

/// Where NetworkManager's shared mode may look for dnsmasq: its build-time DNSMASQ_PATH is
/// /usr/sbin/dnsmasq in Debian 12's NetworkManager 1.42 (the string in its binary); /usr/bin
/// covers distributions that merged sbin into bin.
const DNSMASQ: &[&str] = &["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"];

/// The NetworkManager files for the veth guests, and what to tell the administrator.
fn veth_files(
    loaded: &config::Loaded,
    root: &Path,
    stack: Option<Backend>,
    machine_id: &str,
) -> (NmVethFiles, Vec<String>) {
    let guests = veth_guests(loaded);
    if guests.is_empty() {
        return (NmVethFiles::default(), Vec::new());
    }
    let names = guests
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    match stack {
        Some(Backend::Networkmanager) => {
            let mask = format!("/etc/NetworkManager/conf.d/{NM_VETH_CONF}");
            if under_root(root, &mask).symlink_metadata().is_ok() {
                return (
                    NmVethFiles::default(),
                    vec![format!(
                        "{mask} masks ours: the host side of the veth guests ({names}) is left to your NetworkManager configuration"
                    )],
                );
            }
            let mut notes = Vec::new();
            if !DNSMASQ.iter().any(|p| under_root(root, p).exists()) {
                notes.push(format!(
                    "warning: dnsmasq is not installed ({}): NetworkManager's shared mode needs it to give the veth guests ({names}) addresses; install dnsmasq (Debian: dnsmasq-base)",
                    DNSMASQ.join(", ")
                ));
            }
            let list: Vec<VethGuest<'_>> = guests
                .iter()
                .map(|(name, source)| VethGuest { name, source })
                .collect();
            (networkmanager_veth(&list, machine_id), notes)
        }
        Some(Backend::Networkd | Backend::Auto) => (
            NmVethFiles::default(),
            vec![format!(
                "veth guests ({names}): systemd-networkd configures their host side (80-container-ve.network)"
            )],
        ),
        None => (
            NmVethFiles::default(),
            vec![format!(
                "no network stack is enabled: nothing configures the host side of the veth guests ({names})"
            )],
        ),
    }
}

/// What a running stack must re-read after its files changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reload {
    Networkd,
    /// `nmcli connection reload`: keyfiles are read at start or on request only.
    NmConnections,
    /// `nmcli general reload conf` (NetworkManager ≥ 1.22): NetworkManager.conf and conf.d, as
    /// SIGHUP does but synchronously and without touching DNS. After the keyfiles, so a device
    /// that becomes managed finds its profile.
    NmConf,
}

/// One directory we keep: the files we want there, which existing names are ours (all others
/// are never touched), their mode, and what a change needs reloaded.
struct Target {
    dir: PathBuf,
    files: BTreeMap<String, String>,
    ours: fn(&str) -> bool,
    mode: u32,
    reload: Reload,
}

/// Files of ours in a bridge's directory (both backends' names; NetworkManager's includes the
/// veth profiles, which share the keyfile directory).
fn ours(name: &str) -> bool {
    name.starts_with(NETWORKD_PREFIX)
        || (name.starts_with(NM_PREFIX) && name.ends_with(".nmconnection"))
}

fn ours_veth_keyfile(name: &str) -> bool {
    name.starts_with(NM_VETH_PREFIX) && name.ends_with(".nmconnection")
}

fn ours_veth_conf(name: &str) -> bool {
    name == NM_VETH_CONF
}

/// What `sync_dir` did.
#[derive(Debug, Default)]
pub struct Synced {
    pub written: Vec<String>,
    pub removed: Vec<String>,
}

impl Synced {
    pub fn changed(&self) -> bool {
        !self.written.is_empty() || !self.removed.is_empty()
    }
}

/// Makes our files in `dir` exactly `files`: writes those whose content or mode differs
/// (atomically, with `mode`) and removes the names `ours` claims that are no longer wanted.
/// Other files in `dir` are never touched, and a missing `dir` with nothing to write stays
/// missing (no NetworkManager directories on a networkd host).
pub fn sync_dir(
    dir: &Path,
    files: &BTreeMap<String, String>,
    mode: u32,
    ours: fn(&str) -> bool,
) -> Result<Synced> {
    let mut done = Synced::default();
    if files.is_empty() && !dir.exists() {
        return Ok(done);
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let fd = atomic::open_dir(dir).with_context(|| format!("opening {}", dir.display()))?;
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let name = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if ours(&name) && !files.contains_key(&name) {
            fs::remove_file(dir.join(&name))
                .with_context(|| format!("removing {}", dir.join(&name).display()))?;
            done.removed.push(name);
        }
    }
    for (name, text) in files {
        let path = dir.join(name);
        // Unchanged files are left alone: the helper runs at every start of a guest, and only
        // a change should make the network stack reload.
        let same = fs::read(&path).is_ok_and(|old| old == text.as_bytes())
            && fs::symlink_metadata(&path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o7777 == mode);
        if same {
            continue;
        }
        let opts = atomic::Options {
            mode,
            exact_mode: true,
            // `/run` is a tmpfs: nothing to sync to.
            sync: false,
        };
        atomic::replace_at(&fd, name, text.as_bytes(), opts)
            .with_context(|| format!("writing {}", path.display()))?;
        done.written.push(name.clone());
    }
    Ok(done)
}

fn reload(what: Reload) -> Result<()> {
    let (unit, cmd): (&str, &[&str]) = match what {
        Reload::Networkd => ("systemd-networkd.service", &["networkctl", "reload"]),
        Reload::NmConnections => ("NetworkManager.service", &["nmcli", "connection", "reload"]),
        Reload::NmConf => (
            "NetworkManager.service",
            &["nmcli", "general", "reload", "conf"],
        ),
    };
    // At boot we run before the stack starts and it reads the files itself.
    if !systemctl_says("is-active", unit) {
        return Ok(());
    }
    let (prog, args) = cmd.split_first().context("empty reload command")?;
    let status = Command::new(prog)
        .args(args)
        .status()
        .with_context(|| format!("running {}", cmd.join(" ")))?;
    if !status.success() {
        bail!("{} failed: {status}", cmd.join(" "));
    }
    Ok(())
}

/// Returns the exit status.
pub fn run(args: &Args) -> i32 {
    let root = env_path(ENV_ROOT, "/");
    let run = env_path(ENV_RUN, "/run");
    let loaded = config::load(&root);
    let mut status = 0;
    for b in &loaded.bridges {
        if let Err(e) = &b.settings {
            eprintln!("{e}\nbridge {}: not configured until this is fixed", b.name);
            status = EXIT_INVALID;
        }
    }
    let managed = loaded
        .bridges
        .iter()
        .any(|b| b.settings.as_ref().is_ok_and(|c| c.managed));
    let wanted = args.backend.unwrap_or_else(|| {
        loaded
            .bridges
            .iter()
            .filter_map(|b| b.settings.as_ref().ok())
            .map(|c| c.backend)
            .find(|b| *b != Backend::Auto)
            .unwrap_or(Backend::Auto)
    });
    let machine_id = fs::read_to_string(under_root(&root, "/etc/machine-id")).unwrap_or_default();
    let (veth, notes) = veth_files(&loaded, &root, veth_stack(args.backend), &machine_id);
    for note in &notes {
        eprintln!("{note}");
    }
    let Some(backend) = detect_backend(wanted) else {
        if managed {
            eprintln!(
                "no network stack is enabled (neither NetworkManager.service nor systemd-networkd.service): cannot configure the declared bridges; enable one, or set backend in the declaration"
            );
            return EXIT_NO_BACKEND;
        }
        return status;
    };
    let targets = plan(
        backend,
        &run,
        render_all(&loaded.bridges, backend, &machine_id),
        veth,
    );
    if args.dry_run {
        for t in &targets {
            for (name, text) in &t.files {
                println!("---{}---\n{text}", t.dir.join(name).display());
            }
        }
        return status;
    }
    if let Err(e) = sync(&targets) {
        eprintln!("{e:#}");
        return EXIT_FAILED;
    }
    status
}

/// The directories to keep under `run` and the files each must hold, from the rendered bridge
/// files and the veth guests' NetworkManager files; deciding only, so it is tested without a
/// host. Every directory we may have written before is listed, also with no files, so that a
/// sync removes what is left of bridges and guests that are gone.
fn plan(
    backend: Backend,
    run: &Path,
    bridge_files: BTreeMap<String, String>,
    veth: NmVethFiles,
) -> Vec<Target> {
    let nm_keyfiles = run.join("NetworkManager/system-connections");
    let mut targets = Vec::new();
    // NetworkManager ignores keyfiles others can read; systemd-networkd reads its files as the
    // systemd-network user, so they must be readable by all (they hold no secrets), and so
    // must NetworkManager.conf snippets.
    match backend {
        Backend::Networkmanager => {
            let mut files = bridge_files;
            files.extend(veth.keyfiles);
            targets.push(Target {
                dir: nm_keyfiles,
                files,
                ours,
                mode: 0o600,
                reload: Reload::NmConnections,
            });
        }
        Backend::Networkd | Backend::Auto => {
            targets.push(Target {
                dir: run.join("systemd/network"),
                files: bridge_files,
                ours,
                mode: 0o644,
                reload: Reload::Networkd,
            });
            targets.push(Target {
                dir: nm_keyfiles,
                files: veth.keyfiles,
                ours: ours_veth_keyfile,
                mode: 0o600,
                reload: Reload::NmConnections,
            });
        }
    }
    targets.push(Target {
        dir: run.join("NetworkManager/conf.d"),
        files: veth
            .conf
            .map(|c| BTreeMap::from([(NM_VETH_CONF.to_owned(), c)]))
            .unwrap_or_default(),
        ours: ours_veth_conf,
        mode: 0o644,
        reload: Reload::NmConf,
    });
    targets
}

/// Makes the directories what `plan` decided, then has a running stack reload what changed
/// and moves declared uplinks under their bridges. Stops at the first write or reload that
/// fails; a port that cannot be activated is only a warning.
fn sync(targets: &[Target]) -> Result<()> {
    let mut reloads = BTreeSet::new();
    let mut moved_ports = Vec::new();
    for t in targets {
        let done = sync_dir(&t.dir, &t.files, t.mode, t.ours)?;
        if t.reload == Reload::NmConnections {
            moved_ports.extend(port_ids(&done.written, &t.files));
        }
        for r in &done.removed {
            eprintln!(
                "removed {} (its bridge or guest is gone)",
                t.dir.join(r).display()
            );
        }
        if done.changed() {
            reloads.insert(t.reload);
        }
        if !t.files.is_empty() {
            eprintln!(
                "{} file(s) in {} ({} changed)",
                t.files.len(),
                t.dir.display(),
                done.written.len()
            );
        }
    }
    for r in reloads {
        reload(r)?;
    }
    for id in &moved_ports {
        if let Err(e) = activate(id) {
            // The uplink may be absent (a USB NIC unplugged): the bridge still serves its guests,
            // and NetworkManager attaches the port when the device appears.
            eprintln!("warning: {e:#}");
        }
    }
    Ok(())
}

/// The connection ids of bridge-port keyfiles among `written`: a running NetworkManager keeps an
/// uplink on the profile it is connected with (often its "Wired connection 1"), so a port
/// declared after boot must be activated to move the uplink under its bridge.
fn port_ids(written: &[String], files: &BTreeMap<String, String>) -> Vec<String> {
    written
        .iter()
        .filter(|name| {
            files
                .get(*name)
                .is_some_and(|text| text.lines().any(|l| l == "slave-type=bridge"))
        })
        .filter_map(|name| name.strip_suffix(".nmconnection").map(str::to_owned))
        .collect()
}

fn activate(id: &str) -> Result<()> {
    if !systemctl_says("is-active", "NetworkManager.service") {
        return Ok(());
    }
    let cmd = ["nmcli", "--wait", "30", "connection", "up", "id", id];
    let status = Command::new(cmd[0])
        .args(&cmd[1..])
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("running {}", cmd.join(" ")))?;
    if !status.success() {
        bail!("{} failed: {status}", cmd.join(" "));
    }
    eprintln!("activated {id}: its uplink is now a port of its bridge");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> BTreeMap<String, String> {
        names
            .iter()
            .map(|n| ((*n).to_owned(), format!("{n}\n")))
            .collect()
    }

    fn summary(targets: &[Target]) -> Vec<(String, Vec<String>, u32, Reload)> {
        targets
            .iter()
            .map(|t| {
                (
                    t.dir.display().to_string(),
                    t.files.keys().cloned().collect(),
                    t.mode,
                    t.reload,
                )
            })
            .collect()
    }

    #[test]
    fn plan_keeps_every_directory_we_may_have_written() {
        let veth = NmVethFiles {
            conf: Some("[device]\n".to_owned()),
            keyfiles: files(&["ostree-guests-veth@web.nmconnection"]),
        };
        let bridges = files(&["ostree-guests-br0.nmconnection"]);
        let nm = plan(
            Backend::Networkmanager,
            Path::new("/run"),
            bridges,
            veth.clone(),
        );
        // One keyfile directory for bridges and veth profiles, private as NetworkManager wants.
        assert_eq!(
            summary(&nm),
            [
                (
                    "/run/NetworkManager/system-connections".to_owned(),
                    vec![
                        "ostree-guests-br0.nmconnection".to_owned(),
                        "ostree-guests-veth@web.nmconnection".to_owned()
                    ],
                    0o600,
                    Reload::NmConnections
                ),
                (
                    "/run/NetworkManager/conf.d".to_owned(),
                    vec![NM_VETH_CONF.to_owned()],
                    0o644,
                    Reload::NmConf
                ),
            ]
        );
        let networkd = plan(
            Backend::Networkd,
            Path::new("/run"),
            files(&["ostree-guests-br0.netdev"]),
            NmVethFiles::default(),
        );
        // Nothing for NetworkManager, but its directories are still listed so stale files go.
        assert_eq!(
            summary(&networkd),
            [
                (
                    "/run/systemd/network".to_owned(),
                    vec!["ostree-guests-br0.netdev".to_owned()],
                    0o644,
                    Reload::Networkd
                ),
                (
                    "/run/NetworkManager/system-connections".to_owned(),
                    vec![],
                    0o600,
                    Reload::NmConnections
                ),
                (
                    "/run/NetworkManager/conf.d".to_owned(),
                    vec![],
                    0o644,
                    Reload::NmConf
                ),
            ]
        );
        // On a networkd host only the veth profiles are ours among NetworkManager's keyfiles.
        let Some(keyfiles) = networkd.get(1) else {
            panic!("no keyfile target");
        };
        assert!((keyfiles.ours)("ostree-guests-veth@web.nmconnection"));
        assert!(!(keyfiles.ours)("ostree-guests-br0.nmconnection"));
    }

    #[test]
    fn only_written_bridge_ports_are_activated() {
        let files = BTreeMap::from([
            (
                "ostree-guests-br0.nmconnection".to_owned(),
                "[connection]\ntype=bridge\n".to_owned(),
            ),
            (
                "ostree-guests-br0-port0.nmconnection".to_owned(),
                "[connection]\nmaster=br0\nslave-type=bridge\n".to_owned(),
            ),
            (
                "ostree-guests-br0-port1.nmconnection".to_owned(),
                "[connection]\nmaster=br0\nslave-type=bridge\n".to_owned(),
            ),
        ]);
        let written = vec![
            "ostree-guests-br0.nmconnection".to_owned(),
            "ostree-guests-br0-port1.nmconnection".to_owned(),
        ];
        assert_eq!(port_ids(&written, &files), ["ostree-guests-br0-port1"]);
    }

    #[test]
    fn zone_guests_are_refused_only_on_networkmanager_only_hosts() {
        assert!(zone_problem(false, true).is_some());
        assert_eq!(zone_problem(true, true), None);
        assert_eq!(zone_problem(true, false), None);
        // nothing known (no systemd): let nspawn try
        assert_eq!(zone_problem(false, false), None);
    }
}
