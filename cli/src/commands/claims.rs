//! Which guests claim a stateroot, for the commands that undeploy, replace or delete one.
//!
//! The loader only knows the stateroot of a valid guest, but an invalid guest's stateroot is
//! still its /var: a typo elsewhere in its file must not let `remove --purge` of another name
//! delete it. So an invalid guest's files are read again for just the `stateroot` key, and a
//! file that does not even parse (or a directory that cannot be listed) leaves the owner
//! unknown, which the destructive commands treat as "in use" (fail closed).

use std::path::{Path, PathBuf};

use ostree_guests::config::{BRIDGE_SUFFIX, Guest, Loaded};
use ostree_guests::paths::under_root;

use crate::exit::{CONFIG_INVALID, Failure, Result, STATEROOT_IN_USE};

/// Another guest's claim on a stateroot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    pub guest: String,
    /// The file that names the stateroot (or the guest's main file, for the default).
    pub file: PathBuf,
}

#[derive(Debug, Default)]
pub(crate) struct Claims {
    pub users: Vec<Claim>,
    /// Configuration whose stateroot cannot be known: `(file or directory, why)`.
    pub unknown: Vec<(String, String)>,
}

impl Claims {
    /// Refuses when another guest uses `stateroot`, or (with `strict`) when some configuration
    /// cannot be read well enough to tell. `action` completes "refusing to …".
    pub fn refuse(&self, stateroot: &str, action: &str, strict: bool) -> Result<()> {
        if let Some(c) = self.users.first() {
            return Err(Failure::new(
                STATEROOT_IN_USE,
                format!(
                    "stateroot {stateroot} is used by guest {} ({}); refusing to {action}. Remove or rename that guest first (`ostree-guests status {}`)",
                    c.guest,
                    c.file.display(),
                    c.guest
                ),
            ));
        }
        if strict && let Some((file, why)) = self.unknown.first() {
            return Err(Failure::new(
                CONFIG_INVALID,
                format!(
                    "{file}: {why}\nwhich guest uses stateroot {stateroot} cannot be told while this configuration is unreadable; refusing to {action}. Fix it first (`ostree-guests validate`)"
                ),
            ));
        }
        Ok(())
    }
}

/// Who other than guest `except` claims `stateroot` in the configuration under `root`.
pub(crate) fn of(loaded: &Loaded, root: &Path, stateroot: &str, except: &str) -> Claims {
    let mut claims = Claims::default();
    for w in &loaded.warnings {
        // A bridge declaration names no stateroot.
        if !w.contains(&format!("{BRIDGE_SUFFIX}:")) {
            claims
                .unknown
                .push((w.clone(), "configuration not read".to_owned()));
        }
    }
    for g in loaded.guests.iter().filter(|g| g.name.as_str() != except) {
        match declared(root, g) {
            Ok((sr, file)) if sr == stateroot => claims.users.push(Claim {
                guest: g.name.to_string(),
                file,
            }),
            Ok(_) => {}
            Err((file, why)) => claims.unknown.push((file, why)),
        }
    }
    // A file that is not a valid machine name runs nothing, but it becomes a guest the moment
    // it is renamed: only an explicit `stateroot` in it is a claim.
    for e in &loaded.unnamed {
        match raw_stateroot(root, &e.file) {
            Ok(Some(sr)) if sr == stateroot => claims.users.push(Claim {
                guest: e
                    .file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                file: e.file.clone(),
            }),
            Ok(_) => {}
            Err(why) => claims.unknown.push((e.file.display().to_string(), why)),
        }
    }
    claims
}

/// The stateroot guest `g` runs on and the file that says so; for an invalid guest, what its
/// files say (the last `stateroot` wins, as in the merge).
fn declared(root: &Path, g: &Guest) -> std::result::Result<(String, PathBuf), (String, String)> {
    let main = g.sources.first().cloned().unwrap_or_default();
    if let Ok(s) = &g.settings {
        return Ok((s.stateroot.as_str().to_owned(), main));
    }
    let mut found = (g.name.as_str().to_owned(), main);
    for f in &g.sources {
        match raw_stateroot(root, f) {
            Ok(Some(sr)) => found = (sr, f.clone()),
            Ok(None) => {}
            Err(why) => return Err((f.display().to_string(), why)),
        }
    }
    Ok(found)
}

/// The `stateroot` string of one configuration file (a booted-system path under `root`).
fn raw_stateroot(root: &Path, logical: &Path) -> std::result::Result<Option<String>, String> {
    match raw_key(root, logical, "stateroot")? {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err("stateroot is not a string".to_owned()),
    }
}

/// One top-level key of one configuration file as written, without the loader's merge or
/// validation (a booted-system path under `root`).
pub(crate) fn raw_key(
    root: &Path,
    logical: &Path,
    key: &str,
) -> std::result::Result<Option<toml::Value>, String> {
    let disk = under_root(root, &logical.to_string_lossy());
    let text = std::fs::read_to_string(&disk).map_err(|e| format!("cannot read: {e}"))?;
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| {
        format!(
            "not valid TOML ({})",
            e.message().lines().next().unwrap_or_default()
        )
    })?;
    Ok(table.remove(key))
}
