//! Finding guest files in the search path: precedence, masking and drop-in directories.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::perms;
use crate::paths::{CONFIG_DIRS, under_root};

/// Reserved for host-level bridge declarations (`br0.bridge.toml`), which are not guests.
pub const BRIDGE_SUFFIX: &str = ".bridge.toml";

/// A config file, both as the booted system names it and where it is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub logical: PathBuf,
    pub disk: PathBuf,
    /// Set when the file or its directory may be written by someone other than root.
    pub insecure: Option<String>,
    /// The size when it was found: the read is sized by it, and still bounded and checked.
    pub len: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestSources {
    /// The file stem, not yet validated as a machine name.
    pub stem: String,
    pub main: Source,
    /// Drop-ins in the order they apply (file-name order across all directories).
    pub dropins: Vec<Source>,
}

#[derive(Debug, Default)]
pub struct Discovered {
    pub guests: Vec<GuestSources>,
    /// Bridge declarations: (bridge name, its file), same precedence and masking as guests.
    pub bridges: Vec<(String, Source)>,
    /// Unreadable directories and similar; reported, never fatal.
    pub problems: Vec<(PathBuf, String)>,
}

enum Entry {
    File(Source),
    Masked,
}

/// A symlink to /dev/null or an empty file hides the same name in lower-priority directories.
/// `dir_problem` is the verdict on the directory the file was found in.
fn classify(
    logical: PathBuf,
    disk: PathBuf,
    dir_problem: &Option<String>,
) -> io::Result<Option<Entry>> {
    let meta = fs::symlink_metadata(&disk)?;
    // One system call for the usual plain file; only a link needs a second look.
    let meta = if meta.file_type().is_symlink() {
        if fs::read_link(&disk)? == Path::new("/dev/null") {
            return Ok(Some(Entry::Masked));
        }
        fs::metadata(&disk)?
    } else {
        meta
    };
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.len() == 0 {
        return Ok(Some(Entry::Masked));
    }
    let insecure = perms::problem(&meta, &logical).or_else(|| dir_problem.clone());
    Ok(Some(Entry::File(Source {
        logical,
        disk,
        insecure,
        len: meta.len(),
    })))
}

fn dir_problem(logical: &Path, disk: &Path) -> Option<String> {
    let meta = fs::metadata(disk).ok()?;
    perms::problem(&meta, logical).map(|p| format!("its directory {} is {p}", logical.display()))
}

fn sorted_names(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        // Names that are not UTF-8 cannot be machine names; skip them rather than fail.
        if let Ok(name) = entry.file_name().into_string()
            && !name.starts_with('.')
        {
            names.push(name);
        }
    }
    names.sort_unstable();
    Ok(names)
}

pub fn discover(root: &Path) -> Discovered {
    let mut out = Discovered::default();
    // stem -> the winning main entry (first seen = highest priority)
    let mut mains: BTreeMap<String, Entry> = BTreeMap::new();
    // stem -> drop-in file name -> winning entry
    let mut dropins: BTreeMap<String, BTreeMap<String, Entry>> = BTreeMap::new();
    let mut bridges: BTreeMap<String, Entry> = BTreeMap::new();

    for dir in CONFIG_DIRS {
        let disk_dir = under_root(root, dir);
        let names = match sorted_names(&disk_dir) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                out.problems.push((PathBuf::from(dir), e.to_string()));
                continue;
            }
        };
        let dir_problem = dir_problem(Path::new(dir), &disk_dir);
        for name in names {
            let logical = Path::new(dir).join(&name);
            let disk = disk_dir.join(&name);
            if let Some(stem) = name.strip_suffix(".toml.d") {
                collect_dropins(
                    stem,
                    &logical,
                    &disk,
                    &dir_problem,
                    &mut dropins,
                    &mut out.problems,
                );
                continue;
            }
            let Some(stem) = name.strip_suffix(".toml") else {
                continue;
            };
            if let Some(bridge) = name.strip_suffix(BRIDGE_SUFFIX) {
                if !bridges.contains_key(bridge) {
                    match classify(logical.clone(), disk, &dir_problem) {
                        Ok(Some(entry)) => {
                            bridges.insert(bridge.to_owned(), entry);
                        }
                        Ok(None) => out
                            .problems
                            .push((logical, "not a regular file; ignored".to_owned())),
                        Err(e) => out.problems.push((logical, e.to_string())),
                    }
                }
                continue;
            }
            if mains.contains_key(stem) {
                continue;
            }
            match classify(logical.clone(), disk, &dir_problem) {
                Ok(Some(entry)) => {
                    mains.insert(stem.to_owned(), entry);
                }
                Ok(None) => out
                    .problems
                    .push((logical, "not a regular file; ignored".to_owned())),
                Err(e) => out.problems.push((logical, e.to_string())),
            }
        }
    }

    out.bridges = bridges
        .into_iter()
        .filter_map(|(name, e)| match e {
            Entry::File(s) => Some((name, s)),
            Entry::Masked => None,
        })
        .collect();
    for (stem, entry) in mains {
        let Entry::File(main) = entry else { continue };
        let dropins = dropins
            .remove(&stem)
            .unwrap_or_default()
            .into_values()
            .filter_map(|e| match e {
                Entry::File(s) => Some(s),
                Entry::Masked => None,
            })
            .collect();
        out.guests.push(GuestSources {
            stem,
            main,
            dropins,
        });
    }
    out
}

fn collect_dropins(
    stem: &str,
    logical_dir: &Path,
    disk_dir: &Path,
    parent_problem: &Option<String>,
    dropins: &mut BTreeMap<String, BTreeMap<String, Entry>>,
    problems: &mut Vec<(PathBuf, String)>,
) {
    if !disk_dir.is_dir() {
        return;
    }
    let names = match sorted_names(disk_dir) {
        Ok(n) => n,
        Err(e) => {
            problems.push((logical_dir.to_owned(), e.to_string()));
            return;
        }
    };
    let own_problem = dir_problem(logical_dir, disk_dir).or_else(|| parent_problem.clone());
    let slot = dropins.entry(stem.to_owned()).or_default();
    for name in names.into_iter().filter(|n| n.ends_with(".toml")) {
        if slot.contains_key(&name) {
            continue;
        }
        let logical = logical_dir.join(&name);
        let disk = disk_dir.join(&name);
        match classify(logical.clone(), disk, &own_problem) {
            Ok(Some(entry)) => {
                slot.insert(name, entry);
            }
            Ok(None) => problems.push((logical, "not a regular file; ignored".to_owned())),
            Err(e) => problems.push((logical, e.to_string())),
        }
    }
}
