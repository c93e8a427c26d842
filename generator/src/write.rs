//! Atomic output: a reader (systemd reloading, or a concurrent run) never sees a torn file.
//!
//! Written for the system call count, which dominates a generator's run time (a path lookup or
//! a file creation costs microseconds in a VM). A directory of the output (a guest's
//! `.service.d`, `machines.target.wants`) is filled under a temporary name and renamed into
//! place whole, so its files need no temporary names of their own and appear together: per
//! guest one `mkdir`, its drop-ins written, one `rename`, and the autostart `symlink`. Only
//! where the directory already exists (a second run into the same output) is each file renamed
//! into it on its own, which is as atomic per file.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write as _};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::symlink;
use std::path::Path;

use ostree_guests::render::{Node, Output};

/// Writes nodes under one output directory. Paths are built in reused byte buffers: with a
/// few hundred guests, allocating each path, parent and temporary name was a tenth of the
/// generator's instructions.
struct Writer {
    /// The output directory and a '/', then the node being written.
    path: Vec<u8>,
    base: usize,
    /// The node's temporary name `.#NAME.PID` next to it (systemd skips dot files).
    tmp: Vec<u8>,
    pid: String,
    /// The parent directory known to exist (nodes come sorted, so siblings are consecutive).
    parent_ok: Option<Vec<u8>>,
}

fn as_path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

impl Writer {
    fn new(dir: &Path) -> Self {
        let mut path = dir.as_os_str().as_bytes().to_vec();
        if !path.ends_with(b"/") {
            path.push(b'/');
        }
        Self {
            base: path.len(),
            path,
            tmp: Vec::new(),
            pid: format!(".{}", std::process::id()),
            parent_ok: None,
        }
    }

    /// Sets the current node to `dir/rel`; returns where its file name starts.
    fn set(&mut self, rel: &Path) -> usize {
        self.path.truncate(self.base);
        self.path.extend_from_slice(rel.as_os_str().as_bytes());
        self.path
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(0, |slash| slash + 1)
    }

    fn make_tmp(&mut self, name_at: usize) {
        let (parent, name) = self.path.split_at(name_at);
        self.tmp.clear();
        self.tmp.extend_from_slice(parent);
        self.tmp.extend_from_slice(b".#");
        self.tmp.extend_from_slice(name);
        self.tmp.extend_from_slice(self.pid.as_bytes());
    }

    /// `create_dir_all`, but one `mkdir` for the usual case of a new directory below an
    /// existing one, and nothing for a sibling of the previous node.
    fn ensure_parent(&mut self, name_at: usize) -> io::Result<()> {
        let parent = match self.path.get(..name_at.saturating_sub(1)) {
            Some(p) if !p.is_empty() => p,
            _ => return Ok(()),
        };
        if self.parent_ok.as_deref() == Some(parent) {
            return Ok(());
        }
        let dir = as_path(parent);
        match fs::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if !dir.is_dir() {
                    return Err(e);
                }
            }
            Err(_) => fs::create_dir_all(dir)?,
        }
        let known = self.parent_ok.get_or_insert_with(Vec::new);
        known.clear();
        known.extend_from_slice(parent);
        Ok(())
    }

    fn write_file(&self, text: &str) -> io::Result<()> {
        let (path, tmp) = (as_path(&self.path), as_path(&self.tmp));
        // create_new (O_EXCL) never follows a link left at the temporary name; a stale file
        // there (a crashed run with a reused PID) is removed and the create retried once.
        let mut file = match fs::File::create_new(tmp) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                fs::remove_file(tmp)?;
                fs::File::create_new(tmp)?
            }
            other => other?,
        };
        let written = file.write_all(text.as_bytes());
        drop(file);
        written
            .and_then(|()| fs::rename(tmp, path))
            .inspect_err(|_| {
                let _ = fs::remove_file(tmp);
            })
    }

    fn write_symlink(&self, target: &Path) -> io::Result<()> {
        let (path, tmp) = (as_path(&self.path), as_path(&self.tmp));
        match symlink(target, path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            done => return done,
        }
        // Replacing what a previous run left: through a temporary link and rename(2), so the
        // name never disappears in between.
        let _ = fs::remove_file(tmp);
        symlink(target, tmp)?;
        fs::rename(tmp, path).inspect_err(|_| {
            let _ = fs::remove_file(tmp);
        })
    }

    /// Siblings `group` (at least one, same parent directory) through a staging directory;
    /// `false` if that could not be created, and the caller writes them one by one.
    fn write_staged(
        &mut self,
        parent: &Path,
        group: &[(&Path, &Node)],
        failed: &mut Vec<(String, io::Error)>,
    ) -> bool {
        let (Some(name), Some(above)) = (parent.file_name(), parent.parent()) else {
            return false;
        };
        if !above.as_os_str().is_empty() {
            // Rare (deeper output paths): make sure the directory above exists.
            self.path.truncate(self.base);
            self.path.extend_from_slice(above.as_os_str().as_bytes());
            if fs::create_dir_all(as_path(&self.path)).is_err() {
                return false;
            }
            self.path.push(b'/');
        } else {
            self.path.truncate(self.base);
        }
        self.tmp.clear();
        self.tmp.extend_from_slice(&self.path);
        self.tmp.extend_from_slice(b".#");
        self.tmp.extend_from_slice(name.as_bytes());
        self.tmp.extend_from_slice(self.pid.as_bytes());
        if fs::create_dir(as_path(&self.tmp)).is_err() {
            return false;
        }
        let staging = self.tmp.len();
        let mut staged = Vec::with_capacity(group.len());
        for &(rel, node) in group {
            // Byte slicing: `Path::file_name` walks components.
            let bytes = rel.as_os_str().as_bytes();
            let file = bytes.get(parent_bytes(rel).len() + 1..).unwrap_or_default();
            if file.is_empty() || file == b"." || file == b".." {
                failed.push((self.display(rel), io::Error::other("no file name")));
                continue;
            }
            self.tmp.truncate(staging);
            self.tmp.push(b'/');
            self.tmp.extend_from_slice(file);
            let entry = as_path(&self.tmp);
            // The staging directory is ours and new: nothing to replace, nothing to follow.
            let written = match node {
                Node::File(text) => {
                    fs::File::create_new(entry).and_then(|mut f| f.write_all(text.as_bytes()))
                }
                Node::Symlink(target) => symlink(target, entry),
            };
            match written {
                Ok(()) => staged.push((rel, file)),
                Err(e) => failed.push((self.display(rel), e)),
            }
        }
        self.tmp.truncate(staging);
        self.path.truncate(self.base);
        self.path.extend_from_slice(parent.as_os_str().as_bytes());
        if fs::rename(as_path(&self.tmp), as_path(&self.path)).is_err() {
            // The directory exists (a previous run's output) or is not one: move each entry
            // on its own, replacing what is there; what fails is reported per path.
            for (rel, file) in staged {
                self.tmp.truncate(staging);
                self.tmp.push(b'/');
                self.tmp.extend_from_slice(file);
                self.path.truncate(self.base);
                self.path.extend_from_slice(rel.as_os_str().as_bytes());
                if let Err(e) = fs::rename(as_path(&self.tmp), as_path(&self.path)) {
                    failed.push((self.display(rel), e));
                }
            }
            self.tmp.truncate(staging);
            let _ = fs::remove_dir_all(as_path(&self.tmp));
        }
        // The directory exists now (or cannot be made: then every later write reports that).
        self.path.truncate(self.base);
        self.path.extend_from_slice(parent.as_os_str().as_bytes());
        let known = self.parent_ok.get_or_insert_with(Vec::new);
        known.clear();
        known.extend_from_slice(&self.path);
        true
    }

    fn display(&self, rel: &Path) -> String {
        let mut p = self.path.clone();
        p.truncate(self.base);
        p.extend_from_slice(rel.as_os_str().as_bytes());
        as_path(&p).display().to_string()
    }

    fn write_node(&mut self, rel: &Path, node: &Node) -> io::Result<()> {
        // Nothing may land outside the output directory.
        if rel.is_absolute() {
            return Err(io::Error::other("not a relative path"));
        }
        let name_at = self.set(rel);
        if name_at == self.path.len() {
            return Err(io::Error::other("no file name"));
        }
        self.make_tmp(name_at);
        self.ensure_parent(name_at)?;
        match node {
            Node::File(text) => self.write_file(text),
            Node::Symlink(target) => self.write_symlink(target),
        }
    }
}

/// The directory part of a relative output path, as bytes (empty for the output directory).
fn parent_bytes(rel: &Path) -> &[u8] {
    let b = rel.as_os_str().as_bytes();
    b.get(..b.iter().rposition(|&c| c == b'/').unwrap_or(0))
        .unwrap_or_default()
}

/// Writes every node under `dir`; returns the paths that failed with their errors.
pub fn write_output(dir: &Path, output: &Output) -> Vec<(String, io::Error)> {
    let mut writer = Writer::new(dir);
    let mut failed = Vec::new();
    let nodes: Vec<(&Path, &Node)> = output.nodes.iter().map(|(p, n)| (Path::new(p), n)).collect();
    // Sorted by path, so the entries of one directory are consecutive. Compared as bytes:
    // `Path` equality walks components, which cost as much as all the writing's bookkeeping.
    for group in nodes.chunk_by(|a, b| parent_bytes(a.0) == parent_bytes(b.0)) {
        let staged = match group.first().and_then(|(rel, _)| rel.parent()) {
            // Directories of the output, not the output directory itself, and nothing that
            // would land outside it.
            Some(parent) if !parent.as_os_str().is_empty() && parent.is_relative() => {
                writer.write_staged(parent, group, &mut failed)
            }
            _ => false,
        };
        if staged {
            continue;
        }
        for &(rel, node) in group {
            if let Err(e) = writer.write_node(rel, node) {
                failed.push((dir.join(rel).display().to_string(), e));
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
