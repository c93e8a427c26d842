//! The runtime helpers of ostree-guests. The binaries in src/bin are thin wrappers.

pub mod binds;
pub mod idmap_probe;
pub mod machined;
pub mod mounts;
pub mod network;
pub mod start;
