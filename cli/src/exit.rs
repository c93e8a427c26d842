//! Exit statuses of `ostree-guests` and the failure type that carries them.
//!
//! Every number comes from the one table in `ostree_guests::exit`: the codes shared with the
//! start helper, and the CLI's own in `exit::cli`, whose `MEANINGS` make the `--help` table.

pub use ostree_guests::exit::cli::*;
pub use ostree_guests::exit::{
    CONFIG_INVALID, Failure, HOST_STATEROOT, NO_DEPLOYMENT, PIN_NOT_FOUND, USAGE,
};

pub type Result<T, E = Failure> = std::result::Result<T, E>;
