//! The loader reads a single valid file straight into the model, without positions; the layered
//! path (spans, `x-` keys stripped, per-key errors) must give the same settings for it, and
//! every error must still come from the layered path. Checked over every guest file in the
//! test trees and a few cases made for the shortcut's edges; the `config_render` fuzz target
//! checks the same on arbitrary input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use std::path::{Path, PathBuf};

use ostree_guests::fuzzing::{load_texts, load_texts_layered};
use ostree_guests::name::MachineName;

fn guest_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            // Drop-in directories: their files are layers, never a guest on their own.
            if !name.ends_with(".toml.d") {
                guest_files(&path, out);
            }
        } else if name.ends_with(".toml") && !name.ends_with(".bridge.toml") {
            out.push(path);
        }
    }
}

/// Both paths on one file; true when the shortcut gave settings.
fn agree(name: &str, file: &Path, text: &[u8]) -> bool {
    let Ok(machine) = MachineName::parse(name) else {
        return false;
    };
    let files: [(&Path, &[u8]); 1] = [(file, text)];
    let quick = load_texts(&machine, &files);
    let layered = load_texts_layered(&machine, &files);
    match (&quick, &layered) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", file.display()),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{}", file.display()),
        _ => panic!(
            "{}: shortcut {quick:?}, layered {layered:?}",
            file.display()
        ),
    }
    quick.is_ok()
}

#[test]
fn the_test_trees_load_the_same_both_ways() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
    let mut files = Vec::new();
    for tree in ["generator", "helper", "network"] {
        guest_files(&root.join(tree), &mut files);
    }
    let mut valid = 0;
    for file in &files {
        let stem = file.file_stem().unwrap().to_string_lossy();
        let text = std::fs::read(file).unwrap();
        valid += usize::from(agree(&stem, file, &text));
    }
    // The trees hold dozens of valid guests; far fewer means the walk found the wrong files.
    assert!(
        valid >= 30,
        "only {valid} valid guests in {} files",
        files.len()
    );
}

#[test]
fn the_shortcut_edges_load_the_same_both_ways() {
    let file = Path::new("/etc/ostree-guests.d/web.toml");
    let cases: &[&str] = &[
        // x- keys are stripped everywhere by the layered path, in [environment] too.
        "[environment]\nx-note = \"kept?\"\nFOO = \"bar\"\n",
        "x-owner = \"me\"\nautostart = false\n",
        "description = \"box-x-1\"\n",
        // integers and strings where both are accepted, and a negative one
        "[resources]\nmemory-max = 1073741824\ntasks-max = \"512\"\nio-weight = 100\n",
        "[resources]\ntasks-max = -1\n",
        "[resources]\nmemory-max = true\n",
        // errors that only the checks across keys find
        "[network]\nmode = \"bridge\"\n",
        "[network]\nmode = \"zone\"\n",
        "stateroot = \"../x\"\n",
        "unknown = 1\n",
        "autostart = \"yes\"\n",
        "",
    ];
    let valid = cases
        .iter()
        .filter(|text| agree("web", file, text.as_bytes()))
        .count();
    assert!(valid >= 4, "only {valid} of the edge cases were valid");
}
