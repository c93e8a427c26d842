//! The checks of one guest's settings that need several keys at once or other guests' bridge
//! declarations, and the isolation warnings: kept apart from loading (`mod.rs`) so that what is
//! refused can be read in one place.

use super::{
    BRIDGE_SUFFIX, ConfigError, GuestConfig, KnownBridges, NetworkMode, PrivateUsers, Profile,
};
use crate::bind_source::{self, Refusal};
use crate::name::InterfaceName;
use std::path::Path;

/// `path` as the kernel reads it: repeated and trailing slashes carry no meaning, so `//usr`
/// must be checked as `/usr` (`.` and `..` are refused when the value is read).
fn normalized(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// Why the (normalized) host path `source` may not be bound, judged on its string by the one
/// rule of `bind_source` with the booted host's places; the helper judges the real path.
fn host_source_refusal(source: &str, read_only: bool, boot_writable: bool) -> Option<String> {
    let refusal = bind_source::host_source_refusal(
        Path::new(source),
        read_only,
        boot_writable,
        &bind_source::booted_host(),
    )?;
    let what = match refusal {
        Refusal::Proc => "/proc, whose links reach every process's root directory".to_owned(),
        Refusal::HostRoot => physical_root("/"),
        Refusal::PhysicalRoot(root) => physical_root(&root.display().to_string()),
        Refusal::BootWritable(_) => {
            return Some(format!(
                "binding {source} read-write would let the guest change the host's kernels and boot entries; add read-only = true, or set boot-writable = true"
            ));
        }
    };
    Some(format!(
        "binding {source} would expose {what}; bind a directory of its own instead"
    ))
}

fn physical_root(under: &str) -> String {
    format!(
        "the host's physical root under {under} (other stateroots, the host's /var, the OSTree repository)"
    )
}

const MAX_DESCRIPTION: usize = 512;

/// Targets a bind must not cover: the guest's own OS, API filesystems and what we mount.
const RESERVED_TARGETS: &[&str] = &[
    "/", "/usr", "/etc", "/var", "/boot", "/proc", "/sys", "/dev", "/run", "/sysroot", "/ostree",
];

pub(super) fn check_combinations(
    c: &GuestConfig,
    bridges: &KnownBridges,
    err: impl Fn(&str, String) -> ConfigError,
) -> Result<(), ConfigError> {
    if let Some(d) = &c.description {
        crate::unit::check_line(d).map_err(|e| err("description", e.to_string()))?;
        if d.chars().count() > MAX_DESCRIPTION {
            return Err(err(
                "description",
                format!(
                    "is {} characters long; at most {MAX_DESCRIPTION}",
                    d.chars().count()
                ),
            ));
        }
    }
    let net = &c.network;
    match (net.mode, &net.bridge, &net.zone) {
        (NetworkMode::Bridge, None, _) => {
            return Err(err(
                "network.mode",
                "mode = \"bridge\" needs the bridge's name: add bridge = \"br0\" to [network]"
                    .into(),
            ));
        }
        (NetworkMode::Zone, _, None) => {
            return Err(err(
                "network.mode",
                "mode = \"zone\" needs a zone name: add zone = \"NAME\" to [network]".into(),
            ));
        }
        (m, Some(_), _) if m != NetworkMode::Bridge => {
            return Err(err(
                "network.bridge",
                format!(
                    "bridge is set but mode is \"{}\"; set mode = \"bridge\" or remove bridge",
                    m.as_str()
                ),
            ));
        }
        (m, _, Some(_)) if m != NetworkMode::Zone => {
            return Err(err(
                "network.zone",
                format!(
                    "zone is set but mode is \"{}\"; set mode = \"zone\" or remove zone",
                    m.as_str()
                ),
            ));
        }
        _ => {}
    }
    if let Some(b) = &net.bridge {
        InterfaceName::try_from(b.clone()).map_err(|m| err("network.bridge", m))?;
        match bridges.get(b) {
            None => {
                return Err(err(
                    "network.bridge",
                    format!(
                        "bridge \"{b}\" is not declared: create {b}{BRIDGE_SUFFIX} in {} (managed = false if your own network configuration creates it)",
                        crate::paths::CONFIG_DIRS
                            .first()
                            .copied()
                            .unwrap_or_default()
                    ),
                ));
            }
            Some(Some(file)) => {
                return Err(err(
                    "network.bridge",
                    format!(
                        "bridge \"{b}\" is declared in {} but that declaration is invalid",
                        file.display()
                    ),
                ));
            }
            Some(None) => {}
        }
    }
    if !net.ports.is_empty() && !net.mode.supports_ports() {
        return Err(err(
            "network.ports",
            format!(
                "port forwards need a private network (veth, bridge or zone), but mode is \"{}\"",
                net.mode.as_str()
            ),
        ));
    }
    for (i, b) in c.bind.iter().enumerate() {
        if b.source.in_guest() {
            continue;
        }
        let source = normalized(b.source.path());
        if let Some(why) = host_source_refusal(&source, b.read_only, c.boot_writable) {
            return Err(err(&format!("bind[{i}].source"), why));
        }
    }
    for (i, b) in c.bind.iter().enumerate() {
        let target = normalized(b.target());
        let covered = RESERVED_TARGETS.iter().find(|r| {
            target == **r || (**r != "/" && **r != "/var" && target.starts_with(&format!("{r}/")))
        });
        if let Some(r) = covered {
            let key = if b.target.is_some() {
                "target"
            } else {
                "source"
            };
            return Err(err(
                &format!("bind[{i}].{key}"),
                format!("a bind onto {target} would cover the guest's {r}; choose another target"),
            ));
        }
    }
    for (name, value) in &c.environment {
        let key = format!("environment.{name}");
        let valid_name = name.len() <= 128
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(err(
                &key,
                format!(
                    "invalid variable name {name:?}: use ASCII letters, digits and '_', not starting with a digit"
                ),
            ));
        }
        if value.chars().any(|c| c.is_control()) || value.len() > 4096 {
            return Err(err(
                &key,
                "the value must be at most 4096 bytes without control characters".into(),
            ));
        }
    }
    if c.ostree_tools && c.boot_writable {
        return Err(err(
            "ostree-tools",
            "ostree-tools and boot-writable together would let `ostree admin deploy` in the guest rewrite the host's boot entries; drop one".into(),
        ));
    }
    if c.security.private_users == Some(PrivateUsers::Idmap) {
        if c.profile == Profile::Kubernetes {
            return Err(err(
                "security.private-users",
                "the kubernetes profile needs real root in the guest (runc, cgroups, /dev/kmsg); remove private-users (the profile implies \"no\") or set it to \"no\"".into(),
            ));
        }
        if c.bind_dev {
            return Err(err(
                "security.private-users",
                "bind-dev needs real root in the guest: the host's device nodes belong to the host's root, which a user namespace cannot map; remove private-users (bind-dev implies \"no\") or drop bind-dev".into(),
            ));
        }
    }
    Ok(())
}

/// Settings that widen what the guest can reach on the host; the generator logs them on every
/// run, so a weakened guest is never a surprise.
pub fn isolation_warnings(c: &GuestConfig) -> Vec<String> {
    let mut w = Vec::new();
    if c.privileged() {
        let why = match c.security.private_users {
            Some(_) => "security.private-users = \"no\"",
            None if c.profile == Profile::Kubernetes => {
                "profile = \"kubernetes\" (implies private-users = \"no\")"
            }
            None => "bind-dev (implies private-users = \"no\")",
        };
        w.push(format!("{why}: privileged guest, its root is the host's root and can remount /usr and /boot and write the host's OS"));
    }
    if c.network.mode == NetworkMode::Host {
        w.push("network.mode = \"host\": the guest shares the host's network interfaces and can bind its ports".to_owned());
    }
    if c.boot_writable {
        w.push(
            "boot-writable: the guest can change the host's boot entries and kernels".to_owned(),
        );
    }
    if c.bind_dev {
        w.push(
            "bind-dev: the guest sees all host devices and the device cgroup is opened".to_owned(),
        );
    }
    if c.profile == Profile::Kubernetes {
        w.push("profile = \"kubernetes\": all capabilities, writable /proc/sys, /dev/kmsg and an open device cgroup".to_owned());
    }
    if c.ostree_tools {
        w.push("ostree-tools: the guest can read the host's physical root (all stateroots, the repository)".to_owned());
    }
    if c.security
        .capabilities
        .iter()
        .any(|cap| cap.as_str() == "all")
    {
        w.push("security.capabilities = [\"all\"]: the guest keeps every capability".to_owned());
    }
    w
}
