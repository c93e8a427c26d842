//! `validate [PATH…]` and `render NAME`: the generator's view, changing nothing.

use std::path::{Path, PathBuf};

use ostree_guests::config::{self, BRIDGE_SUFFIX, Loaded};
use ostree_guests::paths::{CONFIG_DIRS, DROPIN_NAME, ENV_ROOT, env_path, under_root};
use ostree_guests::render::{self, Node};
use ostree_guests::start_plan;

use crate::exit::{Failure, INVALID, Result, USAGE};
use crate::files;

use super::{find_guest, load};

/// Host bind sources that a user-namespaced guest cannot use: the start would fail (exit 100).
fn idmap_warnings(c: &config::GuestConfig) -> Vec<String> {
    if c.private_users() != config::PrivateUsers::Idmap {
        return Vec::new();
    }
    c.bind
        .iter()
        .enumerate()
        .filter(|(_, b)| !b.source.in_guest())
        .filter_map(|(i, b)| {
            let why = ostree_guests::fs_kind::idmap_unsupported(Path::new(b.source.path()))?;
            Some(format!(
                "bind[{i}].source {} is on a file system that {why}: the guest will not start (exit status 100); move it, or set security.private-users = \"no\"",
                b.source.path()
            ))
        })
        .collect()
}

/// Prints the loader's findings the way the generator logs them; returns (valid, invalid).
/// `show_bridge` picks the bridge declarations to report: all of them for the installed
/// configuration, only the one a given file declares when files are checked (the others are
/// linked in only so that guests see the bridges they would see once installed).
fn report(
    loaded: &Loaded,
    rename: &dyn Fn(String) -> String,
    show_bridge: &dyn Fn(&str) -> bool,
) -> (usize, usize) {
    for w in &loaded.warnings {
        eprintln!("ostree-guests: warning: {}", rename(w.clone()));
    }
    for e in &loaded.unnamed {
        eprintln!("ostree-guests: {}", rename(e.to_string()));
    }
    let mut ok = 0;
    for g in &loaded.guests {
        match &g.settings {
            Err(e) => {
                eprintln!("ostree-guests: {}", rename(e.to_string()));
                println!("{}: invalid", g.name);
            }
            Ok(s) => {
                ok += 1;
                for w in config::isolation_warnings(&s.config) {
                    eprintln!("ostree-guests: warning: {}: {w}", g.name);
                }
                for w in idmap_warnings(&s.config) {
                    eprintln!("ostree-guests: warning: {}: {w}", g.name);
                }
                println!("{}: valid (stateroot {})", g.name, s.stateroot);
            }
        }
    }
    let mut bad_bridges = 0;
    for b in loaded.bridges.iter().filter(|b| show_bridge(&b.name)) {
        match &b.settings {
            Err(e) => {
                bad_bridges += 1;
                eprintln!("ostree-guests: {}", rename(e.to_string()));
                println!("bridge {}: invalid", b.name);
            }
            Ok(_) => println!("bridge {}: valid", b.name),
        }
    }
    (
        ok,
        loaded.guests.len() - ok + loaded.unnamed.len() + bad_bridges,
    )
}

/// Links the bridge declarations (`*.bridge.toml`) of `from` into `to`, unless a file of that
/// name is there already (a higher-priority one): guests are checked against the bridges they
/// would see once installed.
fn link_bridges(from: &Path, to: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let is_bridge = name
            .to_str()
            .is_some_and(|n| n.ends_with(BRIDGE_SUFFIX) && !n.starts_with('.'));
        if !is_bridge || to.join(&name).exists() {
            continue;
        }
        files::ensure_dir(to)?;
        std::os::unix::fs::symlink(e.path(), to.join(&name))
            .map_err(|err| Failure::io("linking", &to.join(&name), err))?;
    }
    Ok(())
}

/// Loads PATH (a NAME.toml, with its NAME.toml.d next to it, or a directory of them) as if it
/// were /etc/ostree-guests.d, through symlinks so the loader checks the real files' owners and
/// modes. Messages name PATH, not the scratch directory.
/// Maps scratch-tree paths in a message back to what the user named.
type Rename = Box<dyn Fn(String) -> String>;

fn load_path(path: &Path) -> Result<(Loaded, Rename)> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Failure::new(USAGE, format!("{}: {e}", path.display())))?;
    let real = std::fs::canonicalize(path)
        .map_err(|e| Failure::new(USAGE, format!("{}: {e}", path.display())))?;
    let tmp = tempfile::tempdir()
        .map_err(|e| Failure::io("creating", Path::new("a scratch directory"), e))?;
    let etc = tmp.path().join("etc");
    files::ensure_dir(&etc)?;
    let link = |from: &Path, to: &Path| {
        std::os::unix::fs::symlink(from, to).map_err(|e| Failure::io("linking", to, e))
    };
    let conf = etc.join("ostree-guests.d");
    let shown_dir = if meta.is_dir() {
        link(&real, &conf)?;
        path.display().to_string()
    } else {
        let file_name = real
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !file_name.ends_with(".toml") {
            return Err(Failure::new(
                USAGE,
                format!(
                    "{}: not a NAME.toml file (the file name is the machine name)",
                    path.display()
                ),
            ));
        }
        files::ensure_dir(&conf)?;
        link(&real, &conf.join(file_name))?;
        let dropins = real.with_file_name(format!("{file_name}.d"));
        if dropins.is_dir() {
            link(&dropins, &conf.join(format!("{file_name}.d")))?;
        }
        if let Some(dir) = real.parent() {
            link_bridges(dir, &conf)?;
        }
        path.parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let root = files::config_root();
    // In directory mode the /etc slot is a link to the user's directory: never write into it.
    for dir in CONFIG_DIRS
        .iter()
        .filter(|d| !meta.is_dir() || **d != files::ETC_DIR)
    {
        link_bridges(&under_root(&root, dir), &under_root(tmp.path(), dir))?;
    }
    let loaded = config::load(tmp.path());
    let prefix = if shown_dir.is_empty() {
        String::new()
    } else {
        format!("{}/", shown_dir.trim_end_matches('/'))
    };
    let rename = move |s: String| s.replace(&format!("{}/", files::ETC_DIR), &prefix);
    Ok((loaded, Box::new(rename)))
}

pub fn validate(paths: &[PathBuf]) -> Result<()> {
    let mut valid = 0;
    let mut invalid = 0;
    if paths.is_empty() {
        let loaded = load();
        let (v, i) = report(&loaded, &|s| s, &|_| true);
        (valid, invalid) = (v, i);
        if loaded.guests.is_empty() && loaded.unnamed.is_empty() {
            println!("no guests configured");
        }
    }
    for p in paths {
        let (loaded, rename) = load_path(p)?;
        let file_name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let declared = file_name
            .strip_suffix(config::BRIDGE_SUFFIX)
            .map(str::to_owned);
        if declared.is_none() && loaded.guests.is_empty() && loaded.unnamed.is_empty() {
            eprintln!(
                "ostree-guests: {}: no guest configuration found",
                p.display()
            );
        }
        let (v, i) = report(&loaded, &*rename, &|name| declared.as_deref() == Some(name));
        valid += v;
        invalid += i;
    }
    if invalid > 0 {
        return Err(Failure::new(
            INVALID,
            format!("{invalid} invalid, {valid} valid guest configuration(s)"),
        ));
    }
    Ok(())
}

pub fn render(name: &str) -> Result<()> {
    let loaded = load();
    let guest = find_guest(&loaded, name)?;
    let output = render::generate(&loaded);
    let unit = guest.name.unit();
    let rel = render::dropin_path(&unit);
    println!("# {unit}.d/{DROPIN_NAME} (what the generator writes)");
    if let Some(Node::File(text)) = output.nodes.get(&rel) {
        print!("{text}");
    }
    let autostart = output.nodes.contains_key(&render::autostart_path(&unit));
    println!(
        "# autostart (machines.target.wants/{unit}): {}",
        if autostart { "yes" } else { "no" }
    );
    if let Err(e) = &guest.settings {
        return Err(Failure::new(
            crate::exit::CONFIG_INVALID,
            format!(
                "{e}\n{name}: the drop-in above is the fail-closed one; the guest will not start"
            ),
        ));
    }
    println!();
    println!(
        "# ostree-guest-start --dry-run {name} (the helper's resolution and nspawn command line)"
    );
    // The helper's own dry run: its root and its machined test, so the argv is the one it runs.
    let text = start_plan::dry_run(&env_path(ENV_ROOT, "/"), name, start_plan::systemd_booted())?;
    print!("{text}");
    Ok(())
}
