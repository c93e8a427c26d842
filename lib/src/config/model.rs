//! The guest configuration as users write it (`/etc/ostree-guests.d/NAME.toml`).
//!
//! Every table denies unknown keys; keys starting with `x-` are removed before this model sees
//! them. Values are validated while deserializing, so an error carries the value's position.

use serde::Deserialize;

use super::values::{
    BindPath, CpuQuota, MemorySize, PinSpec, PortForward, Stateroot, TasksMax, TimeSpan, ZoneName,
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
    /// The unit's `Description=`.
    pub description: Option<String>,
    /// The unit's `Restart=`.
    pub restart: RestartPolicy,
    /// The unit's `RestartSec=`.
    pub restart_sec: TimeSpan,
    pub network: Network,
    pub bind: Vec<Bind>,
    pub resources: Resources,
}

impl Default for GuestConfig {
    fn default() -> Self {
        Self {
            stateroot: None,
            deployment: PinSpec::default(),
            autostart: true,
            description: None,
            restart: RestartPolicy::OnFailure,
            restart_sec: TimeSpan::seconds(3),
            network: Network::default(),
            bind: Vec::new(),
            resources: Resources::default(),
        }
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

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Bind {
    pub source: BindPath,
    #[serde(default)]
    pub target: Option<BindPath>,
    #[serde(default)]
    pub read_only: bool,
}

impl Bind {
    pub fn target(&self) -> &BindPath {
        self.target.as_ref().unwrap_or(&self.source)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Resources {
    pub memory_max: Option<MemorySize>,
    pub cpu_quota: Option<CpuQuota>,
    pub tasks_max: Option<TasksMax>,
}

/// Every key the model accepts, as dotted paths; the man page test compares this list with
/// `ostree-guests.d(5)`.
pub const KEYS: &[&str] = &[
    "stateroot",
    "deployment",
    "autostart",
    "description",
    "restart",
    "restart-sec",
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
];
