//! The floor under the generator's per-guest cost: only the system calls that write one guest's
//! output the way `ostree-guests-generator` writes it (generator/src/write.rs), with nothing
//! parsed or rendered, on tmpfs.
//!
//! Per guest: `mkdirat` of the staging directory `.#systemd-nspawn@gI.service.d.PID`, `openat`
//! (`O_CREAT|O_EXCL`), `write` and `close` of its drop-in, `renameat` of the directory into
//! place, and `symlinkat` of the autostart link into the staging `machines.target.wants`, which
//! is renamed once at the end. Each run starts from an empty output directory, like the
//! generator's under systemd and in benches/run.sh.
//!
//! `cargo bench -p ostree-guests --bench output_floor` prints Markdown table rows: per run of
//! `GUESTS` guests and per guest, median, p10 and p90. `OSTREE_GUESTS_BENCH_DIR` (default
//! /dev/shm) holds the scratch directory. Without `--bench` (as `cargo test --benches` runs
//! it) each case runs once.

use std::error::Error;
use std::fs;
use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Instant;

use nix::fcntl::{OFlag, open, openat, renameat};
use nix::sys::stat::{Mode, mkdirat};
use nix::unistd::symlinkat;

mod support;
use support::Stats;

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

const GUESTS: usize = 200;
const WARMUP: usize = 5;
const SAMPLES: usize = 60;
/// About the size of a bench guest's drop-in (description, port, memory limit, network unit).
const DROPIN_BYTES: usize = 880;
const TEMPLATE: &str = "/usr/lib/systemd/system/systemd-nspawn@.service";

fn write_guests(out: &OwnedFd, text: &[u8], pid: u32) -> Result<()> {
    let wants = format!(".#machines.target.wants.{pid}");
    mkdirat(out, wants.as_str(), Mode::from_bits_truncate(0o777))?;
    for i in 1..=GUESTS {
        let unit = format!("systemd-nspawn@g{i}.service");
        let staging = format!(".#{unit}.d.{pid}");
        mkdirat(out, staging.as_str(), Mode::from_bits_truncate(0o777))?;
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC;
        let file = format!("{staging}/50-ostree-guests.conf");
        let fd = openat(out, file.as_str(), flags, Mode::from_bits_truncate(0o666))?;
        fs::File::from(fd).write_all(text)?;
        renameat(out, staging.as_str(), out, format!("{unit}.d").as_str())?;
        symlinkat(TEMPLATE, out, format!("{wants}/{unit}").as_str())?;
    }
    renameat(out, wants.as_str(), out, "machines.target.wants")?;
    Ok(())
}

fn run() -> Result<()> {
    let bench = std::env::args().any(|a| a == "--bench");
    let (warmup, samples) = if bench { (WARMUP, SAMPLES) } else { (0, 1) };
    let base = std::env::var_os("OSTREE_GUESTS_BENCH_DIR").unwrap_or_else(|| "/dev/shm".into());
    let scratch = tempfile::Builder::new()
        .prefix("ostree-guests-floor-")
        .tempdir_in(Path::new(&base))?;
    let text = vec![b'#'; DROPIN_BYTES];
    let pid = std::process::id();
    let mut times = Vec::with_capacity(samples);
    for i in 0..warmup + samples {
        let dir = scratch.path().join(format!("out{i}"));
        fs::create_dir(&dir)?;
        let out = open(&dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())?;
        let t = Instant::now();
        write_guests(&out, &text, pid)?;
        let took = t.elapsed();
        if i >= warmup {
            times.push(took);
        }
        // Verified, outside the timing: every guest's directory and link are in place.
        let links = fs::read_dir(dir.join("machines.target.wants"))?.count();
        if links != GUESTS || !dir.join("systemd-nspawn@g1.service.d").is_dir() {
            return Err(format!("{}: incomplete output", dir.display()).into());
        }
        fs::remove_dir_all(&dir)?;
    }
    let s = Stats::of(times);
    let name = format!("output of {GUESTS} guests, system calls only");
    println!("{}", s.row(&name, 1));
    println!(
        "{}",
        s.row("the same per guest", u32::try_from(GUESTS).unwrap_or(1))
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("output_floor bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
