//! Container image references as `ostree container` takes them, for guests deployed from OCI
//! images (docs/DESIGN.md, "Guests from container images").
//!
//! The forms are ostree-ext's `OstreeImageReference` (`SIGVERIFY:TRANSPORT:NAME`), which
//! rpm-ostree and bootc share. This module only normalises and checks them; `ostree container`
//! parses them again and is the authority. A bare `quay.io/name:tag` means an unverified
//! registry image, as `bootc switch` takes it.

use std::fmt;

/// How the pull checks the image's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigVerify {
    /// `ostree-unverified-image:` / `ostree-unverified-registry:`: no check of our own (the
    /// host's `/etc/containers/policy.json` still applies).
    Unverified,
    /// `ostree-image-signed:`: the host's container signature policy must accept it.
    Signed,
    /// `ostree-remote-image:REMOTE:`: signed with the keys of the ostree remote REMOTE.
    Remote(String),
}

/// A normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub sigverify: SigVerify,
    /// `registry`, `oci`, `oci-archive`, `docker-archive`, `containers-storage` or `dir`.
    pub transport: &'static str,
    /// Everything after the transport (`quay.io/x:y`, `/srv/oci:tag`).
    pub name: String,
}

/// The transports `ostree container` accepts (ostree-ext `Transport`); `docker://` is read as
/// `registry:`.
const TRANSPORTS: &[&str] = &[
    "registry",
    "oci",
    "oci-archive",
    "docker-archive",
    "containers-storage",
    "dir",
];

/// The prefix of the refs `ostree container image pull` stores an image under.
pub const IMAGE_REF_PREFIX: &str = "ostree/container/image";

/// The commit metadata key holding the image's manifest digest (`sha256:…`).
pub const MANIFEST_DIGEST_KEY: &str = "ostree.manifest-digest";

/// The `[origin]` key rpm-ostree and bootc write for a deployment of an image, and prune by
/// (ostree-ext's `deploy::ORIGIN_CONTAINER`; bootc reads it back as an image reference).
pub const ORIGIN_KEY: &str = "container-image-reference";

fn bad(input: &str, why: &str) -> String {
    format!("invalid image reference {input:?}: {why}")
}

/// `TRANSPORT:NAME` (also `docker://NAME`) → (transport, name).
fn split_transport(s: &str) -> Option<(&'static str, &str)> {
    if let Some(name) = s.strip_prefix("docker://") {
        return Some(("registry", name));
    }
    let (t, name) = s.split_once(':')?;
    TRANSPORTS.iter().find(|k| **k == t).map(|k| (*k, name))
}

impl ImageRef {
    /// Parses and normalises `input`. `signed` (the CLI's `--signed`) turns a bare reference
    /// into `ostree-image-signed:`; with an explicit unverified scheme it is a contradiction.
    pub fn parse(input: &str, signed: bool) -> Result<Self, String> {
        if input.is_empty() {
            return Err(bad(input, "empty"));
        }
        if input.starts_with('-') {
            return Err(bad(input, "starts with '-'"));
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(input, "contains white space or a control character"));
        }
        let (sigverify, rest, explicit) = if let Some(r) =
            input.strip_prefix("ostree-unverified-registry:")
        {
            (SigVerify::Unverified, Some(("registry", r)), true)
        } else if let Some(r) = input.strip_prefix("ostree-unverified-image:") {
            (SigVerify::Unverified, split_transport(r), true)
        } else if let Some(r) = input.strip_prefix("ostree-image-signed:") {
            (SigVerify::Signed, split_transport(r), true)
        } else if let Some(r) = input.strip_prefix("ostree-remote-registry:") {
            let (remote, name) = r
                .split_once(':')
                .ok_or_else(|| bad(input, "ostree-remote-registry: needs REMOTE:NAME"))?;
            (
                SigVerify::Remote(remote.to_owned()),
                Some(("registry", name)),
                true,
            )
        } else if let Some(r) = input.strip_prefix("ostree-remote-image:") {
            let (remote, rest) = r
                .split_once(':')
                .ok_or_else(|| bad(input, "ostree-remote-image: needs REMOTE:TRANSPORT:NAME"))?;
            (
                SigVerify::Remote(remote.to_owned()),
                split_transport(rest),
                true,
            )
        } else if input.starts_with("ostree-") && input.contains(':') {
            let scheme = input.split(':').next().unwrap_or_default();
            return Err(bad(
                input,
                &format!(
                    "unknown scheme {scheme:?} (ostree-unverified-registry, ostree-unverified-image, ostree-image-signed, ostree-remote-image, ostree-remote-registry)"
                ),
            ));
        } else {
            // Bare: TRANSPORT:NAME, or a registry name such as quay.io/x:y or host:5000/x
            // (whose first ':' is a port, not a transport).
            let rest = split_transport(input).unwrap_or(("registry", input));
            (SigVerify::Unverified, Some(rest), false)
        };
        let (transport, name) = rest.ok_or_else(|| {
            bad(
                input,
                &format!(
                    "no known transport after the scheme ({}, or docker://)",
                    TRANSPORTS.join(", ")
                ),
            )
        })?;
        if name.is_empty() {
            return Err(bad(input, "no image name"));
        }
        if let SigVerify::Remote(r) = &sigverify
            && (r.is_empty() || r.starts_with('-'))
        {
            return Err(bad(input, "empty or invalid remote name"));
        }
        let sigverify = match (signed, explicit, sigverify) {
            (true, false, _) => SigVerify::Signed,
            (true, true, SigVerify::Unverified) => {
                return Err(bad(
                    input,
                    "--signed contradicts its unverified scheme; give the bare reference or ostree-image-signed:",
                ));
            }
            (_, _, s) => s,
        };
        Ok(Self {
            sigverify,
            transport,
            name: name.to_owned(),
        })
    }

    /// The image without the signature part, as `ostree container image remove` takes it and
    /// as the store names its ref (ostree-ext's `ImageReference` display).
    pub fn image(&self) -> String {
        if self.transport == "registry" {
            format!("docker://{}", self.name)
        } else {
            format!("{}:{}", self.transport, self.name)
        }
    }

    /// The ref `ostree container image pull` moves to the image's (merge) commit.
    pub fn store_ref(&self) -> String {
        format!("{IMAGE_REF_PREFIX}/{}", escape_for_ref(&self.image()))
    }
}

/// The normalised text: what the origin file records and `ostree container` is given.
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.sigverify, self.transport) {
            (SigVerify::Unverified, "registry") => {
                write!(f, "ostree-unverified-registry:{}", self.name)
            }
            (SigVerify::Unverified, _) => write!(f, "ostree-unverified-image:{}", self.image()),
            (SigVerify::Signed, _) => write!(f, "ostree-image-signed:{}", self.image()),
            (SigVerify::Remote(r), _) => write!(f, "ostree-remote-image:{r}:{}", self.image()),
        }
    }
}

/// Maps any string onto ref characters the way ostree-ext names stored images (its
/// `refescape` module documents the scheme; this is our own rendition of it): ASCII letters and
/// digits and `-` stay, `/` stays after a letter or digit unless it is last, `_` becomes `__`,
/// and every other character becomes `_HEX_` of its code point.
pub fn escape_for_ref(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() * 2);
    for (i, &c) in chars.iter().enumerate() {
        let after_alnum = i > 0 && chars[i - 1].is_ascii_alphanumeric();
        let last = i + 1 == chars.len();
        match c {
            c if c.is_ascii_alphanumeric() || c == '-' => out.push(c),
            '/' if after_alnum && !last => out.push('/'),
            '_' => out.push_str("__"),
            c => out.push_str(&format!("_{:02X}_", u32::from(c))),
        }
    }
    out
}

/// The `[origin] container-image-reference=` of an origin file's text, if there is one.
pub fn from_origin(text: &str) -> Option<String> {
    let mut in_origin = false;
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_origin = line == "[origin]";
        } else if in_origin
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == ORIGIN_KEY
        {
            found = Some(v.trim().to_owned());
        }
    }
    found.filter(|v| !v.is_empty())
}

/// The origin file for a deployment of `image`: what rpm-ostree and bootc write.
pub fn origin_text(image: &ImageRef) -> String {
    format!("[origin]\n{ORIGIN_KEY}={image}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str, signed: bool) -> String {
        ImageRef::parse(s, signed)
            .map(|r| r.to_string())
            .unwrap_or_else(|e| e)
    }

    #[test]
    fn bare_references_are_unverified_registry_images() {
        assert_eq!(
            norm("quay.io/fedora/fedora-bootc:42", false),
            "ostree-unverified-registry:quay.io/fedora/fedora-bootc:42"
        );
        assert_eq!(
            norm("localhost:5000/k3s:latest", false),
            "ostree-unverified-registry:localhost:5000/k3s:latest"
        );
        assert_eq!(
            norm("docker://quay.io/x:1", false),
            "ostree-unverified-registry:quay.io/x:1"
        );
        assert_eq!(
            norm("registry:quay.io/x:1", false),
            "ostree-unverified-registry:quay.io/x:1"
        );
        assert_eq!(
            norm("oci:/srv/img:v1", false),
            "ostree-unverified-image:oci:/srv/img:v1"
        );
        // --signed maps a bare reference to the host's signature policy.
        assert_eq!(
            norm("quay.io/x:1", true),
            "ostree-image-signed:docker://quay.io/x:1"
        );
    }

    #[test]
    fn explicit_schemes_are_kept() {
        for s in [
            "ostree-unverified-registry:quay.io/fedora/fedora-coreos:stable",
            "ostree-unverified-image:oci:/var/tmp/img:t",
            "ostree-unverified-image:docker://quay.io/x:1",
            "ostree-image-signed:docker://quay.io/x:1",
            "ostree-remote-image:fedora:docker://quay.io/fedora/fedora-iot:42",
        ] {
            let want = s.replace(
                "ostree-unverified-image:docker://",
                "ostree-unverified-registry:",
            );
            assert_eq!(norm(s, false), want, "{s}");
            // Parsing the normalised form again gives the same.
            assert_eq!(norm(&want, false), want, "{s}");
        }
        assert_eq!(
            norm("ostree-remote-registry:fedora:quay.io/x:1", false),
            "ostree-remote-image:fedora:docker://quay.io/x:1"
        );
        assert_eq!(
            norm("ostree-image-signed:registry:quay.io/x:1", true),
            "ostree-image-signed:docker://quay.io/x:1"
        );
    }

    #[test]
    fn bad_references_are_refused() {
        for (s, signed, why) in [
            ("", false, "empty"),
            ("-x", false, "'-'"),
            ("quay.io/x y", false, "white space"),
            ("ostree-unverified-image:nosuch:/x", false, "transport"),
            ("ostree-unverified-image:oci:", false, "no image name"),
            ("ostree-remote-image:fedora", false, "REMOTE:TRANSPORT"),
            ("ostree-bogus:quay.io/x", false, "unknown scheme"),
            ("ostree-unverified-registry:quay.io/x", true, "--signed"),
        ] {
            let e = ImageRef::parse(s, signed).unwrap_err();
            assert!(e.contains(why), "{s}: {e}");
        }
    }

    #[test]
    fn store_refs_follow_the_escaping_of_ostree_ext() {
        // The documented example of ostree-ext's refescape module.
        assert_eq!(
            escape_for_ref("registry:quay.io/coreos/fedora:latest"),
            "registry_3A_quay_2E_io/coreos/fedora_3A_latest"
        );
        assert_eq!(escape_for_ref("a_b/"), "a__b_2F_");
        assert_eq!(escape_for_ref("/x//y"), "_2F_x/_2F_y");
        let r = ImageRef::parse("oci:/tmp/i:t", false).unwrap();
        assert_eq!(r.image(), "oci:/tmp/i:t");
        assert_eq!(
            r.store_ref(),
            "ostree/container/image/oci_3A__2F_tmp/i_3A_t"
        );
        let r = ImageRef::parse("quay.io/x:1", false).unwrap();
        assert_eq!(r.image(), "docker://quay.io/x:1");
    }

    #[test]
    fn origins_record_the_normalised_reference() {
        let r = ImageRef::parse("quay.io/x:1", false).unwrap();
        let text = origin_text(&r);
        assert_eq!(
            text,
            "[origin]\ncontainer-image-reference=ostree-unverified-registry:quay.io/x:1\n"
        );
        assert_eq!(from_origin(&text).as_deref(), Some(r.to_string().as_str()));
        assert_eq!(from_origin("[origin]\nrefspec=a:b\n"), None);
        assert_eq!(
            from_origin("[other]\ncontainer-image-reference=x\n[origin]\nrefspec=y\n"),
            None
        );
    }
}
