//! A strict reader for the unit files we generate: the oracle of the fuzz targets and the golden
//! tests, not something the generator itself uses.
//!
//! It reads text the way systemd's `config_parse()` would, but refuses everything that systemd
//! might read differently from what a writer meant, or differently across systemd versions:
//!
//! * control characters anywhere (systemd's `read_line()` also ends lines at `\r` and NUL),
//!   lines of [`LONG_LINE_MAX`] bytes or more (systemd stops parsing the whole file there), a
//!   missing final newline, a byte-order mark;
//! * any line, comments included, ending in an odd run of backslashes: a continuation line
//!   (systemd before v240 also continued comments);
//! * leading or trailing blanks on a section or directive line, or after `=` (systemd strips
//!   them, so the value would not be what was written), a directive outside a section, a key that is not
//!   alphanumeric, anything that is neither comment, section header nor `Key=value`.
//!
//! Values are returned raw; [`specifiers`], [`words`] and [`exec`] decode them the way the
//! setting in question is parsed (specifier expansion, `extract_first_word()` unquoting with C
//! escapes, `$`-expansion of command lines), again refusing anything ambiguous.

use std::fmt;

/// systemd's `LONG_LINE_MAX`: `read_line()` fails with `ENOBUFS` on a longer line and
/// `config_parse()` stops, ignoring the rest of the file (a drop-in is then applied half).
pub const LONG_LINE_MAX: usize = 1024 * 1024;

/// What a unit file is made of, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A comment line without its `#`/`;` and one following space.
    Comment(String),
    /// `[Name]`
    Section(String),
    /// `Key=value` in the section `section`; `value` is raw (not unescaped).
    Directive {
        section: String,
        key: String,
        value: String,
        line: usize,
    },
    /// An empty line.
    Blank,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// 1-based line; 0 when the problem is not tied to a line.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ReadError {}

fn fail<T>(line: usize, message: impl Into<String>) -> Result<T, ReadError> {
    Err(ReadError {
        line,
        message: message.into(),
    })
}

/// A unit file as read by [`read`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitFile {
    pub items: Vec<Item>,
}

impl UnitFile {
    /// `(section, key, raw value)` of every directive, in file order.
    pub fn directives(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.items.iter().filter_map(|i| match i {
            Item::Directive {
                section,
                key,
                value,
                ..
            } => Some((section.as_str(), key.as_str(), value.as_str())),
            _ => None,
        })
    }

    /// `Section.Key` of every directive, in file order.
    pub fn keys(&self) -> Vec<String> {
        self.directives()
            .map(|(s, k, _)| format!("{s}.{k}"))
            .collect()
    }

    pub fn comments(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter_map(|i| match i {
            Item::Comment(c) => Some(c.as_str()),
            _ => None,
        })
    }

    pub fn sections(&self) -> Vec<&str> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Item::Section(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The raw values of `key` in `section`, in order.
    pub fn values<'a>(&'a self, section: &'a str, key: &'a str) -> Vec<&'a str> {
        self.directives()
            .filter(|(s, k, _)| *s == section && *k == key)
            .map(|(_, _, v)| v)
            .collect()
    }
}

/// Whether `s` ends in an odd number of backslashes (a continuation for systemd).
fn continues(s: &str) -> bool {
    s.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Reads `text` strictly; see the module documentation for what is refused.
pub fn read(text: &str) -> Result<UnitFile, ReadError> {
    if text.starts_with('\u{feff}') {
        return fail(1, "byte-order mark");
    }
    if !text.is_empty() && !text.ends_with('\n') {
        return fail(0, "no newline at the end of the file");
    }
    let mut items = Vec::new();
    let mut section: Option<String> = None;
    let body = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() {
        return Ok(UnitFile { items });
    }
    for (i, line) in body.split('\n').enumerate() {
        let n = i + 1;
        if line.len() >= LONG_LINE_MAX - 1 {
            return fail(
                n,
                format!("line of {} bytes; systemd stops there", line.len()),
            );
        }
        if let Some(c) = crate::unit::find_control(line) {
            return fail(n, format!("control character {c:?}"));
        }
        if line.is_empty() {
            items.push(Item::Blank);
            continue;
        }
        if continues(line) {
            return fail(n, "ends with a backslash: a continuation line");
        }
        // Trailing blanks in a comment change nothing; anywhere else systemd strips them.
        if let Some(rest) = line.strip_prefix(['#', ';']) {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            items.push(Item::Comment(rest.to_owned()));
            continue;
        }
        if line.starts_with(is_blank) || line.ends_with(is_blank) {
            return fail(n, "leading or trailing blanks");
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return fail(n, "section header without a closing ']'");
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return fail(n, format!("unexpected section name {name:?}"));
            }
            section = Some(name.to_owned());
            items.push(Item::Section(name.to_owned()));
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return fail(n, "neither a comment, a section header nor Key=value");
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            return fail(n, format!("unexpected key {key:?}"));
        }
        if value.starts_with(is_blank) {
            return fail(n, "blank after '=': systemd strips it");
        }
        let Some(sec) = &section else {
            return fail(n, "directive outside of any section");
        };
        items.push(Item::Directive {
            section: sec.clone(),
            key: key.to_owned(),
            value: value.to_owned(),
            line: n,
        });
    }
    Ok(UnitFile { items })
}

/// Undoes specifier escaping for settings that expand specifiers (`%%` → `%`); any other `%`
/// is a specifier, refused since no value we write may contain one.
pub fn specifiers(value: &str) -> Result<String, ReadError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some((before, after)) = rest.split_once('%') {
        out.push_str(before);
        let mut chars = after.chars();
        match chars.next() {
            Some('%') => out.push('%'),
            Some(s) => return fail(0, format!("specifier %{s} in {value:?}")),
            None => return fail(0, format!("lone '%' at the end of {value:?}")),
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
    Ok(out)
}

/// One C escape after a backslash, as systemd's `cunescape_one()`; `chars` is positioned after
/// the backslash.
fn cunescape_one(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<char, String> {
    let hex = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, n: usize| {
        let mut v: u32 = 0;
        for _ in 0..n {
            let d = chars
                .next()
                .and_then(|c| c.to_digit(16))
                .ok_or("bad hex escape")?;
            v = v * 16 + d;
        }
        Ok::<u32, String>(v)
    };
    let c = chars.next().ok_or("backslash at the end")?;
    let v = match c {
        'a' => 7,
        'b' => 8,
        'f' => 12,
        'n' => 10,
        'r' => 13,
        't' => 9,
        'v' => 11,
        '\\' | '"' | '\'' => u32::from(c),
        's' => u32::from(' '),
        'x' => hex(chars, 2)?,
        'u' => hex(chars, 4)?,
        'U' => hex(chars, 8)?,
        '0'..='7' => {
            let mut v = c.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                let d = chars
                    .next()
                    .and_then(|c| c.to_digit(8))
                    .ok_or("bad octal escape")?;
                v = v * 8 + d;
            }
            v
        }
        other => return Err(format!("unknown escape \\{other}")),
    };
    if v == 0 {
        return Err("escaped NUL".into());
    }
    char::from_u32(v).ok_or_else(|| format!("escape of invalid code point {v:#x}"))
}

/// Splits a list-valued setting like `extract_first_word(…, EXTRACT_UNQUOTE[|EXTRACT_CUNESCAPE])`.
///
/// Strict: a quote may only open a word and must close it (systemd also joins `a"b c"d`, and
/// versions differ on the details), and an escape outside the supported C escapes is refused.
/// Without `cunescape`, a backslash takes the next character literally, as systemd does.
pub fn words(value: &str, cunescape: bool) -> Result<Vec<String>, ReadError> {
    // Most values have no quotes or escapes: then the words are just the blank-separated runs.
    if !value.bytes().any(|b| matches!(b, b'"' | b'\'' | b'\\')) {
        return Ok(value
            .split(is_blank)
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect());
    }
    quoted_words(value, cunescape)
}

/// [`words`], character by character.
fn quoted_words(value: &str, cunescape: bool) -> Result<Vec<String>, ReadError> {
    let err = |m: String| ReadError {
        line: 0,
        message: format!("{m} in {value:?}"),
    };
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| is_blank(*c)) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut word = String::new();
        let quote = if first == '"' || first == '\'' {
            chars.next();
            Some(first)
        } else {
            None
        };
        let mut closed = false;
        while let Some(&c) = chars.peek() {
            match quote {
                None if is_blank(c) => break,
                None if c == '"' || c == '\'' => {
                    return Err(err("quote inside a word".into()));
                }
                Some(q) if c == q => {
                    chars.next();
                    closed = true;
                    break;
                }
                _ => {}
            }
            chars.next();
            if c == '\\' {
                if cunescape {
                    word.push(cunescape_one(&mut chars).map_err(err)?);
                } else {
                    word.push(
                        chars
                            .next()
                            .ok_or_else(|| err("backslash at the end".into()))?,
                    );
                }
            } else {
                word.push(c);
            }
        }
        if quote.is_some() {
            if !closed {
                return Err(err("unterminated quote".into()));
            }
            if chars.peek().is_some_and(|c| !is_blank(*c)) {
                return Err(err("text right after a closing quote".into()));
            }
        }
        out.push(word);
    }
    Ok(out)
}

/// `$$` → `$` in one word of a command line; any other `$` would expand a variable.
fn dollars(word: &str) -> Result<String, ReadError> {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some((before, after)) = rest.split_once('$') {
        out.push_str(before);
        rest = after.strip_prefix('$').ok_or_else(|| ReadError {
            line: 0,
            message: format!("unescaped '$' (variable expansion) in {word:?}"),
        })?;
        out.push('$');
    }
    out.push_str(rest);
    Ok(out)
}

/// A command line as systemd runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Leading `-@:+!|` flags of the first word (`ExecStart=-/bin/x` ignores failures).
    pub prefixes: String,
    /// The words as the process receives them (argv[0] is the path).
    pub argv: Vec<String>,
}

/// Decodes an `Exec*=` value: specifier expansion over the whole value, then prefix flags, then
/// `extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE)` word splitting, then `$`-expansion of
/// each word. Refused: any specifier other than `%%`, any variable reference, a `;` word
/// (a command separator in old systemd), a non-absolute path.
pub fn exec(value: &str) -> Result<Command, ReadError> {
    let expanded = specifiers(value)?;
    let prefixes: String = expanded
        .chars()
        .take_while(|c| matches!(c, '-' | '@' | ':' | '+' | '!' | '|'))
        .collect();
    let rest = expanded.get(prefixes.len()..).unwrap_or_default();
    let raw = words(rest, true)?;
    if raw.is_empty() {
        return fail(0, "empty command line");
    }
    if raw.iter().any(|w| w == ";") {
        return fail(0, format!("';' word (command separator) in {value:?}"));
    }
    let argv = raw
        .iter()
        .map(|w| dollars(w))
        .collect::<Result<Vec<_>, _>>()?;
    if !argv.first().is_some_and(|p| p.starts_with('/')) {
        return fail(0, format!("command path is not absolute in {value:?}"));
    }
    Ok(Command { prefixes, argv })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sections_directives_comments() {
        let f = read("# c\n;d\n\n[Unit]\nDescription=a b\n[Service]\nExecStart=\n").unwrap();
        assert_eq!(f.keys(), ["Unit.Description", "Service.ExecStart"]);
        assert_eq!(f.comments().collect::<Vec<_>>(), ["c", "d"]);
        assert_eq!(f.values("Service", "ExecStart"), [""]);
    }

    #[test]
    fn refuses_ambiguity() {
        for bad in [
            "[Unit]\nDescription=a\\\n",
            "# x \\\n[Unit]\n",
            "[Unit]\nDescription=a\rb\n",
            "[Unit]\n Description=a\n",
            "[Unit]\nDescription= a\n",
            "[Unit]\nDescription=a \n",
            "Description=a\n",
            "[Unit]\nbare\n",
            "[Unit]\nDescription=a",
            "[Unit\n",
            "\u{feff}[Unit]\n",
        ] {
            assert!(read(bad).is_err(), "{bad:?}");
        }
        assert!(read("[Unit]\nDescription=a\\\\\n").is_ok());
    }

    /// `specifiers` and `dollars` as first written, character by character.
    fn reference_unescape(value: &str, escape: char) -> Option<String> {
        let mut out = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c != escape {
                out.push(c);
            } else if chars.next() == Some(escape) {
                out.push(escape);
            } else {
                return None;
            }
        }
        Some(out)
    }

    #[test]
    fn fast_paths_match_the_character_by_character_definitions() {
        let pieces = [
            "a",
            "%",
            "$",
            " ",
            "\t",
            "é",
            "\u{1f600}",
            "%%",
            "$$",
            "/x",
            "\"",
            "\\",
        ];
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..5000 {
            let v: String = (0..rng.usize(..10))
                .map(|_| pieces[rng.usize(..pieces.len())])
                .collect();
            assert_eq!(specifiers(&v).ok(), reference_unescape(&v, '%'), "{v:?}");
            assert_eq!(dollars(&v).ok(), reference_unescape(&v, '$'), "{v:?}");
            for cunescape in [false, true] {
                assert_eq!(words(&v, cunescape), quoted_words(&v, cunescape), "{v:?}");
            }
        }
    }

    #[test]
    fn decodes_values() {
        assert_eq!(specifiers("100%% x").unwrap(), "100% x");
        assert!(specifiers("%i").is_err() && specifiers("a%").is_err());
        assert_eq!(
            words(r#"a "b c" 'd"' "\x41\\\"""#, true).unwrap(),
            ["a", "b c", "d\"", "A\\\""]
        );
        assert!(words(r#"a"b""#, true).is_err() && words(r#""a"b"#, true).is_err());
        let c = exec(r#"-/bin/x "a b" $$HOME %%i"#).unwrap();
        assert_eq!(c.prefixes, "-");
        assert_eq!(c.argv, ["/bin/x", "a b", "$HOME", "%i"]);
        for bad in [
            "/bin/x $HOME",
            "/bin/x ${A}",
            "/bin/x ;",
            "x",
            "/bin/x %n",
            "",
        ] {
            assert!(exec(bad).is_err(), "{bad:?}");
        }
    }
}
