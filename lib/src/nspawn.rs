//! The systemd-nspawn command line for a guest, as a pure function of its settings and the
//! resolved deployment, so it can be golden-tested and shown by `--dry-run`.
//!
//! Shape (see docs/DESIGN.md, "Host safety model"):
//! - `--directory` is the physical sysroot and `--pivot-root` its deployment *without* keeping
//!   the old root, so the guest never sees the host's other stateroots, `/var` or repository;
//! - the stateroot's `var` and the boot directory come from staging mounts outside the
//!   directory (a source under `--directory` would resolve after the pivot);
//! - `/usr` is bound read-only over itself: its files are the host's and the repository's inodes;
//! - ownership `map` or `--private-users=no`, never `-U`/`auto`/`chown` (they may chown the repo).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::config::{GuestConfig, NetworkMode, PrivateUsers, Profile, Settings};
use crate::name::MachineName;

/// Where the start helper puts its staging mounts, inside its private mount namespace.
pub const STAGING_DIR: &str = "/run/ostree-guests";

/// System calls k3s/containerd need that nspawn's allow-list leaves out: keyrings (containerd),
/// bpf (runc's cgroup v2 device filter, eBPF CNIs), perf_event_open.
const KUBERNETES_SYSCALLS: &[&str] = &["@keyring", "bpf", "perf_event_open"];

/// Where the start helper stages what the guest gets from outside its deployment, in its
/// private namespace: every such source is opened (and checked) once and bound here, so
/// nspawn is handed paths that no guest and no later rename can redirect.
#[derive(Debug, Clone)]
pub struct Staging {
    dir: PathBuf,
}

impl Staging {
    pub fn for_machine(machine: &MachineName) -> Self {
        Self {
            dir: Path::new(STAGING_DIR).join(machine.as_str()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The stateroot's var.
    pub fn var(&self) -> PathBuf {
        self.dir.join("var")
    }

    /// The boot directory.
    pub fn boot(&self) -> PathBuf {
        self.dir.join("boot")
    }

    /// An empty file: the guest's own /run/ostree-booted (ostree-tools).
    pub fn booted_marker(&self) -> PathBuf {
        self.dir.join("ostree-booted")
    }

    /// The physical root, read-only (ostree-tools).
    pub fn sysroot(&self) -> PathBuf {
        self.dir.join("sysroot")
    }

    /// The source of the configuration's `[[bind]]` number `index`.
    pub fn bind(&self, index: usize) -> PathBuf {
        self.dir.join("bind").join(index.to_string())
    }
}

#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub machine: &'a MachineName,
    pub settings: &'a Settings,
    /// The physical root (`--directory`).
    pub sysroot: &'a Path,
    /// The deployment relative to the sysroot: `ostree/deploy/X/deploy/CSUM.SERIAL`.
    pub deployment: &'a Path,
    pub staging: &'a Staging,
    /// The deployment's directory on the host, to resolve bind targets through its symlinks;
    /// None leaves targets as configured (dry runs without a deployment tree).
    pub deployment_dir: Option<&'a Path>,
    /// Register with systemd-machined (off where there is none, e.g. tests without systemd).
    pub register: bool,
}

/// Environment for systemd-nspawn itself (not the guest). The drop-in sets it for the unit and
/// the helper sets it before exec, so both paths behave alike.
pub fn nspawn_environment(c: &GuestConfig) -> Vec<(&'static str, &'static str)> {
    // Every guest uses the same --directory and the deployment root is immutable: nspawn's
    // exclusive image lock could only fail or serialize guests.
    let mut env = vec![("SYSTEMD_NSPAWN_LOCK", "0")];
    if c.profile == Profile::Kubernetes {
        // kubelet writes vm.overcommit_memory, kernel.panic*, kernel.keys.*
        env.push(("SYSTEMD_NSPAWN_API_VFS_WRITABLE", "1"));
        env.push(("SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", "1"));
    }
    env
}

/// Host devices reach the guest: the stock template's closed device policy must be opened.
pub fn opens_devices(c: &GuestConfig) -> bool {
    c.bind_dev || c.profile == Profile::Kubernetes
}

/// nspawn reads `--bind=SRC:DST[:OPTIONS]` with backslash escapes, so `:` needs one.
fn bind_path(p: &str) -> String {
    p.replace('\\', "\\\\").replace(':', "\\:")
}

fn bind(flag: &str, source: &str, target: &str, idmap: bool) -> OsString {
    let options = if idmap { ":idmap" } else { "" };
    OsString::from(format!(
        "--{flag}={}:{}{options}",
        bind_path(source),
        bind_path(target)
    ))
}

fn opt(name: &str, value: impl AsRef<str>) -> OsString {
    OsString::from(format!("--{name}={}", value.as_ref()))
}

pub fn argv(plan: &Plan<'_>) -> Vec<OsString> {
    let c = &plan.settings.config;
    let sec = &c.security;
    let idmap = c.private_users() == PrivateUsers::Idmap;
    // The old root is never kept: nspawn would idmap it after the pivot, where it is a submount
    // it cannot remap, and it would show the guest the physical root read-write.
    let pivot = format!("/{}", plan.deployment.display());
    let mut a: Vec<OsString> = vec![
        "systemd-nspawn".into(),
        "--quiet".into(),
        "--keep-unit".into(),
        "--boot".into(),
        // The unit becomes active only when the guest's systemd says it is up: otherwise a stop
        // right after a start reaches the guest before it handles the halt signal, and hangs
        // until systemd kills it.
        "--notify-ready=yes".into(),
        opt("machine", plan.machine.as_str()),
        opt("directory", plan.sysroot.display().to_string()),
        opt("pivot-root", pivot),
        // Files in /etc/systemd/nspawn/NAME.nspawn add settings but never override ours.
        "--settings=yes".into(),
    ];
    if idmap {
        // "map", never "auto" or "chown": where the kernel or file system cannot idmap, nspawn
        // must fail rather than chown the shared sysroot.
        a.push("--private-users=pick".into());
        a.push("--private-users-ownership=map".into());
    } else {
        // A trusted .nspawn file's PrivateUsers= applies unless the command line sets it, and
        // "pick" would chown the shared sysroot: say "no" here so no file can.
        a.push("--private-users=no".into());
    }
    // "try-guest" would leave a dangling link: the guest path is only valid after the pivot.
    a.push("--link-journal=no".into());
    if !plan.register {
        a.push("--register=no".into());
    }
    let staging = plan.staging;
    a.push(bind(
        "bind",
        &staging.var().display().to_string(),
        "/var",
        idmap,
    ));
    let boot_flag = if c.boot_writable { "bind" } else { "bind-ro" };
    a.push(bind(
        boot_flag,
        &staging.boot().display().to_string(),
        "/boot",
        idmap,
    ));
    // The guest's /usr holds the host's and the repository's own inodes.
    a.push("--bind-ro=+/usr:/usr".into());
    if c.ostree_tools {
        a.push(bind(
            "bind-ro",
            &staging.sysroot().display().to_string(),
            "/sysroot",
            idmap,
        ));
        a.push(bind(
            "bind-ro",
            &staging.booted_marker().display().to_string(),
            "/run/ostree-booted",
            false,
        ));
    }
    let mut caps: Vec<&str> = sec.capabilities.iter().map(|c| c.as_str()).collect();
    let mut syscalls: Vec<&str> = sec.system_call_filter.iter().map(|s| s.as_str()).collect();
    if c.profile == Profile::Kubernetes {
        caps = vec!["all"];
        syscalls.splice(0..0, KUBERNETES_SYSCALLS.iter().copied());
        // kubelet's OOM watcher reads /dev/kmsg, which nspawn hides.
        a.push("--bind=/dev/kmsg:/dev/kmsg".into());
    }
    if c.bind_dev {
        a.push("--bind=/dev:/dev".into());
    }
    if !caps.is_empty() {
        a.push(opt("capability", caps.join(",")));
    }
    if !sec.drop_capabilities.is_empty() {
        let drop: Vec<&str> = sec.drop_capabilities.iter().map(|c| c.as_str()).collect();
        a.push(opt("drop-capability", drop.join(",")));
    }
    // nspawn reads `~` only at the start of a whole value, which then denies every name in it:
    // allowed and denied names go into one flag each.
    let (denied, allowed): (Vec<&str>, Vec<&str>) =
        syscalls.iter().partition(|s| s.starts_with('~'));
    if !allowed.is_empty() {
        a.push(opt("system-call-filter", allowed.join(" ")));
    }
    if !denied.is_empty() {
        let names: Vec<&str> = denied.iter().map(|s| s.trim_start_matches('~')).collect();
        a.push(opt("system-call-filter", format!("~{}", names.join(" "))));
    }
    if let Some(l) = &sec.selinux_context {
        a.push(opt("selinux-context", l.as_str()));
    }
    if let Some(l) = &sec.selinux_apifs_context {
        a.push(opt("selinux-apifs-context", l.as_str()));
    }
    for (k, v) in &c.environment {
        a.push(opt("setenv", format!("{k}={v}")));
    }
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
    for (i, b) in c.bind.iter().enumerate() {
        let flag = if b.read_only { "bind-ro" } else { "bind" };
        // Staged by the helper: a host path checked where it really is, or a `+` path resolved
        // inside the guest, so nspawn never follows a link the guest could have planted.
        let source = staging.bind(i).display().to_string();
        let target = match plan.deployment_dir {
            Some(dir) => crate::guest_path::resolve(dir, b.target()),
            None => b.target().to_owned(),
        };
        a.push(bind(flag, &source, &target, idmap));
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
            staging: &Staging::for_machine(&name),
            deployment_dir: None,
            register,
        };
        argv(&plan)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn default_guest_is_user_namespaced() {
        similar_asserts::assert_eq!(
            render("", true),
            "systemd-nspawn\n--quiet\n--keep-unit\n--boot\n--notify-ready=yes\n--machine=web\n--directory=/sysroot\n\
             --pivot-root=/ostree/deploy/web/deploy/abc.0\n--settings=yes\n--private-users=pick\n\
             --private-users-ownership=map\n--link-journal=no\n\
             --bind=/run/ostree-guests/web/var:/var:idmap\n--bind-ro=/run/ostree-guests/web/boot:/boot:idmap\n\
             --bind-ro=+/usr:/usr\n--network-veth"
        );
    }

    #[test]
    fn privileged_only_when_asked_or_needed() {
        for toml in [
            "[security]\nprivate-users = \"no\"",
            "profile = \"kubernetes\"",
            "bind-dev = true",
        ] {
            let a = render(toml, true);
            assert!(
                a.contains("--private-users=no")
                    && !a.contains("ownership")
                    && !a.contains(":idmap"),
                "{toml}: {a}"
            );
        }
    }

    #[test]
    fn never_chown_or_the_old_root() {
        for toml in [
            "",
            "[network]\nmode = \"host\"",
            "[network]\nmode = \"none\"",
            "ostree-tools = true",
            "ostree-tools = true\n[security]\nprivate-users = \"no\"",
        ] {
            let a = render(toml, false);
            assert!(
                !a.contains("-U\n") && !a.contains("chown") && !a.contains("=auto"),
                "{a}"
            );
            assert!(
                a.contains("--private-users=no") || a.contains("--private-users-ownership=map"),
                "{a}"
            );
            assert!(
                !a.contains("abc.0:/sysroot") && !a.contains("+/sysroot"),
                "{a}"
            );
            assert!(!a.contains("try-guest") && !a.contains("override"), "{a}");
            assert!(a.contains("--register=no"), "{a}");
        }
    }

    #[test]
    fn ostree_tools_gets_a_staged_read_only_sysroot() {
        let a = render("ostree-tools = true", true);
        assert!(
            a.contains("--bind-ro=/run/ostree-guests/web/sysroot:/sysroot:idmap\n--bind-ro=/run/ostree-guests/web/ostree-booted:/run/ostree-booted\n"),
            "{a}"
        );
    }

    #[test]
    fn allowed_and_denied_system_calls_are_separate_flags() {
        let a = render(
            "[security]\nsystem-call-filter = [\"bpf\", \"~chroot\", \"@swap\", \"~unshare\"]",
            true,
        );
        assert!(
            a.contains("--system-call-filter=bpf @swap\n--system-call-filter=~chroot unshare\n"),
            "{a}"
        );
        let a = render("[security]\nsystem-call-filter = [\"~chroot\"]", true);
        assert!(
            a.contains("--system-call-filter=~chroot\n") && !a.contains("filter=chroot"),
            "{a}"
        );
        let a = render(
            "profile = \"kubernetes\"\n[security]\nsystem-call-filter = [\"~chroot\"]",
            true,
        );
        assert!(
            a.contains(
                "--system-call-filter=@keyring bpf perf_event_open\n--system-call-filter=~chroot\n"
            ),
            "{a}"
        );
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
    fn binds_come_from_staging_and_escape_colons() {
        let a = render(
            "[[bind]]\nsource = \"/srv/a:b\"\n[[bind]]\nsource = \"+/etc/c\"\ntarget = \"/mnt/x:y\"\nread-only = true",
            true,
        );
        assert!(
            a.ends_with("--bind=/run/ostree-guests/web/bind/0:/srv/a\\:b:idmap\n--bind-ro=/run/ostree-guests/web/bind/1:/mnt/x\\:y:idmap"),
            "{a}"
        );
        assert!(!a.contains("+/etc"), "{a}");
    }
}
