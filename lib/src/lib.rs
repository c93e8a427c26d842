//! ostree-guests: boot extra OSTree stateroots as `systemd-nspawn` guests.
//!
//! All logic lives here as plain functions over in-memory values or a directory tree, so the
//! binaries (generator, start helper, admin CLI) stay thin and every rule is unit-testable.

pub mod config;
pub mod deployment;
pub mod exit;
pub mod guest_path;
pub mod name;
pub mod network;
pub mod nspawn;
pub mod paths;
pub mod render;
pub mod unit;
pub mod unit_reader;

/// Crate internals for the fuzz targets in `fuzz/`: not an API, may change at any time.
#[doc(hidden)]
pub mod fuzzing {
    use std::path::Path;

    use crate::config::{ConfigError, MAX_FILE_SIZE, Settings, Stateroot, layer};
    use crate::name::MachineName;

    /// `deployment::bls::parse_entry`: the `(version, options)` values.
    pub fn parse_entry(text: &str) -> (Option<&str>, Option<&str>) {
        let k = crate::deployment::bls::parse_entry(text);
        (k.version, k.options)
    }

    pub fn ostree_karg(options: &str) -> Option<&str> {
        crate::deployment::bls::ostree_karg(options)
    }

    pub fn parse_deploy_name(name: &str) -> Result<(&str, u32), String> {
        crate::deployment::bls::parse_deploy_name(name)
    }

    /// `deployment::bls::parse_bootlink`: `(stateroot, relative path)`.
    pub fn parse_bootlink(karg: &str) -> Result<(&str, &str), String> {
        crate::deployment::bls::parse_bootlink(karg).map(|b| (b.stateroot, b.relative))
    }

    pub use crate::deployment::strverscmp::strverscmp;

    /// The commit object reader over bytes instead of a file.
    pub fn commit_version(bytes: &[u8]) -> Option<String> {
        crate::deployment::gvariant::version_in_commit(bytes)
    }

    /// What `config::load` does for one guest once its files are read: the same size and UTF-8
    /// checks as `read_bounded`, then parse, merge, deserialize, cross-key checks and the
    /// default stateroot. `files` is the main file first, then the drop-ins in order.
    pub fn load_texts(
        name: &MachineName,
        files: &[(&Path, &[u8])],
    ) -> Result<Settings, ConfigError> {
        let main = files
            .first()
            .map(|(p, _)| *p)
            .ok_or_else(|| ConfigError::file("", "no configuration"))?;
        let texts = files
            .iter()
            .map(|(p, bytes)| {
                if bytes.len() as u64 > MAX_FILE_SIZE {
                    return Err(ConfigError::file(*p, "file too large"));
                }
                std::str::from_utf8(bytes).map_err(|_| ConfigError::file(*p, "not UTF-8"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let layers = files
            .iter()
            .zip(&texts)
            .map(|((p, _), t)| layer::parse(p, t))
            .collect::<Result<Vec<_>, _>>()?;
        let mut merged = layers
            .first()
            .map(|l| l.table.clone())
            .ok_or_else(|| ConfigError::file(main, "no configuration"))?;
        for upper in layers.iter().skip(1) {
            layer::merge(merged.get_mut(), upper.table.get_ref());
        }
        let config = layer::deserialize(merged).map_err(|(key, e)| ConfigError {
            file: main.to_owned(),
            line: None,
            key,
            message: e.message().to_owned(),
        })?;
        crate::config::check_combinations(
            &config,
            &Default::default(),
            |key: &str, message: String| crate::config::locate(&layers, key, message),
        )?;
        let stateroot = match &config.stateroot {
            Some(s) => s.clone(),
            None => Stateroot::try_from(name.as_str().to_owned())
                .map_err(|m| ConfigError::file(main, m))?,
        };
        Ok(Settings { stateroot, config })
    }
}
