//! In-process deployment resolution on a real OSTree sysroot: what `ostree-guest-start` does
//! between reading the config and building the nspawn command line, without process start-up.
//!
//! `cargo bench -p ostree-guests --bench resolve` (root and the `ostree` CLI needed). The sysroot
//! is `OSTREE_GUESTS_BENCH_SYSROOT` (benches/run.sh passes its 8-deployment one, resolving
//! `OSTREE_GUESTS_BENCH_STATEROOT`, default `g1`); without it a small sysroot with a host and
//! seven guest stateroots is built with the `ostree` CLI under /dev/shm. Every call is timed on
//! its own; the median, p10 and p90 are printed as Markdown table rows.
//!
//! Without `--bench` (as `cargo test --benches` runs it) each case runs once, as a smoke test.

use std::error::Error;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::Mode;
use ostree_guests::deployment::{Layout, Pin, list_deployments, resolve, resolve_to_start};

mod support;
use support::Stats;

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;
/// A named measurement.
type Case<'a> = (String, Box<dyn FnMut() -> Result<()> + 'a>);

const WARMUP: usize = 300;
const SAMPLES: usize = 5000;
const GUESTS: usize = 7;

fn ostree(args: &[&str]) -> Result<String> {
    let out = Command::new("ostree")
        .args(args)
        // No chattr +i on deployment roots: the scratch dir must stay removable.
        .env("OSTREE_SYSROOT_DEBUG", "mutable-deployments")
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "ostree {args:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// A sysroot with a default `host` deployment and one deployment each of `g1`..`g7`, every
/// commit carrying a version, like tests/lib/mk-sysroot.sh makes (with a tiny tree).
fn build_sysroot(dir: &Path) -> Result<PathBuf> {
    let sysroot = dir.join("sysroot");
    let tree = dir.join("tree");
    let modules = tree.join("usr/lib/modules/6.1.0");
    std::fs::create_dir_all(&sysroot)?;
    std::fs::create_dir_all(&modules)?;
    std::fs::create_dir_all(tree.join("usr/etc"))?;
    std::fs::write(tree.join("usr/etc/os-release"), "ID=benchos\n")?;
    std::fs::write(modules.join("vmlinuz"), "kernel\n")?;
    std::fs::write(modules.join("initramfs.img"), "initramfs\n")?;
    let s = sysroot.to_str().ok_or("non-UTF-8 scratch path")?;
    let repo = format!("--repo={s}/ostree/repo");
    let on = format!("--sysroot={s}");
    ostree(&["admin", "init-fs", "--modern", s])?;
    ostree(&[&repo, "config", "set", "sysroot.bootloader", "none"])?;
    let mut names = vec!["host".to_owned()];
    names.extend((1..=GUESTS).map(|i| format!("g{i}")));
    for name in &names {
        std::fs::write(tree.join("usr/etc/hostname"), format!("{name}\n"))?;
        let tree_arg = format!("--tree=dir={}", tree.display());
        ostree(&["admin", "os-init", name, &on])?;
        ostree(&[
            &repo,
            "commit",
            "--bootable",
            &format!("--branch={name}"),
            &tree_arg,
            &format!("--add-metadata-string=version={name}-1"),
        ])?;
        let os = format!("--os={name}");
        let mut deploy = vec!["admin", "deploy", &on, &os, "--karg-none"];
        if name != "host" {
            deploy.push("--not-as-default");
        }
        deploy.push(name);
        ostree(&deploy)?;
    }
    Ok(sysroot)
}

/// The boot entries of the current bootversion and the bootlinks of `stateroot`'s: the file
/// accesses that libostree's rules make unavoidable for one stateroot, timed bare as the floor
/// for `resolve()`, in their cheapest form: the entries directory opened once, each entry opened
/// relative to it and read with one `read`.
fn floor_paths(layout: &Layout, stateroot: &str) -> Result<(PathBuf, Vec<PathBuf>, Vec<PathBuf>)> {
    let loader = std::fs::read_link(layout.boot.join("loader"))?;
    let dir = layout.boot.join(loader).join("entries");
    let (mut entries, mut bootlinks) = (Vec::new(), Vec::new());
    for e in std::fs::read_dir(&dir)? {
        let e = e?;
        let text = std::fs::read_to_string(e.path())?;
        let karg = text
            .split_ascii_whitespace()
            .find_map(|w| w.strip_prefix("ostree=/"))
            .ok_or_else(|| format!("{}: no ostree= argument", e.path().display()))?;
        // ostree/boot.N/<stateroot>/<bootcsum>/<serial>
        if karg.split('/').nth(2) == Some(stateroot) {
            bootlinks.push(layout.sysroot.join(karg));
        }
        entries.push(PathBuf::from(e.file_name()));
    }
    Ok((dir, entries, bootlinks))
}

fn measure(iterations: usize, mut f: impl FnMut() -> Result<()>) -> Result<Stats> {
    for _ in 0..iterations.min(WARMUP) {
        f()?;
    }
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    Ok(Stats::of(times))
}

fn run() -> Result<()> {
    let bench = std::env::args().any(|a| a == "--bench");
    let iterations = if bench { SAMPLES } else { 1 };
    let _scratch;
    let (sysroot, stateroot) = match std::env::var_os("OSTREE_GUESTS_BENCH_SYSROOT") {
        Some(s) if !s.is_empty() => (
            PathBuf::from(s),
            std::env::var("OSTREE_GUESTS_BENCH_STATEROOT").unwrap_or_else(|_| "g1".into()),
        ),
        _ => {
            if !nix::unistd::geteuid().is_root() {
                eprintln!("SKIP: resolve bench: not root (ostree admin deploy needs root)");
                return Ok(());
            }
            let dir = tempfile::Builder::new()
                .prefix("ostree-guests-bench-")
                .tempdir_in("/dev/shm")?;
            let sysroot = build_sysroot(dir.path())?;
            _scratch = dir;
            (sysroot, "g1".to_owned())
        }
    };
    let layout = Layout::for_sysroot(&sysroot);
    let deps = list_deployments(&layout)?;
    let version = deps
        .iter()
        .find(|d| d.stateroot == stateroot)
        .and_then(|d| d.version.clone())
        .ok_or_else(|| {
            format!(
                "{}: no versioned deployment of {stateroot}",
                sysroot.display()
            )
        })?;
    let pinned: Pin = format!("version:{version}").parse()?;
    let n = deps.len();
    let (entries_dir, entries, bootlinks) = floor_paths(&layout, &stateroot)?;
    let mut buf = vec![0u8; 4096];
    let cases: [Case<'_>; 5] = [
        (
            format!("`resolve_to_start()` of {stateroot}, pin auto (the helper's start)"),
            Box::new(|| {
                let r = resolve_to_start(&layout, &stateroot, &Pin::Auto)?;
                if r.deployment.stateroot != stateroot {
                    return Err("resolved another stateroot".into());
                }
                Ok(())
            }),
        ),
        (
            format!("`resolve()` of {stateroot}, pin auto, with the pin flag (dry run, status)"),
            Box::new(|| {
                resolve(&layout, &stateroot, &Pin::Auto)
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
        (
            format!("`resolve()` of {stateroot}, pin `{pinned}`"),
            Box::new(|| {
                resolve(&layout, &stateroot, &pinned)
                    .map(drop)
                    .map_err(Into::into)
            }),
        ),
        (
            "`list_deployments()`: all, with pins and versions (CLI status)".to_owned(),
            Box::new(|| list_deployments(&layout).map(drop).map_err(Into::into)),
        ),
        (
            format!(
                "floor: only opening the entries directory, open+read+close of the {} entries in it and readlink of the {} bootlinks of {stateroot}",
                entries.len(),
                bootlinks.len()
            ),
            Box::new(|| {
                let dir = open(
                    &entries_dir,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                    Mode::empty(),
                )?;
                for e in &entries {
                    let fd = openat(&dir, e.as_path(), OFlag::O_RDONLY, Mode::empty())?;
                    let n = std::fs::File::from(fd).read(&mut buf)?;
                    if n == buf.len() {
                        return Err(
                            format!("{}: larger than the floor's buffer", e.display()).into()
                        );
                    }
                }
                for l in &bootlinks {
                    std::fs::read_link(l)?;
                }
                Ok(())
            }),
        ),
    ];
    println!("| in-process, {n} deployments | median | p10 | p90 | runs |");
    println!("|---|---|---|---|---|");
    for (name, mut f) in cases {
        println!("{}", measure(iterations, &mut f)?.row(&name, 1));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("resolve bench: {e}");
            ExitCode::FAILURE
        }
    }
}
