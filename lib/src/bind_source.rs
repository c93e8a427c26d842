//! The one rule for which host paths a `[[bind]]` source may not be (docs/DESIGN.md, "Host
//! safety model"). It is applied twice: to the configuration's string when it is loaded
//! (`config::checks`, with the places as the booted host names them), and at every start to
//! the real path of the opened source (`helpers/src/binds.rs`, with the real sysroot and boot
//! directory). Each caller words the refusal for its reader; what is refused is decided here.

use std::path::Path;
use std::sync::LazyLock;

/// The host's places a source must not expose, as paths of the namespace doing the check.
#[derive(Debug, Clone, Copy)]
pub struct HostPlaces<'a> {
    /// Directories holding the physical root (every stateroot, the host's /var, the OSTree
    /// repository): at load time `/sysroot` and `/ostree`, at start the real sysroot.
    pub physical_roots: &'a [&'a Path],
    /// The boot directory (kernels and boot entries).
    pub boot: &'a Path,
}

/// The physical root's paths on the booted host (`Path::new` is not a `const fn` yet).
static BOOTED_ROOTS: LazyLock<[&'static Path; 2]> =
    LazyLock::new(|| [Path::new("/sysroot"), Path::new("/ostree")]);

/// At load time: the places as the booted host names them.
pub fn booted_host() -> HostPlaces<'static> {
    HostPlaces {
        physical_roots: &*BOOTED_ROOTS,
        boot: Path::new("/boot"),
    }
}

/// Why a host source may not be bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal<'a> {
    /// It is the host's root directory.
    HostRoot,
    /// It is in /proc, whose links reach every process's root directory.
    Proc,
    /// It is in, or holds, this physical root.
    PhysicalRoot(&'a Path),
    /// It is in, or holds, this boot directory, bound writable without `boot-writable`.
    BootWritable(&'a Path),
}

/// `a` is `b` or lies below it (whole components: `/sysroot2` is not below `/sysroot`).
fn within(a: &Path, b: &Path) -> bool {
    a.starts_with(b)
}

/// Why the host path `source` (absolute, without `.` or `..`; repeated slashes do not matter)
/// may not be bound, or None. A source that holds a place exposes it as much as one inside it.
pub fn host_source_refusal<'a>(
    source: &Path,
    read_only: bool,
    boot_writable: bool,
    places: &HostPlaces<'a>,
) -> Option<Refusal<'a>> {
    if source == Path::new("/") {
        return Some(Refusal::HostRoot);
    }
    if within(source, Path::new("/proc")) {
        return Some(Refusal::Proc);
    }
    if let Some(root) = places
        .physical_roots
        .iter()
        .find(|r| within(source, r) || within(r, source))
    {
        return Some(Refusal::PhysicalRoot(root));
    }
    let boot = places.boot;
    if (within(source, boot) || within(boot, source)) && !read_only && !boot_writable {
        return Some(Refusal::BootWritable(boot));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(p: &str, read_only: bool, boot_writable: bool) -> Option<Refusal<'static>> {
        host_source_refusal(Path::new(p), read_only, boot_writable, &booted_host())
    }

    #[test]
    fn sources_that_expose_the_host() {
        assert_eq!(refusal("/", true, true), Some(Refusal::HostRoot));
        assert_eq!(refusal("//", true, true), Some(Refusal::HostRoot));
        for p in ["/proc", "/proc/1/root", "/proc/self/fd/3/"] {
            assert_eq!(refusal(p, true, true), Some(Refusal::Proc), "{p}");
        }
        for (p, root) in [
            ("/sysroot", "/sysroot"),
            ("/sysroot/ostree/repo", "/sysroot"),
            ("/ostree//repo", "/ostree"),
        ] {
            assert_eq!(
                refusal(p, true, true),
                Some(Refusal::PhysicalRoot(Path::new(root))),
                "{p}"
            );
        }
        for p in ["/boot", "/boot/efi", "/boot/"] {
            assert_eq!(
                refusal(p, false, false),
                Some(Refusal::BootWritable(Path::new("/boot"))),
                "{p}"
            );
            assert_eq!(refusal(p, true, false), None, "{p} read-only");
            assert_eq!(refusal(p, false, true), None, "{p} boot-writable");
        }
        for p in [
            "/srv/web",
            "/var/lib/data",
            "/sysroot2",
            "/procfs",
            "/bootx",
        ] {
            assert_eq!(refusal(p, false, false), None, "{p}");
        }
    }

    /// At start the places are real paths: a directory above the sysroot (a test sysroot
    /// under /dev/shm) hands it over as much as one inside it, and so for the boot directory.
    #[test]
    fn a_source_holding_a_place_exposes_it() {
        let sysroot = Path::new("/dev/shm/t/sysroot");
        let boot = Path::new("/dev/shm/t/sysroot/boot");
        let places = HostPlaces {
            physical_roots: &[sysroot],
            boot,
        };
        let check = |p: &str, ro: bool| host_source_refusal(Path::new(p), ro, false, &places);
        assert_eq!(
            check("/dev/shm/t", true),
            Some(Refusal::PhysicalRoot(sysroot))
        );
        assert_eq!(check("/dev/shm/t/share", false), None);
        let boot_only = HostPlaces {
            physical_roots: &[Path::new("/sysroot")],
            boot: Path::new("/mnt/boot/efi"),
        };
        assert_eq!(
            host_source_refusal(Path::new("/mnt/boot"), false, false, &boot_only),
            Some(Refusal::BootWritable(Path::new("/mnt/boot/efi")))
        );
        assert_eq!(
            host_source_refusal(Path::new("/mnt/boot"), true, false, &boot_only),
            None
        );
    }
}
