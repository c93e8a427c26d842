//! The systemd-nspawn command line for a guest, as a pure function of its settings and the
//! resolved deployment, so it can be golden-tested and shown by `--dry-run`.
//!
//! Shape (see DESIGN.md, "Host safety model"):
//! - `--directory` is the physical sysroot and `--pivot-root` its deployment *without* keeping
//!   the old root, so the guest never sees the host's other stateroots, `/var` or repository;
//! - the stateroot's `var` and the boot directory come from staging mounts outside the
//!   directory (a source under `--directory` would resolve after the pivot);
//! - `/usr` is bound read-only over itself: its files are the host's and the repository's inodes;
//! - no `-U`/`--private-users`: ownership shifting would chown the shared repository.

use std::ffi::OsString;
use std::path::Path;

use crate::config::{NetworkMode, Settings};
use crate::name::MachineName;

/// Where the start helper puts its staging mounts, inside its private mount namespace.
pub const STAGING_DIR: &str = "/run/ostree-guests";

#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub machine: &'a MachineName,
    pub settings: &'a Settings,
    /// The physical root (`--directory`).
    pub sysroot: &'a Path,
    /// The deployment relative to the sysroot: `ostree/deploy/X/deploy/CSUM.SERIAL`.
    pub deployment: &'a Path,
    /// Staged bind sources for the stateroot's var and the boot directory.
    pub var_source: &'a Path,
    pub boot_source: &'a Path,
    /// Register with systemd-machined (off where there is none, e.g. tests without systemd).
    pub register: bool,
}

/// nspawn reads `--bind=SRC:DST` with backslash escapes, so `:` inside a path needs one.
fn bind_path(p: &str) -> String {
    p.replace('\\', "\\\\").replace(':', "\\:")
}

fn opt(name: &str, value: impl AsRef<str>) -> OsString {
    OsString::from(format!("--{name}={}", value.as_ref()))
}

pub fn argv(plan: &Plan<'_>) -> Vec<OsString> {
    let c = &plan.settings.config;
    let mut a: Vec<OsString> = vec![
        "systemd-nspawn".into(),
        "--quiet".into(),
        "--keep-unit".into(),
        "--boot".into(),
        opt("machine", plan.machine.as_str()),
        opt("directory", plan.sysroot.display().to_string()),
        opt("pivot-root", format!("/{}", plan.deployment.display())),
        // Files in /etc/systemd/nspawn/NAME.nspawn add settings but never override ours.
        "--settings=yes".into(),
        // A trusted .nspawn file's PrivateUsers= applies unless the command line sets it, and
        // "pick" would chown the shared sysroot: say "no" here so no file can.
        "--private-users=no".into(),
        // "try-guest" would leave a dangling link: the guest path is only valid after the pivot.
        "--link-journal=no".into(),
    ];
    if !plan.register {
        a.push("--register=no".into());
    }
    a.push(opt(
        "bind",
        format!("{}:/var", bind_path(&plan.var_source.display().to_string())),
    ));
    a.push(opt(
        "bind-ro",
        format!(
            "{}:/boot",
            bind_path(&plan.boot_source.display().to_string())
        ),
    ));
    a.push("--bind-ro=+/usr:/usr".into());
    let net = &c.network;
    match net.mode {
        NetworkMode::Veth => a.push("--network-veth".into()),
        NetworkMode::Bridge => {
            if let Some(b) = &net.bridge {
                a.push(opt("network-bridge", b));
            }
        }
        NetworkMode::Zone => {
            if let Some(z) = &net.zone {
                a.push(opt("network-zone", z.as_str()));
            }
        }
        NetworkMode::Host => {}
        NetworkMode::None => a.push("--private-network".into()),
    }
    for p in &net.ports {
        a.push(opt("port", p.as_str()));
    }
    for b in &c.bind {
        let flag = if b.read_only { "bind-ro" } else { "bind" };
        a.push(opt(
            flag,
            format!(
                "{}:{}",
                bind_path(b.source.as_str()),
                bind_path(b.target().as_str())
            ),
        ));
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GuestConfig, Stateroot};

    fn settings(toml: &str) -> Settings {
        let config: GuestConfig = toml::from_str(toml).unwrap();
        Settings {
            stateroot: Stateroot::try_from("web".to_owned()).unwrap(),
            config,
        }
    }

    fn render(toml: &str, register: bool) -> String {
        let name = MachineName::parse("web").unwrap();
        let s = settings(toml);
        let plan = Plan {
            machine: &name,
            settings: &s,
            sysroot: Path::new("/sysroot"),
            deployment: Path::new("ostree/deploy/web/deploy/abc.0"),
            var_source: Path::new("/run/ostree-guests/web/var"),
            boot_source: Path::new("/run/ostree-guests/web/boot"),
            register,
        };
        argv(&plan)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn default_guest() {
        similar_asserts::assert_eq!(
            render("", true),
            "systemd-nspawn\n--quiet\n--keep-unit\n--boot\n--machine=web\n--directory=/sysroot\n\
             --pivot-root=/ostree/deploy/web/deploy/abc.0\n--settings=yes\n--private-users=no\n\
             --link-journal=no\n\
             --bind=/run/ostree-guests/web/var:/var\n--bind-ro=/run/ostree-guests/web/boot:/boot\n\
             --bind-ro=+/usr:/usr\n--network-veth"
        );
    }

    #[test]
    fn never_user_namespaces_or_old_root() {
        for toml in [
            "",
            "[network]\nmode = \"host\"",
            "[network]\nmode = \"none\"",
        ] {
            let a = render(toml, false);
            assert!(
                !a.contains("-U") && !a.contains("--private-users=pick"),
                "{a}"
            );
            assert!(
                a.contains("--private-users=no") && !a.contains("ownership"),
                "{a}"
            );
            assert!(!a.contains(":/sysroot"), "{a}");
            assert!(!a.contains("try-guest") && !a.contains("override"), "{a}");
            assert!(a.contains("--register=no"), "{a}");
        }
    }

    #[test]
    fn network_modes_and_ports() {
        let a = render(
            "[network]\nmode = \"bridge\"\nbridge = \"br0\"\nports = [\"tcp:8080:80\"]",
            true,
        );
        assert!(
            a.ends_with("--network-bridge=br0\n--port=tcp:8080:80"),
            "{a}"
        );
        let a = render("[network]\nmode = \"zone\"\nzone = \"lab\"", true);
        assert!(a.ends_with("--network-zone=lab"), "{a}");
        let a = render("[network]\nmode = \"none\"", true);
        assert!(a.ends_with("--private-network"), "{a}");
        let a = render("[network]\nmode = \"host\"", true);
        assert!(a.ends_with("--bind-ro=+/usr:/usr"), "{a}");
    }

    #[test]
    fn binds_escape_colons_and_backslashes() {
        let a = render(
            "[[bind]]\nsource = \"/srv/a:b\"\n[[bind]]\nsource = \"/srv/c\\\\d\"\ntarget = \"/mnt/x\"\nread-only = true",
            true,
        );
        assert!(
            a.ends_with("--bind=/srv/a\\:b:/srv/a\\:b\n--bind-ro=/srv/c\\\\d:/mnt/x"),
            "{a}"
        );
    }
}
