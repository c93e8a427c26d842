//! Writing values into systemd unit files without letting them change the file's meaning.
//!
//! A config value must never become a second directive or a specifier: control characters
//! (newlines above all) are rejected, `%` is doubled everywhere we write user text, and words in
//! list-valued settings are double-quoted with C-style escapes, as systemd's
//! `extract_first_word(…, EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE)` reads them back.

use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitValueError {
    #[error("contains the control character {0:?}, which cannot be written into a unit file")]
    ControlChar(char),
    #[error("ends with a backslash, which systemd would read as a line continuation")]
    TrailingBackslash,
}

/// Checks text meant for a single-line, free-text setting such as `Description=`.
pub fn check_line(value: &str) -> Result<(), UnitValueError> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
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
    if let Some(c) = value.chars().find(|c| c.is_control()) {
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
    pub fn new() -> Self {
        Self::default()
    }

    /// A comment block; control characters become `?` so a comment can never end early.
    /// A comment block. Control characters become `?`, a trailing backslash (a continuation
    /// to older systemd) gets a `?` after it, and lines are cut at MAX_COMMENT_LINE bytes:
    /// systemd stops reading a file at a line of 1 MiB, and everything after it (the
    /// `ExecStart=` reset of a fail-closed drop-in among it) would be lost.
    pub fn comment(&mut self, text: &str) -> &mut Self {
        for line in text.split('\n') {
            let mut clean = String::with_capacity(line.len().min(MAX_COMMENT_LINE));
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
                self.text.push_str("#\n");
            } else {
                let _ = writeln!(self.text, "# {clean}");
            }
        }
        self
    }

    pub fn section(&mut self, name: &str) -> &mut Self {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        let _ = writeln!(self.text, "[{name}]");
        self
    }

    /// `key=value`, where `value` was already produced by one of this module's escapers or is a
    /// constant/validated token.
    pub fn set(&mut self, key: &str, value: &str) -> &mut Self {
        let _ = writeln!(self.text, "{key}={value}");
        self
    }

    pub fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
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
