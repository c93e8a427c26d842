//! `config::load_for` (what a guest's start reads) must give the starting guest exactly the
//! entry `config::load` gives it: the cross-guest checks keep working although most other
//! guests are not parsed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use std::fs;

use ostree_guests::config;

/// A config root with `files` (name, text) in /etc/ostree-guests.d and `vendor` in /usr/lib.
fn root(files: &[(&str, &str)], vendor: &[(&str, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for (dir, files) in [("etc", files), ("usr/lib", vendor)] {
        let dir = root.path().join(dir).join("ostree-guests.d");
        fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            let file = dir.join(name);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, text).unwrap();
        }
    }
    root
}

/// Every guest of the root, and a name no file has, as `load` and `load_for` see it.
fn assert_same(root: &tempfile::TempDir) {
    let all = config::load(root.path());
    let mut names: Vec<String> = all.guests.iter().map(|g| g.name.to_string()).collect();
    names.extend(["missing".to_owned(), "Bad_Name".to_owned()]);
    for name in &names {
        let one = config::load_for(root.path(), name);
        assert_eq!(
            format!("{:?}", one.guest(name)),
            format!("{:?}", all.guest(name)),
            "guest {name}"
        );
        assert_eq!(format!("{:?}", one.unnamed), format!("{:?}", all.unnamed));
        assert_eq!(format!("{:?}", one.bridges), format!("{:?}", all.bridges));
    }
}

#[test]
fn two_guests_on_one_stateroot_are_still_refused_at_start() {
    let r = root(
        &[
            ("web.toml", "stateroot = \"shared\"\n"),
            ("db.toml", "stateroot = \"shared\"\n"),
            ("other.toml", "autostart = true\n"),
        ],
        &[],
    );
    let one = config::load_for(r.path(), "web");
    let err = one.guest("web").unwrap().settings.as_ref().unwrap_err();
    assert!(err.message.contains("also used by"), "{err}");
    // The unrelated guest is not parsed for a start of web.
    assert!(one.guest("other").is_none());
    assert_same(&r);
}

#[test]
fn every_way_of_claiming_a_stateroot_is_seen() {
    let r = root(
        &[
            ("web.toml", "stateroot = \"db\"\n"),
            // claims "db" by its name
            ("db.toml", "autostart = true\n"),
            // a quoted key, and one with an escape
            ("a.toml", "\"stateroot\" = \"x\"\n"),
            ("b.toml", "\"st\\u0061teroot\" = \"x\"\n"),
            // in a drop-in
            ("c.toml", "autostart = false\n"),
            ("c.toml.d/10-root.toml", "stateroot = \"y\"\n"),
            ("d.toml", "stateroot = \"y\"\n"),
            // invalid guests claim nothing
            ("e.toml", "stateroot = \"z\"\nbogus = 1\n"),
            ("f.toml", "stateroot = \"z\"\n"),
            ("Bad_Name.toml", "stateroot = \"z\"\n"),
        ],
        // a vendor file loses to the administrator's
        &[
            ("g.toml", "stateroot = \"x\"\n"),
            ("h.toml", "stateroot = \"f\"\n"),
        ],
    );
    assert_same(&r);
}

#[test]
fn an_invalid_or_missing_guest_reads_the_same() {
    let r = root(&[("web.toml", "bogus = 1\n"), ("db.toml", "")], &[]);
    assert_same(&r);
}
