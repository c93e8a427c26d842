//! Golden tests: the real generator binary runs on each scenario tree under tests/generator/,
//! and its whole output tree (files and symlink targets), stdout, stderr and exit status are
//! compared with what is checked in next to it.
//!
//! Layout of a case directory:
//!   root/             OSTREE_GUESTS_ROOT (config files under root/etc/ostree-guests.d, …)
//!   args              optional: arguments, one per line; `{out}` is the output directory
//!                     (default: the output directory as the only argument)
//!   env               optional: KEY=VALUE lines added to the environment
//!   expected/         the output tree (absent: nothing is written)
//!   expected.stdout, expected.stderr, expected.exit   (absent: empty, empty, 0)
//!
//! Each case is a test of its own, named like its directory with dashes as underscores
//! (`cargo test -p ostree-guests-generator --test golden dropin_merge_order` runs one).
//! UPDATE_GOLDEN=1 cargo test -p ostree-guests-generator --test golden   rewrites the expectations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

#[path = "../../tests/support/update_golden.rs"]
mod update_golden;

#[path = "../../tests/support/cases.rs"]
mod cases;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

#[derive(Debug, PartialEq, Eq)]
enum Entry {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

fn snapshot(dir: &Path) -> BTreeMap<String, Entry> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd {
            let e = e.unwrap();
            let path = e.path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                let t = fs::read_link(&path).unwrap().display().to_string();
                out.insert(rel, Entry::Symlink(t));
            } else if ft.is_dir() {
                out.insert(rel, Entry::Dir);
                walk(base, &path, out);
            } else {
                out.insert(rel, Entry::File(fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn render(tree: &BTreeMap<String, Entry>) -> String {
    let mut s = String::new();
    for (k, v) in tree {
        match v {
            Entry::Dir => s.push_str(&format!("{k}/\n")),
            Entry::Symlink(t) => s.push_str(&format!("{k} -> {t}\n")),
            Entry::File(bytes) => {
                s.push_str(&format!("{k}:\n{}\n", String::from_utf8_lossy(bytes)));
            }
        }
    }
    s
}

/// Copies a tree with fixed modes (0755 dirs, 0644 files): the generator refuses group- or
/// world-writable configuration, and a checkout's modes depend on the user's umask.
fn copy_tree(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let _ = fs::remove_dir_all(to);
    fs::create_dir_all(to).unwrap();
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).unwrap();
    for (rel, e) in snapshot(from) {
        let p = to.join(&rel);
        match e {
            Entry::Dir => {
                fs::create_dir_all(&p).unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
            }
            Entry::File(t) => {
                fs::write(&p, t).unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
            }
            Entry::Symlink(t) => std::os::unix::fs::symlink(t, &p).unwrap(),
        }
    }
}

fn read_or(path: &Path, default: &str) -> String {
    fs::read_to_string(path).unwrap_or_else(|_| default.to_owned())
}

fn run_case(case: &Path, update: bool) -> Result<(), String> {
    let out = tempfile::tempdir().unwrap();
    // Not created in advance: the snapshot covers the whole temp dir, so a write to EARLY or
    // LATE (siblings of NORMAL) or anywhere else shows up.
    let gen_dir = out.path().join("gen");
    fs::create_dir(&gen_dir).unwrap();
    let out_dir = gen_dir.join("normal");
    let args: Vec<String> = match fs::read_to_string(case.join("args")) {
        Ok(text) => text
            .lines()
            .map(|l| l.replace("{out}", &out_dir.display().to_string()))
            .collect(),
        Err(_) => vec![out_dir.display().to_string()],
    };
    let root = out.path().join("input");
    copy_tree(&case.join("root"), &root);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ostree-guests-generator"));
    cmd.args(&args)
        .env_remove("SYSTEMD_EXEC_PID")
        .env_remove("SYSTEMD_IN_INITRD")
        .env("OSTREE_GUESTS_ROOT", &root);
    for line in read_or(&case.join("env"), "")
        .lines()
        .filter(|l| !l.is_empty())
    {
        let (k, v) = line.split_once('=').unwrap();
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    let code = output.status.code().ok_or_else(|| {
        format!(
            "{}: killed by a signal: {:?}",
            case.display(),
            output.status
        )
    })?;
    let out_text = out_dir.display().to_string();
    let stdout = String::from_utf8_lossy(&output.stdout).replace(&out_text, "{out}");
    let stderr = String::from_utf8_lossy(&output.stderr).replace(&out_text, "{out}");
    let got_tree = snapshot(&gen_dir);

    if update {
        let exp = case.join("expected");
        let _ = fs::remove_dir_all(&exp);
        if !got_tree.is_empty() {
            copy_tree(&gen_dir, &exp);
        }
        let write_opt = |name: &str, text: &str, default: &str| {
            let p = case.join(name);
            if text == default {
                let _ = fs::remove_file(&p);
            } else {
                fs::write(&p, text).unwrap();
            }
        };
        write_opt("expected.stdout", &stdout, "");
        write_opt("expected.stderr", &stderr, "");
        write_opt("expected.exit", &format!("{code}\n"), "0\n");
        return Ok(());
    }

    let want_tree = snapshot(&case.join("expected"));
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    similar_asserts::assert_eq!(render(&want_tree), render(&got_tree), "{name}: output tree");
    similar_asserts::assert_eq!(
        read_or(&case.join("expected.stdout"), ""),
        stdout,
        "{name}: stdout"
    );
    similar_asserts::assert_eq!(
        read_or(&case.join("expected.stderr"), ""),
        stderr,
        "{name}: stderr"
    );
    let want_code: i32 = read_or(&case.join("expected.exit"), "0")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(want_code, code, "{name}: exit status");
    Ok(())
}

/// Runs the case `tests/generator/NAME`, or rewrites its expectations with UPDATE_GOLDEN=1.
fn golden(name: &str) {
    let case = cases::case_dir(env!("CARGO_MANIFEST_DIR"), "generator", name);
    run_case(&case, update_golden::update_golden()).unwrap();
}

cases::golden_cases! { golden;
    all_core_keys,
    argv_help,
    argv_none,
    argv_two_dirs,
    argv_unknown_flag,
    argv_version,
    autostart_off,
    bad_value,
    bind_over_reserved,
    bind_string_bypass,
    bridge_declaration_not_a_guest,
    bridge_undeclared_or_invalid,
    dropin_error_located,
    dropin_merge_order,
    dry_run,
    empty_config,
    huge_and_binary_files,
    initrd_env,
    initrd_release_file,
    invalid_key,
    invalid_name,
    mask_dev_null,
    mask_empty_file,
    minimal_guest,
    name_dash_dot,
    name_hyphen_edges,
    network_combinations,
    newline_injection,
    ostree_tools_and_boot,
    profile_kubernetes,
    security_invalid,
    security_options,
    several_one_invalid,
    special_characters,
    stateroot_defaults_to_name_conflict,
    three_dirs,
    toml_syntax_error,
    two_guests_one_stateroot,
    vendor_claims_yield,
    vendor_vs_admin,
    wrong_type,
}

#[test]
fn every_case_directory_has_a_test() {
    cases::listed_cases_are_the_directories(env!("CARGO_MANIFEST_DIR"), "generator", CASES, 20);
}
