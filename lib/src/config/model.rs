//! The guest configuration as users write it (`/etc/ostree-guests.d/NAME.toml`).
//!
//! Every table denies unknown keys; keys starting with `x-` are removed before this model sees
//! them. Values are validated while deserializing, so an error carries the value's position.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::values::{
    BindSource, BindTarget, Capability, CpuQuota, IoWeight, MemorySize, PinSpec, PortForward,
    SecurityLabel, Stateroot, SyscallToken, TasksMax, TimeSpan, ZoneName,
};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct GuestConfig {
    /// The OSTree stateroot (`/ostree/deploy/STATEROOT`); default: the machine name.
    pub stateroot: Option<Stateroot>,
    /// Which deployment of the stateroot to boot.
    pub deployment: PinSpec,
    /// Start at boot (`machines.target.wants/`).
    pub autostart: bool,
    /// Upgraded by `ostree-guests upgrade --auto` (ostree-guests-auto-update.timer); only
    /// the CLI reads it.
    pub auto_update: bool,
    /// The unit's `Description=`.
    pub description: Option<String>,
    /// The unit's `Restart=`.
    pub restart: RestartPolicy,
    /// The unit's `RestartSec=`.
    pub restart_sec: TimeSpan,
    /// A bundle of settings for a purpose (`kubernetes`).
    pub profile: Profile,
    /// Bind the host's boot directory read-write (the hand-made recipe did, for in-guest
    /// `ostree admin`); read-only by default.
    pub boot_writable: bool,
    /// Bind the host's whole /dev (k3s on btrfs looks up block devices); off by default.
    pub bind_dev: bool,
    /// Show the physical sysroot read-only and an own /run/ostree-booted, so `ostree admin
    /// status` works inside and marks the guest's deployment as booted.
    pub ostree_tools: bool,
    pub network: Network,
    pub bind: Vec<Bind>,
    pub resources: Resources,
    /// Environment variables for the guest's init (nspawn `--setenv`).
    pub environment: BTreeMap<String, String>,
    pub security: Security,
}

impl Default for GuestConfig {
    fn default() -> Self {
        Self {
            stateroot: None,
            deployment: PinSpec::default(),
            autostart: true,
            auto_update: false,
            description: None,
            restart: RestartPolicy::OnFailure,
            restart_sec: TimeSpan::seconds(3),
            profile: Profile::Default,
            boot_writable: false,
            bind_dev: false,
            ostree_tools: false,
            network: Network::default(),
            bind: Vec::new(),
            resources: Resources::default(),
            environment: BTreeMap::new(),
            security: Security::default(),
        }
    }
}

impl GuestConfig {
    /// The user namespace mode in effect. Unset means idmap, the only mode in which the kernel
    /// stops the guest's root from remounting what it shares with the host; the kubernetes
    /// profile (runc, cgroups) and the host's whole /dev (device nodes owned by host root)
    /// need real root, so for them unset means privileged. Explicit idmap with either is
    /// refused by the checks, never silently weakened.
    pub fn private_users(&self) -> PrivateUsers {
        match self.security.private_users {
            Some(p) => p,
            None if self.profile == Profile::Kubernetes || self.bind_dev => PrivateUsers::No,
            None => PrivateUsers::Idmap,
        }
    }

    /// The guest's root is the host's root.
    pub fn privileged(&self) -> bool {
        self.private_users() == PrivateUsers::No
    }
}

/// A guest that powers itself off stays off by default: `always` would bring it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    No,
    OnFailure,
    Always,
}

impl RestartPolicy {
    pub fn as_unit_value(self) -> &'static str {
        match self {
            Self::No => "no",
            Self::OnFailure => "on-failure",
            Self::Always => "always",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Network {
    pub mode: NetworkMode,
    /// The bridge for `mode = "bridge"`.
    pub bridge: Option<String>,
    /// The zone for `mode = "zone"` (nspawn creates `vz-ZONE`).
    pub zone: Option<ZoneName>,
    /// nspawn `--port=` forwards.
    pub ports: Vec<PortForward>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkMode {
    #[default]
    Veth,
    Bridge,
    Zone,
    Host,
    None,
}

impl NetworkMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Veth => "veth",
            Self::Bridge => "bridge",
            Self::Zone => "zone",
            Self::Host => "host",
            Self::None => "none",
        }
    }

    /// Port forwards need a private network namespace with a host-side interface.
    pub fn supports_ports(self) -> bool {
        matches!(self, Self::Veth | Self::Bridge | Self::Zone)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    #[default]
    Default,
    Kubernetes,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Bind {
    /// A host path, or `+/path` for a path inside the guest's own deployment.
    pub source: BindSource,
    #[serde(default)]
    pub target: Option<BindTarget>,
    #[serde(default)]
    pub read_only: bool,
}

impl Bind {
    /// Where the bind appears in the guest: the target, or else the source's path.
    pub fn target(&self) -> &str {
        match &self.target {
            Some(t) => t.as_str(),
            None => self.source.path(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrivateUsers {
    /// Guest root is host root (nspawn without a user namespace is not a security boundary).
    No,
    /// A user namespace with idmapped mounts: separate UIDs without changing any file's owner.
    Idmap,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Security {
    /// Unset: a user namespace, unless a setting needs real root (see
    /// `GuestConfig::private_users`).
    pub private_users: Option<PrivateUsers>,
    /// Extra capabilities (`--capability=`), or `["all"]`.
    pub capabilities: Vec<Capability>,
    /// Capabilities taken away (`--drop-capability=`).
    pub drop_capabilities: Vec<Capability>,
    /// System calls or `@groups` allowed beyond nspawn's list (`--system-call-filter=`);
    /// a `~` prefix denies instead.
    pub system_call_filter: Vec<SyscallToken>,
    /// SELinux label of the guest's processes (`--selinux-context=`).
    pub selinux_context: Option<SecurityLabel>,
    /// SELinux label of the guest's API file systems (`--selinux-apifs-context=`).
    pub selinux_apifs_context: Option<SecurityLabel>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Resources {
    pub memory_max: Option<MemorySize>,
    pub cpu_quota: Option<CpuQuota>,
    pub tasks_max: Option<TasksMax>,
    pub io_weight: Option<IoWeight>,
}

/// Every key the model accepts, as dotted paths; the man page test compares this list with
/// `ostree-guests.d(5)`.
pub const KEYS: &[&str] = &[
    "stateroot",
    "deployment",
    "autostart",
    "auto-update",
    "description",
    "restart",
    "restart-sec",
    "profile",
    "boot-writable",
    "bind-dev",
    "ostree-tools",
    "network.mode",
    "network.bridge",
    "network.zone",
    "network.ports",
    "bind.source",
    "bind.target",
    "bind.read-only",
    "resources.memory-max",
    "resources.cpu-quota",
    "resources.tasks-max",
    "resources.io-weight",
    "environment.NAME",
    "security.private-users",
    "security.capabilities",
    "security.drop-capabilities",
    "security.system-call-filter",
    "security.selinux-context",
    "security.selinux-apifs-context",
];
