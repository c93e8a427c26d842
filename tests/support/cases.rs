//! One `#[test]` per scenario directory, shared by every suite that has golden cases
//! (tests/generator, tests/helper, tests/network), so that one failing case does not hide the
//! others and `cargo test NAME` runs one case.
//!
//! `golden_cases!(run; a_case, another_case)` defines `#[test] fn a_case() { run("a-case") }`
//! for each name (underscores become dashes: the directory's name) and `const CASES`, the list.
//! The suite pairs it with `listed_cases_are_the_directories(CASES, "tests/…")` in a test of
//! its own, so a new directory without a test (or a test without its directory) fails.

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

macro_rules! golden_cases {
    ($run:path; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                $run(&stringify!($case).replace('_', "-"));
            }
        )+
        /// The case directories with a test of their own, by name.
        const CASES: &[&str] = &[$(stringify!($case)),+];
    };
}
pub(crate) use golden_cases;

/// `tests/SUITE/NAME` of the repository, from a crate one level below its root.
pub fn case_dir(manifest_dir: &str, suite: &str, name: &str) -> PathBuf {
    Path::new(manifest_dir)
        .join("../tests")
        .join(suite)
        .join(name)
}

/// Fails unless `listed` (identifiers of `golden_cases!`) names exactly the directories under
/// `tests/SUITE`, and there are at least `at_least` of them (a wrong path must not pass as
/// "no cases").
pub fn listed_cases_are_the_directories(
    manifest_dir: &str,
    suite: &str,
    listed: &[&str],
    at_least: usize,
) {
    let dir = Path::new(manifest_dir).join("../tests").join(suite);
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let e = e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            e.path()
                .is_dir()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = listed.iter().map(|c| c.replace('_', "-")).collect();
    listed.sort();
    assert!(
        on_disk.len() >= at_least,
        "expected at least {at_least} case directories under {}, found {on_disk:?}",
        dir.display()
    );
    assert_eq!(
        listed,
        on_disk,
        "the golden_cases! list and the directories under {} differ: add or remove the case \
         in the list (one identifier per directory, dashes written as underscores)",
        dir.display()
    );
}
