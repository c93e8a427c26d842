//! Machine names.
//!
//! The file stem of `NAME.toml` is the machine name, the instance of `systemd-nspawn@NAME.service`
//! and nspawn's `--machine=`. The template passes `%i` unescaped, so the name must need no unit-name
//! escaping at all: we accept systemd's hostname rule (letters, digits and `-` in dot-separated
//! labels, no label starting or ending with `-`, at most 64 characters; hostname_is_valid() in
//! systemd's hostname-util.c), which nspawn applies to `--machine=`. A name it refuses would make
//! nspawn exit 1 on every start, which `Restart=on-failure` retries forever; a leading `-` would
//! also read as an option.

use std::fmt;

use crate::validated::validated_string;

pub const MAX_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MachineName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("machine name is empty")]
    Empty,
    #[error("machine name is {0} characters long; at most {MAX_LEN} are allowed")]
    TooLong(usize),
    #[error("machine name contains {0:?}; only ASCII letters, digits, '-' and '.' are allowed")]
    BadChar(char),
    #[error("machine name has an empty label (a leading, trailing or doubled '.')")]
    EmptyLabel,
    #[error("machine name has a label longer than {MAX_LABEL_LEN} characters")]
    LabelTooLong,
    #[error(
        "machine name has a label starting or ending with '-', which systemd-nspawn refuses (like a hostname)"
    )]
    HyphenAtLabelEdge,
    #[error("\".host\" is reserved by systemd-machined for the host itself")]
    Reserved,
}

impl MachineName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        validate(s)?;
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The unit this guest runs as.
    pub fn unit(&self) -> String {
        // Pushed, not `format!`ed: the generator asks for it several times per guest.
        let mut unit = String::with_capacity(self.0.len() + 32);
        unit.push_str("systemd-nspawn@");
        unit.push_str(&self.0);
        unit.push_str(".service");
        unit
    }
}

impl fmt::Display for MachineName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn validate(s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(NameError::BadChar(c));
    }
    if s.len() > MAX_LEN {
        return Err(NameError::TooLong(s.len()));
    }
    if s == ".host" {
        return Err(NameError::Reserved);
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(NameError::HyphenAtLabelEdge);
        }
    }
    Ok(())
}

// A network interface name (a bridge's, an uplink's), as the kernel takes it: at most 15 bytes
// (IFNAMSIZ less the NUL), and only characters no network file or command line needs quoted.
validated_string!(InterfaceName, "String", String, check check_ifname);

fn check_ifname(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid interface name {s:?}: use 1 to 15 ASCII letters, digits, '-', '_' or '.'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hostname_like_names() {
        for ok in [
            "web",
            "k3s-server",
            "a.b",
            "Node1",
            "x",
            "a--b",
            "0web",
            &"a".repeat(63),
        ] {
            assert!(MachineName::parse(ok).is_ok(), "{ok}");
        }
        let dotted = format!("{}.{}", "a".repeat(32), "b".repeat(31));
        assert_eq!(dotted.len(), 64);
        assert!(MachineName::parse(&dotted).is_ok());
    }

    #[test]
    fn rejects_everything_that_would_need_escaping_or_is_ambiguous() {
        let cases: &[(&str, NameError)] = &[
            ("", NameError::Empty),
            (".", NameError::EmptyLabel),
            ("..", NameError::EmptyLabel),
            (".web", NameError::EmptyLabel),
            ("web.", NameError::EmptyLabel),
            ("a..b", NameError::EmptyLabel),
            ("a/b", NameError::BadChar('/')),
            ("a b", NameError::BadChar(' ')),
            ("a_b", NameError::BadChar('_')),
            ("a%i", NameError::BadChar('%')),
            ("a\\x2db", NameError::BadChar('\\')),
            ("ä", NameError::BadChar('ä')),
            ("a\nb", NameError::BadChar('\n')),
            (".host", NameError::Reserved),
            ("-web", NameError::HyphenAtLabelEdge),
            ("web-", NameError::HyphenAtLabelEdge),
            ("a.-b", NameError::HyphenAtLabelEdge),
            ("a-.b", NameError::HyphenAtLabelEdge),
            ("--help", NameError::HyphenAtLabelEdge),
            ("-", NameError::HyphenAtLabelEdge),
        ];
        for (input, want) in cases {
            assert_eq!(MachineName::parse(input), Err(want.clone()), "{input:?}");
        }
        assert_eq!(
            MachineName::parse(&"a".repeat(65)),
            Err(NameError::TooLong(65))
        );
        assert_eq!(
            MachineName::parse(&"a".repeat(64)),
            Err(NameError::LabelTooLong)
        );
    }

    #[test]
    fn unit_name_uses_the_raw_name() {
        let n = MachineName::parse("my-guest.lab").unwrap();
        assert_eq!(n.unit(), "systemd-nspawn@my-guest.lab.service");
    }
}
