//! Guest configuration: discovery over the search path, per-file validation, layering of
//! drop-ins, and the checks that need the whole picture (several keys, several guests).

mod bridge;
mod claims;
mod discover;
mod error;
mod layer;
mod model;
mod perms;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use bridge::{
    BRIDGE_KEYS, Backend, Bridge, BridgeConfig, IpAddress, IpPrefix, MacAddress, Uplink,
    derived_mac,
};
pub use discover::{BRIDGE_SUFFIX, GuestSources, Source, discover};
pub use error::ConfigError;
pub use layer::MAX_FILE_SIZE;
pub use model::{
    Bind, GuestConfig, KEYS, Network, NetworkMode, PrivateUsers, Profile, Resources, RestartPolicy,
    Security,
};
pub use values::{
    BindSource, BindTarget, Capability, CpuQuota, IoWeight, MemorySize, PinSpec, PortForward,
    SecurityLabel, Stateroot, SyscallToken, TasksMax, TimeSpan, ZoneName,
};

use crate::name::{InterfaceName, MachineName};

/// A guest whose files were found, with either its valid settings or the first problem.
#[derive(Debug, Clone)]
pub struct Guest {
    pub name: MachineName,
    /// Main file first, then drop-ins in the order they apply (booted-system paths).
    pub sources: Vec<PathBuf>,
    pub settings: Result<Settings, ConfigError>,
}

/// A valid guest configuration with its defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub stateroot: Stateroot,
    pub config: GuestConfig,
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub guests: Vec<Guest>,
    /// Declared host bridges (`NAME.bridge.toml`).
    pub bridges: Vec<Bridge>,
    /// Files that cannot become a guest at all (invalid machine name): message only.
    pub unnamed: Vec<ConfigError>,
    /// Non-fatal findings (unreadable directory, a directory named like a config file).
    pub warnings: Vec<String>,
}

impl Loaded {
    pub fn guest(&self, name: &str) -> Option<&Guest> {
        self.guests.iter().find(|g| g.name.as_str() == name)
    }

    pub fn has_errors(&self) -> bool {
        !self.unnamed.is_empty()
            || self.guests.iter().any(|g| g.settings.is_err())
            || self.bridges.iter().any(|b| b.settings.is_err())
    }
}

/// Loads every guest from the search path under `root` (`/` on a real system).
pub fn load(root: &Path) -> Loaded {
    let found = discover(root);
    let mut loaded = Loaded {
        warnings: found
            .problems
            .iter()
            .map(|(p, m)| format!("{}: {m}", p.display()))
            .collect(),
        ..Loaded::default()
    };
    for (name, source) in &found.bridges {
        // Checked before reading, as for guests: a refused file is never opened.
        let text = match &source.insecure {
            Some(why) => Err(ConfigError::file(&source.logical, why.clone())),
            None => read_bounded(source),
        };
        loaded.bridges.push(bridge::load(name, source, text));
    }
    claims::refuse_shared_uplinks(&mut loaded.bridges);
    bridge::refuse_colliding_names(&mut loaded.bridges);
    let known_bridges: BTreeMap<String, Option<PathBuf>> = loaded
        .bridges
        .iter()
        .map(|b| {
            (
                b.name.clone(),
                b.settings.is_err().then(|| b.source.clone()),
            )
        })
        .collect();
    for sources in found.guests {
        let name = match MachineName::parse(&sources.stem) {
            Ok(n) => n,
            Err(e) => {
                loaded.unnamed.push(ConfigError::file(
                    &sources.main.logical,
                    format!(
                        "{e}; the file name (without .toml) is the machine name, so no unit can be generated for it"
                    ),
                ));
                continue;
            }
        };
        let settings = load_guest(&name, &sources, &known_bridges);
        let mut paths = vec![sources.main.logical.clone()];
        paths.extend(sources.dropins.iter().map(|s| s.logical.clone()));
        loaded.guests.push(Guest {
            name,
            sources: paths,
            settings,
        });
    }
    claims::refuse_shared_stateroots(&mut loaded.guests);
    loaded
}

fn read_bounded(source: &Source) -> Result<String, ConfigError> {
    let fail = |m: String| ConfigError::file(&source.logical, m);
    let file = source
        .open()
        .map_err(|e| fail(format!("cannot open: {e}")))?;
    let expected = usize::try_from(source.len.min(MAX_FILE_SIZE)).unwrap_or_default();
    let mut bytes = Vec::new();
    let n = crate::short_read::read_whole(&file, &mut bytes, expected, MAX_FILE_SIZE)
        .map_err(|e| fail(format!("cannot read: {e}")))?;
    bytes.truncate(n);
    // Kept without a copy when valid; otherwise checked_text says what is wrong with it.
    match String::from_utf8(bytes) {
        Ok(text) if text.len() as u64 <= MAX_FILE_SIZE => Ok(text),
        Ok(text) => checked_text(&source.logical, text.as_bytes()).map(str::to_owned),
        Err(e) => checked_text(&source.logical, e.as_bytes()).map(str::to_owned),
    }
}

/// A config file's bytes as text: bounded in size, UTF-8.
fn checked_text<'b>(file: &Path, bytes: &'b [u8]) -> Result<&'b str, ConfigError> {
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(ConfigError::file(
            file,
            format!(
                "file is larger than {} KiB; a guest configuration is a few lines",
                MAX_FILE_SIZE / 1024
            ),
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        ConfigError::file(
            file,
            format!(
                "not valid UTF-8 (byte offset {}); TOML files must be UTF-8",
                e.valid_up_to()
            ),
        )
    })
}

/// Declared bridges by name; `Some(file)` marks a declaration that is itself invalid.
type KnownBridges = BTreeMap<String, Option<PathBuf>>;

fn load_guest(
    name: &MachineName,
    sources: &GuestSources,
    bridges: &KnownBridges,
) -> Result<Settings, ConfigError> {
    let all: Vec<&Source> = std::iter::once(&sources.main)
        .chain(sources.dropins.iter())
        .collect();
    if let Some(s) = all.iter().find(|s| s.insecure.is_some()) {
        let why = s.insecure.as_deref().unwrap_or_default();
        return Err(ConfigError::file(&s.logical, why));
    }
    let texts = all
        .iter()
        .map(|s| read_bounded(s))
        .collect::<Result<Vec<_>, _>>()?;
    let files: Vec<(&Path, &str)> = all
        .iter()
        .zip(&texts)
        .map(|(s, t)| (s.logical.as_path(), t.as_str()))
        .collect();
    settings_from_texts(name, &files, bridges)
}

/// A guest's settings from its files' contents, without the file system: the same checks as
/// [`load`] for one guest, with no bridge declared. `files` is the main file first, then its
/// drop-ins in the order they apply. For validating text that is not installed, and fuzzing.
pub fn load_texts(name: &MachineName, files: &[(&Path, &[u8])]) -> Result<Settings, ConfigError> {
    let texts = files
        .iter()
        .map(|(p, bytes)| checked_text(p, bytes).map(|t| (*p, t)))
        .collect::<Result<Vec<_>, _>>()?;
    settings_from_texts(name, &texts, &KnownBridges::new())
}

/// [`load_texts`] without the single-file shortcut: what the shortcut must agree with.
pub(crate) fn load_texts_layered(
    name: &MachineName,
    files: &[(&Path, &[u8])],
) -> Result<Settings, ConfigError> {
    let texts = files
        .iter()
        .map(|(p, bytes)| checked_text(p, bytes).map(|t| (*p, t)))
        .collect::<Result<Vec<_>, _>>()?;
    settings_from_layers(name, &texts, &KnownBridges::new())
}

/// Parse and validate each file, merge them in order, then the checks that need the merged
/// result; the stateroot defaults to the machine name.
fn settings_from_texts(
    name: &MachineName,
    files: &[(&Path, &str)],
    bridges: &KnownBridges,
) -> Result<Settings, ConfigError> {
    match files {
        [(_, text)] => single_file_settings(name, text, bridges)
            .map_or_else(|| settings_from_layers(name, files, bridges), Ok),
        _ => settings_from_layers(name, files, bridges),
    }
}

/// The usual guest, one valid file without `x-` keys, read straight into the model: no spans,
/// no key paths, no copy of the parsed table. That was half of the generator's work per guest.
/// `None` for anything else, and [`settings_from_layers`] then does it all again with the
/// positions an error message needs; for a valid file both give the same settings (a unit test
/// over the test configurations and the `config_render` fuzz target check that).
fn single_file_settings(
    name: &MachineName,
    text: &str,
    bridges: &KnownBridges,
) -> Option<Settings> {
    // `x-` keys are stripped by the layered path (in `[environment]` too). Here they would be
    // unknown fields or invalid variable names and fail anyway; the guard keeps the shortcut
    // from depending on that.
    if text.contains("x-") {
        return None;
    }
    let config: GuestConfig = toml::from_str(text).ok()?;
    check_combinations(&config, bridges, |_, m| ConfigError::file("", m)).ok()?;
    let stateroot = match &config.stateroot {
        Some(s) => s.clone(),
        None => Stateroot::try_from(name.as_str().to_owned()).ok()?,
    };
    Some(Settings { stateroot, config })
}

fn settings_from_layers(
    name: &MachineName,
    files: &[(&Path, &str)],
    bridges: &KnownBridges,
) -> Result<Settings, ConfigError> {
    let main = files
        .first()
        .map(|(p, _)| *p)
        .ok_or_else(|| ConfigError::file("", "no configuration"))?;
    let (layers, mut own): (Vec<_>, Vec<GuestConfig>) = files
        .iter()
        .map(|(p, t)| layer::parse_validated(p, t))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .unzip();
    let config = match own.pop() {
        // A single file was validated on its own already: it is the configuration.
        Some(config) if own.is_empty() => config,
        _ => {
            let mut merged = layers
                .first()
                .map(|l| l.table.clone())
                .ok_or_else(|| ConfigError::file(main, "no configuration"))?;
            for upper in layers.iter().skip(1) {
                layer::merge(merged.get_mut(), upper.table.get_ref());
            }
            layer::deserialize(merged).map_err(|(key, e)| ConfigError {
                file: main.to_owned(),
                line: None,
                key,
                message: e.message().to_owned(),
            })?
        }
    };
    let located = |key: &str, message: String| locate(&layers, key, message);
    check_combinations(&config, bridges, located)?;
    let stateroot = match &config.stateroot {
        Some(s) => s.clone(),
        // Every valid machine name is also a valid stateroot name.
        None => {
            Stateroot::try_from(name.as_str().to_owned()).map_err(|m| ConfigError::file(main, m))?
        }
    };
    Ok(Settings { stateroot, config })
}

/// The error at the place that set `key`: the last layer that mentions it wins the merge.
fn locate(layers: &[layer::Layer<'_>], key: &str, message: String) -> ConfigError {
    for l in layers.iter().rev() {
        if let Some(line) = layer::find_key_line(l, key) {
            return ConfigError {
                file: l.file.to_owned(),
                line: Some(line),
                key: Some(key.to_owned()),
                message,
            };
        }
    }
    let file = layers
        .first()
        .map(|l| l.file.to_owned())
        .unwrap_or_default();
    ConfigError {
        file,
        line: None,
        key: Some(key.to_owned()),
        message,
    }
}

/// Sources that would hand the guest the host's physical root (other stateroots, the host's
/// /var, the repository whose files are the host's own /usr), or, through /proc's links, any
/// process's root. The helper checks the real path again at every start.
const FORBIDDEN_SOURCES: &[&str] = &["/", "/sysroot", "/ostree", "/proc"];

/// `path` as the kernel reads it: repeated and trailing slashes carry no meaning, so `//usr`
/// must be checked as `/usr` (`.` and `..` are refused when the value is read).
fn normalized(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

fn under(path: &str, dir: &str) -> bool {
    path == dir || dir == "/" || path.starts_with(&format!("{dir}/"))
}

/// Why the (normalized) host path `source` may not be bound, judged on its string; the helper
/// judges the real path.
fn host_source_refusal(source: &str, read_only: bool, boot_writable: bool) -> Option<String> {
    if let Some(f) = FORBIDDEN_SOURCES.iter().find(|f| {
        if **f == "/" {
            source == "/"
        } else {
            under(source, f)
        }
    }) {
        let what = if *f == "/proc" {
            "/proc, whose links reach every process's root directory".to_owned()
        } else {
            format!(
                "the host's physical root under {f} (other stateroots, the host's /var, the OSTree repository)"
            )
        };
        return Some(format!(
            "binding {source} would expose {what}; bind a directory of its own instead"
        ));
    }
    if under(source, "/boot") && !read_only && !boot_writable {
        return Some(format!(
            "binding {source} read-write would let the guest change the host's kernels and boot entries; add read-only = true, or set boot-writable = true"
        ));
    }
    None
}
const MAX_DESCRIPTION: usize = 512;

/// Targets a bind must not cover: the guest's own OS, API filesystems and what we mount.
const RESERVED_TARGETS: &[&str] = &[
    "/", "/usr", "/etc", "/var", "/boot", "/proc", "/sys", "/dev", "/run", "/sysroot", "/ostree",
];

fn check_combinations(
    c: &GuestConfig,
    bridges: &KnownBridges,
    err: impl Fn(&str, String) -> ConfigError,
) -> Result<(), ConfigError> {
    if let Some(d) = &c.description {
        crate::unit::check_line(d).map_err(|e| err("description", e.to_string()))?;
        if d.chars().count() > MAX_DESCRIPTION {
            return Err(err(
                "description",
                format!(
                    "is {} characters long; at most {MAX_DESCRIPTION}",
                    d.chars().count()
                ),
            ));
        }
    }
    let net = &c.network;
    match (net.mode, &net.bridge, &net.zone) {
        (NetworkMode::Bridge, None, _) => {
            return Err(err(
                "network.mode",
                "mode = \"bridge\" needs the bridge's name: add bridge = \"br0\" to [network]"
                    .into(),
            ));
        }
        (NetworkMode::Zone, _, None) => {
            return Err(err(
                "network.mode",
                "mode = \"zone\" needs a zone name: add zone = \"NAME\" to [network]".into(),
            ));
        }
        (m, Some(_), _) if m != NetworkMode::Bridge => {
            return Err(err(
                "network.bridge",
                format!(
                    "bridge is set but mode is \"{}\"; set mode = \"bridge\" or remove bridge",
                    m.as_str()
                ),
            ));
        }
        (m, _, Some(_)) if m != NetworkMode::Zone => {
            return Err(err(
                "network.zone",
                format!(
                    "zone is set but mode is \"{}\"; set mode = \"zone\" or remove zone",
                    m.as_str()
                ),
            ));
        }
        _ => {}
    }
    if let Some(b) = &net.bridge {
        InterfaceName::try_from(b.clone()).map_err(|m| err("network.bridge", m))?;
        match bridges.get(b) {
            None => {
                return Err(err(
                    "network.bridge",
                    format!(
                        "bridge \"{b}\" is not declared: create {b}{BRIDGE_SUFFIX} in {} (managed = false if your own network configuration creates it)",
                        crate::paths::CONFIG_DIRS
                            .first()
                            .copied()
                            .unwrap_or_default()
                    ),
                ));
            }
            Some(Some(file)) => {
                return Err(err(
                    "network.bridge",
                    format!(
                        "bridge \"{b}\" is declared in {} but that declaration is invalid",
                        file.display()
                    ),
                ));
            }
            Some(None) => {}
        }
    }
    if !net.ports.is_empty() && !net.mode.supports_ports() {
        return Err(err(
            "network.ports",
            format!(
                "port forwards need a private network (veth, bridge or zone), but mode is \"{}\"",
                net.mode.as_str()
            ),
        ));
    }
    for (i, b) in c.bind.iter().enumerate() {
        if b.source.in_guest() {
            continue;
        }
        let source = normalized(b.source.path());
        if let Some(why) = host_source_refusal(&source, b.read_only, c.boot_writable) {
            return Err(err(&format!("bind[{i}].source"), why));
        }
    }
    for (i, b) in c.bind.iter().enumerate() {
        let target = normalized(b.target());
        let covered = RESERVED_TARGETS.iter().find(|r| {
            target == **r || (**r != "/" && **r != "/var" && target.starts_with(&format!("{r}/")))
        });
        if let Some(r) = covered {
            let key = if b.target.is_some() {
                "target"
            } else {
                "source"
            };
            return Err(err(
                &format!("bind[{i}].{key}"),
                format!("a bind onto {target} would cover the guest's {r}; choose another target"),
            ));
        }
    }
    for (name, value) in &c.environment {
        let key = format!("environment.{name}");
        let valid_name = name.len() <= 128
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(err(
                &key,
                format!(
                    "invalid variable name {name:?}: use ASCII letters, digits and '_', not starting with a digit"
                ),
            ));
        }
        if value.chars().any(|c| c.is_control()) || value.len() > 4096 {
            return Err(err(
                &key,
                "the value must be at most 4096 bytes without control characters".into(),
            ));
        }
    }
    if c.ostree_tools && c.boot_writable {
        return Err(err(
            "ostree-tools",
            "ostree-tools and boot-writable together would let `ostree admin deploy` in the guest rewrite the host's boot entries; drop one".into(),
        ));
    }
    if c.security.private_users == Some(PrivateUsers::Idmap) {
        if c.profile == Profile::Kubernetes {
            return Err(err(
                "security.private-users",
                "the kubernetes profile needs real root in the guest (runc, cgroups, /dev/kmsg); remove private-users (the profile implies \"no\") or set it to \"no\"".into(),
            ));
        }
        if c.bind_dev {
            return Err(err(
                "security.private-users",
                "bind-dev needs real root in the guest: the host's device nodes belong to the host's root, which a user namespace cannot map; remove private-users (bind-dev implies \"no\") or drop bind-dev".into(),
            ));
        }
    }
    Ok(())
}

/// Settings that widen what the guest can reach on the host; the generator logs them on every
/// run, so a weakened guest is never a surprise.
pub fn isolation_warnings(c: &GuestConfig) -> Vec<String> {
    let mut w = Vec::new();
    if c.privileged() {
        let why = match c.security.private_users {
            Some(_) => "security.private-users = \"no\"",
            None if c.profile == Profile::Kubernetes => {
                "profile = \"kubernetes\" (implies private-users = \"no\")"
            }
            None => "bind-dev (implies private-users = \"no\")",
        };
        w.push(format!("{why}: privileged guest, its root is the host's root and can remount /usr and /boot and write the host's OS"));
    }
    if c.network.mode == NetworkMode::Host {
        w.push("network.mode = \"host\": the guest shares the host's network interfaces and can bind its ports".to_owned());
    }
    if c.boot_writable {
        w.push(
            "boot-writable: the guest can change the host's boot entries and kernels".to_owned(),
        );
    }
    if c.bind_dev {
        w.push(
            "bind-dev: the guest sees all host devices and the device cgroup is opened".to_owned(),
        );
    }
    if c.profile == Profile::Kubernetes {
        w.push("profile = \"kubernetes\": all capabilities, writable /proc/sys, /dev/kmsg and an open device cgroup".to_owned());
    }
    if c.ostree_tools {
        w.push("ostree-tools: the guest can read the host's physical root (all stateroots, the repository)".to_owned());
    }
    if c.security
        .capabilities
        .iter()
        .any(|cap| cap.as_str() == "all")
    {
        w.push("security.capabilities = [\"all\"]: the guest keeps every capability".to_owned());
    }
    w
}
