//! Enumeration of deployments from the boot entries, as libostree's
//! `sysroot_load_from_bootloader_configs` does it (docs/DESIGN.md, "Deployment resolution").
//!
//! The deployment set is the entries of the current bootversion, never a listing of `deploy/`
//! (staged and half-cleaned-up directories live there). Each entry's `ostree=` bootlink is
//! resolved with `readlink`, because ostree may swap the bootlinks of a `boot.N.M` pair without
//! rewriting any entry.

use std::cmp::Ordering;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::fd::AsFd as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag, fstatat};

use super::bls::{is_entry_name, ostree_karg, parse_bootlink, parse_deploy_name, parse_entry};
use super::gvariant::commit_version;
use super::origin::is_pinned;
use super::read::{ReadError, read_small_text, read_small_text_at};
use super::strverscmp::strverscmp;
use super::{Deployment, Layout, ResolveError, join};

/// One path part, for [`join`].
fn part(s: &str) -> [&OsStr; 1] {
    [OsStr::new(s)]
}

/// A writer changes the entries at most once per transaction; three reads that each straddle a
/// change mean something is badly wrong, and the last read is returned as is.
const MAX_TRIES: u32 = 3;

/// Lists the deployments in libostree's order (index 0 = default boot entry).
///
/// Staged deployments are not included: they have no boot entry until finalized at shutdown.
/// A deployment whose directory is gone is still listed; [`super::resolve`] reports it.
pub fn list_deployments(layout: &Layout) -> Result<Vec<Deployment>, ResolveError> {
    list_with(layout, Details::All).map(|listing| listing.deps)
}

/// Which deployments are listed, and which of them get their `.origin` file (the pin flag) and
/// commit object (the version) read. Each is a file access on top of the entry; starting one
/// guest needs only its own stateroot's, so [`super::resolve`] skips the others.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Details<'a> {
    /// Every deployment, as `ostree admin status` shows them.
    All,
    /// Only deployments of `stateroot`, each at its index among all of them; the bootlinks of
    /// other stateroots are not read. Pin flags and versions of all of them (pins that compare
    /// versions, and error messages listing them), or with `first_only` of the first in boot
    /// order, which is the one `Pin::Auto` picks; the others keep `pinned: false` and
    /// `version: None`. Without `pin_flags` no `.origin` file is read and `pinned` stays false.
    Of {
        stateroot: &'a str,
        first_only: bool,
        pin_flags: bool,
    },
}

/// The deployments [`Details`] asked for, and the stateroots of every boot entry (in boot order,
/// without duplicates), which name the alternatives when a stateroot has no deployment.
#[derive(Debug)]
pub(crate) struct Listing {
    pub deps: Vec<Deployment>,
    pub stateroots: Vec<String>,
}

/// [`list_deployments`], listing and reading details only where `details` says.
pub(crate) fn list_with(layout: &Layout, details: Details<'_>) -> Result<Listing, ResolveError> {
    let mut tries = 0;
    loop {
        tries += 1;
        let before = Generation::read(layout)?;
        let result = read_deployments(layout, &before, details);
        // ostree renames `boot/loader` or `ostree/boot.N` to switch, then bumps the mtime of
        // `ostree/deploy`; a change or a vanished file means the read mixed two states.
        let stable = Generation::read(layout).is_ok_and(|after| after == before);
        match result {
            Ok(deps) if stable => return Ok(deps),
            Err(e) if stable && !e.is_not_found() => return Err(e),
            other if tries >= MAX_TRIES => return other,
            _ => {}
        }
    }
}

/// What identifies one state of the boot configuration.
#[derive(Debug, PartialEq, Eq)]
struct Generation {
    bootversion: u8,
    /// Whether `boot/loader` exists (it does on any sysroot ostree has deployed to).
    has_loader: bool,
    /// Target of `ostree/boot.<bootversion>` (the subbootversion swap).
    bootlinks: Option<PathBuf>,
    /// `ostree/deploy` mtime in (s, ns), bumped by every ostree write.
    deploy_mtime: Option<(i64, i64)>,
}

impl Generation {
    /// Reads the bootversion like `read_current_bootversion`: no `loader` link means 0, anything
    /// but a link to `loader.0`/`loader.1` is an error.
    fn read(layout: &Layout) -> Result<Self, ResolveError> {
        let loader = join(&layout.boot, part("loader"));
        let (bootversion, has_loader) = match fs::read_link(&loader) {
            Ok(target) => match target.as_os_str().as_bytes() {
                b"loader.0" => (0, true),
                b"loader.1" => (1, true),
                _ => {
                    return Err(ResolveError::malformed(
                        loader,
                        format!("symlink target {target:?} is neither loader.0 nor loader.1"),
                    ));
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => (0, false),
            Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => {
                return Err(ResolveError::malformed(loader, "not a symbolic link"));
            }
            Err(e) => return Err(ResolveError::unreadable(loader, e)),
        };
        let link = if bootversion == 0 {
            "ostree/boot.0"
        } else {
            "ostree/boot.1"
        };
        let bootlinks = fs::read_link(join(&layout.sysroot, part(link))).ok();
        let deploy = join(&layout.sysroot, part("ostree/deploy"));
        let deploy_mtime = match fs::metadata(&deploy) {
            Ok(m) => Some((m.mtime(), m.mtime_nsec())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(ResolveError::unreadable(deploy, e)),
        };
        Ok(Self {
            bootversion,
            has_loader,
            bootlinks,
            deploy_mtime,
        })
    }
}

/// One parsed boot entry.
struct Entry {
    /// File name in the entries directory; the full path is built only where it is shown.
    name: OsString,
    version: Option<String>,
    /// Value of the first `ostree=` argument.
    karg: String,
}

fn read_deployments(
    layout: &Layout,
    generation: &Generation,
    details: Details<'_>,
) -> Result<Listing, ResolveError> {
    if !generation.has_loader {
        check_boot_mounted(layout)?;
    }
    let (entries_dir, mut entries) = read_entries(layout, generation.bootversion)?;
    entries.sort_by(boot_order);
    let mut versions: Vec<(String, Option<String>)> = Vec::new();
    let mut buf = Vec::with_capacity(512);
    let mut listing = Listing {
        deps: Vec::with_capacity(entries.len()),
        stateroots: Vec::new(),
    };
    let mut first_detailed = false;
    let pin_flags = !matches!(
        details,
        Details::Of {
            pin_flags: false,
            ..
        }
    );
    for (index, entry) in entries.into_iter().enumerate() {
        let bootlink = parse_bootlink(&entry.karg)
            .map_err(|r| ResolveError::malformed(entries_dir.join(&entry.name), r))?;
        let stateroot = bootlink.stateroot;
        if !listing.stateroots.iter().any(|s| s == stateroot) {
            listing.stateroots.push(stateroot.to_owned());
        }
        let with_details = match details {
            Details::All => true,
            Details::Of {
                stateroot: ours, ..
            } if stateroot != ours => continue,
            Details::Of { first_only, .. } => !(first_only && first_detailed),
        };
        first_detailed |= with_details;
        let mut dep = deployment(layout, index, bootlink.relative, stateroot)?;
        if with_details {
            read_details(layout, &mut dep, pin_flags, &mut buf, &mut versions)?;
        }
        dep.boot_entry = entries_dir.join(&entry.name);
        listing.deps.push(dep);
    }
    Ok(listing)
}

/// A separate boot partition that is not mounted shows up as a missing `loader` link, which
/// libostree (reading its own sysroot) would take as "no deployments". Bootlinks only exist once
/// ostree has written boot entries, so their presence tells the two cases apart.
fn check_boot_mounted(layout: &Layout) -> Result<(), ResolveError> {
    for link in ["ostree/boot.0", "ostree/boot.1"] {
        if fs::symlink_metadata(layout.sysroot.join(link)).is_ok() {
            return Err(ResolveError::Unreadable {
                path: layout.boot.join("loader"),
                source: io::Error::from(io::ErrorKind::NotFound),
                hint: Some(
                    "; the sysroot has bootlinks (ostree/boot.N), so boot entries must exist: \
                     is the boot partition mounted?",
                ),
            });
        }
    }
    Ok(())
}

/// Reads `loader.<bootversion>/entries` directly, not through the `loader` link, so a concurrent
/// switch cannot make us read entries of another bootversion than the one we decided on. The
/// directory is opened once and its entries read relative to it.
fn read_entries(layout: &Layout, bootversion: u8) -> Result<(PathBuf, Vec<Entry>), ResolveError> {
    let dir = join(
        &layout.boot,
        part(if bootversion == 0 {
            "loader.0/entries"
        } else {
            "loader.1/entries"
        }),
    );
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut listing = match Dir::open(&dir, flags, Mode::empty()) {
        Ok(l) => l,
        Err(Errno::ENOENT) => return Ok((dir, Vec::new())),
        Err(e) => return Err(ResolveError::unreadable(dir, e.into())),
    };
    // Names first: the listing borrows the directory, the opens below need its descriptor.
    let mut names: Vec<(OsString, Option<Type>)> = Vec::new();
    for dent in listing.iter() {
        let dent = dent.map_err(|e| ResolveError::unreadable(&dir, e.into()))?;
        let name = dent.file_name().to_bytes();
        if is_entry_name(name) {
            names.push((OsStr::from_bytes(name).to_owned(), dent.file_type()));
        }
    }
    let fd = listing.as_fd();
    let mut buf = Vec::with_capacity(4096);
    let mut entries = Vec::with_capacity(names.len());
    for (name, kind) in names {
        let path = || join(&dir, [name.as_os_str()]);
        // libostree stats following symlinks and takes regular files only.
        let regular = match kind {
            Some(Type::File) => true,
            Some(Type::Symlink) | None => fstatat(fd, name.as_os_str(), AtFlags::empty())
                .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG)
                .map_err(|e| ResolveError::unreadable(path(), e.into()))?,
            Some(_) => false,
        };
        if !regular {
            continue;
        }
        let text = read_small_text_at(fd, &name, &mut buf).map_err(|e| read_error(&path(), e))?;
        let keys = parse_entry(text);
        let Some(karg) = keys.options.and_then(ostree_karg) else {
            return Err(ResolveError::malformed(
                path(),
                "no ostree= kernel argument in the entry's options line",
            ));
        };
        let karg = karg.to_owned();
        let version = keys.version.map(str::to_owned);
        entries.push(Entry {
            name,
            version,
            karg,
        });
    }
    Ok((dir, entries))
}

/// Highest `version` first by strverscmp, entries without one last. libostree leaves ties in
/// directory order; the file name makes ours deterministic (ostree never writes ties).
fn boot_order(a: &Entry, b: &Entry) -> Ordering {
    match (&a.version, &b.version) {
        (Some(x), Some(y)) => strverscmp(y.as_bytes(), x.as_bytes()),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
    .then_with(|| a.name.cmp(&b.name))
}

/// The deployment a bootlink points to, without its pin flag and version ([`read_details`]).
/// `boot_entry` is left empty for the caller, which owns the entry's path.
fn deployment(
    layout: &Layout,
    index: usize,
    bootlink: &str,
    stateroot: &str,
) -> Result<Deployment, ResolveError> {
    let link = join(&layout.sysroot, part(bootlink));
    let target = fs::read_link(&link).map_err(|e| {
        if e.raw_os_error() == Some(nix::libc::EINVAL) {
            ResolveError::malformed(&link, "bootlink is not a symbolic link")
        } else {
            ResolveError::unreadable(&link, e)
        }
    })?;
    let base = target
        .as_os_str()
        .as_bytes()
        .rsplit(|&b| b == b'/')
        .next()
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or_default();
    let (checksum, serial) =
        parse_deploy_name(base).map_err(|r| ResolveError::malformed(&link, r))?;
    Ok(Deployment {
        index,
        stateroot: stateroot.to_owned(),
        checksum: checksum.to_owned(),
        serial,
        boot_entry: PathBuf::new(),
        pinned: false,
        version: None,
    })
}

/// The pin flag from the deployment's `.origin` file (if `pin_flag`) and the version from its
/// commit object.
fn read_details(
    layout: &Layout,
    dep: &mut Deployment,
    pin_flag: bool,
    buf: &mut Vec<u8>,
    versions: &mut Vec<(String, Option<String>)>,
) -> Result<(), ResolveError> {
    if pin_flag {
        dep.pinned = read_pin_flag(layout, dep, buf)?;
    }

    // Redeploys share a commit; read each commit object once per listing.
    dep.version = match versions.iter().find(|(c, _)| *c == dep.checksum) {
        Some((_, v)) => v.clone(),
        None => {
            let v =
                commit_object(&layout.sysroot, &dep.checksum).and_then(|p| commit_version(&p, buf));
            versions.push((dep.checksum.clone(), v.clone()));
            v
        }
    };
    Ok(())
}

fn read_pin_flag(
    layout: &Layout,
    dep: &Deployment,
    buf: &mut Vec<u8>,
) -> Result<bool, ResolveError> {
    // libostree's own name for it: `<checksum>.<serial>.origin`, the serial in decimal.
    let mut origin_name = OsString::from(dep.dir_name());
    origin_name.push(".origin");
    let origin = join(
        &layout.sysroot,
        [
            OsStr::new("ostree/deploy"),
            OsStr::new(&dep.stateroot),
            OsStr::new("deploy"),
            &origin_name,
        ],
    );
    match read_small_text(&origin, buf) {
        Ok(text) => Ok(is_pinned(text)),
        // No origin file is allowed (libostree: ot_openat_ignore_enoent).
        Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(read_error(&origin, e)),
    }
}

/// `ostree/repo/objects/<2 hex>/<62 hex>.commit` of a (bare-mode) sysroot repo.
fn commit_object(sysroot: &Path, checksum: &str) -> Option<PathBuf> {
    let (dir, rest) = (checksum.get(..2)?, checksum.get(2..)?);
    if rest.is_empty() {
        return None;
    }
    let mut name = OsString::with_capacity(rest.len() + 7);
    name.push(rest);
    name.push(".commit");
    Some(join(
        sysroot,
        [OsStr::new("ostree/repo/objects"), OsStr::new(dir), &name],
    ))
}

fn read_error(path: &Path, e: ReadError) -> ResolveError {
    match e {
        ReadError::Io(e) => ResolveError::unreadable(path, e),
        ReadError::TooLarge => ResolveError::malformed(path, "larger than 64 KiB"),
        ReadError::NotUtf8 => ResolveError::malformed(path, "not valid UTF-8 text"),
    }
}
