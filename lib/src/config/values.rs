//! Validated value types. Each one checks its input while deserializing, so a bad value is
//! reported with its file position, and whatever reaches a renderer is already safe to write.

use std::path::Path;

use serde::Deserialize;

use crate::deployment::Pin;

/// Accepts a TOML integer or string for keys where both are natural (`tasks-max = 100`).
enum IntOrString {
    Int(i64),
    Str(String),
}

/// By hand rather than `#[serde(untagged)]`: that buffers the value and tries the variants in
/// turn, building (and dropping) an error message for every string it sees.
impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Either;
        impl serde::de::Visitor<'_> for Either {
            type Value = IntOrString;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IntOrString, E> {
                Ok(IntOrString::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i64::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::Str(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<IntOrString, E> {
                Ok(IntOrString::Str(v))
            }
        }
        de.deserialize_any(Either)
    }
}

impl From<IntOrString> for String {
    fn from(v: IntOrString) -> Self {
        match v {
            IntOrString::Int(i) => i.to_string(),
            IntOrString::Str(s) => s,
        }
    }
}

use crate::validated::validated_string;

validated_string!(Stateroot, "String", String, check check_stateroot);
validated_string!(ZoneName, "String", String, check check_zone);
validated_string!(PortForward, "String", String, check check_port);
validated_string!(BindTarget, "String", String, check check_bind_path);
validated_string!(BindSource, "String", String, check check_bind_source);
validated_string!(Capability, "String", String, check check_capability);
validated_string!(SyscallToken, "String", String, check check_syscall);
validated_string!(SecurityLabel, "String", String, check check_label);
validated_string!(IoWeight, "IntOrString", IntOrString, check check_io_weight);

impl BindSource {
    /// True for `+/path`: a path inside the guest's own deployment, not on the host.
    pub fn in_guest(&self) -> bool {
        self.0.starts_with('+')
    }

    /// The path without the `+` marker.
    pub fn path(&self) -> &str {
        self.0.strip_prefix('+').unwrap_or(&self.0)
    }
}

fn check_bind_source(s: &str) -> Result<(), String> {
    check_bind_path(s.strip_prefix('+').unwrap_or(s))
}

/// `CAP_NET_ADMIN`-style names (nspawn also accepts "all"); the kernel's list grows, so the
/// shape is checked here and nspawn rejects names it does not know.
fn check_capability(s: &str) -> Result<(), String> {
    let ok = s == "all"
        || s.strip_prefix("CAP_").is_some_and(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid capability {s:?}: expected a name like \"CAP_NET_ADMIN\", or \"all\""
        ))
    }
}

/// A system call name or `@group`, optionally with `~` to deny it.
fn check_syscall(s: &str) -> Result<(), String> {
    let name = s.strip_prefix('~').unwrap_or(s);
    let name = name.strip_prefix('@').unwrap_or(name);
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid system call {s:?}: expected a name like \"bpf\" or a group like \"@keyring\", optionally prefixed with ~ to deny it"
        ))
    }
}

/// SELinux contexts are `user:role:type[:level]`; only the shape is checked.
fn check_label(s: &str) -> Result<(), String> {
    let ok = s.split(':').count() >= 3
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | ',' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid SELinux context {s:?}: expected user:role:type[:level], e.g. \"system_u:system_r:unconfined_service_t:s0\""
        ))
    }
}

fn check_io_weight(s: &str) -> Result<(), String> {
    match s.parse::<u32>() {
        Ok(n) if (1..=10000).contains(&n) && is_count(s) => Ok(()),
        _ => Err(format!(
            "invalid io-weight {s:?}: expected a number from 1 to 10000{}",
            octal_hint(s)
        )),
    }
}

/// systemd parses TasksMax=, IOWeight= and CPUQuota= numbers with base 0 and nspawn its
/// `--port=` numbers the same way, so "08" is refused there and "0443" is 291: a leading zero
/// never means what it looks like, and no number we pass on may have one.
fn has_leading_zero(digits: &str) -> bool {
    digits.len() > 1 && digits.starts_with('0')
}

/// Said only when a leading zero is what is wrong, so the other messages stay short.
fn octal_hint(s: &str) -> &'static str {
    let digits = s.trim_start_matches(|c: char| !c.is_ascii_digit());
    if has_leading_zero(digits) {
        " without leading zeros (systemd and nspawn would read them as octal)"
    } else {
        ""
    }
}
validated_string!(CpuQuota, "String", String, check check_cpu_quota);
validated_string!(MemorySize, "IntOrString", IntOrString, check check_memory);
validated_string!(TasksMax, "IntOrString", IntOrString, check check_tasks);

/// A stateroot is a directory name under `/ostree/deploy`; it also appears in nspawn arguments.
fn check_stateroot(s: &str) -> Result<(), String> {
    let ok_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if s.is_empty() || s.len() > 64 || !ok_chars || s.starts_with('.') {
        return Err(format!(
            "invalid stateroot {s:?}: use 1 to 64 ASCII letters, digits, '-', '_' or '.', not starting with '.'"
        ));
    }
    Ok(())
}

/// nspawn names the zone bridge `vz-ZONE`, and interface names are limited to 15 bytes.
fn check_zone(s: &str) -> Result<(), String> {
    let ok =
        !s.is_empty() && s.len() <= 12 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid zone {s:?}: use 1 to 12 ASCII letters, digits or '-' (nspawn names the bridge vz-ZONE, at most 15 characters)"
        ))
    }
}

/// `[tcp:|udp:]HOSTPORT[:CONTAINERPORT]`, as nspawn's `--port=` takes it.
fn check_port(s: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "invalid port forward {s:?}: expected \"[tcp:|udp:]HOSTPORT[:CONTAINERPORT]\", e.g. \"tcp:8080:80\""
        )
    };
    let rest = s
        .strip_prefix("tcp:")
        .or_else(|| s.strip_prefix("udp:"))
        .unwrap_or(s);
    let mut parts = rest.split(':');
    let mut count = 0;
    for p in parts.by_ref() {
        count += 1;
        match p.parse::<u16>() {
            Ok(n) if n > 0 && !p.starts_with('+') && !has_leading_zero(p) => {}
            _ if has_leading_zero(p) => {
                return Err(format!(
                    "invalid port forward {s:?}: port {p} has a leading zero, which nspawn reads as octal; write it without"
                ));
            }
            _ => return Err(bad()),
        }
    }
    if count == 0 || count > 2 {
        return Err(bad());
    }
    Ok(())
}

/// Bind paths must be absolute and normal; `..` could escape whatever a reader thinks the path
/// names, and control characters could never be written into an argument safely.
fn check_bind_path(s: &str) -> Result<(), String> {
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(format!(
            "invalid path {s:?}: contains the control character {c:?}"
        ));
    }
    let path = Path::new(s);
    if !path.is_absolute() {
        return Err(format!(
            "invalid path {s:?}: must be absolute (start with '/')"
        ));
    }
    if s.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(format!(
            "invalid path {s:?}: must not contain '.' or '..' components"
        ));
    }
    if s.len() > 4096 {
        return Err(format!(
            "invalid path: {} bytes long, at most 4096",
            s.len()
        ));
    }
    Ok(())
}

fn check_cpu_quota(s: &str) -> Result<(), String> {
    let ok = s
        .strip_suffix('%')
        .filter(|n| n.chars().all(|c| c.is_ascii_digit()) && !has_leading_zero(n))
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n > 0);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid cpu-quota {s:?}: expected a percentage such as \"150%\" (100% = one CPU){}",
            octal_hint(s)
        ))
    }
}

/// A percentage in (0, 100] as systemd's parse_permyriad() reads it: digits with at most two
/// decimals. (Rust's float parser would also take "1e1", which systemd rejects.)
fn is_percentage(s: &str) -> bool {
    let Some(p) = s.strip_suffix('%') else {
        return false;
    };
    let (int, frac) = p.split_once('.').unwrap_or((p, ""));
    let digits = |d: &str| d.chars().all(|c| c.is_ascii_digit());
    let shape_ok = !int.is_empty()
        && digits(int)
        && !has_leading_zero(int)
        && digits(frac)
        && frac.len() <= 2
        && !(p.contains('.') && frac.is_empty());
    shape_ok && p.parse::<f64>().is_ok_and(|v| v > 0.0 && v <= 100.0)
}

fn is_count(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_digit())
        && !has_leading_zero(s)
        && s.parse::<u64>().is_ok_and(|v| v > 0)
}

/// systemd's MemoryMax=: bytes with an optional K/M/G/T suffix (base 1024), a percentage of
/// physical memory, or "infinity".
fn check_memory(s: &str) -> Result<(), String> {
    if s == "infinity" {
        return Ok(());
    }
    if is_percentage(s) {
        return Ok(());
    }
    let digits = s.trim_end_matches(['K', 'M', 'G', 'T']);
    let suffix_len = s.len() - digits.len();
    if suffix_len <= 1
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && !has_leading_zero(digits)
        && digits.parse::<u64>().is_ok_and(|v| v > 0)
    {
        return Ok(());
    }
    Err(format!(
        "invalid memory size {s:?}: expected bytes with an optional K, M, G or T suffix (\"2G\"), a percentage (\"50%\") or \"infinity\"{}",
        octal_hint(s)
    ))
}

fn check_tasks(s: &str) -> Result<(), String> {
    if s == "infinity" || is_count(s) {
        return Ok(());
    }
    if is_percentage(s) {
        return Ok(());
    }
    Err(format!(
        "invalid tasks-max {s:?}: expected a positive number, a percentage or \"infinity\"{}",
        octal_hint(s)
    ))
}

/// The `deployment =` setting: a [`Pin`] checked while deserializing, so a bad value is
/// reported at its line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub struct PinSpec(pub Pin);

impl TryFrom<String> for PinSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse::<Pin>().map(Self).map_err(|e| e.to_string())
    }
}

/// A systemd time span: an integer number of seconds or text like "3s", "500ms", "1min".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "IntOrString")]
pub struct TimeSpan(String);

impl TimeSpan {
    pub fn seconds(n: u32) -> Self {
        Self(format!("{n}s"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<IntOrString> for TimeSpan {
    type Error = String;
    fn try_from(v: IntOrString) -> Result<Self, String> {
        let s = match v {
            IntOrString::Int(i) if i >= 0 => return Ok(Self(format!("{i}s"))),
            IntOrString::Int(i) => {
                return Err(format!("invalid time span {i}: must not be negative"));
            }
            IntOrString::Str(s) => s,
        };
        const UNITS: &[&str] = &["us", "ms", "s", "sec", "m", "min", "h", "hr"];
        let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
        let unit = &s[digits.len()..];
        if !digits.is_empty()
            && digits.len() <= 9
            && !has_leading_zero(&digits)
            && UNITS.contains(&unit)
        {
            Ok(Self(s))
        } else {
            Err(format!(
                "invalid time span {s:?}: expected a number of seconds or a number with one of the units {}{}",
                UNITS.join(", "),
                octal_hint(&s)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        for ok in ["80", "tcp:8080:80", "udp:53", "8080:80"] {
            assert!(check_port(ok).is_ok(), "{ok}");
        }
        for bad in ["", "tcp:", "0", "70000", "sctp:1", "1:2:3", "tcp:+1", "a"] {
            assert!(check_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn memory_and_tasks() {
        for ok in ["2G", "512M", "1024", "50%", "infinity"] {
            assert!(check_memory(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "2GB", "G", "-1", "0", "150%", "2 G", "1e1%", "5.%", "5.123%", "+5",
        ] {
            assert!(check_memory(bad).is_err(), "{bad}");
        }
        assert!(check_memory("12.5%").is_ok());
        assert!(check_tasks("100").is_ok() && check_tasks("0").is_err());
        assert!(check_tasks("+5").is_err() && check_tasks("1e1%").is_err());
    }

    #[test]
    fn numbers_with_leading_zeros_are_refused() {
        for bad in ["tcp:08:80", "tcp:0443:443", "80:080", "udp:00053"] {
            let e = check_port(bad).unwrap_err();
            assert!(e.contains("octal"), "{bad}: {e}");
        }
        assert!(check_tasks("08").unwrap_err().contains("octal"));
        assert!(check_tasks("010%").is_err() && check_tasks("0.5%").is_ok());
        assert!(check_io_weight("09").unwrap_err().contains("octal"));
        assert!(check_cpu_quota("0150%").unwrap_err().contains("octal"));
        assert!(check_memory("08G").is_err() && check_memory("05%").is_err());
        assert!(TimeSpan::try_from(IntOrString::Str("03s".into())).is_err());
        for ok in ["8", "10", "100"] {
            assert!(
                check_tasks(ok).is_ok() && check_io_weight(ok).is_ok(),
                "{ok}"
            );
        }
        assert!(TimeSpan::try_from(IntOrString::Str("0s".into())).is_ok());
    }

    #[test]
    fn bind_paths() {
        assert!(check_bind_path("/srv/with space/%x").is_ok());
        for bad in ["srv", "/a/../b", "/a/./b", "/a\nb", ""] {
            assert!(check_bind_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn time_spans() {
        assert!(TimeSpan::try_from(IntOrString::Str("500ms".into())).is_ok());
        assert_eq!(
            TimeSpan::try_from(IntOrString::Int(5)).map(|t| t.0),
            Ok("5s".to_owned())
        );
        assert!(TimeSpan::try_from(IntOrString::Str("5 s".into())).is_err());
        assert!(TimeSpan::try_from(IntOrString::Int(-1)).is_err());
    }
}
