//! `enable NAME` and `disable NAME`: autostart through our drop-in
//! NAME.toml.d/50-autostart.toml, so the admin's (or Butane's) main file is never edited.

use std::path::{Path, PathBuf};

use crate::exit::{Failure, OVERRIDDEN, Result};
use crate::files;
use crate::progress;
use crate::systemd;

use super::{claims, find_guest, load, valid};

/// Files of guest `name` that apply after ours and set `autostart` themselves.
fn overriding(root: &Path, sources: &[PathBuf], ours: &Path) -> Vec<String> {
    sources
        .iter()
        .skip_while(|f| f.as_path() != ours)
        .skip(1)
        .filter(|f| !matches!(claims::raw_key(root, f, "autostart"), Ok(None)))
        .map(|f| f.display().to_string())
        .collect()
}

pub fn set(name: &str, on: bool) -> Result<()> {
    let root = files::config_root();
    let loaded = load();
    let guest = find_guest(&loaded, name)?;
    valid(guest)?;
    let file = files::autostart_file(&root, name);
    let shown = files::logical(&root, &file);
    let verb = if on { "enable" } else { "disable" };
    let previous = std::fs::read_to_string(&file).ok();
    let text = format!(
        "# Written by `ostree-guests {verb} {name}`; `ostree-guests {}able {name}` changes it.\nautostart = {on}\n",
        if on { "dis" } else { "en" }
    );
    if previous.as_deref() != Some(text.as_str()) {
        files::write_atomic(&file, &text)?;
    }

    // What the loader makes of it: a drop-in that sorts after ours decides.
    let reloaded = load();
    let now = find_guest(&reloaded, name)
        .ok()
        .and_then(|g| g.settings.as_ref().ok().map(|s| (g, s.config.autostart)));
    if let Some((g, value)) = now
        && value != on
    {
        let others = overriding(&root, &g.sources, &shown);
        match &previous {
            Some(p) => files::write_atomic(&file, p)?,
            None => {
                files::remove_file(&file)?;
                files::remove_empty_dir(&files::dropin_dir(&root, name));
            }
        }
        return Err(Failure::new(
            OVERRIDDEN,
            format!(
                "{name}: {} sets autostart and applies after {}, so `{verb}` would change nothing; nothing was changed. Edit that file instead",
                if others.is_empty() {
                    "a later configuration file".to_owned()
                } else {
                    others.join(", ")
                },
                shown.display()
            ),
        ));
    }
    if systemd::available() {
        systemd::daemon_reload()?;
    } else {
        progress::step("systemd is not running: `systemctl daemon-reload` skipped");
    }
    let unit = guest.name.unit();
    println!(
        "{name}: autostart {} ({}); {}",
        if on { "on" } else { "off" },
        shown.display(),
        if on {
            format!("`systemctl start {unit}` starts it now")
        } else {
            format!("a running guest keeps running (`systemctl stop {unit}` stops it)")
        }
    );
    Ok(())
}
