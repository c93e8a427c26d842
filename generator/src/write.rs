//! Atomic output: a reader (systemd reloading, or a concurrent run) never sees a torn file.
//!
//! Written for the system call count, which dominates a generator's run time (creating a file
//! costs microseconds in a VM, and so does every path component looked up). A directory of the
//! output (a guest's `.service.d`, `machines.target.wants`) is filled under a temporary name
//! and renamed into place whole, so its files need no temporary names of their own and appear
//! together: per guest one `mkdirat`, its drop-in written, one `renameat`, and the autostart
//! `symlinkat`, all relative to the output directory, so that none walks its path again. Only
//! where the directory already exists (a second run into the same output) is each file renamed
//! into it on its own, which is as atomic per file.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, renameat};
use nix::sys::stat::{Mode, SFlag, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, symlinkat, unlinkat};

use ostree_guests::atomic;
use ostree_guests::render::{Node, Output};

/// What `fs::create_dir` and `fs::File::create` ask for; the umask applies.
const DIR_MODE: u32 = 0o777;
const FILE_MODE: u32 = 0o666;
/// Replacing one file: the umask applies as for a new one, and no fsync: the output lives in
/// `/run`, and systemd runs us again on every boot.
const OUTPUT_FILE: atomic::Options = atomic::Options {
    mode: FILE_MODE,
    exact_mode: false,
    sync: false,
};

/// The directory part of a relative output path (empty for the output directory itself).
fn parent_of(rel: &str) -> &str {
    rel.rfind('/').map_or("", |slash| &rel[..slash])
}

/// The last component of a relative output path.
fn name_of(rel: &str) -> &str {
    rel.rfind('/').map_or(rel, |slash| &rel[slash + 1..])
}

fn usable_name(name: &str) -> bool {
    !(name.is_empty() || name == "." || name == "..")
}

/// Writes nodes relative to one open output directory; paths are built in one reused buffer.
struct Writer<'d> {
    /// The output directory as given, for messages and the rare deeper directories.
    base: &'d Path,
    dir: OwnedFd,
    /// `.PID`, the suffix of temporary names `.#NAME.PID` (systemd skips dot files).
    pid: String,
    scratch: String,
    /// The parent directory known to exist (nodes come sorted, so siblings are consecutive).
    parent_ok: Option<String>,
}

impl<'d> Writer<'d> {
    fn open(base: &'d Path) -> io::Result<Self> {
        let dir = match atomic::open_dir(base) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(base)?;
                atomic::open_dir(base)?
            }
            other => other?,
        };
        Ok(Self {
            base,
            dir,
            pid: format!(".{}", std::process::id()),
            scratch: String::new(),
            parent_ok: None,
        })
    }

    fn display(&self, rel: &str) -> String {
        self.base.join(rel).display().to_string()
    }

    /// `parent/.#name.PID` in the scratch buffer, for the node or directory `rel`.
    fn temporary_name(&mut self, rel: &str) -> &str {
        let parent = parent_of(rel);
        self.scratch.clear();
        if !parent.is_empty() {
            self.scratch.push_str(parent);
            self.scratch.push('/');
        }
        self.scratch.push_str(".#");
        self.scratch.push_str(name_of(rel));
        self.scratch.push_str(&self.pid);
        &self.scratch
    }

    /// A new file: `O_EXCL` never follows a link left at the name.
    fn create(&self, rel: &str, text: &str) -> io::Result<()> {
        atomic::create_new_at(&self.dir, rel, text.as_bytes(), FILE_MODE)
    }

    fn link(&self, rel: &str, target: &Path) -> io::Result<()> {
        Ok(symlinkat(target, &self.dir, rel)?)
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        Ok(renameat(&self.dir, from, &self.dir, to)?)
    }

    fn remove(&self, rel: &str) {
        let _ = unlinkat(&self.dir, rel, UnlinkatFlags::NoRemoveDir);
    }

    /// `create_dir_all`, but one `mkdirat` for the usual case of a new directory right in the
    /// output directory, and nothing for a sibling of the previous node.
    fn ensure_parent(&mut self, parent: &str) -> io::Result<()> {
        if parent.is_empty() || self.parent_ok.as_deref() == Some(parent) {
            return Ok(());
        }
        match mkdirat(&self.dir, parent, Mode::from_bits_truncate(DIR_MODE)) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                let st = fstatat(&self.dir, parent, AtFlags::empty())?;
                if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
                    return Err(Errno::EEXIST.into());
                }
            }
            Err(_) => fs::create_dir_all(self.base.join(parent))?,
        }
        self.parent_ok = Some(parent.to_owned());
        Ok(())
    }

    /// One node on its own: under a temporary name, then renamed over whatever is there.
    fn write_node(&mut self, rel: &str, node: &Node) -> io::Result<()> {
        // Nothing may land outside the output directory.
        if rel.starts_with('/') {
            return Err(io::Error::other("not a relative path"));
        }
        if !usable_name(name_of(rel)) {
            return Err(io::Error::other("no file name"));
        }
        self.ensure_parent(parent_of(rel))?;
        match node {
            Node::File(text) => atomic::replace_at(&self.dir, rel, text.as_bytes(), OUTPUT_FILE),
            Node::Symlink(target) => match self.link(rel, target) {
                // The common case: nothing there yet, so nothing to replace.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let tmp = self.temporary_name(rel).to_owned();
                    self.remove(&tmp);
                    self.link(&tmp, target)
                        .and_then(|()| self.rename(&tmp, rel))
                        .inspect_err(|_| self.remove(&tmp))
                }
                done => done,
            },
        }
    }

    /// Siblings `group` (at least one, same parent directory) through a staging directory;
    /// `false` if that could not be created, and the caller writes them one by one.
    fn write_staged(
        &mut self,
        parent: &str,
        group: &[(&str, &Node)],
        failed: &mut Vec<(String, io::Error)>,
    ) -> bool {
        let above = parent_of(parent);
        // Rare (deeper output paths): make sure the directory above exists.
        if !above.is_empty() && fs::create_dir_all(self.base.join(above)).is_err() {
            return false;
        }
        let staging = self.temporary_name(parent).to_owned();
        if mkdirat(
            &self.dir,
            staging.as_str(),
            Mode::from_bits_truncate(DIR_MODE),
        )
        .is_err()
        {
            return false;
        }
        let mut staged = Vec::with_capacity(group.len());
        let mut entry = String::with_capacity(staging.len() + 64);
        for &(rel, node) in group {
            let file = name_of(rel);
            if !usable_name(file) {
                failed.push((self.display(rel), io::Error::other("no file name")));
                continue;
            }
            entry.clear();
            entry.push_str(&staging);
            entry.push('/');
            entry.push_str(file);
            // The staging directory is ours and new: nothing to replace, nothing to follow.
            let written = match node {
                Node::File(text) => self.create(&entry, text),
                Node::Symlink(target) => self.link(&entry, target),
            };
            match written {
                Ok(()) => staged.push((rel, file)),
                Err(e) => failed.push((self.display(rel), e)),
            }
        }
        if self.rename(&staging, parent).is_err() {
            // The directory exists (a previous run's output) or is not one: move each entry
            // on its own, replacing what is there; what fails is reported per path.
            for (rel, file) in staged {
                entry.clear();
                entry.push_str(&staging);
                entry.push('/');
                entry.push_str(file);
                if let Err(e) = self.rename(&entry, rel) {
                    failed.push((self.display(rel), e));
                }
            }
            let _ = fs::remove_dir_all(self.base.join(&staging));
        }
        // The directory exists now (or cannot be made: then every later write reports that).
        self.parent_ok = Some(parent.to_owned());
        true
    }
}

/// Writes every node under `dir`; returns the paths that failed with their errors.
pub fn write_output(dir: &Path, output: &Output) -> Vec<(String, io::Error)> {
    if output.nodes.is_empty() {
        return Vec::new();
    }
    let mut writer = match Writer::open(dir) {
        Ok(w) => w,
        Err(e) => {
            return output
                .nodes
                .keys()
                .map(|rel| {
                    let why = io::Error::new(e.kind(), format!("output directory: {e}"));
                    (dir.join(rel).display().to_string(), why)
                })
                .collect();
        }
    };
    let mut failed = Vec::new();
    let nodes: Vec<(&str, &Node)> = output.nodes.iter().map(|(p, n)| (p.as_str(), n)).collect();
    // Sorted by path, so the entries of one directory are consecutive.
    for group in nodes.chunk_by(|a, b| parent_of(a.0) == parent_of(b.0)) {
        let parent = group.first().map_or("", |(rel, _)| parent_of(rel));
        // Directories of the output, not the output directory itself, and nothing that would
        // land outside it.
        if !parent.is_empty()
            && !parent.starts_with('/')
            && usable_name(name_of(parent))
            && writer.write_staged(parent, group, &mut failed)
        {
            continue;
        }
        for &(rel, node) in group {
            if let Err(e) = writer.write_node(rel, node) {
                failed.push((writer.display(rel), e));
            }
        }
    }
    failed
}

/// `---path---` blocks, as `quadlet -dryrun` prints them.
pub fn dry_run_text(output: &Output) -> String {
    let mut s = String::new();
    for (rel, node) in &output.nodes {
        s.push_str(&format!("---{rel}---\n"));
        match node {
            Node::File(text) => s.push_str(text),
            Node::Symlink(target) => s.push_str(&format!("-> {}\n", target.display())),
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    use super::*;

    fn output(nodes: &[(&str, Node)]) -> Output {
        let mut out = Output::default();
        for (rel, node) in nodes {
            out.nodes.insert((*rel).to_owned(), node.clone());
        }
        out
    }

    fn file(text: &str) -> Node {
        Node::File(text.to_owned())
    }

    fn link(target: &str) -> Node {
        Node::Symlink(PathBuf::from(target))
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names = Vec::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                let meta = fs::symlink_metadata(&p).unwrap();
                if meta.is_symlink() {
                    names.push(format!("{rel} -> {}", fs::read_link(&p).unwrap().display()));
                } else if meta.is_dir() {
                    names.push(format!("{rel}/"));
                    stack.push(p);
                } else {
                    names.push(format!("{rel} = {}", fs::read_to_string(&p).unwrap()));
                }
            }
        }
        names.sort();
        names
    }

    #[test]
    fn fresh_and_rerun_give_the_same_tree_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let out = output(&[
            ("a.service.d/50-x.conf", file("one\n")),
            ("b.service.d/50-x.conf", file("two\n")),
            ("m.target.wants/a.service", link("/t/a")),
            ("m.target.wants/b.service", link("/t/b")),
            ("deep/er/still/f", file("3\n")),
        ]);
        assert!(write_output(dir.path(), &out).is_empty());
        let first = listing(dir.path());
        assert_eq!(
            first,
            [
                "a.service.d/",
                "a.service.d/50-x.conf = one\n",
                "b.service.d/",
                "b.service.d/50-x.conf = two\n",
                "deep/",
                "deep/er/",
                "deep/er/still/",
                "deep/er/still/f = 3\n",
                "m.target.wants/",
                "m.target.wants/a.service -> /t/a",
                "m.target.wants/b.service -> /t/b",
            ]
        );
        // A second run over the first one's output replaces files and links in place.
        let changed = output(&[
            ("a.service.d/50-x.conf", file("new\n")),
            ("m.target.wants/a.service", link("/t/other")),
        ]);
        assert!(write_output(dir.path(), &changed).is_empty());
        let second = listing(dir.path());
        assert!(second.contains(&"a.service.d/50-x.conf = new\n".to_owned()));
        assert!(second.contains(&"m.target.wants/a.service -> /t/other".to_owned()));
        assert_eq!(second.len(), first.len(), "{second:?}");
    }

    #[test]
    fn stale_temporary_names_are_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let pid = std::process::id();
        let victim = dir.path().join("victim");
        fs::create_dir(&victim).unwrap();
        fs::write(victim.join("f"), "keep\n").unwrap();
        // A link where the staging directory of a.d goes, and one at the temporary name of a
        // file directly in the output directory (crashed runs whose PID came round again).
        symlink(&victim, dir.path().join(format!(".#a.d.{pid}"))).unwrap();
        let tmp = dir.path().join(format!(".#top.{pid}"));
        symlink(victim.join("f"), &tmp).unwrap();
        let out = output(&[("a.d/f", file("data\n")), ("top", file("top\n"))]);
        assert!(write_output(dir.path(), &out).is_empty());
        assert_eq!(fs::read_to_string(victim.join("f")).unwrap(), "keep\n");
        assert_eq!(fs::read_dir(&victim).unwrap().count(), 1);
        assert_eq!(
            fs::read_to_string(dir.path().join("a.d/f")).unwrap(),
            "data\n"
        );
        assert_eq!(fs::read_to_string(dir.path().join("top")).unwrap(), "top\n");
        assert!(fs::symlink_metadata(&tmp).is_err());
    }

    #[test]
    fn a_directory_appears_whole_with_all_its_files() {
        // Staged: no temporary names inside, both files there at once; and a second run into
        // the existing directory replaces them one by one.
        let dir = tempfile::tempdir().unwrap();
        let out = output(&[("u.d/a.conf", file("1\n")), ("u.d/b.conf", file("2\n"))]);
        assert!(write_output(dir.path(), &out).is_empty());
        let again = output(&[("u.d/a.conf", file("3\n")), ("u.d/b.conf", file("4\n"))]);
        assert!(write_output(dir.path(), &again).is_empty());
        assert_eq!(
            listing(dir.path()),
            ["u.d/", "u.d/a.conf = 3\n", "u.d/b.conf = 4\n"]
        );
    }

    #[test]
    fn an_output_directory_that_cannot_be_opened_fails_every_node_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("out");
        fs::write(&not_a_dir, "").unwrap();
        let out = output(&[("a.d/f", file("x\n")), ("l", link("/t"))]);
        let failed = write_output(&not_a_dir, &out);
        assert_eq!(failed.len(), 2, "{failed:?}");
        for (path, e) in &failed {
            assert!(path.starts_with(&not_a_dir.display().to_string()), "{path}");
            assert!(e.to_string().starts_with("output directory: "), "{e}");
        }
    }

    #[test]
    fn failures_are_reported_per_path_and_the_rest_is_written() {
        let dir = tempfile::tempdir().unwrap();
        // A file where a directory must go, and a directory where a link must go.
        fs::write(dir.path().join("a.d"), "").unwrap();
        fs::create_dir_all(dir.path().join("w/l")).unwrap();
        let out = output(&[
            ("a.d/f", file("x\n")),
            ("b.d/f", file("y\n")),
            ("w/l", link("/t")),
        ]);
        let failed: Vec<String> = write_output(dir.path(), &out)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        let p = |rel: &str| dir.path().join(rel).display().to_string();
        assert_eq!(failed, [p("a.d/f"), p("w/l")]);
        assert_eq!(fs::read_to_string(dir.path().join("b.d/f")).unwrap(), "y\n");
        assert!(
            listing(dir.path()).iter().all(|n| !n.contains(".#")),
            "temporary names left behind"
        );
    }
}
