//! `ostree-guests`, the administration CLI: create, upgrade, roll back, pin and remove guests,
//! and inspect them. `main.rs` only parses the command line and maps failures to exit statuses.
//!
//! Writes to the sysroot go through the `ostree` CLI (`ostree.rs`); what they must achieve is
//! checked with the library's resolver, the same code the start helper boots guests with.

pub mod args;
pub mod commands;
pub mod complete;
pub mod container;
pub mod exit;
pub mod files;
pub mod ostree;
pub mod progress;
pub mod running;
pub mod sysroot;
pub mod systemd;

pub use commands::run;
