#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report
//! T1: file-only deployment resolution versus `ostree admin status` on real sysroots.
//!
//! Sysroots are built with the `ostree` CLI (needs root and ostree; skipped loudly otherwise) in
//! /dev/shm and put through seeded random deploy / redeploy / undeploy / pin / cleanup
//! sequences; after every step our listing must equal ostree's own.

mod t1;

use std::fs;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use ostree_guests::deployment::{
    Deployment, Layout, Pin, ResolveError, list_deployments, resolve, select,
};
use similar_asserts::assert_eq;
use t1::{Meta, StatusRow, Sysroot, remove_deployment_dir};

const STATEROOTS: [&str; 3] = ["host", "g1", "g2"];
const SEEDS: u64 = 30;
const STEPS: usize = 12;

fn skip() -> bool {
    match t1::skip_reason() {
        Some(reason) => {
            // Straight to the stderr handle: libtest captures eprintln! of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!! SKIP: T1 differential tests not run: {reason} !!!!!!!!\n"
            );
            true
        }
        None => false,
    }
}

/// What the random sequences exercised, summed over all seeds.
#[derive(Debug, Default)]
struct Coverage {
    checks: usize,
    /// Deploys that ostree did as a subbootversion swap (entries not rewritten).
    bootlink_swaps: usize,
    /// Swaps after which the resolved list really changed although no entry file did.
    swaps_changing_result: usize,
    max_deployments: usize,
    pinned_seen: usize,
    no_version_seen: usize,
    big_commits: usize,
    cross_stateroot_commits: usize,
    scheme_renames: usize,
}

/// Our listing reduced to what `ostree admin status` shows.
fn ours(deps: &[Deployment]) -> Vec<StatusRow> {
    deps.iter()
        .enumerate()
        .map(|(i, d)| {
            assert_eq!(d.index, i, "index field");
            StatusRow {
                stateroot: d.stateroot.clone(),
                checksum: d.checksum.clone(),
                serial: d.serial,
                booted: false,
                pinned: d.pinned,
                version: d.version.clone(),
            }
        })
        .collect()
}

/// Compares everything against the oracle's current status; returns our listing.
fn check(sys: &Sysroot, rng: &mut fastrand::Rng, ctx: &str, cov: &mut Coverage) -> Vec<Deployment> {
    let expected = sys.status();
    let layout = Layout::for_sysroot(&sys.path);
    let deps = list_deployments(&layout).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert_eq!(
        ours(&deps),
        expected,
        "{ctx}: listing differs from `ostree admin status`"
    );
    cov.checks += 1;
    cov.max_deployments = cov.max_deployments.max(deps.len());
    cov.pinned_seen += deps.iter().filter(|d| d.pinned).count();
    cov.no_version_seen += deps.iter().filter(|d| d.version.is_none()).count();

    for os in STATEROOTS {
        let rows: Vec<&StatusRow> = expected.iter().filter(|r| r.stateroot == os).collect();
        let Some(first) = rows.first() else {
            let e = select(&deps, os, &Pin::Auto).unwrap_err();
            assert!(matches!(e, ResolveError::NoDeployment { .. }), "{ctx}: {e}");
            let e = resolve(&layout, os, &Pin::Auto).unwrap_err();
            assert!(matches!(e, ResolveError::NoDeployment { .. }), "{ctx}: {e}");
            continue;
        };
        let auto = select(&deps, os, &Pin::Auto).unwrap();
        assert_eq!(
            (&auto.checksum, auto.serial),
            (&first.checksum, first.serial),
            "{ctx}: auto {os}"
        );
        let r = resolve(&layout, os, &Pin::Auto).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(&r.deployment, auto, "{ctx}");
        assert!(r.dir.is_dir(), "{ctx}: {}", r.dir.display());

        for row in &rows {
            if let Some(v) = &row.version {
                let want = rows.iter().find(|r| r.version.as_ref() == Some(v)).unwrap();
                let got = select(&deps, os, &Pin::Version(v.clone())).unwrap();
                assert_eq!(
                    (&got.checksum, got.serial),
                    (&want.checksum, want.serial),
                    "{ctx}: version:{v}"
                );
            }
            let len = rng.usize(8..=64);
            let prefix = row.checksum[..len].to_owned();
            let want = rows
                .iter()
                .find(|r| r.checksum.starts_with(&prefix))
                .unwrap();
            let got = select(&deps, os, &Pin::Checksum(prefix.clone())).unwrap();
            assert_eq!(
                (&got.checksum, got.serial),
                (&want.checksum, want.serial),
                "{ctx}: pin {prefix}"
            );
        }
        let e = select(&deps, os, &Pin::Version("no-such-version".into())).unwrap_err();
        assert!(
            matches!(e, ResolveError::PinNotFound { ref available, .. } if available.len() == rows.len()),
            "{ctx}: {e}"
        );
        let e = select(&deps, os, &Pin::Checksum("0000000f".into())).unwrap_err();
        assert!(matches!(e, ResolveError::PinNotFound { .. }), "{ctx}: {e}");
    }
    deps
}

/// One seeded sequence of random operations, checked after every step.
fn sequence(seed: u64, cov: &mut Coverage) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut sys = Sysroot::new(&STATEROOTS);
    let mut n_commit = 0;

    sys.commit("host", Meta::Version("host-0"), 0);
    sys.admin(&["deploy", "--os=host", "--karg-none", "host"]);
    let mut deps = check(&sys, &mut rng, &format!("seed {seed} setup"), cov);

    // Every fifth sequence keeps everything (`--retain`, few removals) to reach the ≥ 10 entries
    // where boot entry order needs strverscmp's numeric comparison.
    let growth = seed % 5 == 4;
    let steps = if growth { STEPS + 4 } else { STEPS };
    for step in 0..steps {
        let n = deps.len();
        let roll = match rng.u32(0..100) {
            r if growth && r < 70 => r / 2,         // new deployment
            r if growth && r < 85 => 40 + (r - 70), // redeploy
            r if growth => 75 + (r - 85),           // pin / unpin
            r => r,
        };
        let op;
        if (roll < 35 && n < 14) || n == 0 {
            // A new commit of a stateroot, deployed.
            let os = STATEROOTS[rng.usize(..3)];
            n_commit += 1;
            let version = format!("{os}-{n_commit}");
            let meta = match rng.u32(0..20) {
                0 => Meta::NoVersion,
                1 => Meta::IntVersion,
                2 => {
                    cov.big_commits += 1;
                    Meta::BigVersion(&version)
                }
                _ => Meta::Version(&version),
            };
            let c = sys.commit(os, meta, rng.u8(0..2));
            if matches!(meta, Meta::BigVersion(_)) {
                assert!(fs::metadata(sys.commit_object(&c)).unwrap().len() > 0x1_0000);
            }
            op = deploy(&sys, &mut rng, os, os, growth, cov);
        } else if roll < 60 {
            // Redeploy a commit that is already deployed (sometimes into another stateroot):
            // this is what produces the bootlink-only swap.
            let d = &deps[rng.usize(..n)];
            let os = if rng.u32(0..10) == 0 {
                cov.cross_stateroot_commits += 1;
                STATEROOTS[rng.usize(..3)]
            } else {
                d.stateroot.as_str()
            };
            let checksum = d.checksum.clone();
            let before = entries_snapshot(&sys);
            op = deploy(&sys, &mut rng, os, &checksum, growth, cov);
            if op.contains("bootconfig swap: no") {
                let after = check(
                    &sys,
                    &mut rng,
                    &format!("seed {seed} step {step} (swap)"),
                    cov,
                );
                assert_eq!(
                    entries_snapshot(&sys),
                    before,
                    "seed {seed}: swap rewrote entries"
                );
                if after != deps {
                    cov.swaps_changing_result += 1;
                }
            }
        } else if roll < 75 && n > 0 {
            let i = rng.usize(..n).to_string();
            op = format!("undeploy {i}");
            sys.admin(&["undeploy", &i]);
        } else if roll < 92 && n > 0 {
            let i = rng.usize(..n);
            let idx = i.to_string();
            if deps[i].pinned {
                op = format!("unpin {i}");
                sys.admin(&["pin", "--unpin", &idx]);
            } else {
                op = format!("pin {i}");
                sys.admin(&["pin", &idx]);
            }
        } else {
            op = "cleanup".into();
            sys.admin(&["cleanup"]);
        }
        let first_line = op.lines().next().unwrap_or("").to_owned();
        deps = check(
            &sys,
            &mut rng,
            &format!("seed {seed} step {step} ({first_line})"),
            cov,
        );
    }

    rename_entries(&sys, seed, &deps, cov);
}

/// `ostree admin deploy` with random flags; returns a description plus ostree's stdout.
fn deploy(
    sys: &Sysroot,
    rng: &mut fastrand::Rng,
    os: &str,
    refspec: &str,
    retain: bool,
    cov: &mut Coverage,
) -> String {
    let os_arg = format!("--os={os}");
    let mut args = vec!["deploy", os_arg.as_str()];
    if rng.u32(0..5) != 0 {
        args.push("--not-as-default");
    }
    if retain || rng.u32(0..4) == 0 {
        args.push("--retain");
    }
    let karg = format!("--karg=opt={}", rng.u8(0..3));
    match rng.u32(0..10) {
        0..=6 => args.push("--karg-none"),
        7 | 8 => args.push(&karg),
        _ => {} // inherit the merge deployment's
    }
    args.push(refspec);
    let out = sys.admin(&args);
    if out.contains("bootconfig swap: no") {
        cov.bootlink_swaps += 1;
    }
    format!("{args:?}\n{out}")
}

/// Names and contents of the current entries.
fn entries_snapshot(sys: &Sysroot) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(sys.entries_dir())
        .map(|rd| {
            rd.map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Renames the entries to the ≥ 2024.5 scheme (even seeds) or adds boot-counting suffixes (odd
/// seeds): neither ostree nor we may derive anything from the name.
fn rename_entries(sys: &Sysroot, seed: u64, before: &[Deployment], cov: &mut Coverage) {
    let Ok(listing) = fs::read_dir(sys.entries_dir()) else {
        return;
    };
    for e in listing {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        // ostree-<n>-<os>.conf
        let n = name
            .trim_start_matches("ostree-")
            .split(['-', '.'])
            .next()
            .unwrap();
        let new = if seed.is_multiple_of(2) {
            format!("ostree-{n}.conf")
        } else {
            format!("ostree-{n}-x+2-1.conf")
        };
        fs::rename(e.path(), e.path().with_file_name(new)).unwrap();
        cov.scheme_renames += 1;
    }
    let layout = Layout::for_sysroot(&sys.path);
    let after = list_deployments(&layout).unwrap();
    assert_eq!(ours(&after), ours(before), "seed {seed}: renamed entries");
    assert_eq!(
        ours(&after),
        sys.status(),
        "seed {seed}: renamed entries vs ostree"
    );
}

#[test]
fn differential_random_sequences() {
    if skip() {
        return;
    }
    let start = Instant::now();
    let total = Mutex::new(Coverage::default());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4)) as u64;
    std::thread::scope(|s| {
        for t in 0..threads {
            let total = &total;
            s.spawn(move || {
                let mut cov = Coverage::default();
                for seed in (0..SEEDS).filter(|seed| seed % threads == t) {
                    sequence(seed, &mut cov);
                }
                let mut all = total.lock().unwrap();
                all.checks += cov.checks;
                all.bootlink_swaps += cov.bootlink_swaps;
                all.swaps_changing_result += cov.swaps_changing_result;
                all.max_deployments = all.max_deployments.max(cov.max_deployments);
                all.pinned_seen += cov.pinned_seen;
                all.no_version_seen += cov.no_version_seen;
                all.big_commits += cov.big_commits;
                all.cross_stateroot_commits += cov.cross_stateroot_commits;
                all.scheme_renames += cov.scheme_renames;
            });
        }
    });
    let cov = total.into_inner().unwrap();
    eprintln!("T1: {SEEDS} sequences in {:.1?}: {cov:?}", start.elapsed());
    assert!(
        cov.bootlink_swaps > 0,
        "no sequence hit a subbootversion swap: {cov:?}"
    );
    assert!(
        cov.swaps_changing_result > 0,
        "no swap changed the resolution: {cov:?}"
    );
    assert!(
        cov.max_deployments >= 10,
        "never ≥ 10 deployments (strverscmp): {cov:?}"
    );
    assert!(cov.pinned_seen > 0 && cov.no_version_seen > 0, "{cov:?}");
    assert!(
        cov.big_commits > 0 && cov.cross_stateroot_commits > 0,
        "{cov:?}"
    );
    assert!(cov.scheme_renames > 0, "{cov:?}");
}

#[test]
fn errors_on_real_sysroot() {
    if skip() {
        return;
    }
    let mut sys = Sysroot::new(&STATEROOTS);
    sys.commit("host", Meta::Version("h1"), 0);
    sys.commit("g1", Meta::Version("g1-1"), 1);
    sys.admin(&["deploy", "--os=host", "--karg-none", "host"]);
    sys.admin(&["deploy", "--os=g1", "--not-as-default", "--karg-none", "g1"]);
    let layout = Layout::for_sysroot(&sys.path);
    let status = sys.status();
    assert_eq!(status.len(), 2);

    // An initialised stateroot without deployments, and an unknown one.
    let e = resolve(&layout, "g2", &Pin::Auto).unwrap_err();
    assert!(matches!(e, ResolveError::NoDeployment { .. }), "{e}");
    assert!(!e.to_string().contains("os-init"), "{e}");
    assert!(e.to_string().contains("host, g1"), "{e}");
    let e = resolve(&layout, "nope", &Pin::Auto).unwrap_err();
    assert!(e.to_string().contains("ostree admin os-init nope"), "{e}");

    // Pins matching nothing.
    for pin in ["version:g1-9", "deadbeef"] {
        let e = resolve(&layout, "g1", &pin.parse().unwrap()).unwrap_err();
        assert!(matches!(e, ResolveError::PinNotFound { .. }), "{e}");
        assert!(e.to_string().contains(&status[1].checksum), "{e}");
    }
    let r = resolve(&layout, "g1", &"version:g1-1".parse().unwrap()).unwrap();
    assert_eq!(r.deployment.checksum, status[1].checksum);

    // A fake booted host: the root is the host deployment itself (same dev/ino, as a bind mount
    // of it would be) with run/ostree-booted.
    let host = resolve(&layout, "host", &Pin::Auto).unwrap();
    fs::create_dir_all(host.dir.join("run")).unwrap();
    fs::write(host.dir.join("run/ostree-booted"), "").unwrap();
    let booted = Layout {
        root: host.dir.clone(),
        ..layout.clone()
    };
    let e = resolve(&booted, "host", &Pin::Auto).unwrap_err();
    assert!(matches!(e, ResolveError::HostStateroot { .. }), "{e}");
    let r = resolve(&booted, "g1", &Pin::Auto).unwrap();
    assert_eq!(r.deployment.stateroot, "g1");

    // The guest's deployment directory removed while its entry remains: ostree itself then
    // fails to load the sysroot; we list it and refuse to resolve it.
    remove_deployment_dir(&r.dir);
    let out = sys.try_ostree(&["admin", "status", &format!("--sysroot={}", sys.path_str())]);
    eprintln!(
        "ostree admin status with a missing deployment dir: {} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    assert_eq!(list_deployments(&layout).unwrap().len(), 2);
    let e = resolve(&layout, "g1", &Pin::Auto).unwrap_err();
    assert!(
        matches!(e, ResolveError::DeploymentMissing { ref path, .. } if *path == r.dir),
        "{e}"
    );
}
