//! Finding guest files in the search path: precedence, masking and drop-in directories.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag, open, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};

use super::perms;
use crate::paths::{CONFIG_DIRS, under_root};

/// Reserved for host-level bridge declarations (`br0.bridge.toml`), which are not guests.
pub const BRIDGE_SUFFIX: &str = ".bridge.toml";

/// A config file, both as the booted system names it and where it is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub logical: PathBuf,
    pub disk: PathBuf,
    /// The directory it was found in, still open: the file is checked and read by its name in
    /// it, so no call walks the directory's path again, and a directory renamed meanwhile is
    /// still the one whose listing and ownership were checked.
    pub dir: OpenDir,
    /// Set when the file must not be read, and why: it, its directory or a directory on its
    /// resolved path may be written by someone other than root, or it could not be read at all
    /// (so a lower-priority file of the same name must not take its place either).
    pub insecure: Option<String>,
    /// The size when it was found: the read is sized by it, and still bounded and checked.
    pub len: u64,
}

impl Source {
    /// Opens the file for reading, relative to its directory, and checks what was opened: the
    /// name may have been replaced since it was found. O_NONBLOCK, so a FIFO swapped in cannot
    /// block the generator; no O_NOFOLLOW, as links to a file or to /dev/null are configuration.
    pub fn open(&self) -> io::Result<File> {
        let name = self.disk.file_name().unwrap_or(OsStr::new("."));
        let fd = openat(
            self.dir.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_NOCTTY,
            Mode::empty(),
        )?;
        let st = fstat(fd.as_fd())?;
        let refuse = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
        if kind(&st) != SFlag::S_IFREG {
            return Err(refuse(format!(
                "{} when opened, not a regular file",
                kind_name(&st)
            )));
        }
        if let Some(p) = perms::problem(st.st_uid, st.st_mode, &self.logical) {
            return Err(refuse(format!("when opened, {p}")));
        }
        Ok(File::from(fd))
    }

    /// A file that was found but must not be read, so that no lower-priority file replaces it.
    fn refused(logical: PathBuf, disk: PathBuf, dir: &OpenDir, why: String) -> Self {
        Self {
            logical,
            disk,
            dir: dir.clone(),
            insecure: Some(why),
            len: 0,
        }
    }
}

/// An open configuration directory, shared by the files found in it.
#[derive(Debug, Clone)]
pub struct OpenDir(Arc<OwnedFd>);

impl OpenDir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// The same directory handle, not merely the same path.
impl PartialEq for OpenDir {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for OpenDir {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestSources {
    /// The file stem, not yet validated as a machine name.
    pub stem: String,
    pub main: Source,
    /// Drop-ins in the order they apply (file-name order across all directories).
    pub dropins: Vec<Source>,
}

#[derive(Debug, Default)]
pub struct Discovered {
    pub guests: Vec<GuestSources>,
    /// Bridge declarations: (bridge name, its file), same precedence and masking as guests.
    pub bridges: Vec<(String, Source)>,
    /// Unreadable directories and similar; reported, never fatal.
    pub problems: Vec<(PathBuf, String)>,
}

enum Entry {
    File(Source),
    Masked,
}

/// What a name in a configuration directory amounts to. A link resolving to /dev/null, or an
/// empty file, masks the name as in systemd (null_or_empty_path()); anything that cannot be
/// read is a refused [`Source`] and still hides lower-priority files of its name, so that a
/// broken admin file fails closed instead of silently handing the guest to a vendor file.
/// `dir_problem` is the verdict on the directory the file was found in.
fn classify(
    logical: PathBuf,
    disk: PathBuf,
    dir: &OpenDir,
    dir_problem: &Option<String>,
    paths: &mut perms::PathChecks,
) -> Entry {
    let name = disk.file_name().unwrap_or(OsStr::new(".")).to_owned();
    let broken = |logical: PathBuf, disk: PathBuf, why: String| {
        Entry::File(Source::refused(
            logical,
            disk,
            dir,
            format!(
                "{why}; refused rather than letting a lower-priority file of the same name take its place"
            ),
        ))
    };
    let st = match fstatat(dir.as_fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(e) => return broken(logical, disk, format!("cannot be examined: {e}")),
    };
    let linked = kind(&st) == SFlag::S_IFLNK;
    // One system call for the usual plain file; only a link needs a second look.
    let st = if linked {
        match readlinkat(dir.as_fd(), name.as_os_str()) {
            Ok(target) if is_dev_null(&logical, Path::new(&target)) => return Entry::Masked,
            Ok(_) => {}
            Err(e) => return broken(logical, disk, format!("its link cannot be read: {e}")),
        }
        match fstatat(dir.as_fd(), name.as_os_str(), AtFlags::empty()) {
            Ok(st) => st,
            Err(e) => {
                return broken(
                    logical,
                    disk,
                    format!("is a symbolic link that cannot be followed: {e}"),
                );
            }
        }
    } else {
        st
    };
    if kind(&st) == SFlag::S_IFCHR && st.st_rdev == nix::sys::stat::makedev(1, 3) {
        return Entry::Masked;
    }
    if kind(&st) != SFlag::S_IFREG {
        let what = kind_name(&st);
        return broken(logical, disk, format!("{what}, not a regular file"));
    }
    let len = u64::try_from(st.st_size).unwrap_or_default();
    if len == 0 {
        return Entry::Masked;
    }
    let insecure = perms::problem(st.st_uid, st.st_mode, &logical)
        .or_else(|| dir_problem.clone())
        .or_else(|| paths.problem_of_file(&disk, linked));
    Entry::File(Source {
        logical,
        disk,
        dir: dir.clone(),
        insecure,
        len,
    })
}

/// Whether a link at `link` (a booted-system path) pointing to `target` leads to /dev/null,
/// read lexically, as it would be inside an image checked offline: `../../dev/null` and
/// `/dev//null` mask like `/dev/null`. On the running system the caller also recognizes the
/// device itself, whatever path leads to it.
fn is_dev_null(link: &Path, target: &Path) -> bool {
    let base = link.parent().unwrap_or(Path::new("/"));
    let mut parts: Vec<&OsStr> = Vec::new();
    let full = if target.is_absolute() {
        target.to_owned()
    } else {
        base.join(target)
    };
    for c in full.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    parts == [OsStr::new("dev"), OsStr::new("null")]
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

fn kind_name(st: &FileStat) -> &'static str {
    match kind(st) {
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFLNK => "a symbolic link",
        _ => "a regular file",
    }
}

fn dir_problem(logical: &Path, dir: &OpenDir) -> Option<String> {
    let st = fstat(dir.as_fd()).ok()?;
    perms::problem(st.st_uid, st.st_mode, logical)
        .map(|p| format!("its directory {} is {p}", logical.display()))
}

/// Opens `dir` and lists the names in it, sorted, without hidden ones.
fn open_listed(dir: &Path) -> io::Result<(OpenDir, Vec<String>)> {
    let fd = open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut listing = Dir::from_fd(fd.try_clone()?)?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let entry = entry?;
        // Names that are not UTF-8 cannot be machine names; skip them rather than fail.
        if let Ok(name) = entry.file_name().to_str()
            && !name.starts_with('.')
        {
            names.push(name.to_owned());
        }
    }
    names.sort_unstable();
    Ok((OpenDir(Arc::new(fd)), names))
}

pub fn discover(root: &Path) -> Discovered {
    let mut out = Discovered::default();
    // stem -> the winning main entry (first seen = highest priority)
    let mut mains: BTreeMap<String, Entry> = BTreeMap::new();
    // stem -> drop-in file name -> winning entry
    let mut dropins: BTreeMap<String, BTreeMap<String, Entry>> = BTreeMap::new();
    let mut bridges: BTreeMap<String, Entry> = BTreeMap::new();
    let mut paths = perms::PathChecks::default();

    for dir in CONFIG_DIRS {
        let disk_dir = under_root(root, dir);
        let (open_dir, names) = match open_listed(&disk_dir) {
            Ok(listed) => listed,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                out.problems.push((PathBuf::from(dir), e.to_string()));
                continue;
            }
        };
        let dir_problem = dir_problem(Path::new(dir), &open_dir);
        for name in names {
            let logical = Path::new(dir).join(&name);
            let disk = disk_dir.join(&name);
            if let Some(stem) = name.strip_suffix(".toml.d") {
                collect_dropins(
                    stem,
                    &logical,
                    &disk,
                    &dir_problem,
                    &mut dropins,
                    &mut out.problems,
                    &mut paths,
                );
                continue;
            }
            let Some(stem) = name.strip_suffix(".toml") else {
                continue;
            };
            let (slot, key) = match name.strip_suffix(BRIDGE_SUFFIX) {
                Some(bridge) => (&mut bridges, bridge),
                None => (&mut mains, stem),
            };
            if !slot.contains_key(key) {
                let entry = classify(logical, disk, &open_dir, &dir_problem, &mut paths);
                slot.insert(key.to_owned(), entry);
            }
        }
    }

    out.bridges = bridges
        .into_iter()
        .filter_map(|(name, e)| match e {
            Entry::File(s) => Some((name, s)),
            Entry::Masked => None,
        })
        .collect();
    for (stem, entry) in mains {
        let Entry::File(main) = entry else { continue };
        let dropins = dropins
            .remove(&stem)
            .unwrap_or_default()
            .into_values()
            .filter_map(|e| match e {
                Entry::File(s) => Some(s),
                Entry::Masked => None,
            })
            .collect();
        out.guests.push(GuestSources {
            stem,
            main,
            dropins,
        });
    }
    out
}

fn collect_dropins(
    stem: &str,
    logical_dir: &Path,
    disk_dir: &Path,
    parent_problem: &Option<String>,
    dropins: &mut BTreeMap<String, BTreeMap<String, Entry>>,
    problems: &mut Vec<(PathBuf, String)>,
    paths: &mut perms::PathChecks,
) {
    let (open_dir, names) = match open_listed(disk_dir) {
        Ok(listed) => listed,
        // Not a directory (or gone): nothing to collect, as before.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(nix::libc::ENOTDIR | nix::libc::ENOENT)
            ) =>
        {
            return;
        }
        Err(e) => {
            problems.push((logical_dir.to_owned(), e.to_string()));
            return;
        }
    };
    let own_problem = dir_problem(logical_dir, &open_dir).or_else(|| parent_problem.clone());
    let slot = dropins.entry(stem.to_owned()).or_default();
    for name in names.into_iter().filter(|n| n.ends_with(".toml")) {
        if slot.contains_key(&name) {
            continue;
        }
        let logical = logical_dir.join(&name);
        let disk = disk_dir.join(&name);
        let entry = classify(logical, disk, &open_dir, &own_problem, paths);
        slot.insert(name, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;
    use std::sync::mpsc;
    use std::time::Duration;

    fn found(root: &Path) -> Discovered {
        let conf = root.join("etc/ostree-guests.d");
        fs::create_dir_all(&conf).unwrap();
        for (name, text) in [
            ("web.toml", "autostart = true\n"),
            ("br0.bridge.toml", "uplinks = []\n"),
        ] {
            fs::write(conf.join(name), text).unwrap();
            fs::set_permissions(conf.join(name), fs::Permissions::from_mode(0o644)).unwrap();
        }
        let d = discover(root);
        assert_eq!(
            (d.guests.len(), d.bridges.len()),
            (1, 1),
            "{:?}",
            d.problems
        );
        d
    }

    /// Opens in a thread: a blocking open must fail the test, not hang it.
    fn open_within_seconds(source: &Source) -> io::Result<File> {
        let (tx, rx) = mpsc::channel();
        let source = source.clone();
        std::thread::spawn(move || {
            let _ = tx.send(source.open());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("opening a FIFO swapped in after discovery blocked")
    }

    #[test]
    fn a_fifo_swapped_in_after_discovery_is_refused_without_blocking() {
        let t = tempfile::tempdir().unwrap();
        let d = found(t.path());
        let guest = &d.guests[0].main;
        let bridge = &d.bridges[0].1;
        for s in [guest, bridge] {
            fs::remove_file(&s.disk).unwrap();
            nix::unistd::mkfifo(&s.disk, Mode::from_bits_truncate(0o644)).unwrap();
            let e = open_within_seconds(s).unwrap_err();
            assert!(e.to_string().contains("a FIFO when opened"), "{e}");
        }
    }

    #[test]
    fn owner_and_mode_are_checked_on_the_opened_file() {
        let t = tempfile::tempdir().unwrap();
        let d = found(t.path());
        for s in [&d.guests[0].main, &d.bridges[0].1] {
            assert!(s.open().is_ok());
            fs::set_permissions(&s.disk, fs::Permissions::from_mode(0o666)).unwrap();
            let e = s.open().unwrap_err();
            assert!(e.to_string().contains("writable by group or others"), "{e}");
        }
    }

    #[test]
    fn links_that_lead_to_dev_null_lexically() {
        let link = Path::new("/etc/ostree-guests.d/web.toml");
        for t in [
            "/dev/null",
            "/dev//null",
            "../../dev/null",
            "/./dev/../dev/null",
            "../../../../dev/null",
        ] {
            assert!(is_dev_null(link, Path::new(t)), "{t}");
        }
        for t in ["/dev/zero", "../dev/null", "null", "/dev/null/x"] {
            assert!(!is_dev_null(link, Path::new(t)), "{t}");
        }
    }
}
