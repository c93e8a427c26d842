//! ostree-guests: boot extra OSTree stateroots as `systemd-nspawn` guests.
//!
//! All logic lives here as plain functions over in-memory values or a directory tree, so the
//! binaries (generator, start helper, admin CLI) stay thin and every rule is unit-testable.

pub mod atomic;
pub mod bind_source;
pub mod config;
pub mod deployment;
pub mod exit;
pub mod fs_kind;
pub mod guest_path;
pub mod image_ref;
pub mod mounts;
pub mod name;
pub mod network;
pub mod nspawn;
pub mod paths;
pub mod render;
mod short_read;
mod stable_hash;
pub mod start_plan;
pub mod unit;
#[cfg(any(test, feature = "test-support"))]
pub mod unit_reader;
mod validated;

/// Crate internals for the fuzz targets in `fuzz/`: not an API, may change at any time.
#[doc(hidden)]
pub mod fuzzing {
    use std::path::Path;

    use crate::config::{ConfigError, Settings};
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

    /// The `/run/ostree-booted` reader: its `{sv}` entries and `backing-root-device-inode`.
    pub use crate::deployment::marker::{
        DevIno, Entry as MarkerEntry, backing_dev_ino as marker_backing,
        dict_entries as marker_entries,
    };

    /// What `config::load` does for one guest once its files are read (no bridge declared).
    pub fn load_texts(
        name: &MachineName,
        files: &[(&Path, &[u8])],
    ) -> Result<Settings, ConfigError> {
        crate::config::load_texts(name, files)
    }
}
