//! ostree-guests: boot extra OSTree stateroots as `systemd-nspawn` guests.
//!
//! All logic lives here as plain functions over in-memory values or a directory tree, so the
//! binaries (generator, start helper, admin CLI) stay thin and every rule is unit-testable.

pub mod config;
pub mod deployment;
pub mod exit;
pub mod name;
pub mod nspawn;
pub mod paths;
pub mod render;
pub mod unit;
