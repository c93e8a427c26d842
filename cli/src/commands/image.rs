//! What `create`, `upgrade`, `remove`, `list` and `status` do for guests deployed from a
//! container image (docs/DESIGN.md, "Guests from container images"). The image's deployment is
//! an ordinary deployment of the pulled commit whose origin names the image, so rollback, pin
//! and the pruning of old deployments need nothing of their own.

use ostree_guests::deployment::Deployment;
use ostree_guests::image_ref::ImageRef;

use crate::container;
use crate::exit::Result;
use crate::progress;
use crate::sysroot::{Host, Id};

use super::{Target, short};

/// A pull that may have to be undone: the image's ref did not exist before it.
pub(crate) struct Pulled {
    image: ImageRef,
    new: bool,
}

impl Pulled {
    /// Drops the image's ref again if this run created it (a failed `create` leaves nothing).
    pub(crate) fn undo(&self, host: &Host) {
        if !self.new {
            return;
        }
        progress::step(&format!("removing the image {} again", self.image));
        if let Err(e) = container::remove(&host.ostree, &self.image) {
            progress::warn(&format!(
                "could not remove the pulled image {}: {}",
                self.image, e.message
            ));
        }
    }
}

/// Pulls `image` into the sysroot's repository; the target is the commit its ref points to.
pub(crate) fn pull(host: &Host, image: &ImageRef) -> Result<(Target, Pulled)> {
    let new = container::stored_commit(&host.ostree, image).is_none();
    progress::step(&format!("pulling {image}"));
    container::pull(&host.ostree, image)?;
    let pulled = Pulled {
        image: image.clone(),
        new,
    };
    let commit = match container::commit_of(&host.ostree, image) {
        Ok(c) => c,
        Err(e) => {
            pulled.undo(host);
            return Err(e);
        }
    };
    if let Some(d) = container::digest_of(&host.ostree, &commit) {
        progress::step(&format!("{image} is {d}, commit {}", short(&commit)));
    }
    Ok((
        Target {
            refspec: commit.clone(),
            commit,
            image: Some(image.clone()),
        },
        pulled,
    ))
}

/// The guarded deploy of `target`; for an image its origin names the image (a ref's origin is
/// the one ostree writes for it).
pub(crate) fn deploy(host: &Host, stateroot: &str, target: &Target, retain: bool) -> Result<Id> {
    let origin = target
        .image
        .as_ref()
        .map(container::origin_file)
        .transpose()?;
    host.deploy(
        stateroot,
        &target.refspec,
        &target.commit,
        retain,
        origin.as_ref().map(tempfile::NamedTempFile::path),
    )
}

/// The image a deployment was deployed from (a malformed reference in an origin file that is
/// not ours is ignored: the deployment is then treated as one of a ref or commit).
pub(crate) fn of_deployment(host: &Host, d: &Deployment) -> Option<ImageRef> {
    let text = host.origin_image(&Id::of(d))?;
    ImageRef::parse(&text, false).ok()
}

/// What `status` and `list` show: the reference and the digest of the deployed commit.
pub(crate) fn describe(host: &Host, d: &Deployment) -> Option<(String, Option<String>)> {
    let image = of_deployment(host, d)?;
    Some((
        image.to_string(),
        container::digest_of(&host.ostree, &d.checksum),
    ))
}

/// After `remove` undeployed a stateroot: drops the refs of its images that no remaining
/// deployment (of any stateroot, the host's too) was deployed from. Failures are warnings: the
/// guest is gone already, and a stale image ref only costs disk until `rpm-ostree cleanup`.
pub(crate) fn prune_unused(host: &Host, images: &[ImageRef]) {
    if images.is_empty() {
        return;
    }
    let remaining: Vec<String> = match host.list() {
        Ok(deps) => {
            let mut names = Vec::new();
            for d in &deps {
                let Some(text) = host.origin_image(&Id::of(d)) else {
                    continue;
                };
                match ImageRef::parse(&text, false) {
                    Ok(i) => names.push(i.image()),
                    // The host's own origin (rpm-ostree, bootc) may use a form we do not
                    // know: then nobody can tell which image it needs, so none is dropped.
                    Err(e) => {
                        progress::warn(&format!(
                            "not removing the guest's image refs: deployment {} names an image this tool cannot compare ({e})",
                            d.label()
                        ));
                        return;
                    }
                }
            }
            names
        }
        Err(e) => {
            progress::warn(&format!(
                "not removing the guest's image refs: listing the deployments failed: {}",
                e.message
            ));
            return;
        }
    };
    let mut done: Vec<String> = Vec::new();
    for image in images {
        let key = image.image();
        if remaining.contains(&key) || done.contains(&key) {
            continue;
        }
        done.push(key);
        if container::stored_commit(&host.ostree, image).is_none() {
            continue;
        }
        progress::step(&format!(
            "removing the image {image}, which no deployment uses"
        ));
        if let Err(e) = container::remove(&host.ostree, image) {
            progress::warn(&e.message);
        }
    }
}
