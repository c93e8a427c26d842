//! Writing values into systemd unit files without letting them change the file's meaning.
//!
//! A config value must never become a second directive or a specifier: control characters
//! (newlines above all) are rejected, `%` is doubled everywhere we write user text, and words in
//! list-valued settings are double-quoted with C-style escapes, as systemd's
//! `extract_first_word(…, EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE)` reads them back.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitValueError {
    #[error("contains the control character {0:?}, which cannot be written into a unit file")]
    ControlChar(char),
    #[error("ends with a backslash, which systemd would read as a line continuation")]
    TrailingBackslash,
}

/// Bytes that can start a control character (Unicode `Cc`): the ASCII controls, DEL, and 0xC2,
/// the lead byte of U+0080..=U+00BF (the C1 controls among them).
const CONTROL_LEAD: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[0x7f] = true;
    t[0xc2] = true;
    t
};

/// Byte offset and value of the first control character in `value`. Every line we write or read
/// goes through this, so it looks bytes up in a table and decodes only at a possible lead byte
/// (each one starts a character: ASCII, or 0xC2, which is never a continuation byte).
pub(crate) fn find_control_at(value: &str) -> Option<(usize, char)> {
    let mut from = 0;
    loop {
        let skip = value
            .as_bytes()
            .get(from..)?
            .iter()
            .position(|b| CONTROL_LEAD[usize::from(*b)])?;
        let at = from + skip;
        let c = value.get(at..)?.chars().next()?;
        if c.is_control() {
            return Some((at, c));
        }
        from = at + c.len_utf8();
    }
}

/// The first control character in `value`.
pub(crate) fn find_control(value: &str) -> Option<char> {
    find_control_at(value).map(|(_, c)| c)
}

/// Checks text meant for a single-line, free-text setting such as `Description=`.
pub fn check_line(value: &str) -> Result<(), UnitValueError> {
    if let Some(c) = find_control(value) {
        return Err(UnitValueError::ControlChar(c));
    }
    if value.trim_end().ends_with('\\') {
        return Err(UnitValueError::TrailingBackslash);
    }
    Ok(())
}

/// Free text for a setting that expands specifiers (e.g. `Description=`).
pub fn text(value: &str) -> Result<String, UnitValueError> {
    check_line(value)?;
    Ok(value.trim().replace('%', "%%"))
}

/// Words made only of these characters mean the same to systemd quoted or not; leaving them
/// bare keeps generated files readable.
fn is_plain(value: &str) -> bool {
    !value.is_empty()
        && value.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '/' | '.' | '_' | '-' | '=' | '@' | ':' | '+' | ',')
        })
}

fn quote_into(out: &mut String, value: &str, dollar: bool) -> Result<(), UnitValueError> {
    if let Some(c) = find_control(value) {
        return Err(UnitValueError::ControlChar(c));
    }
    if is_plain(value) {
        out.push_str(value);
        return Ok(());
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' if dollar => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(())
}

/// One argument of `ExecStart=`: quoted, with `%` and `$` (environment expansion) escaped.
pub fn exec_arg(value: &str) -> Result<String, UnitValueError> {
    let mut out = String::with_capacity(value.len() + 2);
    quote_into(&mut out, value, true)?;
    Ok(out)
}

/// A whole `ExecStart=` command line from its words.
pub fn exec_line<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<String, UnitValueError> {
    let mut out = String::new();
    for (i, w) in words.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        quote_into(&mut out, w, true)?;
    }
    Ok(out)
}

/// A word of a space-separated list without environment expansion (`RequiresMountsFor=`,
/// `Environment=` assignments).
pub fn word(value: &str) -> Result<String, UnitValueError> {
    let mut out = String::with_capacity(value.len() + 2);
    quote_into(&mut out, value, false)?;
    Ok(out)
}

/// Longest comment line we write (bytes, before the `# `).
pub const MAX_COMMENT_LINE: usize = 4096;

/// Builds unit-file text section by section.
#[derive(Debug, Default)]
pub struct UnitWriter {
    text: String,
}

impl UnitWriter {
    /// Room for a typical drop-in, so that it is not grown and copied line by line.
    pub fn new() -> Self {
        Self {
            text: String::with_capacity(1024),
        }
    }

    /// A comment block. Control characters become `?`, a trailing backslash (a continuation
    /// to older systemd) gets a `?` after it, and lines are cut at MAX_COMMENT_LINE bytes:
    /// systemd stops reading a file at a line of 1 MiB, and everything after it (the
    /// `ExecStart=` reset of a fail-closed drop-in among it) would be lost.
    pub fn comment(&mut self, text: &str) -> &mut Self {
        for line in text.split('\n') {
            let start = self.text.len();
            self.text.push_str("# ");
            push_comment_line(&mut self.text, line);
            if self.text.len() == start + 2 {
                self.text.truncate(start);
                self.text.push('#');
            } else if self.text.ends_with('\\') {
                self.text.push('?');
            }
            self.text.push('\n');
        }
        self
    }

    pub fn section(&mut self, name: &str) -> &mut Self {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push('[');
        self.text.push_str(name);
        self.text.push_str("]\n");
        self
    }

    /// `key=value`, where `value` was already produced by one of this module's escapers or is a
    /// constant/validated token.
    pub fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.text.push_str(key);
        self.text.push('=');
        self.text.push_str(value);
        self.text.push('\n');
        self
    }

    /// `key=name=value` (an `Environment=` assignment); `name` and `value` as for [`Self::set`].
    pub fn set_assignment(&mut self, key: &str, name: &str, value: &str) -> &mut Self {
        self.text.push_str(key);
        self.text.push('=');
        self.text.push_str(name);
        self.text.push('=');
        self.text.push_str(value);
        self.text.push('\n');
        self
    }

    /// The text, without the room [`Self::new`] reserved: the generator keeps every guest's
    /// drop-in until it writes them, and that room would add up to its peak memory.
    pub fn finish(mut self) -> String {
        self.text.shrink_to_fit();
        self.text
    }
}

/// Appends `line` with control characters as `?`, cut at MAX_COMMENT_LINE bytes on a character
/// boundary with "..." appended. A character counts with its own length against the limit even
/// when it is written as `?`. The text between control characters is copied whole: a reason can
/// be a whole configuration file, and this runs for every line of it.
fn push_comment_line(out: &mut String, line: &str) {
    let base = out.len();
    let mut rest = line;
    loop {
        let budget = MAX_COMMENT_LINE.saturating_sub(out.len() - base);
        let (run, control) = match find_control_at(rest) {
            Some((at, c)) => (
                rest.get(..at).unwrap_or_default(),
                Some((c, rest.get(at + c.len_utf8()..).unwrap_or_default())),
            ),
            None => (rest, None),
        };
        if run.len() > budget {
            let mut end = budget;
            while !run.is_char_boundary(end) {
                end -= 1;
            }
            out.push_str(run.get(..end).unwrap_or_default());
            out.push_str("...");
            return;
        }
        out.push_str(run);
        let Some((c, after)) = control else {
            return;
        };
        if c.len_utf8() > budget - run.len() {
            out.push_str("...");
            return;
        }
        out.push('?');
        rest = after;
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    #[test]
    fn text_doubles_percent_and_keeps_everything_printable() {
        assert_eq!(
            text(r#"50% "quoted" \ ünïcode"#).unwrap(),
            r#"50%% "quoted" \ ünïcode"#
        );
        assert_eq!(text("  padded  ").unwrap(), "padded");
    }

    #[test]
    fn text_rejects_what_would_break_the_line() {
        assert_eq!(
            text("a\nExecStart=/bin/evil"),
            Err(UnitValueError::ControlChar('\n'))
        );
        assert_eq!(text("a\rb"), Err(UnitValueError::ControlChar('\r')));
        assert_eq!(text("a\u{7f}"), Err(UnitValueError::ControlChar('\u{7f}')));
        assert_eq!(text("ends \\"), Err(UnitValueError::TrailingBackslash));
    }

    #[test]
    fn exec_arg_escapes_quotes_backslashes_specifiers_and_variables() {
        assert_eq!(exec_arg("web").unwrap(), "web");
        assert_eq!(exec_arg("").unwrap(), r#""""#);
        assert_eq!(
            exec_arg(r#"a "b" \c %i $HOME"#).unwrap(),
            r#""a \"b\" \\c %%i $$HOME""#
        );
        assert!(exec_arg("x\ny").is_err());
    }

    #[test]
    fn word_does_not_touch_dollar() {
        assert_eq!(word("/srv/$x y").unwrap(), r#""/srv/$x y""#);
    }

    #[test]
    fn comments_cannot_continue_or_grow_past_the_line_limit() {
        let mut w = UnitWriter::new();
        w.comment("ends with a backslash \\");
        w.comment(&"\u{300}".repeat(1_000_000));
        let text = w.finish();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "# ends with a backslash \\?");
        assert!(lines[1].len() <= MAX_COMMENT_LINE + 8 && lines[1].ends_with("..."));
    }

    /// The character-by-character definition `UnitWriter::comment` must keep to.
    fn reference_comment(text: &str) -> String {
        let mut out = String::new();
        for line in text.split('\n') {
            let mut clean = String::new();
            for c in line.chars() {
                if clean.len() + c.len_utf8() > MAX_COMMENT_LINE {
                    clean.push_str("...");
                    break;
                }
                clean.push(if c.is_control() { '?' } else { c });
            }
            if clean.ends_with('\\') {
                clean.push('?');
            }
            if clean.is_empty() {
                out.push_str("#\n");
            } else {
                let _ = writeln!(out, "# {clean}");
            }
        }
        out
    }

    #[test]
    fn comment_matches_the_character_by_character_definition() {
        let pieces = [
            "a",
            "\\",
            "\n",
            "\t",
            "\0",
            "\u{7f}",
            "\u{85}",
            "\u{9f}",
            "\u{a0}",
            "\u{bf}",
            "\u{c0}",
            "\u{300}",
            "\u{fffd}",
            "\u{1f600}",
            "%",
            " ",
            "é",
        ];
        let mut rng = fastrand::Rng::with_seed(9);
        for round in 0..3000 {
            let mut text = String::new();
            // Lines near the cut, ending in every kind of character around it.
            if round % 3 == 0 {
                text.push_str(&"x".repeat(MAX_COMMENT_LINE - 6 + rng.usize(..8)));
            }
            for _ in 0..rng.usize(..12) {
                text.push_str(pieces[rng.usize(..pieces.len())]);
            }
            let mut w = UnitWriter::new();
            w.comment(&text);
            assert_eq!(w.finish(), reference_comment(&text), "{text:?}");
        }
        for c in ['\u{0}', '\u{1f}', '\u{7f}', '\u{80}', '\u{9f}'] {
            assert_eq!(find_control(&format!("a\u{a0}b{c}")), Some(c));
        }
        assert_eq!(find_control("\u{a0}\u{bf}\u{100}~ \u{fffd}"), None);
    }

    #[test]
    fn writer_lays_out_sections_and_sanitises_comments() {
        let mut w = UnitWriter::new();
        w.comment("one\ntwo\u{1b}")
            .section("Unit")
            .set("Description", "d")
            .section("Service")
            .set("ExecStart", "");
        assert_eq!(
            w.finish(),
            "# one\n# two?\n\n[Unit]\nDescription=d\n\n[Service]\nExecStart=\n"
        );
    }
}
