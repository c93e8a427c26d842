#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every script of the repository that starts with `#!` can be run the way its usage line and
//! the README say (`tests/system/t3.sh`, `T3=1 tests/run`): a checkout without the executable
//! bit fails with "Permission denied" only when someone finally runs it.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// Where the scripts live; `target` and `.git` are not walked.
const DIRS: &[&str] = &[".", ".ci", "benches", "fuzz", "packaging", "tests"];

fn scripts(dir: &Path, recurse: bool, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            let skip = matches!(
                path.file_name().and_then(|n| n.to_str()),
                Some("target" | "corpus" | "artifacts" | ".git")
            );
            if recurse && !skip {
                scripts(&path, true, out);
            }
        } else if meta.is_file()
            && std::fs::read(&path)
                .map(|bytes| bytes.starts_with(b"#!"))
                .unwrap_or(false)
        {
            out.push(path);
        }
    }
}

#[test]
fn scripts_with_a_shebang_are_executable() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = Vec::new();
    for dir in DIRS {
        scripts(&root.join(dir), *dir != ".", &mut found);
    }
    assert!(
        found.iter().any(|p| p.ends_with("tests/run")),
        "the walk found no tests/run: {found:?}"
    );
    let not_executable: Vec<String> = found
        .iter()
        .filter(|p| std::fs::metadata(p).unwrap().permissions().mode() & 0o100 == 0)
        .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
        .collect();
    assert!(
        not_executable.is_empty(),
        "scripts with #! but no executable bit (git update-index --chmod=+x): {not_executable:?}"
    );
}
