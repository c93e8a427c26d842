//! Which of a stateroot's deployments a guest runs: the `deployment =` setting.

use std::fmt;
use std::str::FromStr;

use super::{Deployment, ResolveError};

/// Shortest accepted checksum prefix: shorter ones collide too easily to name a commit.
const MIN_PREFIX: usize = 8;
/// Length of an OSTree (SHA-256) checksum in hex.
const CHECKSUM_LEN: usize = 64;

/// How the guest's deployment is chosen among its stateroot's deployments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Pin {
    /// libostree's own notion: the stateroot's first deployment in boot order (its merge
    /// deployment).
    #[default]
    Auto,
    /// The deployment whose commit checksum starts with this lowercase hex prefix (≥ 8 digits).
    Checksum(String),
    /// The deployment whose commit has this `version` metadata.
    Version(String),
}

/// A `deployment =` value that is none of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid deployment pin {input:?}: {reason}; expected \"auto\", a commit checksum prefix of at \
     least 8 lowercase hex digits (without the \".<serial>\" suffix shown by `ostree admin status`), \
     or \"version:<VERSION>\""
)]
pub struct PinParseError {
    pub input: String,
    pub reason: &'static str,
}

impl FromStr for Pin {
    type Err = PinParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| PinParseError {
            input: s.to_owned(),
            reason,
        };
        if s == "auto" {
            return Ok(Self::Auto);
        }
        if let Some(version) = s.strip_prefix("version:") {
            return if version.is_empty() {
                Err(err("the version is empty"))
            } else {
                Ok(Self::Version(version.to_owned()))
            };
        }
        if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err("not a hex checksum prefix"));
        }
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(err("checksums are lowercase hex"));
        }
        if s.len() < MIN_PREFIX {
            return Err(err("checksum prefix shorter than 8 digits"));
        }
        if s.len() > CHECKSUM_LEN {
            return Err(err("longer than a 64-digit checksum"));
        }
        Ok(Self::Checksum(s.to_owned()))
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Checksum(prefix) => f.write_str(prefix),
            Self::Version(v) => write!(f, "version:{v}"),
        }
    }
}

/// Picks the guest's deployment of `stateroot` from `deps` (in libostree order).
///
/// A checksum prefix matching several deployments of the same commit (redeploys differ only by
/// serial) picks the first in boot order, like [`Pin::Auto`] would among them; a prefix matching
/// different commits is an error. A version matching several deployments also picks the first.
pub fn select<'a>(
    deps: &'a [Deployment],
    stateroot: &str,
    pin: &Pin,
) -> Result<&'a Deployment, ResolveError> {
    let mut of_root = deps.iter().filter(|d| d.stateroot == stateroot);
    let Some(first) = of_root.clone().next() else {
        return Err(ResolveError::NoDeployment {
            stateroot: stateroot.to_owned(),
            known: known_stateroots(deps),
            missing_stateroot_dir: None,
        });
    };
    let found = match pin {
        Pin::Auto => return Ok(first),
        Pin::Version(v) => of_root.find(|d| d.version.as_deref() == Some(v.as_str())),
        Pin::Checksum(prefix) => {
            let mut matches = of_root.filter(|d| d.checksum.starts_with(prefix.as_str()));
            let chosen = matches.next();
            if let Some(c) = chosen
                && matches.clone().any(|d| d.checksum != c.checksum)
            {
                let mut labels: Vec<String> = Vec::new();
                for d in std::iter::once(c).chain(matches) {
                    labels.push(d.label());
                }
                return Err(ResolveError::PinAmbiguous {
                    stateroot: stateroot.to_owned(),
                    pin: pin.to_string(),
                    matches: labels,
                });
            }
            chosen
        }
    };
    found.ok_or_else(|| ResolveError::PinNotFound {
        stateroot: stateroot.to_owned(),
        pin: pin.to_string(),
        available: deps
            .iter()
            .filter(|d| d.stateroot == stateroot)
            .map(Deployment::label)
            .collect(),
    })
}

fn known_stateroots(deps: &[Deployment]) -> Vec<String> {
    let mut known: Vec<String> = Vec::new();
    for d in deps {
        if !known.contains(&d.stateroot) {
            known.push(d.stateroot.clone());
        }
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn dep(index: usize, stateroot: &str, checksum: &str, serial: u32, v: &str) -> Deployment {
        Deployment {
            index,
            stateroot: stateroot.into(),
            checksum: checksum.repeat(64 / checksum.len()),
            serial,
            boot_entry: PathBuf::from(format!("ostree-{index}.conf")),
            pinned: false,
            version: (!v.is_empty()).then(|| v.to_owned()),
        }
    }

    fn fixture() -> Vec<Deployment> {
        vec![
            dep(0, "host", "aa", 0, "h1"),
            dep(1, "web", "b1", 0, "w1"),
            dep(2, "web", "c2", 0, "w2"),
            dep(3, "web", "b1", 1, "w1"),
            dep(4, "db", "c3", 0, ""),
        ]
    }

    #[test]
    fn parse_forms() {
        assert_eq!("auto".parse(), Ok(Pin::Auto));
        assert_eq!("version:1.2-3".parse(), Ok(Pin::Version("1.2-3".into())));
        assert_eq!("0123abcd".parse(), Ok(Pin::Checksum("0123abcd".into())));
        let full = "f".repeat(64);
        assert_eq!(full.parse(), Ok(Pin::Checksum(full.clone())));
        for bad in [
            "",
            "Auto",
            "0123abc",
            "0123ABCD",
            "0123abcd.0",
            "version:",
            "xyz12345",
        ] {
            let e = bad.parse::<Pin>().unwrap_err();
            assert!(e.to_string().contains("version:<VERSION>"), "{e}");
        }
        assert!("f".repeat(65).parse::<Pin>().is_err());
        assert_eq!(
            "0123ABCD".parse::<Pin>().unwrap_err().reason,
            "checksums are lowercase hex"
        );
    }

    #[test]
    fn display_round_trips() {
        for s in ["auto", "0123abcd", "version:7"] {
            assert_eq!(s.parse::<Pin>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn auto_is_first_in_boot_order() {
        let deps = fixture();
        assert_eq!(select(&deps, "web", &Pin::Auto).unwrap().index, 1);
        assert_eq!(select(&deps, "db", &Pin::Auto).unwrap().index, 4);
    }

    #[test]
    fn version_and_checksum() {
        let deps = fixture();
        let v = |s: &str| Pin::Version(s.into());
        assert_eq!(select(&deps, "web", &v("w2")).unwrap().index, 2);
        assert_eq!(select(&deps, "web", &v("w1")).unwrap().index, 1);
        let c = |s: &str| Pin::Checksum(s.into());
        assert_eq!(select(&deps, "web", &c("c2c2c2c2")).unwrap().index, 2);
        // Same commit twice (serials 0 and 1): not ambiguous, first in boot order.
        assert_eq!(select(&deps, "web", &c("b1b1b1b1")).unwrap().index, 1);
        // The host's commit is not the web stateroot's.
        let e = select(&deps, "web", &c("aaaaaaaa")).unwrap_err();
        assert!(matches!(e, ResolveError::PinNotFound { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("{}.0 (version w1)", "b1".repeat(32))),
            "{msg}"
        );
        assert!(msg.contains("ostree admin pin"), "{msg}");
        assert_eq!(e.exit_code(), crate::exit::PIN_NOT_FOUND);
    }

    #[test]
    fn ambiguous_prefix() {
        let mut deps = fixture();
        deps[2].checksum = format!("b1b1b1b1{}", "0".repeat(56));
        let e = select(&deps, "web", &Pin::Checksum("b1b1b1b1".into())).unwrap_err();
        assert!(matches!(e, ResolveError::PinAmbiguous { ref matches, .. } if matches.len() == 3));
        assert!(e.to_string().contains("longer checksum prefix"));
    }

    #[test]
    fn no_deployment_lists_known_stateroots() {
        let deps = fixture();
        let e = select(&deps, "mail", &Pin::Auto).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("host, web, db"), "{msg}");
        assert!(
            msg.contains("ostree admin deploy --not-as-default --os=mail <REF>"),
            "{msg}"
        );
        assert!(!msg.contains("os-init"), "{msg}");
        assert_eq!(e.exit_code(), crate::exit::NO_DEPLOYMENT);
        let e = select(&[], "mail", &Pin::Auto).unwrap_err();
        assert!(e.to_string().contains("no deployments at all"), "{e}");
    }
}
