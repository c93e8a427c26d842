//! Guest configuration: discovery over the search path, per-file validation and layering of
//! drop-ins into each guest's settings. The checks that need the whole picture (several keys,
//! several guests) are in `checks.rs`.

mod bridge;
mod checks;
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
pub use checks::isolation_warnings;
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

use crate::name::MachineName;

use checks::check_combinations;

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
    load_selected(root, None)
}

/// What starting guest `name` needs of `load`: its own entry exactly as `load` gives it, all
/// bridge declarations and the names that are not machine names, but of the other guests only
/// those that may claim its stateroot (see `may_claim`), so that a start does not parse every
/// guest's files. The other guests in the result are not all of them: use `load` for anything
/// but this one guest.
pub fn load_for(root: &Path, name: &str) -> Loaded {
    load_selected(root, Some(name))
}

/// Whether the guest of `sources` could claim stateroot `wanted`: only a valid guest claims one,
/// and its stateroot is its name unless a file sets the key. A file can set it to `wanted` only
/// if it holds both texts, or a backslash (a quoted key or a string could hide either behind an
/// escape); any other guest is only read, not parsed. Refused and unreadable files make a
/// guest invalid, so such a guest claims nothing.
fn may_claim(sources: &GuestSources, wanted: &str) -> bool {
    let all = || std::iter::once(&sources.main).chain(sources.dropins.iter());
    if all().any(|s| s.insecure.is_some()) {
        return false;
    }
    if sources.stem == wanted {
        return true;
    }
    all().any(|s| {
        read_bounded(s)
            .is_ok_and(|t| (t.contains("stateroot") && t.contains(wanted)) || t.contains('\\'))
    })
}

fn load_selected(root: &Path, only: Option<&str>) -> Loaded {
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
    // For one guest: its settings, loaded first because its stateroot decides which of the
    // other guests must be loaded too.
    let mut own = None;
    let mut claim = None;
    if let Some(wanted) = only
        && let Some((i, sources)) = found
            .guests
            .iter()
            .enumerate()
            .find(|(_, s)| s.stem == wanted)
        && let Ok(name) = MachineName::parse(&sources.stem)
    {
        let settings = load_guest(&name, sources, &known_bridges);
        claim = settings
            .as_ref()
            .ok()
            .map(|s| s.stateroot.as_str().to_owned());
        own = Some((i, settings));
    }
    for (i, sources) in found.guests.into_iter().enumerate() {
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
        let settings = match own.take_if(|(j, _)| *j == i) {
            Some((_, settings)) => settings,
            None if only.is_some() && !claim.as_deref().is_some_and(|c| may_claim(&sources, c)) => {
                continue;
            }
            None => load_guest(&name, &sources, &known_bridges),
        };
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

/// Parse and validate each file, merge them in order, then the checks that need the merged
/// result; the stateroot defaults to the machine name. One path for every guest, one file or
/// many: a shortcut for a single file saved 0.05 % of the generator's time at N = 1 and was
/// removed (docs/PERFORMANCE.md, "The single-file shortcut").
fn settings_from_texts(
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
