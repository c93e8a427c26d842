//! In-process cost of reading one guest's configuration, the generator's configuration step at
//! N = 1: the most that any shortcut for the usual guest could save (issue 18 removed the
//! single-file shortcut, which saved 0.05 % of the generator's time; docs/PERFORMANCE.md).
//!
//! Cases, on the benchmark guest file of benches/run.sh (a description, a port forward and a
//! memory limit) in a scratch configuration root:
//!   `config::load`, N=1   the whole step: find the files, check owners and modes, read, parse,
//!                         check, claims
//!   parse                 `config::load_texts` on the file's text: parsed with positions, `x-`
//!                         keys stripped, validated (the part a parse shortcut would replace)
//! benches/config-shortcut.sh runs it next to the generator's whole-process time at N = 1 and
//! prints the ratios. `cargo bench -p ostree-guests --bench config_load` prints Markdown table
//! rows (median, p10, p90); without `--bench` (as `cargo test --benches` runs it) each case runs
//! once, as a smoke test. `OSTREE_GUESTS_BENCH_DIR` (default /dev/shm) holds the scratch root.

use std::error::Error;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use ostree_guests::config;
use ostree_guests::config::load_texts;
use ostree_guests::name::MachineName;

mod support;
use support::Stats;

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

const WARMUP: usize = 500;
const SAMPLES: usize = 20_000;
/// The guest file of benches/run.sh's generator inputs, for guest 1.
const GUEST: &str = "description = \"bench guest 1\"\n[network]\nports = [\"tcp:8001:80\"]\n[resources]\nmemory-max = \"2G\"\n";

fn run() -> Result<()> {
    let bench = std::env::args().any(|a| a == "--bench");
    let (warmup, samples) = if bench { (WARMUP, SAMPLES) } else { (0, 1) };
    let base = std::env::var_os("OSTREE_GUESTS_BENCH_DIR").unwrap_or_else(|| "/dev/shm".into());
    let scratch = tempfile::Builder::new()
        .prefix("ostree-guests-config-")
        .tempdir_in(Path::new(&base))?;
    let root = scratch.path();
    let dir = root.join("etc/ostree-guests.d");
    fs::create_dir_all(&dir)?;
    // The loader ignores configuration that group or others can write, whatever the umask.
    for d in [root.to_owned(), root.join("etc"), dir.clone()] {
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755))?;
    }
    let file = dir.join("g1.toml");
    fs::write(&file, GUEST)?;
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644))?;

    let name = MachineName::parse("g1")?;
    let logical = Path::new("/etc/ostree-guests.d/g1.toml");
    let files: [(&Path, &[u8]); 1] = [(logical, GUEST.as_bytes())];
    // Both must give the same valid settings, or the timings compare an error path.
    let parsed = load_texts(&name, &files)?;
    let loaded = config::load(root);
    match loaded.guest("g1").map(|g| g.settings.as_ref()) {
        Some(Ok(s)) if *s == parsed => {}
        other => return Err(format!("config::load: {other:?}").into()),
    }

    let load = || -> Result<()> {
        let l = config::load(root);
        std::hint::black_box(&l);
        Ok(())
    };
    let parse = || -> Result<()> {
        std::hint::black_box(load_texts(&name, std::hint::black_box(&files))?);
        Ok(())
    };
    // Interleaved in blocks, so that load drifting during the run hits every case alike.
    let mut all: [Vec<std::time::Duration>; 2] = Default::default();
    let cases: [&dyn Fn() -> Result<()>; 2] = [&load, &parse];
    let blocks = 10;
    for case in &cases {
        for _ in 0..warmup {
            case()?;
        }
    }
    for _ in 0..blocks {
        for (i, case) in cases.iter().enumerate() {
            let per_block = samples.div_ceil(blocks);
            let mut times = Vec::with_capacity(per_block);
            for _ in 0..per_block {
                let t = Instant::now();
                case()?;
                times.push(t.elapsed());
            }
            all[i].extend(times);
        }
    }
    let names = ["`config::load`, N=1", "parse"];
    for (name, times) in names.iter().zip(all) {
        println!("{}", Stats::of(times).row(name, 1));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("config_load: {e}");
            ExitCode::FAILURE
        }
    }
}
