//! Booted detection through the marker's `backing-root-device-inode`, over the sysroot of
//! [`three`]: the marker bytes are GLib's (see marker_tests.rs) with the `(tt)` of a real directory.

use std::os::unix::fs::MetadataExt;

use super::super::marker::DevIno;
use super::super::marker::tests::marker_for;
use super::*;

fn dev_ino(p: &Path) -> DevIno {
    let m = fs::metadata(p).unwrap();
    DevIno {
        dev: m.dev(),
        ino: m.ino(),
    }
}

/// A root that is no deployment by inode (a composefs overlay), with a marker and a command line.
fn overlay_root(fx: &Fx, marker: &[u8], cmdline_stateroot: &str) -> Layout {
    let root = fx._dir.path().join("overlay-root");
    fs::create_dir_all(root.join("run")).unwrap();
    fs::create_dir_all(root.join("proc")).unwrap();
    fs::write(root.join("run/ostree-booted"), marker).unwrap();
    let cmdline = format!(
        "rw ostree=/ostree/boot.1/{cmdline_stateroot}/{}/0\n",
        "b".repeat(64)
    );
    fs::write(root.join("proc/cmdline"), cmdline).unwrap();
    Layout {
        root,
        ..fx.layout.clone()
    }
}

#[test]
fn the_backing_directory_names_the_booted_deployment() {
    let fx = three();
    let deps = list_deployments(&fx.layout).unwrap();
    let dir = |i: usize| dev_ino(&fx.sysroot().join(deps[i].relative_dir()));

    // Soft-rebooted from host into web: the command line still names host, the marker web.
    let layout = overlay_root(&fx, &marker_for(dir(1)), "host");
    assert_eq!(booted_deployment(&layout, &deps), Some(&deps[1]));
    assert_eq!(booted_stateroot(&layout, &deps).as_deref(), Some("web"));
    // A guest start lists its own stateroot only: the others are searched on disk.
    let host_only: Vec<Deployment> = deps.iter().take(1).cloned().collect();
    assert_eq!(
        booted_stateroot(&layout, &host_only).as_deref(),
        Some("web")
    );
    assert_eq!(booted_stateroot(&layout, &[]).as_deref(), Some("web"));
    assert_eq!(
        resolve(&layout, "host", &Pin::Auto).unwrap().deployment,
        deps[0]
    );
    let e = resolve(&layout, "web", &Pin::Auto).unwrap_err();
    assert!(
        matches!(&e, ResolveError::HostStateroot { stateroot } if stateroot == "web"),
        "{e}"
    );

    // Web's rollback deployment, though the command line names its first one's stateroot too.
    let layout = overlay_root(&fx, &marker_for(dir(2)), "web");
    assert_eq!(booted_deployment(&layout, &deps), Some(&deps[2]));

    // The marker wins over the root's own inode, as in libostree.
    let host_root = fx.sysroot().join(deps[0].relative_dir());
    fs::create_dir_all(host_root.join("run")).unwrap();
    fs::write(host_root.join("run/ostree-booted"), marker_for(dir(1))).unwrap();
    let on_host = Layout {
        root: host_root.clone(),
        ..fx.layout.clone()
    };
    assert_eq!(booted_deployment(&on_host, &deps), Some(&deps[1]));
    // An empty marker (ostree 2022, T3a): the root's inode, as before.
    fs::write(host_root.join("run/ostree-booted"), "").unwrap();
    assert_eq!(booted_deployment(&on_host, &deps), Some(&deps[0]));
    assert_eq!(booted_stateroot(&on_host, &deps).as_deref(), Some("host"));
}

#[test]
fn a_backing_directory_that_is_no_deployment_falls_back() {
    let fx = three();
    let deps = list_deployments(&fx.layout).unwrap();
    let other = dev_ino(fx._dir.path());
    // libostree finds nothing booted; a guest start errs towards the command line's stateroot.
    let layout = overlay_root(&fx, &marker_for(other), "web");
    assert_eq!(booted_deployment(&layout, &deps), None);
    assert_eq!(booted_stateroot(&layout, &deps).as_deref(), Some("web"));
    let elsewhere = DevIno {
        dev: other.dev ^ 0xffff,
        ino: other.ino,
    };
    let layout = overlay_root(&fx, &marker_for(elsewhere), "host");
    assert_eq!(booted_stateroot(&layout, &[]).as_deref(), Some("host"));
    // A marker that is not GVariant: still booted, found by the command line.
    let layout = overlay_root(&fx, b"\x01\x02garbage", "web");
    assert_eq!(booted_stateroot(&layout, &deps).as_deref(), Some("web"));
    assert_eq!(booted_deployment(&layout, &deps), None);
}
