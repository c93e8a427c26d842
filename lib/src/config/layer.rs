//! One TOML file as a layer: parsed with spans, stripped of `x-` keys, validated on its own,
//! then merged over the layers below it.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::ConfigError;
use super::model::GuestConfig;

/// Files larger than this are refused before parsing: a config file is a few hundred bytes.
pub const MAX_FILE_SIZE: u64 = 256 * 1024;
/// Deeper nesting than any valid config has; refused so a hostile file cannot exhaust the stack
/// of anything that walks it.
const MAX_DEPTH: usize = 8;

#[derive(Debug)]
pub struct Layer<'t> {
    pub file: &'t Path,
    pub text: &'t str,
    pub table: Spanned<DeTable<'t>>,
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Parses and validates one guest file.
#[cfg(test)]
pub fn parse<'t>(file: &'t Path, text: &'t str) -> Result<Layer<'t>, ConfigError> {
    parse_validated::<GuestConfig>(file, text).map(|(layer, _)| layer)
}

/// Parses one file and validates it on its own as a `T` (a guest or a bridge declaration).
/// Returns the file's own value too: for a file without drop-ins that is the whole
/// configuration, which then needs no second deserialization.
pub fn parse_validated<'t, T: serde::de::DeserializeOwned>(
    file: &'t Path,
    text: &'t str,
) -> Result<(Layer<'t>, T), ConfigError> {
    let mut table = DeTable::parse(text).map_err(|e| ConfigError {
        file: file.to_owned(),
        line: e.span().map(|s| line_of(text, s.start)),
        key: None,
        message: format!("TOML syntax error: {}", e.message().trim()),
    })?;
    let mut too_deep = None;
    strip_extension_keys(table.get_mut(), 0, &mut too_deep);
    if let Some(span) = too_deep {
        return Err(ConfigError {
            file: file.to_owned(),
            line: Some(line_of(text, span.start)),
            key: None,
            message: format!("tables nested deeper than {MAX_DEPTH} levels"),
        });
    }
    let layer = Layer { file, text, table };
    let value = validate::<T>(&layer)?;
    Ok((layer, value))
}

/// `x-` keys are reserved for users' own annotations and ignored at every level.
fn strip_extension_keys(
    table: &mut DeTable<'_>,
    depth: usize,
    too_deep: &mut Option<Range<usize>>,
) {
    let extension_keys: Vec<_> = table
        .keys()
        .filter(|k| k.get_ref().starts_with("x-"))
        .cloned()
        .collect();
    for k in &extension_keys {
        table.remove(k);
    }
    for (_, value) in table.iter_mut() {
        let span = value.span();
        strip_value(value.get_mut(), depth + 1, span, too_deep);
    }
}

fn strip_value(
    value: &mut DeValue<'_>,
    depth: usize,
    span: Range<usize>,
    too_deep: &mut Option<Range<usize>>,
) {
    if depth > MAX_DEPTH {
        too_deep.get_or_insert(span);
        return;
    }
    match value {
        DeValue::Table(t) => strip_extension_keys(t, depth, too_deep),
        DeValue::Array(a) => {
            for item in a.iter_mut() {
                let span = item.span();
                strip_value(item.get_mut(), depth + 1, span, too_deep);
            }
        }
        _ => {}
    }
}

/// Deserializes a (possibly merged) table into the guest model.
pub fn deserialize(
    table: Spanned<DeTable<'_>>,
) -> Result<GuestConfig, (Option<String>, toml::de::Error)> {
    deserialize_as(table)
}

/// Deserializes a table into `T`, with the dotted path of a failing key.
pub fn deserialize_as<T: serde::de::DeserializeOwned>(
    table: Spanned<DeTable<'_>>,
) -> Result<T, (Option<String>, toml::de::Error)> {
    let de = toml::de::Deserializer::from(table);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = (path != ".").then_some(path);
        (path, e.into_inner())
    })
}

fn validate<T: serde::de::DeserializeOwned>(layer: &Layer<'_>) -> Result<T, ConfigError> {
    deserialize_as::<T>(layer.table.clone()).map_err(|(path, err)| {
        let message = err.message().trim().to_owned();
        let key = path;
        let line = err
            .span()
            .map(|s| line_of(layer.text, s.start))
            .or_else(|| key.as_deref().and_then(|k| find_key_line(layer, k)));
        ConfigError {
            file: layer.file.to_owned(),
            line,
            key,
            message,
        }
    })
}

/// Finds the line where a dotted key path (`network.mode`, `bind[1].source`) is set.
pub fn find_key_line(layer: &Layer<'_>, path: &str) -> Option<usize> {
    let mut table: &DeTable<'_> = layer.table.get_ref();
    let mut segments = path.split('.').peekable();
    while let Some(seg) = segments.next() {
        let (name, index) = match seg.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        let (key, value) = table.iter().find(|(k, _)| k.get_ref() == name)?;
        let mut value = value;
        if let Some(i) = index {
            value = match value.get_ref() {
                DeValue::Array(a) => a.get(i)?,
                _ => return Some(line_of(layer.text, key.span().start)),
            };
        }
        if segments.peek().is_none() {
            return Some(line_of(layer.text, key.span().start));
        }
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => return Some(line_of(layer.text, key.span().start)),
        }
    }
    None
}

/// Merges `upper` into `lower`: tables merge key by key, any other value (arrays included)
/// replaces the lower one.
pub fn merge<'t>(lower: &mut DeTable<'t>, upper: &DeTable<'t>) {
    for (key, value) in upper.iter() {
        let existing = lower.iter_mut().find(|(k, _)| k.get_ref() == key.get_ref());
        match (existing, value.get_ref()) {
            (Some((_, lv)), DeValue::Table(ut)) if lv.get_ref().is_table() => {
                if let DeValue::Table(lt) = lv.get_mut() {
                    merge(lt, ut);
                }
            }
            (Some((_, lv)), _) => *lv = value.clone(),
            (None, _) => {
                lower.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ConfigError {
        parse(Path::new("/etc/ostree-guests.d/t.toml"), text).unwrap_err()
    }

    #[test]
    fn unknown_key_names_file_line_and_full_key() {
        let e = err("stateroot = \"a\"\n\n[network]\nbrigde = \"br0\"\n");
        assert_eq!(e.line, Some(4), "{e}");
        assert_eq!(e.key.as_deref(), Some("network.brigde"), "{e}");
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn bad_value_points_at_the_value() {
        let e = err("autostart = true\n[network]\nmode = \"bridg\"\n");
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(3), Some("network.mode")),
            "{e}"
        );
        let e = err("[[bind]]\nsource = \"/a\"\n[[bind]]\nsource = \"rel\"\n");
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(4), Some("bind[1].source")),
            "{e}"
        );
        assert!(e.message.contains("must be absolute"), "{e}");
    }

    #[test]
    fn wrong_type_and_syntax() {
        let e = err("autostart = \"yes\"\n");
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(1), Some("autostart")),
            "{e}"
        );
        let e = err("a = \n");
        assert_eq!(e.line, Some(1), "{e}");
        assert!(e.message.starts_with("TOML syntax error"), "{e}");
        let e = err("stateroot = \"a\"\nstateroot = \"b\"\n");
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn extension_keys_are_ignored_everywhere() {
        let text = "x-owner = \"me\"\n[network]\nx-note = 1\n[x-mine]\na = 1\n[[bind]]\nsource = \"/a\"\nx-why = \"b\"\n";
        assert!(parse(Path::new("t.toml"), text).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("x = {}1{}\n", "[".repeat(20), "]".repeat(20));
        let e = err(&text);
        assert!(e.message.contains("nested deeper"), "{e}");
    }

    #[test]
    fn merge_replaces_scalars_and_arrays_and_merges_tables() {
        let base = "description = \"a\"\n[network]\nmode = \"zone\"\nzone = \"z\"\n[[bind]]\nsource = \"/x\"\n";
        let top = "[network]\nmode = \"veth\"\n[[bind]]\nsource = \"/y\"\n";
        let (p1, p2) = (Path::new("a"), Path::new("b"));
        let mut lower = parse(p1, base).unwrap().table;
        let upper = parse(p2, top).unwrap().table;
        merge(lower.get_mut(), upper.get_ref());
        let cfg = deserialize(lower).unwrap();
        assert_eq!(cfg.description.as_deref(), Some("a"));
        assert_eq!(cfg.network.mode, super::super::model::NetworkMode::Veth);
        assert_eq!(cfg.network.zone.as_ref().map(|z| z.as_str()), Some("z"));
        assert_eq!(cfg.bind.len(), 1);
        assert_eq!(cfg.bind[0].source.as_str(), "/y");
    }
}
