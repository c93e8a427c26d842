//! Finding guest files in the search path: precedence, masking and drop-in directories.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
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
    /// Set when the file or its directory may be written by someone other than root.
    pub insecure: Option<String>,
    /// The size when it was found: the read is sized by it, and still bounded and checked.
    pub len: u64,
}

impl Source {
    /// Opens the file for reading, relative to its directory.
    pub fn open(&self) -> io::Result<File> {
        let name = self.disk.file_name().unwrap_or(OsStr::new("."));
        let fd = openat(
            self.dir.as_fd(),
            name,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(File::from(fd))
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

/// A symlink to /dev/null or an empty file hides the same name in lower-priority directories.
/// `dir_problem` is the verdict on the directory the file was found in.
fn classify(
    logical: PathBuf,
    disk: PathBuf,
    dir: &OpenDir,
    dir_problem: &Option<String>,
) -> io::Result<Option<Entry>> {
    let name = disk.file_name().unwrap_or(OsStr::new("."));
    let st = fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    // One system call for the usual plain file; only a link needs a second look.
    let st = if kind(&st) == SFlag::S_IFLNK {
        if readlinkat(dir.as_fd(), name)? == OsStr::new("/dev/null") {
            return Ok(Some(Entry::Masked));
        }
        fstatat(dir.as_fd(), name, AtFlags::empty())?
    } else {
        st
    };
    if kind(&st) != SFlag::S_IFREG {
        return Ok(None);
    }
    let len = u64::try_from(st.st_size).unwrap_or_default();
    if len == 0 {
        return Ok(Some(Entry::Masked));
    }
    let insecure = perms::problem(st.st_uid, st.st_mode, &logical).or_else(|| dir_problem.clone());
    Ok(Some(Entry::File(Source {
        logical,
        disk,
        dir: dir.clone(),
        insecure,
        len,
    })))
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
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
                );
                continue;
            }
            let Some(stem) = name.strip_suffix(".toml") else {
                continue;
            };
            if let Some(bridge) = name.strip_suffix(BRIDGE_SUFFIX) {
                if !bridges.contains_key(bridge) {
                    match classify(logical.clone(), disk, &open_dir, &dir_problem) {
                        Ok(Some(entry)) => {
                            bridges.insert(bridge.to_owned(), entry);
                        }
                        Ok(None) => out
                            .problems
                            .push((logical, "not a regular file; ignored".to_owned())),
                        Err(e) => out.problems.push((logical, e.to_string())),
                    }
                }
                continue;
            }
            if mains.contains_key(stem) {
                continue;
            }
            match classify(logical.clone(), disk, &open_dir, &dir_problem) {
                Ok(Some(entry)) => {
                    mains.insert(stem.to_owned(), entry);
                }
                Ok(None) => out
                    .problems
                    .push((logical, "not a regular file; ignored".to_owned())),
                Err(e) => out.problems.push((logical, e.to_string())),
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
        match classify(logical.clone(), disk, &open_dir, &own_problem) {
            Ok(Some(entry)) => {
                slot.insert(name, entry);
            }
            Ok(None) => problems.push((logical, "not a regular file; ignored".to_owned())),
            Err(e) => problems.push((logical, e.to_string())),
        }
    }
}
