//! Hostile and broken configuration trees, built at run time (git cannot carry modes, owners,
//! FIFOs or device links): the generator refuses what it must, keeps the other guests, never
//! blocks and never dies by a signal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CONF: &str = "etc/ostree-guests.d";

fn write(root: &Path, rel: &str, text: &str, mode: u32) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
}

fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for d in ["etc", CONF] {
        fs::create_dir_all(t.path().join(d)).unwrap();
        fs::set_permissions(t.path().join(d), fs::Permissions::from_mode(0o755)).unwrap();
    }
    t
}

/// Runs `--dry-run` with a hang guard: a generator that blocks at boot freezes PID 1 on
/// systemd ≥ 253, so not finishing within a minute is a failure, not slowness.
fn dry_run(root: &Path) -> (i32, String, String) {
    // Files, not pipes: polling a child that fills a pipe nobody reads would deadlock.
    let logs = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (logs.path().join("out"), logs.path().join("err"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_ostree-guests-generator"))
        .arg("--dry-run")
        .env("OSTREE_GUESTS_ROOT", root)
        .env_remove("SYSTEMD_EXEC_PID")
        .env_remove("SYSTEMD_IN_INITRD")
        .stdout(Stdio::from(fs::File::create(&out_path).unwrap()))
        .stderr(Stdio::from(fs::File::create(&err_path).unwrap()))
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("generator did not finish within 60 s on {}", root.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = child.wait().unwrap();
    let code = status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {status:?}"));
    let read = |p: &Path| String::from_utf8_lossy(&fs::read(p).unwrap()).into_owned();
    (code, read(&out_path), read(&err_path))
}

#[test]
fn writable_by_others_is_refused_and_says_how_to_fix_it() {
    let t = tree();
    write(
        t.path(),
        &format!("{CONF}/open.toml"),
        "autostart = true\n",
        0o666,
    );
    write(
        t.path(),
        &format!("{CONF}/group.toml"),
        "autostart = true\n",
        0o664,
    );
    write(
        t.path(),
        &format!("{CONF}/good.toml"),
        "autostart = true\n",
        0o644,
    );
    let (code, out, err) = dry_run(t.path());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("/etc/ostree-guests.d/open.toml: writable by group or others (mode 0666)"),
        "{err}"
    );
    assert!(
        err.contains("fix: chmod go-w /etc/ostree-guests.d/group.toml"),
        "{err}"
    );
    assert!(
        out.contains("ostree-guest-start --config-error -- open"),
        "{out}"
    );
    assert!(out.contains("ostree-guest-start -- good\n"), "{out}");
}

#[test]
fn an_insecure_directory_taints_everything_in_it() {
    let t = tree();
    write(
        t.path(),
        &format!("{CONF}/web.toml"),
        "autostart = true\n",
        0o644,
    );
    write(
        t.path(),
        &format!("{CONF}/web.toml.d/10-x.toml"),
        "autostart = false\n",
        0o644,
    );
    fs::set_permissions(
        t.path().join(CONF).join("web.toml.d"),
        fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let (code, _, err) = dry_run(t.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("its directory /etc/ostree-guests.d/web.toml.d is writable by group or others (mode 0777)"), "{err}");

    let t = tree();
    write(
        t.path(),
        &format!("{CONF}/web.toml"),
        "autostart = true\n",
        0o644,
    );
    fs::set_permissions(t.path().join(CONF), fs::Permissions::from_mode(0o775)).unwrap();
    let (code, _, err) = dry_run(t.path());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("its directory /etc/ostree-guests.d is writable"),
        "{err}"
    );
}

#[test]
fn files_owned_by_another_user_are_refused() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP files_owned_by_another_user_are_refused: needs root to chown");
        return;
    }
    let t = tree();
    write(
        t.path(),
        &format!("{CONF}/web.toml"),
        "autostart = true\n",
        0o644,
    );
    nix::unistd::chown(
        &t.path().join(CONF).join("web.toml"),
        Some(nix::unistd::Uid::from_raw(4242)),
        None,
    )
    .unwrap();
    let (code, _, err) = dry_run(t.path());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("owned by uid 4242, not root")
            && err.contains("chown root: /etc/ostree-guests.d/web.toml"),
        "{err}"
    );
}

#[test]
fn fifos_devices_and_symlink_loops_never_block_or_crash() {
    let t = tree();
    let conf = t.path().join(CONF);
    nix::unistd::mkfifo(
        &conf.join("fifo.toml"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    symlink("/dev/zero", conf.join("zero.toml")).unwrap();
    symlink("loop.toml", conf.join("loop.toml")).unwrap();
    symlink("/nonexistent/x.toml", conf.join("dangling.toml")).unwrap();
    fs::create_dir(conf.join("dir.toml")).unwrap();
    write(
        t.path(),
        &format!("{CONF}/good.toml"),
        "autostart = true\n",
        0o644,
    );
    let (code, out, err) = dry_run(t.path());
    // Each unreadable entry fails closed for its own guest; the valid guest is unaffected.
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("ostree-guest-start -- good\n"), "{out}");
    for (name, why) in [
        ("fifo", "a FIFO, not a regular file"),
        ("zero", "a character device, not a regular file"),
        ("dir", "a directory, not a regular file"),
        ("loop", "symbolic link that cannot be followed"),
        ("dangling", "symbolic link that cannot be followed"),
    ] {
        assert!(
            err.contains(&format!("/etc/ostree-guests.d/{name}.toml: ")) && err.contains(why),
            "{name}: {err}"
        );
        assert!(
            out.contains(&format!("ostree-guest-start --config-error -- {name}\n")),
            "{name}: {out}"
        );
    }
}

/// systemd masks with any link that resolves to /dev/null; an admin entry that cannot be read
/// must not hand the guest to the vendor file below it.
#[test]
fn masks_resolve_like_systemd_and_unreadable_admin_entries_fail_closed() {
    let t = tree();
    let conf = t.path().join(CONF);
    for name in ["rel", "slashes", "dangling", "dir", "looped", "dropin"] {
        write(
            t.path(),
            &format!("usr/lib/ostree-guests.d/{name}.toml"),
            "description = \"vendor\"\n",
            0o644,
        );
    }
    symlink("../../dev/null", conf.join("rel.toml")).unwrap();
    symlink("/dev//null", conf.join("slashes.toml")).unwrap();
    symlink("/nonexistent.toml", conf.join("dangling.toml")).unwrap();
    fs::create_dir(conf.join("dir.toml")).unwrap();
    symlink("looped.toml", conf.join("looped.toml")).unwrap();
    write(
        t.path(),
        "usr/lib/ostree-guests.d/dropin.toml.d/10-a.toml",
        "autostart = false\n",
        0o644,
    );
    fs::create_dir_all(conf.join("dropin.toml.d")).unwrap();
    symlink("/gone.toml", conf.join("dropin.toml.d/10-a.toml")).unwrap();
    let (code, out, err) = dry_run(t.path());
    assert_eq!(code, 1, "{err}");
    for masked in ["rel", "slashes"] {
        assert!(
            !out.contains(&format!("@{masked}.service")),
            "{masked}: {out}"
        );
    }
    for refused in ["dangling", "dir", "looped", "dropin"] {
        assert!(
            out.contains(&format!("ostree-guest-start --config-error -- {refused}\n")),
            "{refused}: {out}"
        );
    }
    assert!(
        err.contains(
            "/etc/ostree-guests.d/dangling.toml: is a symbolic link that cannot be followed"
        ) && err.contains(
            "refused rather than letting a lower-priority file of the same name take its place"
        ),
        "{err}"
    );
    assert!(
        err.contains("/etc/ostree-guests.d/dropin.toml.d/10-a.toml: "),
        "{err}"
    );
}

/// sshd's StrictModes walk: a root-owned file is only as safe as the directories leading to it.
#[test]
fn a_link_into_a_directory_others_can_write_is_refused_a_sticky_one_is_not() {
    let t = tree();
    let conf = t.path().join(CONF);
    for (dir, mode) in [("open", 0o777), ("sticky", 0o1777)] {
        write(
            t.path(),
            &format!("{dir}/real.toml"),
            "autostart = true\n",
            0o644,
        );
        fs::set_permissions(t.path().join(dir), fs::Permissions::from_mode(mode)).unwrap();
        symlink(
            t.path().join(dir).join("real.toml"),
            conf.join(format!("{dir}.toml")),
        )
        .unwrap();
    }
    let (code, out, err) = dry_run(t.path());
    assert_eq!(code, 1, "{err}");
    assert!(
        out.contains("ostree-guest-start --config-error -- open\n"),
        "{out}"
    );
    let open_dir = t.path().join("open").canonicalize().unwrap();
    assert!(
        err.contains(&format!(
            "/etc/ostree-guests.d/open.toml: its path goes through the directory {}, which is writable by group or others",
            open_dir.display()
        )),
        "{err}"
    );
    assert!(out.contains("ostree-guest-start -- sticky\n"), "{out}");
}

#[test]
fn ten_megabytes_of_junk_finish_and_keep_the_valid_guest() {
    let t = tree();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for i in 0..1000 {
        let bytes: Vec<u8> = (0..10_240)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed & 0xff) as u8
            })
            .collect();
        let name = if i % 2 == 0 {
            format!("junk{i}.toml")
        } else {
            format!("junk{i}.conf")
        };
        let p = t.path().join(CONF).join(name);
        fs::write(&p, &bytes).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    }
    write(
        t.path(),
        &format!("{CONF}/zgood.toml"),
        "autostart = true\n",
        0o644,
    );
    let (code, out, err) = dry_run(t.path());
    assert_eq!(code, 1, "{}", err.lines().next().unwrap_or_default());
    assert!(out.contains("ostree-guest-start -- zgood\n"), "{out}");
    // every junk .toml becomes a fail-closed guest; the .conf files are not configuration
    assert_eq!(
        out.matches("ostree-guest-start --config-error -- junk")
            .count(),
        500
    );
}

#[test]
fn binds_that_would_expose_the_physical_root_are_refused() {
    let t = tree();
    for (name, src) in [
        ("a", "/sysroot"),
        ("b", "/ostree/deploy/other/var"),
        ("c", "/sysroot/ostree/repo/"),
        ("d", "/"),
    ] {
        write(
            t.path(),
            &format!("{CONF}/{name}.toml"),
            &format!("[[bind]]\nsource = \"{src}\"\ntarget = \"/mnt/x\"\n"),
            0o644,
        );
    }
    write(
        t.path(),
        &format!("{CONF}/ok.toml"),
        "[[bind]]\nsource = \"/srv/ostree\"\n",
        0o644,
    );
    let (code, out, err) = dry_run(t.path());
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.matches("would expose the host's physical root").count(),
        4,
        "{err}"
    );
    assert!(
        err.contains("/etc/ostree-guests.d/b.toml:2: bind[0].source"),
        "{err}"
    );
    assert!(out.contains("ostree-guest-start -- ok\n"), "{out}");
}
