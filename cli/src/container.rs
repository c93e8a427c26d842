//! Guests from container images: thin wrappers around `ostree container` (the ostree extension
//! command that rpm-ostree provides on Fedora), which pulls an image into the sysroot's
//! repository as an OSTree commit. Image references are parsed by `ostree_guests::image_ref`.
//!
//! The pulled commit is found from the ref the store moves (`ostree/container/image/…`, see
//! `ImageRef::store_ref`) and its manifest digest from the commit's `ostree.manifest-digest`
//! metadata, never from the pull's human-readable output.

use std::ffi::OsString;
use std::os::fd::AsFd as _;
use std::path::Path;
use std::process::{Command, Stdio};

use ostree_guests::image_ref::{self, ImageRef, MANIFEST_DIGEST_KEY};

use crate::exit::{
    Failure, IMAGE_PULL_FAILED, IMAGE_SIGNATURE_REFUSED, IO_FAILED, NO_OSTREE_CONTAINER,
    OSTREE_FAILED, Result, USAGE,
};
use crate::ostree::{Ostree, show};
use crate::progress;

/// Where `ostree` (libostree ≥ 2022.1, Debian's and Fedora's builds) looks for the
/// `container` extension command; on Fedora Atomic hosts a link to rpm-ostree.
pub const EXTENSION: &str = "/usr/libexec/libostree/ext/ostree-container";

/// Parses `--image` (with `--signed`) into the normalised reference, or a usage error.
pub fn parse(input: &str, signed: bool) -> Result<ImageRef> {
    ImageRef::parse(input, signed).map_err(|e| Failure::new(USAGE, e))
}

/// Fails with NO_OSTREE_CONTAINER, naming the package, unless `ostree container` can run.
pub fn require() -> Result<()> {
    require_at(Path::new(EXTENSION))
}

fn require_at(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    Err(Failure::new(
        NO_OSTREE_CONTAINER,
        format!(
            "`ostree container` is not available here ({} is missing), and guests from container images need it to pull the image; on Fedora the rpm-ostree package provides it (Fedora Atomic hosts have it); elsewhere install a build of ostree-ext's CLI there",
            path.display()
        ),
    ))
}

/// The exit status for a failed pull: the containers/image library words a policy refusal
/// "Source image rejected" (and a missing or bad signature mentions "signature"), and
/// ostree-ext refuses `ostree-image-signed:` while the policy's default accepts anything
/// ("containers-policy.json specifies a default of `insecureAcceptAnything`"); everything else
/// is an unreachable or invalid image. The messages themselves are always shown.
fn pull_status(stderr: &str) -> i32 {
    let lower = stderr.to_ascii_lowercase();
    let refused = [
        "source image rejected",
        "signature",
        "containers-policy.json",
    ];
    if refused.iter().any(|r| lower.contains(r)) {
        IMAGE_SIGNATURE_REFUSED
    } else {
        IMAGE_PULL_FAILED
    }
}

/// Runs `ostree ARGS` captured, or `live` on the terminal: its progress bars draw on stderr
/// (which it then keeps) and its stdout (the layer summary) goes to our stderr, so our stdout
/// stays the command's result.
fn run(args: &[OsString], live: bool) -> Result<std::process::Output> {
    let shown = show(args);
    progress::step(&format!("running {shown}"));
    let fail =
        |e: std::io::Error| Failure::new(OSTREE_FAILED, format!("cannot run `{shown}`: {e}"));
    let mut cmd = Command::new("ostree");
    cmd.args(args).stdin(Stdio::null());
    if live {
        let stderr = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(fail)?;
        cmd.stdout(Stdio::from(stderr)).stderr(Stdio::inherit());
    } else {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    // Reads whatever is piped until the command exits.
    cmd.spawn()
        .and_then(std::process::Child::wait_with_output)
        .map_err(fail)
}

fn failure(code: i32, args: &[OsString], out: &std::process::Output, hint: &str) -> Failure {
    let mut msg = format!("`{}` failed ({}):", show(args), out.status);
    for text in [
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
    ] {
        let text = text.trim_end();
        if !text.is_empty() {
            msg.push('\n');
            msg.push_str(text);
        }
    }
    if out.stderr.is_empty() && out.stdout.is_empty() {
        msg.push_str(" its messages are above");
    }
    msg.push('\n');
    msg.push_str(hint);
    Failure::new(code, msg)
}

fn repo_arg(ostree: &Ostree) -> OsString {
    let mut a = OsString::from("--repo=");
    a.push(ostree.repo());
    a
}

/// `ostree container image pull REPO IMGREF`: fetches the image (only what changed) and moves
/// its ref to the merged commit. Progress is shown on a terminal.
pub fn pull(ostree: &Ostree, image: &ImageRef) -> Result<()> {
    require()?;
    let live = progress::live();
    let mut args: Vec<OsString> = vec!["container".into(), "image".into(), "pull".into()];
    if !live {
        args.push("--quiet".into());
    }
    args.push(ostree.repo().into());
    args.push(image.to_string().into());
    let out = run(&args, live)?;
    if out.status.success() {
        return Ok(());
    }
    // On a terminal the messages went there; what refused the image is then asked again
    // with the manifest-only check, whose messages are captured.
    let stderr = if live {
        match manifest_changed(ostree, image) {
            Err(f) => f.message,
            Ok(_) => String::new(),
        }
    } else {
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let code = pull_status(&stderr);
    let hint = if code == IMAGE_SIGNATURE_REFUSED {
        format!(
            "the image {image} was refused by the signature check: ostree-image-signed: needs a /etc/containers/policy.json that requires signatures for it (a default of insecureAcceptAnything is refused), ostree-remote-image:REMOTE: the remote's keys; nothing was deployed"
        )
    } else {
        format!(
            "the image {image} could not be pulled (check the name, the tag, the network and `skopeo inspect {}`); nothing was deployed",
            image.image()
        )
    };
    Err(failure(code, &args, &out, &hint))
}

/// `ostree container image pull --check`: whether the image's manifest differs from the one
/// stored under its ref (fetches the manifest only). An image never pulled counts as changed.
pub fn manifest_changed(ostree: &Ostree, image: &ImageRef) -> Result<bool> {
    require()?;
    let dir = tempfile::tempdir()
        .map_err(|e| Failure::io("creating", Path::new("a scratch directory"), e))?;
    let file = dir.path().join("manifest.json");
    let mut check = OsString::from("--check=");
    check.push(&file);
    let args: Vec<OsString> = vec![
        "container".into(),
        "image".into(),
        "pull".into(),
        "--quiet".into(),
        check,
        ostree.repo().into(),
        image.to_string().into(),
    ];
    let out = run(&args, false)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(failure(
            pull_status(&stderr),
            &args,
            &out,
            &format!("could not fetch the manifest of {image}"),
        ));
    }
    Ok(file.exists())
}

/// `ostree container image remove --repo=REPO IMAGE`: drops the image's ref and its unused
/// layer refs (the objects go with the next prune), as `rpm-ostree cleanup` and bootc do for
/// images no deployment's origin names.
pub fn remove(ostree: &Ostree, image: &ImageRef) -> Result<()> {
    require()?;
    let args: Vec<OsString> = vec![
        "container".into(),
        "image".into(),
        "remove".into(),
        repo_arg(ostree),
        image.image().into(),
    ];
    let out = run(&args, false)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failure(
            OSTREE_FAILED,
            &args,
            &out,
            "the image's refs are left",
        ))
    }
}

/// The commit the image's ref points to, if the image is stored.
pub fn stored_commit(ostree: &Ostree, image: &ImageRef) -> Option<String> {
    ostree.rev_parse(&image.store_ref()).ok()
}

/// The commit the image's ref points to after a pull.
pub fn commit_of(ostree: &Ostree, image: &ImageRef) -> Result<String> {
    stored_commit(ostree, image).ok_or_else(|| {
        Failure::new(
            OSTREE_FAILED,
            format!(
                "the pull of {image} reported success, but its ref {} is not in {}",
                image.store_ref(),
                ostree.repo().display()
            ),
        )
    })
}

/// The manifest digest (`sha256:…`) the commit records, if it is an image's commit.
pub fn digest_of(ostree: &Ostree, commit: &str) -> Option<String> {
    ostree.metadata_string(commit, MANIFEST_DIGEST_KEY)
}

/// A temporary origin file for `ostree admin deploy --origin-file=`.
pub fn origin_file(image: &ImageRef) -> Result<tempfile::NamedTempFile> {
    use std::io::Write as _;
    let mut f = tempfile::NamedTempFile::new()
        .map_err(|e| Failure::io("creating", Path::new("a temporary origin file"), e))?;
    f.write_all(image_ref::origin_text(image).as_bytes())
        .map_err(|e| Failure::new(IO_FAILED, format!("writing {}: {e}", f.path().display())))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_extension_names_the_package() {
        let e = require_at(Path::new("/nonexistent/ostree-container")).unwrap_err();
        assert_eq!(e.code, NO_OSTREE_CONTAINER);
        assert!(e.message.contains("rpm-ostree"), "{}", e.message);
        assert!(
            e.message.contains("/nonexistent/ostree-container"),
            "{}",
            e.message
        );
    }

    #[test]
    fn pull_failures_are_classified() {
        assert_eq!(
            pull_status(
                "error: Source image rejected: Running image docker://x is rejected by policy."
            ),
            IMAGE_SIGNATURE_REFUSED
        );
        assert_eq!(
            pull_status("A signature was required, but no signature exists"),
            IMAGE_SIGNATURE_REFUSED
        );
        assert_eq!(
            pull_status(
                "containers-policy.json specifies a default of `insecureAcceptAnything`; refusing usage"
            ),
            IMAGE_SIGNATURE_REFUSED
        );
        assert_eq!(
            pull_status("error: opening image: no such file or directory"),
            IMAGE_PULL_FAILED
        );
    }

    #[test]
    fn origin_files_carry_the_reference() {
        let image = parse("quay.io/x:1", false).unwrap();
        let f = origin_file(&image).unwrap();
        let text = std::fs::read_to_string(f.path()).unwrap();
        assert_eq!(
            image_ref::from_origin(&text).as_deref(),
            Some("ostree-unverified-registry:quay.io/x:1")
        );
        assert_eq!(parse("", false).unwrap_err().code, USAGE);
    }
}
