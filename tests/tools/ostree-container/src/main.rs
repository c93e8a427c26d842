//! `ostree-container`: the `ostree container …` extension command, for tests only.
//!
//! libostree's `ostree` runs `/usr/libexec/libostree/ext/ostree-container` for the `container`
//! subcommand; on Fedora that is a link to rpm-ostree, which embeds ostree-ext's CLI. This is the
//! same CLI, so the tests drive the real encapsulate/pull/list/remove code paths.

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(ostree_ext::cli::run_from_iter(std::env::args_os()))
}
