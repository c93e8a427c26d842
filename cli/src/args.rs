//! The command line (clap derive); completions are generated from the same definition.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCompleter;

use crate::complete::guest_names;

const EXAMPLES: &str = "\
Examples:
  ostree-guests create web --ref fedora-iot:fedora/stable/x86_64/iot --now   # and start it
  ostree-guests create web --ref fedora-iot:fedora/stable/x86_64/iot   # then:
  systemctl daemon-reload && systemctl start systemd-nspawn@web.service
  ostree-guests list
  ostree-guests disable web && ostree-guests enable web   # autostart off / on
  ostree-guests upgrade web                 # the ref the guest was deployed from
  ostree-guests upgrade web --commit 3f2a9c01...  # or a given commit
  ostree-guests upgrade --all --check       # 0: an update is available, 77: none
  ostree-guests rollback web
  ostree-guests pin web && ostree-guests unpin web
  ostree-guests status web --json
  ostree-guests validate /tmp/web.toml
  ostree-guests remove web --purge --yes
  ostree-guests completions bash > /usr/share/bash-completion/completions/ostree-guests

Environment: OSTREE_GUESTS_ROOT (prefix of the configuration directories),
OSTREE_GUESTS_SYSROOT (a sysroot other than the booted host's; then `ostree admin` gets
--sysroot and the boot directory defaults to SYSROOT/boot), OSTREE_GUESTS_BOOT.
";

/// The `--json` schema, shown by `list --help`, `status --help` and their man pages.
const JSON_SCHEMA: &str = "\
JSON output (--json), schema ostree-guests/v1:
  list:   {\"apiVersion\": \"ostree-guests/v1\", \"kind\": \"GuestList\", \"items\": [GUEST, ...]}
  status: {\"apiVersion\": \"ostree-guests/v1\", \"kind\": \"Guest\", GUEST's fields, \"lastErrors\": [STRING]}
GUEST, the same in both (null: unknown, or not given by an invalid configuration):
  name               machine name
  unit               unit name, systemd-nspawn@NAME.service
  active             bool: the unit is active, activating or reloading (null: no systemd)
  activeState        systemd's ActiveState (\"active\", \"failed\", ...) or null
  subState           systemd's SubState (\"running\", \"dead\", ...) or null
  stateroot          the OSTree stateroot
  autostart          bool: started at boot
  privileged         bool: the configuration makes the guest's root the host's root
                     (security.private-users in effect is \"no\")
  runningPrivileged  bool: the running guest was started privileged (its init's uid_map is
                     the host's own, 0 0 4294967295), or null while it does not run (or its
                     init cannot be found); differs from privileged until a restart applies a
                     changed configuration
  pin                the deployment key: \"auto\", a checksum prefix or \"version:V\"
  deployment         DEPLOYMENT the guest boots next, or null (see resolveError)
  runningDeployment  {\"id\", \"stateroot\", \"checksum\", \"serial\"} of the running guest, or null
  addresses          [STRING] from systemd-machined while it runs
  configFiles        [STRING] main file, then drop-ins in the order they apply
  configError        STRING: why the configuration is invalid, or null
  resolveError       STRING: why no deployment resolves, or null
  warnings           [STRING] settings that weaken isolation
  dropin             {\"path\": STRING, \"exists\": bool} the generator's drop-in
  bootEntries        [DEPLOYMENT] every deployment of the stateroot, in boot-entry order
  image              {\"reference\": STRING, \"digest\": STRING or null}: the container image
                     `deployment` was deployed from (create --image) and its manifest digest,
                     or null for a deployment of a ref or commit
DEPLOYMENT: id (CHECKSUM.SERIAL), checksum, serial, index (0 is the host's default boot entry),
  version (or null), pinned (`ostree admin pin`), bootEntry (file), selected (the resolved one).
Within v1 fields are only added, never renamed, removed or retyped: ignore unknown fields.
An incompatible change comes as apiVersion ostree-guests/v2.";

/// `create --help`: from refs and commits, then from container images.
fn create_help() -> String {
    format!("{CREATE_HELP}\n\n{IMAGE_HELP}")
}

const CREATE_HELP: &str = "Examples:\n  ostree-guests create web --ref fedora-iot:fedora/stable/x86_64/iot --port 8080:80\n  ostree-guests create desk --ref fedora:fedora/43/x86_64/silverblue\n  ostree-guests create k3s --ref fedora-iot:fedora/stable/x86_64/iot --profile kubernetes --no-autostart\n\nREMOTE must be a remote of the host's repository (ostree remote list): Fedora IoT hosts have fedora-iot, Silverblue and Kinoite hosts have fedora; see README or ostree-guests(1) for the ostree remote add line of the other\n\nWithout configuration options, an existing configuration of NAME (e.g. /etc/ostree-guests.d/NAME.toml written by Butane) is used as it is: create makes the stateroot and deployment it describes and never rewrites it. Re-running with the same arguments changes nothing; configuration options that differ from an existing file need --force.";

/// `create --help`: guests from container images.
const IMAGE_HELP: &str = "Container images (--image): the image is pulled into the sysroot's repository with `ostree container image pull` (rpm-ostree provides `ostree container` on Fedora; exit 112 without it), deployed like a commit, and its deployment's origin records container-image-reference=IMGREF, as rpm-ostree and bootc write it. `upgrade NAME` pulls it again and deploys only when the manifest digest changed; `remove` drops the image's refs when no deployment uses it any more. Accepted references: ostree-unverified-registry:REGISTRY/NAME:TAG, ostree-unverified-image:TRANSPORT:NAME (oci:DIR:TAG, oci-archive:FILE, containers-storage:NAME, docker://NAME), ostree-image-signed:TRANSPORT:NAME (checked against /etc/containers/policy.json), ostree-remote-image:REMOTE:TRANSPORT:NAME (signed with the keys of ostree remote REMOTE), or a bare REGISTRY/NAME:TAG. A pull that fails exits 113 (114 when the signature policy refused the image) and leaves nothing behind.\n\n  ostree-guests create iot --image quay.io/fedora/fedora-iot:42\n  ostree-guests create desk --image quay.io/fedora-ostree-desktops/silverblue:42\n  ostree-guests create core --image quay.io/fedora/fedora-coreos:stable\n  ostree-guests create web --image quay.io/fedora/fedora-bootc:42 --signed\n  ostree-guests create k3s --image ostree-unverified-image:oci:/var/tmp/k3s-oci:latest --profile kubernetes";

const AUTOSTART_HELP: &str = "The guest's main file is never edited. Neither verb starts or stops the guest now (`systemctl start|stop systemd-nspawn@NAME.service` does). A drop-in that sorts after 50-autostart.toml and sets autostart wins over ours: then nothing is changed and the exit status is 111, naming that file. Without systemd running, the daemon-reload is skipped.\n\nExamples:\n  ostree-guests disable web\n  ostree-guests enable web";

fn epilog() -> String {
    format!("{EXAMPLES}\n{}", ostree_guests::exit::cli::help_table())
}

#[derive(Debug, Parser)]
#[command(
    name = "ostree-guests",
    version,
    about = "Create, upgrade, pin and remove OSTree stateroots that run as systemd-nspawn guests",
    long_about = "Create, upgrade, pin and remove OSTree stateroots that run as systemd-nspawn \
guests (systemd-nspawn@NAME.service, configured by /etc/ostree-guests.d/NAME.toml). Every write \
goes through the ostree CLI with --not-as-default and is checked not to change the host's \
default boot entry.",
    after_long_help = epilog()
)]
pub struct Cli {
    /// Only print errors and warnings, no progress. Without it, create and upgrade show
    /// ostree's own pull progress when standard error is a terminal.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a guest: initialise its stateroot, deploy a commit (not as the host's default) and
    /// write /etc/ostree-guests.d/NAME.toml.
    #[command(
        after_long_help = create_help()
    )]
    Create(CreateArgs),
    /// Deploy a new commit for the guest and make it the one the guest runs (restarting it if
    /// it runs).
    #[command(
        after_long_help = "Examples:\n  ostree-guests upgrade web\n  ostree-guests upgrade web --ref fedora-iot:fedora/devel/x86_64/iot --keep 3\n  ostree-guests upgrade --all\n  ostree-guests upgrade web --check && echo update available\n\nWith --check nothing is deployed: exit 0 when an update is available, 77 when there is none (as `rpm-ostree upgrade --check`), another status on failure. A REMOTE:REF is fetched as commit metadata only; a guest from a container image (create --image) gets its manifest fetched only, and without --check it is pulled again and deployed only when its manifest digest changed (\"already up to date\" otherwise).\n\n--all upgrades every configured guest from the ref (or container image) it was deployed from, one after the other; a guest whose stateroot has no deployment yet, or that was deployed from a bare commit, is skipped with a note. It goes on after a failure and then exits with the first failure's status.\n\n--auto does the same for the guests with auto-update = true only. ostree-guests-auto-update.timer (daily, off until `systemctl enable --now ostree-guests-auto-update.timer`) runs it through ostree-guests-auto-update.service."
    )]
    Upgrade(UpgradeArgs),
    /// Return the guest to its previous deployment.
    Rollback(RollbackArgs),
    /// Stop the guest, undeploy its stateroot and remove its configuration.
    #[command(
        after_long_help = "Examples:\n  ostree-guests remove web\n  ostree-guests remove web --purge --yes   # also delete /ostree/deploy/web (its /var)\n\nRefused (nothing changes) when another guest's file names the stateroot, even an invalid file (110), when the stateroot is the host's (82), or when some configuration cannot be read at all, so the stateroot's owner cannot be told (78)."
    )]
    Remove(RemoveArgs),
    /// List the configured guests.
    #[command(visible_alias = "ls", after_long_help = JSON_SCHEMA)]
    List(ListArgs),
    /// Show one guest: configuration files, resolved deployment, drop-in, unit, boot entries.
    #[command(after_long_help = JSON_SCHEMA)]
    Status(StatusArgs),
    /// Check configuration files like the generator does (exit 0 valid, 1 invalid).
    #[command(
        after_long_help = "Examples:\n  ostree-guests validate                 # the installed configuration\n  ostree-guests validate ./web.toml ./conf.d"
    )]
    Validate(ValidateArgs),
    /// Print the guest's unit drop-in and the nspawn command line, changing nothing.
    Render(RenderArgs),
    /// Pin the guest to a deployment: configuration drop-in plus `ostree admin pin`.
    #[command(
        after_long_help = "Examples:\n  ostree-guests pin web                  # the deployment it resolves to now\n  ostree-guests pin web 3f2a9c01d4e5b6a7\n  ostree-guests pin web version:40.20240101.0"
    )]
    Pin(PinArgs),
    /// Undo `pin`: remove the drop-in and `ostree admin pin --unpin` the deployment.
    Unpin(NameArg),
    /// Start the guest at boot: autostart = true in the drop-in
    /// /etc/ostree-guests.d/NAME.toml.d/50-autostart.toml, then `systemctl daemon-reload`.
    #[command(after_long_help = AUTOSTART_HELP)]
    Enable(NameArg),
    /// Do not start the guest at boot: autostart = false in the drop-in
    /// /etc/ostree-guests.d/NAME.toml.d/50-autostart.toml, then `systemctl daemon-reload`.
    #[command(after_long_help = AUTOSTART_HELP)]
    Disable(NameArg),
    /// Print a shell completion script (subcommands, options and the configured guests' names).
    #[command(
        after_long_help = "The script registers ostree-guests itself as the completer: each TAB runs it with OSTREE_GUESTS_COMPLETE=SHELL, so guest names are those configured at that moment.\n\nExamples:\n  ostree-guests completions bash > /usr/share/bash-completion/completions/ostree-guests\n  ostree-guests completions zsh > /usr/share/zsh/site-functions/_ostree-guests\n  ostree-guests completions fish > /usr/share/fish/vendor_completions.d/ostree-guests.fish"
    )]
    Completions(CompletionsArgs),
}

/// A value that ends up as an argument of `ostree`, which would read a leading '-' as one of its
/// own options (`--ref=--help` printed ostree's help and deployed nothing). Usage error 64.
fn not_an_option(v: &str) -> Result<String, String> {
    if v.split(':').any(|part| part.starts_with('-')) {
        return Err(format!(
            "{v:?} starts with '-', which ostree would take for one of its options"
        ));
    }
    Ok(v.to_owned())
}

#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct Source {
    /// Deploy this ref ([REMOTE:]REF); with a remote it is pulled first.
    #[arg(long = "ref", value_name = "REF", value_parser = not_an_option)]
    pub refspec: Option<String>,
    /// Deploy this commit (full checksum, already in the repository).
    #[arg(long, value_name = "CHECKSUM", value_parser = not_an_option)]
    pub commit: Option<String>,
    /// Deploy this container image, pulled with `ostree container image pull` (see
    /// "Container images" below). A bare REGISTRY/NAME:TAG means
    /// ostree-unverified-registry:REGISTRY/NAME:TAG.
    #[arg(long, value_name = "IMGREF")]
    pub image: Option<String>,
}

#[derive(Debug, Clone, Default, Args)]
#[group(required = false, multiple = false)]
pub struct OptSource {
    /// Deploy this ref ([REMOTE:]REF) instead of the one the guest was deployed from.
    #[arg(long = "ref", value_name = "REF", value_parser = not_an_option)]
    pub refspec: Option<String>,
    /// Deploy this commit (full checksum, already in the repository).
    #[arg(long, value_name = "CHECKSUM", value_parser = not_an_option)]
    pub commit: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetworkMode {
    Veth,
    Bridge,
    Zone,
    Host,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    Default,
    Kubernetes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrivateUsers {
    /// A user namespace with idmapped mounts: the guest's root is an unprivileged UID on the host.
    Idmap,
    /// Privileged: the guest's root is the host's root and can write the host's OS.
    No,
}

/// Keys written into NAME.toml (all optional; unset keys keep their defaults). None given and
/// a configuration exists: `create` deploys what that configuration says and leaves it alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct ConfigOpts {
    /// OSTree stateroot (default: NAME).
    #[arg(long, value_parser = not_an_option)]
    pub stateroot: Option<String>,
    /// The unit's description.
    #[arg(long)]
    pub description: Option<String>,
    /// Do not start the guest at boot.
    #[arg(long)]
    pub no_autostart: bool,
    /// Network mode.
    #[arg(long, value_enum)]
    pub network: Option<NetworkMode>,
    /// Bridge for --network bridge.
    #[arg(long)]
    pub bridge: Option<String>,
    /// Zone for --network zone.
    #[arg(long)]
    pub zone: Option<String>,
    /// Port forward [tcp:|udp:]HOSTPORT[:GUESTPORT] (repeatable).
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<String>,
    /// Settings bundle.
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,
    /// MemoryMax= of the unit (e.g. 2G).
    #[arg(long)]
    pub memory_max: Option<String>,
    /// Show the physical sysroot read-only inside (ostree admin status works there).
    #[arg(long)]
    pub ostree_tools: bool,
    /// security.private-users: "idmap" runs the guest in a user namespace, its root an
    /// unprivileged UID range on the host; "no" makes a privileged guest, whose root IS the
    /// host's root and can remount /usr and /boot and write the host's OS: only for trusted
    /// systems. Unset: idmap, or no with --profile kubernetes.
    #[arg(long, value_enum, value_name = "MODE")]
    pub private_users: Option<PrivateUsers>,
}

#[derive(Debug, Clone, Args)]
pub struct KeepArg {
    /// Deployments of the guest's stateroot to keep: the current one and N-1 previous ones
    /// (pinned deployments are kept on top).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub keep: u16,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// Machine name (letters, digits, '-', '.'; at most 64 characters).
    pub name: String,
    #[command(flatten)]
    pub source: Source,
    #[command(flatten)]
    pub config: ConfigOpts,
    /// With --image: a bare reference must pass the host's container signature policy
    /// (/etc/containers/policy.json), i.e. it becomes ostree-image-signed:docker://REFERENCE.
    #[arg(long, requires = "image")]
    pub signed: bool,
    /// Replace an existing configuration of that name.
    #[arg(long)]
    pub force: bool,
    /// Then run `systemctl daemon-reload` and start the guest's unit (status 93 if systemd is
    /// not running or the start fails; the guest is created either way).
    #[arg(long)]
    pub now: bool,
    #[command(flatten)]
    pub keep: KeepArg,
}

#[derive(Debug, Clone, Args)]
pub struct UpgradeArgs {
    /// The guest: its machine name, NAME in /etc/ostree-guests.d/NAME.toml.
    #[arg(
        value_name = "NAME",
        add = ArgValueCompleter::new(guest_names),
        required_unless_present_any = ["all", "auto"],
        conflicts_with_all = ["all", "auto"]
    )]
    pub name: Option<String>,
    /// Every configured guest, each from the ref it was deployed from.
    #[arg(long, conflicts_with_all = ["refspec", "commit", "auto"])]
    pub all: bool,
    /// Like --all, but only guests with auto-update = true (what
    /// ostree-guests-auto-update.timer runs); invalid configurations are skipped with a warning.
    #[arg(long, conflicts_with_all = ["refspec", "commit"])]
    pub auto: bool,
    /// Only say whether an update is available; deploy nothing (exit 0: available, 77: none).
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub source: OptSource,
    #[command(flatten)]
    pub keep: KeepArg,
}

#[derive(Debug, Clone, Args)]
pub struct RollbackArgs {
    /// The guest: its machine name, NAME in /etc/ostree-guests.d/NAME.toml.
    #[arg(value_name = "NAME", add = ArgValueCompleter::new(guest_names))]
    pub name: String,
}

#[derive(Debug, Clone, Args)]
pub struct RemoveArgs {
    /// The guest: its machine name, NAME in /etc/ostree-guests.d/NAME.toml.
    #[arg(value_name = "NAME", add = ArgValueCompleter::new(guest_names))]
    pub name: String,
    /// Also delete the stateroot's /var (the whole /ostree/deploy/STATEROOT).
    #[arg(long)]
    pub purge: bool,
    /// Do not ask for confirmation (scripts).
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Machine-readable output (schema ostree-guests/v1, below).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The guest: its machine name, NAME in /etc/ostree-guests.d/NAME.toml.
    #[arg(value_name = "NAME", add = ArgValueCompleter::new(guest_names))]
    pub name: String,
    /// Machine-readable output (schema ostree-guests/v1, below).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Files NAME.toml or directories of them (default: the installed configuration).
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    /// The guest: its machine name, NAME in /etc/ostree-guests.d/NAME.toml.
    #[arg(value_name = "NAME", add = ArgValueCompleter::new(guest_names))]
    pub name: String,
}

#[derive(Debug, Clone, Args)]
pub struct PinArgs {
    /// The guest: its machine name, NAME in /etc/ostree-guests.d/NAME.toml.
    #[arg(value_name = "NAME", add = ArgValueCompleter::new(guest_names))]
    pub name: String,
    /// Checksum prefix (at least 8 hex digits), CHECKSUM.SERIAL or version:V (default: the deployment
    /// the guest resolves to now).
    pub deployment: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct NameArg {
    /// The guest: its machine name, NAME in /etc/ostree-guests.d/NAME.toml.
    #[arg(value_name = "NAME", add = ArgValueCompleter::new(guest_names))]
    pub name: String,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to print the script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
