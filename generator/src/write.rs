//! Atomic output: a reader (systemd reloading, or a concurrent run) never sees a torn file.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::Path;

use ostree_guests::render::{Node, Output};

fn temp_name(path: &Path) -> io::Result<std::path::PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{}: no file name", path.display())))?;
    let mut tmp = std::ffi::OsString::from(".#");
    tmp.push(name);
    tmp.push(format!(".{}", std::process::id()));
    Ok(path.with_file_name(tmp))
}

fn write_node(path: &Path, node: &Node) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = temp_name(path)?;
    let _ = fs::remove_file(&tmp);
    match node {
        Node::File(text) => fs::write(&tmp, text)?,
        Node::Symlink(target) => symlink(target, &tmp)?,
    }
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Writes every node under `dir`; returns the paths that failed with their errors.
pub fn write_output(dir: &Path, output: &Output) -> Vec<(String, io::Error)> {
    let mut failed = Vec::new();
    for (rel, node) in &output.nodes {
        let path = dir.join(rel);
        if let Err(e) = write_node(&path, node) {
            failed.push((path.display().to_string(), e));
        }
    }
    failed
}

/// `---path---` blocks, as `quadlet -dryrun` prints them.
pub fn dry_run_text(output: &Output) -> String {
    let mut s = String::new();
    for (rel, node) in &output.nodes {
        s.push_str(&format!("---{}---\n", rel.display()));
        match node {
            Node::File(text) => s.push_str(text),
            Node::Symlink(target) => s.push_str(&format!("-> {}\n", target.display())),
        }
        s.push('\n');
    }
    s
}
