//! Thin wrappers around the `ostree` CLI, which does every write (deploy, undeploy, os-init, pin).
//!
//! Index-based commands (`undeploy`, `pin`) take an index here; callers must compute it from a
//! fresh listing right before the call (see `sysroot::Host::index_of`), because every write
//! renumbers the deployments.

use std::ffi::OsString;
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::exit::{Failure, OSTREE_FAILED, Result, USAGE};
use crate::progress;

#[derive(Debug, Clone)]
pub struct Ostree {
    /// `--sysroot=` for `ostree admin`: only when OSTREE_GUESTS_SYSROOT is set. On a booted host
    /// ostree finds the sysroot, /boot and the booted deployment itself; `--sysroot=/sysroot`
    /// breaks when /boot is a separate partition (ostreedev/ostree#2992).
    admin_sysroot: Option<PathBuf>,
    /// The sysroot's repository, for `ostree --repo=` commands.
    repo: PathBuf,
}

/// The command line as the user would type it, for messages.
pub(crate) fn show(args: &[OsString]) -> String {
    let mut s = String::from("ostree");
    for a in args {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

impl Ostree {
    pub fn new(admin_sysroot: Option<PathBuf>, sysroot: &Path) -> Self {
        Self {
            admin_sysroot,
            repo: sysroot.join("ostree/repo"),
        }
    }

    pub fn repo(&self) -> &Path {
        &self.repo
    }

    fn admin_args(&self, sub: &str, args: &[OsString]) -> Vec<OsString> {
        let mut full: Vec<OsString> = vec!["admin".into(), sub.into()];
        if let Some(s) = &self.admin_sysroot {
            let mut arg = OsString::from("--sysroot=");
            arg.push(s);
            full.push(arg);
        }
        full.extend(args.iter().cloned());
        full
    }

    /// `ostree --repo=R SUB OPTIONS -- OPERANDS`: the repository commands end their options at
    /// `--`, so a ref or checksum is never read as an option.
    fn repo_args(&self, sub: &str, options: &[OsString], operands: &[&str]) -> Vec<OsString> {
        let mut repo = OsString::from("--repo=");
        repo.push(&self.repo);
        let mut full: Vec<OsString> = vec![repo, sub.into()];
        full.extend(options.iter().cloned());
        full.push("--".into());
        full.extend(operands.iter().map(OsString::from));
        full
    }

    /// Runs `ostree ARGS`; on failure the error carries ostree's own messages verbatim.
    fn run(&self, args: &[OsString], announce: bool) -> Result<String> {
        let shown = show(args);
        if announce {
            progress::step(&format!("running {shown}"));
        }
        let out = Command::new("ostree")
            .args(args)
            .output()
            .map_err(|e| Failure::new(OSTREE_FAILED, format!("cannot run `{shown}`: {e}")))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let mut msg = format!("`{shown}` failed ({}):", out.status);
            for text in [stderr.trim_end(), stdout.trim_end()] {
                if !text.is_empty() {
                    msg.push('\n');
                    msg.push_str(text);
                }
            }
            return Err(Failure::new(OSTREE_FAILED, msg));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn os_init(&self, stateroot: &str) -> Result<()> {
        operand("stateroot", stateroot)?;
        self.run(&self.admin_args("os-init", &[stateroot.into()]), true)
            .map(drop)
    }

    /// `ostree admin deploy --os=S --not-as-default`: never without --not-as-default, or the
    /// host would boot into the guest at its next reboot.
    pub fn deploy(
        &self,
        stateroot: &str,
        refspec: &str,
        retain: bool,
        origin_file: Option<&Path>,
    ) -> Result<()> {
        let mut args: Vec<OsString> = vec![format!("--os={stateroot}").into()];
        args.push("--not-as-default".into());
        if retain {
            args.push("--retain".into());
        }
        if let Some(o) = origin_file {
            let mut a = OsString::from("--origin-file=");
            a.push(o);
            args.push(a);
        }
        operand("ref", refspec)?;
        args.push(refspec.into());
        self.run(&self.admin_args("deploy", &args), true).map(drop)
    }

    pub fn undeploy(&self, index: usize) -> Result<()> {
        self.run(
            &self.admin_args("undeploy", &[index.to_string().into()]),
            true,
        )
        .map(drop)
    }

    pub fn pin(&self, index: usize, unpin: bool) -> Result<()> {
        let mut args: Vec<OsString> = Vec::new();
        if unpin {
            args.push("--unpin".into());
        }
        args.push(index.to_string().into());
        self.run(&self.admin_args("pin", &args), true).map(drop)
    }

    /// `(stateroot, checksum, serial)` in ostree's own index order, from `ostree admin status`.
    /// This is the numbering `undeploy` and `pin` use; it includes a staged deployment (index 0
    /// on a booted host with a pending update), which the boot entries do not show.
    pub fn status_ids(&self) -> Result<Vec<(String, String, u32)>> {
        Ok(parse_status_ids(
            &self.run(&self.admin_args("status", &[]), false)?,
        ))
    }

    /// The full checksum a ref or checksum names in the sysroot's repository.
    pub fn rev_parse(&self, rev: &str) -> Result<String> {
        let out = self.run(&self.repo_args("rev-parse", &[], &[rev]), false)?;
        Ok(out.trim().to_owned())
    }

    /// A string of the commit's metadata (`ostree show --print-metadata-key`, which prints the
    /// value in GVariant text format: a quoted string). None when the key is missing or not a
    /// plain string.
    pub fn metadata_string(&self, commit: &str, key: &str) -> Option<String> {
        let out = self
            .run(
                &self.repo_args(
                    "show",
                    &[format!("--print-metadata-key={key}").into()],
                    &[commit],
                ),
                false,
            )
            .ok()?;
        gvariant_text_string(out.trim())
    }

    /// `ostree pull REMOTE REF` into the sysroot's repository (network). On a terminal ostree
    /// draws its own progress, which it does only when its stdout is one: it gets our stderr as
    /// stdout, so our stdout stays the command's result.
    pub fn pull(&self, remote: &str, branch: &str) -> Result<()> {
        let args = self.repo_args("pull", &[], &[remote, branch]);
        if progress::live() {
            self.run_live(&args)
        } else {
            self.run(&args, true).map(drop)
        }
    }

    /// Runs `ostree ARGS` with its output on our stderr (already shown, so a failure only says
    /// so).
    fn run_live(&self, args: &[OsString]) -> Result<()> {
        let shown = show(args);
        progress::step(&format!("running {shown}"));
        let fail =
            |e: std::io::Error| Failure::new(OSTREE_FAILED, format!("cannot run `{shown}`: {e}"));
        let stderr = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(fail)?;
        let status = Command::new("ostree")
            .args(args)
            .stdout(Stdio::from(stderr))
            .status()
            .map_err(fail)?;
        if !status.success() {
            return Err(Failure::new(
                OSTREE_FAILED,
                format!("`{shown}` failed ({status}); its messages are above"),
            ));
        }
        Ok(())
    }

    /// `ostree pull --commit-metadata-only REMOTE REF`: moves the ref to the remote's newest
    /// commit without its content (a later full pull completes it).
    pub fn pull_metadata(&self, remote: &str, branch: &str) -> Result<()> {
        self.run(
            &self.repo_args(
                "pull",
                &["--commit-metadata-only".into()],
                &[remote, branch],
            ),
            true,
        )
        .map(drop)
    }

    /// A ref that keeps `commit` from being pruned while it has no deployment (between an
    /// undeploy and the redeploy of the same commit: undeploy prunes the repository).
    pub fn hold(&self, name: &str, commit: &str) -> Result<()> {
        let _ = self.run(
            &self.repo_args("refs", &["--delete".into()], &[name]),
            false,
        );
        self.run(
            &self.repo_args("refs", &[format!("--create={name}").into()], &[commit]),
            false,
        )
        .map(drop)
    }

    pub fn release(&self, name: &str) -> Result<()> {
        self.run(
            &self.repo_args("refs", &["--delete".into()], &[name]),
            false,
        )
        .map(drop)
    }

    /// Bytes the commit's kernel, initramfs and device trees take: what a deploy copies into
    /// the boot directory. None when the commit has none of the usual kernel locations.
    pub fn kernel_size(&self, commit: &str) -> Option<u64> {
        for dir in ["/usr/lib/modules", "/usr/lib/ostree-boot", "/boot"] {
            let Ok(out) = self.run(&self.repo_args("ls", &["-R".into()], &[commit, dir]), false)
            else {
                continue;
            };
            let total = boot_files_size(&out);
            if total > 0 {
                return Some(total);
            }
        }
        None
    }
}

/// `ostree admin` (2022.7) does not accept `--` before its operands ("OSNAME must be
/// specified"), so one that looks like an option is refused before ostree sees it.
fn operand(what: &str, value: &str) -> Result<()> {
    if value.starts_with('-') {
        return Err(Failure::new(
            USAGE,
            format!(
                "{what} {value:?} starts with '-', which `ostree admin` would take for one of its options"
            ),
        ));
    }
    Ok(())
}

/// The value of a GVariant text-format string as `ostree show` prints it (`'sha256:ab'`); only
/// what needs no unescaping (a digest, a version) is accepted.
pub fn gvariant_text_string(text: &str) -> Option<String> {
    let inner = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .or_else(|| text.strip_prefix('"').and_then(|t| t.strip_suffix('"')))?;
    (!inner.contains(['\\', '\'', '"'])).then(|| inner.to_owned())
}

/// Deployment lines of `ostree admin status`: `<mark> <stateroot> <checksum>.<serial>[ (label)]`
/// with a two-column mark (`* `, `● ` or spaces); detail lines are indented by four spaces.
pub fn parse_status_ids(text: &str) -> Vec<(String, String, u32)> {
    text.lines()
        .filter(|l| !l.starts_with("    "))
        .filter_map(|line| {
            let rest = line
                .strip_prefix("* ")
                .or_else(|| line.strip_prefix("● "))
                .or_else(|| line.strip_prefix("  "))?;
            let mut words = rest.split_whitespace();
            let stateroot = words.next()?;
            let (checksum, serial) = words.next()?.rsplit_once('.')?;
            let hex = checksum.len() == 64 && checksum.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex {
                return None;
            }
            Some((
                stateroot.to_owned(),
                checksum.to_owned(),
                serial.parse().ok()?,
            ))
        })
        .collect()
}

/// Sums the sizes in `ostree ls -R` output (`MODE UID GID SIZE PATH`) of what ostree copies to
/// /boot: vmlinuz*, initramfs*, and devicetree files.
pub fn boot_files_size(ls: &str) -> u64 {
    ls.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let mode = f.next()?;
            let size: u64 = f.nth(2)?.parse().ok()?;
            let path = f.next()?;
            let base = path.rsplit('/').next()?;
            let wanted = base.starts_with("vmlinuz")
                || base.starts_with("initramfs")
                || path.contains("/dtb/")
                || base.ends_with(".dtb");
            (mode.starts_with('-') && wanted).then_some(size)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_files_are_summed_from_ls_output() {
        let ls = "d00755 0 0      0 /usr/lib/modules\n\
                  d00755 0 0      0 /usr/lib/modules/6.1.0\n\
                  -00644 0 0   1000 /usr/lib/modules/6.1.0/vmlinuz\n\
                  -00644 0 0    200 /usr/lib/modules/6.1.0/initramfs.img\n\
                  -00644 0 0     50 /usr/lib/modules/6.1.0/modules.dep\n";
        assert_eq!(boot_files_size(ls), 1200);
        assert_eq!(boot_files_size(""), 0);
    }

    #[test]
    fn metadata_strings_are_read_from_gvariant_text() {
        assert_eq!(
            gvariant_text_string("'sha256:ab12'").as_deref(),
            Some("sha256:ab12")
        );
        assert_eq!(gvariant_text_string("\"v1\"").as_deref(), Some("v1"));
        assert_eq!(gvariant_text_string("uint32 3"), None);
        assert_eq!(gvariant_text_string("'a\\'b'"), None);
    }

    #[test]
    fn status_lines_give_ostree_indexes() {
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let text = format!(
            "  fedora {a}.1 (staged)\n* fedora {b}.0\n    Version: 40\n    origin refspec: x\n  web {a}.0\n    Pinned: yes\n"
        );
        let ids = parse_status_ids(&text);
        assert_eq!(
            ids,
            vec![
                ("fedora".into(), a.clone(), 1),
                ("fedora".into(), b, 0),
                ("web".into(), a, 0)
            ]
        );
        assert!(parse_status_ids("No deployments.\n").is_empty());
    }

    #[test]
    fn admin_commands_take_sysroot_only_when_configured() {
        let o = Ostree::new(None, Path::new("/sysroot"));
        assert_eq!(
            show(&o.admin_args("pin", &["1".into()])),
            "ostree admin pin 1"
        );
        let o = Ostree::new(Some("/t/s".into()), Path::new("/t/s"));
        assert_eq!(
            show(&o.admin_args("pin", &["1".into()])),
            "ostree admin pin --sysroot=/t/s 1"
        );
        assert_eq!(
            show(&o.repo_args("rev-parse", &[], &["x"])),
            "ostree --repo=/t/s/ostree/repo rev-parse -- x"
        );
        assert_eq!(
            show(&o.repo_args("refs", &["--delete".into()], &["-h"])),
            "ostree --repo=/t/s/ostree/repo refs --delete -- -h"
        );
        assert_eq!(o.os_init("-v").unwrap_err().code, USAGE);
        assert_eq!(
            o.deploy("web", "--help", false, None).unwrap_err().code,
            USAGE
        );
    }
}
