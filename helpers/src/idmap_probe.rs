//! Can the kernel idmap a mount of this source? Asked before exec'ing nspawn, because nspawn
//! would otherwise fail after our exec with its own status 1, which `Restart=on-failure`
//! retries forever (exit status 100 instead; docs/DESIGN.md, "Host safety model").
//!
//! The probe does what nspawn will do, on a detached copy: `open_tree(OPEN_TREE_CLONE)` and
//! `mount_setattr(MOUNT_ATTR_IDMAP)` with a throwaway user namespace, then closes it, so nothing
//! is ever attached. Neither call has a safe wrapper in nix or std, hence the one scoped
//! `unsafe` block of the helpers; the user namespace comes from a child process of our own
//! binary (`--hold-userns`), because a multi-threaded or privileged parent must not unshare one.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, Result, bail};

/// The hidden argument that makes the start helper hold a user namespace for a probe.
pub const HOLD_USERNS_ARG: &str = "--hold-userns";

// From linux/mount.h; libc has the syscall numbers but neither the flags nor the struct.
const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// The child's side: enter a new user namespace, say so, and live until stdin closes.
pub fn hold_userns() -> Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).context("unshare(CLONE_NEWUSER)")?;
    let mut out = std::io::stdout();
    out.write_all(b"ready\n").context("writing to stdout")?;
    out.flush().context("flushing stdout")?;
    // Blocks until the parent closes our stdin: the namespace lives as long as we do.
    let _ = std::io::stdin().lines().count();
    Ok(())
}

/// A user namespace with a mapping, alive while this value lives.
#[derive(Debug)]
pub struct ProbeUserns {
    child: Child,
    fd: File,
}

impl ProbeUserns {
    pub fn new() -> Result<Self> {
        let mut child = Command::new("/proc/self/exe")
            .arg(HOLD_USERNS_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting a process to hold the probe's user namespace")?;
        let ready = child
            .stdout
            .take()
            .map(|o| BufReader::new(o).lines().next())
            .and_then(|l| l.and_then(|l| l.ok()));
        if ready.as_deref() != Some("ready") {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the process holding the probe's user namespace did not start");
        }
        let pid = child.id();
        // Any mapping will do: the probe only asks whether the file system accepts one.
        for map in ["uid_map", "gid_map"] {
            fs::write(format!("/proc/{pid}/{map}"), "0 2147352576 65536\n")
                .with_context(|| format!("writing /proc/{pid}/{map}"))?;
        }
        let fd = File::open(format!("/proc/{pid}/ns/user"))
            .with_context(|| format!("opening /proc/{pid}/ns/user"))?;
        Ok(Self { child, fd })
    }
}

impl Drop for ProbeUserns {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Ok when a mount of `path` can be idmapped; otherwise the kernel's refusal.
pub fn can_idmap(path: &Path, userns: &ProbeUserns) -> std::io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: open_tree reads a NUL-terminated path and returns a new descriptor or -1.
    let tree = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c_path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | AT_RECURSIVE,
        )
    };
    if tree < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let raw = i32::try_from(tree).map_err(|e| std::io::Error::other(e.to_string()))?;
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    let tree = unsafe { OwnedFd::from_raw_fd(raw) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: u64::try_from(userns.fd.as_raw_fd()).unwrap_or_default(),
    };
    let empty = c"";
    // SAFETY: mount_setattr reads `size_of::<MountAttr>()` bytes of `attr`, which lives until
    // the call returns; the detached tree is released when `tree` is dropped.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
